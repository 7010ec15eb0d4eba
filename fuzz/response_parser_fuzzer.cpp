// libFuzzer target: a byte stream a server might send a client, read the way an HTTP/1
// client reads it: status line and fields, body framing for a GET (and, checked on the
// side, for a HEAD), the body, then the next response on the connection.
//
// Checked (beyond "no crash, no sanitizer report"): the head invariants of head_checks.h
// with the default limits and a small max_header_size; the status code is 100-999; the
// RFC 9112 6.3 framing rules (HEAD, 1xx, 204 and 304 have no body; Transfer-Encoding wins
// over Content-Length; no length means until close); a chunked body decodes the same in
// one go and in pieces.
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

constexpr int kMaxResponses = 8;

bool never_has_body(int code) { return (code >= 100 && code < 200) || code == 204 || code == 304; }

void check_response(std::string_view input) {
  const Limits defaults;
  Limits small;
  small.max_header_size = 200;
  fuzz::check_head(tornado::http1::parse_response_head, input, small, 3);

  std::size_t offset = 0;
  for (int n = 0; n < kMaxResponses && offset < input.size(); ++n) {
    std::string_view rest = input.substr(offset);
    fuzz::HeadResult r = fuzz::check_head(tornado::http1::parse_response_head, rest, defaults, n);
    if (r.status != ParseStatus::kComplete) return;

    MessageHead head;
    ParseError err;
    std::size_t consumed = 0;
    FUZZ_CHECK(tornado::http1::parse_response_head(rest, head, consumed, err) ==
               ParseStatus::kComplete);
    FUZZ_CHECK(consumed == r.consumed);
    FUZZ_CHECK(head.code >= 100 && head.code <= 999);
    FUZZ_CHECK(head.method.empty() && head.target.empty());
    for (const Field& f : head.fields) {
      if (tornado::http1::iequals(f.name, "Content-Length")) fuzz::check_content_length(f.value);
    }

    // A HEAD request's response never has a body, whatever its fields say.
    BodyFraming framing;
    FUZZ_CHECK(tornado::http1::response_body_framing(head, "HEAD", framing, err) ==
                   ParseStatus::kComplete &&
               framing.kind == BodyFraming::kNone);

    if (tornado::http1::response_body_framing(head, "GET", framing, err) == ParseStatus::kError) {
      FUZZ_CHECK(err.status == 400 && !err.message.empty());
      FUZZ_CHECK(!never_has_body(head.code));
      return;
    }
    if (never_has_body(head.code)) FUZZ_CHECK(framing.kind == BodyFraming::kNone);
    if (!never_has_body(head.code) && head.find("Transfer-Encoding")) {
      FUZZ_CHECK(framing.kind == BodyFraming::kChunked);
    }
    if (!never_has_body(head.code) && !head.find("Transfer-Encoding") &&
        !head.find("Content-Length")) {
      FUZZ_CHECK(framing.kind == BodyFraming::kUntilClose);
    }
    FUZZ_CHECK(framing.kind != BodyFraming::kLength || framing.length > 0);
    offset += consumed;

    switch (framing.kind) {
      case BodyFraming::kNone:
        break;
      case BodyFraming::kUntilClose:
        return;  // the rest of the stream is this body
      case BodyFraming::kLength:
        if (framing.length > input.size() - offset) return;
        offset += static_cast<std::size_t>(framing.length);
        break;
      case BodyFraming::kChunked: {
        std::string_view body = input.substr(offset);
        fuzz::ChunkedResult whole = fuzz::decode_chunked_whole(body);
        fuzz::Splitter split(body, 11 + n);
        FUZZ_CHECK(fuzz::decode_chunked_split(body, split) == whole);
        if (whole.status != ChunkedDecoder::Status::kDone) return;
        offset += whole.consumed;
        break;
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  check_response(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
