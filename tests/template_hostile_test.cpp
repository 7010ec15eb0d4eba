// template.h attacked: values built by the template itself that nest deeper than any
// parser limit (then printed, encoded, compared), self-including and mutually recursive
// templates, deep syntax, and budgets.
#include <gtest/gtest.h>

#include "tornado/template.h"

using namespace tornado::templates;
using json = nlohmann::json;

namespace {

std::string render(std::string_view source, const json& values = json::object(),
                   TemplateOptions options = {}) {
  return Template(std::string(source), "hostile.html", options).generate(values);
}

// `{% set a = [a] %}` in a loop nests a list 100,000 deep without any deep syntax.
const std::string kNest =
    "{% set a = [] %}{% for i in range(2000) %}{% set a = [a] %}{% end %}";

TEST(TemplateHostileTest, DeeplyNestedValueBuiltByTheTemplatePrintsOrFailsCleanly) {
  for (std::string out : {"{{ a }}", "{{ json_encode(a) }}", "{{ str(a) }}", "{{ a == a }}",
                          "{{ len(str(a)) }}", "{{ a < a }}", "{{ a in [a] }}",
                          "{{ sorted([a, a]) }}"}) {
    try {
      std::string result = render(kNest + out);
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
  for (std::string source : {"\n{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}",
                             "\n{{ " + std::string(100000, '-') + "1 }}",
                             "\n{{ " + std::string(100000, '[') + std::string(100000, ']') + " }}",
                             "\n{{ a" + std::string(100000, '.') + " }}",
                             "\n{{ not " + [] {
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
  for (const char* expr : {"{{ 9223372036854775807 + 1 }}", "{{ -9223372036854775807 - 2 }}",
                           "{{ 9223372036854775807 * 2 }}", "{{ 2 ** 64 }}", "{{ 2 ** 1000000 }}",
                           "{{ -(-9223372036854775807 - 1) }}",
                           "{{ (-9223372036854775807 - 1) // -1 }}",
                           "{{ (-9223372036854775807 - 1) % -1 }}", "{{ 1 // 0 }}", "{{ 1 % 0 }}",
                           "{{ 10 ** -1 }}", "{{ 'x'[9223372036854775807] }}",
                           "{{ 'abc'[-9223372036854775807 - 1:] }}",
                           "{{ range(0, 10, -9223372036854775807 - 1) }}",
                           "{{ 99999999999999999999999 }}"}) {
    try {
      render(expr);
    } catch (const TemplateError&) {
    } catch (const ParseError&) {
    }
  }
}

}  // namespace
