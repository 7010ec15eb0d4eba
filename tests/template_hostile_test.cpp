// template.h attacked: values built by the template itself that nest deeper than any
// parser limit (then printed, encoded, compared), self-including and mutually recursive
// templates, deep syntax, and budgets.
#include <gtest/gtest.h>

#include "tornado/template.h"

namespace template_hostile_test {

using namespace tornado::templates;
using json = nlohmann::json;

namespace {

std::string render(std::string_view source, const json& values = json::object(),
                   TemplateOptions options = {}) {
  return Template(std::string(source), "hostile.html", options).generate(values);
}

// `{% set a = [a] %}` in a loop nests a list 2,000 deep without any deep syntax. Each step
// copies `a` (the value model has no references), so building it is quadratic: under ASan
// about 10 s, paid once here and not for each way of printing it below.
const std::string kNest = "{% set a = [] %}{% for i in range(2000) %}{% set a = [a] %}{% end %}";

// The same value made in C++: a list nested 2,000 deep.
json nested_list(int depth) {
  json a = json::array();
  for (int i = 0; i < depth; ++i) {
    json outer = json::array();
    outer.push_back(std::move(a));
    a = std::move(outer);
  }
  return a;
}

TEST(TemplateHostileTest, DeeplyNestedValueBuiltByTheTemplatePrintsOrFailsCleanly) {
  try {
    EXPECT_FALSE(render(kNest + "{{ a }}").empty());
  } catch (const TemplateError&) {
    // a clean error is fine; a stack overflow is not
  }
}

TEST(TemplateHostileTest, DeeplyNestedValuePrintsEncodesAndComparesOrFailsCleanly) {
  const json values = {{"a", nested_list(2000)}};
  for (std::string out :
       {"{{ a }}", "{{ json_encode(a) }}", "{{ str(a) }}", "{{ a == a }}", "{{ len(str(a)) }}",
        "{{ a < a }}", "{{ a in [a] }}", "{{ sorted([a, a]) }}", "{% set b = [a] %}{{ b }}"}) {
    try {
      std::string result = render(out, values);
      EXPECT_FALSE(result.empty()) << out;
    } catch (const TemplateError&) {
      // a clean error is fine; a stack overflow is not
    }
  }
}

TEST(TemplateHostileTest, DeeplyNestedDictBuiltByTheTemplate) {
  try {
    render("{% set d = {} %}{% for i in range(2000) %}{% set d = {'k': d} %}{% end %}{{ d }}");
  } catch (const TemplateError&) {
  }
}

TEST(TemplateHostileTest, SelfIncludeAndMutualExtendsAreErrors) {
  DictLoader loader({{"self.html", "x{% include 'self.html' %}"},
                     {"a.html", "{% extends 'b.html' %}"},
                     {"b.html", "{% extends 'a.html' %}"}});
  EXPECT_THROW(loader.load("self.html")->generate(json::object()), std::exception);
  EXPECT_THROW(loader.load("a.html")->generate(json::object()), std::exception);
}

TEST(TemplateHostileTest, DeepSyntaxIsAParseErrorNamingTheLine) {
  for (std::string source :
       {"\n{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}",
        "\n{{ " + std::string(100000, '-') + "1 }}",
        "\n{{ " + std::string(100000, '[') + std::string(100000, ']') + " }}",
        "\n{{ a" + std::string(100000, '.') + " }}", "\n{{ not " + [] {
          std::string s;
          for (int i = 0; i < 50000; ++i) s += "not ";
          return s;
        }() + "1 }}"}) {
    try {
      render(source);
      ADD_FAILURE() << "accepted " << source.substr(0, 20);
    } catch (const ParseError& e) {
      EXPECT_NE(std::string(e.what()).find("hostile.html:2"), std::string::npos) << e.what();
    }
  }
}

TEST(TemplateHostileTest, HugeSequencesAndOutputAreBounded) {
  EXPECT_THROW(render("{{ 'x' * 10**12 }}"), TemplateError);
  EXPECT_THROW(render("{{ len(range(10**12)) }}"), TemplateError);
  EXPECT_THROW(render("{{ [1] * 10**12 }}"), TemplateError);
  EXPECT_THROW(render("{{ 'ab' * (10**6) * (10**6) }}"), TemplateError);
  TemplateOptions budget;
  budget.max_output_bytes = 1 << 20;
  budget.max_loop_iterations = 100000;
  EXPECT_THROW(render("{% for i in range(10**6) %}{{ 'x' * 1000 }}{% end %}", {}, budget),
               TemplateError);
  EXPECT_THROW(render("{% while True %}{% end %}", {}, budget), TemplateError);
}

TEST(TemplateHostileTest, IntegerOverflowInExpressionsIsAnErrorNotUndefinedBehaviour) {
  for (const char* expr :
       {"{{ 9223372036854775807 + 1 }}", "{{ -9223372036854775807 - 2 }}",
        "{{ 9223372036854775807 * 2 }}", "{{ 2 ** 64 }}", "{{ 2 ** 1000000 }}",
        "{{ -(-9223372036854775807 - 1) }}", "{{ (-9223372036854775807 - 1) // -1 }}",
        "{{ (-9223372036854775807 - 1) % -1 }}", "{{ 1 // 0 }}", "{{ 1 % 0 }}", "{{ 10 ** -1 }}",
        "{{ 'x'[9223372036854775807] }}", "{{ 'abc'[-9223372036854775807 - 1:] }}",
        "{{ range(0, 10, -9223372036854775807 - 1) }}", "{{ 99999999999999999999999 }}"}) {
    try {
      render(expr);
    } catch (const TemplateError&) {
    } catch (const ParseError&) {
    }
  }
}

}  // namespace

namespace {

// What `'...' % x` raises, as the template sees it (TemplateError carries Python's text).
std::string format_error(std::string_view source) {
  try {
    render(source);
  } catch (const TemplateError& e) {
    return e.what();
  }
  return "(no error)";
}

// Found by template_fuzzer: a NUL byte after '%' was taken for a flag (strchr matches the
// terminator) and the width parser threw std::invalid_argument out of the renderer.
TEST(TemplateHostileTest, PercentFormatWithANulByteIsAValueError) {
  const std::string source =
      std::string("{% set c = '%") + std::string(3, '\0') + "sef' % 0 %}{{ c }}";
  EXPECT_NE(format_error(source).find("unsupported format character '?' (0x0) at index 1"),
            std::string::npos)
      << format_error(source);
}

// Python: "width too big" past INT_MAX; below it, the template's max_sequence_length bounds
// the pad before it is allocated.
TEST(TemplateHostileTest, PercentFormatWidthAndPrecisionAreBounded) {
  EXPECT_NE(format_error("{{ '%9999999999999999999999999d' % 5 }}").find("width too big"),
            std::string::npos);
  EXPECT_NE(format_error("{{ '%.9999999999999999999s' % 'x' }}").find("precision too big"),
            std::string::npos);
  TemplateOptions small;
  small.max_sequence_length = 1000;
  EXPECT_THROW(render("{{ '%2000s' % 'x' }}", json::object(), small), TemplateError);
  EXPECT_THROW(render("{{ '%2000d' % 5 }}", json::object(), small), TemplateError);
}

// A width past any fixed buffer is honoured, as Python does ('%1000d' % 5 is 1,000 chars).
TEST(TemplateHostileTest, PercentFormatWideFieldsAreNotTruncated) {
  EXPECT_EQ(render("{{ '%1000d' % 5 }}"), std::string(999, ' ') + "5");
  EXPECT_EQ(render("{{ '%-700s|' % 'ab' }}"), "ab" + std::string(698, ' ') + "|");
  EXPECT_EQ(render("{{ len('%.600f' % 1) }}"), "602");
  EXPECT_EQ(render("{{ '%.f' % 2.5 }}|{{ '%-.s' % 'x' }}|"), "2||");
}

}  // namespace

}  // namespace template_hostile_test
