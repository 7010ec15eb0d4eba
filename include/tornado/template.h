// tornado/template.h — Tornado's template language (`tornado.template`), parsed once into a
// tree and rendered over JSON values.
//
//   using namespace tornado::templates;
//   Template t("<h1>{{ title }}</h1>{% for x in items %}<li>{{ x }}{% end %}");
//   std::string html = t.generate({{"title", "A & B"}, {"items", {1, 2.5, "<b>"}}});
//   // "<h1>A &amp; B</h1><li>1<li>2.5<li>&lt;b&gt;"
//
//   Loader loader("templates");                       // a directory; DictLoader for a map
//   auto page = loader.load("page.html");              // parsed once, cached by name
//   page->generate(values, {{"shout", [](auto& args, auto&) { return args.at(0); }}});
//
// Syntax: {{ expr }}, {% raw expr %}, if/elif/else, for (break/continue, unpacking), while,
// set, try/except/else/finally, include, extends + block, autoescape, apply, comment, {# #},
// whitespace (all|single|oneline), module, import/from (accepted, no effect), and the
// {{! {%! {#! escapes. Expressions are a Python subset over nlohmann::json values; output is
// what Python Tornado writes (str() forms: True, None, 1.0, ['a', 1]). docs/template.md lists
// the syntax, the expression language and what differs from Python Tornado.
//
// Thread rule: a Template is immutable after construction; generate() may run on any number
// of threads at once. A Loader is used from one thread (one loop per thread): its cache has
// no lock. A Template loaded through a Loader refers to it (for include/extends): keep the
// loader alive while rendering its templates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tornado::templates {

// A function callable from expressions: positional arguments and keyword arguments (a JSON
// object, empty when none). Its result is data: escaped by autoescape like any expression,
// unless output with {% raw %} or {% module %}. Throwing std::exception from it becomes a
// TemplateError (kind "Exception") that {% try %}/{% except %} can catch.
using Function = std::function<nlohmann::json(const std::vector<nlohmann::json>& args,
                                              const nlohmann::json& kwargs)>;
// Names callable in expressions, on top of (and shadowing) the built-ins.
using Functions = std::map<std::string, Function, std::less<>>;

// Values and functions looked up last, and made only when a template asks for them: after
// the scope's locals and `values` (for names) and after `functions` (for calls), before the
// built-ins. The web layer's handler namespace (`request`, `locale`, `_`, ...) is one, so
// that a page that uses none of it pays nothing for it. A Defaults object lives for one
// generate() call on one thread; what it returns must stay valid until that call returns.
class Defaults {
 public:
  virtual ~Defaults() = default;
  // The value of `name`, or nullptr when there is none.
  virtual const nlohmann::json* value(std::string_view name) = 0;
  // The function called `name`, or nullptr when there is none.
  virtual const Function* function(std::string_view name) = 0;
};

struct TemplateOptions {
  // Name of the function applied to every {{ }} result (a built-in or a Functions entry);
  // nullopt disables escaping. {% autoescape %} overrides it for one file.
  std::optional<std::string> autoescape = "xhtml_escape";
  // "" = by name, as Tornado: "single" for names ending in .html or .js, else "all";
  // otherwise "all", "single" or "oneline". Anything else: std::invalid_argument.
  std::string whitespace;
  // Nesting of include/extends (at load and at render): deeper is refused with an error
  // (this also stops a template that includes itself).
  int max_include_depth = 32;
  // Nesting of block directives (if/for/while/try/apply/block) in one file.
  int max_block_depth = 100;
  // Depth of one expression: each bracket, unary operator, conditional and each link of an
  // operator or access chain (a + b + c, a.b[c]) counts one. Bounds the parser's and the
  // evaluator's recursion, so a hostile template cannot overflow the stack.
  int max_expression_depth = 200;
  // Render budgets, 0 = unlimited. max_output_bytes bounds what generate() returns;
  // max_loop_iterations bounds the for/while iterations of one generate() call (a
  // template that loops forever is its author's problem unless this is set).
  std::size_t max_output_bytes = 0;
  std::uint64_t max_loop_iterations = 0;
  // Longest list or string one operation may build (range(), '*', join, ...): bounded
  // so that range(10**12) is an error and not an out-of-memory kill.
  std::size_t max_sequence_length = 10'000'000;
};

// A syntax error, raised by the Template constructor (or Loader::load): the template's name,
// the 1-based line, and the problem. what() is "<message> at <filename>:<lineno>" as Tornado.
class ParseError : public std::runtime_error {
 public:
  ParseError(std::string message, std::string filename, int lineno);
  const std::string& message() const noexcept { return message_; }
  const std::string& filename() const noexcept { return filename_; }
  int lineno() const noexcept { return lineno_; }

 private:
  std::string message_;
  std::string filename_;
  int lineno_;
};

// An error while rendering: `kind` is the Python exception class the same template raises
// in Tornado (NameError, KeyError, TypeError, ZeroDivisionError, ...; "Exception" for a
// Function that threw; "LimitError" for a broken TemplateOptions budget). what() is
// "<kind>: <message> at <filename>:<lineno>", then " (via <includer>:<line>, ...)" when the
// error came through include or a block.
class TemplateError : public std::runtime_error {
 public:
  TemplateError(std::string kind, std::string message, std::string filename, int lineno,
                std::string via = {});
  const std::string& kind() const noexcept { return kind_; }
  const std::string& message() const noexcept { return message_; }
  const std::string& filename() const noexcept { return filename_; }
  int lineno() const noexcept { return lineno_; }

 private:
  std::string kind_;
  std::string message_;
  std::string filename_;
  int lineno_;
};

class BaseLoader;
namespace detail {
struct File;
}

class Template {
 public:
  // Parses `source` (UTF-8). Throws ParseError; std::invalid_argument for a bad
  // options.whitespace. A template made this way has no loader: include/extends in it are
  // a ParseError, as in Tornado.
  explicit Template(std::string source, std::string name = "<string>",
                    TemplateOptions options = {});
  ~Template();
  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;

  // Renders with `values` (a JSON object: its keys are the template's variables; null is
  // taken as {}) and `functions`. Returns the UTF-8 output. Throws TemplateError. Any thread.
  std::string generate(const nlohmann::json& values, const Functions& functions = {}) const;
  // The same, with `defaults` consulted where `values` and `functions` have no entry.
  std::string generate(const nlohmann::json& values, const Functions& functions,
                       Defaults& defaults) const;

  const std::string& name() const noexcept;
  // The loader this template came from, or nullptr.
  BaseLoader* loader() const noexcept { return loader_; }

 private:
  friend class BaseLoader;
  friend struct detail::File;
  Template(std::string source, std::string name, TemplateOptions options, BaseLoader* loader);

  std::unique_ptr<detail::File> file_;
  BaseLoader* loader_ = nullptr;
};

// Loads templates by name and caches the parsed result. Relative names in include/extends
// resolve against the including template's directory, as Tornado. One thread per loader.
class BaseLoader {
 public:
  explicit BaseLoader(TemplateOptions options = {});
  virtual ~BaseLoader();
  BaseLoader(const BaseLoader&) = delete;
  BaseLoader& operator=(const BaseLoader&) = delete;

  // The template `name` (resolved against `parent_path` when that is a template name),
  // parsed on first use and cached. Throws ParseError (syntax, a missing file, include or
  // extends nested past max_include_depth).
  std::shared_ptr<const Template> load(std::string_view name, std::string_view parent_path = {});
  // Drops every cached template.
  void reset();
  // Converts a possibly relative name to the name the cache uses (Tornado's resolve_path).
  virtual std::string resolve_path(std::string_view name, std::string_view parent_path) const = 0;

  const TemplateOptions& options() const noexcept { return options_; }

 protected:
  // Reads the source of a resolved name; nullopt if there is none.
  virtual std::optional<std::string> read_source(const std::string& name) = 0;
  // True if the cached copy of `name` is stale (Loader with watch = true checks mtimes).
  virtual bool is_stale(const std::string& /*name*/) { return false; }

 private:
  TemplateOptions options_;
  std::map<std::string, std::shared_ptr<const Template>, std::less<>> templates_;
  int loading_depth_ = 0;
};

// Templates from a directory. With watch = true (debug mode) a cached template whose file's
// modification time changed is re-read on the next load().
class Loader : public BaseLoader {
 public:
  explicit Loader(std::string root_directory, TemplateOptions options = {}, bool watch = false);
  std::string resolve_path(std::string_view name, std::string_view parent_path) const override;
  const std::string& root() const noexcept { return root_; }

 protected:
  std::optional<std::string> read_source(const std::string& name) override;
  bool is_stale(const std::string& name) override;

 private:
  std::string root_;
  bool watch_;
  std::map<std::string, std::int64_t, std::less<>> mtimes_;  // ns since epoch, when watching
};

// Templates from a map of name -> source.
class DictLoader : public BaseLoader {
 public:
  explicit DictLoader(std::map<std::string, std::string, std::less<>> templates,
                      TemplateOptions options = {});
  // DictLoader loader({{"base.html", "..."}, {"page.html", "..."}});
  DictLoader(std::initializer_list<std::pair<const std::string, std::string>> templates,
             TemplateOptions options = {})
      : DictLoader(std::map<std::string, std::string, std::less<>>(templates), std::move(options)) {
  }
  std::string resolve_path(std::string_view name, std::string_view parent_path) const override;

 protected:
  std::optional<std::string> read_source(const std::string& name) override;

 private:
  std::map<std::string, std::string, std::less<>> dict_;
};

// Python's str() of a JSON value as templates print it: strings as they are, True/False/
// None, ints, floats in repr form (1.0, 1e+16), lists and dicts with repr'd items.
std::string to_python_str(const nlohmann::json& value);

}  // namespace tornado::templates
