// The behaviours of Tornado's tornado/test/template_test.py, plus the expression language,
// limits and loaders of tornado-cpp's template module.
#include "tornado/template.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace tornado::templates {
namespace template_test {

using json = nlohmann::json;

std::string render(std::string_view source, const json& values = json::object(),
                   const Functions& fns = {}) {
  return Template(std::string(source)).generate(values, fns);
}

std::string render_in(DictLoader& loader, std::string_view name,
                      const json& values = json::object(), const Functions& fns = {}) {
  return loader.load(name)->generate(values, fns);
}

Function upper_fn() {
  return [](const std::vector<json>& args, const json&) -> json {
    std::string s = args.at(0).get<std::string>();
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
  };
}

// --- Tornado's TemplateTest ---

TEST(TemplateTest, Simple) {
  EXPECT_EQ(render("Hello {{ name }}!", {{"name", "Ben"}}), "Hello Ben!");
}

TEST(TemplateTest, Expressions) { EXPECT_EQ(render("2 + 2 = {{ 2 + 2 }}"), "2 + 2 = 4"); }

TEST(TemplateTest, Comment) {
  EXPECT_EQ(render("Hello{# TODO i18n #} {{ name }}!", {{"name", "Ben"}}), "Hello Ben!");
}

TEST(TemplateTest, Include) {
  DictLoader loader(
      {{"index.html", "{% include \"header.html\" %}\nbody text"}, {"header.html", "header text"}});
  EXPECT_EQ(render_in(loader, "index.html"), "header text\nbody text");
}

TEST(TemplateTest, Extends) {
  DictLoader loader({{"base.html",
                      "<title>{% block title %}default title{% end %}</title>\n"
                      "<body>{% block body %}default body{% end %}</body>\n"},
                     {"page.html",
                      "{% extends \"base.html\" %}\n{% block title %}page title{% end %}\n"
                      "{% block body %}page body{% end %}\n"}});
  EXPECT_EQ(render_in(loader, "page.html"), "<title>page title</title>\n<body>page body</body>\n");
}

TEST(TemplateTest, RelativeLoad) {
  DictLoader loader({{"a/1.html", "{% include '2.html' %}"},
                     {"a/2.html", "{% include '../b/3.html' %}"},
                     {"b/3.html", "ok"}});
  EXPECT_EQ(render_in(loader, "a/1.html"), "ok");
}

TEST(TemplateTest, Escaping) {
  EXPECT_THROW(Template("{{"), ParseError);
  EXPECT_THROW(Template("{%"), ParseError);
  EXPECT_EQ(render("{{!"), "{{");
  EXPECT_EQ(render("{%!"), "{%");
  EXPECT_EQ(render("{#!"), "{#");
  EXPECT_EQ(render("{{ 'expr' }} {{!jquery expr}}"), "expr {{jquery expr}}");
}

TEST(TemplateTest, UnicodeTemplateAndLiteral) {
  EXPECT_EQ(render("\xc3\xa9"), "\xc3\xa9");
  EXPECT_EQ(render("{{ \"\xc3\xa9\" }}"), "\xc3\xa9");
}

TEST(TemplateTest, CustomFunction) {
  Functions fns{{"inc", [](const std::vector<json>& a, const json&) -> json {
                   return a.at(0).get<int>() + 1;
                 }}};
  EXPECT_EQ(render("{{ inc(5) }}", {}, fns), "6");
}

TEST(TemplateTest, Apply) {
  EXPECT_EQ(render("{% apply upper %}foo{% end %}", {}, {{"upper", upper_fn()}}), "FOO");
}

TEST(TemplateTest, If) {
  Template t("{% if x > 4 %}yes{% else %}no{% end %}");
  EXPECT_EQ(t.generate({{"x", 5}}), "yes");
  EXPECT_EQ(t.generate({{"x", 3}}), "no");
}

TEST(TemplateTest, IfEmptyBody) { EXPECT_EQ(render("{% if True %}{% else %}{% end %}"), ""); }

TEST(TemplateTest, Try) {
  Template t(
      "{% try %}\ntry{% set y = 1/x %}\n{% except %}-except\n{% else %}-else\n{% finally "
      "%}-finally\n{% end %}");
  EXPECT_EQ(t.generate({{"x", 1}}), "\ntry\n-else\n-finally\n");
  EXPECT_EQ(t.generate({{"x", 0}}), "\ntry-except\n-finally\n");
}

TEST(TemplateTest, CommentDirective) { EXPECT_EQ(render("{% comment blah blah %}foo"), "foo"); }

TEST(TemplateTest, BreakContinue) {
  std::string out = render(
      "{% for i in range(10) %}\n    {% if i == 2 %}\n        {% continue %}\n    {% end %}\n    "
      "{{ i }}\n"
      "    {% if i == 6 %}\n        {% break %}\n    {% end %}\n{% end %}");
  std::erase_if(out, [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
  EXPECT_EQ(out, "013456");
}

TEST(TemplateTest, BreakOutsideLoopIsParseError) {
  EXPECT_THROW(Template("{% break %}"), ParseError);
}

TEST(TemplateTest, BreakInApplyIsParseError) {
  EXPECT_THROW(Template("{% for i in [] %}{% apply foo %}{% break %}{% end %}{% end %}"),
               ParseError);
}

TEST(TemplateTest, NonAsciiName) {
  DictLoader loader({{"t\xc3\xa9st.html", "hello"}});
  EXPECT_EQ(render_in(loader, "t\xc3\xa9st.html"), "hello");
}

// --- Tornado's StackTraceTest: errors name the template and line (and the include chain) ---

TemplateError render_error(DictLoader& loader, std::string_view name, const Functions& fns = {}) {
  try {
    loader.load(name)->generate(json::object(), fns);
  } catch (const TemplateError& e) {
    return e;
  }
  ADD_FAILURE() << "no TemplateError";
  return TemplateError("", "", "", 0);
}

TEST(TemplateStackTraceTest, ErrorLineNumberExpression) {
  DictLoader loader({{"test.html", "one\ntwo{{1/0}}\nthree\n        "}});
  TemplateError e = render_error(loader, "test.html");
  EXPECT_EQ(e.kind(), "ZeroDivisionError");
  EXPECT_EQ(e.filename(), "test.html");
  EXPECT_EQ(e.lineno(), 2);
  EXPECT_STREQ(e.what(), "ZeroDivisionError: division by zero at test.html:2");
}

TEST(TemplateStackTraceTest, ErrorLineNumberDirective) {
  DictLoader loader({{"test.html", "one\ntwo{%if 1/0%}\nthree{%end%}\n        "}});
  TemplateError e = render_error(loader, "test.html");
  EXPECT_EQ(e.lineno(), 2);
  EXPECT_EQ(e.kind(), "ZeroDivisionError");
}

TEST(TemplateStackTraceTest, ErrorLineNumberModule) {
  DictLoader loader({{"base.html", "{% module Template('sub.html') %}"}, {"sub.html", "{{1/0}}"}});
  Functions fns;
  fns["Template"] = [&](const std::vector<json>& args, const json&) -> json {
    return loader.load(args.at(0).get<std::string>())->generate(json::object());
  };
  TemplateError e = render_error(loader, "base.html", fns);
  EXPECT_EQ(e.kind(), "ZeroDivisionError");
  EXPECT_EQ(e.filename(), "sub.html");
  EXPECT_EQ(e.lineno(), 1);
}

TEST(TemplateStackTraceTest, ErrorLineNumberInclude) {
  DictLoader loader({{"base.html", "{% include 'sub.html' %}"}, {"sub.html", "{{1/0}}"}});
  TemplateError e = render_error(loader, "base.html");
  EXPECT_NE(std::string(e.what()).find("at sub.html:1"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("(via base.html:1)"), std::string::npos) << e.what();
}

TEST(TemplateStackTraceTest, ErrorLineNumberExtendsBaseError) {
  DictLoader loader({{"base.html", "{{1/0}}"}, {"sub.html", "{% extends 'base.html' %}"}});
  TemplateError e = render_error(loader, "sub.html");
  EXPECT_EQ(e.filename(), "base.html");
  EXPECT_EQ(e.lineno(), 1);
}

TEST(TemplateStackTraceTest, ErrorLineNumberExtendsSubError) {
  DictLoader loader(
      {{"base.html", "{% block 'block' %}{% end %}"},
       {"sub.html",
        "\n{% extends 'base.html' %}\n{% block 'block' %}\n{{1/0}}\n{% end %}\n            "}});
  TemplateError e = render_error(loader, "sub.html");
  EXPECT_EQ(e.filename(), "sub.html");
  EXPECT_EQ(e.lineno(), 4);
  EXPECT_NE(std::string(e.what()).find("(via base.html:1)"), std::string::npos) << e.what();
}

TEST(TemplateStackTraceTest, MultiIncludes) {
  DictLoader loader({{"a.html", "{% include 'b.html' %}"},
                     {"b.html", "{% include 'c.html' %}"},
                     {"c.html", "{{1/0}}"}});
  TemplateError e = render_error(loader, "a.html");
  EXPECT_NE(std::string(e.what()).find("at c.html:1 (via b.html:1, a.html:1)"), std::string::npos)
      << e.what();
}

// --- Tornado's ParseErrorDetailTest ---

TEST(TemplateParseErrorTest, Details) {
  DictLoader loader({{"foo.html", "\n\n{{"}});
  try {
    loader.load("foo.html");
    FAIL() << "no ParseError";
  } catch (const ParseError& e) {
    EXPECT_STREQ(e.what(), "Missing end expression }} at foo.html:3");
    EXPECT_EQ(e.filename(), "foo.html");
    EXPECT_EQ(e.lineno(), 3);
  }
}

void expect_parse_error(std::string_view source, std::string_view message_part, int line = 0) {
  try {
    Template t{std::string(source)};
    ADD_FAILURE() << "no ParseError for " << source;
  } catch (const ParseError& e) {
    EXPECT_NE(e.message().find(message_part), std::string::npos) << e.what();
    if (line) {
      EXPECT_EQ(e.lineno(), line) << e.what();
    }
  }
}

TEST(TemplateParseErrorTest, BlockStructureIsCheckedAtParseTime) {
  expect_parse_error("{% if x %}\nyes", "Missing {% end %} block for if", 1);  // Tornado's line too
  expect_parse_error("{% end %}", "Extra {% end %} block");
  expect_parse_error("{% frobnicate %}", "unknown operator: 'frobnicate'");
  expect_parse_error("{% else %}", "else outside");
  expect_parse_error("{% for x in y %}{% elif z %}{% end %}",
                     "elif block cannot be attached to for block");
  expect_parse_error("{% if x %}{% else %}{% elif y %}{% end %}", "after else");
  expect_parse_error("{% try %}x{% end %}", "needs an except or a finally");
  expect_parse_error("{% continue %}", "continue outside");
  expect_parse_error("{% %}", "Empty block tag");
  expect_parse_error("{{ }}", "Empty expression");
  expect_parse_error("{# x", "Missing end comment #}");
  expect_parse_error("{% whitespace sometimes %}", "invalid whitespace mode");
  expect_parse_error("{% extends 'a.html' %}", "no template loader");
  expect_parse_error("{% include 'a.html' %}", "no template loader");
}

TEST(TemplateParseErrorTest, BadExpressionsAreParseErrors) {
  expect_parse_error("a\n{{ 1 + }}", "unexpected end of expression", 2);
  expect_parse_error("{{ (1, 2 }}", "expected ')'");
  expect_parse_error("{{ 'abc }}", "unterminated string literal");
  expect_parse_error("{{ x y }}", "unexpected 'y'");
  expect_parse_error("{{ lambda x: x }}", "lambda is not supported");
  expect_parse_error("{{ f'{x}' }}", "f-strings are not supported");
  expect_parse_error("{% set 1 = x %}", "set can only assign");
  expect_parse_error("{% for in xs %}{% end %}", "expected a variable name");
  expect_parse_error("{{ 0777 }}", "leading zeros");
}

// --- Tornado's AutoEscapeTest ---

class TemplateAutoEscapeTest : public ::testing::Test {
 protected:
  std::map<std::string, std::string, std::less<>> templates_{
      {"escaped.html", "{% autoescape xhtml_escape %}{{ name }}"},
      {"unescaped.html", "{% autoescape None %}{{ name }}"},
      {"default.html", "{{ name }}"},
      {"include.html",
       "escaped: {% include 'escaped.html' %}\nunescaped: {% include 'unescaped.html' %}\n"
       "default: {% include 'default.html' %}\n"},
      {"escaped_block.html",
       "{% autoescape xhtml_escape %}{% block name %}base: {{ name }}{% end %}"},
      {"unescaped_block.html", "{% autoescape None %}{% block name %}base: {{ name }}{% end %}"},
      {"escaped_extends_unescaped.html",
       "{% autoescape xhtml_escape %}{% extends \"unescaped_block.html\" %}"},
      {"escaped_overrides_unescaped.html",
       "{% autoescape xhtml_escape %}{% extends \"unescaped_block.html\" %}"
       "{% block name %}extended: {{ name }}{% end %}"},
      {"unescaped_extends_escaped.html",
       "{% autoescape None %}{% extends \"escaped_block.html\" %}"},
      {"unescaped_overrides_escaped.html",
       "{% autoescape None %}{% extends \"escaped_block.html\" %}{% block name %}extended: {{ name "
       "}}{% end %}"},
      {"raw_expression.html", "{% autoescape xhtml_escape %}expr: {{ name }}\nraw: {% raw name %}"},
  };
};

TEST_F(TemplateAutoEscapeTest, DefaultOff) {
  TemplateOptions o;
  o.autoescape = std::nullopt;
  DictLoader loader(templates_, o);
  json v = {{"name", "Bobby <table>s"}};
  EXPECT_EQ(render_in(loader, "escaped.html", v), "Bobby &lt;table&gt;s");
  EXPECT_EQ(render_in(loader, "unescaped.html", v), "Bobby <table>s");
  EXPECT_EQ(render_in(loader, "default.html", v), "Bobby <table>s");
  EXPECT_EQ(render_in(loader, "include.html", v),
            "escaped: Bobby &lt;table&gt;s\nunescaped: Bobby <table>s\ndefault: Bobby <table>s\n");
}

TEST_F(TemplateAutoEscapeTest, DefaultOn) {
  DictLoader loader(templates_);
  json v = {{"name", "Bobby <table>s"}};
  EXPECT_EQ(render_in(loader, "escaped.html", v), "Bobby &lt;table&gt;s");
  EXPECT_EQ(render_in(loader, "unescaped.html", v), "Bobby <table>s");
  EXPECT_EQ(render_in(loader, "default.html", v), "Bobby &lt;table&gt;s");
  EXPECT_EQ(
      render_in(loader, "include.html", v),
      "escaped: Bobby &lt;table&gt;s\nunescaped: Bobby <table>s\ndefault: Bobby &lt;table&gt;s\n");
}

TEST_F(TemplateAutoEscapeTest, UnextendedBlock) {
  DictLoader loader(templates_);
  json v = {{"name", "<script>"}};
  EXPECT_EQ(render_in(loader, "escaped_block.html", v), "base: &lt;script&gt;");
  EXPECT_EQ(render_in(loader, "unescaped_block.html", v), "base: <script>");
}

TEST_F(TemplateAutoEscapeTest, ExtendedBlockUsesTheDefiningFilesAutoescape) {
  DictLoader loader(templates_);
  json v = {{"name", "<script>"}};
  EXPECT_EQ(render_in(loader, "escaped_extends_unescaped.html", v), "base: <script>");
  EXPECT_EQ(render_in(loader, "escaped_overrides_unescaped.html", v), "extended: &lt;script&gt;");
  EXPECT_EQ(render_in(loader, "unescaped_extends_escaped.html", v), "base: &lt;script&gt;");
  EXPECT_EQ(render_in(loader, "unescaped_overrides_escaped.html", v), "extended: <script>");
}

TEST_F(TemplateAutoEscapeTest, RawExpression) {
  DictLoader loader(templates_);
  EXPECT_EQ(render_in(loader, "raw_expression.html", {{"name", "<>&\""}}),
            "expr: &lt;&gt;&amp;&quot;\nraw: <>&\"");
}

TEST_F(TemplateAutoEscapeTest, CustomEscapeFunctionGetsTheStrForm) {
  DictLoader loader({{"foo.py", "{% autoescape py_escape %}s = {{ name }}\n"}});
  Functions fns{{"py_escape", [](const std::vector<json>& a, const json&) -> json {
                   return "<" + a.at(0).get<std::string>() + ">";
                 }}};
  EXPECT_EQ(render_in(loader, "foo.py", {{"name", "x"}}, fns), "s = <x>\n");
  EXPECT_EQ(render_in(loader, "foo.py", {{"name", json::array({"not a string"})}}, fns),
            "s = <['not a string']>\n");
}

// The escaper is decided once per file during a render: coming back from an include with a
// different escaper (custom, then none) must use the including file's own again.
TEST_F(TemplateAutoEscapeTest, EachFileKeepsItsEscaperAcrossIncludesAndBack) {
  DictLoader loader({{"page.html",
                      "{{ name }}|{% include 'custom.html' %}|{{ name }}|"
                      "{% include 'raw.html' %}|{{ name }}"},
                     {"custom.html", "{% autoescape py_escape %}{{ name }}"},
                     {"raw.html", "{% autoescape None %}{{ name }}"}});
  Functions fns{{"py_escape", [](const std::vector<json>& a, const json&) -> json {
                   return "[" + a.at(0).get<std::string>() + "]";
                 }}};
  EXPECT_EQ(render_in(loader, "page.html", {{"name", "<b>"}}, fns),
            "&lt;b&gt;|[<b>]|&lt;b&gt;|<b>|&lt;b&gt;");
}

TEST_F(TemplateAutoEscapeTest, ManualMinimizeWhitespace) {
  DictLoader loader(
      {{"foo.txt", "{% for i in items\n  %}{% if i > 0 %}, {% end %}{#\n  #}{{i\n  }}{% end\n%}"}});
  EXPECT_EQ(render_in(loader, "foo.txt", {{"items", {0, 1, 2, 3, 4}}}), "0, 1, 2, 3, 4");
}

TEST_F(TemplateAutoEscapeTest, WhitespaceByFilename) {
  DictLoader loader({{"foo.html", "   \n\t\n asdf\t   "},
                     {"bar.js", " \n\n\n\t qwer     "},
                     {"baz.txt", "\t    zxcv\n\n"},
                     {"include.html", "  {% include baz.txt %} \n "},
                     {"include.txt", "\t\t{% include foo.html %}    "}});
  EXPECT_EQ(render_in(loader, "foo.html"), "\nasdf ");
  EXPECT_EQ(render_in(loader, "bar.js"), "\nqwer ");
  EXPECT_EQ(render_in(loader, "baz.txt"), "\t    zxcv\n\n");
  EXPECT_EQ(render_in(loader, "include.html"), " \t    zxcv\n\n\n");
  EXPECT_EQ(render_in(loader, "include.txt"), "\t\t\nasdf     ");
}

TEST_F(TemplateAutoEscapeTest, WhitespaceByLoader) {
  std::map<std::string, std::string, std::less<>> t{{"foo.html", "\t\tfoo\n\n"},
                                                    {"bar.txt", "\t\tbar\n\n"}};
  auto with = [&](std::string mode) {
    TemplateOptions o;
    o.whitespace = std::move(mode);
    return std::make_unique<DictLoader>(t, o);
  };
  auto all = with("all");
  EXPECT_EQ(render_in(*all, "foo.html"), "\t\tfoo\n\n");
  EXPECT_EQ(render_in(*all, "bar.txt"), "\t\tbar\n\n");
  auto single = with("single");
  EXPECT_EQ(render_in(*single, "foo.html"), " foo\n");
  EXPECT_EQ(render_in(*single, "bar.txt"), " bar\n");
  auto oneline = with("oneline");
  EXPECT_EQ(render_in(*oneline, "foo.html"), " foo ");
  EXPECT_EQ(render_in(*oneline, "bar.txt"), " bar ");
  EXPECT_THROW(with("some"), std::invalid_argument);
}

TEST_F(TemplateAutoEscapeTest, WhitespaceDirective) {
  DictLoader loader(
      {{"foo.html",
        "{% whitespace oneline %}\n    {% for i in range(3) %}\n        {{ i }}\n    {% end %}\n"
        "{% whitespace all %}\n    pre\tformatted\n"}});
  EXPECT_EQ(render_in(loader, "foo.html"), "  0  1  2  \n    pre\tformatted\n");
}

TEST(TemplateWhitespaceTest, PreformattedTextIsNotCompressed) {
  Template t("<pre>  a\n\n  b</pre>", "x.html");
  EXPECT_EQ(t.generate({}), "<pre>  a\n\n  b</pre>");
}

// --- Tornado's TemplateLoaderTest, and the directory loader ---

class TemplateLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("template_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_ / "sub");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  std::filesystem::path dir_;
};

TEST_F(TemplateLoaderTest, Utf8InFile) {
  write("utf8.html", "H\xc3\xa9llo\n");
  Loader loader(dir_.string());
  EXPECT_EQ(loader.load("utf8.html")->generate({}), "H\xc3\xa9llo\n");
}

TEST_F(TemplateLoaderTest, CachesByNameAndResolvesRelativeIncludes) {
  write("sub/page.html", "[{% include 'part.html' %}]");
  write("sub/part.html", "part");
  Loader loader(dir_.string());
  auto first = loader.load("sub/page.html");
  EXPECT_EQ(first->generate({}), "[part]");
  EXPECT_EQ(loader.load("sub/page.html"), first);  // cached: the same parsed tree
  write("sub/part.html", "changed");
  EXPECT_EQ(first->generate({}), "[part]");  // not watching: the cache stands
  loader.reset();
  EXPECT_EQ(loader.load("sub/page.html")->generate({}), "[changed]");
}

TEST_F(TemplateLoaderTest, WatchingLoaderRereadsAChangedFile) {
  write("page.html", "[{% include 'part.html' %}]");
  write("part.html", "one");
  Loader loader(dir_.string(), {}, /*watch=*/true);
  auto page = loader.load("page.html");
  EXPECT_EQ(page->generate({}), "[one]");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a distinct mtime
  write("part.html", "two");
  EXPECT_EQ(page->generate({}), "[two]");  // the include is loaded (and re-read) at render time
  EXPECT_NE(loader.load("part.html"), nullptr);
}

TEST_F(TemplateLoaderTest, MissingFileAndPathsOutsideTheRootAreErrors) {
  write("page.html", "{% include '../../etc/passwd' %}");
  Loader loader(dir_.string());
  EXPECT_THROW(loader.load("nope.html"), ParseError);
  EXPECT_THROW(loader.load("../x.html"), ParseError);
  EXPECT_THROW(loader.load("page.html"), ParseError);
}

TEST(TemplateLoaderLimitTest, SelfIncludeIsRefusedAtLoad) {
  DictLoader loader({{"a.html", "{% include 'a.html' %}"},
                     {"b.html", "{% extends 'c.html' %}"},
                     {"c.html", "{% extends 'b.html' %}"}});
  try {
    loader.load("a.html");
    FAIL() << "no error";
  } catch (const ParseError& e) {
    EXPECT_NE(e.message().find("nested deeper than 32"), std::string::npos) << e.what();
  }
  EXPECT_THROW(loader.load("b.html"), ParseError);
}

TEST(TemplateLoaderLimitTest, IncludeDepthIsConfigurable) {
  std::map<std::string, std::string, std::less<>> t;
  for (int i = 0; i < 10; ++i)
    t["t" + std::to_string(i)] = "{% include 't" + std::to_string(i + 1) + "' %}";
  t["t10"] = "end";
  DictLoader deep(t);
  EXPECT_EQ(render_in(deep, "t0"), "end");
  TemplateOptions o;
  o.max_include_depth = 5;
  DictLoader shallow(t, o);
  EXPECT_THROW(shallow.load("t0"), ParseError);
}

// --- The expression language: Python's str() forms and operators ---

TEST(TemplateExpressionTest, ValuesPrintAsPythonStr) {
  EXPECT_EQ(render("{{ True }} {{ None }} {{ 1.0 }} {{ 1e16 }} {{ 1e-5 }} {{ 0.1 + 0.2 }}"),
            "True None 1.0 1e+16 1e-05 0.30000000000000004");
  TemplateOptions raw;
  raw.autoescape = std::nullopt;
  EXPECT_EQ(Template("{{ ['a', 1, None, {'k': 2.5}] }}", "<string>", raw).generate({}),
            "['a', 1, None, {'k': 2.5}]");
  EXPECT_EQ(render("{{ x }}", {{"x", {"it's", "a\"b"}}}),
            "[&quot;it&#x27;s&quot;, &#x27;a&quot;b&#x27;]");
}

TEST(TemplateExpressionTest, Arithmetic) {
  EXPECT_EQ(render("{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 2 ** -1 "
                   "}} {{ True + 1 }}"),
            "3 -4 2 3.5 1024 0.5 2");
  EXPECT_EQ(
      render("{{ 'ab' * 3 }} {{ [1] * 2 }} {{ 'a' + 'b' }} {{ [1] + [2] }} {{ -(3) }} {{ ~5 }}"),
      "ababab [1, 1] ab [1, 2] -3 -6");
  EXPECT_THROW(render("{{ 9223372036854775807 + 1 }}"), TemplateError);
}

// Found by a differential run against Python over 3,000 random floats: floor division
// must follow CPython's float_divmod step by step (floor((x - fmod) / y) is one ulp off).
TEST(TemplateExpressionTest, FloatFloorDivisionAndModuloMatchCPython) {
  EXPECT_EQ(render("{{ -5.650001188929331e+16 // 7 }} {{ -7.678646470319949e+16 // 7 }} {{ "
                   "-5.650001188929331e+16 % 7 }}"),
            "-8071430269899046.0 -1.0969494957599928e+16 3.0");
  EXPECT_EQ(render("{{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 0.0 // -3 }} {{ -0.0 % 5 }} {{ 5.0 % -3 }}"),
            "3.0 0.5 -0.0 0.0 -1.0");
}

TEST(TemplateExpressionTest, PercentFormatting) {
  EXPECT_EQ(
      render(
          "{{ '%s and %s' % (1, 'two') }}|{{ '%05.1f' % 2.25 }}|{{ '%(n)s' % d }}|{{ '%s' % [1] }}",
          {{"d", {{"n", "x"}}}}),
      "1 and two|002.2|x|[1]");
  EXPECT_THROW(render("{{ '%s %s' % (1,) }}"), TemplateError);
  EXPECT_THROW(render("{{ '%s' % (1, 2) }}"), TemplateError);
}

TEST(TemplateExpressionTest, ComparisonsAndLogic) {
  EXPECT_EQ(render("{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 'a' in 'cat' }} {{ 2 not in [1, 2] }} {{ 1 "
                   "== 1.0 }}"),
            "True False True False True");
  EXPECT_EQ(
      render("{{ 0 or 'x' }} {{ 1 and 0 }} {{ not [] }} {{ 'y' if x else 'n' }} {{ x is None }}",
             {{"x", nullptr}}),
      "x 0 True n True");
  EXPECT_THROW(render("{{ 'a' < 1 }}"), TemplateError);
}

TEST(TemplateExpressionTest, AccessIndexingAndSlices) {
  json v = {{"user", {{"name", "Ann"}, {"tags", {"a", "b", "c", "d"}}}}};
  EXPECT_EQ(
      render("{{ user.name }} {{ user['tags'][-1] }} {{ user.tags[1:3] }} {{ user.tags[::-2] }}",
             v),
      "Ann d [&#x27;b&#x27;, &#x27;c&#x27;] [&#x27;d&#x27;, &#x27;b&#x27;]");
  EXPECT_EQ(render("{{ 'h\xc3\xa9llo'[1] }}{{ 'h\xc3\xa9llo'[1:3] }}{{ len('h\xc3\xa9llo') }}"),
            "\xc3\xa9\xc3\xa9l5");
  try {
    render("{{ user.missing }}", v);
    FAIL();
  } catch (const TemplateError& e) {
    EXPECT_EQ(e.kind(), "AttributeError");
    EXPECT_EQ(e.message(), "'dict' object has no attribute 'missing'");
  }
}

TEST(TemplateExpressionTest, BuiltinsAndMethods) {
  TemplateOptions raw;
  raw.autoescape = std::nullopt;
  auto r = [&](std::string s) {
    return Template(s, "<string>", raw).generate({{"d", {{"b", 2}, {"a", 1}}}});
  };
  EXPECT_EQ(r("{{ sorted([3, 1, 2]) }} {{ sorted(['b', 'a'], reverse=True) }} {{ "
              "list(enumerate('ab')) }}"),
            "[1, 2, 3] ['b', 'a'] [[0, 'a'], [1, 'b']]");
  EXPECT_EQ(r("{{ zip([1, 2], 'ab') }} {{ min(3, 1) }} {{ max([1, 5]) }} {{ abs(-2) }} {{ "
              "round(2.5) }} {{ round(2.675, 2) }}"),
            "[[1, 'a'], [2, 'b']] 1 5 2 2 2.67");
  EXPECT_EQ(r("{{ int('42') + 1 }} {{ float('1.5') }} {{ str(1.0) }} {{ bool('') }} {{ len(d) }} "
              "{{ d.items() }}"),
            "43 1.5 1.0 False 2 [['a', 1], ['b', 2]]");
  EXPECT_EQ(r("{{ ' A b '.strip().lower() }} {{ 'a,b'.split(',') }} {{ '-'.join(['x', 'y']) }} {{ "
              "'aXa'.replace('a', 'b') }}"),
            "a b ['a', 'b'] x-y bXb");
  EXPECT_EQ(r("{{ 'abc'.startswith('ab') }} {{ 'abc'.endswith(('x', 'c')) }} {{ '{} and "
              "{name}'.format(1, name='n') }}"),
            "True True 1 and n");
  EXPECT_EQ(r("{{ [x * 2 for x in range(4) if x % 2] }} {{ sum(x for x in [1, 2, 3]) }} {{ "
              "d.get('z', 'none') }}"),
            "[2, 6] 6 none");
  EXPECT_EQ(r("{{ json_encode({'a': [1, '</script>']}) }} {{ url_escape('a b/c') }} {{ squeeze(' a "
              " b ') }}"),
            "{\"a\": [1, \"<\\/script>\"]} a+b%2Fc a b");
  EXPECT_EQ(r("{{ linkify('see http://x.org') }}"),
            "see <a href=\"http://x.org\">http://x.org</a>");
}

TEST(TemplateExpressionTest, ForUnpackingSetAndLoopElse) {
  json v = {{"d", {{"a", 1}, {"b", 2}}}};
  EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}={{ v }};{% end %}", v), "a=1;b=2;");
  EXPECT_EQ(render("{% set a, b = 1, 2 %}{% set a += 10 %}{{ a }} {{ b }}"), "11 2");
  EXPECT_EQ(render("{% for x in [] %}x{% else %}empty{% end %}"), "empty");
  EXPECT_EQ(render("{% set i = 0 %}{% while i < 3 %}{{ i }}{% set i = i + 1 %}{% end %}"), "012");
  EXPECT_EQ(render("{% for i in range(3) %}{% end %}{{ i }}"),
            "2");  // the loop variable outlives the loop
}

TEST(TemplateExpressionTest, TryExceptNamesAndOutputBeforeTheError) {
  EXPECT_EQ(render("{% try %}a{{ 1/0 }}b{% except ZeroDivisionError as e %}[{{ e }}]{% end %}"),
            "a[division by zero]");
  EXPECT_EQ(render("{% try %}{{ {}['k'] }}{% except LookupError %}lookup{% end %}"), "lookup");
  EXPECT_THROW(render("{% try %}{{ {}['k'] }}{% except TypeError %}no{% end %}"), TemplateError);
  EXPECT_EQ(render("{% for i in range(3) %}{% try %}{% if i == 1 %}{% break %}{% end %}{% finally "
                   "%}f{{ i }}{% end %}{% end %}"),
            "f0f1");
}

TEST(TemplateExpressionTest, ApplyWithBuiltinAndScope) {
  EXPECT_EQ(render("{% apply linkify %}http://a.b{% end %}"),
            "<a href=\"http://a.b\">http://a.b</a>");
  EXPECT_EQ(render("{% set x = 1 %}{% apply upper %}{% set x = 2 %}{{ x }}{% end %}{{ x }}", {},
                   {{"upper", upper_fn()}}),
            "21");
}

TEST(TemplateExpressionTest, NameErrorsAndFunctionsAsValues) {
  try {
    render("{{ nope }}");
    FAIL();
  } catch (const TemplateError& e) {
    EXPECT_EQ(e.kind(), "NameError");
    EXPECT_EQ(e.message(), "name 'nope' is not defined");
  }
  EXPECT_THROW(render("{{ len }}"), TemplateError);
  Functions fns{{"boom", [](const std::vector<json>&, const json&) -> json {
                   throw std::runtime_error("bad");
                 }}};
  try {
    render("{{ boom() }}", {}, fns);
    FAIL();
  } catch (const TemplateError& e) {
    EXPECT_EQ(e.kind(), "Exception");
  }
}

TEST(TemplateExpressionTest, KeywordArgumentsReachFunctions) {
  Functions fns{{"f", [](const std::vector<json>& a, const json& kw) -> json {
                   return a.size() * 10 + kw.value("k", 0);
                 }}};
  EXPECT_EQ(render("{{ f(1, 2, k=3) }}", {}, fns), "23");
}

TEST(TemplateExpressionTest, ModuleAndRawAreNotEscaped) {
  Functions fns{
      {"Widget", [](const std::vector<json>&, const json&) -> json { return "<b>w</b>"; }}};
  EXPECT_EQ(render("{% module Widget() %}{{ Widget() }}", {}, fns), "<b>w</b>&lt;b&gt;w&lt;/b&gt;");
  EXPECT_EQ(render("{% import os %}{% from a import b %}ok"), "ok");
}

// --- Limits: a hostile template cannot exhaust the stack or memory ---

TEST(TemplateLimitTest, DeepExpressionsAreParseErrors) {
  std::string deep = "{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}";
  expect_parse_error(deep, "nested too deeply");
  std::string chain = "{{ 1";
  for (int i = 0; i < 100000; ++i) chain += " + 1";
  expect_parse_error(chain + " }}", "nested too deeply");
  std::string nots = "{{ " + [] {
    std::string s;
    for (int i = 0; i < 100000; ++i) s += "not ";
    return s;
  }() + "1 }}";
  expect_parse_error(nots, "nested too deeply");
  std::string attrs = "{{ x" + [] {
    std::string s;
    for (int i = 0; i < 100000; ++i) s += ".a";
    return s;
  }() + " }}";
  expect_parse_error(attrs, "nested too deeply");
  // At the limit it still renders.
  EXPECT_EQ(render("{{ " + std::string(150, '(') + "1" + std::string(150, ')') + " }}"), "1");
}

TEST(TemplateLimitTest, DeepBlocksAreParseErrors) {
  std::string s;
  for (int i = 0; i < 100000; ++i) s += "{% if 1 %}";
  expect_parse_error(s, "blocks nested too deeply");
}

TEST(TemplateLimitTest, RenderBudgets) {
  TemplateOptions o;
  o.max_loop_iterations = 1000;
  o.max_output_bytes = 100;
  EXPECT_THROW(Template("{% while True %}{% end %}", "<string>", o).generate({}), TemplateError);
  EXPECT_THROW(Template("{% for i in range(50) %}xxxxxxxx{% end %}", "<string>", o).generate({}),
               TemplateError);
  try {
    Template("{% try %}{% while True %}{% end %}{% except %}caught{% end %}", "<string>", o)
        .generate({});
    FAIL();
  } catch (const TemplateError& e) {
    EXPECT_EQ(e.kind(), "LimitError");  // not catchable by {% except %}
  }
  EXPECT_THROW(render("{{ len(range(10**12)) }}"), TemplateError);
  EXPECT_THROW(render("{{ 'x' * 10**12 }}"), TemplateError);
}

TEST(TemplateThreadTest, OneTemplateRendersOnManyThreads) {
  Template t("{% for i in range(100) %}{{ i }}{% end %}");
  std::string expected = t.generate({});
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i)
        if (t.generate({}) != expected) ++mismatches;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// A Defaults that records what it was asked for.
class RecordingDefaults : public Defaults {
 public:
  std::vector<std::string> asked;
  const json* value(std::string_view name) override {
    asked.emplace_back("value " + std::string(name));
    return name == "who" ? &who_ : name == "shadowed" ? &shadowed_ : nullptr;
  }
  const Function* function(std::string_view name) override {
    if (name == "shout" || name == "escape" || name == "xhtml_escape" || name == "site.name") {
      asked.emplace_back("function " + std::string(name));
      return name == "shout" ? &shout_ : name == "site.name" ? &site_name_ : &escape_;
    }
    return nullptr;
  }

 private:
  json who_ = "default-who";
  json shadowed_ = "default";
  Function shout_ = [](const std::vector<json>& a, const json&) {
    return json(a.at(0).get<std::string>() + "!");
  };
  Function escape_ = [](const std::vector<json>&, const json&) { return json("E"); };
  Function site_name_ = [](const std::vector<json>&, const json&) { return json("S"); };
};

TEST(TemplateDefaultsTest, DefaultsAnswerAfterValuesAndFunctionsBeforeBuiltins) {
  RecordingDefaults d;
  Functions f;
  f["shout"] = [](const std::vector<json>&, const json&) { return json("own"); };
  Template t("{% raw who %} {% raw shadowed %} {% raw shout('a') %} {% raw escape('<') %}"
             " {% raw site.name() %}{% set who += '+' %} {% raw who %}");
  EXPECT_EQ(t.generate({{"shadowed", "value"}}, f, d), "default-who value own E S default-who+");
  // `shadowed` came from the values and `shout` from the functions: never asked.
  for (const auto& a : d.asked) {
    EXPECT_NE(a, "value shadowed");
    EXPECT_NE(a, "function shout");
  }
}

TEST(TemplateDefaultsTest, AutoescapeUsesADefaultNamedLikeTheEscaper) {
  RecordingDefaults d;
  Template t("{{ '<b>' }}");
  EXPECT_EQ(t.generate({}, {}, d), "E");
  EXPECT_EQ(Template("{{ '<b>' }}").generate({}), "&lt;b&gt;");
}

TEST(TemplateDefaultsTest, AMissingNameIsStillANameError) {
  RecordingDefaults d;
  Template t("{{ nobody }}");
  try {
    t.generate({}, {}, d);
    FAIL() << "no error";
  } catch (const TemplateError& e) {
    EXPECT_EQ(e.kind(), "NameError");
  }
  EXPECT_EQ(d.asked, std::vector<std::string>{"value nobody"});
}

}  // namespace template_test
}  // namespace tornado::templates
