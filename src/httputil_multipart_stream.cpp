// MultipartStreamParser: multipart/form-data parsed as it arrives, in linear time and
// bounded memory (see include/tornado/httputil_multipart.h for the format and the limits).
#include <algorithm>
#include <cstring>

#include "internal/header_params.h"
#include "tornado/httputil.h"

namespace tornado::httputil {

namespace {

using detail::kMaxBoundaryLength;
using detail::strip_ascii_space;

}  // namespace

MultipartStreamParser::MultipartStreamParser(std::string_view boundary, Callbacks callbacks,
                                             ParseMultipartConfig config)
    : callbacks_(std::move(callbacks)), config_(config) {
  if (!config_.enabled) throw MultipartError("multipart/form-data parsing is disabled");
  if (boundary.size() >= 2 && boundary.front() == '"' && boundary.back() == '"') {
    boundary = boundary.substr(1, boundary.size() - 2);
  }
  if (boundary.empty()) throw MultipartError("Invalid multipart/form-data: empty boundary");
  if (boundary.size() > kMaxBoundaryLength) {
    throw MultipartError("Invalid multipart/form-data: boundary longer than " +
                         std::to_string(kMaxBoundaryLength) + " characters");
  }
  // RFC 2046's bchars exclude CR and LF; the linear scan relies on CR only opening the
  // delimiter.
  if (boundary.find_first_of("\r\n") != std::string_view::npos) {
    throw MultipartError("Invalid multipart/form-data: boundary holds CR or LF");
  }
  delimiter_ = "\r\n--" + std::string(boundary);
  delimiter_cr_ = delimiter_ + "\r";
  delimiter_dash_ = delimiter_ + "-";
}

MultipartStreamParser MultipartStreamParser::from_content_type(std::string_view content_type,
                                                               Callbacks callbacks,
                                                               ParseMultipartConfig config) {
  std::string_view rest = content_type;
  std::size_t semi = rest.find(';');
  if (strip_ascii_space(rest.substr(0, semi)) != "multipart/form-data") {
    throw MultipartError("Invalid multipart/form-data: Content-Type is not multipart/form-data");
  }
  while (semi != std::string_view::npos) {
    rest.remove_prefix(semi + 1);
    semi = rest.find(';');
    std::string_view field = strip_ascii_space(rest.substr(0, semi));
    std::size_t eq = field.find('=');
    if (eq != std::string_view::npos && field.substr(0, eq) == "boundary" &&
        eq + 1 < field.size()) {
      return MultipartStreamParser(field.substr(eq + 1), std::move(callbacks), config);
    }
  }
  throw MultipartError("Invalid multipart/form-data: multipart boundary not found");
}

void MultipartStreamParser::fail(const std::string& what) {
  state_ = State::kFailed;
  error_ = what;
  throw MultipartError(what);
}

void MultipartStreamParser::emit(std::string_view bytes) {
  if (state_ == State::kData && !bytes.empty() && callbacks_.on_part_data) {
    callbacks_.on_part_data(bytes);
  }
}

void MultipartStreamParser::feed(std::string_view chunk) {
  if (state_ == State::kFailed) throw MultipartError(error_);
  try {
    std::size_t pos = 0;
    while (pos < chunk.size() && state_ != State::kDone) {
      if (state_ == State::kHeaders) {
        feed_headers(chunk, pos);
      } else {
        scan_delimiter(chunk, pos);
      }
    }
  } catch (const MultipartError&) {
    throw;
  } catch (...) {
    // A callback threw: the parser cannot know where it stopped.
    state_ = State::kFailed;
    error_ = "multipart/form-data parser stopped by an exception from a callback";
    throw;
  }
}

void MultipartStreamParser::finish() {
  if (state_ == State::kFailed) throw MultipartError(error_);
  if (state_ != State::kDone) fail("Invalid multipart/form-data: no final boundary found");
}

// Scans for "\r\n--boundary" followed by "\r\n" (next part) or "--" (the end). Bytes that
// are certainly not part of a delimiter are part data (discarded in the preamble); the
// matched tail is held back. Each byte is looked at a bounded number of times: the
// delimiter has CR only at its start, so after a mismatch only the current byte can begin
// a new match (and after "\r\n--b\r", the last CR).
void MultipartStreamParser::scan_delimiter(std::string_view chunk, std::size_t& pos) {
  const std::size_t n = delimiter_.size();
  // The held-back tail from earlier chunks: a prefix of delimiter_ (or all of it plus one).
  std::string_view carried = matched_ <= n
                                 ? std::string_view(delimiter_).substr(0, matched_)
                                 : std::string_view(after_cr_ ? delimiter_cr_ : delimiter_dash_);
  std::size_t carried_off = 0;
  std::size_t carried_len = matched_;
  const std::size_t emit_from = pos;
  for (std::size_t p = pos; p < chunk.size(); ++p) {
    if (matched_ == 0) {
      // Nothing held back (so nothing carried either): only a CR can start the delimiter,
      // and the bytes before it are plain data, emitted with the rest below. memchr keeps
      // a part's bytes off the byte-by-byte path.
      const void* cr = std::memchr(chunk.data() + p, '\r', chunk.size() - p);
      if (cr == nullptr) break;
      p = static_cast<std::size_t>(static_cast<const char*>(cr) - chunk.data());
    }
    const char b = chunk[p];
    const std::size_t before = matched_;
    int complete = 0;  // 1: delimiter CRLF, 2: delimiter "--"
    while (true) {
      if (matched_ < n) {
        if (b == delimiter_[matched_]) {
          ++matched_;
          break;
        }
        if (matched_ == 0) break;
        matched_ = 0;
        continue;
      }
      if (matched_ == n) {
        if (b == '\r' || b == '-') {
          matched_ = n + 1;
          after_cr_ = b == '\r';
          break;
        }
        matched_ = 0;
        continue;
      }
      if (after_cr_ && b == '\n') {
        complete = 1;
        break;
      }
      if (!after_cr_ && b == '-') {
        complete = 2;
        break;
      }
      matched_ = after_cr_ ? 1 : 0;  // the CR just matched may open a new delimiter
      after_cr_ = false;
    }
    if (complete != 0) {
      // The delimiter's bytes in this chunk: all of it but what was carried in.
      std::size_t in_chunk = n + 2 - carried_len;
      std::size_t data_end = p + 1 - in_chunk;
      if (data_end > emit_from) emit(chunk.substr(emit_from, data_end - emit_from));
      matched_ = 0;
      after_cr_ = false;
      virtual_ = 0;
      pos = p + 1;
      if (state_ == State::kData && callbacks_.on_part_end) callbacks_.on_part_end();
      if (complete == 2) {
        state_ = State::kDone;
      } else {
        begin_part();
      }
      return;
    }
    // The oldest (before + 1 - matched_) bytes of the old tail and b are now data: those
    // carried in from earlier chunks go out at once; the ones in this chunk are emitted
    // together below.
    std::size_t released = before + 1 - matched_;
    std::size_t from_carried = std::min(released, carried_len);
    if (from_carried > 0) {
      // The virtual CRLF at the front of the tail was never in the body: dropped.
      std::size_t skip =
          std::min(virtual_ > carried_off ? virtual_ - carried_off : 0, from_carried);
      emit(carried.substr(carried_off + skip, from_carried - skip));
      carried_off += from_carried;
      carried_len -= from_carried;
    }
  }
  virtual_ = virtual_ > carried_off ? virtual_ - carried_off : 0;
  // Everything in this chunk but the held-back tail.
  std::size_t tail_in_chunk = matched_ - carried_len;
  std::size_t data_end = chunk.size() - tail_in_chunk;
  if (data_end > emit_from) emit(chunk.substr(emit_from, data_end - emit_from));
  pos = chunk.size();
}

void MultipartStreamParser::begin_part() {
  if (parts_ == config_.max_parts) {
    fail("multipart/form-data has too many parts (limit " + std::to_string(config_.max_parts) +
         ")");
  }
  ++parts_;
  state_ = State::kHeaders;
  header_block_.clear();
  header_scan_ = 0;
}

// Collects the header block up to the first "\r\n\r\n", never more than the limit allows.
void MultipartStreamParser::feed_headers(std::string_view chunk, std::size_t& pos) {
  const std::size_t limit = config_.max_part_header_size;
  const std::size_t room = limit + 4 > header_block_.size() ? limit + 4 - header_block_.size() : 0;
  const std::size_t old_size = header_block_.size();
  const std::size_t take = std::min(room, chunk.size() - pos);
  header_block_.append(chunk.substr(pos, take));
  std::size_t eoh = header_block_.find("\r\n\r\n", header_scan_);
  if (eoh == std::string::npos) {
    if (header_block_.size() >= limit + 4) {
      fail("multipart/form-data part header too large (limit " + std::to_string(limit) + " bytes)");
    }
    header_scan_ = header_block_.size() >= 3 ? header_block_.size() - 3 : 0;
    pos += take;
    return;
  }
  if (eoh > limit) {
    fail("multipart/form-data part header too large (limit " + std::to_string(limit) + " bytes)");
  }
  pos += eoh + 4 - old_size;
  header_block_.resize(eoh);
  HTTPHeaders headers;
  try {
    headers = HTTPHeaders::parse(header_block_);
  } catch (const HTTPInputError& e) {
    fail(std::string("Invalid multipart/form-data: ") + e.what());
  }
  detail::ParsedHeader disposition =
      detail::parse_header_params(headers.get("Content-Disposition", ""));
  if (disposition.value != "form-data") fail("Invalid multipart/form-data");
  const std::string* name = disposition.get("name");
  if (name == nullptr || name->empty()) fail("multipart/form-data missing name");
  MultipartPart part;
  part.name = *name;
  if (const std::string* filename = disposition.get("filename")) part.filename = *filename;
  part.content_type = headers.get("Content-Type", "application/unknown");
  part.headers = std::move(headers);
  header_block_.clear();
  header_block_.shrink_to_fit();
  state_ = State::kData;
  // RFC 2046: a part is headers [CRLF body], so the CRLF ending the header block may also be
  // the one that opens the delimiter (a part with no body bytes): it counts as matched, and
  // is dropped, not delivered, if no delimiter follows.
  matched_ = 2;
  virtual_ = 2;
  after_cr_ = false;
  if (callbacks_.on_part_begin) callbacks_.on_part_begin(part);
}

}  // namespace tornado::httputil
