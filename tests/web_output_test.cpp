// RequestHandler output: status and reason, headers (injection refused, also on a raw
// socket), JSON, flush/chunked streaming, redirect, ETag/304, HEAD, 204/304 bodies,
// send_error/write_error, serve_traceback (Tornado's web_test output behaviours).
#include <gtest/gtest.h>

#include <algorithm>

#include "http_test_util.h"
#include "tornado/testing.h"
#include "tornado/web.h"

namespace web_output_test {

using namespace tornado;
using tornado::testing::ExpectLog;

namespace {

struct StatusHandler : web::RequestHandler {
  Task<> get() override {
    int code = std::stoi(get_argument("code"));
    if (auto reason = get_optional_argument("reason")) {
      set_status(code, *reason);
    } else {
      set_status(code);
    }
    co_return;
  }
};

struct HeaderHandler : web::RequestHandler {
  Task<> get() override {
    auto which = get_argument("case");
    if (which == "inject") {
      try {
        set_header("X-Foo", "bar\r\nSet-Cookie: evil=1");
        write("accepted");
      } catch (const std::invalid_argument&) {
        write("refused");
      }
    } else if (which == "inject_lf") {
      try {
        add_header("X-Foo", "bar\nX-Evil: 1");
        write("accepted");
      } catch (const std::invalid_argument&) {
        write("refused");
      }
    } else if (which == "every_byte") {
      // Each byte at each position of values of 1 to 24 bytes (short ones, one word, and
      // words with an overlapping last one): refused exactly when it is a control byte
      // (below 0x20) or DEL, as Tornado's _INVALID_HEADER_CHAR_RE (plus DEL); obs-text
      // (0x80-0xff) passes.
      std::string wrong;
      for (int byte = 0; byte < 256; ++byte) {
        for (std::size_t size = 1; size <= 24; ++size) {
          for (std::size_t at = 0; at < size; ++at) {
            std::string value(size, 'v');
            value[at] = static_cast<char>(byte);
            bool accepted = true;
            try {
              set_header("X-Probe", value);
            } catch (const std::invalid_argument&) {
              accepted = false;
            }
            if (accepted != (byte >= 0x20 && byte != 0x7f)) {
              wrong += std::to_string(byte) + "@" + std::to_string(at) + "/" + std::to_string(size) + " ";
            }
          }
        }
      }
      clear_header("X-Probe");
      write(wrong.empty() ? "ok" : wrong);
    } else if (which == "types") {
      set_header("X-Int", std::int64_t{42});
      set_header("X-Date", std::chrono::system_clock::time_point(std::chrono::seconds(784111777)));
      add_header("X-Multi", "a");
      add_header("X-Multi", "b");
      set_header("X-Gone", "x");
      clear_header("X-Gone");
    }
    co_return;
  }
};

struct RedirectHandler : web::RequestHandler {
  Task<> get() override {
    auto which = get_argument("case", "");
    if (which == "permanent") {
      redirect("/dest", true);
    } else if (which == "status") {
      redirect("/dest", false, 307);
    } else if (which == "inject") {
      redirect("/dest\r\nSet-Cookie: evil=1");
    } else {
      redirect("/dest");
    }
    co_return;
  }
};

struct JsonHandler : web::RequestHandler {
  Task<> get() override {
    if (get_argument("case", "") == "array") {
      write(nlohmann::json::array({1, 2}));
    } else {
      write(nlohmann::json{{"message", "Hello, World!"}, {"html", "</script>"}});
    }
    co_return;
  }
};

struct FlushHandler : web::RequestHandler {
  Task<> get() override {
    write("first,");
    co_await flush();
    co_await sleep(5ms);
    write("second,");
    co_await flush();
    write("last");
    co_return;
  }
};

struct EtagHandler : web::RequestHandler {
  Task<> get() override {
    write("etag body");
    co_return;
  }
};

struct CustomEtagHandler : web::RequestHandler {
  std::optional<std::string> compute_etag() const override {
    return "\"" + request().query_arguments.at("tag").front() + "\"";
  }
  Task<> get() override {
    write("custom");
    co_return;
  }
};

// The override is protected: the handler's factory cannot see it, and must still use it.
struct ProtectedEtagHandler : web::RequestHandler {
  Task<> get() override {
    write("protected");
    co_return;
  }

 protected:
  std::optional<std::string> compute_etag() const override { return "\"mine\""; }
};

// A body of `n` bytes: n - 1 of `fill` and then `last` (the ETag memo's cases).
struct SizedBodyHandler : web::RequestHandler {
  Task<> get() override {
    const auto n = std::stoul(get_argument("n"));
    std::string body;
    if (n > 0) body = std::string(n - 1, get_argument("fill", "x")[0]) + get_argument("last");
    write(body);
    co_return;
  }
};

// No ETag at all (Tornado: compute_etag returning None).
struct NoEtagHandler : web::RequestHandler {
  std::optional<std::string> compute_etag() const override { return std::nullopt; }
  Task<> get() override {
    write("no tag");
    co_return;
  }
};

struct BadHeaderNameHandler : web::RequestHandler {
  Task<> get() override {
    try {
      set_header("Bad Name", "v");
      write("accepted");
    } catch (const std::exception& e) {
      write(std::string("refused: ") + e.what());
    }
    co_return;
  }
};

struct NoBodyHandler : web::RequestHandler {
  Task<> get() override {
    set_status(204);
    co_return;
  }
};

struct HeadHandler : web::RequestHandler {
  Task<> get() override {
    write("body of get");
    co_return;
  }
  Task<> head() override { return get(); }
};

struct ErrorHandlerWithReason : web::RequestHandler {
  Task<> get() override {
    if (get_argument("case") == "reason") throw web::HTTPError(418, "", "I'm a Teapot");
    if (get_argument("case") == "finish") {
      set_status(201);
      throw web::Finish("finished early");
    }
    if (get_argument("case") == "after_flush") {
      write("partial");
      co_await flush();
      throw web::HTTPError(500, "late error");
    }
    throw std::runtime_error("something secret went wrong");
  }
};

struct CustomWriteError : web::RequestHandler {
  Task<> get() override { throw web::HTTPError(503); }
  void write_error(int status, std::exception_ptr) override {
    write("custom error " + std::to_string(status));
  }
};

// Leaves as much behind as a response can: the next request takes its response state from
// the thread's spares (response_state.cpp) and must see none of it.
struct LeavesStateHandler : web::RequestHandler {
  Task<> get() override {
    set_status(299, "Left Over");
    set_header("X-Left", "over");
    set_cookie("left", "over");
    (void)xsrf_token();
    write(std::string(get_argument("big", "") == "1" ? 100000 : 10, 'x'));
    co_return;
  }
};

struct XsrfTokenHandler : web::RequestHandler {
  Task<> get() override {
    write(xsrf_token());
    co_return;
  }
};

// Tornado's default Content-Type against what a handler does to it (the default goes in
// where clear() puts it, after Server, whenever the fields are read or sent).
struct ContentTypeHandler : web::RequestHandler {
  Task<> get() override {
    const std::string which = get_argument("case");
    if (which == "other_first") {
      set_header("X-A", "1");
    } else if (which == "set_after_other") {
      set_header("X-A", "1");
      set_header("content-type", "text/plain");  // any case: the default's spelling stays
    } else if (which == "cleared") {
      clear_header("Content-Type");
    } else if (which == "cleared_then_set") {
      clear_header("Content-Type");
      set_header("X-A", "1");
      set_header("Content-Type", "text/plain");  // a new field now: after X-A
    } else if (which == "added") {
      add_header("Content-Type", "text/plain");
    } else if (which == "server_cleared") {
      clear_header("Server");
      set_header("X-A", "1");
    } else if (which == "server_set") {
      set_header("Server", "Other");
    } else if (which == "read") {
      // The fields as the handler sees them, before anything is sent.
      std::string seen;
      for (auto [name, value] : response_headers()) seen += std::string(name) + "=" + std::string(value) + ";";
      write(seen);
      co_return;
    } else if (which == "json") {
      set_header("X-A", "1");
      write(nlohmann::json{{"a", 1}});
      co_return;
    } else if (which == "int") {
      set_header("Content-Type", std::int64_t{7});
    }
    write("body");
    co_return;
  }
};

struct DefaultTypeHandler : web::RequestHandler {
  void set_default_headers() override { set_header("Content-Type", "text/csv"); }
  Task<> get() override {
    write("a,b");
    co_return;
  }
};

std::vector<web::URLSpec> output_handlers() {
  return {
      {"/leaves_state", web::handler<LeavesStateHandler>()},
      {"/xsrf_token", web::handler<XsrfTokenHandler>()},
      {"/status", web::handler<StatusHandler>()},
      {"/header", web::handler<HeaderHandler>()},
      {"/redirect", web::handler<RedirectHandler>()},
      {"/json", web::handler<JsonHandler>()},
      {"/flush", web::handler<FlushHandler>()},
      {"/etag", web::handler<EtagHandler>()},
      {"/custom_etag", web::handler<CustomEtagHandler>()},
      {"/protected_etag", web::handler<ProtectedEtagHandler>()},
      {"/no_etag", web::handler<NoEtagHandler>()},
      {"/sized", web::handler<SizedBodyHandler>()},
      {"/bad_header_name", web::handler<BadHeaderNameHandler>()},
      {"/nobody", web::handler<NoBodyHandler>()},
      {"/head", web::handler<HeadHandler>()},
      {"/error", web::handler<ErrorHandlerWithReason>()},
      {"/custom_error", web::handler<CustomWriteError>()},
      {"/ctype", web::handler<ContentTypeHandler>()},
      {"/default_type", web::handler<DefaultTypeHandler>()},
  };
}

class WebOutputTest : public tornado::testing::AsyncHTTPTest {
 protected:
  tornado::testing::HTTPApp get_app() override {
    return std::make_shared<web::Application>(output_handlers());
  }
  httpclient::HTTPResponse get(const std::string& path, httputil::HTTPHeaders headers = {},
                               std::string method = "GET") {
    httpclient::HTTPRequest req;
    req.method = std::move(method);
    req.headers = std::move(headers);
    req.follow_redirects = false;
    return fetch(path, req);
  }
  // The raw response bytes to a raw request (up to the close).
  std::string raw(const std::string& request) {
    int port = get_http_port();
    return run_sync([port, request]() -> Task<std::string> {
      auto s = co_await test::connect_loopback(port);
      co_await s->write(request);
      co_return co_await s->read_until_close();
    });
  }
};

// The response's field lines in order, without Date (added by the connection).
std::vector<std::string> field_lines(const std::string& response) {
  std::vector<std::string> lines;
  std::size_t at = response.find("\r\n") + 2;
  for (;;) {
    const std::size_t end = response.find("\r\n", at);
    if (end == std::string::npos || end == at) break;
    std::string line = response.substr(at, end - at);
    if (line.rfind("Date:", 0) != 0) lines.push_back(line);
    at = end + 2;
  }
  return lines;
}

TEST_F(WebOutputTest, DefaultContentTypeSitsAfterServerWhateverTheHandlerDoes) {
  auto lines = [this](const std::string& which) {
    return field_lines(raw("GET /ctype?case=" + which + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  };
  const std::string server = "Server: TornadoServer/6.2 (tornado-cpp)";
  const std::string html = "Content-Type: text/html; charset=UTF-8";
  auto without_etag_and_length = [](std::vector<std::string> v) {
    std::erase_if(v, [](const std::string& l) {
      return l.rfind("Etag:", 0) == 0 || l.rfind("Content-Length:", 0) == 0 ||
             l.rfind("Connection:", 0) == 0;
    });
    return v;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(without_etag_and_length(lines("none")), (V{server, html}));
  EXPECT_EQ(without_etag_and_length(lines("other_first")), (V{server, html, "X-A: 1"}));
  EXPECT_EQ(without_etag_and_length(lines("set_after_other")),
            (V{server, "Content-Type: text/plain", "X-A: 1"}));
  EXPECT_EQ(without_etag_and_length(lines("cleared")), (V{server}));
  EXPECT_EQ(without_etag_and_length(lines("cleared_then_set")),
            (V{server, "X-A: 1", "Content-Type: text/plain"}));
  EXPECT_EQ(without_etag_and_length(lines("added")),
            (V{server, html, "Content-Type: text/plain"}));
  EXPECT_EQ(without_etag_and_length(lines("server_cleared")), (V{html, "X-A: 1"}));
  EXPECT_EQ(without_etag_and_length(lines("json")),
            (V{server, "Content-Type: application/json; charset=UTF-8", "X-A: 1"}));
  EXPECT_EQ(without_etag_and_length(lines("int")), (V{server, "Content-Type: 7"}));
}

// A handler's response state is recycled for the next request, keeping the default Server
// field only when nothing changed it.
TEST_F(WebOutputTest, AChangedServerFieldDoesNotCarryOverToTheNextResponse) {
  auto lines = [this](const std::string& which) {
    auto v = field_lines(
        raw("GET /ctype?case=" + which + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    std::erase_if(v, [](const std::string& l) { return l.rfind("Connection:", 0) == 0; });
    return v;
  };
  const std::string server = "Server: TornadoServer/6.2 (tornado-cpp)";
  for (const char* changing : {"server_set", "server_cleared"}) {
    const auto changed = lines(changing);
    EXPECT_EQ(std::count(changed.begin(), changed.end(), server), 0) << changing;
    for (int i = 0; i < 3; ++i) {
      const auto next = lines("none");
      ASSERT_FALSE(next.empty());
      EXPECT_EQ(next.front(), server) << changing;
      EXPECT_EQ(std::count_if(next.begin(), next.end(),
                              [](const std::string& l) { return l.rfind("Server:", 0) == 0; }),
                1)
          << changing;
    }
  }
}

TEST_F(WebOutputTest, ResponseHeadersShowTheDefaultContentTypeBeforeItIsSent) {
  EXPECT_EQ(get("/ctype?case=read").body,
            "Server=TornadoServer/6.2 (tornado-cpp);Content-Type=text/html; charset=UTF-8;");
}

TEST_F(WebOutputTest, SetDefaultHeadersReplacesTheDefaultContentType) {
  auto r = get("/default_type");
  EXPECT_EQ(r.headers.get_list("Content-Type"), std::vector<std::string>{"text/csv"});
}

TEST_F(WebOutputTest, NotModifiedAnswerCarriesNoContentType) {
  auto first = get("/ctype?case=none");
  httputil::HTTPHeaders inm;
  inm.add("If-None-Match", first.headers.get("Etag", ""));
  auto r = get("/ctype?case=none", inm);
  EXPECT_EQ(r.code, 304);
  EXPECT_FALSE(r.headers.contains("Content-Type"));
}

TEST_F(WebOutputTest, StatusWithStandardAndCustomReason) {
  auto r = get("/status?code=304");
  EXPECT_EQ(r.code, 304);
  r = get("/status?code=682&reason=Foo");
  EXPECT_EQ(r.code, 682);
  EXPECT_EQ(r.reason, "Foo");
}

TEST_F(WebOutputTest, UnknownStatusWithoutReasonIsUnknown) {
  auto r = get("/status?code=682");
  EXPECT_EQ(r.code, 682);
  EXPECT_EQ(r.reason, "Unknown");
}

TEST_F(WebOutputTest, ReasonWithMarkupOrControlsBecomesUnknown) {
  auto r = get("/status?code=400&reason=%3Cscript%3E");
  EXPECT_EQ(r.reason, "Unknown");
}

TEST_F(WebOutputTest, HeaderInjectionThroughSetHeaderIsRefused) {
  EXPECT_EQ(get("/header?case=inject").body, "refused");
  EXPECT_EQ(get("/header?case=inject_lf").body, "refused");
}

TEST_F(WebOutputTest, SetHeaderRefusesExactlyControlBytesAndDelAtAnyPositionOfAnySize) {
  EXPECT_EQ(get("/header?case=every_byte").body, "ok");
}

TEST_F(WebOutputTest, HeaderInjectionOnTheWire) {
  std::string answer =
      raw("GET /header?case=inject HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 200 OK\r\n"));
  EXPECT_EQ(answer.find("evil"), std::string::npos);
  EXPECT_EQ(answer.find("X-Foo"), std::string::npos);
}

TEST_F(WebOutputTest, RedirectInjectionOnTheWireIs500WithoutTheHeader) {
  ExpectLog log(app_log(), "Uncaught exception GET /redirect");
  std::string answer =
      raw("GET /redirect?case=inject HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 500 Internal Server Error\r\n")) << answer;
  EXPECT_EQ(answer.find("evil"), std::string::npos);
  EXPECT_EQ(answer.find("Location"), std::string::npos);
}

TEST_F(WebOutputTest, ARecycledResponseStateCarriesNothingToTheNextRequest) {
  for (const char* leave : {"/leaves_state", "/leaves_state?big=1"}) {
    auto left = get(leave);
    ASSERT_EQ(left.code, 299);
    ASSERT_TRUE(left.headers.contains("X-Left"));
    for (int i = 0; i < 3; ++i) {  // whichever spare the next handler takes
      auto r = get("/header?case=types");
      EXPECT_EQ(r.code, 200) << leave;
      EXPECT_EQ(r.reason, "OK") << leave;
      EXPECT_FALSE(r.headers.contains("X-Left")) << leave;
      EXPECT_FALSE(r.headers.contains("Set-Cookie")) << leave;
      EXPECT_EQ(r.headers.get("Content-Type", ""), "text/html; charset=UTF-8") << leave;
      EXPECT_EQ(r.body, "") << leave;
    }
    // Another client's token is its own: a token left from the request before would be
    // returned without the _xsrf cookie that makes it.
    (void)get(leave);
    auto fresh = get("/xsrf_token");
    EXPECT_FALSE(fresh.body.empty()) << leave;
    EXPECT_NE(fresh.headers.get("Set-Cookie", "").find("_xsrf="), std::string::npos) << leave;
  }
}

TEST_F(WebOutputTest, HeaderValueTypesAndClearHeader) {
  auto r = get("/header?case=types");
  EXPECT_EQ(r.headers.get("X-Int", ""), "42");
  EXPECT_EQ(r.headers.get("X-Date", ""), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(r.headers.get_list("X-Multi"), (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(r.headers.contains("X-Gone"));
  EXPECT_EQ(r.headers.get("Server", "").rfind("TornadoServer/", 0), 0u);
}

TEST_F(WebOutputTest, Redirects) {
  auto r = get("/redirect");
  EXPECT_EQ(r.code, 302);
  EXPECT_EQ(r.headers.get("Location", ""), "/dest");
  EXPECT_EQ(get("/redirect?case=permanent").code, 301);
  EXPECT_EQ(get("/redirect?case=status").code, 307);
}

TEST_F(WebOutputTest, JsonObjectIsEncodedWithItsContentType) {
  auto r = get("/json");
  EXPECT_EQ(r.headers.get("Content-Type", ""), "application/json; charset=UTF-8");
  EXPECT_EQ(r.body, R"({"html":"<\/script>","message":"Hello, World!"})");
}

TEST_F(WebOutputTest, JsonArrayIsRefused) {
  ExpectLog log(app_log(), "Uncaught exception GET /json");
  EXPECT_EQ(get("/json?case=array").code, 500);
}

TEST_F(WebOutputTest, FlushStreamsTheBodyChunked) {
  std::string answer = raw("GET /flush HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(answer.find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_EQ(answer.find("Content-Length"), std::string::npos);
  EXPECT_NE(answer.find("\r\n\r\n6\r\nfirst,\r\n7\r\nsecond,\r\n4\r\nlast\r\n0\r\n\r\n"),
            std::string::npos)
      << answer;
  EXPECT_EQ(get("/flush").body, "first,second,last");
}

TEST_F(WebOutputTest, EtagAndIfNoneMatchGive304) {
  auto r = get("/etag");
  auto etag = r.headers.get("Etag", "");
  ASSERT_EQ(etag.size(), 42u);  // quoted SHA-1 hex
  auto again = get("/etag", {{"If-None-Match", etag}});
  EXPECT_EQ(again.code, 304);
  EXPECT_EQ(again.body, "");
  EXPECT_EQ(get("/etag", {{"If-None-Match", "W/" + etag}}).code, 304);  // weak comparison
  EXPECT_EQ(get("/etag", {{"If-None-Match", "*"}}).code, 304);
  EXPECT_EQ(get("/etag", {{"If-None-Match", "\"x\", " + etag}}).code, 304);  // a list
  EXPECT_EQ(get("/etag", {{"If-None-Match", "\"other\""}}).code, 200);
}

TEST_F(WebOutputTest, ComputeEtagCanBeOverridden) {
  auto r = get("/custom_etag?tag=abc");
  EXPECT_EQ(r.headers.get("Etag", ""), "\"abc\"");
  EXPECT_EQ(get("/custom_etag?tag=abc", {{"If-None-Match", "\"abc\""}}).code, 304);
  EXPECT_EQ(get("/custom_etag?tag=abc", {{"If-None-Match", "W/\"abc\""}}).code, 304);
}

TEST_F(WebOutputTest, EtagIsTheSha1HexOfTheBodyAsTornadoMakesIt) {
  // hashlib.sha1(b"etag body").hexdigest(), quoted.
  EXPECT_EQ(get("/etag").headers.get("Etag", ""), "\"7c3d5163b89d71e9813b68219d97064c4ae9c2f3\"");
}

TEST_F(WebOutputTest, EtagOfEachBodyInTurnIsItsOwnWhateverCameBefore) {
  // The last short body's ETag is remembered per thread: bodies of one size that differ in
  // their last byte, in turn, around the memo's 512-byte bound, each against hashlib.sha1.
  struct Case {
    int n;
    const char* last;
    const char* sha1;
  };
  const Case cases[] = {
      {0, "", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
      {1, "a", "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8"},
      {1, "b", "e9d71f5ee7c92d6dc9e92ffdad17b8bd49418f98"},
      {1, "a", "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8"},
      {512, "x", "8d58820c6672a8f168d7b53e707b8175de7345ab"},
      {512, "y", "20284ed742d34aa4ae067c19286e0081fec1410f"},
      {512, "x", "8d58820c6672a8f168d7b53e707b8175de7345ab"},
      {513, "x", "511454ff2f73b38304ca2bd9f1743aaf086a4145"},
      {513, "y", "de8257ed6aa111be791a27037ae2d104721f517b"},
      {13, "x", "35bf59a8608e6056fee877d137c05081fc98eb11"},
      {512, "x", "8d58820c6672a8f168d7b53e707b8175de7345ab"},
  };
  for (const Case& c : cases) {
    const std::string path = "/sized?n=" + std::to_string(c.n) + "&last=" + c.last;
    auto r = get(path);
    EXPECT_EQ(r.body.size(), static_cast<std::size_t>(c.n)) << path;
    EXPECT_EQ(r.headers.get("Etag", ""), std::string("\"") + c.sha1 + "\"") << path;
  }
}

TEST_F(WebOutputTest, ProtectedComputeEtagOverrideIsUsed) {
  EXPECT_EQ(get("/protected_etag").headers.get("Etag", ""), "\"mine\"");
  EXPECT_EQ(get("/protected_etag", {{"If-None-Match", "\"mine\""}}).code, 304);
}

TEST_F(WebOutputTest, ComputeEtagReturningNothingSendsNoEtag) {
  auto r = get("/no_etag");
  EXPECT_EQ(r.body, "no tag");
  EXPECT_FALSE(r.headers.contains("Etag"));
  EXPECT_EQ(r.headers.get("Content-Length", ""), "6");
}

TEST_F(WebOutputTest, SetHeaderWithAnInvalidNameThrows) {
  auto body = get("/bad_header_name").body;
  EXPECT_TRUE(body.starts_with("refused: ")) << body;
  EXPECT_NE(body.find("Bad Name"), std::string::npos) << body;
}

TEST_F(WebOutputTest, NoContentHasNoBodyNorContentType) {
  std::string answer = raw("GET /nobody HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 204 No Content\r\n"));
  EXPECT_EQ(answer.find("Content-Type"), std::string::npos);
  EXPECT_TRUE(answer.ends_with("\r\n\r\n"));
}

TEST_F(WebOutputTest, HeadSendsHeadersOnly) {
  std::string answer = raw("HEAD /head HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(answer.find("Content-Length: 11\r\n"), std::string::npos);
  EXPECT_TRUE(answer.ends_with("\r\n\r\n"));
  EXPECT_EQ(answer.find("body of get"), std::string::npos);
}

TEST_F(WebOutputTest, HTTPErrorReasonIsUsed) {
  auto r = get("/error?case=reason");
  EXPECT_EQ(r.code, 418);
  EXPECT_EQ(r.reason, "I'm a Teapot");
  EXPECT_EQ(
      r.body,
      "<html><title>418: I&#x27;m a Teapot</title><body>418: I&#x27;m a Teapot</body></html>");
}

TEST_F(WebOutputTest, FinishExceptionEndsTheResponseAsItStands) {
  auto r = get("/error?case=finish");
  EXPECT_EQ(r.code, 201);
  EXPECT_EQ(r.body, "finished early");
}

TEST_F(WebOutputTest, ErrorAfterFlushCanOnlyEndTheResponse) {
  ExpectLog a(gen_log(), "500 GET /error.*late error");
  ExpectLog b(gen_log(), "Cannot send error response after headers written");
  auto r = get("/error?case=after_flush");
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, "partial");
}

TEST_F(WebOutputTest, WriteErrorCanBeOverridden) {
  auto r = get("/custom_error");
  EXPECT_EQ(r.code, 503);
  EXPECT_EQ(r.body, "custom error 503");
}

class WebTracebackTest : public WebOutputTest {
 protected:
  tornado::testing::HTTPApp get_app() override {
    return std::make_shared<web::Application>(output_handlers(), web::Settings{.debug = true});
  }
};

TEST_F(WebTracebackTest, ServeTracebackShowsTheException) {
  ExpectLog log(app_log(), "Uncaught exception GET /error");
  auto r = get("/error?case=secret");
  EXPECT_EQ(r.code, 500);
  EXPECT_EQ(r.headers.get("Content-Type", ""), "text/plain");
  EXPECT_NE(r.body.find("something secret went wrong"), std::string::npos) << r.body;
}

TEST_F(WebOutputTest, WithoutServeTracebackTheExceptionStaysPrivate) {
  ExpectLog log(app_log(), "Uncaught exception GET /error");
  auto r = get("/error?case=secret");
  EXPECT_EQ(r.code, 500);
  EXPECT_EQ(r.body.find("secret"), std::string::npos);
}

}  // namespace

}  // namespace web_output_test
