// RequestHandler::render / render_string: templates from template_path (a Loader) or a
// settings.template_loader, autoescape, the default namespace (request, current_user) and
// functions (xsrf_form_html, reverse_url), extends/include through the loader.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tornado/testing.h"
#include "tornado/web.h"

namespace web_template_test {

using namespace tornado;
using tornado::testing::ExpectLog;

namespace {

struct PageHandler : web::RequestHandler {
  nlohmann::json get_current_user() override { return "ann"; }
  Task<> get() override {
    render("page.html", {{"title", get_argument("title", "<b>T</b>")}});
    co_return;
  }
};

struct FormHandler : web::RequestHandler {
  Task<> get() override {
    write(render_string("form.html"));
    co_return;
  }
};

struct BrokenHandler : web::RequestHandler {
  Task<> get() override {
    render("broken.html");
    co_return;
  }
};

class TemplateDir {
 public:
  TemplateDir() {
    dir_ = std::filesystem::temp_directory_path() /
           ("webcore-templates-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    put("base.html", "<title>{% block title %}base{% end %}</title>{% block body %}{% end %}");
    put("page.html",
        "{% extends \"base.html\" %}{% block title %}{{ title }}{% end %}"
        "{% block body %}{{ request[\"path\"] }} {{ current_user }} "
        "{{ reverse_url(\"page\", \"a b\") }}{% include \"footer.html\" %}{% end %}");
    put("footer.html", "|footer");
    put("form.html", "<form>{% raw xsrf_form_html() %}</form>");
    put("broken.html", "{% if %}");
  }
  ~TemplateDir() { std::filesystem::remove_all(dir_); }
  std::string path() const { return dir_.string(); }

 private:
  void put(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }
  std::filesystem::path dir_;
};

class WebTemplateTest : public tornado::testing::AsyncHTTPTest {
 protected:
  tornado::testing::HTTPApp get_app() override {
    web::Settings s;
    s.cookie_secret = "secret";
    s.template_path = dir_.path();
    return std::make_shared<web::Application>(
        std::vector<web::URLSpec>{{"/page/(.*)", web::handler<PageHandler>(), "page"},
                                  {"/form", web::handler<FormHandler>()},
                                  {"/broken", web::handler<BrokenHandler>()}},
        s);
  }
  TemplateDir dir_;
};

TEST_F(WebTemplateTest, RenderWithExtendsIncludeNamespaceAndAutoescape) {
  auto r = fetch("/page/x");
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, "<title>&lt;b&gt;T&lt;/b&gt;</title>/page/x ann /page/a%20b|footer");
  EXPECT_EQ(r.headers.get("Content-Type", ""), "text/html; charset=UTF-8");
}

TEST_F(WebTemplateTest, XsrfFormHtmlInATemplate) {
  auto r = fetch("/form");
  EXPECT_TRUE(r.body.starts_with("<form><input type=\"hidden\" name=\"_xsrf\" value=\"2|"))
      << r.body;
  EXPECT_TRUE(r.headers.contains("Set-Cookie"));
}

TEST_F(WebTemplateTest, TemplateSyntaxErrorIs500AndLogged) {
  ExpectLog log(app_log(), "Uncaught exception GET /broken");
  EXPECT_EQ(fetch("/broken").code, 500);
}

class WebTemplateLoaderTest : public tornado::testing::AsyncHTTPTest {
 protected:
  tornado::testing::HTTPApp get_app() override {
    web::Settings s;
    s.template_loader = std::make_shared<templates::DictLoader>(
        std::initializer_list<std::pair<const std::string, std::string>>{
            {"form.html", "dict {{ request['method'] }}"}});
    return std::make_shared<web::Application>(
        std::vector<web::URLSpec>{{"/form", web::handler<FormHandler>()}}, s);
  }
};

TEST_F(WebTemplateLoaderTest, SettingsTemplateLoaderIsUsed) {
  EXPECT_EQ(fetch("/form").body, "dict GET");
}

// Counts its get_current_user() and get_user_locale() calls: the default namespace is built
// only for the names a page uses, once per render.
struct CountingHandler : web::RequestHandler {
  static inline int user_calls = 0;
  static inline int locale_calls = 0;
  nlohmann::json get_current_user() override {
    ++user_calls;
    return "ann";
  }
  tornado::locale::LocalePtr get_user_locale() override {
    ++locale_calls;
    return nullptr;
  }
  Task<> get() override {
    write(render_string(get_argument("t")));
    co_return;
  }
};

// Adds to the namespace and the functions the way Tornado's handlers do: call the base, add.
struct AddingHandler : web::RequestHandler {
  nlohmann::json get_template_namespace() override {
    auto ns = RequestHandler::get_template_namespace();
    ns["request"] = "mine";  // hides the default `request`
    ns["site"] = "S";
    return ns;
  }
  templates::Functions get_template_functions() override {
    auto f = RequestHandler::get_template_functions();
    f["_"] = [](const std::vector<nlohmann::json>& args, const nlohmann::json&) {
      return nlohmann::json("T:" + args.at(0).get<std::string>());
    };
    return f;
  }
  Task<> get() override {
    write(render_string(get_argument("t"), {{"site", "values win"}}));
    co_return;
  }
};

class WebTemplateDefaultsTest : public tornado::testing::AsyncHTTPTest {
 protected:
  tornado::testing::HTTPApp get_app() override {
    web::Settings s;
    s.template_loader = std::make_shared<templates::DictLoader>(
        std::initializer_list<std::pair<const std::string, std::string>>{
            {"plain.html", "{{ 1 + 1 }}"},
            {"user.html", "{{ current_user }} {{ current_user }}"},
            {"locale.html", "{{ locale['code'] }} {{ _('Sign out') }} {{ locale.list(['a']) }}"},
            {"request.html", "{{ request }} {{ site }} {{ _('x') }} {{ locale['code'] }}"}});
    return std::make_shared<web::Application>(
        std::vector<web::URLSpec>{{"/count", web::handler<CountingHandler>()},
                                  {"/add", web::handler<AddingHandler>()}},
        s);
  }
  void SetUp() override {
    AsyncHTTPTest::SetUp();
    CountingHandler::user_calls = CountingHandler::locale_calls = 0;
  }
};

TEST_F(WebTemplateDefaultsTest, APageThatUsesNoDefaultsBuildsNone) {
  EXPECT_EQ(fetch("/count?t=plain.html").body, "2");
  EXPECT_EQ(CountingHandler::user_calls, 0);
  EXPECT_EQ(CountingHandler::locale_calls, 0);
}

TEST_F(WebTemplateDefaultsTest, EachDefaultIsBuiltOncePerRenderWhenUsed) {
  EXPECT_EQ(fetch("/count?t=user.html").body, "ann ann");
  EXPECT_EQ(CountingHandler::user_calls, 1);
  EXPECT_EQ(CountingHandler::locale_calls, 0);
  EXPECT_EQ(fetch("/count?t=locale.html").body, "en_US Sign out a");
  EXPECT_EQ(CountingHandler::user_calls, 1);
  EXPECT_EQ(CountingHandler::locale_calls, 1);  // locale() resolves once per request
}

TEST_F(WebTemplateDefaultsTest, HandlerAdditionsHideDefaultsAndValuesHideBoth) {
  EXPECT_EQ(fetch("/add?t=request.html").body, "mine values win T:x en_US");
}

}  // namespace

}  // namespace web_template_test
