// RequestHandler cookies, signed cookies, XSRF and authenticated(): the behaviours of
// Tornado's web_test CookieTest, SecureCookie*, XSRFTest and AuthRedirectTest.
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>

#include "tornado/escape.h"
#include "tornado/testing.h"
#include "tornado/web.h"

namespace web_cookie_test {

using namespace tornado;
using tornado::testing::ExpectLog;

namespace {

struct SetCookieHandler : web::RequestHandler {
  Task<> get() override {
    auto which = get_argument("case");
    if (which == "basic") {
      set_cookie("str", "asdf");
      set_cookie("unicode", "qwer");
    } else if (which == "args") {
      set_cookie("unicode_args", "blah", {.domain = "foo.com", .path = "/foo"});
    } else if (which == "special") {
      set_cookie("equals", "a=b");
      set_cookie("semicolon", "a;b");
      set_cookie("quote", "a\"b");
    } else if (which == "flags") {
      set_cookie("a", "1", {.secure = true});
      set_cookie("b", "1", {.secure = false});
      set_cookie("c", "1", {.httponly = true});
      set_cookie("d", "1", {.httponly = false});
    } else if (which == "max_age") {
      set_cookie("foo", "bar", {.max_age = 10});
    } else if (which == "samesite") {
      set_cookie("s", "1", {.samesite = "Lax", .partitioned = true});
    } else if (which == "expires_days") {
      set_cookie("foo", "bar", {.expires_days = 10});
    } else if (which == "overwrite") {
      set_cookie("a", "b", {.domain = "example.com"});
      set_cookie("c", "d", {.domain = "example.com"});
      set_cookie("a", "e");  // replaces the first "a"
    } else if (which == "clear") {
      clear_cookie("foo");
    } else if (which == "clear_all") {
      clear_all_cookies();
    } else if (which == "bad") {
      try {
        set_cookie("x", "a b");
      } catch (const std::invalid_argument&) {
        write("refused");
      }
    }
    co_return;
  }
};

struct GetCookieHandler : web::RequestHandler {
  Task<> get() override {
    write(get_cookie("foo").value_or("(none)"));
    co_return;
  }
};

struct SignedCookieHandler : web::RequestHandler {
  Task<> get() override {
    if (auto v = get_optional_argument("set")) {
      set_signed_cookie("signed", *v);
    } else {
      auto got = get_signed_cookie("signed");
      write(got ? "value:" + *got : std::string("none"));
      if (auto kv = get_signed_cookie_key_version("signed")) write(",kv:" + std::to_string(*kv));
    }
    co_return;
  }
};

struct XsrfHandler : web::RequestHandler {
  Task<> get() override {
    write(xsrf_token());
    co_return;
  }
  Task<> post() override {
    write("ok");
    co_return;
  }
};

struct LoginRequired : web::RequestHandler {
  nlohmann::json get_current_user() override {
    auto u = get_cookie("user");
    return u ? nlohmann::json(*u) : nlohmann::json();
  }
  Task<> get() override {
    authenticated();
    write("hello " + current_user().get<std::string>());
    co_return;
  }
  Task<> post() override {
    authenticated();
    write("posted");
    co_return;
  }
};

web::Settings cookie_settings() {
  web::Settings s;
  s.cookie_secret = "0123456789";
  s.xsrf_cookies = true;
  s.login_url = "/login";
  return s;
}

class WebCookieTest : public tornado::testing::AsyncHTTPTest {
 protected:
  tornado::testing::HTTPApp get_app() override {
    return std::make_shared<web::Application>(
        std::vector<web::URLSpec>{
            {"/set", web::handler<SetCookieHandler>()},
            {"/get", web::handler<GetCookieHandler>()},
            {"/signed", web::handler<SignedCookieHandler>()},
            {"/xsrf", web::handler<XsrfHandler>()},
            {"/private", web::handler<LoginRequired>()},
        },
        cookie_settings());
  }
  std::vector<std::string> set_cookies(const std::string& which) {
    auto list = fetch("/set?case=" + which).headers.get_list("Set-Cookie");
    std::sort(list.begin(), list.end());
    return list;
  }
  httpclient::HTTPResponse fetch_with_cookie(const std::string& path, const std::string& cookie,
                                             std::string method = "GET", std::string body = {},
                                             httputil::HTTPHeaders headers = {}) {
    httpclient::HTTPRequest req;
    req.method = std::move(method);
    if (!body.empty() || req.method == "POST") req.body = std::move(body);
    req.headers = std::move(headers);
    if (!cookie.empty()) req.headers.set("Cookie", cookie);
    req.follow_redirects = false;
    return fetch(path, req);
  }
};

using Strings = std::vector<std::string>;

TEST_F(WebCookieTest, SetCookie) {
  EXPECT_EQ(set_cookies("basic"), (Strings{"str=asdf; Path=/", "unicode=qwer; Path=/"}));
}

TEST_F(WebCookieTest, SetCookieDomainAndPath) {
  EXPECT_EQ(set_cookies("args"), (Strings{"unicode_args=blah; Domain=foo.com; Path=/foo"}));
}

TEST_F(WebCookieTest, SpecialCharactersAreQuotedAsPythonDoes) {
  EXPECT_EQ(set_cookies("special"), (Strings{"equals=\"a=b\"; Path=/", "quote=\"a\\\"b\"; Path=/",
                                             "semicolon=\"a\\073b\"; Path=/"}));
}

TEST_F(WebCookieTest, FalseFlagsAreLeftOut) {
  EXPECT_EQ(set_cookies("flags"), (Strings{"a=1; Path=/; Secure", "b=1; Path=/",
                                           "c=1; HttpOnly; Path=/", "d=1; Path=/"}));
}

TEST_F(WebCookieTest, MaxAgeSameSitePartitioned) {
  EXPECT_EQ(set_cookies("max_age"), (Strings{"foo=bar; Max-Age=10; Path=/"}));
  EXPECT_EQ(set_cookies("samesite"), (Strings{"s=1; Partitioned; Path=/; SameSite=Lax"}));
}

TEST_F(WebCookieTest, ExpiresDaysSetsAnExpiryThatManyDaysAhead) {
  auto list = set_cookies("expires_days");
  ASSERT_EQ(list.size(), 1u);
  std::smatch m;
  ASSERT_TRUE(std::regex_match(list[0], m, std::regex("foo=bar; expires=(.+); Path=/")));
  auto when = httputil::parse_http_date(m[1].str());
  ASSERT_TRUE(when);
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  EXPECT_NEAR(static_cast<double>(*when - now), 10 * 86400.0, 10);
}

TEST_F(WebCookieTest, SecondSetOfTheSameNameReplacesTheFirst) {
  EXPECT_EQ(set_cookies("overwrite"), (Strings{"a=e; Path=/", "c=d; Domain=example.com; Path=/"}));
}

TEST_F(WebCookieTest, ClearCookieExpiresItInThePast) {
  auto list = set_cookies("clear");
  ASSERT_EQ(list.size(), 1u);
  EXPECT_TRUE(std::regex_match(list[0], std::regex("foo=\"\"; expires=.+; Path=/"))) << list[0];
}

TEST_F(WebCookieTest, ClearAllCookiesClearsEachRequestCookie) {
  auto r = fetch_with_cookie("/set?case=clear_all", "foo=bar; baz=quux");
  auto list = r.headers.get_list("Set-Cookie");
  std::sort(list.begin(), list.end());
  ASSERT_EQ(list.size(), 2u);
  EXPECT_TRUE(list[0].starts_with("baz=\"\"; expires="));
  EXPECT_TRUE(list[1].starts_with("foo=\"\"; expires="));
}

TEST_F(WebCookieTest, CookieWithSpaceIsRefused) {
  EXPECT_EQ(fetch("/set?case=bad").body, "refused");
}

TEST_F(WebCookieTest, GetCookie) {
  EXPECT_EQ(fetch_with_cookie("/get", "foo=bar").body, "bar");
  EXPECT_EQ(fetch_with_cookie("/get", "foo=\"bar\"").body, "bar");  // quotes removed
  EXPECT_EQ(fetch_with_cookie("/get", "").body, "(none)");
}

TEST_F(WebCookieTest, SignedCookieRoundTrip) {
  auto set = fetch("/signed?set=hello%20world");
  auto cookie = set.headers.get_first("Set-Cookie");
  ASSERT_TRUE(cookie);
  std::string pair(cookie->substr(0, cookie->find(';')));
  EXPECT_TRUE(pair.starts_with("signed=\"2|1:0|10:")) << pair;  // v2, with quotes ('=')
  EXPECT_NE(cookie->find("expires="), std::string_view::npos);  // 30 days by default
  EXPECT_EQ(fetch_with_cookie("/signed", pair).body, "value:hello world,kv:0");
}

TEST_F(WebCookieTest, TamperedSignedCookieIsIgnored) {
  auto set = fetch("/signed?set=admin");
  std::string pair(set.headers.get_first("Set-Cookie")
                       ->substr(0, set.headers.get_first("Set-Cookie")->find(';')));
  std::string tampered = pair;
  tampered[tampered.size() - 3] = tampered[tampered.size() - 3] == 'a' ? 'b' : 'a';
  // (the key version is read without checking the signature, as Tornado does)
  EXPECT_EQ(fetch_with_cookie("/signed", tampered).body, "none,kv:0");
  EXPECT_EQ(fetch_with_cookie("/signed", "signed=admin").body, "none");
}

// ---- XSRF ----

std::string cookie_pair(const httpclient::HTTPResponse& r, const std::string& name) {
  for (const auto& c : r.headers.get_list("Set-Cookie")) {
    if (c.starts_with(name + "=")) return c.substr(0, c.find(';'));
  }
  return {};
}

TEST_F(WebCookieTest, XsrfPostWithoutTokenIs403) {
  ExpectLog log(gen_log(), "403 POST /xsrf .*'_xsrf' argument missing");
  EXPECT_EQ(fetch_with_cookie("/xsrf", "", "POST", "x=1").code, 403);
}

TEST_F(WebCookieTest, XsrfTokenFromArgumentOrHeaderIsAccepted) {
  auto page = fetch("/xsrf");
  std::string cookie = cookie_pair(page, "_xsrf");
  ASSERT_FALSE(cookie.empty());
  std::string token = page.body;
  EXPECT_TRUE(token.starts_with("2|"));
  EXPECT_EQ(fetch_with_cookie("/xsrf", cookie, "POST", "_xsrf=" + escape::url_escape(token)).body,
            "ok");
  EXPECT_EQ(fetch_with_cookie("/xsrf", cookie, "POST", "x=1", {{"X-XSRFToken", token}}).body, "ok");
  EXPECT_EQ(fetch_with_cookie("/xsrf", cookie, "POST", "x=1", {{"X-CSRFToken", token}}).body, "ok");
}

TEST_F(WebCookieTest, XsrfTokenIsMaskedDifferentlyEachTimeButStaysValid) {
  auto page = fetch("/xsrf");
  std::string cookie = cookie_pair(page, "_xsrf");
  auto again = fetch_with_cookie("/xsrf", cookie);
  EXPECT_NE(again.body, page.body);                           // a fresh mask (BREACH)
  EXPECT_TRUE(again.headers.get_list("Set-Cookie").empty());  // cookie kept
  EXPECT_EQ(
      fetch_with_cookie("/xsrf", cookie, "POST", "_xsrf=" + escape::url_escape(again.body)).body,
      "ok");
}

TEST_F(WebCookieTest, XsrfTokenOfAnotherCookieIs403) {
  ExpectLog log(gen_log(), "XSRF cookie does not match POST argument");
  auto a = fetch("/xsrf");
  auto b = fetch("/xsrf");
  EXPECT_EQ(fetch_with_cookie("/xsrf", cookie_pair(a, "_xsrf"), "POST",
                              "_xsrf=" + escape::url_escape(b.body))
                .code,
            403);
}

TEST_F(WebCookieTest, XsrfMalformedTokenIs403) {
  ExpectLog log(gen_log(), "'_xsrf' argument has invalid format");
  auto a = fetch("/xsrf");
  EXPECT_EQ(fetch_with_cookie("/xsrf", cookie_pair(a, "_xsrf"), "POST", "_xsrf=2%7Cnothex%7C").code,
            403);
}

// ---- authenticated ----

TEST_F(WebCookieTest, AuthenticatedGetRedirectsToLoginWithNext) {
  auto r = fetch_with_cookie("/private?x=1", "");
  EXPECT_EQ(r.code, 302);
  EXPECT_EQ(r.headers.get("Location", ""), "/login?next=%2Fprivate%3Fx%3D1");
}

TEST_F(WebCookieTest, AuthenticatedPostIs403) {
  auto page = fetch("/xsrf");
  std::string cookie = cookie_pair(page, "_xsrf");
  auto r = fetch_with_cookie("/private", cookie, "POST", "_xsrf=" + escape::url_escape(page.body));
  EXPECT_EQ(r.code, 403);
}

TEST_F(WebCookieTest, AuthenticatedUserPasses) {
  EXPECT_EQ(fetch_with_cookie("/private", "user=ann").body, "hello ann");
}

}  // namespace

}  // namespace web_cookie_test
