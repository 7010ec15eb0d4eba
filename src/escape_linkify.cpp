// escape::linkify: finds URLs in escaped text with one PCRE2 pattern (UTF + Unicode
// properties, so \w, \s and \b mean what they mean in Python's re on str) and rewrites each
// match by Tornado's rules.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>

#include "internal/utf8.h"
#include "tornado/escape.h"

namespace tornado::escape {
namespace {

// A URL is "proto:" with 1-3 slashes, or "www.", followed by one or more pieces. A piece
// is either a run of ordinary characters ending in one that is not trailing punctuation,
// or a balanced "(...)". Inside a piece, '&' only appears as an escaped &amp; or &quot;
// (the text is already xhtml-escaped), so "&lt;" and "&gt;" end a URL.
constexpr const char* kUrlPattern =
    R"re(\b()re"
    R"re((?:([\w-]+):(/{1,3})|www[.]))re"                  // 2: proto, 3: slashes
    R"re((?:(?:(?:[^\s&()]|&amp;|&quot;)*)re"               // ordinary characters,
    R"re((?:[^!"#$%&'()*+,.:;<=>?@\[\]^`{|}~\s])))re"       // the last one no punctuation
    R"re(|(?:\((?:[^\s&()]|&amp;|&quot;)*\)))+)re"          // or a (...) group
    R"re())re";

struct CodeDeleter {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};

const pcre2_code* url_regex() {
  static const std::unique_ptr<pcre2_code, CodeDeleter> code = [] {
    int error = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code* c = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(kUrlPattern), PCRE2_ZERO_TERMINATED,
                                  PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error,
                                  &offset, nullptr);
    if (c == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof message);
      throw std::logic_error(std::string("linkify pattern: ") +
                             reinterpret_cast<const char*>(message));
    }
    pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);  // falls back to the interpreter if no JIT
    return std::unique_ptr<pcre2_code, CodeDeleter>(c);
  }();
  return code.get();
}

struct MatchDataDeleter {
  void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};

// The JIT keeps one backtracking frame per character of a URL, so long URLs outgrow the
// default 32 KiB JIT stack: give each thread a stack that can grow to 4 MiB. Past that
// the interpreter (heap-backed) takes over, see match_at.
struct JitContext {
  pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  JitContext() {
    if (stack != nullptr && context != nullptr) pcre2_jit_stack_assign(context, nullptr, stack);
  }
  ~JitContext() {
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(stack);
  }
  JitContext(const JitContext&) = delete;
  JitContext& operator=(const JitContext&) = delete;
};

int match_at(const pcre2_code* re, std::string_view subject, std::size_t pos,
             pcre2_match_data* md) {
  thread_local JitContext jit;
  const auto* data = reinterpret_cast<PCRE2_SPTR>(subject.data());
  int rc = pcre2_match(re, data, subject.size(), pos, 0, md, jit.context);
  if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
    rc = pcre2_match(re, data, subject.size(), pos, PCRE2_NO_JIT, md, jit.context);
  }
  return rc;
}

std::string_view strip_whitespace(std::string_view s) {
  auto is_space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Tornado's display shortening: keep the protocol, the host and the start of the first
// path segment; cut to 30 characters if still over 45; add "..." (and a title with the full
// href) only if that made it shorter. Lengths count code points, as Python does.
std::string shorten_url(std::string_view url, std::size_t proto_len, std::string_view href,
                        std::string& params) {
  constexpr std::size_t kMaxLen = 30;
  std::string shortened(url);
  std::string_view rest = url.substr(proto_len);
  std::size_t slash = rest.find('/');
  if (slash != std::string_view::npos) {
    std::string_view second = rest.substr(slash + 1);
    second = second.substr(0, second.find('/'));
    second = second.substr(0, internal::code_point_prefix(second, 8));
    second = second.substr(0, second.find('?'));
    second = second.substr(0, second.find('.'));
    shortened = std::string(url.substr(0, proto_len + slash + 1)).append(second);
  }
  if (internal::code_point_count(shortened) * 2 > kMaxLen * 3) {  // > 1.5 * max
    shortened.resize(internal::code_point_prefix(shortened, kMaxLen));
  }
  if (shortened == url) return shortened;
  std::size_t amp = shortened.rfind('&');
  if (amp != std::string::npos &&
      internal::code_point_count(std::string_view(shortened).substr(0, amp)) > kMaxLen - 5) {
    shortened.resize(amp);
  }
  shortened += "...";
  if (internal::code_point_count(shortened) >= internal::code_point_count(url)) {
    return std::string(url);
  }
  params.append(" title=\"").append(href).append("\"");
  return shortened;
}

}  // namespace

std::string linkify(std::string_view text, const LinkifyOptions& options) {
  const std::string escaped = xhtml_escape(text);
  const pcre2_code* re = url_regex();
  std::unique_ptr<pcre2_match_data, MatchDataDeleter> md(
      pcre2_match_data_create_from_pattern(re, nullptr));
  std::string fixed_params;
  if (!options.extra_params.empty()) {
    fixed_params = " " + std::string(strip_whitespace(options.extra_params));
  }

  std::string out;
  out.reserve(escaped.size() + escaped.size() / 2);
  std::size_t pos = 0;
  while (pos <= escaped.size()) {
    int rc = match_at(re, escaped, pos, md.get());
    if (rc < 0) {
      if (rc != PCRE2_ERROR_NOMATCH) {
        throw std::runtime_error("linkify: pattern matching failed (error " +
                                 std::to_string(rc) + ")");
      }
      break;
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    auto group = [&](int i) -> std::string_view {
      if (i >= rc || ov[2 * i] == PCRE2_UNSET) return {};
      return std::string_view(escaped).substr(ov[2 * i], ov[2 * i + 1] - ov[2 * i]);
    };
    out.append(escaped, pos, ov[0] - pos);
    pos = ov[1];
    std::string_view url = group(1);
    std::string_view proto = group(2);
    bool has_proto = rc > 2 && ov[4] != PCRE2_UNSET;

    if ((options.require_protocol && !has_proto) ||
        (has_proto && std::find(options.permitted_protocols.begin(),
                                options.permitted_protocols.end(),
                                proto) == options.permitted_protocols.end())) {
      out.append(url);
      continue;
    }
    std::string href = has_proto ? std::string(url) : "http://" + std::string(url);
    std::string params = options.extra_params_fn
                             ? " " + std::string(strip_whitespace(options.extra_params_fn(href)))
                             : fixed_params;
    std::string display(url);
    if (options.shorten && internal::code_point_count(url) > 30) {
      std::size_t proto_len = has_proto ? proto.size() + 1 + group(3).size() : 0;
      display = shorten_url(url, proto_len, href, params);
    }
    out.append("<a href=\"").append(href).append("\"").append(params).append(">");
    out.append(display).append("</a>");
  }
  if (pos < escaped.size()) out.append(escaped, pos, std::string::npos);
  return out;
}

}  // namespace tornado::escape
