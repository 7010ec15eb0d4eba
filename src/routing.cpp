#include "tornado/routing.h"

#include "tornado/hot.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "internal/small_copy.h"
#include "tornado/escape.h"
#include "tornado/log.h"

namespace tornado::routing {

// A compiled, anchored PCRE2 pattern with its JIT code. Match data is per thread, sized for
// the largest group count seen, so a match allocates nothing.
class Regex {
 public:
  explicit Regex(const std::string& pattern) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                          PCRE2_ANCHORED | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &error, &offset,
                          nullptr);
    if (code_ == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof message);
      throw RoutingError("bad route pattern '" + pattern + "' at offset " + std::to_string(offset) +
                         ": " + reinterpret_cast<char*>(message));
    }
    pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);  // falls back to the interpreter without JIT
    uint32_t count = 0;
    pcre2_pattern_info(code_, PCRE2_INFO_CAPTURECOUNT, &count);
    groups_ = count;
  }
  ~Regex() { pcre2_code_free(code_); }
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  std::size_t groups() const noexcept { return groups_; }
  pcre2_code* code() const noexcept { return code_; }

  // Matches `subject` from its start; on success the ovector holds the groups.
  const PCRE2_SIZE* match(std::string_view subject) const {
    pcre2_match_data* data = match_data(groups_ + 1);
    int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0, 0,
                         data, nullptr);
    if (rc < 0) return nullptr;
    return pcre2_get_ovector_pointer(data);
  }

 private:
  static pcre2_match_data* match_data(std::size_t pairs) {
    struct Holder {
      pcre2_match_data* data = nullptr;
      std::size_t pairs = 0;
      ~Holder() { pcre2_match_data_free(data); }
    };
    thread_local Holder holder;
    if (holder.pairs < pairs) {
      pcre2_match_data_free(holder.data);
      holder.pairs = std::max<std::size_t>(pairs, 16);
      holder.data = pcre2_match_data_create(static_cast<uint32_t>(holder.pairs), nullptr);
      if (holder.data == nullptr) throw std::bad_alloc();
    }
    return holder.data;
  }

  pcre2_code* code_ = nullptr;
  std::size_t groups_ = 0;
};

namespace {

std::string with_dollar(std::string_view pattern) {
  std::string p(pattern);
  if (!p.ends_with('$')) p.push_back('$');
  return p;
}

bool has_regex_syntax(std::string_view s) {
  return s.find_first_of("\\^$.|?*+()[]{}") != std::string_view::npos;
}

}  // namespace

std::optional<std::string> re_unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      char next = s[i + 1];
      unsigned char u = static_cast<unsigned char>(next);
      if (std::isalnum(u) != 0) return std::nullopt;  // \d, \w, \1: not a literal
      out.push_back(next);
      ++i;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

HostMatches::HostMatches(std::string_view host_pattern)
    : regex_(std::make_unique<Regex>(with_dollar(host_pattern))) {}
HostMatches::~HostMatches() = default;

bool HostMatches::match(const httputil::HTTPServerRequest& request, PathArgs&) const {
  return regex_->match(request.host_name) != nullptr;
}

DefaultHostMatches::DefaultHostMatches(const std::string& default_host,
                                       std::string_view host_pattern)
    : default_host_(default_host), regex_(std::make_unique<Regex>(with_dollar(host_pattern))) {}
DefaultHostMatches::~DefaultHostMatches() = default;

bool DefaultHostMatches::match(const httputil::HTTPServerRequest& request, PathArgs&) const {
  // Tornado: a request through a proxy (X-Real-Ip) is never the default host's.
  if (request.headers.contains("X-Real-Ip")) return false;
  return regex_->match(default_host_) != nullptr;
}

PathMatches::PathMatches(std::string_view pattern) : pattern_(with_dollar(pattern)) {
  regex_ = std::make_unique<Regex>(pattern_);
  group_count_ = regex_->groups();
  group_names_.assign(group_count_, std::string());
  uint32_t name_count = 0, entry_size = 0;
  PCRE2_SPTR table = nullptr;
  pcre2_pattern_info(regex_->code(), PCRE2_INFO_NAMECOUNT, &name_count);
  if (name_count > 0) {
    pcre2_pattern_info(regex_->code(), PCRE2_INFO_NAMEENTRYSIZE, &entry_size);
    pcre2_pattern_info(regex_->code(), PCRE2_INFO_NAMETABLE, &table);
    for (uint32_t i = 0; i < name_count; ++i) {
      PCRE2_SPTR entry = table + i * entry_size;
      std::size_t number = (static_cast<std::size_t>(entry[0]) << 8) | entry[1];
      if (number >= 1 && number <= group_count_) {
        group_names_[number - 1] = reinterpret_cast<const char*>(entry + 2);
      }
    }
    has_named_ = true;
  }

  // Tornado's _find_groups: the pattern without its anchors, split at each "(".
  std::string_view body = pattern_;
  if (body.starts_with('^')) body.remove_prefix(1);
  if (body.ends_with('$')) body.remove_suffix(1);
  if (!has_regex_syntax(body)) {
    is_literal_ = true;  // matched by comparison, no regex run per request
    literal_ = std::string(body);
  }
  if (static_cast<std::size_t>(std::count(body.begin(), body.end(), '(')) != group_count_) {
    return;  // non-capturing or nested groups: not reversible
  }
  // Each "(" starts a fragment whose text after its first ")" is literal; the groups
  // become '\0' markers in the template.
  std::string templ;
  std::size_t start = 0;
  while (true) {
    std::size_t open = body.find('(', start);
    std::string_view fragment =
        body.substr(start, open == std::string_view::npos ? std::string_view::npos : open - start);
    std::size_t close = fragment.find(')');
    if (close != std::string_view::npos) {
      templ.push_back('\0');
      fragment.remove_prefix(close + 1);
    }
    auto unescaped = re_unescape(fragment);
    if (!unescaped) return;
    templ += *unescaped;
    if (open == std::string_view::npos) break;
    start = open + 1;
  }
  std::vector<std::string> pieces(1);
  for (char c : templ) {
    if (c == '\0') {
      pieces.emplace_back();
    } else {
      pieces.back().push_back(c);
    }
  }
  if (pieces.size() != group_count_ + 1) return;
  pieces_ = std::move(pieces);
}

PathMatches::~PathMatches() = default;

bool PathMatches::match(const httputil::HTTPServerRequest& request, PathArgs& out) const {
  return match_path(request.path, out);
}

bool PathMatches::match_path(std::string_view path, PathArgs& out) const {
  if (is_literal_) return path == literal_;
  const PCRE2_SIZE* ov = regex_->match(path);
  if (ov == nullptr) return false;
  for (std::size_t g = 1; g <= group_count_; ++g) {
    std::string value;
    if (ov[2 * g] != PCRE2_UNSET) {
      value = escape::url_unescape(path.substr(ov[2 * g], ov[2 * g + 1] - ov[2 * g]), false);
    }
    if (has_named_) {
      if (!group_names_[g - 1].empty()) out.kwargs.emplace_back(group_names_[g - 1], value);
    } else {
      out.args.push_back(std::move(value));
    }
  }
  return true;
}

std::optional<std::string> PathMatches::reverse(const std::vector<std::string>& args) const {
  if (!pieces_) throw RoutingError("Cannot reverse url regex " + pattern_);
  if (args.size() != group_count_) {
    throw RoutingError("required number of arguments not found: " + pattern_ + " takes " +
                       std::to_string(group_count_) + ", got " + std::to_string(args.size()));
  }
  std::string url = (*pieces_)[0];
  for (std::size_t i = 0; i < args.size(); ++i) {
    url += escape::url_escape(args[i], false);
    url += (*pieces_)[i + 1];
  }
  return url;
}

Rule::Rule(std::shared_ptr<const Matcher> m, std::shared_ptr<const Target> t, std::string n)
    : matcher(std::move(m)), target(std::move(t)), name(std::move(n)) {
  if (!matcher || !target) throw std::invalid_argument("Rule: null matcher or target");
}

Rule::Rule(std::shared_ptr<const Matcher> m, std::shared_ptr<RuleRouter> r, std::string n)
    : matcher(std::move(m)), router(std::move(r)), name(std::move(n)) {
  if (!matcher || !router) throw std::invalid_argument("Rule: null matcher or router");
}

RuleRouter::RuleRouter(std::vector<Rule> rules) { add_rules(std::move(rules)); }

void RuleRouter::add_rules(std::vector<Rule> rules) {
  for (auto& r : rules) add_rule(std::move(r));
}

void RuleRouter::add_rule(Rule rule) { insert_rule(rules_.size(), std::move(rule)); }

void RuleRouter::insert_rule(std::size_t index, Rule rule) {
  if (!rule.name.empty() && find_named(rule.name) != nullptr) {
    app_log().warn("Multiple handlers named {}; replacing previous value", rule.name);
    for (auto& r : rules_) {
      if (r.name == rule.name) r.name.clear();
    }
  }
  const std::size_t at = std::min(index, rules_.size());
  rules_.insert(rules_.begin() + static_cast<std::ptrdiff_t>(at), std::move(rule));
  if (at + 1 < rules_.size()) {
    index_literal_rules();  // inserted before others: the leading run may change anywhere
  } else if (literal_prefix_ == at) {
    // Appended right after the leading literal run (add_rule's usual case: a thousand
    // routes added one by one cost a thousand hash insertions, not a rebuild each).
    if (const std::string* path = rules_[at].matcher->literal_path()) {
      literal_rules_.emplace(*path, at);
      literal_paths_.emplace_back(*path);
      ++literal_prefix_;
    }
  }
}

void RuleRouter::index_literal_rules() {
  literal_rules_.clear();
  literal_paths_.clear();
  literal_prefix_ = 0;
  while (literal_prefix_ < rules_.size()) {
    const std::string* path = rules_[literal_prefix_].matcher->literal_path();
    if (path == nullptr) break;
    literal_rules_.emplace(*path, literal_prefix_);  // a repeated path keeps its first rule
    literal_paths_.emplace_back(*path);
    ++literal_prefix_;
  }
}

std::size_t RuleRouter::find_literal(std::string_view path) const noexcept {
  if (literal_prefix_ <= kLinearLiterals) {
    // In rule order: the first equal path is the first rule accepting it.
    for (std::size_t i = 0; i < literal_prefix_; ++i) {
      const std::string_view p = literal_paths_[i];
      if (p.size() == path.size() && internal::equal_small(p.data(), path.data(), p.size())) {
        return i;
      }
    }
    return literal_prefix_;
  }
  const auto hit = literal_rules_.find(path);
  return hit == literal_rules_.end() ? literal_prefix_ : hit->second;
}

TORNADO_HOT const Rule* RuleRouter::find(const httputil::HTTPServerRequest& request,
                                         PathArgs& args) const {
  // Of the leading literal rules, only those with the request's exact path can match: the
  // first is found by its path (find_literal), and the scan goes on after it (or after them all).
  std::size_t start = 0;
  if (literal_prefix_ > 0) {
    const std::size_t hit = find_literal(request.path);
    if (hit == literal_prefix_) {
      start = literal_prefix_;
    } else {
      const Rule& rule = rules_[hit];
      args.clear();
      if (rule.target) return &rule;
      if (const Rule* inner = rule.router->find(request, args)) return inner;
      start = hit + 1;
    }
  }
  for (std::size_t i = start; i < rules_.size(); ++i) {
    const Rule& rule = rules_[i];
    args.clear();
    if (!rule.matcher->match(request, args)) continue;
    if (rule.target) return &rule;
    args.clear();  // a nested router's own match gives the path arguments
    if (const Rule* inner = rule.router->find(request, args)) return inner;
  }
  args.clear();
  return nullptr;
}

const Rule* RuleRouter::find_named(std::string_view name) const noexcept {
  for (const Rule& rule : rules_) {
    if (rule.name == name) return &rule;
  }
  return nullptr;
}

std::optional<std::string> RuleRouter::reverse_url(std::string_view name,
                                                   const std::vector<std::string>& args) const {
  if (const Rule* rule = find_named(name)) {
    auto url = rule->matcher->reverse(args);
    if (!url) throw RoutingError("rule '" + std::string(name) + "' cannot be reversed");
    return url;
  }
  for (const Rule& rule : rules_) {
    if (rule.router) {
      if (auto url = rule.router->reverse_url(name, args)) return url;
    }
  }
  return std::nullopt;
}

}  // namespace tornado::routing
