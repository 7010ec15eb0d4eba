// Helpers shared by the fuzz harnesses: invariant checks that abort (libFuzzer then saves
// the input as a crash), a deterministic splitter that cuts an input into pieces the way
// the network would, and chunked-body decoding in one go or piece by piece.
//
//   fuzz::Splitter split(input, /*salt=*/1);
//   auto whole = fuzz::decode_chunked_whole(body);
//   auto pieces = fuzz::decode_chunked_split(body, split);
//   FUZZ_CHECK(whole == pieces);
//
// Single-threaded, like libFuzzer's callback.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "internal/http_parser.h"

// Aborts with the failed condition when an invariant does not hold. Not assert(): it must
// stay on in every build type.
#define FUZZ_CHECK(cond)                                      \
  do {                                                        \
    if (!(cond)) ::fuzz::check_failed(#cond, __FILE__, __LINE__); \
  } while (0)

namespace fuzz {

[[noreturn]] inline void check_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", what, file, line);
  std::fflush(stderr);
  std::abort();
}

// True if `part` lies within `whole` (an empty view is anywhere, the parser may leave it
// default-constructed). Compared as integers: relational operators on unrelated pointers
// are unspecified.
inline bool inside(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;
  auto p = reinterpret_cast<std::uintptr_t>(part.data());
  auto w = reinterpret_cast<std::uintptr_t>(whole.data());
  return p >= w && p - w <= whole.size() && part.size() <= whole.size() - (p - w);
}

// An exactly-sized heap copy, so that ASan reports any read one byte past the end (a
// std::string has spare capacity, and a prefix view of the input has the rest behind it).
class ExactCopy {
 public:
  explicit ExactCopy(std::string_view s)
      : bytes_(new char[s.size() == 0 ? 1 : s.size()]), size_(s.size()) {
    if (size_ != 0) std::memcpy(bytes_.get(), s.data(), size_);
  }
  std::string_view view() const { return {bytes_.get(), size_}; }

 private:
  std::unique_ptr<char[]> bytes_;
  std::size_t size_;
};

// Deterministic piece sizes from a hash of the input: 1-byte pieces, small and medium
// ones, and the whole rest, mixed, so that every boundary kind is cut somewhere.
class Splitter {
 public:
  Splitter(std::string_view input, uint64_t salt) : state_(0xcbf29ce484222325ull ^ salt) {
    for (unsigned char c : input) state_ = (state_ ^ c) * 0x100000001b3ull;  // FNV-1a
  }
  // A piece length in [1, left] (left > 0).
  std::size_t next(std::size_t left) {
    uint64_t r = mix();
    std::size_t n;
    switch (r & 3) {
      case 0: n = 1; break;
      case 1: n = 1 + (r >> 8) % 8; break;
      case 2: n = 1 + (r >> 8) % 97; break;
      default: n = left; break;
    }
    return n < left ? n : left;
  }

 private:
  uint64_t mix() {  // splitmix64
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t state_;
};

using tornado::http1::ChunkedDecoder;

struct ChunkedResult {
  ChunkedDecoder::Status status = ChunkedDecoder::Status::kNeedMore;  // at the end
  std::string body;           // every data piece, concatenated
  std::size_t consumed = 0;   // input used, when kDone
  bool operator==(const ChunkedResult&) const = default;
};

// Checks one next() call's contract and appends its data. Returns false when decoding is
// over (done or error) or needs more input.
inline bool step_chunked(ChunkedDecoder& decoder, std::string_view in, std::size_t& pos,
                         ChunkedResult& out) {
  std::size_t before = pos;
  std::string_view data;
  tornado::http1::ParseError err;
  out.status = decoder.next(in, pos, data, err);
  FUZZ_CHECK(pos >= before && pos <= in.size());
  switch (out.status) {
    case ChunkedDecoder::Status::kData:
      // A piece is never empty (or the caller would spin) and ends where pos now is.
      FUZZ_CHECK(!data.empty());
      FUZZ_CHECK(inside(data, in));
      FUZZ_CHECK(data.data() + data.size() == in.data() + pos);
      out.body.append(data);
      return true;
    case ChunkedDecoder::Status::kDone:
      FUZZ_CHECK(decoder.done());
      return false;
    case ChunkedDecoder::Status::kError:
      FUZZ_CHECK(err.status == 400 && !err.message.empty());
      FUZZ_CHECK(!decoder.done());
      return false;
    case ChunkedDecoder::Status::kNeedMore:
      FUZZ_CHECK(!decoder.done());
      return false;
  }
  check_failed("unknown ChunkedDecoder status", __FILE__, __LINE__);
}

// Decodes `in` with the whole input available at once.
inline ChunkedResult decode_chunked_whole(std::string_view in) {
  ExactCopy copy(in);
  std::string_view buf = copy.view();
  ChunkedDecoder decoder;
  ChunkedResult out;
  std::size_t pos = 0;
  while (step_chunked(decoder, buf, pos, out)) {
  }
  if (out.status == ChunkedDecoder::Status::kDone) out.consumed = pos;
  if (out.status == ChunkedDecoder::Status::kDone) {
    // Once done, the decoder stays done and reads nothing more.
    std::size_t again = pos;
    std::string_view data;
    tornado::http1::ParseError err;
    FUZZ_CHECK(decoder.next(buf, again, data, err) == ChunkedDecoder::Status::kDone);
    FUZZ_CHECK(again == pos);
  }
  return out;
}

// Pieces of one byte each: the worst case for a decoder that keeps state across calls.
struct OneByte {
  std::size_t next(std::size_t) { return 1; }
};

// Decodes `in` the way HTTP1Connection reads a chunked body: the decoder sees the unread
// bytes plus the next piece from the network, and the bytes it used are dropped after each
// call. Must give exactly what decode_chunked_whole gives. `split` is a Splitter or OneByte.
template <typename Split>
ChunkedResult decode_chunked_split(std::string_view in, Split& split) {
  ChunkedDecoder decoder;
  ChunkedResult out;
  std::string unread;
  std::size_t fed = 0, dropped = 0;
  while (fed < in.size()) {
    std::size_t n = split.next(in.size() - fed);
    unread.append(in.substr(fed, n));
    fed += n;
    ExactCopy copy(unread);
    std::string_view buf = copy.view();
    std::size_t pos = 0;
    while (step_chunked(decoder, buf, pos, out)) {
    }
    dropped += pos;
    unread.erase(0, pos);
    if (out.status == ChunkedDecoder::Status::kDone) {
      out.consumed = dropped;
      return out;
    }
    if (out.status == ChunkedDecoder::Status::kError) return out;
  }
  return out;
}

}  // namespace fuzz
