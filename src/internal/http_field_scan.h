// The field loop for plain field lines (a token, a colon, a field value, then LF or CRLF:
// nearly every line a client or server sends), shared by the request and response heads.
// Each line is read in one scan: its name up to the first byte that is not a letter, digit
// or '-' (the colon, else a rarer token byte the table goes on over), its value up to the
// first control byte other than HTAB, or DEL (the line end). A line that needs more (an
// empty or odd name, a bad byte, obs-fold, no line end yet) is left to http_parser.cpp's
// general path, which parses it and answers its errors as it always has.
//
// The scans go sixteen bytes at a time with SSE2 (every x86-64), else byte by byte; the two
// give the same fields (tests/http_parser_test.cpp compares them on every length around
// the vector width). An AVX2 way, 32 bytes a step and chosen at run time, was measured and
// not kept: a browser's values are 45 bytes on average, so it saved one step of sixteen on
// a few lines (64 instructions of 7,700 per request, no time measurable) for a dispatch
// and a function compiled for another target (docs/performance.md, session 18).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "internal/http_parser.h"

namespace tornado::http1::detail {

// The way the field loop reads lines.
enum class FieldScan { kScalar, kSse2 };
// The way used now: SSE2 where the build has it, unless a test chose another.
FieldScan field_scan() noexcept;
// For tests: use `scan` from now on; false (and no change) where the build lacks it.
bool use_field_scan(FieldScan scan) noexcept;

// Takes the plain field lines at the start of `rest`, appending their fields to
// head.fields; returns how many bytes of `rest` they spanned. Stops before the first line
// that is not a whole plain field line (the blank line that ends the head among them).
std::size_t take_plain_fields(std::string_view rest, MessageHead& head);

// The scans themselves, for the tests that compare the three ways: the first position at
// or after `from` (at most n) whose byte is not a letter, digit or '-' (a name's common
// run), and whose byte is a control byte other than HTAB, or DEL (a value's run).
std::size_t plain_name_run(FieldScan scan, const char* p, std::size_t from, std::size_t n) noexcept;
std::size_t field_value_run(FieldScan scan, const char* p, std::size_t from,
                            std::size_t n) noexcept;

}  // namespace tornado::http1::detail
