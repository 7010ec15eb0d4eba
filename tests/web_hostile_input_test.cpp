// Hostile input to the web layer: XSRF tokens in every wrong shape and on every method,
// arguments that are not UTF-8 or carry '%' garbage (query, body and path arguments),
// repeated keys and a flood of arguments.
#include <gtest/gtest.h>

#include <chrono>
#include <regex>

#include "http_test_util.h"
#include "tornado/escape.h"
#include "tornado/testing.h"
#include "tornado/web.h"
#include "tornado/web/xsrf.h"

namespace web_hostile_input_test {

using namespace tornado;
using tornado::test::status_line;
using tornado::testing::ExpectLog;

namespace {

struct XsrfEchoHandler : web::RequestHandler {
  Task<> get() override {
    write(xsrf_token());
    co_return;
  }
  Task<> post() override { return ok(); }
  Task<> put() override { return ok(); }
  Task<> patch() override { return ok(); }
  Task<> delete_() override { return ok(); }
  Task<> ok() {
    write("ok");
    co_return;
  }
};

struct ArgsHandler : web::RequestHandler {
  Task<> get() override { return echo(); }
  Task<> post() override { return echo(); }
  Task<> echo() {
    auto values = get_arguments(get_query_argument("name", "a"));
    write(std::to_string(values.size()));
    for (const auto& v : values) write("[" + v + "]");
    co_return;
  }
};

struct PathArgHandler : web::RequestHandler {
  Task<> get() override {
    write("[" + path_arg(0) + "]");
    co_return;
  }
};

class WebHostileInputTest : public tornado::testing::AsyncHTTPTest {
 protected:
  tornado::testing::HTTPApp get_app() override {
    web::Settings settings;
    settings.cookie_secret = std::string("0123456789abcdef0123456789abcdef");
    settings.xsrf_cookies = true;
    return std::make_shared<web::Application>(
        std::vector<web::URLSpec>{
            {"/xsrf", web::handler<XsrfEchoHandler>()},
            {"/args", web::handler<ArgsHandler>()},
            {"/path/(.*)", web::handler<PathArgHandler>()},
        },
        settings);
  }
  std::string raw(const std::string& request) {
    int port = get_http_port();
    return run_sync([port, request]() -> Task<std::string> {
      auto s = co_await test::connect_loopback(port);
      co_await s->write(request);
      co_return co_await s->read_until_close();
    });
  }
  // A request with `method`, a Cookie header and a form body (or none).
  std::string send(const std::string& method, const std::string& target, const std::string& cookie,
                   const std::string& body = "", const std::string& extra = "") {
    std::string request = method + " " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n";
    if (!cookie.empty()) request += "Cookie: " + cookie + "\r\n";
    request += extra;
    if (!body.empty() || method != "GET") {
      request += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n";
    }
    return raw(request + "\r\n" + body);
  }
  static std::string body_of(const std::string& response) {
    auto at = response.find("\r\n\r\n");
    return at == std::string::npos ? "" : response.substr(at + 4);
  }
  // A fresh token pair: the Set-Cookie value and the masked token the page would carry.
  std::pair<std::string, std::string> fresh_token() {
    std::string response = send("GET", "/xsrf", "");
    std::smatch m;
    std::regex cookie_re("Set-Cookie: _xsrf=([^;\r]+)");
    EXPECT_TRUE(std::regex_search(response, m, cookie_re)) << response;
    return {m[1].str(), body_of(response)};
  }
};

// ---- XSRF ----

TEST_F(WebHostileInputTest, XsrfIsCheckedOnEveryUnsafeMethod) {
  auto [cookie, token] = fresh_token();
  for (const char* method : {"POST", "PUT", "PATCH", "DELETE"}) {
    ExpectLog expect(gen_log(), ".*'_xsrf' argument missing.*");
    EXPECT_EQ(status_line(send(method, "/xsrf", "_xsrf=" + cookie)), "HTTP/1.1 403 Forbidden")
        << method;
    EXPECT_EQ(
        body_of(send(method, "/xsrf", "_xsrf=" + cookie, "_xsrf=" + escape::url_escape(token))),
        "ok")
        << method;
  }
}

TEST_F(WebHostileInputTest, XsrfTokenOfTheRightShapeButAnotherCookieIs403) {
  auto [cookie, token] = fresh_token();
  auto [other_cookie, other_token] = fresh_token();
  ExpectLog expect(gen_log(), ".*XSRF cookie does not match.*");
  EXPECT_EQ(status_line(send("POST", "/xsrf", "_xsrf=" + cookie,
                             "_xsrf=" + escape::url_escape(other_token))),
            "HTTP/1.1 403 Forbidden");
  // Without the cookie a fresh random token is expected: nothing matches it.
  EXPECT_EQ(status_line(send("POST", "/xsrf", "", "_xsrf=" + escape::url_escape(token))),
            "HTTP/1.1 403 Forbidden");
}

TEST_F(WebHostileInputTest, XsrfMalformedTokensAre403) {
  auto [cookie, token] = fresh_token();
  auto decoded = web::decode_xsrf_token(token);
  ASSERT_TRUE(decoded);
  std::string hex_raw;
  for (unsigned char c : decoded->token) {
    static constexpr char kHex[] = "0123456789abcdef";
    hex_raw.push_back(kHex[c >> 4]);
    hex_raw.push_back(kHex[c & 15]);
  }
  const std::string truncated =
      token.substr(0, token.rfind('|') - 2) + token.substr(token.rfind('|'));
  const std::string longer =
      token.substr(0, token.rfind('|')) + "00" + token.substr(token.rfind('|'));
  for (const std::string& bad : {
           truncated,                                                       // one byte short
           longer,                                                          // one byte more
           std::string("2|zzzzzzzz|") + hex_raw + "|1",                     // mask not hex
           std::string("2|00000000|") + hex_raw,                            // three fields
           std::string("2|00000000|") + hex_raw + "|1|2",                   // five fields
           std::string("2|000000|") + hex_raw + "|1",                       // 3-byte mask
           std::string("2|00000000|") + hex_raw + "|-1",                    // negative timestamp
           std::string("2|00000000|") + hex_raw + "|99999999999999999999",  // overflows
           std::string("3|00000000|") + hex_raw + "|1",                     // unknown version
           std::string("2|00000000||1"),                                    // empty token
           hex_raw.substr(0, 30),                                           // v1, truncated
           hex_raw + "00",                                                  // v1, longer
           std::string(4096, 'a'),                                          // long garbage
       }) {
    ExpectLog expect(gen_log(), ".*(invalid format|does not match).*");
    std::string response =
        send("POST", "/xsrf", "_xsrf=" + cookie, "_xsrf=" + escape::url_escape(bad));
    EXPECT_EQ(status_line(response), "HTTP/1.1 403 Forbidden") << bad;
  }
  // The raw token unmasked (v2 with a zero mask) and as v1 hex are the same token.
  ExpectLog none(gen_log(), ".*", false);
  EXPECT_EQ(body_of(send("POST", "/xsrf", "_xsrf=" + cookie,
                         "_xsrf=" + escape::url_escape("2|00000000|" + hex_raw + "|1"))),
            "ok");
  EXPECT_EQ(body_of(send("POST", "/xsrf", "_xsrf=" + cookie, "_xsrf=" + hex_raw)), "ok");
}

TEST_F(WebHostileInputTest, XsrfFormFieldWinsOverTheHeader) {
  auto [cookie, token] = fresh_token();
  auto [other_cookie, other_token] = fresh_token();
  ExpectLog expect(gen_log(), ".*does not match.*");
  // A wrong form field is not rescued by a right header (Tornado: argument or header).
  EXPECT_EQ(status_line(send("POST", "/xsrf", "_xsrf=" + cookie,
                             "_xsrf=" + escape::url_escape(other_token),
                             "X-XSRFToken: " + token + "\r\n")),
            "HTTP/1.1 403 Forbidden");
  // An empty form field falls through to the header.
  EXPECT_EQ(
      body_of(send("POST", "/xsrf", "_xsrf=" + cookie, "_xsrf=", "X-CSRFToken: " + token + "\r\n")),
      "ok");
}

TEST_F(WebHostileInputTest, XsrfCookieThatIsGarbageIsReplacedAndNeverMatches) {
  ExpectLog expect(gen_log(), ".*(does not match|invalid format).*");
  // A cookie the server cannot decode counts as absent: whatever the form says, 403.
  for (const char* cookie : {"2|nothex|nothex|1", "2|", "9|x", "2|00000000||1"}) {
    EXPECT_EQ(status_line(send("POST", "/xsrf", std::string("_xsrf=\"") + cookie + "\"",
                               std::string("_xsrf=") + escape::url_escape(cookie))),
              "HTTP/1.1 403 Forbidden")
        << cookie;
  }
}

// ---- arguments ----

TEST_F(WebHostileInputTest, PercentGarbageInTheQueryIsKeptLiterally) {
  EXPECT_EQ(body_of(send("GET", "/args?a=%zz&a=%&a=%4&a=%%41", "")), "4[%zz][%][%4][%A]");
}

TEST_F(WebHostileInputTest, InvalidUtf8InQueryOrBodyArgumentIs400) {
  ExpectLog expect(gen_log(), ".*Invalid unicode.*");
  EXPECT_EQ(status_line(send("GET", "/args?a=%c3%28", "")), "HTTP/1.1 400 Bad Request");
  EXPECT_EQ(status_line(send("GET", "/args?a=%ed%a0%80", "")), "HTTP/1.1 400 Bad Request");
  EXPECT_EQ(status_line(send("GET", "/args?a=%c0%af", "")), "HTTP/1.1 400 Bad Request");
}

TEST_F(WebHostileInputTest, PathArgumentsPercentGarbageAndInvalidUtf8) {
  EXPECT_EQ(body_of(send("GET", "/path/%zz%", "")), "[%zz%]");
  EXPECT_EQ(body_of(send("GET", "/path/a%2Fb", "")), "[a/b]");
  EXPECT_EQ(body_of(send("GET", "/path/a+b", "")), "[a+b]");  // '+' is not a space in a path
  ExpectLog expect(gen_log(), ".*Invalid unicode.*");
  EXPECT_EQ(status_line(send("GET", "/path/%ff", "")), "HTTP/1.1 400 Bad Request");
  EXPECT_EQ(status_line(send("GET", "/path/%c3", "")), "HTTP/1.1 400 Bad Request");
}

TEST_F(WebHostileInputTest, ControlCharactersInArgumentsBecomeSpaces) {
  EXPECT_EQ(body_of(send("GET", "/args?a=x%00y%01z%7f", "")), "1[x y z\x7f]");
}

TEST_F(WebHostileInputTest, AFloodOfArgumentsIsParsedInLinearTime) {
  // 200,000 distinct names and 200,000 repeats of one, in a 2.6 MB form body.
  std::string body;
  for (int i = 0; i < 200000; ++i) body += "k" + std::to_string(i) + "=&";
  for (int i = 0; i < 200000; ++i) body += "a=1&";
  auto start = std::chrono::steady_clock::now();
  auto [cookie, token] = fresh_token();
  std::string response =
      send("POST", "/args", "_xsrf=" + cookie, body + "_xsrf=" + escape::url_escape(token));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(status_line(response), "HTTP/1.1 200 OK");
  EXPECT_TRUE(body_of(response).starts_with("200000[1][1]"));
  // Linear: 1.6 s at -O2 and 10 s under ASan on the loaded 2-core machine. A quadratic
  // parse (a scan per argument) would take hours.
  EXPECT_LT(seconds, 60.0);
  std::printf("400,000 form arguments: %.2f s\n", seconds);
}

}  // namespace

}  // namespace web_hostile_input_test
