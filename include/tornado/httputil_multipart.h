// tornado/httputil_multipart.h — a streaming multipart/form-data parser (included by
// httputil.h; namespace tornado::httputil). Tornado buffers a whole body before parsing it
// (request.files); this parser is fed the body chunk by chunk, e.g. from a
// stream_request_body handler's data_received, and reports each part as it goes:
//
//   MultipartStreamParser parser(boundary, {
//       .on_part_begin = [&](const MultipartPart& part) { open(part.name, part.filename); },
//       .on_part_data = [&](std::string_view bytes) { write(bytes); },
//       .on_part_end = [&] { close(); }});
//   parser.feed(chunk);   // as often as chunks arrive; callbacks run inside feed
//   parser.finish();      // at the end of the body: throws if the final boundary is missing
//
// Memory is bounded whatever the body holds: a part's header block (at most
// config.max_part_header_size bytes) and a few bytes of state; part bytes are handed on as
// views into the chunk being fed (bytes that might begin a boundary are held back until the
// next chunk tells, and they are always a prefix of the delimiter, so nothing is copied).
// Time is linear in the body: the delimiter "\r\n--boundary" contains CR only at its start,
// so the scan never re-reads a byte.
//
// Format (RFC 2046 5.1.1 and Tornado's strictness): parts are separated by CRLF "--"
// boundary CRLF (the first boundary may start the body); the part list ends with "--"
// boundary "--". A preamble before the first boundary and an epilogue after the last are
// ignored (RFC 2046; Tornado's buffered parser refuses a non-empty preamble). A boundary
// line followed by anything but CRLF or "--" (transport padding included) is part content,
// as in Tornado. Each part needs a header block ending in an empty line with
// `Content-Disposition: form-data` and a non-empty `name` (filename and RFC 2231 `name*=`
// decoded as parse_multipart_form_data does). A part may have no body at all: the CRLF that
// ends its header block then also opens the next delimiter (RFC 2046: headers [CRLF body]).
//
// Errors: MultipartError (an HTTPInputError, status 400) with the messages of
// parse_multipart_form_data. After an error (or an exception from a callback) the parser is
// failed: every later feed/finish throws the same error again.
// Thread rule: one parser per body, used from one thread.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace tornado::httputil {

// Malformed multipart/form-data or a limit passed while streaming.
class MultipartError : public HTTPInputError {
 public:
  explicit MultipartError(const std::string& what) : HTTPInputError(what, 400) {}
};

// One part's headers, reported before its bytes.
struct MultipartPart {
  std::string name;                     // Content-Disposition name (never empty)
  std::optional<std::string> filename;  // Content-Disposition filename, when present
  std::string content_type;             // Content-Type, or "application/unknown"
  HTTPHeaders headers;                  // the part's whole header block

  // A part with a non-empty filename is an uploaded file (request.files in Tornado); the
  // others are form fields (request.body_arguments).
  bool is_file() const { return filename && !filename->empty(); }
};

class MultipartStreamParser {
 public:
  struct Callbacks {
    std::function<void(const MultipartPart&)> on_part_begin;
    // Bytes of the current part, in order; a view valid only during the call. Never empty.
    std::function<void(std::string_view)> on_part_data;
    std::function<void()> on_part_end;
  };

  // `boundary` as in the Content-Type (surrounding double quotes are removed). Throws
  // MultipartError for an empty boundary, one longer than RFC 2046's 70 characters, one
  // holding CR or LF, or a disabled config.
  MultipartStreamParser(std::string_view boundary, Callbacks callbacks,
                        ParseMultipartConfig config = {});
  // The boundary taken from a `multipart/form-data; boundary=...` Content-Type. Throws
  // MultipartError when the type is not multipart/form-data or has no boundary.
  static MultipartStreamParser from_content_type(std::string_view content_type, Callbacks callbacks,
                                                 ParseMultipartConfig config = {});

  MultipartStreamParser(MultipartStreamParser&&) = default;
  MultipartStreamParser& operator=(MultipartStreamParser&&) = default;

  // Parses the next piece of the body (any size, empty included). Throws MultipartError.
  void feed(std::string_view chunk);
  // The body has ended: throws MultipartError unless the final boundary was seen.
  void finish();

  // The final boundary was seen (later bytes are the epilogue, ignored).
  bool done() const { return state_ == State::kDone; }
  // Parts begun so far.
  std::size_t part_count() const { return parts_; }

 private:
  enum class State { kPreamble, kHeaders, kData, kDone, kFailed };

  [[noreturn]] void fail(const std::string& what);
  void feed_headers(std::string_view chunk, std::size_t& pos);
  void scan_delimiter(std::string_view chunk, std::size_t& pos);
  void begin_part();
  void emit(std::string_view bytes);

  std::string delimiter_;       // "\r\n--" boundary
  std::string delimiter_cr_;    // delimiter + "\r" (the tail while awaiting "\n")
  std::string delimiter_dash_;  // delimiter + "-" (the tail while awaiting the second "-")
  Callbacks callbacks_;
  ParseMultipartConfig config_;
  State state_ = State::kPreamble;
  // Bytes of the delimiter (and of its suffix) matched at the end of what was fed: held
  // back, and known to be `tail()` without storing them.
  std::size_t matched_ = 2;  // the body's start counts as a CRLF: it may open with "--b"
  // How many bytes at the front of the held-back tail are that virtual CRLF (at the body's
  // start, and after a header block, whose last CRLF may also open the delimiter).
  std::size_t virtual_ = 2;
  bool after_cr_ = false;  // matched_ == delimiter size + 1 and the extra byte was '\r'
  std::string header_block_;
  std::size_t header_scan_ = 0;  // where the search for "\r\n\r\n" resumes
  std::size_t parts_ = 0;
  std::string error_;
};

}  // namespace tornado::httputil
