// The Content-Disposition parameter parser shared by the buffered multipart parser
// (httputil_form.cpp) and the streaming one (httputil_multipart_stream.cpp).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tornado::httputil::detail {

// RFC 2046 5.1.1: a multipart boundary is 1 to 70 characters.
inline constexpr std::size_t kMaxBoundaryLength = 70;

// Python's str.strip() for ASCII whitespace (space, \t \n \v \f \r). Python also strips
// U+0085 and U+00A0, which would eat the last byte of some UTF-8 text; this does not.
inline std::string_view strip_ascii_space(std::string_view s) {
  auto space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

struct ParsedHeader {
  std::string value;  // "form-data"
  std::vector<std::pair<std::string, std::string>> params;
  const std::string* get(std::string_view name) const {
    for (auto it = params.rbegin(); it != params.rend(); ++it) {
      if (it->first == name) return &it->second;
    }
    return nullptr;
  }
};

// Parses a Content-Disposition-like value: "form-data; name=\"a\"; filename*=UTF-8''%C3%A1".
// Parameters are split at ';' outside double quotes in one linear pass (a quote preceded
// by a backslash does not open or close). Names are lower-cased; parameters without '='
// are dropped; RFC 2231 "name*" and "name*0", "name*1*" continuations are decoded and win
// over a plain parameter of the same name.
ParsedHeader parse_header_params(std::string_view line);

}  // namespace tornado::httputil::detail
