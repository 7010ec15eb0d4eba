// UI modules and UI methods (Tornado's web_test: test_uimodule_unescaped,
// test_uimodule_resources, UIMethodUIModuleTest, GetCurrentUserTest's module cases): modules
// called from {% module %}, their output unescaped, one module object per handler, page parts
// inserted once before </head> and </body>, the built-in Template module with set_resources,
// relative resource files through static_url, static_url as a template function, and the
// errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "tornado/testing.h"
#include "tornado/web.h"

namespace web_ui_module_test {

using namespace tornado;
using nlohmann::json;

namespace {

struct RenderHandler : web::RequestHandler {
  nlohmann::json get_current_user() override { return get_argument("user", ""); }
  Task<> get() override {
    render(get_argument("page"), {{"entries", {1, 2}}, {"message", "http://example.com"}});
    co_return;
  }
};

struct RenderStringHandler : web::RequestHandler {
  Task<> get() override {
    // render_string leaves the page parts out: only render() inserts them.
    finish(render_string(get_argument("page")));
    co_return;
  }
};

// Counts its instances and calls, to show one object per handler.
struct CountingModule : web::UIModule {
  explicit CountingModule(web::RequestHandler& h) : UIModule(h) { ++instances; }
  std::string render(const std::vector<json>& args, const json& kwargs) override {
    ++calls;
    return "<b>" + args.at(0).dump() + kwargs.value("suffix", std::string()) + "</b>";
  }
  std::string embedded_javascript() override { return "count()"; }
  std::string embedded_css() override { return ".c{}"; }
  std::vector<std::string> javascript_files() override { return {"/a.js", "/a.js", "b.js"}; }
  std::vector<std::string> css_files() override { return {"https://cdn/x.css"}; }
  inline static int instances = 0;
  inline static int calls = 0;
};

// Tornado's UIMethodUIModuleTest: both reach the handler.
struct ValueModule : web::UIModule {
  using UIModule::UIModule;
  std::string render(const std::vector<json>& args, const json&) override {
    return "In MyModule(" + args.at(0).dump() + ") with handler value " +
           handler().get_argument("value") + ".";
  }
};

struct UserModule : web::UIModule {
  using UIModule::UIModule;
  std::string render(const std::vector<json>&, const json&) override {
    return "user=" + current_user().get<std::string>() + " path=" + request().path +
           " sub=" + render_string("sub.html", {{"x", "<i>"}});
  }
};

class WebUIModuleTest : public tornado::testing::AsyncHTTPTest {
 protected:
  void SetUp() override {
    CountingModule::instances = CountingModule::calls = 0;
    static_dir_ =
        std::filesystem::temp_directory_path() / ("ui-module-static-" + std::to_string(::getpid()));
    std::filesystem::create_directories(static_dir_);
    std::ofstream(static_dir_ / "b.js") << "b();";
    AsyncHTTPTest::SetUp();
  }
  void TearDown() override {
    AsyncHTTPTest::TearDown();
    std::filesystem::remove_all(static_dir_);
  }

  tornado::testing::HTTPApp get_app() override {
    web::Settings s;
    s.cookie_secret = "secret";
    s.static_path = static_dir_.string();
    s.template_loader =
        std::make_shared<templates::DictLoader>(std::map<std::string, std::string, std::less<>>{
            {"linkify.html", "{% module linkify(message) %}"},
            {"page.html",
             "<html><head></head><body>\n"
             "{% for e in entries %}\n"
             "{% module Template(\"entry.html\", entry=e) %}\n"
             "{% end %}\n"
             "</body></html>"},
            {"entry.html",
             "{{ set_resources(embedded_css=\".entry { margin-bottom: 1em; }\",\n"
             "                 embedded_javascript=\"js_embed()\",\n"
             "                 css_files=[\"/base.css\", \"/foo.css\"],\n"
             "                 javascript_files=\"/common.js\",\n"
             "                 html_head=\"<meta>\",\n"
             "                 html_body='<script src=\"/analytics.js\"/>') }}\n"
             "<div class=\"entry\">...</div>"},
            {"counting.html",
             "<html><head><title>t</title></head><body>{% module Counting(1) %}"
             "{% module Counting(2, suffix='<s>') %}{{ Counting(3) }}</body></html>"},
            {"method.html", "{{ my_ui_method(42) }} {% module MyModule(123) %}"},
            {"user.html", "{% module UserModule() %}"},
            {"sub.html", "[{{ x }}]"},
            {"static.html",
             "{{ static_url('b.js') }}|{{ static_url('b.js', include_version=False) }}|"
             "{{ static_url('b.js', include_host=True, include_version=False) }}"},
            {"headless.html", "<body>{% module Counting(1) %}</body>"},
            {"conflict.html",
             "<html><head></head><body>{% module Template('res.html', css='a') %}"
             "{% module Template('res.html', css='b') %}</body></html>"},
            {"res.html", "{{ set_resources(embedded_css=css) }}"},
            {"template_scope.html",
             "{% set secret = 'outer' %}{% module Template('scope.html', a=1) %}"},
            {"scope.html",
             "a={{ a }} current_user={{ current_user }} "
             "{% try %}{{ secret }}{% except NameError %}no secret{% end %}"},
        });
    s.ui_modules["Counting"] = web::ui_module<CountingModule>();
    s.ui_modules["MyModule"] = web::ui_module<ValueModule>();
    s.ui_modules["UserModule"] = web::ui_module<UserModule>();
    s.ui_methods["my_ui_method"] = [](web::RequestHandler& h, const std::vector<json>& args,
                                      const json&) {
      return json("In my_ui_method(" + args.at(0).dump() + ") with handler value " +
                  h.get_argument("value") + ".");
    };
    return std::make_shared<web::Application>(
        std::vector<web::URLSpec>{{"/render", web::handler<RenderHandler>()},
                                  {"/render_string", web::handler<RenderStringHandler>()}},
        s);
  }
  std::filesystem::path static_dir_;
};

TEST_F(WebUIModuleTest, LinkifyModuleOutputIsNotEscaped) {
  auto r = fetch("/render?page=linkify.html");
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, "<a href=\"http://example.com\">http://example.com</a>");
}

TEST_F(WebUIModuleTest, TemplateModuleResourcesInsertedOnceAsTornadoDoes) {
  auto r = fetch("/render?page=page.html");
  ASSERT_EQ(r.code, 200);
  // Tornado's test_uimodule_resources, byte for byte.
  EXPECT_EQ(r.body,
            "<html><head><link href=\"/base.css\" type=\"text/css\" rel=\"stylesheet\"/>"
            "<link href=\"/foo.css\" type=\"text/css\" rel=\"stylesheet\"/>\n"
            "<style type=\"text/css\">\n"
            ".entry { margin-bottom: 1em; }\n"
            "</style>\n"
            "<meta>\n"
            "</head><body>\n"
            "\n"
            "\n"
            "<div class=\"entry\">...</div>\n"
            "\n"
            "\n"
            "<div class=\"entry\">...</div>\n"
            "\n"
            "<script src=\"/common.js\" type=\"text/javascript\"></script>\n"
            "<script type=\"text/javascript\">\n"
            "//<![CDATA[\n"
            "js_embed()\n"
            "//]]>\n"
            "</script>\n"
            "<script src=\"/analytics.js\"/>\n"
            "</body></html>");
}

TEST_F(WebUIModuleTest, OneModuleObjectPerHandlerAndPartsOnce) {
  auto r = fetch("/render?page=counting.html");
  ASSERT_EQ(r.code, 200);
  EXPECT_EQ(CountingModule::instances, 1);
  EXPECT_EQ(CountingModule::calls, 3);
  // {% module %} is raw; the same call through {{ }} is escaped, as in Tornado.
  EXPECT_NE(r.body.find("<b>1</b><b>2<s></b>&lt;b&gt;3&lt;/b&gt;"), std::string::npos) << r.body;
  // Files deduplicated in order; a relative one goes through static_url (versioned).
  EXPECT_NE(r.body.find("<script src=\"/a.js\" type=\"text/javascript\"></script>"
                        "<script src=\"/static/b.js?v="),
            std::string::npos)
      << r.body;
  EXPECT_EQ(r.body.find("/a.js", r.body.find("/a.js") + 1), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("<link href=\"https://cdn/x.css\""), std::string::npos);
  EXPECT_NE(r.body.find("//<![CDATA[\ncount()\n//]]>"), std::string::npos);
  EXPECT_EQ(r.body.find("count()"), r.body.rfind("count()"));
  EXPECT_NE(r.body.find("<style type=\"text/css\">\n.c{}\n</style>\n</head>"), std::string::npos);

  // A second request gets a fresh module object.
  fetch("/render?page=counting.html");
  EXPECT_EQ(CountingModule::instances, 2);
}

TEST_F(WebUIModuleTest, RenderStringDoesNotInsertParts) {
  auto r = fetch("/render_string?page=counting.html");
  ASSERT_EQ(r.code, 200);
  EXPECT_EQ(r.body.find("count()"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("<style"), std::string::npos) << r.body;
}

TEST_F(WebUIModuleTest, UIMethodAndModuleSeeTheHandler) {
  auto r = fetch("/render?page=method.html&value=asdf");
  ASSERT_EQ(r.code, 200);
  EXPECT_EQ(r.body,
            "In my_ui_method(42) with handler value asdf. "
            "In MyModule(123) with handler value asdf.");
}

TEST_F(WebUIModuleTest, ModuleReachesCurrentUserRequestAndRenderString) {
  auto r = fetch("/render?page=user.html&user=ann");
  ASSERT_EQ(r.code, 200);
  EXPECT_EQ(r.body, "user=ann path=/render sub=[&lt;i&gt;]");
}

TEST_F(WebUIModuleTest, TemplateModuleHasItsOwnNamespace) {
  auto r = fetch("/render?page=template_scope.html&user=bob");
  ASSERT_EQ(r.code, 200);
  EXPECT_EQ(r.body, "a=1 current_user=bob no secret");
}

TEST_F(WebUIModuleTest, StaticUrlIsATemplateFunction) {
  auto r = fetch("/render?page=static.html");
  ASSERT_EQ(r.code, 200);
  EXPECT_TRUE(
      std::regex_match(r.body, std::regex("/static/b\\.js\\?v=[0-9a-f]{128}\\|/static/b\\.js\\|"
                                          "http://127\\.0\\.0\\.1:[0-9]+/static/b\\.js")))
      << r.body;
}

TEST_F(WebUIModuleTest, PartsWithoutHeadTagAre500) {
  tornado::testing::ExpectLog expect(app_log(), "Uncaught exception");
  auto r = fetch("/render?page=headless.html");
  EXPECT_EQ(r.code, 500);
}

TEST_F(WebUIModuleTest, SetResourcesDifferentForSameTemplateIs500) {
  tornado::testing::ExpectLog expect(app_log(), "Uncaught exception");
  auto r = fetch("/render?page=conflict.html");
  EXPECT_EQ(r.code, 500);
}

}  // namespace

}  // namespace web_ui_module_test
