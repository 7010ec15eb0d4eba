// Invariants of the HTTP/1 head parsers (parse_request_head, parse_response_head), shared by
// the request and response harnesses:
//  - consumed <= size, and every view of the head lies inside the parsed bytes (or, for a
//    value joined from obs-fold lines, inside the head's own storage);
//  - a complete (or failed) parse gives the same result when more bytes are appended;
//  - feeding the input in pieces (byte by byte with scan_from, and in random pieces, each
//    in an exactly-sized buffer) gives the result of the one-go parse, at the byte where
//    the head ends.
//
//   fuzz::check_head(tornado::http1::parse_request_head, input, limits, /*salt=*/1);
//
// Single-threaded.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "fuzz_common.h"

namespace fuzz {

using tornado::http1::Field;
using tornado::http1::Limits;
using tornado::http1::MessageHead;
using tornado::http1::ParseError;
using tornado::http1::ParseStatus;

using HeadParser = ParseStatus (*)(std::string_view, MessageHead&, std::size_t&, ParseError&,
                                   const Limits&, std::size_t);

// A parse result by value, so that results from different buffers compare.
struct HeadResult {
  ParseStatus status = ParseStatus::kIncomplete;
  std::size_t consumed = 0;
  int error_status = 0;
  std::string error_message;
  std::string method, target, reason;
  int code = 0;
  int version_minor = 0;
  std::vector<std::pair<std::string, std::string>> fields;
  bool operator==(const HeadResult&) const = default;
};

inline bool has_edge_ows(std::string_view s) {
  auto ows = [](char c) { return c == ' ' || c == '\t'; };
  return !s.empty() && (ows(s.front()) || ows(s.back()));
}

// True if `value` lies in one of the strings the head keeps for obs-fold joins.
inline bool inside_folded(std::string_view value, const MessageHead& head) {
  for (const std::string& s : head.folded_) {
    if (inside(value, s)) return true;
  }
  return false;
}

// Parses `buf` once and checks everything that must hold of a single result.
inline HeadResult parse_checked(HeadParser parse, std::string_view buf, const Limits& limits,
                                std::size_t scan_from, MessageHead& head) {
  constexpr std::size_t kUnset = static_cast<std::size_t>(-1);
  HeadResult r;
  ParseError err;
  std::size_t consumed = kUnset;
  r.status = parse(buf, head, consumed, err, limits, scan_from);
  switch (r.status) {
    case ParseStatus::kIncomplete:
      FUZZ_CHECK(consumed == kUnset);
      FUZZ_CHECK(buf.size() <= limits.max_header_size);
      return r;
    case ParseStatus::kError:
      FUZZ_CHECK(err.status == 400 || err.status == 431 || err.status == 505);
      FUZZ_CHECK(!err.message.empty());
      r.error_status = err.status;
      r.error_message = err.message;
      return r;
    case ParseStatus::kComplete:
      break;
  }
  FUZZ_CHECK(consumed != kUnset && consumed > 0 && consumed <= buf.size());
  // The head ends with its blank line: LF LF or LF CR LF.
  FUZZ_CHECK(buf[consumed - 1] == '\n');
  FUZZ_CHECK(consumed >= 2 && (buf[consumed - 2] == '\n' ||
                               (consumed >= 3 && buf[consumed - 2] == '\r' &&
                                buf[consumed - 3] == '\n')));
  std::string_view used = buf.substr(0, consumed);
  FUZZ_CHECK(inside(head.method, used) && inside(head.target, used) &&
             inside(head.reason, used));
  FUZZ_CHECK(head.version_minor >= 0 && head.version_minor <= 9);
  for (const Field& f : head.fields) {
    FUZZ_CHECK(inside(f.name, used));
    FUZZ_CHECK(inside(f.value, used) || inside_folded(f.value, head));
    FUZZ_CHECK(tornado::http1::is_token(f.name));
    FUZZ_CHECK(tornado::http1::is_field_value(f.value));
    FUZZ_CHECK(!has_edge_ows(f.value));
    r.fields.emplace_back(f.name, f.value);
  }
  r.consumed = consumed;
  r.method = head.method;
  r.target = head.target;
  r.reason = head.reason;
  r.code = head.code;
  r.version_minor = head.version_minor;
  return r;
}

// All head invariants for one input. Returns the one-go result.
inline HeadResult check_head(HeadParser parse, std::string_view input, const Limits& limits,
                             uint64_t salt) {
  MessageHead head;
  const HeadResult whole = parse_checked(parse, ExactCopy(input).view(), limits, 0, head);

  // Appending bytes never changes a finished parse: the head ends at its first blank line.
  if (whole.status != ParseStatus::kIncomplete) {
    std::string longer(input);
    longer.append(input).append("\r\n\r\nGET / HTTP/1.1\r\n\r\n");
    FUZZ_CHECK(parse_checked(parse, longer, limits, 0, head) == whole);
  }

  // Byte by byte, passing the previous size as scan_from, reusing one MessageHead as the
  // server does across requests: the result appears exactly when its last byte arrives.
  bool finished = false;
  for (std::size_t k = 1; k <= input.size() && !finished; ++k) {
    HeadResult r = parse_checked(parse, input.substr(0, k), limits, k - 1, head);
    if (r.status == ParseStatus::kIncomplete) continue;
    finished = true;
    FUZZ_CHECK(r == whole);
    if (r.status == ParseStatus::kComplete) FUZZ_CHECK(r.consumed == k);
  }
  if (!finished) FUZZ_CHECK(whole.status == ParseStatus::kIncomplete);

  // Random pieces, each parse on an exactly-sized copy of what has arrived so far.
  Splitter split(input, salt);
  std::size_t fed = 0;
  finished = false;
  while (fed < input.size() && !finished) {
    std::size_t previous = fed;
    fed += split.next(input.size() - fed);
    ExactCopy copy(input.substr(0, fed));
    HeadResult r = parse_checked(parse, copy.view(), limits, previous, head);
    if (r.status == ParseStatus::kIncomplete) continue;
    finished = true;
    FUZZ_CHECK(r == whole);
  }
  if (!finished) FUZZ_CHECK(whole.status == ParseStatus::kIncomplete);
  return whole;
}

// parse_content_length against a plain reading of RFC 9110 8.6: a comma list of OWS-padded
// 1*DIGIT items (at most 19 digits, so that they fit), all equal.
inline void check_content_length(std::string_view value) {
  uint64_t got = 0;
  bool ok = tornado::http1::parse_content_length(value, got);
  bool expect_ok = true;
  bool have = false;
  uint64_t expect = 0;
  std::size_t start = 0;
  while (expect_ok) {
    std::size_t comma = value.find(',', start);
    std::string_view item = value.substr(start, comma == std::string_view::npos
                                                    ? std::string_view::npos
                                                    : comma - start);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    uint64_t n = 0;
    if (item.empty() || item.size() > 19) expect_ok = false;
    for (char c : item) {
      if (c < '0' || c > '9') expect_ok = false;
      n = n * 10 + static_cast<uint64_t>(c - '0');  // only read when every c is a digit
    }
    if (expect_ok && have && n != expect) expect_ok = false;
    expect = n;
    have = true;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  FUZZ_CHECK(ok == expect_ok);
  if (ok) FUZZ_CHECK(got == expect);
}

}  // namespace fuzz
