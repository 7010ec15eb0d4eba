// httputil: HTTPHeaders, HTTPServerRequest, start lines, host/port, reason phrases.
// Form bodies, multipart, cookies and url_concat are in httputil_form.cpp; dates in
// httputil_date.cpp.
#include "tornado/httputil.h"

#include <algorithm>
#include <cstring>
#include <tuple>

#include "internal/http_parser.h"
#include "internal/small_copy.h"
#include "internal/swar.h"
#include "tornado/escape.h"
#include "tornado/hot.h"
#include "tornado/log.h"

namespace tornado::httputil {
namespace {

bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

// A string of `v`'s bytes. Given a length known at compile time, libstdc++ builds a short
// string with a few stores into the string's own buffer; a length known at run time costs a
// call and a memcpy (about 40 instructions). A request makes eight short strings (method,
// target, version, address, host...): each length up to 15 is spelled out as a constant.
// (A longer one, out of line: the short ones then need no saved registers.)
[[gnu::noinline]] std::string make_long_string(std::string_view v) { return std::string(v); }

TORNADO_HOT [[gnu::flatten]] std::string make_string(std::string_view v) {
  const char* p = v.data();
  switch (v.size()) {
    case 0:
      return std::string();
    case 1:
      return std::string(p, 1);
    case 2:
      return std::string(p, 2);
    case 3:
      return std::string(p, 3);
    case 4:
      return std::string(p, 4);
    case 5:
      return std::string(p, 5);
    case 6:
      return std::string(p, 6);
    case 7:
      return std::string(p, 7);
    case 8:
      return std::string(p, 8);
    case 9:
      return std::string(p, 9);
    case 10:
      return std::string(p, 10);
    case 11:
      return std::string(p, 11);
    case 12:
      return std::string(p, 12);
    case 13:
      return std::string(p, 13);
    case 14:
      return std::string(p, 14);
    case 15:
      return std::string(p, 15);
    default:
      return make_long_string(v);
  }
}

// Text for error messages: printable ASCII kept, everything else as \xNN, capped.
std::string printable(std::string_view s) {
  constexpr std::size_t kMax = 64;
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < kMax; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  if (s.size() > kMax) out += "...";
  return out;
}

void check_field(std::string_view name, std::string_view value) {
  if (!http1::is_token(name)) {
    throw HTTPOutputError("Invalid header name '" + printable(name) +
                          "': a field name must be a non-empty token (RFC 9110 5.1)");
  }
  if (!http1::is_field_value(value)) {
    throw HTTPOutputError("Invalid value for header " + std::string(name) +
                          ": CR, LF and other control characters are not allowed "
                          "(header injection guard): '" +
                          printable(value) + "'");
  }
}

// A value of field-value bytes other than HTAB (VCHAR, SP, obs-text): the write-time check
// of a field added unchecked, inline and a word at a time with the last word overlapping
// (a response's values are a few to a few dozen bytes, so the call and the size dispatch of
// http1::is_field_value were most of its cost). False for anything else, an HTAB included:
// the exact check decides those.
bool is_plain_value(std::string_view value) noexcept {
  namespace swar = internal::swar;
  const char* p = value.data();
  const std::size_t n = value.size();
  auto stops = [](std::uint64_t w) { return swar::below(w, 0x20) | swar::equal(w, 0x7f); };
  if (n >= 8) {
    std::uint64_t bad = 0;
    for (std::size_t i = 0; i + 8 < n; i += 8) bad |= stops(swar::load(p + i));
    return (bad | stops(swar::load(p + n - 8))) == 0;
  }
  if (n >= 4) {
    std::uint32_t first, last;
    std::memcpy(&first, p, 4);
    std::memcpy(&last, p + n - 4, 4);
    return stops(std::uint64_t{first} | std::uint64_t{last} << 32) == 0;
  }
  bool ok = true;
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    ok = ok && c >= 0x20 && c != 0x7f;
  }
  return ok;
}

// check_field, skipping the name's check for a literal checked at compile time.
void check_named_field(FieldName name, std::string_view value) {
  if (name.known_token()) {
    if (!http1::is_field_value(value)) check_field(name.view(), value);  // throws
  } else {
    check_field(name.view(), value);
  }
}

}  // namespace

// ---- HTTPHeaders ----

HTTPHeaders::HTTPHeaders(std::initializer_list<std::pair<std::string, std::string>> fields) {
  std::size_t bytes = 0;
  for (const auto& [name, value] : fields) bytes += name.size() + value.size();
  reserve(fields.size(), bytes);
  for (const auto& [name, value] : fields) add(name, value);
}

void HTTPHeaders::add(FieldName name, std::string_view value) {
  check_named_field(name, value);
  append_field(name.view(), value);
}

void HTTPHeaders::Text::grow_for(std::size_t more) {
  if (more > UINT32_MAX - size_) throw std::length_error("HTTPHeaders too large");
  const std::size_t need = size_ + more;
  grow(std::max<std::size_t>(need, std::min<std::size_t>(2 * std::size_t{capacity_}, UINT32_MAX)));
}

TORNADO_HOT void HTTPHeaders::Text::grow(std::size_t bytes) {
  if (bytes > UINT32_MAX) throw std::length_error("HTTPHeaders too large");
  tornado::detail::PooledAllocator<char> alloc;
  char* bigger = alloc.allocate(bytes);
  if (size_ != 0) std::memcpy(bigger, data_, size_);
  release();
  data_ = bigger;
  capacity_ = static_cast<uint32_t>(bytes);
}

uint32_t HTTPHeaders::store(std::string_view bytes) {
  if (text_.size() + bytes.size() > UINT32_MAX) throw std::length_error("HTTPHeaders too large");
  const auto at = static_cast<uint32_t>(text_.size());
  text_.append(bytes);
  return at;
}

TORNADO_HOT void HTTPHeaders::add_unchecked(FieldName name, std::string_view value) {
  // write_fields checks the fields before they reach the wire: the value only when the
  // name is a literal checked at compile time.
  (name.known_token() ? unchecked_values_ : unchecked_) = true;
  append_field(name.view(), value);
}

TORNADO_HOT void HTTPHeaders::append_field(std::string_view name, std::string_view value) {
  // A view into these headers' own text (h.add("B", *h.get_first("A"))) would dangle once
  // the text grows: copy it out first (out of line: the copies' strings would make every
  // call pay for their stack frame).
  if (aliases(name) || aliases(value)) [[unlikely]] {
    append_field_copied(name, value);
    return;
  }
  const std::size_t at = text_.size();
  const std::size_t need = at + name.size() + value.size();
  // Headers built field by field (a response's) start with room for a typical head, not
  // with the growth steps of one field, then two, then four.
  if (need > text_.capacity()) {
    text_.reserve(std::max({need, kFirstText, std::min<std::size_t>(2 * text_.capacity(),
                                                                     UINT32_MAX)}));
  }
  if (entries_.size() == entries_.capacity()) {
    entries_.reserve(std::max(kFirstFields, 2 * entries_.capacity()));
  }
  // Each field keeps the spelling it arrived with: unifying spellings would cost a scan per
  // add, quadratic in the field count, which a 64 KiB head of tiny fields turns into a
  // denial of service. Lookups are case-insensitive either way.
  char* p = text_.extend(name.size() + value.size());
  internal::put_small(internal::put_small(p, name), value);
  push_entry_at(static_cast<uint32_t>(at), name.size(), value.size());
}

void HTTPHeaders::append_field_copied(std::string_view name, std::string_view value) {
  append_field(std::string(name), std::string(value));
}

TORNADO_HOT HTTPHeaders HTTPHeaders::from_head(const http1::MessageHead& head) {
  HTTPHeaders h;
  if (head.fields.empty()) return h;
  h.entries_.reserve(head.fields.size());
  // Without obs-fold, every name and value is a view into the head as received, in order:
  // the field lines are copied in one piece (separators and whitespace included) and the
  // entries point into the copy, made in the same pass that sums the fields' own bytes.
  // Unless that would keep more padding than fields (a value behind a run of whitespace):
  // then, as with folds, field by field.
  const char* begin = head.fields.front().name.data();
  const http1::Field& last = head.fields.back();
  const auto block = static_cast<std::size_t>(last.value.data() + last.value.size() - begin);
  std::size_t live = 0;
  if (head.folded_.empty() && block <= UINT32_MAX) {
    for (const http1::Field& f : head.fields) {
      live += f.name.size() + f.value.size();
      h.entries_.push_back(Entry{static_cast<uint32_t>(f.name.data() - begin),
                                 static_cast<uint32_t>(f.name.size()),
                                 static_cast<uint32_t>(f.value.data() - begin),
                                 static_cast<uint32_t>(f.value.size())});
    }
    if (block - live <= std::max<std::size_t>(256, live)) {
      // The text is empty: room for exactly the block (no growth policy to apply), filled.
      h.text_.reserve(block);
      std::memcpy(h.text_.extend(block), begin, block);
      h.dead_bytes_ = block - live;
      h.unchecked_ = true;
      return h;
    }
    h.entries_.clear();
  } else {
    for (const http1::Field& f : head.fields) live += f.name.size() + f.value.size();
  }
  h.reserve(head.fields.size(), live);
  for (const http1::Field& f : head.fields) h.add_unchecked(f.name, f.value);
  return h;
}

void HTTPHeaders::set(FieldName name, std::string_view value) {
  check_named_field(name, value);
  set_field(name.view(), value);
}

void HTTPHeaders::set_with_checked_value(std::string_view name, std::string_view value) {
  // A name equal (up to case) to a field's already here is a token: only a new one is checked.
  const std::size_t first = find(name);
  if (first == npos && !http1::is_token(name)) check_field(name, value);  // throws, naming it
  replace_at(first, name, value);
}

void HTTPHeaders::set_field(std::string_view name, std::string_view value) {
  replace_at(find(name), name, value);
}

void HTTPHeaders::replace_at(std::size_t first, std::string_view name, std::string_view value) {
  // Keep the position (and spelling) of the first occurrence; drop the others.
  if (first == npos) {
    append_field(name, value);  // (copies a view into this text first)
    return;
  }
  Entry& e = entries_[first];
  if (value.size() <= e.value_size) {
    // Fits where the old value was (text/html; charset=UTF-8 -> text/plain): no growth.
    // memmove: the value may be a view into this very text.
    if (!value.empty()) std::memmove(text_.data() + e.value_at, value.data(), value.size());
    dead_bytes_ += e.value_size - value.size();
  } else if (aliases(value)) [[unlikely]] {
    replace_at(first, name, std::string(value));  // store() may move the text it points into
    return;
  } else {
    dead_bytes_ += e.value_size;
    e.value_at = store(value);
  }
  e.value_size = static_cast<uint32_t>(value.size());
  // Later occurrences are dropped, from the first of them on (usually there is none).
  // (Compared with the stored spelling: `name` may have pointed into text that store() moved.)
  const std::string_view stored_name(text_.data() + e.name_at, e.name_size);
  auto same_name = [&](const Entry& other) {
    return http1::iequals({text_.data() + other.name_at, other.name_size}, stored_name);
  };
  const auto later = entries_.begin() + static_cast<std::ptrdiff_t>(first) + 1;
  const auto dup = std::find_if(later, entries_.end(), same_name);
  if (dup != entries_.end()) {
    entries_.erase(std::remove_if(dup, entries_.end(),
                                  [&](const Entry& other) {
                                    const bool drop = same_name(other);
                                    if (drop) dead_bytes_ += other.name_size + other.value_size;
                                    return drop;
                                  }),
                   entries_.end());
  }
  compact_if_wasteful();
}

std::size_t HTTPHeaders::remove(std::string_view name) {
  const std::size_t removed = std::erase_if(entries_, [&](const Entry& e) {
    const bool drop = http1::iequals({text_.data() + e.name_at, e.name_size}, name);
    if (drop) dead_bytes_ += e.name_size + e.value_size;
    return drop;
  });
  compact_if_wasteful();
  return removed;
}

void HTTPHeaders::compact_if_wasteful() {
  // A handler that sets the same header again and again must not grow the text forever.
  if (dead_bytes_ < 256 || dead_bytes_ * 2 < text_.size()) return;
  Text live;
  live.reserve(text_.size() - dead_bytes_);
  for (Entry& e : entries_) {
    const auto name_at = static_cast<uint32_t>(live.size());
    live.append(std::string_view(text_.data() + e.name_at, e.name_size));
    const auto value_at = static_cast<uint32_t>(live.size());
    live.append(std::string_view(text_.data() + e.value_at, e.value_size));
    e.name_at = name_at;
    e.value_at = value_at;
  }
  text_ = std::move(live);
  dead_bytes_ = 0;
}

TORNADO_HOT std::size_t HTTPHeaders::find(std::string_view name) const noexcept {
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const Entry& e = entries_[i];
    if (e.name_size == name.size() &&
        http1::iequals({text_.data() + e.name_at, e.name_size}, name)) {
      return i;
    }
  }
  return npos;
}

TORNADO_HOT std::optional<std::string_view> HTTPHeaders::get_first(
    std::string_view name) const noexcept {
  const std::size_t i = find(name);
  if (i == npos) return std::nullopt;
  return field(i).second;
}

std::optional<std::string> HTTPHeaders::get(std::string_view name) const {
  std::optional<std::string> joined;
  for (auto [field_name, value] : *this) {
    if (!http1::iequals(field_name, name)) continue;
    if (joined) {
      joined->push_back(',');
      joined->append(value);
    } else {
      joined.emplace(value);
    }
  }
  return joined;
}

std::string HTTPHeaders::get(std::string_view name, std::string_view fallback) const {
  std::optional<std::string> v = get(name);
  return v ? std::move(*v) : std::string(fallback);
}

std::vector<std::string> HTTPHeaders::get_list(std::string_view name) const {
  std::vector<std::string> values;
  for (auto [field_name, value] : *this) {
    if (http1::iequals(field_name, name)) values.emplace_back(value);
  }
  return values;
}

std::vector<std::pair<std::string, std::string>> HTTPHeaders::get_all() const {
  std::vector<std::pair<std::string, std::string>> all;
  all.reserve(entries_.size());
  for (auto [name, value] : *this) all.emplace_back(name, value);
  return all;
}

bool HTTPHeaders::operator==(const HTTPHeaders& other) const noexcept {
  if (size() != other.size()) return false;
  for (std::size_t i = 0; i < size(); ++i) {
    if (field(i) != other.field(i)) return false;
  }
  return true;
}

HTTPHeaders HTTPHeaders::parse(std::string_view text) {
  HTTPHeaders h;
  while (!text.empty()) {
    std::size_t lf = text.find('\n');
    std::string_view line = text.substr(0, lf);
    text.remove_prefix(lf == std::string_view::npos ? text.size() : lf + 1);
    h.parse_line(line);
  }
  return h;
}

void HTTPHeaders::parse_line(std::string_view line) {
  // RFC 9112 2.2: LF alone ends a line too, and a CR before it is dropped. A CR anywhere
  // else is not a line end (and fails the value check).
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) return;
  http1::ParseError err;
  if (is_ows(line.front())) {
    // RFC 9112 5.2 obs-fold: the continuation joins the previous value with one space.
    if (entries_.empty()) {
      throw HTTPInputError("First header line cannot start with whitespace");
    }
    std::string_view more;
    if (http1::parse_continuation_line(line, more, err) != http1::ParseStatus::kComplete) {
      throw HTTPInputError("Invalid header continuation '" + printable(line) + "'");
    }
    // No space after an empty value: a value never starts with whitespace (RFC 9110 5.5).
    if (!more.empty()) {
      Entry& last = entries_.back();
      std::string joined(text_.data() + last.value_at, last.value_size);
      joined.append(joined.empty() ? "" : " ").append(more);
      dead_bytes_ += last.value_size;
      last.value_at = store(joined);
      last.value_size = static_cast<uint32_t>(joined.size());
    }
    return;
  }
  // The HTTP/1 parser's field grammar: one definition for the wire and for parse().
  http1::Field field;
  if (http1::parse_field_line(line, field, err) != http1::ParseStatus::kComplete) {
    throw HTTPInputError(err.message + " '" + printable(line) + "'");
  }
  add_unchecked(field.name, field.value);
}

void HTTPHeaders::write_to(std::string& out) const {
  const std::size_t at = out.size();
  out.resize(at + wire_size());
  try {
    write_fields(out.data() + at);
  } catch (...) {
    out.resize(at);  // nothing of a refused head stays in `out`
    throw;
  }
}

TORNADO_HOT std::size_t HTTPHeaders::wire_size() const noexcept {
  std::size_t total = 0;
  for (const Entry& e : entries_) total += e.name_size + e.value_size + 4;
  return total;
}

// One pass over the fields: copied, and (for fields added through add_unchecked or parsed
// leniently: a CR or LF would inject fields or split the message) checked while their bytes
// are in cache. Headers built only through add/set were checked as they were added.
TORNADO_HOT char* HTTPHeaders::write_fields(char* p) const {
  const char* text = text_.data();
  // Names added unchecked need the check unless each was a literal checked at compile time.
  const bool check_names = unchecked_, check_values = unchecked_ || unchecked_values_;
  for (const Entry& e : entries_) {
    const std::string_view name(text + e.name_at, e.name_size);
    const std::string_view value(text + e.value_at, e.value_size);
    if (check_values && !((!check_names || http1::is_token(name)) &&
                          (is_plain_value(value) || http1::is_field_value(value)))) {
      check_field(name, value);
    }
    p = internal::put_small(p, name);
    *p++ = ':';
    *p++ = ' ';
    p = internal::put_small(p, value);
    *p++ = '\r';
    *p++ = '\n';
  }
  return p;
}

// ---- start lines ----

// Both start-line parsers are the HTTP/1 parser's (one grammar for the wire and for these):
// 400 for a malformed line, 505 for an HTTP version other than 1.x.
RequestStartLine parse_request_start_line(std::string_view line) {
  http1::MessageHead head;
  http1::ParseError err;
  if (http1::parse_request_line(line, head, err) != http1::ParseStatus::kComplete) {
    throw HTTPInputError(err.message + ": '" + printable(line) + "'", err.status);
  }
  return {std::string(head.method), std::string(head.target),
          head.version_minor == 0 ? "HTTP/1.0" : "HTTP/1." + std::to_string(head.version_minor)};
}

ResponseStartLine parse_response_start_line(std::string_view line) {
  http1::MessageHead head;
  http1::ParseError err;
  if (http1::parse_status_line(line, head, err) != http1::ParseStatus::kComplete) {
    throw HTTPInputError(err.message + ": '" + printable(line) + "'", err.status);
  }
  ResponseStartLine start;
  start.version = "HTTP/1." + std::to_string(head.version_minor);
  start.code = head.code;
  start.reason = head.reason;
  return start;
}

// ---- HTTPServerRequest ----

RequestStartLine to_start_line(const RequestLineView& line) {
  RequestStartLine start;
  // Appended to the empty strings: each part copied once.
  start.method.append(line.method);
  start.path.append(line.path);
  start.version.append(line.version);
  return start;
}

bool HTTPMessageDelegate::request_head_now(const RequestLineView& line, HTTPHeaders& headers,
                                           StartLine& start_line) {
  start_line.emplace<RequestStartLine>(to_start_line(line));
  return headers_received_now(start_line, headers);
}

namespace {

// split_host_and_port without the copy: the host part of `netloc` and its port. Views are
// made from offsets known to be in range (substr's checks were calls of their own).
std::pair<std::string_view, std::optional<int>> split_host_view(std::string_view netloc) {
  const std::pair<std::string_view, std::optional<int>> whole{netloc, std::nullopt};
  // The port: 1 to 5 digits from `from` to the end, at most 65535.
  auto port_from = [netloc](std::size_t from) -> std::optional<int> {
    if (from >= netloc.size() || netloc.size() - from > 5) return std::nullopt;
    int port = 0;
    for (std::size_t i = from; i < netloc.size(); ++i) {
      if (netloc[i] < '0' || netloc[i] > '9') return std::nullopt;
      port = port * 10 + (netloc[i] - '0');
    }
    return port <= 65535 ? std::optional<int>(port) : std::nullopt;
  };
  if (netloc.empty()) return whole;
  // An IPv6 literal: "[::1]" or "[::1]:8080" (RFC 3986 3.2.2); the brackets are removed.
  if (netloc.front() == '[') {
    const auto* close = static_cast<const char*>(std::memchr(netloc.data(), ']', netloc.size()));
    if (close == nullptr) return whole;
    const auto at = static_cast<std::size_t>(close - netloc.data());
    const std::string_view host(netloc.data() + 1, at - 1);
    if (at + 1 == netloc.size()) return {host, std::nullopt};
    if (netloc[at + 1] == ':') {
      if (auto port = port_from(at + 2)) return {host, port};
    }
    return whole;
  }
  // A port is 1 to 5 digits after the last colon, so the end decides: a host ending in a
  // letter ("localhost", "example.com") is done after one byte, with no search. The port's
  // value is summed as its digits are read (at most six, one past the longest port).
  std::size_t digits_at = netloc.size();
  unsigned port = 0, scale = 1;
  while (digits_at > 0 && netloc.size() - digits_at < 6) {
    const unsigned digit = static_cast<unsigned char>(netloc[digits_at - 1]) - unsigned{'0'};
    if (digit > 9) break;
    port += digit * scale;
    scale *= 10;
    --digits_at;
  }
  const std::size_t digits = netloc.size() - digits_at;
  if (digits == 0 || digits > 5 || digits_at < 2 || netloc[digits_at - 1] != ':' ||
      port > 65535) {
    return whole;
  }
  const std::size_t colon = digits_at - 1;
  // A bare IPv6 address (several colons) has no port.
  if (std::memchr(netloc.data(), ':', colon) != nullptr) return whole;
  return {std::string_view(netloc.data(), colon), static_cast<int>(port)};
}

// split_host_view(host).first, with its commonest answer inline: a port ends in a digit and
// an IPv6 literal in ']', so a host ending in anything else is all host (no call).
inline std::string_view host_without_port(std::string_view host) {
  if (!host.empty() && host.back() != ']' && (host.back() < '0' || host.back() > '9')) {
    return host;
  }
  return split_host_view(host).first;
}

}  // namespace

namespace {

// A-Z to a-z, other bytes kept: eight bytes at a time (a host name is usually lower case
// already and 9 to 30 bytes long), then byte by byte.
void ascii_lower_in_place(std::string& s) noexcept {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL, kHighs = 0x8080808080808080ULL;
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    // Per byte below 0x80: at least 'A' and at most 'Z' sets that byte's high bit.
    const std::uint64_t ascii = ~w & kHighs;
    const std::uint64_t at_least_a = (w & ~kHighs) + (0x80 - 'A') * kOnes;
    const std::uint64_t above_z = (w & ~kHighs) + (0x80 - 'Z' - 1) * kOnes;
    const std::uint64_t upper = at_least_a & ~above_z & ascii;
    if (upper == 0) continue;
    w |= upper >> 2;  // 0x80 >> 2 == 0x20, the case bit
    std::memcpy(s.data() + i, &w, 8);
  }
  for (; i < s.size(); ++i) {
    if (s[i] >= 'A' && s[i] <= 'Z') s[i] = static_cast<char>(s[i] - 'A' + 'a');
  }
}

}  // namespace

namespace {

// The target split with HTTPServerRequest's host rule: `host_in` when given, else an
// absolute-form target's authority, else the Host field (`host_field` if the caller found
// it, else looked up in `headers`), else 127.0.0.1.
[[gnu::always_inline]] inline http1::TargetParts request_target_parts(
    std::string_view target, std::string_view host_in, std::optional<std::string_view> host_field,
    const HTTPHeaders& headers) noexcept {
  // The server's connection passes the field it found when checking the head (one
  // case-insensitive search of the headers less per request).
  if (!host_field && host_in.empty()) host_field = headers.get_first("Host");
  // Pointer and size taken apart: copying the optional's view whole loaded 16 bytes just
  // stored as two halves, a load the store buffer cannot forward (a stall under perf).
  const char* field_data = nullptr;
  std::size_t field_size = 0;
  if (host_field) {
    field_data = host_field->data();
    field_size = host_field->size();
  }
  http1::TargetParts parts =
      http1::split_request_target(target, std::string_view(field_data, field_size));
  if (!host_in.empty()) parts.host = host_in;
  return parts;
}

}  // namespace

HTTPServerRequest::HTTPServerRequest(std::string method_in, std::string uri_in,
                                     std::string version_in, HTTPHeaders headers_in,
                                     std::string body_in, std::string host_in,
                                     HTTPConnection* connection_in)
    : method(std::move(method_in)),
      uri(std::move(uri_in)),
      version(std::move(version_in)),
      headers(std::move(headers_in)),
      body(std::move(body_in)),
      connection(connection_in) {
  if (connection != nullptr) {
    remote_ip = connection->context().remote_ip;
    protocol = connection->context().protocol;
  }
  const http1::TargetParts parts = request_target_parts(uri, host_in, std::nullopt, headers);
  host.append(parts.host);
  host_name.append(host_without_port(parts.host));
  if (parts.path_needs_slash) path.push_back('/');
  path.append(parts.path);
  query.append(parts.query);
  finish_target();
}

HTTPServerRequest::HTTPServerRequest(const RequestStartLine& start_line, HTTPHeaders&& headers_in,
                                     HTTPConnection* connection_in)
    : HTTPServerRequest(RequestLineView{start_line.method, start_line.path, start_line.version},
                        std::move(headers_in), connection_in) {}

TORNADO_HOT HTTPServerRequest::~HTTPServerRequest() = default;

// The target is split before anything is moved: parts.host may be a view into headers_in's
// text, which stays where it is when the headers are moved into the request.
TORNADO_HOT HTTPServerRequest::HTTPServerRequest(const RequestLineView& line,
                                                 HTTPHeaders&& headers_in,
                                                 HTTPConnection* connection_in)
    : HTTPServerRequest(line, std::move(headers_in), connection_in,
                        request_target_parts(line.path, {}, line.host, headers_in)) {}

// Each string member made once, from its view (make_string: no call for a short one).
TORNADO_HOT HTTPServerRequest::HTTPServerRequest(const RequestLineView& line,
                                                 HTTPHeaders&& headers_in,
                                                 HTTPConnection* connection_in,
                                                 const http1::TargetParts& parts)
    : method(make_string(line.method)),
      uri(make_string(line.path)),
      version(make_string(line.version)),
      headers(std::move(headers_in)),
      // Copied straight from the connection (not "http" first, then assigned).
      remote_ip(connection_in ? make_string(connection_in->context().remote_ip) : std::string()),
      protocol(connection_in ? make_string(connection_in->context().protocol)
                             : std::string("http")),
      host(make_string(parts.host)),
      host_name(make_string(host_without_port(parts.host))),
      path(parts.path_needs_slash ? "/" + std::string(parts.path) : make_string(parts.path)),
      // Most requests have no query: nothing to copy, and no call.
      query(parts.query.empty() ? std::string() : make_string(parts.query)),
      connection(connection_in) {
  finish_target();
}

TORNADO_HOT void HTTPServerRequest::finish_target() {
  ascii_lower_in_place(host_name);
  if (!query.empty()) {
    parse_qs_into(query, query_arguments);
    arguments = query_arguments;
  }
}

std::string HTTPServerRequest::full_url() const { return protocol + "://" + host + uri; }

double HTTPServerRequest::request_time() const {
  // One clock read at most.
  auto end = finish_time ? *finish_time : std::chrono::steady_clock::now();
  return std::chrono::duration<double>(end - start_time).count();
}

namespace {

// What Python's SimpleCookie accepts as a key (Tornado drops the rest): a non-empty run of
// letters, digits and !#$%&'*+-.^_`|~: that is not a cookie attribute name.
bool is_legal_cookie_key(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::string_view("!#$%&'*+-.^_`|~:").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  for (std::string_view reserved : {"expires", "path", "comment", "domain", "max-age", "secure",
                                    "httponly", "version", "samesite"}) {
    if (http1::iequals(key, reserved)) return false;
  }
  return true;
}

}  // namespace

const std::map<std::string, std::string, std::less<>>& HTTPServerRequest::cookies() const {
  if (!cookies_) {
    cookies_.emplace();
    // Several Cookie fields (HTTP/2 gateways split them) are read as one list joined with
    // "; " (RFC 9113 8.2.3), not with "," as get() would join them.
    for (auto [field, header] : headers) {
      if (!http1::iequals(field, "Cookie")) continue;
      for (auto& [name, value] : parse_cookie(header)) {
        if (is_legal_cookie_key(name)) cookies_->insert_or_assign(name, std::move(value));
      }
    }
  }
  return *cookies_;
}

TORNADO_HOT void HTTPServerRequest::parse_body(const ParseMultipartConfig& config) {
  // Without a Content-Type there is nothing to parse (most requests: the server calls this
  // for every one). Looked for first: get() walks every field to join the values.
  if (headers.contains("Content-Type")) {
    const std::string content_type = *headers.get("Content-Type");
    try {
      parse_body_arguments(content_type, body, body_arguments, files, &headers, config);
    } catch (const HTTPInputError& e) {
      // Tornado's behaviour: a malformed form body is logged and the request goes on.
      gen_log().warn("{}", e.what());
    }
  }
  for (const auto& [name, values] : body_arguments) {
    auto& merged = arguments[name];
    merged.insert(merged.end(), values.begin(), values.end());
  }
}

// ---- small helpers ----

std::pair<std::string, std::string> split_uri(std::string_view uri) {
  std::size_t q = uri.find('?');
  if (q == std::string_view::npos) return {std::string(uri), std::string()};
  return {std::string(uri.substr(0, q)), std::string(uri.substr(q + 1))};
}

std::pair<std::string, std::optional<int>> split_host_and_port(std::string_view netloc) {
  auto [host, port] = split_host_view(netloc);
  return {std::string(host), port};
}

std::string_view reason_phrase(int code) noexcept {
  // The phrases of Python's http.HTTPStatus (http.client.responses), which Tornado uses.
  switch (code) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 102:
      return "Processing";
    case 103:
      return "Early Hints";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 203:
      return "Non-Authoritative Information";
    case 204:
      return "No Content";
    case 205:
      return "Reset Content";
    case 206:
      return "Partial Content";
    case 207:
      return "Multi-Status";
    case 208:
      return "Already Reported";
    case 226:
      return "IM Used";
    case 300:
      return "Multiple Choices";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 305:
      return "Use Proxy";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 402:
      return "Payment Required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 407:
      return "Proxy Authentication Required";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Request Entity Too Large";
    case 414:
      return "Request-URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Requested Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 418:
      return "I'm a Teapot";
    case 421:
      return "Misdirected Request";
    case 422:
      return "Unprocessable Entity";
    case 423:
      return "Locked";
    case 424:
      return "Failed Dependency";
    case 425:
      return "Too Early";
    case 426:
      return "Upgrade Required";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 451:
      return "Unavailable For Legal Reasons";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    case 506:
      return "Variant Also Negotiates";
    case 507:
      return "Insufficient Storage";
    case 508:
      return "Loop Detected";
    case 510:
      return "Not Extended";
    case 511:
      return "Network Authentication Required";
    default:
      return "Unknown";
  }
}

std::string encode_basic_auth(std::string_view username, std::string_view password) {
  std::string pair;
  pair.reserve(username.size() + 1 + password.size());
  pair.append(username).append(":").append(password);
  return escape::base64_encode(pair);
}

}  // namespace tornado::httputil
