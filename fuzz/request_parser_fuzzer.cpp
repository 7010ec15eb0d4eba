// libFuzzer target: a byte stream a client might send a server, read the way
// HTTP1Connection reads it: request head, validation, body framing, then the body
// (Content-Length or chunked), then the next pipelined request.
//
// Checked (beyond "no crash, no sanitizer report"): the head invariants of head_checks.h
// with the default limits and with a small max_header_size; an accepted request line has a
// token method and a target of visible bytes; framing never says "until
// close" for a request; Content-Length parsing agrees with a plain reading of the RFC; a
// chunked body decodes the same in one go and in pieces.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_common.h"
#include "head_checks.h"

namespace {

using tornado::http1::BodyFraming;
using tornado::http1::ChunkedDecoder;
using tornado::http1::Field;
using tornado::http1::Limits;
using tornado::http1::MessageHead;
using tornado::http1::ParseError;
using tornado::http1::ParseStatus;

constexpr int kMaxPipelined = 8;

void check_request(std::string_view input) {
  const Limits defaults;
  Limits small;
  small.max_header_size = 200;  // reachable by the fuzzer, so 431 paths run too
  fuzz::check_head(tornado::http1::parse_request_head, input, small, 2);

  std::size_t offset = 0;
  for (int n = 0; n < kMaxPipelined && offset < input.size(); ++n) {
    std::string_view rest = input.substr(offset);
    fuzz::HeadResult r = fuzz::check_head(tornado::http1::parse_request_head, rest, defaults, n);
    if (r.status != ParseStatus::kComplete) return;

    // Re-parse to get the views (check_head works on copies) and walk the framing rules.
    MessageHead head;
    ParseError err;
    std::size_t consumed = 0;
    FUZZ_CHECK(tornado::http1::parse_request_head(rest, head, consumed, err) ==
               ParseStatus::kComplete);
    FUZZ_CHECK(consumed == r.consumed);
    // The request line as accepted (the word-at-a-time target check included): a token
    // method and a target of visible bytes only.
    FUZZ_CHECK(tornado::http1::is_token(head.method));
    for (unsigned char c : head.target) FUZZ_CHECK(c > 0x20 && c != 0x7f);
    for (const Field& f : head.fields) {
      if (tornado::http1::iequals(f.name, "Content-Length")) fuzz::check_content_length(f.value);
    }
    if (tornado::http1::validate_request_head(head, err) == ParseStatus::kError) {
      FUZZ_CHECK(err.status == 400 && !err.message.empty());
      return;
    }
    // RFC 9112 3.2: at most one Host, and exactly one from HTTP/1.1 on.
    FUZZ_CHECK(head.count("Host") == 1 || (head.count("Host") == 0 && head.version_minor == 0));
    BodyFraming framing;
    if (tornado::http1::request_body_framing(head, framing, err) == ParseStatus::kError) {
      FUZZ_CHECK(err.status == 400 && !err.message.empty());
      return;
    }
    // RFC 9112 6.3: a request body is never delimited by the connection closing, and a
    // request with Transfer-Encoding and Content-Length never gets here.
    FUZZ_CHECK(framing.kind != BodyFraming::kUntilClose);
    FUZZ_CHECK(!(head.find("Transfer-Encoding") && head.find("Content-Length")));
    FUZZ_CHECK(framing.kind != BodyFraming::kLength || framing.length > 0);
    offset += consumed;

    switch (framing.kind) {
      case BodyFraming::kNone:
      case BodyFraming::kUntilClose:
        break;
      case BodyFraming::kLength:
        if (framing.length > input.size() - offset) return;  // the body is still arriving
        offset += static_cast<std::size_t>(framing.length);
        break;
      case BodyFraming::kChunked: {
        std::string_view body = input.substr(offset);
        fuzz::ChunkedResult whole = fuzz::decode_chunked_whole(body);
        fuzz::Splitter split(body, 7 + n);
        FUZZ_CHECK(fuzz::decode_chunked_split(body, split) == whole);
        if (whole.status != ChunkedDecoder::Status::kDone) return;
        FUZZ_CHECK(whole.consumed <= body.size());
        offset += whole.consumed;
        break;
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  check_request(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
