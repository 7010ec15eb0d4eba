// web::Application and RequestHandler basics: routing to handlers, the method set and 405,
// the default error pages, the access log, and the example of DESIGN.md.
#include <gtest/gtest.h>

#include "tornado/testing.h"
#include "tornado/web.h"

namespace web_basic_test {

using namespace tornado;
using tornado::testing::ExpectLog;

namespace {

struct MainHandler : web::RequestHandler {
  Task<> get() override {
    write("Hello, world");
    co_return;
  }
};

struct EntryHandler : web::RequestHandler {
  Task<> get() override {
    auto slug = path_arg(0);
    if (slug == "missing") throw web::HTTPError(404);
    write("entry " + slug);
    co_return;
  }
};

struct EchoHandler : web::RequestHandler {
  Task<> post() override {
    write(get_argument("text"));
    co_return;
  }
};

// get_argument's defaults, strip, repeated values and control characters.
struct ArgsHandler : web::RequestHandler {
  Task<> get() override {
    write(get_argument("missing", "fallback"));  // a literal default, not the strip flag
    write("|" + get_argument("s"));
    write("|" + get_argument("s", false));
    write("|" + std::to_string(get_arguments("multi").size()) + ":" + get_argument("multi"));
    write("|" + get_argument("ctl", ""));
    write("|" + get_query_argument("s", "x"));
    write("|" + get_body_argument("s", "nobody"));
    write("|" + get_optional_argument("missing").value_or("none"));
    co_return;
  }
};

struct InitHandler : web::RequestHandler {
  void initialize(std::string greeting, int times) {
    greeting_ = std::move(greeting);
    times_ = times;
  }
  Task<> get() override {
    for (int i = 0; i < times_; ++i) write(greeting_);
    co_return;
  }
  std::string greeting_;
  int times_ = 0;
};

struct ThrowingHandler : web::RequestHandler {
  Task<> get() override {
    co_await sleep(1ms);
    throw std::runtime_error("boom");
  }
};

// prepare() overridden in a base class only: the route's class inherits it, and the request
// must still run it (a class that overrides nothing skips prepare at compile time).
struct PreparingBase : web::RequestHandler {
  Task<> prepare() override {
    set_header("X-Prepared", "base");
    co_await sleep(1ms);
    if (get_argument("stop", "") == "1") throw web::Finish("stopped in prepare");
  }
};
struct InheritsPrepare : PreparingBase {
  Task<> get() override {
    write("method ran");
    co_return;
  }
};

// Records its life: initialize, prepare, the method, on_finish and its destruction, with
// prepare() and get() each completing at once or after a suspension (?wait=prepare,get),
// and finishing inside the method or leaving finish() to the framework (?finish=1).
std::vector<std::string>& life_log() {
  static std::vector<std::string> log;
  return log;
}
struct LifeHandler : web::RequestHandler {
  void initialize() { life_log().push_back("initialize"); }
  Task<> prepare() override {
    life_log().push_back("prepare");
    if (get_argument("wait", "").find("prepare") != std::string::npos) co_await sleep(1ms);
  }
  Task<> get() override {
    life_log().push_back("get");
    if (get_argument("wait", "").find("get") != std::string::npos) co_await sleep(1ms);
    write("ok");
    if (get_argument("finish", "") == "1") finish();
  }
  void on_finish() override { life_log().push_back("on_finish"); }
  ~LifeHandler() override { life_log().push_back("destroyed"); }
};

// current_user() computed once; set_current_user() before it, after it, or from inside
// get_current_user() (the returned value then wins, as an assignment of it would).
struct UserHandler : web::RequestHandler {
  nlohmann::json get_current_user() override {
    ++computed_;
    if (get_argument("case", "") == "nested") set_current_user("from-inside");
    return "computed";
  }
  Task<> get() override {
    const std::string which = get_argument("case", "");
    if (which == "before") set_current_user("set-before");
    std::string out = current_user().dump();
    out += " " + current_user().dump();
    if (which == "after") {
      set_current_user(nlohmann::json{{"name", "set-after"}});
      out += " " + current_user().dump();
    }
    write(out + " " + std::to_string(computed_));
    co_return;
  }
  int computed_ = 0;
};

// Two handler classes of one size (so of one frame-cache size class): the first leaves its
// members non-zero in memory the second is then made in; the second's members have no
// initialiser, and a handler class with members is value-initialised (zeroed) first.
struct ScribbleHandler : web::RequestHandler {
  int64_t a = -1;
  int32_t b = -1;
  bool c = true;
  Task<> get() override {
    write(std::to_string(a) + " " + std::to_string(b) + " " + std::to_string(c));
    co_return;
  }
};
struct UninitializedMembersHandler : web::RequestHandler {
  int64_t a;
  int32_t b;
  bool c;
  Task<> get() override {
    write(std::to_string(a) + " " + std::to_string(b) + " " + std::to_string(c));
    co_return;
  }
};
// Tornado's SUPPORTED_METHODS narrowed: PUT is implemented but not supported.
struct GetOnlyHandler : web::RequestHandler {
  std::span<const std::string_view> supported_methods() const override {
    static constexpr std::string_view kOnly[] = {"GET"};
    return kOnly;
  }
  Task<> get() override {
    write("got");
    co_return;
  }
  Task<> put() override {
    write("put");
    co_return;
  }
};

static_assert(sizeof(ScribbleHandler) == sizeof(UninitializedMembersHandler));
static_assert(sizeof(UninitializedMembersHandler) > sizeof(web::RequestHandler));
// A class that adds no member is the base's size (make_handler's fast path applies to it).
static_assert(sizeof(MainHandler) == sizeof(web::RequestHandler));
static_assert(web::detail::kHandlerHasNoTailPadding);

class WebBasicTest : public tornado::testing::AsyncHTTPTest {
 protected:
  tornado::testing::HTTPApp get_app() override {
    return std::make_shared<web::Application>(std::vector<web::URLSpec>{
        {"/", web::handler<MainHandler>()},
        {"/entry/([^/]+)", web::handler<EntryHandler>(), "entry"},
        {"/echo", web::handler<EchoHandler>()},
        {"/init", web::handler<InitHandler>("hi", 3)},
        {"/throw", web::handler<ThrowingHandler>()},
        {"/args", web::handler<ArgsHandler>()},
        {"/inherited-prepare", web::handler<InheritsPrepare>()},
        {"/scribble", web::handler<ScribbleHandler>()},
        {"/uninitialized", web::handler<UninitializedMembersHandler>()},
        {"/get-only", web::handler<GetOnlyHandler>()},
        {"/life", web::handler<LifeHandler>()},
        {"/user", web::handler<UserHandler>()},
    });
  }
};

TEST_F(WebBasicTest, HelloWorld) {
  auto r = fetch("/");
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, "Hello, world");
  EXPECT_EQ(r.headers.get("Content-Type", ""), "text/html; charset=UTF-8");
  EXPECT_EQ(r.headers.get("Content-Length", ""), "12");
  EXPECT_TRUE(r.headers.contains("Etag"));
}

TEST_F(WebBasicTest, HandlerLifeIsTheSameWhetherItsStepsCompleteAtOnceOrSuspend) {
  // A request whose steps complete at once runs without a coroutine of its own; one whose
  // step suspends goes on in one. Either way: one handler, the same order, destroyed once
  // the response is out, before the next request's handler is made.
  const std::vector<std::string> expected = {"initialize", "prepare", "get", "on_finish",
                                             "destroyed"};
  for (const char* wait : {"", "prepare", "get", "prepare,get"}) {
    for (const char* finish : {"0", "1"}) {
      life_log().clear();
      auto r = fetch(std::string("/life?wait=") + wait + "&finish=" + finish);
      EXPECT_EQ(r.code, 200);
      EXPECT_EQ(r.body, "ok");
      // The handler of a request that suspended is destroyed when its coroutine ends,
      // right after the response is written: let the loop turn once.
      for (int i = 0; i < 100 && life_log().size() < expected.size(); ++i) {
        run_sync([]() -> Task<> { co_await sleep(1ms); });
      }
      EXPECT_EQ(life_log(), expected) << "wait=" << wait << " finish=" << finish;
    }
  }
}

TEST_F(WebBasicTest, CurrentUserIsComputedOnceAndSetCurrentUserReplacesIt) {
  EXPECT_EQ(fetch("/user").body, "\"computed\" \"computed\" 1");
  EXPECT_EQ(fetch("/user?case=before").body, "\"set-before\" \"set-before\" 0");
  EXPECT_EQ(fetch("/user?case=after").body,
            "\"computed\" \"computed\" {\"name\":\"set-after\"} 1");
  EXPECT_EQ(fetch("/user?case=nested").body, "\"computed\" \"computed\" 1");
}

TEST_F(WebBasicTest, HandlerMembersWithoutInitializerStartZeroedInReusedMemory) {
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(fetch("/scribble").body, "-1 -1 1");
    EXPECT_EQ(fetch("/uninitialized").body, "0 0 0");
  }
}

TEST_F(WebBasicTest, PathArgumentsReachTheHandler) {
  auto r = fetch("/entry/first%20post");
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, "entry first post");
}

TEST_F(WebBasicTest, HTTPErrorGivesItsStatusAndPage) {
  auto r = fetch("/entry/missing");
  EXPECT_EQ(r.code, 404);
  EXPECT_EQ(r.body, "<html><title>404: Not Found</title><body>404: Not Found</body></html>");
}

TEST_F(WebBasicTest, UnknownPathIs404) {
  ExpectLog log(access_log(), "404 GET /nowhere");
  auto r = fetch("/nowhere");
  EXPECT_EQ(r.code, 404);
}

TEST_F(WebBasicTest, UnimplementedMethodIs405WithAllow) {
  ExpectLog log(access_log(), "405 POST /");
  httpclient::HTTPRequest req;
  req.method = "POST";
  req.body = "x";
  auto r = fetch("/", req);
  EXPECT_EQ(r.code, 405);
  EXPECT_EQ(r.headers.get("Allow", ""), "GET");
}

TEST_F(WebBasicTest, MethodOutsideTheDefaultSetIs405) {
  for (const char* method : {"PROPFIND", "GETS", "get", "TRACE", "CONNECTX"}) {
    ExpectLog log(access_log(), std::string("405 ") + method + " /");
    httpclient::HTTPRequest req;
    req.method = method;
    req.allow_nonstandard_methods = true;
    EXPECT_EQ(fetch("/", req).code, 405) << method;
  }
}

TEST_F(WebBasicTest, NarrowedSupportedMethodsRefuseTheOthersEvenWhenImplemented) {
  EXPECT_EQ(fetch("/get-only").body, "got");
  httpclient::HTTPRequest put;
  put.method = "PUT";
  put.body = "x";
  ExpectLog log(access_log(), "405 PUT /get-only");
  EXPECT_EQ(fetch("/get-only", put).code, 405);
}

TEST_F(WebBasicTest, InitializeGetsTheRuleArguments) { EXPECT_EQ(fetch("/init").body, "hihihi"); }

TEST_F(WebBasicTest, UncaughtExceptionIs500AndLogged) {
  ExpectLog app(app_log(), "Uncaught exception GET /throw");
  ExpectLog acc(access_log(), "500 GET /throw");
  auto r = fetch("/throw");
  EXPECT_EQ(r.code, 500);
  EXPECT_EQ(r.body.find("boom"), std::string::npos);  // no traceback without serve_traceback
}

TEST_F(WebBasicTest, BodyArgument) {
  httpclient::HTTPRequest req;
  req.method = "POST";
  req.body = "text=hello+there";
  auto r = fetch("/echo", req);
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, "hello there");
}

TEST_F(WebBasicTest, MissingArgumentIs400) {
  ExpectLog gen(gen_log(), "400 POST /echo .*Missing argument text");
  httpclient::HTTPRequest req;
  req.method = "POST";
  req.body = "other=1";
  auto r = fetch("/echo", req);
  EXPECT_EQ(r.code, 400);
}

TEST_F(WebBasicTest, ArgumentDefaultsStripAndLastValue) {
  auto r = fetch("/args?s=%20padded%20&multi=1&multi=2&ctl=a%01b");
  EXPECT_EQ(r.body, "fallback|padded| padded |2:2|a b|padded|nobody|none");
}

TEST_F(WebBasicTest, ArgumentThatIsNotUtf8Is400) {
  ExpectLog gen(gen_log(), "400 GET /args.*Invalid unicode in s");
  EXPECT_EQ(fetch("/args?s=%FF").code, 400);
}

}  // namespace

TEST(WebBasicTestStatic, HandlerFactoryKnowsWhichClassesOverridePrepare) {
  EXPECT_TRUE(web::handler<InheritsPrepare>()->overrides_prepare());
  EXPECT_FALSE(web::handler<MainHandler>()->overrides_prepare());
}

TEST_F(WebBasicTest, PrepareInheritedFromABaseClassRunsBeforeTheMethod) {
  auto ran = fetch("/inherited-prepare");
  EXPECT_EQ(ran.code, 200);
  EXPECT_EQ(ran.headers.get("X-Prepared", ""), "base");
  EXPECT_EQ(ran.body, "method ran");
  auto stopped = fetch("/inherited-prepare?stop=1");
  EXPECT_EQ(stopped.code, 200);
  EXPECT_EQ(stopped.body, "stopped in prepare");  // the method did not run
}

}  // namespace web_basic_test
