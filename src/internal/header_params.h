// The Content-Disposition parameter parser shared by the buffered multipart parser
// (httputil_form.cpp) and the streaming one (httputil_multipart_stream.cpp).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tornado::httputil::detail {

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
