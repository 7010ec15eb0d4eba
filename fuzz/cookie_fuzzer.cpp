// libFuzzer target: Cookie header parsing (httputil::parse_cookie and
// HTTPServerRequest::cookies()).
//
// Input: a Cookie header value; a LF splits it into several Cookie fields for cookies().
//
// Checked: neither throws; names never hold ';' or '=' (they split the header) and have no
// surrounding whitespace; the request's cookies are the parse_cookie pairs whose names
// Python's SimpleCookie accepts (same values), for one field and for the LF-separated
// fields joined with "; "; plain pairs written back as "name=value; " parse to the same map.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "tornado/httputil.h"

namespace {

using tornado::httputil::HTTPHeaders;
using tornado::httputil::HTTPServerRequest;

bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

void check(std::string_view input) {
  auto parsed = tornado::httputil::parse_cookie(input);
  for (const auto& [name, value] : parsed) {
    FUZZ_CHECK(name.find(';') == std::string::npos && name.find('=') == std::string::npos);
    FUZZ_CHECK(name.empty() || (!is_space(name.front()) && !is_space(name.back())));
  }

  // The request joins several Cookie fields with "; " and keeps the legal names.
  std::string joined;
  HTTPHeaders headers;
  bool addable = true;
  std::size_t start = 0;
  while (true) {
    std::size_t lf = input.find('\n', start);
    std::string_view field = input.substr(start, lf == std::string_view::npos ? lf : lf - start);
    try {
      headers.add("Cookie", field);
    } catch (const tornado::httputil::HTTPOutputError&) {
      addable = false;  // a value with control characters cannot be a header
      break;
    }
    if (!joined.empty() || start > 0) joined += "; ";
    joined += field;
    if (lf == std::string_view::npos) break;
    start = lf + 1;
  }
  if (addable) {
    HTTPServerRequest request("GET", "/", "HTTP/1.1", headers);
    const auto& cookies = request.cookies();
    auto all = tornado::httputil::parse_cookie(joined);
    for (const auto& [name, value] : cookies) {
      auto it = all.find(name);
      FUZZ_CHECK(it != all.end() && it->second == value);
      FUZZ_CHECK(!name.empty());
    }
  }

  // Round trip of plain pairs: names and values without separators, quotes or spaces.
  auto plain = [](const std::string& s) {
    for (char c : s) {
      if (c == ';' || c == '=' || c == '"' || c == '\\' || is_space(c)) return false;
    }
    return true;
  };
  std::string rewritten;
  bool all_plain = true;
  for (const auto& [name, value] : parsed) {
    if (name.empty() || !plain(name) || !plain(value)) {
      all_plain = false;
      break;
    }
    rewritten += name + "=" + value + "; ";
  }
  if (all_plain) FUZZ_CHECK(tornado::httputil::parse_cookie(rewritten) == parsed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  check(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
