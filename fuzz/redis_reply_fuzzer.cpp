// libFuzzer target: the Redis reply reader (src/redis_reader.cpp: hiredis's RESP parser with
// our reply objects and bounds), the path every byte from a Redis server takes.
//
// The input is the wire. Fed in one go and in two random splits, the same replies come out
// (compared by their printed form), and the same outcome: a protocol error at the same
// point, or bytes left waiting. Bounds hold: no reply array past max_array_elements, nothing
// buffered past max_reply_bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.h"
#include "internal/redis.h"

namespace {

using tornado::redis::Limits;
using tornado::redis::ProtocolError;
using tornado::redis::Reply;
using tornado::redis::ReplyReader;

constexpr Limits kLimits{4096, 64};

void check_bounds(const Reply& r) {
  FUZZ_CHECK(r.elements.size() <= kLimits.max_array_elements);
  FUZZ_CHECK(r.type == Reply::Type::kArray || r.elements.empty());
  for (const Reply& e : r.elements) check_bounds(e);
}

struct Outcome {
  std::vector<std::string> replies;
  bool error = false;
};

Outcome run(std::string_view input, uint64_t salt) {
  Outcome out;
  ReplyReader reader(kLimits);
  fuzz::Splitter split(input, salt);
  std::size_t pos = 0;
  try {
    while (pos < input.size()) {
      const std::size_t n = salt == 0 ? input.size() : split.next(input.size() - pos);
      reader.feed(input.substr(pos, n));
      pos += n;
      while (auto r = reader.next()) {
        check_bounds(*r);
        out.replies.push_back(r->describe());
      }
    }
  } catch (const ProtocolError&) {
    out.error = true;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const Outcome whole = run(input, 0);
  for (uint64_t salt : {1, 2}) {
    const Outcome pieces = run(input, salt);
    FUZZ_CHECK(pieces.replies == whole.replies);
    FUZZ_CHECK(pieces.error == whole.error);
  }
  return 0;
}
