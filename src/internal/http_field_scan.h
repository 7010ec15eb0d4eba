// The request and response heads' field loop for plain field lines (a token, a colon, a
// field value, LF or CRLF: nearly every line a client or server sends), over the head 64
// bytes at a time. Each block of 64 bytes is classified once into two bit masks, and each
// line is then read from them: the name ends at its first byte that is not a letter, digit
// or '-' (the colon, else a rarer token byte looked up in the table), the value at its
// first control byte or DEL (HTAB goes on). A line whose name or value needs more (an empty
// or odd name, a bad byte, obs-fold, no line end yet) is left to http_parser.cpp's general
// path, which parses it and answers its errors exactly as before.
//
// The masks are computed with AVX2 where the CPU has it (checked once at run time), else
// with SSE2 (every x86-64), else byte by byte; all three give the same bits, and so the
// same fields (tests/http_parser_test.cpp compares them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "internal/http_parser.h"

namespace tornado::http1::detail {

// A value's run ends at its first value stop: a byte below 0x20 other than HTAB (CR and LF
// among them), or DEL. Bit i of the result for byte i of p[0..64), each way.
std::uint64_t value_stops_scalar(const char* p) noexcept;
std::uint64_t value_stops_sse2(const char* p) noexcept;  // byte by byte where SSE2 is absent
std::uint64_t value_stops_avx2(const char* p) noexcept;  // call only where avx2_supported()
// A name's common run: the first position at or after `from` (at most n) whose byte is not
// a letter, a digit or '-'. Sixteen bytes at a time where SSE2 is.
std::size_t plain_run_scalar(const char* p, std::size_t from, std::size_t n) noexcept;
std::size_t plain_run_sse2(const char* p, std::size_t from, std::size_t n) noexcept;
bool avx2_supported() noexcept;

enum class FieldScan { kScalar, kSse2, kAvx2 };
// The way the field loop uses: the fastest the CPU has, unless a test chose another.
FieldScan field_scan() noexcept;
// For tests: use `scan` from now on; false (and no change) if this CPU or build lacks it.
bool use_field_scan(FieldScan scan) noexcept;

// Takes the plain field lines at the start of `rest`, appending their fields to
// head.fields (and, for a request, noting the fields scan_request_fields reports); returns
// how many bytes of `rest` they spanned. Stops before the first line that is not a whole
// plain field line (the blank line among them).
std::size_t take_plain_fields(std::string_view rest, MessageHead& head, bool request);

// One field taken (by either path) noted for scan_request_fields; `index` is its position.
[[gnu::always_inline]] inline void note_request_field(NotedRequestFields& noted, std::string_view name,
                               std::uint32_t index) noexcept {
  auto note = [index](std::uint32_t& first, std::uint32_t* count) {
    if (first == 0) first = index + 1;
    if (count != nullptr) ++*count;
  };
  // The size decides first: most fields are compared no further.
  switch (name.size()) {
    case 4:
      if (is_name(name, "host")) note(noted.host, &noted.hosts);
      break;
    case 6:
      if (is_name(name, "expect")) note(noted.expect, nullptr);
      break;
    case 10:
      if (is_name(name, "connection")) note(noted.connection, nullptr);
      break;
    case 14:
      if (is_name(name, "content-length")) note(noted.content_length, &noted.content_lengths);
      break;
    case 17:
      if (is_name(name, "transfer-encoding")) {
        note(noted.transfer_encoding, &noted.transfer_encodings);
      }
      break;
    default:
      break;
  }
}

}  // namespace tornado::http1::detail
