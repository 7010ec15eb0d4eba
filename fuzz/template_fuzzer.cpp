// libFuzzer target: the template language (tornado::templates) — parse, then render with a
// small fixed value set, through a DictLoader so include/extends/block are reached too.
//
// Input layout: the whole input is the source of "fuzz.html" (whitespace "single" by its
// name). The loader also holds base.html (blocks), part.html (an include) and loop.html (an
// include of fuzz.html itself, so cycles are exercised).
//
// Checked (beyond "no crash, no sanitizer report, no stack overflow"): only ParseError and
// TemplateError come out; the output never passes max_output_bytes; rendering twice gives
// the same bytes (a parsed template is immutable); the render budgets keep every input
// finite (max_loop_iterations, max_sequence_length).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tornado/template.h"

#define FUZZ_CHECK(cond)                                                                      \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      std::fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)

namespace {

using nlohmann::json;
using namespace tornado::templates;

const json& values() {
  static const json v = {
      {"name", "<b>Ben & 'Jerry'</b>"},
      {"n", 7},
      {"f", 2.5},
      {"t", true},
      {"none", nullptr},
      {"xs", {1, 2, 3, "x", nullptr, 2.5}},
      {"d", {{"a", 1}, {"b", {1, 2}}, {"c", {{"k", "v"}}}}},
      {"rows", {{{"id", 1}, {"message", "<script>"}}, {{"id", 2}, {"message", "héllo"}}}},
  };
  return v;
}

const Functions& functions() {
  static const Functions f{
      {"upper",
       [](const std::vector<json>& a, const json&) -> json { return a.empty() ? json("") : a[0]; }},
      {"fail",
       [](const std::vector<json>&, const json&) -> json { throw std::runtime_error("fail()"); }},
  };
  return f;
}

TemplateOptions options() {
  TemplateOptions o;
  // Small budgets: what is checked is that they bound every input, and an input that runs into
  // one (a `while` that never ends) costs in proportion: at 2,000 iterations and sequences of
  // 100,000 the seed corpus took 33 s to replay on a quiet machine (130 inputs a second, 50 s
  // in CI), at 200 and 10,000 it takes 11 s with the same coverage less one edge (5,628).
  o.max_loop_iterations = 200;
  o.max_output_bytes = 1 << 20;
  o.max_sequence_length = 10000;
  o.max_include_depth = 8;
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  std::string source(reinterpret_cast<const char*>(data), size);
  DictLoader loader(
      {
          {"fuzz.html", source},
          {"base.html", "<t>{% block title %}T{% end %}</t>{% block body %}{{ name }}{% end %}"},
          {"part.html", "[{{ n }}{% set inner = 1 %}]"},
          {"loop.html", "{% include 'fuzz.html' %}"},
      },
      options());
  std::shared_ptr<const Template> t;
  try {
    t = loader.load("fuzz.html");
  } catch (const ParseError&) {
    return 0;
  }
  std::string first, second;
  bool failed_first = false, failed_second = false;
  try {
    first = t->generate(values(), functions());
  } catch (const TemplateError&) {
    failed_first = true;
  } catch (const ParseError&) {
    failed_first = true;
  }
  FUZZ_CHECK(first.size() <= options().max_output_bytes);
  try {
    second = t->generate(values(), functions());
  } catch (const TemplateError&) {
    failed_second = true;
  } catch (const ParseError&) {
    failed_second = true;
  }
  FUZZ_CHECK(failed_first == failed_second);
  FUZZ_CHECK(first == second);
  return 0;
}
