// RedirectHandler, ErrorHandler, FallbackHandler and compress_response through the full
// Application stack: Tornado's web_test.py RedirectHandlerTest, ErrorHandlerXSRFTest and
// GzipTestCase behaviours, and the gzip transform on streamed (flushed) responses.
#include <gtest/gtest.h>

#include "internal/gzip.h"
#include "tornado/testing.h"
#include "tornado/web.h"

namespace web_builtin_handlers_test {

using namespace tornado;

namespace {

std::string gunzip(const std::string& data) {
  tornado::detail::GzipDecompressor d(1 << 26);
  d.feed(data);
  std::string out;
  while (d.has_pending()) d.inflate_some(out, 1 << 20);
  EXPECT_TRUE(d.finished());
  return out;
}

// ---- format_redirect_url ----

routing::PathArgs positional(std::vector<std::string> args) { return {std::move(args), {}}; }

TEST(FormatRedirectUrlTest, PositionalNamedAndAutomaticFields) {
  EXPECT_EQ(web::format_redirect_url("/{1}/{0}/{2}", positional({"a", "b", "c"})), "/b/a/c");
  EXPECT_EQ(web::format_redirect_url("/{}/{}", positional({"a", "b"})), "/a/b");
  routing::PathArgs named{{}, {{"id", "42"}, {"slug", "x"}}};
  EXPECT_EQ(web::format_redirect_url("/e/{slug}/{id}", named), "/e/x/42");
  EXPECT_EQ(web::format_redirect_url("/{{literal}}/{0}", positional({"a"})), "/{literal}/a");
  EXPECT_EQ(web::format_redirect_url("/plain", positional({})), "/plain");
}

TEST(FormatRedirectUrlTest, BadFieldsAreErrors) {
  for (const char* pattern :
       {"/{3}", "/{name}", "/{0:>5}", "/{0!r}", "/{", "/}", "/{}/{0}", "/{0.attr}", "/{0[1]}"}) {
    EXPECT_THROW(web::format_redirect_url(pattern, positional({"a", "b"})), std::invalid_argument)
        << pattern;
  }
}

// ---- the handlers in an Application ----

struct GzipHandler : web::RequestHandler {
  Task<> get() override {
    for (const auto& v : get_arguments("vary")) add_header("Vary", v);
    write("hello world" + std::string(web::GZipContentEncoding::kMinLength, '!'));
    co_return;
  }
  Task<> head() override { return get(); }
};

struct SmallHandler : web::RequestHandler {
  Task<> get() override {
    write("short");
    co_return;
  }
};

// Three flushed pieces: the gzip stream must be decodable after each.
struct StreamingHandler : web::RequestHandler {
  Task<> get() override {
    for (int i = 0; i < 3; ++i) {
      write("piece " + std::to_string(i) + ";");
      co_await flush();
    }
  }
};

struct PngHandler : web::RequestHandler {
  Task<> get() override {
    set_header("Content-Type", "image/png");
    write(std::string(5000, 'x'));
    co_return;
  }
};

class BuiltinHandlersTest : public tornado::testing::AsyncHTTPTest {
 protected:
  tornado::testing::HTTPApp get_app() override {
    web::Settings settings;
    settings.compress_response = true;
    settings.xsrf_cookies = true;
    HTTPServer::RequestCallback fallback = [](httputil::HTTPServerRequest& request) {
      std::string body = "fallback saw " + request.method + " " + request.uri;
      httputil::HTTPHeaders headers{{"Content-Length", std::to_string(body.size())},
                                    {"X-Fallback", "yes"}};
      request.connection->write_headers(httputil::ResponseStartLine{"HTTP/1.1", 202, "Accepted"},
                                        headers, body);
      request.connection->finish();
    };
    return std::make_shared<web::Application>(
        std::vector<web::URLSpec>{
            {"/redirect_permanent", web::handler<web::RedirectHandler>(std::string("/"))},
            {"/redirect_temp", web::handler<web::RedirectHandler>(std::string("/"), false)},
            {"/a/(.*?)/(.*?)/(.*)",
             web::handler<web::RedirectHandler>(std::string("/{1}/{0}/{2}"))},
            {"/named/(?P<id>[0-9]+)",
             web::handler<web::RedirectHandler>(std::string("/entry/{id}"))},
            {"/bad_format/(.*)", web::handler<web::RedirectHandler>(std::string("/{5}"))},
            {"/error", web::handler<web::ErrorHandler>(418)},
            {"/gzip", web::handler<GzipHandler>()},
            {"/small", web::handler<SmallHandler>()},
            {"/stream", web::handler<StreamingHandler>()},
            {"/png", web::handler<PngHandler>()},
            {"/legacy/.*", web::handler<web::FallbackHandler>(fallback)},
        },
        settings);
  }
  httpclient::HTTPResponse get_raw(const std::string& path, httputil::HTTPHeaders headers = {},
                                   std::string method = "GET") {
    return fetch(path, httpclient::HTTPRequest{}
                           .set_method(std::move(method))
                           .set_headers(std::move(headers))
                           .set_decompress_response(false)
                           .set_follow_redirects(false)
                           .set_allow_nonstandard_methods(true));
  }
};

TEST_F(BuiltinHandlersTest, RedirectIsPermanentByDefault) {
  auto r = get_raw("/redirect_permanent");
  EXPECT_EQ(r.code, 301);
  EXPECT_EQ(r.headers.get("Location"), "/");
  r = get_raw("/redirect_temp");
  EXPECT_EQ(r.code, 302);
}

TEST_F(BuiltinHandlersTest, RedirectKeepsTheQueryArguments) {
  auto r = get_raw("/redirect_permanent?foo=bar");
  EXPECT_EQ(r.code, 301);
  EXPECT_EQ(r.headers.get("Location"), "/?foo=bar");
  r = get_raw("/redirect_permanent?a=1&a=2&b=x+y");
  EXPECT_EQ(r.headers.get("Location"), "/?a=1&a=2&b=x+y");
}

TEST_F(BuiltinHandlersTest, RedirectFormatsPathArguments) {
  auto r = get_raw("/a/b/c/d");
  EXPECT_EQ(r.code, 301);
  EXPECT_EQ(r.headers.get("Location"), "/c/b/d");
  r = get_raw("/named/42");
  EXPECT_EQ(r.headers.get("Location"), "/entry/42");
}

TEST_F(BuiltinHandlersTest, RedirectWithAFieldOutOfRangeIs500) {
  tornado::testing::ExpectLog expect(app_log(), ".*out of range.*");
  EXPECT_EQ(get_raw("/bad_format/x").code, 500);
}

TEST_F(BuiltinHandlersTest, ErrorHandlerAnswersItsStatus) {
  auto r = get_raw("/error");
  EXPECT_EQ(r.code, 418);
}

TEST_F(BuiltinHandlersTest, PostToErrorHandlerIsNotAnXsrfFailure) {
  auto r = get_raw("/error", {}, "POST");
  EXPECT_EQ(r.code, 418);  // not 403: ErrorHandler skips the XSRF check
}

TEST_F(BuiltinHandlersTest, FallbackAnswersThroughTheConnection) {
  auto r = get_raw("/legacy/page?x=1");
  EXPECT_EQ(r.code, 202);
  EXPECT_EQ(r.body, "fallback saw GET /legacy/page?x=1");
  EXPECT_EQ(r.headers.get("X-Fallback"), "yes");
  EXPECT_FALSE(r.headers.contains("Server"));  // nothing of RequestHandler's own response
  // The connection stays usable: a second request on the same client.
  EXPECT_EQ(get_raw("/legacy/again").body, "fallback saw GET /legacy/again");
}

TEST_F(BuiltinHandlersTest, FallbackPostWithoutXsrfTokenIs403AsInTornado) {
  // Tornado's FallbackHandler runs in prepare(), after the XSRF check: a POST without a
  // token is 403 there too.
  EXPECT_EQ(get_raw("/legacy/form", {}, "POST").code, 403);
}

// ---- GzipTestCase ----

TEST_F(BuiltinHandlersTest, GzipCompressesWhenAcceptedAndSetsVary) {
  auto r = get_raw("/gzip", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.headers.get("Content-Encoding"), "gzip");
  EXPECT_EQ(r.headers.get("Vary"), "Accept-Encoding");
  EXPECT_EQ(r.headers.get("Content-Length"), std::to_string(r.body.size()));
  EXPECT_EQ(gunzip(r.body), "hello world" + std::string(1024, '!'));
  EXPECT_EQ(r.headers.get("Etag", "").substr(0, 3), "W/\"");
}

TEST_F(BuiltinHandlersTest, GzipNotRequestedStillSetsVary) {
  auto r = get_raw("/gzip");
  EXPECT_FALSE(r.headers.contains("Content-Encoding"));
  EXPECT_EQ(r.headers.get("Vary"), "Accept-Encoding");
  EXPECT_EQ(r.body.size(), 11u + 1024u);
}

TEST_F(BuiltinHandlersTest, GzipVaryAlreadyPresent) {
  auto r = get_raw("/gzip?vary=Accept-Language", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(r.headers.get("Content-Encoding"), "gzip");
  EXPECT_EQ(r.headers.get("Vary"), "Accept-Language, Accept-Encoding");
  r = get_raw("/gzip?vary=Accept-Language&vary=Cookie", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(r.headers.get("Vary"), "Accept-Language,Cookie, Accept-Encoding");
}

TEST_F(BuiltinHandlersTest, GzipLeavesSmallAndIncompressibleBodiesAlone) {
  auto r = get_raw("/small", {{"Accept-Encoding", "gzip"}});
  EXPECT_FALSE(r.headers.contains("Content-Encoding"));
  EXPECT_EQ(r.body, "short");
  r = get_raw("/png", {{"Accept-Encoding", "gzip"}});
  EXPECT_FALSE(r.headers.contains("Content-Encoding"));
  EXPECT_EQ(r.body.size(), 5000u);
}

TEST_F(BuiltinHandlersTest, GzipHeadIsNotCompressed) {
  auto r = get_raw("/gzip", {{"Accept-Encoding", "gzip"}}, "HEAD");
  EXPECT_EQ(r.code, 200);
  EXPECT_FALSE(r.headers.contains("Content-Encoding"));
  EXPECT_EQ(r.headers.get("Content-Length"), std::to_string(11 + 1024));  // what GET sends
  EXPECT_EQ(r.headers.get("Vary"), "Accept-Encoding");
}

TEST_F(BuiltinHandlersTest, GzipStreamedResponseIsChunkedAndDecodes) {
  auto r = get_raw("/stream", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.headers.get("Content-Encoding"), "gzip");
  EXPECT_FALSE(r.headers.contains("Content-Length"));
  EXPECT_EQ(gunzip(r.body), "piece 0;piece 1;piece 2;");
}

TEST_F(BuiltinHandlersTest, GzipConditionalRequestWithTheWeakEtagIs304) {
  auto first = get_raw("/gzip", {{"Accept-Encoding", "gzip"}});
  auto r = get_raw("/gzip",
                   {{"Accept-Encoding", "gzip"}, {"If-None-Match", first.headers.get("Etag", "")}});
  EXPECT_EQ(r.code, 304);
  EXPECT_FALSE(r.headers.contains("Content-Encoding"));
}

}  // namespace

}  // namespace web_builtin_handlers_test
