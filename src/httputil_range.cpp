// httputil: the Range request header and Content-Range (RFC 9110 14), with Tornado's rules.
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "internal/http_parser.h"
#include "tornado/httputil.h"

namespace tornado::httputil {
namespace {

using http1::iequals;
using http1::trim_ows;

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// A byte position: empty → none; decimal digits only → the value, saturating at INT64_MAX;
// anything else → `ok` false.
std::optional<int64_t> parse_position(std::string_view text, bool& ok) noexcept {
  text = trim_ows(text);
  if (text.empty()) return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      ok = false;
      return std::nullopt;
    }
    int digit = c - '0';
    value = value > (kMax - digit) / 10 ? kMax : value * 10 + digit;
  }
  return value;
}

}  // namespace

std::optional<ByteRange> parse_request_range(std::string_view header) noexcept {
  auto eq = header.find('=');
  std::string_view unit = trim_ows(header.substr(0, eq));
  if (eq == std::string_view::npos || !iequals(unit, "bytes")) return std::nullopt;
  std::string_view spec = trim_ows(header.substr(eq + 1));
  auto dash = spec.find('-');
  std::string_view first = spec.substr(0, dash);
  std::string_view last =
      dash == std::string_view::npos ? std::string_view{} : spec.substr(dash + 1);
  bool ok = true;
  ByteRange range{parse_position(first, ok), parse_position(last, ok)};
  if (!ok) return std::nullopt;  // includes a second range: the ',' is not a digit
  if (range.end) {
    if (!range.start) {
      // `-n`: the last n bytes; `-0` stays {none, 0}, which is unsatisfiable.
      if (*range.end != 0) {
        range.start = -*range.end;
        range.end.reset();
      }
    } else if (*range.end < kMax) {
      *range.end += 1;  // inclusive last-byte-pos → slice end
    }
  }
  return range;
}

std::string get_content_range(std::optional<int64_t> start, std::optional<int64_t> end,
                              int64_t total) {
  int64_t first = start.value_or(0);
  int64_t last = (end && *end != 0 ? *end : total) - 1;
  std::string out = "bytes ";
  out += std::to_string(first);
  out += '-';
  out += std::to_string(last);
  out += '/';
  out += std::to_string(total);
  return out;
}

RangeDecision decide_range(const std::optional<ByteRange>& range, int64_t size) {
  RangeDecision decision;
  decision.end = size;
  if (!range) return decision;
  std::optional<int64_t> start = range->start;
  std::optional<int64_t> end = range->end;
  if (start && *start < 0) {
    *start = *start < -size ? 0 : *start + size;  // a suffix longer than the file is all of it
  }
  if ((start && (*start >= size || (end && *start >= *end))) || (end && *end == 0)) {
    decision.kind = RangeDecision::kUnsatisfiable;
    decision.content_range = "bytes */" + std::to_string(size);
    return decision;
  }
  if (end && *end > size) end = size;  // clients ask for huge ranges to cap a download
  decision.start = start.value_or(0);
  decision.end = end.value_or(size);
  // Only a strict part of the file is a 206 (Chrome will not play audio answered with 206
  // to `bytes=0-`, as Tornado notes).
  if (decision.length() != size) {
    decision.kind = RangeDecision::kPartial;
    decision.content_range = get_content_range(start, end, size);
  }
  return decision;
}

}  // namespace tornado::httputil
