// The HTTP/1.x message-head parser and body-framing rules shared by the server and the
// client (RFC 9112). It works in place: every name and value is a view into the caller's
// read buffer, and a MessageHead reused across requests allocates nothing once warm.
//
//   http1::MessageHead head;
//   http1::ParseError err;
//   std::size_t used = 0;
//   switch (http1::parse_request_head(buffer, head, used, err)) {
//     case http1::ParseStatus::kIncomplete: /* read more, call again */ break;
//     case http1::ParseStatus::kError: /* answer err.status, close */ break;
//     case http1::ParseStatus::kComplete: /* head's views are valid until buffer changes */;
//   }
//
// Strictness follows RFC 9112 where it says MUST and Tornado 6.5 where the RFC allows a
// choice (see docs/http1connection.md for the table): bare LF line ends and obs-fold are
// accepted, bare CR, whitespace before a colon, CTLs in values, non-token names are not.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <forward_list>
#include <string>
#include <string_view>

#include "tornado/hot.h"

namespace tornado::http1 {

struct Field {
  std::string_view name;
  std::string_view value;  // without surrounding whitespace
};

// The fields of a head, in order: room for kInline of them inside the object (a browser
// sends about a dozen), on the heap past that. A plain array and a count, so that the
// parser's append is a compare and a copy (std::vector's push_back stayed a call).
class FieldList {
 public:
  static constexpr std::size_t kInline = 16;

  FieldList() noexcept = default;
  FieldList(const FieldList& other) { assign(other); }
  FieldList& operator=(const FieldList& other) {
    if (this != &other) assign(other);
    return *this;
  }
  ~FieldList() { release(); }

  void push_back(const Field& field) {
    if (size_ == capacity_) [[unlikely]] grow();
    data_[size_++] = field;
  }
  void clear() noexcept { size_ = 0; }
  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return capacity_; }
  bool empty() const noexcept { return size_ == 0; }
  Field* begin() noexcept { return data_; }
  Field* end() noexcept { return data_ + size_; }
  const Field* begin() const noexcept { return data_; }
  const Field* end() const noexcept { return data_ + size_; }
  Field& operator[](std::size_t i) noexcept { return data_[i]; }
  const Field& operator[](std::size_t i) const noexcept { return data_[i]; }
  Field& front() noexcept { return data_[0]; }
  const Field& front() const noexcept { return data_[0]; }
  Field& back() noexcept { return data_[size_ - 1]; }
  const Field& back() const noexcept { return data_[size_ - 1]; }

 private:
  // Twice the room (out of line: the parser's loop keeps only the compare).
  [[gnu::noinline]] void grow();
  void assign(const FieldList& other);
  void release() noexcept;
  Field* data_ = inline_;
  std::size_t size_ = 0;
  std::size_t capacity_ = kInline;
  Field inline_[kInline];
};

struct MessageHead {
  // Request line (requests only).
  std::string_view method;
  std::string_view target;
  // Status line (responses only).
  int code = 0;
  std::string_view reason;
  // Both: the minor version of HTTP/1.x.
  int version_minor = 1;
  FieldList fields;

  void clear() {
    // One assignment each: a chained `a = b = {}` stores b in two halves and then loads it
    // whole into a, a load the store buffer cannot forward (a stall of some 12 cycles, seen
    // twice per request under perf).
    method = {};
    target = {};
    reason = {};
    code = 0;
    version_minor = 1;
    fields.clear();
    folded_.clear();
  }
  // The first value of `name` (case-insensitive), or nullptr.
  const Field* find(std::string_view name) const noexcept;
  // Number of fields named `name`.
  std::size_t count(std::string_view name) const noexcept;

  // Storage for values joined from obs-fold lines (rare; list nodes keep views stable, and
  // an empty list allocates nothing, unlike a deque).
  std::forward_list<std::string> folded_;
};

enum class ParseStatus { kComplete, kIncomplete, kError };

struct ParseError {
  int status = 400;     // the HTTP status a server answers with
  std::string message;  // for the log line
};

struct Limits {
  std::size_t max_header_size = 64 * 1024;  // Tornado's default; larger heads are 431
};

// Parses a request head at the start of `buf`. On kComplete, `consumed` is the length of
// the head including its blank line (and any empty lines before the request line).
// kIncomplete means no blank line yet: call again with more bytes (`scan_from` may carry
// the previous buf.size() to skip rescanning). kError fills `err`.
ParseStatus parse_request_head(std::string_view buf, MessageHead& head, std::size_t& consumed,
                               ParseError& err, const Limits& limits = {},
                               std::size_t scan_from = 0);
// The same for a response head (status line "HTTP/1.x NNN reason").
ParseStatus parse_response_head(std::string_view buf, MessageHead& head, std::size_t& consumed,
                                ParseError& err, const Limits& limits = {},
                                std::size_t scan_from = 0);

// The single start-line and field-line grammar, shared by the head parsers above, by
// httputil's parse_*_start_line and HTTPHeaders::parse_line, and by the client's CONNECT.
// `line` has no line end. Statuses: 400 malformed, 505 for an HTTP/d.d other than 1.x.
ParseStatus parse_request_line(std::string_view line, MessageHead& head, ParseError& err);
ParseStatus parse_status_line(std::string_view line, MessageHead& head, ParseError& err);
// A "name: value" line (not an obs-fold continuation): the token name and the value
// without surrounding whitespace.
ParseStatus parse_field_line(std::string_view line, Field& field, ParseError& err);
// An obs-fold continuation line (starts with SP/HTAB): the text to join, trimmed.
ParseStatus parse_continuation_line(std::string_view line, std::string_view& more, ParseError& err);

// How a message body is delimited (RFC 9112 6).
struct BodyFraming {
  enum Kind { kNone, kLength, kChunked, kUntilClose } kind = kNone;
  uint64_t length = 0;  // for kLength
};

// `name` equal to `lower` up to case, where `lower` is a lower-case literal of letters and '-'
// at least 4 bytes long and `name` a token (a parsed field name): compared a word at a time
// (8 bytes, the last word overlapping the one before; 4 for names under 8 bytes). OR-ing
// 0x20 folds A-Z onto a-z and no other token byte onto a letter or '-' (only CR, not a token
// byte, folds onto '-').
inline bool is_name(std::string_view name, std::string_view lower) noexcept {
  if (name.size() != lower.size()) return false;
  // The literal's size: a constant once inlined, so that only the branch for it is compiled
  // (with the name's, g++ -O3 kept the word loop for a 4-byte literal and warned of reads
  // past it: -Warray-bounds).
  const std::size_t n = lower.size();
  if (n >= 8) {
    constexpr std::uint64_t kFold = 0x2020202020202020ULL;
    auto same_word = [&](std::size_t at) {
      std::uint64_t a, b;
      std::memcpy(&a, name.data() + at, 8);
      std::memcpy(&b, lower.data() + at, 8);
      return (a | kFold) == b;
    };
    for (std::size_t at = 0; at + 8 < n; at += 8) {
      if (!same_word(at)) return false;
    }
    return same_word(n - 8);
  }
  std::uint32_t a0, a1, b0, b1;
  std::memcpy(&a0, name.data(), 4);
  std::memcpy(&a1, name.data() + n - 4, 4);
  std::memcpy(&b0, lower.data(), 4);
  std::memcpy(&b1, lower.data() + n - 4, 4);
  return (a0 | 0x20202020U) == b0 && (a1 | 0x20202020U) == b1;
}

// The fields of a request head that its checks, framing and persistence depend on, found
// in one pass over the fields (each looked up by name was a pass of its own): the first of
// each and how many there are where more than one matters.
struct RequestFields {
  const Field* host = nullptr;
  const Field* content_length = nullptr;
  const Field* transfer_encoding = nullptr;
  const Field* connection = nullptr;
  const Field* expect = nullptr;
  std::size_t hosts = 0;
  std::size_t content_lengths = 0;
  std::size_t transfer_encodings = 0;
};
RequestFields scan_request_fields(const MessageHead& head) noexcept;

// The framing of a request body; kError for a smuggling-prone or malformed combination:
// TE with CL, TE other than exactly "chunked", two TE fields, a non-digit, signed or
// conflicting Content-Length (equal comma-separated copies are allowed).
ParseStatus request_body_framing(const MessageHead& head, BodyFraming& framing, ParseError& err);
// The same with the head's fields already scanned (`known` is scan_request_fields(head)).
ParseStatus request_body_framing(const MessageHead& head, const RequestFields& known,
                                 BodyFraming& framing, ParseError& err);
// The framing of a response body to a request with `request_method`.
ParseStatus response_body_framing(const MessageHead& head, std::string_view request_method,
                                  BodyFraming& framing, ParseError& err);

// Request checks beyond syntax (RFC 9112 3.2): HTTP/1.1 needs exactly one Host field,
// HTTP/1.0 at most one, and its value must be a URI host[:port]; so must the authority of
// an absolute-form target, which then names the host (3.2.2).
ParseStatus validate_request_head(const MessageHead& head, ParseError& err);
ParseStatus validate_request_head(const MessageHead& head, const RequestFields& known,
                                  ParseError& err);

// RFC 9112 3.2.2 absolute-form ("http://host[:port]/path?query", scheme case-insensitive):
// sets `authority` and `rest` (the path and query, possibly empty) and returns true; false
// for every other form of request target.
bool split_absolute_form(std::string_view target, std::string_view& authority,
                         std::string_view& rest) noexcept;

// A request target split as a server reads it, into views: an absolute-form target names
// the host (its authority; the Host field is then ignored) and leaves its path and query;
// any other target's host is `host_field` (the Host value, empty when there is none) or
// "127.0.0.1". Split at the first '?'. `path` lacks the '/' an absolute-form target may
// leave out ("http://h", "http://h?q"): path_needs_slash says so. Shared by
// HTTPServerRequest and the server's RequestView.
struct TargetParts {
  std::string_view host, path, query;
  bool path_needs_slash = false;
};
// Inlined: a call returned the parts through memory and cost more than the split itself.
[[gnu::always_inline]] inline TargetParts split_request_target(
    std::string_view target, std::string_view host_field) noexcept {
  TargetParts parts;
  // Nearly every target is origin-form ("/path?query"): its first byte says so, no call.
  std::string_view origin = target, authority, rest;
  const bool absolute_form = (target.empty() || target.front() != '/') &&
                             split_absolute_form(target, authority, rest) && !authority.empty();
  if (absolute_form) {
    origin = rest;
    parts.host = authority;
  } else {
    parts.host = host_field.empty() ? std::string_view("127.0.0.1", 9) : host_field;
  }
  // Views made directly (substr's range checks were calls). An absolute-form target
  // without a path leaves `origin` empty, possibly without a pointer.
  const char* q = nullptr;
  if (!origin.empty()) {
    q = static_cast<const char*>(std::memchr(origin.data(), '?', origin.size()));
  }
  const std::size_t path_size = q ? static_cast<std::size_t>(q - origin.data()) : origin.size();
  parts.path = std::string_view(origin.data(), path_size);
  if (q) parts.query = std::string_view(q + 1, origin.size() - path_size - 1);
  parts.path_needs_slash = absolute_form && (origin.empty() || origin.front() != '/');
  return parts;
}

// Parses a Content-Length value: digits only, or a comma list of equal digit strings.
bool parse_content_length(std::string_view value, uint64_t& out) noexcept;

// Incremental chunked-body decoder (RFC 9112 7.1). Feed it bytes; it reports data spans
// (views into the input) and how much input it used. Chunk extensions are accepted and
// ignored, trailer fields are accepted and dropped (the RFC allows both; Tornado rejects
// them). Sizes are bounded: a size line over 1 KiB or a size over 2^63 is an error, and the
// trailer section (fields and line ends) counts against `max_trailer_size`, the header
// limit, with 431 past it.
class ChunkedDecoder {
 public:
  enum class Status { kData, kNeedMore, kDone, kError };

  explicit ChunkedDecoder(std::size_t max_trailer_size = Limits{}.max_header_size)
      : max_trailer_size_(max_trailer_size) {}
  // Consumes from `in` starting at `pos`. Returns kData with `data` set to the next
  // piece of body (pos advanced past it), kNeedMore when `in` is exhausted, kDone after
  // the last chunk and trailers (pos just past them), kError with `err`.
  Status next(std::string_view in, std::size_t& pos, std::string_view& data, ParseError& err);
  void reset() { *this = ChunkedDecoder(max_trailer_size_); }
  bool done() const noexcept { return state_ == State::kDone; }

 private:
  enum class State { kSize, kData, kDataEnd, kTrailer, kDone };
  State state_ = State::kSize;
  uint64_t remaining_ = 0;
  std::size_t max_trailer_size_;
  std::size_t trailer_bytes_ = 0;  // of the trailer section so far
};

// Character classes (RFC 9110 5.6.2).
bool is_tchar(unsigned char c) noexcept;
// Optional whitespace: SP or HTAB.
inline bool is_ows(unsigned char c) noexcept { return c == ' ' || c == '\t'; }
bool is_token(std::string_view s) noexcept;
// Field-value characters: VCHAR, obs-text, SP, HTAB.
bool is_field_value(std::string_view s) noexcept;
// ASCII case-insensitive equality of n bytes, byte by byte.
inline bool iequals_bytes(const char* a, const char* b, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x == y) continue;
    // Equal up to case only for letters: 0x20 apart and a letter once folded.
    if ((x | 0x20) != (y | 0x20) || (x | 0x20) < 'a' || (x | 0x20) > 'z') return false;
  }
  return true;
}
// ASCII case-insensitive equality (header names, tokens).
// Inline: header lookups call it for every field, and most calls end at the size check.
// A name looked up is usually spelled as stored ("Content-Type"): from eight bytes on, the
// words are compared first (the last one overlapping the one before) and the bytes only
// when a word differs.
inline bool iequals(std::string_view a, std::string_view b) noexcept {
  const std::size_t n = a.size();
  if (n != b.size()) return false;
  if (n >= 8) {
    std::size_t i = 0;
    for (;; i += 8) {
      if (i + 8 > n) i = n - 8;
      std::uint64_t x, y;
      std::memcpy(&x, a.data() + i, 8);
      std::memcpy(&y, b.data() + i, 8);
      if (x != y) break;
      if (i + 8 == n) return true;
    }
  }
  return iequals_bytes(a.data(), b.data(), n);
}
// Without the optional whitespace (SP, HTAB) around a field value or list element.
std::string_view trim_ows(std::string_view s) noexcept;

}  // namespace tornado::http1
