// tornado/routing.h — rules that map a request to a target (Tornado's `routing`).
//
//   using namespace tornado::routing;
//   auto api = std::make_shared<RuleRouter>();
//   api->add_rule(Rule(std::make_shared<PathMatches>("/api/items/(?P<id>[0-9]+)"), target,
//   "item")); RuleRouter root; root.add_rule(Rule(std::make_shared<HostMatches>("example\\.com"),
//   api));   // nested router const Rule* rule = root.find(request, args);   // args.args /
//   args.kwargs: the path arguments root.reverse_url("item", {"42"});               //
//   "/api/items/42"
//
// A Matcher says whether a request fits a rule (and extracts path arguments); a Rule pairs a
// matcher with a target — a Target the layer above knows how to run (web::Application uses
// handler factories) or another RuleRouter, searched in turn (the innermost match's path
// arguments win, as in Tornado). Patterns are PCRE2 (Python's `(?P<name>...)` syntax works),
// compiled with JIT once when the matcher is made, anchored at the start, and given a `$` at
// the end unless they have one, as Tornado does: a pattern must match the whole path.
//
// Thread rule: build routers before serving; matching is const and safe from any thread.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "tornado/httputil.h"

namespace tornado::routing {

// A pattern that does not compile, or reverse_url asked of a rule it cannot reverse.
class RoutingError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// The path arguments a match produced, URL-unescaped (not '+' as space) as Tornado does.
// With named groups only the named ones are kept (kwargs); otherwise every group in order
// (args). A group that did not take part in the match is "" (Python's None).
struct PathArgs {
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> kwargs;
  void clear() noexcept {
    args.clear();
    kwargs.clear();
  }
};

// Decides whether a request matches (Tornado's Matcher).
class Matcher {
 public:
  virtual ~Matcher() = default;
  // True on a match; fills `out` with the path arguments (if any).
  virtual bool match(const httputil::HTTPServerRequest& request, PathArgs& out) const = 0;
  // The URL for these arguments, or nullopt if this matcher cannot build URLs.
  virtual std::optional<std::string> reverse(const std::vector<std::string>& /*args*/) const {
    return std::nullopt;
  }
  // The path, if this matcher accepts exactly one path and looks at nothing else (a path
  // pattern without regex syntax); nullptr otherwise. RuleRouter looks such rules up by
  // path instead of trying each in turn.
  virtual const std::string* literal_path() const noexcept { return nullptr; }
};

// Matches every request.
class AnyMatches final : public Matcher {
 public:
  bool match(const httputil::HTTPServerRequest&, PathArgs&) const override { return true; }
};

class Regex;  // a compiled PCRE2 pattern (src/routing.cpp)

// Matches request.host_name against a regular expression ("$" appended if missing).
class HostMatches final : public Matcher {
 public:
  explicit HostMatches(std::string_view host_pattern);
  ~HostMatches() override;
  bool match(const httputil::HTTPServerRequest& request, PathArgs& out) const override;

 private:
  std::unique_ptr<Regex> regex_;
};

// Matches when the request has no X-Real-Ip header and `default_host` (read at match time,
// so it may be set after the rule is made; Application::default_host) matches the pattern.
class DefaultHostMatches final : public Matcher {
 public:
  DefaultHostMatches(const std::string& default_host, std::string_view host_pattern);
  ~DefaultHostMatches() override;
  bool match(const httputil::HTTPServerRequest& request, PathArgs& out) const override;

 private:
  const std::string& default_host_;
  std::unique_ptr<Regex> regex_;
};

// Matches request.path against a regular expression (Tornado's PathMatches). Throws
// RoutingError for a pattern PCRE2 cannot compile (with its message and offset).
class PathMatches final : public Matcher {
 public:
  explicit PathMatches(std::string_view pattern);
  ~PathMatches() override;
  bool match(const httputil::HTTPServerRequest& request, PathArgs& out) const override;
  // Tornado's reverse: the groups replaced by the url-escaped args. Throws RoutingError if
  // the pattern is not reversible (nested groups, escapes like \d outside groups) or the
  // argument count differs from the group count.
  std::optional<std::string> reverse(const std::vector<std::string>& args) const override;
  // Matches a path directly (the work of match()).
  bool match_path(std::string_view path, PathArgs& out) const;
  const std::string* literal_path() const noexcept override {
    return is_literal_ ? &literal_ : nullptr;
  }

  const std::string& pattern() const noexcept { return pattern_; }
  std::size_t group_count() const noexcept { return group_count_; }
  // The reverse template's literal pieces (nullopt: not reversible).
  const std::optional<std::vector<std::string>>& reverse_pieces() const noexcept { return pieces_; }

 private:
  std::string pattern_;  // with the "$"
  std::string literal_;  // the whole path when the pattern has no regex syntax
  bool is_literal_ = false;
  std::unique_ptr<Regex> regex_;
  std::size_t group_count_ = 0;
  std::vector<std::string> group_names_;  // by group number (1-based at [n-1]); "" unnamed
  bool has_named_ = false;
  std::optional<std::vector<std::string>> pieces_;  // text between the groups
};

// What a rule leads to, for the layer above (web::HandlerFactory derives from it).
class Target {
 public:
  virtual ~Target() = default;
};

class RuleRouter;

struct Rule {
  // `name` lets reverse_url find the rule. Throws std::invalid_argument on a null matcher
  // or target.
  Rule(std::shared_ptr<const Matcher> matcher, std::shared_ptr<const Target> target,
       std::string name = {});
  Rule(std::shared_ptr<const Matcher> matcher, std::shared_ptr<RuleRouter> router,
       std::string name = {});

  std::shared_ptr<const Matcher> matcher;
  std::shared_ptr<const Target> target;  // one of target and router is set
  std::shared_ptr<RuleRouter> router;
  std::string name;
};

// An ordered list of rules; the first match wins (Tornado's ReversibleRuleRouter). The
// leading run of rules that each accept one literal path is searched by its paths (the same
// first match, without trying each rule in turn): a short run compared in order, a longer
// one through a hash.
class RuleRouter {
 public:
  RuleRouter() = default;
  explicit RuleRouter(std::vector<Rule> rules);
  virtual ~RuleRouter() = default;

  void add_rules(std::vector<Rule> rules);
  // Appends a rule; a name already used is replaced in the name table (with a warning).
  void add_rule(Rule rule);
  // Inserts at the front (Application::add_handlers puts host rules before the catch-all).
  void insert_rule(std::size_t index, Rule rule);

  // The matching rule whose target is a Target (searching nested routers), with the path
  // arguments in `args`; nullptr if nothing matched.
  const Rule* find(const httputil::HTTPServerRequest& request, PathArgs& args) const;

  // The URL of the rule named `name` here or in a nested router (nullopt if no such name).
  // Throws RoutingError if that rule cannot be reversed with these arguments.
  std::optional<std::string> reverse_url(std::string_view name,
                                         const std::vector<std::string>& args = {}) const;

  const std::vector<Rule>& rules() const noexcept { return rules_; }

 private:
  const Rule* find_named(std::string_view name) const noexcept;
  void index_literal_rules();
  std::vector<Rule> rules_;
  // Rules [0, literal_prefix_) each accept exactly one path; literal_rules_ maps a path to
  // the first of them that accepts it (the views point into the rules' own matchers).
  // A run of at most kLinearLiterals is compared path by path (sizes first) instead: an
  // application's handful of routes costs a few compares, not a string hash and a division.
  static constexpr std::size_t kLinearLiterals = 16;
  std::size_t literal_prefix_ = 0;
  std::unordered_map<std::string_view, std::size_t> literal_rules_;
  std::vector<std::string_view> literal_paths_;  // rule i's path at [i], i < literal_prefix_
  // The first rule of [0, literal_prefix_) accepting `path`, or literal_prefix_ if none.
  inline std::size_t find_literal(std::string_view path) const noexcept;
};

// Python's re-escape undone (`\.` → `.`); nullopt for an escape that is a character class
// or other regex syntax (`\d`, `\w`): such a pattern cannot be reversed. Tornado's re_unescape.
std::optional<std::string> re_unescape(std::string_view s);

}  // namespace tornado::routing
