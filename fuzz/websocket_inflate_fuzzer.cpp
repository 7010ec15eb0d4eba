// libFuzzer target: the permessage-deflate inflater (src/websocket_deflate.cpp) and its
// bound on the inflated size.
//
// 1. The input as compressed data: inflated in one go and in two random splits, the output
//    and the outcome (ok, too big, corrupt) are the same, and the output never passes the
//    limit by more than one byte (a compression bomb costs at most the limit).
// 2. The input as a message: deflated (with and without context takeover, window 9-15) and
//    inflated back, it is the same bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "internal/websocket_deflate.h"

namespace {

using tornado::websocket::detail::Deflater;
using tornado::websocket::detail::Inflater;

constexpr std::size_t kLimit = 256 * 1024;

struct Outcome {
  std::string out;
  int status = 0;  // 0 ok, 1 too big, 2 corrupt
  bool operator==(const Outcome&) const = default;
};

template <typename NextPiece>
Outcome inflate(std::string_view in, bool no_context_takeover, NextPiece next_piece) {
  Inflater inflater(no_context_takeover);
  Outcome o;
  std::size_t pos = 0;
  bool ok = true;
  while (ok && pos < in.size()) {
    const std::size_t n = next_piece(in.size() - pos);
    fuzz::ExactCopy piece(in.substr(pos, n));
    ok = inflater.inflate(piece.view(), o.out, kLimit);
    pos += n;
  }
  if (ok) ok = inflater.finish_message(o.out, kLimit);
  FUZZ_CHECK(o.out.size() <= kLimit + 1);
  o.status = ok ? 0 : inflater.failed() ? 2 : 1;
  if (ok) FUZZ_CHECK(o.out.size() <= kLimit);
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const bool no_context_takeover = (data[0] & 1) != 0;

  const Outcome whole = inflate(input, no_context_takeover, [](std::size_t left) { return left; });
  for (uint64_t salt : {1, 2}) {
    fuzz::Splitter split(input, salt);
    FUZZ_CHECK(inflate(input, no_context_takeover,
                       [&split](std::size_t left) { return split.next(left); }) == whole);
  }

  const int window_bits = 9 + (data[0] >> 1) % 7;
  Deflater deflater(1 + (data[0] >> 4) % 9, 8, window_bits, no_context_takeover);
  Inflater inflater(no_context_takeover);
  for (int round = 0; round < 2; ++round) {  // twice: the second message may use the context
    std::string compressed;
    deflater.compress(input, compressed);
    std::string back;
    FUZZ_CHECK(inflater.inflate(compressed, back, input.size()));
    FUZZ_CHECK(inflater.finish_message(back, input.size()));
    FUZZ_CHECK(back == input);
  }
  return 0;
}
