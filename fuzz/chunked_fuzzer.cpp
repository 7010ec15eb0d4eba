// libFuzzer target: http1::ChunkedDecoder.
//
// 1. The input as a chunked body: decoding it in one go, byte by byte, and in two different
//    random splits gives the same data, the same end state and the same length used.
// 2. The input as a payload: encoded with random chunk sizes, hex case, chunk extensions
//    and trailer fields, then followed by unrelated bytes, it decodes back to exactly the
//    payload and stops right after the encoding (in one go and in pieces).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.h"

namespace {

using tornado::http1::ChunkedDecoder;

void check_decoding(std::string_view input) {
  fuzz::ChunkedResult whole = fuzz::decode_chunked_whole(input);
  if (whole.status == ChunkedDecoder::Status::kDone) FUZZ_CHECK(whole.consumed <= input.size());
  FUZZ_CHECK(whole.body.size() <= input.size());
  fuzz::OneByte one;
  FUZZ_CHECK(fuzz::decode_chunked_split(input, one) == whole);
  for (uint64_t salt : {1, 2}) {
    fuzz::Splitter split(input, salt);
    FUZZ_CHECK(fuzz::decode_chunked_split(input, split) == whole);
  }
}

std::string hex(std::size_t n, bool upper) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string s;
  do {
    s.insert(s.begin(), digits[n & 15]);
    n >>= 4;
  } while (n != 0);
  return s;
}

// A valid encoding of `payload`; the choices (sizes, case, extensions, trailers) come from
// the splitter, so each input explores its own encodings.
std::string encode(std::string_view payload, fuzz::Splitter& choices) {
  static constexpr std::string_view kExtensions[] = {
      "", ";a", ";name=value", " ; q=\"x\\\"y\"", ";a=1;b=\"\""};
  static constexpr std::string_view kTrailers[] = {"", "X-Sum: 1\r\n",
                                                   "A: b\r\nEmpty:\r\n"};
  std::string out;
  std::size_t pos = 0;
  while (pos < payload.size()) {
    std::size_t n = choices.next(payload.size() - pos);
    std::size_t pick = choices.next(16);
    out.append(std::string(pick & 1 ? 0 : pick % 3, '0'));  // leading zeros are valid hex
    out.append(hex(n, pick & 2));
    out.append(kExtensions[pick % std::size(kExtensions)]);
    out.append("\r\n").append(payload.substr(pos, n)).append("\r\n");
    pos += n;
  }
  std::size_t pick = choices.next(16);
  out.append("0").append(kExtensions[pick % std::size(kExtensions)]).append("\r\n");
  out.append(kTrailers[pick % std::size(kTrailers)]).append("\r\n");
  return out;
}

void check_round_trip(std::string_view payload) {
  fuzz::Splitter choices(payload, 3);
  std::string encoded = encode(payload, choices);
  const std::size_t encoded_size = encoded.size();
  encoded.append("GET / HTTP/1.1\r\n\r\n");  // the next request on the connection
  fuzz::ChunkedResult expect{ChunkedDecoder::Status::kDone, std::string(payload), encoded_size};
  FUZZ_CHECK(fuzz::decode_chunked_whole(encoded) == expect);
  fuzz::Splitter split(payload, 4);
  FUZZ_CHECK(fuzz::decode_chunked_split(encoded, split) == expect);

  // A decoder is reusable after reset().
  ChunkedDecoder decoder;
  std::size_t pos = 0;
  fuzz::ChunkedResult first;
  while (fuzz::step_chunked(decoder, encoded, pos, first)) {
  }
  FUZZ_CHECK(first.status == expect.status && first.body == expect.body);
  FUZZ_CHECK(pos == encoded_size);
  decoder.reset();
  pos = 0;
  fuzz::ChunkedResult again;
  while (fuzz::step_chunked(decoder, encoded, pos, again)) {
  }
  FUZZ_CHECK(again.status == ChunkedDecoder::Status::kDone && again.body == payload &&
             pos == encoded_size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  check_decoding(input);
  check_round_trip(input);
  return 0;
}
