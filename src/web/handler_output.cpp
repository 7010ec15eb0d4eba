// RequestHandler: status, headers, body, flush/finish, redirects, error pages, ETags.
#include <array>
#include <charconv>
#include <cstring>
#include <tuple>
#include <utility>

#include "internal/describe_exception.h"
#include "internal/http_parser.h"
#include "internal/sha1.h"
#include "internal/small_copy.h"
#include "internal/swar.h"
#include "internal/tsc_clock.h"
#include "tornado/escape.h"
#include "tornado/hot.h"
#include "tornado/log.h"
#include "tornado/web.h"
#include "web/web_internal.h"

namespace tornado::web {

namespace {

using detail::kServerField;
using detail::kServerHeader;
constexpr std::string_view kDefaultContentType = "text/html; charset=UTF-8";

// Spelled as the literal (nearly always): its two words compared inline, and iequals (a
// call) only for another spelling.
bool is_content_type(std::string_view name) noexcept {
  constexpr std::string_view kName = "Content-Type";
  return name.size() == kName.size() &&
         (internal::equal_small(name.data(), kName.data(), kName.size()) ||
          http1::iequals(name, kName));
}

// No byte below 0x20 and no DEL: a field value without its one control character, HTAB.
// Eight bytes at a time without a branch per word (the usual value is a short literal: a
// media type, a URL), four at a time below eight bytes.
bool is_safe_header_value(std::string_view value) noexcept {
  using namespace internal;
  auto unsafe = [](std::uint64_t w) { return swar::below(w, 0x20) | swar::equal(w, 0x7f); };
  const char* p = value.data();
  const std::size_t n = value.size();
  if (n >= 8) {
    // Whole words, the last one overlapping the one before it: no byte-by-byte tail.
    std::uint64_t bad = unsafe(swar::load(p + n - 8));
    for (std::size_t i = 0; i + 8 < n; i += 8) bad |= unsafe(swar::load(p + i));
    return bad == 0;
  }
  if (n >= 4) {  // the first four and the last four bytes (overlapping) in one word
    std::uint32_t head, tail;
    std::memcpy(&head, p, 4);
    std::memcpy(&tail, p + n - 4, 4);
    return unsafe(head | (std::uint64_t{tail} << 32)) == 0;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

[[noreturn, gnu::noinline, gnu::cold]] void throw_unsafe_header_value(std::string_view value) {
  throw std::invalid_argument("Unsafe header value " + std::string(value));
}

// Tornado's _INVALID_HEADER_CHAR_RE: any control character below 0x20 (and DEL). Inline,
// the throw out of line: a checked value costs the check, not a call with a frame.
inline void check_header_value(std::string_view value) {
  if (!is_safe_header_value(value)) [[unlikely]] throw_unsafe_header_value(value);
}

// The same bytes; a short text (a reason phrase, "OK" nearly always) compared inline,
// where a memcmp call costs more than the bytes.
bool same_text(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  if (a.size() > 16) return a == b;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// Python's reason_phrase_re ((?:[\t ]|[\x21-\x7E]|[\x80-\xFF])+), and no "<".
bool valid_reason(std::string_view reason) {
  if (reason.empty()) return false;
  for (char c : reason) {
    auto u = static_cast<unsigned char>(c);
    if (c == '<' || !(c == '\t' || c == ' ' || (u >= 0x21 && u <= 0x7e) || u >= 0x80)) {
      return false;
    }
  }
  return true;
}

// Tornado's ETag: the body's SHA-1 in hex, quoted. Through OpenSSL's low-level SHA-1: its
// EVP setup cost more than hashing a short body (11 % of a pipelined plaintext request in a
// profile, against 2 % now).
using QuotedSha1 = std::array<char, 2 * std::tuple_size_v<internal::Sha1Digest> + 2>;

// Each byte's two hex digits, so that a digest is written two digits per step.
constexpr std::array<std::array<char, 2>, 256> kHexPairs = [] {
  constexpr char kHex[] = "0123456789abcdef";
  std::array<std::array<char, 2>, 256> pairs{};
  for (std::size_t b = 0; b < 256; ++b) pairs[b] = {kHex[b >> 4], kHex[b & 0xf]};
  return pairs;
}();

QuotedSha1 hash_quoted_sha1_hex(std::string_view data) {
  const internal::Sha1Digest digest = internal::sha1(data);
  QuotedSha1 quoted;
  quoted.front() = '"';
  for (std::size_t i = 0; i < digest.size(); ++i) {
    std::memcpy(&quoted[1 + 2 * i], kHexPairs[digest[i]].data(), 2);
  }
  quoted.back() = '"';
  return quoted;
}

// The last short body this thread hashed, with its ETag. An endpoint that answers the same
// bytes again (a health check, an unchanged poll, a fixed page) compares them instead of
// hashing them: the hash is about 40 ns even for a few bytes, a compare of that many bytes
// a few. The bytes are compared in full, so the memo cannot give a wrong ETag; a body that
// differs costs one failed compare (equal sizes only) and a copy of at most kMaxBody bytes.
struct EtagMemo {
  static constexpr std::size_t kMaxBody = 512;
  std::size_t size = kMaxBody + 1;  // nothing remembered yet
  QuotedSha1 etag;
  char body[kMaxBody];
};
thread_local EtagMemo t_etag_memo;

// (A reference to this thread's memo, or to its scratch for a longer body: valid until the
// next call, and no copy of the 42 bytes on the way.)
TORNADO_HOT const QuotedSha1& quoted_sha1_hex(std::string_view data) {
  if (data.size() > EtagMemo::kMaxBody) {
    thread_local QuotedSha1 t_long_etag;
    t_long_etag = hash_quoted_sha1_hex(data);
    return t_long_etag;
  }
  EtagMemo& memo = t_etag_memo;
  if (memo.size == data.size() && internal::equal_small(memo.body, data.data(), data.size())) {
    return memo.etag;
  }
  memo.etag = hash_quoted_sha1_hex(data);
  if (!data.empty()) std::memcpy(memo.body, data.data(), data.size());
  memo.size = data.size();
  return memo.etag;
}

// The entity tags of an If-None-Match value: "*", or each (W/)"..." in order.
std::vector<std::string_view> parse_etags(std::string_view s) {
  std::vector<std::string_view> tags;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '*') {
      tags.push_back(s.substr(i, 1));
      ++i;
    } else if (s[i] == '"' || (s.substr(i, 3) == "W/\"")) {
      std::size_t open = s[i] == '"' ? i : i + 2;
      std::size_t close = s.find('"', open + 1);
      if (close == std::string_view::npos) break;
      tags.push_back(s.substr(i, close + 1 - i));
      i = close + 1;
    } else {
      ++i;
    }
  }
  return tags;
}

std::string_view strip_weak(std::string_view tag) {
  if (tag.starts_with("W/")) tag.remove_prefix(2);
  return tag;
}

// The rare paths of finish() and send_buffer, out of line and in .text.unlikely (cold): the
// common request's code then spans fewer cache lines (at depth 1 the request path's code
// fills the instruction cache, and each line it leaves out is one fetch less per request).

// Whether the handler's own fields hold an Etag or a Content-Length, in one pass.
[[gnu::cold, gnu::noinline]] std::pair<bool, bool> own_etag_and_length(
    const httputil::HTTPHeaders& headers) noexcept {
  bool has_etag = false, has_length = false;
  for (const auto [name, value] : headers) {
    has_etag = has_etag || (name.size() == 4 && http1::iequals(name, "Etag"));
    has_length = has_length || (name.size() == 14 && http1::iequals(name, "Content-Length"));
  }
  return {has_etag, has_length};
}

// A 1xx, 204 or 304 carries no body, nor the fields that describe one.
[[gnu::cold, gnu::noinline]] void strip_body(detail::ResponseState& r) {
  r.write_buffer.clear();  // (Tornado asserts none was written)
  r.content_type_pending = false;  // (the default is not put in, then removed)
  for (auto name : {"Content-Encoding", "Content-Language", "Content-Type"}) r.headers.remove(name);
}

// The Set-Cookie fields of the cookies set, by set order.
[[gnu::cold, gnu::noinline]] void add_cookie_fields(detail::ResponseState& r) {
  for (const auto& cookie : r.new_cookies) r.headers.add_unchecked("Set-Cookie", cookie);
}

// The Etag of a handler that overrides compute_etag().
[[gnu::cold, gnu::noinline]] void add_own_etag(const RequestHandler& h, detail::ResponseState& r) {
  if (auto etag = h.compute_etag()) {
    check_header_value(*etag);
    r.headers.add("Etag", *etag);
  }
}

// A request with an If-None-Match that matches the Etag gets a 304 without the body.
[[gnu::cold, gnu::noinline]] void not_modified_if_matching(RequestHandler& h,
                                                           detail::ResponseState& r) {
  if (h.check_etag_header()) {
    r.write_buffer.clear();
    h.set_status(304);
  }
}

// A piece of body after the head (a flushed response's): the common response sends its
// body with its head.
[[gnu::cold, gnu::noinline]] void send_later_chunk(detail::ResponseState& r,
                                                   httputil::HTTPConnection& conn, bool head,
                                                   bool finishing) {
  for (auto& t : r.transforms) t->transform_chunk(r.write_buffer, finishing);
  if (!head && !r.write_buffer.empty()) (void)conn.write(r.write_buffer);
}

// The request timeout of a request that suspended, no longer needed.
[[gnu::cold, gnu::noinline]] void drop_request_timeout(const TimeoutHandle& timeout) {
  IOLoop::current().remove_timeout(timeout);
}

// Settings::log_function, which replaces the access log line.
[[gnu::cold, gnu::noinline]] void call_log_function(const Settings& settings,
                                                    const RequestHandler& h) {
  settings.log_function(h);
}

[[gnu::cold, gnu::noinline]] void transform_first_chunk(detail::ResponseState& r, int& status,
                                                        bool finishing) {
  for (auto& t : r.transforms) t->transform_first_chunk(status, r.headers, r.write_buffer, finishing);
}

}  // namespace

TORNADO_HOT const Settings& RequestHandler::settings() const noexcept {
  return application_->settings();
}

TORNADO_HOT void RequestHandler::reset_to_default_headers() {
  // Room for a typical response's fields first (a recycled state has it already), so
  // Content-Type, Etag and Content-Length are added without reallocating. The defaults are
  // known-valid literals, appended as checked fields: writing them out validates nothing
  // again. (Appended, not copied from a prototype: the copy assignment cost twice as much.)
  auto& headers = response().headers;
  headers.clear();
  headers.reserve(8, 256);
  headers.append_known(kServerField, kServerHeader);
  response().fields_changed = false;
  // Content-Type, at index 1, when the fields are next read (settle_content_type): most
  // handlers that answer text set their own, which then costs no search and no replacement.
  response().content_type_pending = true;
}

// The default's spelling, as a replacement keeps the first occurrence's.
TORNADO_HOT void RequestHandler::put_content_type(std::string_view value) const {
  detail::ResponseState& r = *response_;
  r.content_type_pending = false;
  r.headers.insert_known_at(std::min<std::size_t>(1, r.headers.size()), "Content-Type", value);
}

void RequestHandler::put_default_content_type() const { put_content_type(kDefaultContentType); }

TORNADO_HOT bool RequestHandler::set_pending_content_type(std::string_view value) {
  // (A value viewing the fields' own text would dangle when it grows: the general way.)
  if (!response().content_type_pending || response().headers.aliases(value)) return false;
  put_content_type(value);
  return true;
}

void RequestHandler::clear() {
  auto& r = response();
  reset_to_default_headers();
  set_default_headers();
  r.write_buffer.clear();
  status_code_ = 200;
  if (r.reason != std::string_view("OK")) r.reason.assign("OK");  // (usually is: no copy)
}

void RequestHandler::set_status(int status_code, std::optional<std::string_view> reason) {
  // RFC 9110 15: a status code is three digits; anything else is not a status line.
  if (status_code < 100 || status_code > 999) {
    throw std::invalid_argument("Invalid HTTP status code " + std::to_string(status_code));
  }
  status_code_ = static_cast<int16_t>(status_code);
  if (reason) {
    response().reason = valid_reason(*reason) ? std::string(*reason) : "Unknown";
  } else {
    response().reason = httputil::reason_phrase(status_code);
  }
}

TORNADO_HOT void RequestHandler::set_header(std::string_view name, std::string_view value) {
  check_header_value(value);  // stricter than a field value (no HTAB): checked once
  detail::ResponseState& r = response();
  // set_pending_content_type's test inline (its call was a frame per request).
  if (is_content_type(name) && r.content_type_pending && !r.headers.aliases(value)) {
    put_content_type(value);
    return;
  }
  r.fields_changed = true;
  r.headers.set_with_checked_value(name, value);
}

void RequestHandler::set_header(std::string_view name, std::int64_t value) {
  if (is_content_type(name)) settle_content_type();
  response().fields_changed = true;
  response().headers.set(name, std::to_string(value));
}

void RequestHandler::set_header(std::string_view name, std::chrono::system_clock::time_point date) {
  if (is_content_type(name)) settle_content_type();
  response().fields_changed = true;
  response().headers.set(name, httputil::format_timestamp(date));
}

void RequestHandler::add_header(std::string_view name, std::string_view value) {
  check_header_value(value);
  if (is_content_type(name)) settle_content_type();  // a second value after the default
  response().fields_changed = true;
  response().headers.add(name, value);
}

void RequestHandler::clear_header(std::string_view name) {
  auto& r = response();
  if (r.content_type_pending) {
    if (is_content_type(name)) {
      r.content_type_pending = false;  // never put in: nothing else to remove
      return;
    }
    settle_content_type();  // (a removal before index 1 would move the default's place)
  }
  r.fields_changed = true;
  r.headers.remove(name);
}

TORNADO_HOT void RequestHandler::write(std::string_view chunk) {
  if (finished_) throw std::logic_error("Cannot write() after finish()");
  response().write_buffer.append(chunk);
}

TORNADO_HOT void RequestHandler::write(const nlohmann::json& object) {
  if (!object.is_object()) {
    // Tornado refuses lists (a top-level JSON array is a cross-site hazard) and anything
    // that is not a dict.
    throw std::invalid_argument(
        "write() only accepts text, bytes and JSON objects (a top-level array is refused; "
        "wrap it in an object)");
  }
  if (finished_) throw std::logic_error("Cannot write() after finish()");
  escape::json_encode_to(response().write_buffer, object);  // straight into the body
  constexpr std::string_view kJson = "application/json; charset=UTF-8";
  if (!set_pending_content_type(kJson)) response().headers.set_field("Content-Type", kJson);
}

TORNADO_HOT void RequestHandler::send_buffer(bool finishing, const httputil::KnownFraming* known) {
  httputil::HTTPConnection* conn = request_->connection;
  auto& r = response();
  if (!headers_written_) {
    headers_written_ = true;
    settle_content_type();  // before the transforms read the fields
    std::string& chunk = r.write_buffer;
    int status = status_code_;
    if (!r.transforms.empty()) r.fields_changed = true;  // they may change any field
    if (r.fields_changed) known = nullptr;  // (the handler's own fields: looked through)
    if (!r.transforms.empty()) {
      transform_first_chunk(r, status, finishing);
      status_code_ = static_cast<int16_t>(status);  // (a transform keeps it a 3-digit code)
    }
    if (detail::method_is(request_->method, "HEAD")) chunk.clear();
    if (!r.new_cookies.empty()) add_cookie_fields(r);
    // One start line per thread, updated in place (building one per response cost two
    // string constructions), written through the response form (no StartLine variant).
    thread_local httputil::ResponseStartLine line{"HTTP/1.1", 200, "OK"};
    line.code = status_code_;
    if (!same_text(line.reason, r.reason)) line.reason = r.reason;
    try {
      conn->write_headers_unawaited(line, r.headers, chunk, known);
    } catch (const httputil::HTTPOutputError&) {
      // Refused before a byte went out (a Content-Length that is not a number, ...): the
      // headers are not written, so send_error can still answer with a 500.
      headers_written_ = false;
      throw;
    }
  } else {
    send_later_chunk(r, *conn, detail::method_is(request_->method, "HEAD"), finishing);
  }
  r.write_buffer.clear();
}

httputil::HTTPConnection::WriteAwaiter RequestHandler::flush() {
  if (finished_) throw std::logic_error("Cannot flush() after finish()");
  send_buffer(false);
  return request_->connection->write(std::string_view());
}

httputil::HTTPConnection::WriteAwaiter RequestHandler::finish(std::string_view chunk) {
  if (finished_) throw std::logic_error("finish() called twice");
  write(chunk);
  return finish();
}

// finish()'s work before the connection ends the message: the Etag and Content-Length (or a
// 304), the buffered body sent. Out of line, shared by both forms of finish: inlined into
// them, it made a function large enough that GCC left the fields' vector appends (two a
// request) as calls.
TORNADO_HOT void RequestHandler::begin_finish() {
  if (finished_) throw std::logic_error("finish() called twice");
  // The fields are the defaults and what is added here, unless the handler changed any: then
  // the connection is told their framing instead of looking through them (send_buffer).
  httputil::KnownFraming known;
  char digits[24];  // (Content-Length's, alive until the head is written)
  if (!headers_written_) {
    const std::string_view m = request_->method;
    // Whether the handler set either field, in one pass over the fields (two lookups cost
    // twice the scan).
    bool has_etag = false, has_length = false;
    if (response().fields_changed) {
      std::tie(has_etag, has_length) = own_etag_and_length(response().headers);
    }
    if (status_code_ == 200 && (detail::method_is(m, "GET") || detail::method_is(m, "HEAD")) &&
        !has_etag) {
      // Known absent: appended, no search for one to replace.
      if (!factory_->overrides_compute_etag()) {
        const QuotedSha1& etag = quoted_sha1_hex(response().write_buffer);  // hex: nothing to check
        response().headers.append_known("Etag", std::string_view(etag.data(), etag.size()));
      } else {
        add_own_etag(*this, response());
      }
      // (Most requests have no If-None-Match: looked for inline before the comparison's call.)
      if (detail::first_field(request_->headers, "If-None-Match")) {
        not_modified_if_matching(*this, response());
      }
    }
    if (status_code_ == 204 || status_code_ == 304 || (status_code_ >= 100 && status_code_ < 200)) {
      strip_body(response());  // these carry no body
    } else if (!has_length) {
      const std::size_t length = response().write_buffer.size();
      const auto end = std::to_chars(digits, digits + sizeof digits, length).ptr;
      known.content_length = std::string_view(digits, end - digits);
      known.length = length;
      response().headers.append_known("Content-Length", *known.content_length);
    }
  }
  send_buffer(true, &known);
  finished_ = true;
  // This handler may be gone before the connection notices a close: unhook it first.
  if (close_hooked_) {
    request_->connection->set_close_callback(nullptr);
    close_hooked_ = false;
  }
}

// The request's counts and its access log line (Tornado's log_request), inline in
// end_finish; the line itself is formatted out of line (write_access_log).
[[gnu::always_inline]] inline void RequestHandler::log_request() const {
  // The requests by status class and the handler's own counts, with one look-up of the
  // thread's counters.
  metrics::detail::count_request(
      factory_ ? factory_->metrics_id() : 0, status_code_,
      // (not value_or(now()): that reads the clock even when finish() already has)
      (request_->finish_time ? *request_->finish_time : std::chrono::steady_clock::now()) -
          request_->start_time);
  const Settings& settings = application_->settings();
  if (settings.log_function) {
    call_log_function(settings, *this);
    return;
  }
  auto level = status_code_ < 400   ? spdlog::level::info
               : status_code_ < 500 ? spdlog::level::warn
                                    : spdlog::level::err;
  if (access_log().should_log(level)) write_access_log(level);
}

void RequestHandler::write_access_log(int level) const {
  access_log().log(static_cast<spdlog::level::level_enum>(level), "{} {} {} ({}) {:.2f}ms",
                   status_code_, request_->method, request_->uri, request_->remote_ip,
                   1000.0 * request_->request_time());
}

// And after it: the request's end time, the timeout, the access log and on_finish.
TORNADO_HOT void RequestHandler::end_finish() {
  request_->finish_time = tornado::detail::tsc_clock_now();  // (internal/tsc_clock.h: no fence)
  if (has_timeout_) {  // (a request that suspended)
    drop_request_timeout(timeout_);
    has_timeout_ = false;
  }
  log_request();
  try {
    on_finish();
  } catch (...) {
    app_log().error("Exception in on_finish {}: {}", request_summary(),
                    tornado::detail::describe_exception(std::current_exception()));
  }
}

httputil::HTTPConnection::WriteAwaiter RequestHandler::finish() {
  begin_finish();
  auto done = request_->connection->finish();
  end_finish();
  return done;
}

TORNADO_HOT void RequestHandler::finish_unawaited() {
  begin_finish();
  request_->connection->finish_unawaited();
  end_finish();
}

void RequestHandler::release_response() noexcept { response_.reset(); }

void RequestHandler::response_released() {
  throw std::logic_error(
      "the response was released (a WebSocket's, after its 101): nothing more can be set on it");
}

const std::string& RequestHandler::reason() const noexcept {
  static const std::string kNone;
  return response_ ? response_->reason : kNone;
}

const httputil::HTTPHeaders& RequestHandler::response_headers() const {
  static const httputil::HTTPHeaders kNone;
  if (!response_) return kNone;
  settle_content_type();
  return response_->headers;
}

void RequestHandler::redirect(std::string_view url, bool permanent, std::optional<int> status) {
  if (headers_written_) throw std::logic_error("Cannot redirect after headers have been written");
  int code = status.value_or(permanent ? 301 : 302);
  if (code < 300 || code > 399) throw std::invalid_argument("redirect status must be 3xx");
  // The URL is checked before anything changes: a refused URL leaves the response as it was.
  check_header_value(url);
  set_status(code);
  set_header("Location", url);
  finish();
}

void RequestHandler::send_error(int status_code, std::exception_ptr error) {
  if (headers_written_) {
    gen_log().error("Cannot send error response after headers written");
    if (!finished_) {
      try {
        finish();
      } catch (...) {
        gen_log().error("Failed to flush partial response: {}",
                        tornado::detail::describe_exception(std::current_exception()));
      }
    }
    return;
  }
  try {
    clear();
  } catch (...) {
    // set_default_headers threw: the error page goes out with the default headers only.
    app_log().error("Exception in set_default_headers: {}",
                    tornado::detail::describe_exception(std::current_exception()));
    reset_to_default_headers();
    response().write_buffer.clear();
  }
  std::optional<std::string> reason;
  if (error) {
    try {
      std::rethrow_exception(error);
    } catch (const HTTPError& e) {
      if (!e.reason().empty()) reason = e.reason();
    } catch (...) {
    }
  }
  if (status_code < 100 || status_code > 999) {
    app_log().error("send_error({}): not an HTTP status code, sending 500", status_code);
    status_code = 500;
    reason.reset();
  }
  set_status(status_code, reason ? std::optional<std::string_view>(*reason) : std::nullopt);
  if (status_code == 405) {  // RFC 9110 15.5.6: a 405 lists the methods that work
    if (auto allow = allow_header(); !allow.empty()) {
      response().fields_changed = true;
      response().headers.set("Allow", allow);
    }
  }
  try {
    write_error(status_code, error);
  } catch (...) {
    app_log().error("Uncaught exception in write_error: {}",
                    tornado::detail::describe_exception(std::current_exception()));
  }
  if (finished_) return;
  try {
    finish();
  } catch (const httputil::HTTPOutputError& e) {
    if (headers_written_) throw;
    // Even the error page's headers were refused (set_default_headers sets a bad value):
    // a bare 500 without them, so that the client is not left waiting for an answer.
    app_log().error("Cannot send the error page, sending a bare 500: {}", e.what());
    reset_to_default_headers();
    response().new_cookies.clear();
    response().transforms.clear();
    response().write_buffer.clear();
    set_status(500);
    finish();
  }
}

void RequestHandler::write_error(int status_code, std::exception_ptr error) {
  if (settings().serve_traceback && error) {
    set_header("Content-Type", "text/plain");
    write(tornado::detail::describe_exception(error));
    write("\n");
    finish();
    return;
  }
  const std::string code = std::to_string(status_code);
  const std::string message = escape::xhtml_escape(response().reason);
  finish("<html><title>" + code + ": " + message + "</title><body>" + code + ": " + message +
         "</body></html>");
}

std::optional<std::string> RequestHandler::compute_etag() const {
  const QuotedSha1& etag = quoted_sha1_hex(response().write_buffer);
  return std::string(etag.data(), etag.size());
}

void RequestHandler::set_etag_header() {
  if (auto etag = compute_etag()) set_header("Etag", *etag);
}

TORNADO_HOT bool RequestHandler::check_etag_header() const {
  // If-None-Match first: most requests have none.
  const std::optional<std::string_view> inm =
      detail::first_field(request_->headers, "If-None-Match");
  if (!inm) return false;
  auto computed = response().headers.get_first("Etag");
  if (!computed || computed->empty()) return false;
  auto tags = parse_etags(*inm);
  if (tags.empty()) return false;
  if (tags.front() == "*") return true;
  for (auto tag : tags) {
    if (strip_weak(tag) == strip_weak(*computed)) return true;
  }
  return false;
}

}  // namespace tornado::web
