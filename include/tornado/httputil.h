// tornado/httputil.h — HTTP types shared by the server, the client and the web layer
// (Tornado's `httputil`).
//
//   HTTPHeaders h;
//   h.add("Set-Cookie", "a=1");
//   h.add("set-cookie", "b=2");
//   h.get("SET-COOKIE");          // "a=1,b=2"  (Tornado joins multiple values with ",")
//   h.get_list("Set-Cookie");     // {"a=1", "b=2"}
//
//   auto url = url_concat("/search?q=x", {{"page", "2"}});   // "/search?q=x&page=2"
//
// Also here: HTTPServerRequest (what a handler sees), HTTPFile, body and cookie parsing,
// start lines, dates, and the delegate interfaces between http1connection and the layers
// above it (HTTPServerConnectionDelegate, HTTPMessageDelegate, HTTPConnection).
// Thread rule: plain values; no thread affinity except through HTTPConnection (loop thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "tornado/frame_alloc.h"
#include "tornado/iostream.h"
#include "tornado/task.h"

namespace tornado {
class HTTP1Connection;
}
namespace tornado::web {
class RequestHandler;
namespace detail {
struct RecycleResponseState;
}
}
namespace tornado::http1 {
struct MessageHead;
struct TargetParts;
}

namespace tornado::httputil {

// Bad input from the peer: answered with 400 (or the given status) and a closed connection.
class HTTPInputError : public std::runtime_error {
 public:
  explicit HTTPInputError(const std::string& what, int status = 400)
      : std::runtime_error(what), status_(status) {}
  int status() const noexcept { return status_; }

 private:
  int status_;
};

// Our own framing mistake (writing more than Content-Length, a header with CR/LF...).
class HTTPOutputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A field name as HTTPHeaders' add, add_unchecked and set take it: any string, or a string
// literal, which is checked when the program is compiled. A literal that is a valid name
// (a token, RFC 9110 5.6.2) is then not checked again each time it is added or written;
// one that is not is refused at run time like any other bad name (HTTPOutputError).
//
//   headers.add("Server", "TornadoServer/6.5");   // the name checked at compile time
//   headers.add(name, value);                     // std::string, string_view, const char*
//
// An array of char that is not a constant (a name built at run time in a char buffer) must
// be passed as std::string_view(buffer): the literal form is only for constants.
class FieldName {
 public:
  template <std::size_t N>
  consteval FieldName(const char (&name)[N]) noexcept  // NOLINT: implicit by design
      : FieldName(std::string_view(name)) {
    if (is_token_literal(view())) size_ |= kToken;
  }
  constexpr FieldName(std::string_view name) noexcept  // NOLINT
      : data_(name.data()), size_(name.size()) {}
  FieldName(const std::string& name) noexcept : FieldName(std::string_view(name)) {}  // NOLINT
  template <class T>
    requires(std::is_same_v<T, const char*> || std::is_same_v<T, char*>)
  FieldName(T name) noexcept : FieldName(std::string_view(name)) {}  // NOLINT

  constexpr std::string_view view() const noexcept { return {data_, size_ & ~kToken}; }
  // Checked (at compile time) to be a token.
  constexpr bool known_token() const noexcept { return (size_ & kToken) != 0; }

 private:
  static consteval bool is_token_literal(std::string_view name) {
    if (name.empty()) return false;
    for (char c : name) {
      const bool tchar = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                         (c >= 'A' && c <= 'Z') ||
                         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
      if (!tchar) return false;
    }
    return true;
  }
  // The flag rides in the size's top bit (no object is that large), so that a FieldName is
  // two words, passed in two registers like a string_view rather than in memory.
  static constexpr std::size_t kToken = ~(~std::size_t{0} >> 1);
  const char* data_;
  std::size_t size_;
};

// A field value as the view Responder (tornado/httputil_view.h) takes it: any string, or a
// string literal, checked when the program is compiled to hold no CR, LF or other control
// character (HTAB allowed) and then not checked again when written; a literal that fails is
// refused at run time like any other bad value (HTTPOutputError). Same rules as FieldName.
class FieldValue {
 public:
  template <std::size_t N>
  consteval FieldValue(const char (&value)[N]) noexcept  // NOLINT: implicit by design
      : FieldValue(std::string_view(value)) {
    if (is_value_literal(view())) size_ |= kChecked;
  }
  constexpr FieldValue(std::string_view value) noexcept  // NOLINT
      : data_(value.data()), size_(value.size()) {}
  FieldValue(const std::string& value) noexcept : FieldValue(std::string_view(value)) {}  // NOLINT
  template <class T>
    requires(std::is_same_v<T, const char*> || std::is_same_v<T, char*>)
  FieldValue(T value) noexcept : FieldValue(std::string_view(value)) {}  // NOLINT

  constexpr std::string_view view() const noexcept { return {data_, size_ & ~kChecked}; }
  // Checked (at compile time) to be a valid field value.
  constexpr bool known_valid() const noexcept { return (size_ & kChecked) != 0; }

 private:
  static consteval bool is_value_literal(std::string_view value) {
    for (char c : value) {
      const auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
    }
    return true;
  }
  static constexpr std::size_t kChecked = ~(~std::size_t{0} >> 1);
  const char* data_;
  std::size_t size_;
};

// A case-insensitive, multi-valued, insertion-ordered header map. Each field keeps the name
// spelling it was added with; get() joins several values with "," as Tornado does.
//
// Storage: every name and value sits back to back in one string, indexed by a small array
// of offsets, so a parsed request head becomes headers with two allocations (not two per
// field) and one copy. Views returned by get_first() and iteration stay valid until the
// headers change.
class HTTPHeaders {
 public:
  using Field = std::pair<std::string_view, std::string_view>;

  HTTPHeaders() = default;
  HTTPHeaders(std::initializer_list<std::pair<std::string, std::string>> fields);

  // Adds a value (keeps earlier ones). Throws HTTPOutputError if the name is not a token or
  // the value holds CR, LF or another control character (header injection guard).
  void add(FieldName name, std::string_view value);
  // Replaces every value of `name` with `value`. Same checks as add.
  void set(FieldName name, std::string_view value);
  // Adds without validation: for fields the parser already validated, or checked when
  // written (write_headers and write_to refuse the field then, sending none of the head).
  void add_unchecked(FieldName name, std::string_view value);
  // Room for `fields` more fields holding `bytes` more bytes of names and values.
  // (Inline: a handler's recycled headers call it per request and already have the room.)
  void reserve(std::size_t fields, std::size_t bytes) {
    if (entries_.capacity() - entries_.size() < fields) entries_.reserve(entries_.size() + fields);
    text_.reserve(text_.size() + bytes);
  }
  // Removes every value of `name`; returns how many were removed.
  std::size_t remove(std::string_view name);
  void clear() noexcept {
    entries_.clear();
    text_.clear();
    dead_bytes_ = 0;
    unchecked_ = false;
    unchecked_values_ = false;
  }

  bool contains(std::string_view name) const noexcept { return find(name) != npos; }
  // All values joined with ","; std::nullopt if absent.
  std::optional<std::string> get(std::string_view name) const;
  // Like get(), with a default.
  std::string get(std::string_view name, std::string_view fallback) const;
  // The first value (valid until the headers change), or nullopt if absent.
  std::optional<std::string_view> get_first(std::string_view name) const noexcept;
  std::vector<std::string> get_list(std::string_view name) const;
  // Every (name, value) in insertion order, copied (iterate the headers to avoid the copy).
  std::vector<std::pair<std::string, std::string>> get_all() const;
  std::size_t size() const noexcept { return entries_.size(); }
  bool empty() const noexcept { return entries_.empty(); }
  // The bytes held for fields, used or not (clear() keeps them for the next use).
  std::size_t capacity_bytes() const noexcept {
    return text_.capacity() + entries_.capacity() * sizeof(Entry);
  }
  // Bytes of name and value text held (live and not yet compacted away).
  std::size_t storage_bytes() const noexcept { return text_.size(); }

  // for (auto [name, value] : headers): views, in insertion order.
  class const_iterator {
   public:
    using value_type = Field;
    using difference_type = std::ptrdiff_t;
    const_iterator() = default;
    Field operator*() const noexcept { return owner_->field(index_); }
    const_iterator& operator++() noexcept {
      ++index_;
      return *this;
    }
    const_iterator operator++(int) noexcept {
      auto copy = *this;
      ++index_;
      return copy;
    }
    bool operator==(const const_iterator& o) const noexcept { return index_ == o.index_; }

   private:
    friend class HTTPHeaders;
    const_iterator(const HTTPHeaders* owner, std::size_t index) : owner_(owner), index_(index) {}
    const HTTPHeaders* owner_ = nullptr;
    std::size_t index_ = 0;
  };
  const_iterator begin() const noexcept { return {this, 0}; }
  const_iterator end() const noexcept { return {this, entries_.size()}; }
  // The i-th field, 0 <= i < size().
  Field field(std::size_t i) const noexcept {
    const Entry& e = entries_[i];
    return {std::string_view(text_.data() + e.name_at, e.name_size),
            std::string_view(text_.data() + e.value_at, e.value_size)};
  }

  // The fields of a parsed HTTP/1 head (internal/http_parser.h), copied out of the read
  // buffer: unchecked, as add_unchecked (the parser validated them).
  static HTTPHeaders from_head(const http1::MessageHead& head);

  // Parses a header block (lines ending in CRLF or LF, obs-fold joined with a space).
  // Throws HTTPInputError on a malformed line.
  static HTTPHeaders parse(std::string_view text);
  // Parses one "Name: value" line into these headers. Throws HTTPInputError.
  void parse_line(std::string_view line);

  // Serialises as "Name: value\r\n" lines (no final blank line), appending to `out`.
  // Throws HTTPOutputError for a field that is not a token name with a valid value (CR, LF
  // or another CTL: one added through add_unchecked), before writing it.
  void write_to(std::string& out) const;

  // Same fields, same order, same name spelling.
  bool operator==(const HTTPHeaders& other) const noexcept;

 private:
  // The web layer appends fields it built from bytes known to be valid (an ETag's quoted
  // hex, Content-Length's digits) without checking them again.
  friend class tornado::web::RequestHandler;
  // A handler's recycled response keeps its default first field (keep_only_first).
  friend struct tornado::web::detail::RecycleResponseState;
  // The connection sizes a whole response head before filling it (wire_size, write_fields).
  friend class tornado::HTTP1Connection;
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  // The first capacity of headers built field by field: 8 fields (128 bytes) and 256
  // bytes of text.
  static constexpr std::size_t kFirstFields = 8;
  static constexpr std::size_t kFirstText = 256;
  // set() without the checks (set_field), or checking the name only (the value was).
  void set_field(std::string_view name, std::string_view value);
  void set_with_checked_value(std::string_view name, std::string_view value);
  // set_field's work once `first` (find(name), or npos) is known.
  void replace_at(std::size_t first, std::string_view name, std::string_view value);
  struct Entry {
    uint32_t name_at, name_size, value_at, value_size;
  };
  std::size_t find(std::string_view name) const noexcept;
  // write_to in two steps: the bytes the fields take on the wire, then the fields written
  // from `p` (that many bytes; returns where they end), each field added unchecked checked
  // as it is copied: throws as write_to does, leaving [p, p + wire_size()) partly written.
  std::size_t wire_size() const noexcept;
  char* write_fields(char* p) const;
  // True if `bytes` points into text_ (and would dangle when it grows). One unsigned
  // comparison of the addresses as integers (comparing pointers into different objects is
  // unspecified): an address below text_ wraps around to a huge distance.
  bool aliases(std::string_view bytes) const noexcept {
    const auto distance = reinterpret_cast<std::uintptr_t>(bytes.data()) -
                          reinterpret_cast<std::uintptr_t>(text_.data());
    return !bytes.empty() && distance < text_.size();
  }
  void append_field(std::string_view name, std::string_view value);
  // The web layer's own fields (a literal name, a value it made from valid bytes on its
  // stack): appended with no aliasing check, inline so that copies of known sizes are
  // inlined too. The general path when there is no room yet.
  [[gnu::always_inline]] void append_known(std::string_view name, std::string_view value) {
    const std::size_t n = name.size() + value.size();
    if (n > text_.capacity() - text_.size() || entries_.size() == entries_.capacity() ||
        name.empty() || value.empty()) [[unlikely]] {
      append_field(name, value);
      return;
    }
    const auto at = static_cast<uint32_t>(text_.size());
    char* p = text_.extend(n);
    std::memcpy(p, name.data(), name.size());
    std::memcpy(p + name.size(), value.data(), value.size());
    push_entry_at(at, name.size(), value.size());
  }
  // append_known's field placed at `index` (at most size()) among the fields: its bytes go
  // at the end of the text like any other's, only the entries' order is the fields' order.
  void insert_known_at(std::size_t index, std::string_view name, std::string_view value) {
    append_known(name, value);
    // The new last entry moved down to `index` (usually past one or two: a plain loop, where
    // std::rotate's general algorithm cost some 60 instructions).
    const Entry added = entries_.back();
    for (std::size_t i = entries_.size() - 1; i > index; --i) entries_[i] = entries_[i - 1];
    entries_[index] = added;
  }
  // Back to the first field alone, when its bytes start the text (as the first append put
  // them); otherwise cleared. The caller knows what that field is.
  void keep_only_first() noexcept {
    if (entries_.empty() || entries_.front().name_at != 0 ||
        entries_.front().value_at != entries_.front().name_size) {
      clear();
      return;
    }
    const Entry& e = entries_.front();
    text_.truncate(e.name_size + e.value_size);
    entries_.erase(entries_.begin() + 1, entries_.end());
    dead_bytes_ = 0;
    unchecked_ = false;
    unchecked_values_ = false;
  }
  // The entry of a name and value just copied back to back at text offset `at`.
  void push_entry_at(uint32_t at, std::size_t name_size, std::size_t value_size) {
    entries_.push_back(Entry{at, static_cast<uint32_t>(name_size),
                             at + static_cast<uint32_t>(name_size),
                             static_cast<uint32_t>(value_size)});
  }
  [[gnu::noinline]] void append_field_copied(std::string_view name, std::string_view value);
  // Appends bytes to text_ and returns where they start.
  uint32_t store(std::string_view bytes);
  // Drops text no entry points to once it outweighs the live text (set/remove leave some).
  void compact_if_wasteful();

  // Both buffers come from the per-thread frame cache (frame_alloc.h): headers are made
  // and dropped per request, and a warm server reuses their storage instead of malloc's.
  // The text is a plain byte buffer, not a std::string: an append is a capacity check, a
  // memcpy and a size update (a string's append also checks its size limit and terminates;
  // a response's three fields spent about 80 instructions each in those appends).
  class Text {
   public:
    Text() noexcept = default;
    Text(const Text& other) { assign(other.data_, other.size_); }
    Text(Text&& other) noexcept
        : data_(std::exchange(other.data_, nullptr)),
          size_(std::exchange(other.size_, 0)),
          capacity_(std::exchange(other.capacity_, 0)) {}
    Text& operator=(const Text& other) {
      if (this != &other) assign(other.data_, other.size_);
      return *this;
    }
    Text& operator=(Text&& other) noexcept {
      if (this != &other) {
        release();
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
        capacity_ = std::exchange(other.capacity_, 0);
      }
      return *this;
    }
    ~Text() { release(); }
    const char* data() const noexcept { return data_; }
    char* data() noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return capacity_; }
    bool empty() const noexcept { return size_ == 0; }
    void clear() noexcept { size_ = 0; }
    void truncate(std::size_t size) noexcept { size_ = static_cast<uint32_t>(size); }  // <= size()
    // Room for `bytes` in all (never shrinks); throws std::length_error past 4 GiB.
    void reserve(std::size_t bytes) {
      if (bytes > capacity_) grow(bytes);
    }
    void append(std::string_view bytes) {
      if (bytes.empty()) return;
      if (bytes.size() > capacity_ - size_) grow_for(bytes.size());
      std::memcpy(data_ + size_, bytes.data(), bytes.size());
      size_ += static_cast<uint32_t>(bytes.size());
    }
    // `bytes` more at the end, to be written by the caller: the room must be reserved.
    char* extend(std::size_t bytes) noexcept {
      char* at = data_ + size_;
      size_ += static_cast<uint32_t>(bytes);
      return at;
    }
    void assign(const char* bytes, std::size_t size) {
      clear();
      append(std::string_view(bytes, size));
    }

   private:
    void grow_for(std::size_t more);  // room for `more` past size(), at least doubling
    void grow(std::size_t bytes);     // room for exactly `bytes`, contents kept
    void release() noexcept {
      if (data_) tornado::detail::PooledAllocator<char>().deallocate(data_, capacity_);
    }
    char* data_ = nullptr;
    uint32_t size_ = 0;
    uint32_t capacity_ = 0;
  };
  Text text_;
  std::vector<Entry, tornado::detail::PooledAllocator<Entry>> entries_;
  std::size_t dead_bytes_ = 0;  // bytes of text_ no entry uses
  bool unchecked_ = false;         // some field came through add_unchecked (or the parser)
  bool unchecked_values_ = false;  // the same for a value only: its name was a valid literal
};

// An uploaded file from a multipart/form-data body.
struct HTTPFile {
  std::string filename;
  std::string body;
  std::string content_type;
};

// Limits for multipart/form-data bodies (Tornado 6.5's ParseMultipartConfig). A body past a
// limit is an HTTPInputError, like any other malformed body.
struct ParseMultipartConfig {
  bool enabled = true;                           // false: every multipart body is refused
  std::size_t max_parts = 100;                   // parts per body
  std::size_t max_part_header_size = 10 * 1024;  // bytes of one part's header block
};

// Query and form arguments: name -> values in order. Values are bytes (not yet decoded).
using Arguments = std::map<std::string, std::vector<std::string>, std::less<>>;
using Files = std::map<std::string, std::vector<HTTPFile>, std::less<>>;

struct RequestStartLine {
  std::string method;
  std::string path;     // the request target as sent
  std::string version;  // "HTTP/1.1"
};

struct ResponseStartLine {
  ResponseStartLine() = default;
  // ResponseStartLine{"HTTP/1.1", 200, "OK"}: each string made once from its known length
  // (a literal's length is found at compile time through the view, not by strlen).
  ResponseStartLine(std::string_view version_in, int code_in, std::string_view reason_in)
      : version(version_in), code(code_in), reason(reason_in) {}

  std::string version;
  int code = 0;
  std::string reason;
};

using StartLine = std::variant<RequestStartLine, ResponseStartLine>;

// A request line as a server's connection parsed it: views into its read buffer, valid only
// during the call they are given to (HTTPMessageDelegate::request_head_now).
struct RequestLineView {
  std::string_view method;
  std::string_view path;     // the request target as sent
  std::string_view version;  // "HTTP/1.1"
  // The Host field's value when the connection already found it while checking the head
  // (a view like the others), so that the request need not search the headers again;
  // nullopt when not found or not looked for (the request then looks in the headers).
  std::optional<std::string_view> host = std::nullopt;
};
// The owned copy of a request line's views.
RequestStartLine to_start_line(const RequestLineView& line);

// Parses "GET /foo HTTP/1.1". Throws HTTPInputError ("Malformed HTTP request line").
RequestStartLine parse_request_start_line(std::string_view line);
// Parses "HTTP/1.1 200 OK". Throws HTTPInputError ("Error parsing response start line").
ResponseStartLine parse_response_start_line(std::string_view line);

class HTTPConnection;

// Where a request came from, as the server sees it (after xheaders, if enabled).
struct HTTPConnectionContext {
  std::string remote_ip;          // peer address ("" for a Unix socket)
  std::string protocol = "http";  // "http" or "https"
};

// One HTTP request as a handler sees it (Tornado's HTTPServerRequest).
class HTTPServerRequest {
 public:
  HTTPServerRequest() = default;
  // Out of line, with the request path (tornado/hot.h); the rest as the compiler makes them.
  ~HTTPServerRequest();
  HTTPServerRequest(const HTTPServerRequest&) = default;
  HTTPServerRequest(HTTPServerRequest&&) = default;
  HTTPServerRequest& operator=(const HTTPServerRequest&) = default;
  HTTPServerRequest& operator=(HTTPServerRequest&&) = default;
  // Builds a request; splits uri into path and query and parses query_arguments.
  HTTPServerRequest(std::string method, std::string uri, std::string version = "HTTP/1.0",
                    HTTPHeaders headers = {}, std::string body = {}, std::string host = {},
                    HTTPConnection* connection = nullptr);
  // What a server builds per request: the start line's parts copied straight into their
  // members, the headers moved in, no body yet.
  HTTPServerRequest(const RequestStartLine& start_line, HTTPHeaders&& headers,
                    HTTPConnection* connection);
  // The same from the parsed line's views (no start line's strings made first).
  HTTPServerRequest(const RequestLineView& line, HTTPHeaders&& headers,
                    HTTPConnection* connection);

  std::string method;
  std::string uri;
  std::string version;
  HTTPHeaders headers;
  std::string body;
  std::string remote_ip;
  std::string protocol = "http";  // "http" or "https"
  std::string host;               // from Host, or "127.0.0.1"
  std::string host_name;          // host without the port, lower case
  std::string path;
  std::string query;
  Arguments arguments;  // query and body arguments merged
  Arguments query_arguments;
  Arguments body_arguments;
  Files files;
  HTTPConnection* connection = nullptr;  // valid while the request is being served

  // scheme://host + uri
  std::string full_url() const;
  // Seconds since the request started (until finish, once finished).
  double request_time() const;
  // Cookies from the Cookie header, parsed the lenient browser way (bad pairs dropped).
  const std::map<std::string, std::string, std::less<>>& cookies() const;
  // Parses body into body_arguments/files (per Content-Type) and merges into arguments.
  // Malformed bodies are logged on gen_log() at warning and ignored (the request goes on
  // with whatever was parsed before the error); never throws HTTPInputError.
  void parse_body(const ParseMultipartConfig& config = {});

  // Set by the server: when the request started and (once finished) ended.
  std::chrono::steady_clock::time_point start_time = IOLoop::iteration_clock();
  std::optional<std::chrono::steady_clock::time_point> finish_time;

 private:
  // What the view constructor does once the target and Host field are split into views
  // (http1::split_request_target), so that each string member is made once from its view.
  HTTPServerRequest(const RequestLineView& line, HTTPHeaders&& headers, HTTPConnection* connection,
                    const http1::TargetParts& parts);
  // The last of construction: host_name lower-cased, query_arguments (and arguments) parsed.
  void finish_target();

  mutable std::optional<std::map<std::string, std::string, std::less<>>> cookies_;
};

// ---- parsing helpers ----

// Splits `uri` at '?' into path and query.
std::pair<std::string, std::string> split_uri(std::string_view uri);
// application/x-www-form-urlencoded → arguments ('+' is a space, %XX decoded; blank values
// kept, as Tornado does). Malformed escapes are kept literally.
void parse_qs_into(std::string_view qs, Arguments& out);
// Fills arguments/files from a body of `content_type`. Throws HTTPInputError on a body the
// type cannot parse (malformed multipart, Content-Encoding on a form); callers that want
// Tornado's lenient behaviour catch and log.
void parse_body_arguments(std::string_view content_type, std::string_view body, Arguments& args,
                          Files& files, const HTTPHeaders* headers = nullptr,
                          const ParseMultipartConfig& config = {});
// multipart/form-data with `boundary` (surrounding double quotes are removed). Throws
// HTTPInputError on a boundary longer than RFC 2046's 70 characters, a missing final
// boundary, a part without headers, name or form-data disposition, or a limit of `config`
// passed. Linear in the body whatever it holds.
void parse_multipart_form_data(std::string_view boundary, std::string_view body, Arguments& args,
                               Files& files, const ParseMultipartConfig& config = {});
// The lenient browser-style Cookie parser: "a=1; b=2" → {a:1, b:2}.
std::map<std::string, std::string, std::less<>> parse_cookie(std::string_view header);
// Appends arguments to a URL's query (percent-encoded, '+' for spaces as Tornado does).
std::string url_concat(std::string_view url,
                       const std::vector<std::pair<std::string, std::string>>& args);
// An HTTP-date: "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 5.6.7).
std::string format_timestamp(std::chrono::system_clock::time_point t);
std::string format_timestamp(int64_t unix_seconds);
// Parses an HTTP-date (IMF-fixdate, RFC 850 and asctime forms); nullopt if invalid.
std::optional<int64_t> parse_http_date(std::string_view s);
// "host:port" → {host, port}; "[::1]:80" → {"::1", 80}; no port → nullopt.
std::pair<std::string, std::optional<int>> split_host_and_port(std::string_view netloc);
// The standard reason phrase for a status code, or "Unknown".
std::string_view reason_phrase(int code) noexcept;
// "user:pass" in base64, for Basic authentication.
std::string encode_basic_auth(std::string_view username, std::string_view password);

// ---- byte ranges (RFC 9110 14; Tornado's _parse_request_range / _get_content_range) ----

// One parsed `Range: bytes=...` header, as slice indexes (Tornado's (start, end) pair):
// `bytes=1-2` → {1, 3}; `bytes=6-` → {6, none}; `bytes=-6` (the last 6 bytes) → {-6, none};
// `bytes=-0` → {none, 0}; `bytes=` → {none, none} (the whole representation).
struct ByteRange {
  std::optional<int64_t> start;  // negative: a suffix of that many bytes
  std::optional<int64_t> end;    // exclusive
  bool operator==(const ByteRange&) const = default;
};

// Parses a Range header. nullopt for anything Tornado ignores (RFC 9110 14.2: an invalid
// Range is treated as absent): another unit, a list of ranges (`bytes=0-1,5-9`: only one
// range is served, as in Tornado), a position that is not decimal digits (signs, `_`,
// hex...). The unit is matched case-insensitively (RFC 9110 14.1; Tornado wants `bytes`);
// SP/HTAB around the unit, the `=`, the `-` and the numbers is allowed. A position past
// INT64_MAX saturates (so a huge start is unsatisfiable and a huge end is capped).
std::optional<ByteRange> parse_request_range(std::string_view header) noexcept;

// The `Content-Range` value for slice [start, end) of `total` bytes: `bytes 0-0/4` for
// {none, 1}, `bytes 1-2/4` for {1, 3}, `bytes 0-3/4` for {none, none} (Tornado's forms).
std::string get_content_range(std::optional<int64_t> start, std::optional<int64_t> end,
                              int64_t total);

// What a server does with a Range header against a representation of `size` bytes
// (StaticFileHandler's rules):
// - kWhole: 200 with the whole body (no or an ignored Range, `bytes=0-`, a suffix at least
//   as long as the file, an end past the file from 0);
// - kPartial: 206 with bytes [start, end) and `content_range`;
// - kUnsatisfiable: 416 with `content_range` = `bytes */size` (a start at or past the
//   end, a start after the end, `bytes=-0`, any range of an empty file).
struct RangeDecision {
  enum Kind { kWhole, kPartial, kUnsatisfiable } kind = kWhole;
  int64_t start = 0;          // first byte to send
  int64_t end = 0;            // one past the last byte to send (size for kWhole)
  std::string content_range;  // empty for kWhole
  int64_t length() const noexcept { return end - start; }
};
RangeDecision decide_range(const std::optional<ByteRange>& range, int64_t size);

// ---- the interfaces between http1connection and the layers above ----

// Receives one HTTP message (request on a server, response on a client), in order:
// headers_received, then data_received* , then exactly one of finish or
// on_connection_close. A returned Task is awaited before more of the body is read
// (flow control).
class HTTPMessageDelegate {
 public:
  virtual ~HTTPMessageDelegate() = default;
  // `headers` may be moved away by the delegate: the connection reads nothing from it after.
  virtual Task<> headers_received(const StartLine& start_line, HTTPHeaders& headers) = 0;
  // The synchronous form, as Tornado's headers_received may return None instead of an
  // awaitable: a delegate that takes the head without waiting for anything may do it here
  // and return true; the server's connection then does not call headers_received (no Task,
  // no coroutine frame for that step). Returning false has headers_received called next
  // (for what needs awaiting; the delegate knows what it did here already). The default
  // does nothing and returns false. Same contract otherwise (it may throw as
  // headers_received's Task may).
  virtual bool headers_received_now(const StartLine& start_line, HTTPHeaders& headers) {
    (void)start_line;
    (void)headers;
    return false;
  }
  // What a server's connection calls first for a request: the request line as views into
  // its read buffer (valid during this call only), so that a delegate building its own
  // request object copies each part once. Returns what headers_received_now returns: true
  // when the head is taken; false to have headers_received(start_line, headers) called next,
  // for which `start_line` must then hold the request line (it arrives empty). The default
  // builds the start line and calls headers_received_now.
  virtual bool request_head_now(const RequestLineView& line, HTTPHeaders& headers,
                                StartLine& start_line);
  virtual Task<> data_received(std::string_view chunk) = 0;
  virtual void finish() = 0;
  virtual void on_connection_close() = 0;
};

// What a writer that made a response's fields itself knows of them (the web layer, when the
// handler changed nothing but the default fields): there is no Transfer-Encoding, Connection
// or Date field, and Content-Length is `content_length` (or absent), whose digits say
// `length`. A connection given this takes it instead of looking through the fields.
struct KnownFraming {
  std::optional<std::string_view> content_length;
  uint64_t length = 0;
};

// The writing side of one message exchange (implemented by HTTP1Connection). Writes are
// eager: bytes are queued (and usually sent) before the call returns; the returned
// awaitable completes when they reached the kernel, and awaiting it is optional.
class HTTPConnection {
 public:
  using WriteAwaiter = IOStream::WriteAwaiter;
  virtual ~HTTPConnection() = default;
  // Sends the start line and headers (and optionally a first chunk). For a response with
  // neither Content-Length nor a no-body status, chunked encoding is used on HTTP/1.1.
  // Throws HTTPOutputError on invalid headers; StreamClosedError if the peer is gone.
  virtual WriteAwaiter write_headers(const StartLine& start_line, const HTTPHeaders& headers,
                                     std::string_view chunk = {}) = 0;
  // The same for a response's head, its start line used where it is (not moved into a
  // StartLine first): what `write_headers(ResponseStartLine{"HTTP/1.1", 200, "OK"}, ...)`
  // calls.
  WriteAwaiter write_headers(const ResponseStartLine& start_line, const HTTPHeaders& headers,
                             std::string_view chunk = {}) {
    return write_response_head(start_line, headers, chunk);
  }
  // Sends a piece of the body. Throws HTTPOutputError past a declared Content-Length.
  virtual WriteAwaiter write(std::string_view chunk) = 0;
  // Ends the message. Throws HTTPOutputError if fewer bytes than Content-Length were sent.
  virtual WriteAwaiter finish() = 0;
  // write_headers (a response's) and finish() for a caller that drops the awaitable: the
  // same writes and checks, and no awaitable made and unlinked again (the web layer's usual
  // head and end). By default through the awaited forms.
  // `known`: what the caller knows of the fields it made itself (then they are not looked
  // through for it).
  void write_headers_unawaited(const ResponseStartLine& start_line, const HTTPHeaders& headers,
                               std::string_view chunk = {},
                               const KnownFraming* known = nullptr) {
    send_response_head(start_line, headers, chunk, known);
  }
  virtual void finish_unawaited() { (void)finish(); }
  // Runs `callback` if the peer closes the connection before the response is finished
  // (RequestHandler::on_connection_close uses it; cancelling the handler's task from it
  // stops the work). Replaced by a later call. The exchange still ends only with finish()
  // (nothing is sent once the peer is gone): the connection object stays valid until then.
  virtual void set_close_callback(std::function<void()> callback) = 0;
  // Per-request overrides (Tornado's set_max_body_size / set_body_timeout).
  virtual void set_max_body_size(std::size_t bytes) = 0;
  virtual void set_body_timeout(Duration timeout) = 0;
  // The peer address and scheme for the current request.
  virtual const HTTPConnectionContext& context() const = 0;

 protected:
  // write_headers for a response; by default through the StartLine form.
  virtual WriteAwaiter write_response_head(const ResponseStartLine& start_line,
                                           const HTTPHeaders& headers, std::string_view chunk) {
    return write_headers(StartLine(start_line), headers, chunk);
  }
  // write_headers_unawaited's work (the default ignores `known`).
  virtual void send_response_head(const ResponseStartLine& start_line, const HTTPHeaders& headers,
                                  std::string_view chunk, const KnownFraming* known) {
    (void)known;
    (void)write_response_head(start_line, headers, chunk);
  }
};

// Called by the server for each request on a connection.
class RequestView;  // tornado/httputil_view.h
class Responder;

class HTTPServerConnectionDelegate {
 public:
  virtual ~HTTPServerConnectionDelegate() = default;
  // Returns the delegate that receives this request (owned by the caller of
  // start_request until finish or on_connection_close has run).
  virtual std::unique_ptr<HTTPMessageDelegate> start_request(HTTPConnection* connection) = 0;
  // Optional: `finished`, a delegate this object's start_request returned, has had its
  // request end (finish() ran and the response is complete) and its connection stays open.
  // Returning true says it has been made ready for a new request: the connection may then
  // pass it its next request instead of calling start_request again (a delegate and its
  // allocation less per request), or drop it. The default returns false: the connection
  // drops it and calls start_request for the next request, as without this.
  virtual bool reuse_request(HTTPMessageDelegate& finished) {
    (void)finished;
    return false;
  }
  virtual void on_close(HTTPConnection* /*connection*/) {}

  // Optional, the fast path (tornado/httputil_view.h): a complete request without a body,
  // offered as views into the read buffer before anything is made for it, when
  // offers_views() is true. Answering it through `responder` serves it; a request left
  // unanswered goes on to start_request as any other.
  virtual void serve_view(const RequestView& request, Responder& responder) {
    (void)request;
    (void)responder;
  }
  // Read per request (a flag, not a virtual call, for the delegates that offer none).
  bool offers_views() const noexcept { return offers_views_; }

 protected:
  bool offers_views_ = false;
};

}  // namespace tornado::httputil

// The streaming multipart/form-data parser (MultipartStreamParser).
#include "tornado/httputil_multipart.h"  // IWYU pragma: export
