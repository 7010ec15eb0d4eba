#include "internal/http_parser.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstring>

#include "tornado/hot.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "internal/http_field_scan.h"
#include "internal/swar.h"

namespace tornado::http1 {
namespace {

constexpr std::array<bool, 256> make_tchar_table() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr auto kTchar = make_tchar_table();

constexpr std::array<bool, 256> make_value_table() {
  std::array<bool, 256> t{};
  for (int c = 0x21; c <= 0x7e; ++c) t[c] = true;  // VCHAR
  for (int c = 0x80; c <= 0xff; ++c) t[c] = true;  // obs-text
  t[' '] = t['\t'] = true;
  return t;
}
constexpr auto kFieldValue = make_value_table();

ParseStatus fail(ParseError& err, int status, std::string message) {
  err.status = status;
  err.message = std::move(message);
  return ParseStatus::kError;
}

// Finds the end of the head (just past its blank line) in buf[begin..]; npos if absent.
std::size_t find_head_end(std::string_view buf, std::size_t begin) {
  std::size_t i = begin;
  while (i < buf.size()) {
    const void* nl = std::memchr(buf.data() + i, '\n', buf.size() - i);
    if (!nl) return std::string_view::npos;
    i = static_cast<std::size_t>(static_cast<const char*>(nl) - buf.data());
    if (i + 1 < buf.size() && buf[i + 1] == '\n') return i + 2;
    if (i + 2 < buf.size() && buf[i + 1] == '\r' && buf[i + 2] == '\n') return i + 3;
    ++i;
  }
  return std::string_view::npos;
}

// Splits off the next whole line of `rest` (without its LF or CRLF); false if `rest` holds
// no line end. Inline: the request line's is taken on every request.
[[gnu::always_inline]] inline bool take_line(std::string_view& rest, std::string_view& line) {
  const void* nl = std::memchr(rest.data(), '\n', rest.size());
  if (nl == nullptr) return false;
  const auto at = static_cast<std::size_t>(static_cast<const char*>(nl) - rest.data());
  line = std::string_view(rest.data(), at);
  rest.remove_prefix(at + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return true;
}

// "HTTP/1.x" -> minor version; other HTTP/d.d -> 505; anything else -> 400.
ParseStatus parse_version(std::string_view v, int& minor, ParseError& err) {
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || v[6] != '.' || !std::isdigit(v[5] & 0xff) ||
      !std::isdigit(v[7] & 0xff)) {
    return fail(err, 400, "Malformed HTTP version in start line");
  }
  if (v[5] != '1') return fail(err, 505, "HTTP version not supported");
  minor = v[7] - '0';
  return ParseStatus::kComplete;
}

// `rest` starts with the blank line that ends a head (LF or CRLF): takes it.
inline bool take_blank_line(std::string_view& rest) {
  if (!rest.empty() &&
      (rest[0] == '\n' || (rest[0] == '\r' && rest.size() > 1 && rest[1] == '\n'))) {
    rest.remove_prefix(rest[0] == '\n' ? 1 : 2);
    return true;
  }
  return false;
}

// parse_fields past its first plain fields: the lines one at a time (an odd or folded
// line, a head not all here yet). `first`: no field line taken yet. Out of line, so that
// the common head's code is a few lines (docs/performance.md, "session 24").
[[gnu::noinline]] ParseStatus parse_fields_rest(std::string_view& rest, MessageHead& head,
                                                ParseError& err, bool first) {
  std::string_view line;
  for (;;) {
    if (!take_line(rest, line)) break;
    if (line.empty()) return ParseStatus::kComplete;  // the blank line
    if (is_ows(line.front())) {
      // RFC 9112 5.2 obs-fold: joined with one space, as Tornado does. Whitespace before
      // the first field cannot be a fold (RFC 9112 2.2) and is rejected.
      if (first) return fail(err, 400, "Whitespace before the first header line");
      std::string_view more;
      if (parse_continuation_line(line, more, err) != ParseStatus::kComplete) {
        return ParseStatus::kError;
      }
      Field& last = head.fields.back();
      // The space goes only between two non-empty parts: a value never starts or ends
      // with whitespace (RFC 9110 5.5), so "Name:" folded onto " close" is "close".
      std::string joined;
      joined.reserve(last.value.size() + 1 + more.size());
      bool space = !last.value.empty() && !more.empty();
      joined.append(last.value).append(space ? " " : "").append(more);
      head.folded_.push_front(std::move(joined));
      last.value = head.folded_.front();
    } else {
      first = false;
      Field field;
      if (parse_field_line(line, field, err) != ParseStatus::kComplete) {
        return ParseStatus::kError;
      }
      head.fields.push_back(field);
    }
    // The plain field lines first (http_field_scan.h), in one loop: the blank line that
    // ends the head is tested once per head, not per field; the lines above, one at a time.
    if (const std::size_t taken = detail::take_plain_fields(rest, head)) {
      first = false;
      rest.remove_prefix(taken);
    }
    // The blank line that ends the head, as take_line would take it.
    if (take_blank_line(rest)) return ParseStatus::kComplete;
  }
  return ParseStatus::kIncomplete;
}

// Parses field lines from `rest` up to and including the blank line that ends the head;
// kIncomplete if `rest` ends before it.
TORNADO_HOT ParseStatus parse_fields(std::string_view& rest, MessageHead& head, ParseError& err) {
  bool first = true;
  if (const std::size_t taken = detail::take_plain_fields(rest, head)) {
    first = false;
    rest.remove_prefix(taken);
  }
  if (take_blank_line(rest)) [[likely]] return ParseStatus::kComplete;
  return parse_fields_rest(rest, head, err, first);
}

// RFC 9112 2.2: empty lines before the request line SHOULD be ignored. Where the head starts.
std::size_t skip_empty_lines(std::string_view buf) {
  std::size_t start = 0;
  while (start < buf.size() && (buf[start] == '\r' || buf[start] == '\n')) {
    if (buf[start] == '\r' && (start + 1 >= buf.size() || buf[start + 1] != '\n')) break;
    ++start;
  }
  return start;
}

// Shared front half: skips empty lines, locates the head, checks the size limit.
ParseStatus locate_head(std::string_view buf, std::size_t& start, std::size_t& end, ParseError& err,
                        const Limits& limits, std::size_t scan_from) {
  start = skip_empty_lines(buf);
  std::size_t begin = scan_from > start + 2 ? scan_from - 2 : start;
  end = find_head_end(buf, begin);
  if (end == std::string_view::npos) {
    if (buf.size() > limits.max_header_size) return fail(err, 431, "Header block too large");
    return ParseStatus::kIncomplete;
  }
  // Leading empty lines count toward the limit, as they do above while the head is
  // incomplete: otherwise whether a head passes would depend on how it was split into reads.
  if (end > limits.max_header_size) return fail(err, 431, "Header block too large");
  return ParseStatus::kComplete;
}

}  // namespace

bool is_tchar(unsigned char c) noexcept { return kTchar[c]; }

namespace {

// Every byte of `s` is in `table`. Table lookups combined without a branch each: the strings
// checked per request (names, hosts) are short and valid, so a loop's overhead would be
// most of the cost. The last group overlaps the one before it instead of a byte-by-byte tail.
TORNADO_HOT bool all_in_table(const std::array<bool, 256>& table, std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  auto in = [p, &table](std::size_t j) -> unsigned { return table[p[j]]; };
  auto four = [in](std::size_t j) -> unsigned { return in(j) & in(j + 1) & in(j + 2) & in(j + 3); };
  if (n >= 8) {
    unsigned ok = 1;
    for (std::size_t i = 0; i + 8 <= n; i += 8) ok &= four(i) & four(i + 4);
    return (ok & four(n - 8) & four(n - 4)) != 0;
  }
  if (n >= 4) return (four(0) & four(n - 4)) != 0;
  unsigned ok = 1;
  for (std::size_t i = 0; i < n; ++i) ok &= in(i);
  return ok != 0;
}

}  // namespace

bool is_token(std::string_view s) noexcept { return !s.empty() && all_in_table(kTchar, s); }

namespace {

// No byte of these eight is a control byte other than HTAB, or DEL.
bool word_is_field_value(const char* at) noexcept {
  namespace swar = internal::swar;
  const std::uint64_t w = swar::load(at);
  if ((swar::below(w, 0x20) | swar::equal(w, 0x7f)) == 0) return true;
  for (std::size_t j = 0; j < 8; ++j) {  // a word with one: HTAB is allowed
    if (!kFieldValue[static_cast<unsigned char>(at[j])]) return false;
  }
  return true;
}

}  // namespace

bool is_field_value(std::string_view s) noexcept {
  std::size_t i = 0;
  const std::size_t n = s.size();
#if defined(__SSE2__)
  // Sixteen bytes at a time where SSE2 is (every x86-64): a control byte is one below 0x20
  // that is not negative as a signed char (0x80-0xff are obs-text), or DEL. A block with
  // one goes to the table, for HTAB. Browser heads carry long values (User-Agent, Accept,
  // Cookie): this is most of the parser's time for them.
  const __m128i space = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f), none = _mm_set1_epi8(-1);
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
    const __m128i control = _mm_and_si128(_mm_cmplt_epi8(v, space), _mm_cmpgt_epi8(v, none));
    if (_mm_movemask_epi8(_mm_or_si128(control, _mm_cmpeq_epi8(v, del))) == 0) continue;
    for (std::size_t j = i; j < i + 16; ++j) {
      if (!kFieldValue[static_cast<unsigned char>(s[j])]) return false;
    }
  }
#endif
  // Eight bytes at a time (header values are mostly clean words), the last word
  // overlapping the one before it instead of a byte-by-byte tail.
  if (n >= 8) {
    for (; i + 8 <= n; i += 8) {
      if (!word_is_field_value(s.data() + i)) return false;
    }
    return i == n || word_is_field_value(s.data() + n - 8);
  }
  for (; i < n; ++i) {
    if (!kFieldValue[static_cast<unsigned char>(s[i])]) return false;
  }
  return true;
}

std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

const Field* MessageHead::find(std::string_view name) const noexcept {
  for (const Field& f : fields) {
    if (iequals(f.name, name)) return &f;
  }
  return nullptr;
}

std::size_t MessageHead::count(std::string_view name) const noexcept {
  std::size_t n = 0;
  for (const Field& f : fields) n += iequals(f.name, name) ? 1 : 0;
  return n;
}

void FieldList::grow() {
  const std::size_t bigger = 2 * capacity_;
  Field* fresh = new Field[bigger];
  std::copy(data_, data_ + size_, fresh);
  release();
  data_ = fresh;
  capacity_ = bigger;
}

void FieldList::assign(const FieldList& other) {
  if (other.size_ > capacity_) {
    Field* fresh = new Field[other.capacity_];
    release();
    data_ = fresh;
    capacity_ = other.capacity_;
  }
  std::copy(other.data_, other.data_ + other.size_, data_);
  size_ = other.size_;
}

void FieldList::release() noexcept {
  if (data_ != inline_) delete[] data_;
  data_ = inline_;
  capacity_ = kInline;
}

namespace {

// No byte of the `size` (> 0) bytes at `p` is a control, a space or DEL (0x80 and up are
// allowed), a word at a time. The 9 bytes " HTTP/1.x" that follow a target in its line
// make the one word a short target needs safe to load; its bytes past the target are masked
// off (a match's borrow only marks bytes after it, so the masked test is exact).
bool is_visible_target(const char* p, std::size_t size) noexcept {
  namespace swar = internal::swar;
  auto bad = [](std::uint64_t w) { return swar::below(w, 0x21) | swar::equal(w, 0x7f); };
  if (size < 8) return (bad(swar::load(p)) & ((std::uint64_t{1} << (8 * size)) - 1)) == 0;
  std::uint64_t any = 0;
  for (std::size_t at = 0; at + 8 < size; at += 8) any |= bad(swar::load(p + at));
  return (any | bad(swar::load(p + size - 8))) == 0;
}

}  // namespace

namespace {
ParseStatus parse_request_line_general(std::string_view line, MessageHead& head,
                                       ParseError& err);
}  // namespace

TORNADO_HOT ParseStatus parse_request_line(std::string_view line, MessageHead& head,
                                           ParseError& err) {
  // RFC 9112 3: request-line = method SP request-target SP HTTP-version, single spaces.
  // Nearly every line ends in " HTTP/1.1" (or 1.0) after a token and a target of visible
  // bytes: read those in one pass over each part. Where this succeeds the general path below
  // gives the same method, target and version (the method's run of tchars ends at the first
  // space, and a target without bytes up to 0x20 holds no second one); anything else goes
  // there.
  const std::size_t n = line.size();
  if (n >= 12 && line[n - 9] == ' ') {
    std::uint64_t version;
    std::memcpy(&version, line.data() + n - 8, 8);
    std::uint64_t v11, v10;
    std::memcpy(&v11, "HTTP/1.1", 8);
    std::memcpy(&v10, "HTTP/1.0", 8);
    const auto* p = reinterpret_cast<const unsigned char*>(line.data());
    std::size_t i = 0;
    if (version == v11 || version == v10) {
      while (i < n - 9 && kTchar[p[i]]) ++i;
    }
    if (i > 0 && p[i] == ' ' && i + 1 < n - 9) {
      const char* target = line.data() + i + 1;
      const std::size_t target_size = n - 9 - (i + 1);
      if (is_visible_target(target, target_size)) {
        head.method = std::string_view(line.data(), i);
        head.target = std::string_view(target, target_size);
        head.version_minor = version == v11 ? 1 : 0;
        return ParseStatus::kComplete;
      }
    }
  }
  return parse_request_line_general(line, head, err);
}

namespace {

// parse_request_line's general path, out of its hot code: any line the one pass does not
// take (another version, odd bytes in the target, a malformed line).
[[gnu::noinline]] ParseStatus parse_request_line_general(std::string_view line,
                                                         MessageHead& head, ParseError& err) {
  std::size_t sp1 = line.find(' ');
  std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1 ||
      line.find(' ', sp2 + 1) != std::string_view::npos) {
    return fail(err, 400, "Malformed HTTP request line");
  }
  head.method = line.substr(0, sp1);
  head.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (!is_token(head.method)) return fail(err, 400, "Malformed HTTP method");
  for (unsigned char c : head.target) {
    if (c <= 0x20 || c == 0x7f) return fail(err, 400, "Malformed request target");
  }
  return parse_version(line.substr(sp2 + 1), head.version_minor, err);
}

}  // namespace

ParseStatus parse_status_line(std::string_view line, MessageHead& head, ParseError& err) {
  // RFC 9112 4: status-line = HTTP-version SP status-code SP [ reason-phrase ]. The space
  // before an empty reason is accepted missing, as many servers omit it.
  if (line.size() < 12 || line[8] != ' ' || (line.size() > 12 && line[12] != ' ')) {
    return fail(err, 400, "Malformed HTTP status line");
  }
  ParseStatus st = parse_version(line.substr(0, 8), head.version_minor, err);
  if (st != ParseStatus::kComplete) return st;
  int code = 0;
  for (int i = 9; i < 12; ++i) {
    if (!std::isdigit(line[i] & 0xff)) return fail(err, 400, "Malformed HTTP status code");
    code = code * 10 + (line[i] - '0');
  }
  if (code < 100) return fail(err, 400, "Malformed HTTP status code");
  head.code = code;
  head.reason = line.size() > 13 ? line.substr(13) : std::string_view();
  if (!is_field_value(head.reason)) return fail(err, 400, "Invalid character in reason phrase");
  return ParseStatus::kComplete;
}

ParseStatus parse_field_line(std::string_view line, Field& field, ParseError& err) {
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) return fail(err, 400, "No colon in header line");
  // RFC 9112 5.1: no whitespace between field name and colon; a server MUST reject.
  field.name = line.substr(0, colon);
  if (!is_token(field.name)) return fail(err, 400, "Invalid header name");
  field.value = trim_ows(line.substr(colon + 1));
  if (!is_field_value(field.value)) return fail(err, 400, "Invalid character in header value");
  return ParseStatus::kComplete;
}

ParseStatus parse_continuation_line(std::string_view line, std::string_view& more,
                                    ParseError& err) {
  more = trim_ows(line);
  if (!is_field_value(more)) return fail(err, 400, "Invalid character in header value");
  return ParseStatus::kComplete;
}

namespace {

// Both heads: locate the blank line, parse the start line with `parse_start`, then fields.
// Inline in its two callers: no call between the request head's and its parser, and
// `parse_start` a direct call.
[[gnu::always_inline]] inline ParseStatus parse_head(std::string_view buf, MessageHead& head, std::size_t& consumed,
                                   ParseError& err, const Limits& limits, std::size_t scan_from,
                                   ParseStatus (*parse_start)(std::string_view, MessageHead&,
                                                              ParseError&)) {
  std::string_view line;
  if (scan_from == 0) {
    // The common case, a whole head in the first bytes looked at: one pass, each line end
    // found once (not once to find the head's end and again to split it into lines).
    // (No empty line before the head nearly always: no call for it.)
    const std::size_t skip = !buf.empty() && buf[0] != '\r' && buf[0] != '\n'
                                 ? 0
                                 : skip_empty_lines(buf);
    std::string_view rest(buf.data() + skip, buf.size() - skip);
    head.clear();
    if (take_line(rest, line) && parse_start(line, head, err) == ParseStatus::kComplete &&
        parse_fields(rest, head, err) == ParseStatus::kComplete) {
      const std::size_t end = buf.size() - rest.size();
      if (end > limits.max_header_size) return fail(err, 431, "Header block too large");
      consumed = end;
      return ParseStatus::kComplete;
    }
    // Incomplete or malformed: decided below as on any later call (a head is judged only
    // once it is complete, and past the size limit it is 431 whatever it holds).
  }
  std::size_t start, end;
  ParseStatus st = locate_head(buf, start, end, err, limits, scan_from);
  if (st != ParseStatus::kComplete) return st;
  head.clear();
  std::string_view rest = buf.substr(start, end - start);
  if (!take_line(rest, line)) return fail(err, 400, "Malformed start line");  // has a line end
  st = parse_start(line, head, err);
  if (st != ParseStatus::kComplete) return st;
  st = parse_fields(rest, head, err);
  if (st != ParseStatus::kComplete) return st;
  consumed = end;
  return ParseStatus::kComplete;
}

}  // namespace

TORNADO_HOT ParseStatus parse_request_head(std::string_view buf, MessageHead& head,
                                           std::size_t& consumed, ParseError& err,
                                           const Limits& limits, std::size_t scan_from) {
  return parse_head(buf, head, consumed, err, limits, scan_from, parse_request_line);
}

ParseStatus parse_response_head(std::string_view buf, MessageHead& head, std::size_t& consumed,
                                ParseError& err, const Limits& limits, std::size_t scan_from) {
  return parse_head(buf, head, consumed, err, limits, scan_from, parse_status_line);
}

namespace {

constexpr std::array<bool, 256> make_uri_host_table() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("-._~!$&'()*+;=:[]%")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr auto kUriHost = make_uri_host_table();

// RFC 3986 3.2.2/3.2.3: reg-name, IP literal and port characters only.
bool is_uri_host(std::string_view host) { return all_in_table(kUriHost, host); }

}  // namespace

bool split_absolute_form(std::string_view target, std::string_view& authority,
                         std::string_view& rest) noexcept {
  // Origin form ("/path?query"), what nearly every request has: no search needed.
  if (!target.empty() && target.front() == '/') return false;
  std::size_t colon = target.find("://");
  if (colon == std::string_view::npos) return false;
  std::string_view scheme = target.substr(0, colon);
  if (!iequals(scheme, "http") && !iequals(scheme, "https")) return false;
  std::string_view after = target.substr(colon + 3);
  std::size_t end = after.find_first_of("/?#");
  authority = after.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view() : after.substr(end);
  return true;
}

TORNADO_HOT RequestFields scan_request_fields(const MessageHead& head) noexcept {
  RequestFields known;
  auto note = [](const Field& f, const Field*& first, std::size_t* count) {
    if (first == nullptr) first = &f;
    if (count) ++*count;
  };
  for (const Field& f : head.fields) {
    // The size decides first: most fields are compared no further.
    switch (f.name.size()) {
      case 4:
        if (is_name(f.name, "host")) note(f, known.host, &known.hosts);
        break;
      case 6:
        if (is_name(f.name, "expect")) note(f, known.expect, nullptr);
        break;
      case 10:
        if (is_name(f.name, "connection")) note(f, known.connection, nullptr);
        break;
      case 14:
        if (is_name(f.name, "content-length")) {
          note(f, known.content_length, &known.content_lengths);
        }
        break;
      case 17:
        if (is_name(f.name, "transfer-encoding")) {
          note(f, known.transfer_encoding, &known.transfer_encodings);
        }
        break;
      default:
        break;
    }
  }
  return known;
}

ParseStatus validate_request_head(const MessageHead& head, ParseError& err) {
  return validate_request_head(head, scan_request_fields(head), err);
}

TORNADO_HOT ParseStatus validate_request_head(const MessageHead& head, const RequestFields& known,
                                              ParseError& err) {
  if (known.hosts > 1) return fail(err, 400, "Multiple Host headers");
  if (known.hosts == 0 && head.version_minor >= 1) return fail(err, 400, "Missing Host header");
  if (known.hosts == 1 && !is_uri_host(known.host->value)) {
    return fail(err, 400, "Invalid Host header");
  }
  std::string_view authority, rest;
  // (An origin-form target, nearly every one, is told by its first byte without a call.)
  if ((head.target.empty() || head.target.front() != '/') &&
      split_absolute_form(head.target, authority, rest) &&
      (authority.empty() || !is_uri_host(authority))) {
    return fail(err, 400, "Invalid host in absolute-form request target");
  }
  return ParseStatus::kComplete;
}

TORNADO_HOT bool parse_content_length(std::string_view value, uint64_t& out) noexcept {
  // RFC 9110 8.6: 1*DIGIT; a list of identical values (from a proxy) is one value.
  // Nearly every value is plain digits: read those without the list's splitting and trims.
  if (!value.empty() && value.size() <= 19) {
    uint64_t n = 0;
    std::size_t i = 0;
    for (; i < value.size() && value[i] >= '0' && value[i] <= '9'; ++i) {
      n = n * 10 + static_cast<uint64_t>(value[i] - '0');
    }
    if (i == value.size()) {
      out = n;
      return true;
    }
  }
  bool have = false;
  uint64_t result = 0;
  while (true) {
    std::size_t comma = value.find(',');
    std::string_view item = trim_ows(value.substr(0, comma));
    if (item.empty() || item.size() > 19) return false;
    uint64_t n = 0;
    for (char c : item) {
      if (c < '0' || c > '9') return false;
      n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    if (have && n != result) return false;
    result = n;
    have = true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  out = result;
  return true;
}

namespace {

// Content-Length from every CL field (all must agree), or kError.
ParseStatus content_length(const MessageHead& head, bool& present, uint64_t& length,
                           ParseError& err) {
  present = false;
  for (const Field& f : head.fields) {
    if (!iequals(f.name, "Content-Length")) continue;
    uint64_t n;
    if (!parse_content_length(f.value, n)) return fail(err, 400, "Invalid Content-Length");
    if (present && n != length) return fail(err, 400, "Conflicting Content-Length values");
    present = true;
    length = n;
  }
  return ParseStatus::kComplete;
}

// Transfer-Encoding must be exactly one field "chunked" (RFC 9112 6.1: chunked must be
// last; Tornado supports no other coding, and anything else is a smuggling risk).
ParseStatus transfer_encoding(const MessageHead& head, bool& chunked, ParseError& err) {
  chunked = false;
  std::size_t n = head.count("Transfer-Encoding");
  if (n == 0) return ParseStatus::kComplete;
  if (n > 1) return fail(err, 400, "Multiple Transfer-Encoding fields");
  if (!iequals(head.find("Transfer-Encoding")->value, "chunked")) {
    return fail(err, 400, "Unsupported Transfer-Encoding");
  }
  chunked = true;
  return ParseStatus::kComplete;
}

// RFC 9112 7.1.1: chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ).
// Extensions carry nothing we use, but a malformed one makes the chunk line invalid.
bool valid_chunk_ext(std::string_view ext) {
  auto skip_ws = [&] {
    while (!ext.empty() && is_ows(ext.front())) ext.remove_prefix(1);
  };
  auto take_token = [&] {
    std::size_t n = 0;
    while (n < ext.size() && kTchar[static_cast<unsigned char>(ext[n])]) ++n;
    ext.remove_prefix(n);
    return n > 0;
  };
  while (!ext.empty()) {
    skip_ws();
    if (ext.empty() || ext.front() != ';') return false;
    ext.remove_prefix(1);
    skip_ws();
    if (!take_token()) return false;
    skip_ws();
    if (ext.empty() || ext.front() != '=') continue;
    ext.remove_prefix(1);
    skip_ws();
    if (!ext.empty() && ext.front() == '"') {
      ext.remove_prefix(1);
      bool closed = false;
      while (!ext.empty()) {
        char c = ext.front();
        ext.remove_prefix(1);
        if (c == '\\') {
          if (ext.empty()) return false;
          ext.remove_prefix(1);
        } else if (c == '"') {
          closed = true;
          break;
        } else if (!kFieldValue[static_cast<unsigned char>(c)]) {
          return false;
        }
      }
      if (!closed) return false;
    } else if (!take_token()) {
      return false;
    }
  }
  return true;
}

}  // namespace

ParseStatus request_body_framing(const MessageHead& head, BodyFraming& framing, ParseError& err) {
  return request_body_framing(head, scan_request_fields(head), framing, err);
}

TORNADO_HOT ParseStatus request_body_framing(const MessageHead& head, const RequestFields& known,
                                             BodyFraming& framing, ParseError& err) {
  bool has_length = known.content_lengths > 0, chunked = false;
  uint64_t length = 0;
  if (known.content_lengths == 1) {
    if (!parse_content_length(known.content_length->value, length)) {
      return fail(err, 400, "Invalid Content-Length");
    }
  } else if (known.content_lengths > 1 &&
             content_length(head, has_length, length, err) != ParseStatus::kComplete) {
    return ParseStatus::kError;
  }
  if (known.transfer_encodings > 1) return fail(err, 400, "Multiple Transfer-Encoding fields");
  if (known.transfer_encodings == 1) {
    if (!iequals(known.transfer_encoding->value, "chunked")) {
      return fail(err, 400, "Unsupported Transfer-Encoding");
    }
    chunked = true;
  }
  // RFC 9112 6.1: a request with both is a smuggling attempt; reject and close.
  if (chunked && has_length) {
    return fail(err, 400, "Message with both Transfer-Encoding and Content-Length");
  }
  if (chunked && head.version_minor == 0) {
    return fail(err, 400, "Transfer-Encoding in an HTTP/1.0 request");
  }
  if (chunked) {
    framing = {BodyFraming::kChunked, 0};
  } else if (has_length && length > 0) {
    framing = {BodyFraming::kLength, length};
  } else {
    framing = {BodyFraming::kNone, 0};  // RFC 9112 6.3: no body without CL or TE
  }
  return ParseStatus::kComplete;
}

ParseStatus response_body_framing(const MessageHead& head, std::string_view request_method,
                                  BodyFraming& framing, ParseError& err) {
  // RFC 9112 6.3 rules 1-2: these responses never have a body.
  if (request_method == "HEAD" || (head.code >= 100 && head.code < 200) || head.code == 204 ||
      head.code == 304) {
    framing = {BodyFraming::kNone, 0};
    return ParseStatus::kComplete;
  }
  bool has_length, chunked;
  uint64_t length = 0;
  if (content_length(head, has_length, length, err) != ParseStatus::kComplete) {
    return ParseStatus::kError;
  }
  std::size_t te = head.count("Transfer-Encoding");
  if (te > 0) {
    if (transfer_encoding(head, chunked, err) != ParseStatus::kComplete) {
      return ParseStatus::kError;
    }
    framing = {BodyFraming::kChunked, 0};  // RFC 9112 6.3 rule 3: TE overrides CL
  } else if (has_length) {
    framing = {length ? BodyFraming::kLength : BodyFraming::kNone, length};
  } else {
    framing = {BodyFraming::kUntilClose, 0};
  }
  return ParseStatus::kComplete;
}

ChunkedDecoder::Status ChunkedDecoder::next(std::string_view in, std::size_t& pos,
                                            std::string_view& data, ParseError& err) {
  constexpr std::size_t kMaxLine = 1024;
  auto error = [&](const char* message) {
    err.status = 400;
    err.message = message;
    return Status::kError;
  };
  while (pos < in.size() || state_ == State::kDone) {
    switch (state_) {
      case State::kSize: {
        std::size_t nl = in.find('\n', pos);
        if (nl == std::string_view::npos) {
          if (in.size() - pos > kMaxLine) return error("Chunk size line too long");
          return Status::kNeedMore;
        }
        if (nl - pos > kMaxLine) return error("Chunk size line too long");
        std::string_view line = in.substr(pos, nl - pos);
        if (line.empty() || line.back() != '\r') return error("Chunk size line not ended by CRLF");
        line.remove_suffix(1);
        std::size_t i = 0;
        uint64_t size = 0;
        for (; i < line.size(); ++i) {
          char c = line[i];
          int d = c >= '0' && c <= '9'   ? c - '0'
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                         : -1;
          if (d < 0) break;
          if (size >> 59) return error("Chunk size too large");
          size = size * 16 + static_cast<uint64_t>(d);
        }
        if (i == 0) return error("Invalid chunk size");
        if (!valid_chunk_ext(line.substr(i))) return error("Invalid chunk extension");
        pos = nl + 1;
        if (size == 0) {
          state_ = State::kTrailer;
        } else {
          remaining_ = size;
          state_ = State::kData;
        }
        break;
      }
      case State::kData: {
        std::size_t n = static_cast<std::size_t>(
            std::min<uint64_t>(remaining_, static_cast<uint64_t>(in.size() - pos)));
        data = in.substr(pos, n);
        pos += n;
        remaining_ -= n;
        if (remaining_ == 0) state_ = State::kDataEnd;
        return Status::kData;
      }
      case State::kDataEnd: {
        if (in.size() - pos < 2) {
          if (in[pos] != '\r') return error("Chunk data not followed by CRLF");
          return Status::kNeedMore;
        }
        if (in[pos] != '\r' || in[pos + 1] != '\n') return error("Chunk data not followed by CRLF");
        pos += 2;
        state_ = State::kSize;
        break;
      }
      case State::kTrailer: {
        // RFC 9112 7.1.2: trailer fields up to a blank line; validated, then dropped.
        // The section counts against the header limit, as a head does (431 past it).
        std::size_t nl = in.find('\n', pos);
        std::size_t line_bytes = nl == std::string_view::npos ? in.size() - pos : nl + 1 - pos;
        if (trailer_bytes_ + line_bytes > max_trailer_size_) {
          err.status = 431;
          err.message = "Trailer section too large";
          return Status::kError;
        }
        if (nl == std::string_view::npos) return Status::kNeedMore;
        trailer_bytes_ += line_bytes;
        std::string_view line = in.substr(pos, nl - pos);
        if (line.empty() || line.back() != '\r') return error("Trailer line not ended by CRLF");
        line.remove_suffix(1);
        pos = nl + 1;
        if (line.empty()) {
          state_ = State::kDone;
          return Status::kDone;
        }
        Field field;  // the one field grammar; the trailer is then dropped
        if (parse_field_line(line, field, err) != ParseStatus::kComplete) {
          return error("Invalid trailer field");
        }
        break;
      }
      case State::kDone:
        return Status::kDone;
    }
  }
  return Status::kNeedMore;
}

}  // namespace tornado::http1
