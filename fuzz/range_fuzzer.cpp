// Fuzzes the Range header: parse_request_range and decide_range, against several file sizes.
// Invariants: the parsed pair has the shapes Tornado's parser produces; formatting it back
// as a header parses to the same pair; every decision is a byte span inside the file
// (206: a strict part; 200: all of it; 416: nothing) with the matching Content-Range; and the
// decision equals a reference computed in 128-bit arithmetic from Tornado's rules.
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "tornado/httputil.h"

using tornado::httputil::ByteRange;
using tornado::httputil::RangeDecision;

namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

void check(bool ok) {
  if (!ok) std::abort();
}

// The header a ByteRange came from, in canonical form.
std::string format(const ByteRange& r) {
  std::string out = "bytes=";
  if (r.start && *r.start < 0) return out + "-" + std::to_string(-*r.start);
  if (r.start) out += std::to_string(*r.start);
  out += "-";
  if (r.end && *r.end > 0) out += std::to_string(*r.end == kMax ? kMax : *r.end - 1);
  if (r.end && *r.end == 0) out += "0";
  return out;
}

// Tornado's StaticFileHandler.get range logic, in 128-bit integers.
RangeDecision reference(const std::optional<ByteRange>& range, int64_t size) {
  RangeDecision d;
  d.end = size;
  if (!range) return d;
  std::optional<__int128> start, end;
  if (range->start) start = *range->start;
  if (range->end) end = *range->end;
  if (start && *start < 0) {
    *start += size;
    if (*start < 0) start = 0;
  }
  if ((start && (*start >= size || (end && *start >= *end))) || (end && *end == 0)) {
    d.kind = RangeDecision::kUnsatisfiable;
    return d;
  }
  if (end && *end > size) end = size;
  __int128 first = start.value_or(0), last = end.value_or(size);
  d.start = static_cast<int64_t>(first);
  d.end = static_cast<int64_t>(last);
  if (last - first != size) d.kind = RangeDecision::kPartial;
  return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view header(reinterpret_cast<const char*>(data), size);
  std::optional<ByteRange> range = tornado::httputil::parse_request_range(header);
  if (range) {
    // Shapes: a negative start has no end; an end of 0 has no start; ends are positive
    // otherwise (last-byte-pos + 1).
    if (range->start && *range->start < 0) check(!range->end);
    if (range->end && *range->end == 0) check(!range->start);
    if (range->start && *range->start >= 0 && range->end) check(*range->end >= 1);
    check(tornado::httputil::parse_request_range(format(*range)) == range);
    // A list of ranges is never taken.
    check(!tornado::httputil::parse_request_range(std::string(header) + ",0-1"));
  }
  for (int64_t file_size : {int64_t{0}, int64_t{1}, int64_t{26}, int64_t{10} << 30, kMax}) {
    RangeDecision d = tornado::httputil::decide_range(range, file_size);
    RangeDecision want = reference(range, file_size);
    check(d.kind == want.kind);
    switch (d.kind) {
      case RangeDecision::kWhole:
        check(d.start == 0 && d.end == file_size && d.content_range.empty());
        break;
      case RangeDecision::kPartial:
        check(d.start == want.start && d.end == want.end);
        check(0 <= d.start && d.start < d.end && d.end <= file_size);
        check(d.length() < file_size);
        check(d.content_range == "bytes " + std::to_string(d.start) + "-" +
                                     std::to_string(d.end - 1) + "/" + std::to_string(file_size));
        break;
      case RangeDecision::kUnsatisfiable:
        check(d.content_range == "bytes */" + std::to_string(file_size));
        break;
    }
  }
  return 0;
}
