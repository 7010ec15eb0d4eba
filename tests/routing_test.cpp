// routing.h: PathMatches (anchoring, groups, unescaping, reverse), HostMatches,
// DefaultHostMatches, nested routers, and the same through a live Application (the
// behaviours of Tornado's routing_test and web_test's URLSpec/path-argument tests).
#include "tornado/routing.h"

#include <gtest/gtest.h>

#include <random>

#include "tornado/testing.h"
#include "tornado/web.h"

namespace routing_test {

using namespace tornado;
using routing::PathArgs;
using routing::PathMatches;
using routing::RoutingError;

namespace {

httputil::HTTPServerRequest request_for(std::string uri, std::string host = "127.0.0.1",
                                        httputil::HTTPHeaders headers = {}) {
  headers.set("Host", host);
  return httputil::HTTPServerRequest("GET", std::move(uri), "HTTP/1.1", std::move(headers));
}

TEST(PathMatchesTest, PatternMustMatchTheWholePath) {
  PathMatches m("/foo");
  PathArgs args;
  EXPECT_TRUE(m.match_path("/foo", args));
  EXPECT_FALSE(m.match_path("/foobar", args));
  EXPECT_FALSE(m.match_path("/x/foo", args));  // anchored at the start too
  EXPECT_EQ(m.pattern(), "/foo$");
}

TEST(PathMatchesTest, RegexPatternIsAnchoredAtBothEnds) {
  PathMatches m("/fo+");
  PathArgs args;
  EXPECT_TRUE(m.match_path("/fooo", args));
  EXPECT_FALSE(m.match_path("/fooox", args));
  EXPECT_FALSE(m.match_path("x/foo", args));
}

TEST(PathMatchesTest, PositionalGroupsAreUnescapedWithoutPlus) {
  PathMatches m("/str/(.*)/(.*)");
  PathArgs args;
  ASSERT_TRUE(m.match_path("/str/a%20b+c/%E9", args));
  ASSERT_EQ(args.args.size(), 2u);
  EXPECT_EQ(args.args[0], "a b+c");  // '+' stays: path arguments are not form-encoded
  EXPECT_EQ(args.args[1], "\xe9");   // bytes; the handler checks UTF-8
  EXPECT_TRUE(args.kwargs.empty());
}

TEST(PathMatchesTest, NamedGroupsBecomeKeywordArgumentsOnly) {
  PathMatches m("/(?P<year>[0-9]{4})/(?P<slug>[^/]+)/([a-z]+)");
  PathArgs args;
  ASSERT_TRUE(m.match_path("/2024/hello%2Fworld/x", args));
  EXPECT_TRUE(args.args.empty());  // Tornado drops unnamed groups when any is named
  ASSERT_EQ(args.kwargs.size(), 2u);
  EXPECT_EQ(args.kwargs[0], (std::pair<std::string, std::string>{"year", "2024"}));
  EXPECT_EQ(args.kwargs[1], (std::pair<std::string, std::string>{"slug", "hello/world"}));
}

TEST(PathMatchesTest, UnmatchedOptionalGroupIsEmpty) {
  PathMatches m("/opt(/x)?");
  PathArgs args;
  ASSERT_TRUE(m.match_path("/opt", args));
  ASSERT_EQ(args.args.size(), 1u);
  EXPECT_EQ(args.args[0], "");
}

TEST(PathMatchesTest, BadPatternIsAClearError) {
  try {
    PathMatches m("/broken(");
    FAIL() << "no error";
  } catch (const RoutingError& e) {
    EXPECT_NE(std::string(e.what()).find("/broken("), std::string::npos);
  }
}

TEST(PathMatchesTest, Reverse) {
  EXPECT_EQ(PathMatches(R"(/favicon\.ico)").reverse({}), "/favicon.ico");
  EXPECT_EQ(PathMatches(R"(^/favicon\.ico$)").reverse({}), "/favicon.ico");
}

TEST(PathMatchesTest, ReverseArgumentsAreUrlEscaped) {
  EXPECT_EQ(PathMatches(R"(^/api/v1/foo/(\w+)$)").reverse({"bar"}), "/api/v1/foo/bar");
  EXPECT_EQ(PathMatches(R"(/api\.v1/foo/([0-9]+)/icon\.png)").reverse({"5"}),
            "/api.v1/foo/5/icon.png");
  EXPECT_EQ(PathMatches("/a/(.*)/b").reverse({"x y/z?"}), "/a/x%20y/z%3F/b");
}

TEST(PathMatchesTest, NonReversiblePatternThrows) {
  EXPECT_THROW(PathMatches(R"(^/api/v\d+/foo/(\w+)$)").reverse({"x"}), RoutingError);
  EXPECT_THROW(PathMatches("/(?:a|b)/(x)").reverse({"x"}), RoutingError);  // non-capturing
}

TEST(PathMatchesTest, ReverseWithWrongArgumentCountThrows) {
  PathMatches m("/(a)/(b)");
  EXPECT_THROW(m.reverse({"1"}), RoutingError);
  EXPECT_THROW(m.reverse({"1", "2", "3"}), RoutingError);
  EXPECT_EQ(m.reverse({"1", "2"}), "/1/2");
}

TEST(ReUnescapeTest, LiteralEscapesOnly) {
  EXPECT_EQ(routing::re_unescape(R"(/a\.b\/c\-)"), "/a.b/c-");
  EXPECT_EQ(routing::re_unescape(R"(\d)"), std::nullopt);
  EXPECT_EQ(routing::re_unescape(R"(\w+)"), std::nullopt);
}

TEST(HostMatchesTest, MatchesHostNameWithoutPort) {
  routing::HostMatches m("www\\.example\\.com");
  PathArgs args;
  EXPECT_TRUE(m.match(request_for("/", "www.example.com:8080"), args));
  EXPECT_TRUE(m.match(request_for("/", "WWW.Example.com"), args));  // host_name is lower case
  EXPECT_FALSE(m.match(request_for("/", "www.example.com.evil"), args));
}

TEST(DefaultHostMatchesTest, OnlyWithoutXRealIp) {
  std::string default_host = "www.example.com";
  routing::DefaultHostMatches m(default_host, "www\\.example\\.com");
  PathArgs args;
  EXPECT_TRUE(m.match(request_for("/", "other"), args));
  httputil::HTTPHeaders proxied{{"X-Real-Ip", "1.2.3.4"}};
  EXPECT_FALSE(m.match(request_for("/", "other", proxied), args));
  default_host = "elsewhere";  // read at match time
  EXPECT_FALSE(m.match(request_for("/", "other"), args));
}

struct Marker : routing::Target {
  explicit Marker(std::string n) : name(std::move(n)) {}
  std::string name;
};

std::string found(const routing::RuleRouter& router, std::string uri, std::string host = "h") {
  PathArgs args;
  auto req = request_for(std::move(uri), std::move(host));
  const routing::Rule* rule = router.find(req, args);
  if (rule == nullptr) return "none";
  std::string out = static_cast<const Marker&>(*rule->target).name;
  for (const auto& a : args.args) out += "," + a;
  return out;
}

TEST(RuleRouterTest, FirstMatchWinsAndNestedRoutersAreSearched) {
  auto nested = std::make_shared<routing::RuleRouter>();
  nested->add_rule({std::make_shared<PathMatches>("/api/items/([0-9]+)"),
                    std::make_shared<Marker>("item"), "item"});
  routing::RuleRouter root;
  root.add_rule({std::make_shared<PathMatches>("/api/.*"), nested});
  root.add_rule({std::make_shared<PathMatches>("/api/other"), std::make_shared<Marker>("other")});
  root.add_rule({std::make_shared<PathMatches>("/(.*)"), std::make_shared<Marker>("any")});
  EXPECT_EQ(found(root, "/api/items/7"), "item,7");  // the inner match's arguments
  EXPECT_EQ(found(root, "/api/other"), "other");     // nested found nothing: next rule
  EXPECT_EQ(found(root, "/x"), "any,x");
  EXPECT_EQ(root.reverse_url("item", {"9"}), "/api/items/9");
  EXPECT_EQ(root.reverse_url("nope"), std::nullopt);
}

// The leading literal rules are looked up by path: the first rule in order still wins,
// a literal rule whose nested router finds nothing lets the scan go on after it, and a
// regex rule ahead of literal ones keeps them out of the lookup.
TEST(RuleRouterTest, LiteralRulesKeepFirstMatchOrder) {
  auto empty_nested = std::make_shared<routing::RuleRouter>();
  empty_nested->add_rule(
      {std::make_shared<PathMatches>("/never"), std::make_shared<Marker>("inner")});
  routing::RuleRouter root;
  root.add_rule({std::make_shared<PathMatches>("/a"), std::make_shared<Marker>("a1")});
  root.add_rule({std::make_shared<PathMatches>("/b"), empty_nested});
  root.add_rule({std::make_shared<PathMatches>("/a"), std::make_shared<Marker>("a2")});
  root.add_rule({std::make_shared<PathMatches>("/b"), std::make_shared<Marker>("b2")});
  root.add_rule({std::make_shared<PathMatches>("/c.*"), std::make_shared<Marker>("c-regex")});
  root.add_rule({std::make_shared<PathMatches>("/cat"), std::make_shared<Marker>("cat")});
  EXPECT_EQ(found(root, "/a"), "a1");         // the first of two rules for one path
  EXPECT_EQ(found(root, "/b"), "b2");         // nested found nothing: the next rule for it
  EXPECT_EQ(found(root, "/cat"), "c-regex");  // a regex earlier in order wins
  EXPECT_EQ(found(root, "/c"), "c-regex");
  EXPECT_EQ(found(root, "/d"), "none");
  EXPECT_EQ(found(root, "/a/"), "none");      // exact paths only
  // A regex put in front: every rule behind it is tried in order again.
  root.insert_rule(0, {std::make_shared<PathMatches>("/(a)"), std::make_shared<Marker>("front")});
  EXPECT_EQ(found(root, "/a"), "front,a");
  EXPECT_EQ(found(root, "/b"), "b2");
  // A literal put in front of it is looked up again.
  root.insert_rule(0, {std::make_shared<PathMatches>("/b"), std::make_shared<Marker>("b0")});
  EXPECT_EQ(found(root, "/b"), "b0");
  EXPECT_EQ(found(root, "/a"), "front,a");
}

// Many literal routes (an API with a route per resource): each path finds its own rule,
// and the lookup survives the rule vector growing under it.
TEST(RuleRouterTest, AThousandLiteralRoutesEachFindTheirOwn) {
  routing::RuleRouter root;
  for (int i = 0; i < 1000; ++i) {
    root.add_rule({std::make_shared<PathMatches>("/r/" + std::to_string(i)),
                   std::make_shared<Marker>("r" + std::to_string(i))});
  }
  root.add_rule({std::make_shared<PathMatches>("/r/([0-9]+)/x"), std::make_shared<Marker>("x")});
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(found(root, "/r/" + std::to_string(i)), "r" + std::to_string(i)) << i;
  }
  EXPECT_EQ(found(root, "/r/1000"), "none");
  EXPECT_EQ(found(root, "/r/5/x"), "x,5");
  const routing::RuleRouter copy = root;  // a copy routes alike (its keys are the matchers')
  EXPECT_EQ(found(copy, "/r/999"), "r999");
}

// A few literal routes are compared path by path (sizes first, then words): paths of the
// same size that differ only in their middle, their ends or one byte each find their own.
TEST(RuleRouterTest, AFewLiteralRoutesOfOneSizeEachFindTheirOwn) {
  const std::vector<std::string> paths = {"/api/v1/users/all/x", "/api/v1/uzers/all/x",
                                          "/api/v1/users/all/y", "/xpi/v1/users/all/x",
                                          "/abcdefg",           "/abcdefh",
                                          "/xbcdefg",           "/ab",
                                          "/ac",                "/abcde",
                                          "/abdde"};
  routing::RuleRouter root;
  for (const auto& p : paths) {
    root.add_rule({std::make_shared<PathMatches>(p), std::make_shared<Marker>(p)});
  }
  for (const auto& p : paths) EXPECT_EQ(found(root, p), p);
  EXPECT_EQ(found(root, "/api/v1/users/all/z"), "none");
  EXPECT_EQ(found(root, "/abcdeff"), "none");
  EXPECT_EQ(found(root, "/ad"), "none");
}

// What Tornado's RuleRouter does: every rule in order, nested routers searched in turn.
const routing::Rule* find_by_trying_each(const routing::RuleRouter& router,
                                         const httputil::HTTPServerRequest& request,
                                         PathArgs& args) {
  for (const routing::Rule& rule : router.rules()) {
    args.clear();
    if (!rule.matcher->match(request, args)) continue;
    if (rule.target) return &rule;
    args.clear();
    if (const routing::Rule* inner = find_by_trying_each(*rule.router, request, args)) {
      return inner;
    }
  }
  args.clear();
  return nullptr;
}

// Random routers (literal and regex rules, repeated paths, nested routers, rules inserted
// in front) against random paths: the lookup finds the same rule, with the same arguments,
// as trying every rule in order.
TEST(RuleRouterTest, LookupAgreesWithTryingEveryRuleInOrder) {
  std::mt19937 rng(20261201);
  const std::vector<std::string> paths = {"/", "/a", "/b", "/ab", "/a/b", "/c", "/cat", "/a/1",
                                          "/b/22", "/zz", "/a.b", "/A"};
  const std::vector<std::string> regexes = {"/(.*)", "/a/([0-9]+)", "/c.*", "/[ab]", "/a.b",
                                            "/(?P<x>[a-z]+)"};
  auto pick = [&rng](const std::vector<std::string>& v) {
    return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng)];
  };
  int marker = 0;
  auto make_router = [&](auto& self, int depth) -> std::shared_ptr<routing::RuleRouter> {
    auto router = std::make_shared<routing::RuleRouter>();
    const int rules = std::uniform_int_distribution<int>(0, 8)(rng);
    for (int i = 0; i < rules; ++i) {
      const bool literal = std::uniform_int_distribution<int>(0, 3)(rng) != 0;
      auto matcher = std::make_shared<PathMatches>(literal ? pick(paths) : pick(regexes));
      routing::Rule rule =
          depth < 2 && std::uniform_int_distribution<int>(0, 5)(rng) == 0
              ? routing::Rule(matcher, self(self, depth + 1))
              : routing::Rule(matcher, std::make_shared<Marker>(std::to_string(marker++)));
      if (std::uniform_int_distribution<int>(0, 4)(rng) == 0) {
        router->insert_rule(std::uniform_int_distribution<std::size_t>(0, i)(rng),
                            std::move(rule));
      } else {
        router->add_rule(std::move(rule));
      }
    }
    return router;
  };
  for (int round = 0; round < 2000; ++round) {
    auto router = make_router(make_router, 0);
    for (const auto& path : paths) {
      auto req = request_for(path);
      PathArgs got_args, want_args;
      const routing::Rule* got = router->find(req, got_args);
      const routing::Rule* want = find_by_trying_each(*router, req, want_args);
      ASSERT_EQ(got, want) << "round " << round << " path " << path;
      ASSERT_EQ(got_args.args, want_args.args) << "round " << round << " path " << path;
      ASSERT_EQ(got_args.kwargs, want_args.kwargs) << "round " << round << " path " << path;
    }
  }
}

TEST(RuleRouterTest, HostRuleLeadsToItsRouter) {
  auto example = std::make_shared<routing::RuleRouter>();
  example->add_rule({std::make_shared<PathMatches>("/"), std::make_shared<Marker>("example")});
  routing::RuleRouter root;
  root.add_rule({std::make_shared<routing::HostMatches>("www\\.example\\.com"), example});
  root.add_rule({std::make_shared<PathMatches>("/"), std::make_shared<Marker>("default")});
  EXPECT_EQ(found(root, "/", "www.example.com"), "example");
  EXPECT_EQ(found(root, "/", "other.com"), "default");
}

// ---- through an Application ----

struct NameHandler : web::RequestHandler {
  void initialize(std::string name) { name_ = std::move(name); }
  Task<> get() override {
    write(name_ + ": " + request().path);
    for (std::size_t i = 0; i < path_arg_count(); ++i) write("," + path_arg(i));
    for (const auto& [k, v] : path_args().kwargs) write("," + k + "=" + v);
    co_return;
  }
  std::string name_;
};

class ApplicationRoutingTest : public tornado::testing::AsyncHTTPTest {
 protected:
  tornado::testing::HTTPApp get_app() override {
    auto nested = std::make_shared<routing::RuleRouter>();
    nested->add_rule({std::make_shared<PathMatches>("/nested_handler"),
                      web::handler<NameHandler>(std::string("nested_handler"))});
    auto app = std::make_shared<web::Application>(
        std::vector<web::URLSpec>{
            {"/first_handler", web::handler<NameHandler>(std::string("first_handler")),
             "first_handler"},
            {"/.*handler", nested},
            {"/str/(?P<path>.*)", web::handler<NameHandler>(std::string("named"))},
            {"/pos/(.*)/(.*)", web::handler<NameHandler>(std::string("pos"))},
        },
        web::Settings{}, "www.default.com");
    app->add_handlers("www\\.example\\.com",
                      {{"/first_handler", web::handler<NameHandler>(std::string("second_handler")),
                        "second_handler"}});
    return app;
  }
  std::string get_with_host(const std::string& path, const std::string& host,
                            httputil::HTTPHeaders extra = {}) {
    httpclient::HTTPRequest req;
    req.headers = std::move(extra);
    req.headers.set("Host", host);
    return fetch(path, req).body;
  }
};

TEST_F(ApplicationRoutingTest, RuleBasedRouter) {
  EXPECT_EQ(fetch("/first_handler").body, "first_handler: /first_handler");
  EXPECT_EQ(get_with_host("/first_handler", "www.example.com"), "second_handler: /first_handler");
  EXPECT_EQ(fetch("/nested_handler").body, "nested_handler: /nested_handler");
  EXPECT_EQ(fetch("/nested_not_found_handler").code, 404);
  EXPECT_EQ(fetch("/404").code, 404);
}

TEST_F(ApplicationRoutingTest, DefaultHostServesItsHostRulesToUnknownHosts) {
  // Host rules for www.example.com, default_host is www.default.com: neither matches.
  EXPECT_EQ(get_with_host("/first_handler", "unknown.com"), "first_handler: /first_handler");
}

TEST_F(ApplicationRoutingTest, PathArgumentsArriveUnescaped) {
  EXPECT_EQ(fetch("/str/a%2Fb%20c").body, "named: /str/a%2Fb%20c,path=a/b c");
  EXPECT_EQ(fetch("/pos/x%2By/%C3%A9").body, "pos: /pos/x%2By/%C3%A9,x+y,\xc3\xa9");
}

TEST_F(ApplicationRoutingTest, PathArgumentThatIsNotUtf8Is400) {
  tornado::testing::ExpectLog log(gen_log(), "Invalid unicode", false);
  EXPECT_EQ(fetch("/pos/%FF/x").code, 400);
}

// Rules added through Application::router() take part in routing, before the catch-all
// (insert_rule) or after it (add_rule): the table without them is searched a shorter way.
class ApplicationRouterEditTest : public tornado::testing::AsyncHTTPTest {
 protected:
  tornado::testing::HTTPApp get_app() override {
    auto app = std::make_shared<web::Application>(std::vector<web::URLSpec>{
        {"/own", web::handler<NameHandler>(std::string("own"))},
        {"/shadowed", web::handler<NameHandler>(std::string("own shadowed"))},
    });
    app->router().insert_rule(0, {std::make_shared<PathMatches>("/shadowed"),
                                  web::handler<NameHandler>(std::string("inserted"))});
    app->router().add_rule({std::make_shared<PathMatches>("/appended"),
                            web::handler<NameHandler>(std::string("appended"))});
    return app;
  }
};

TEST_F(ApplicationRouterEditTest, RulesAddedThroughRouterArePartOfTheTable) {
  EXPECT_EQ(fetch("/own").body, "own: /own");
  EXPECT_EQ(fetch("/shadowed").body, "inserted: /shadowed");
  EXPECT_EQ(fetch("/appended").body, "appended: /appended");
  EXPECT_EQ(fetch("/none").code, 404);
}

TEST(ApplicationReverseUrlTest, NamedRulesAndMissingNames) {
  web::Application app({{"/entry/([^/]+)", web::handler<NameHandler>(std::string("e")), "entry"}});
  app.add_handlers("www\\.example\\.com",
                   {{"/x/([0-9]+)", web::handler<NameHandler>(std::string("x")), "x"}});
  EXPECT_EQ(app.reverse_url("entry", {"a b"}), "/entry/a%20b");
  EXPECT_EQ(app.reverse_url("x", {"5"}), "/x/5");
  EXPECT_THROW(app.reverse_url("none"), std::out_of_range);
}

}  // namespace

}  // namespace routing_test
