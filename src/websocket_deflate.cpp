// permessage-deflate (RFC 7692): parameter negotiation, inflater and deflater.
#include "internal/websocket_deflate.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <memory>
#include <stdexcept>
#include <utility>

namespace tornado::websocket::detail {

// ---- Sec-WebSocket-Extensions -------------------------------------------------------------

namespace {

bool is_tchar(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7F) return false;
  return std::string_view("()<>@,;:\\\"/[]?={}").find(c) == std::string_view::npos;
}

void skip_ows(std::string_view s, std::size_t& i) noexcept {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
}

bool read_token(std::string_view s, std::size_t& i, std::string& out) {
  const std::size_t start = i;
  while (i < s.size() && is_tchar(s[i])) ++i;
  out.assign(s.substr(start, i - start));
  return i > start;
}

// A token or a quoted string (RFC 9110 5.6.4), unquoted into `out`.
bool read_value(std::string_view s, std::size_t& i, std::string& out) {
  if (i < s.size() && s[i] == '"') {
    out.clear();
    for (++i; i < s.size(); ++i) {
      if (s[i] == '"') {
        ++i;
        return true;
      }
      if (s[i] == '\\') {
        if (++i == s.size()) return false;
      }
      out += s[i];
    }
    return false;
  }
  return read_token(s, i, out);
}

}  // namespace

std::optional<std::vector<ExtensionOffer>> parse_extensions(std::string_view s) {
  std::vector<ExtensionOffer> offers;
  std::size_t i = 0;
  for (;;) {
    skip_ows(s, i);
    if (i == s.size()) break;
    if (s[i] == ',') {  // empty list elements are allowed (RFC 9110 5.6.1)
      ++i;
      continue;
    }
    ExtensionOffer offer;
    if (!read_token(s, i, offer.name)) return std::nullopt;
    skip_ows(s, i);
    while (i < s.size() && s[i] == ';') {
      ++i;
      skip_ows(s, i);
      std::string name;
      if (!read_token(s, i, name)) return std::nullopt;
      skip_ows(s, i);
      std::optional<std::string> value;
      if (i < s.size() && s[i] == '=') {
        ++i;
        skip_ows(s, i);
        std::string v;
        if (!read_value(s, i, v)) return std::nullopt;
        value = std::move(v);
        skip_ows(s, i);
      }
      offer.params.emplace_back(std::move(name), std::move(value));
    }
    if (i < s.size() && s[i] != ',') return std::nullopt;
    offers.push_back(std::move(offer));
    if (offers.size() > 64) return std::nullopt;  // nobody offers more; bound the work
  }
  return offers;
}

namespace {

// RFC 7692 §7.1.2: 1*DIGIT in 8-15, no leading zero.
std::optional<int> window_bits(const std::optional<std::string>& v) {
  if (!v || v->empty() || v->size() > 2 || (*v)[0] == '0') return std::nullopt;
  int n = 0;
  for (char c : *v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  if (n < 8 || n > 15) return std::nullopt;
  return n;
}

// The parameters of an offer or a response, each at most once; nullopt when invalid.
// `server_side`: parsing a client's offer (client_max_window_bits may lack a value).
std::optional<DeflateParams> read_params(const ExtensionOffer& ext, bool server_side) {
  DeflateParams p;
  unsigned seen = 0;
  for (const auto& [name, value] : ext.params) {
    unsigned bit;
    if (name == "server_no_context_takeover") {
      bit = 1;
      if (value) return std::nullopt;
      p.server_no_context_takeover = true;
    } else if (name == "client_no_context_takeover") {
      bit = 2;
      if (value) return std::nullopt;
      p.client_no_context_takeover = true;
    } else if (name == "server_max_window_bits") {
      bit = 4;
      auto n = window_bits(value);
      if (!n) return std::nullopt;
      p.server_max_window_bits = *n;
    } else if (name == "client_max_window_bits") {
      bit = 8;
      if (value) {
        auto n = window_bits(value);
        if (!n) return std::nullopt;
        p.client_max_window_bits = *n;
      } else if (server_side) {
        p.client_max_window_bits_offered = true;
      } else {
        return std::nullopt;  // a response must give a value
      }
    } else {
      return std::nullopt;  // RFC 7692 §5: unknown parameters make the offer invalid
    }
    if (seen & bit) return std::nullopt;
    seen |= bit;
  }
  return p;
}

}  // namespace

std::optional<DeflateParams> accept_deflate_offer(const ExtensionOffer& offer,
                                                  bool force_server_no_context_takeover) {
  if (offer.name != "permessage-deflate") return std::nullopt;
  auto p = read_params(offer, /*server_side=*/true);
  if (!p) return std::nullopt;
  // zlib's raw deflate has no 256-byte window (deflateInit2 refuses -8): we cannot honour
  // a limit of 8, so this offer is declined (the next one may do).
  if (p->server_max_window_bits == 8) return std::nullopt;
  if (force_server_no_context_takeover) p->server_no_context_takeover = true;
  return p;
}

std::optional<DeflateParams> accept_deflate_response(const ExtensionOffer& response) {
  if (response.name != "permessage-deflate") return std::nullopt;
  return read_params(response, /*server_side=*/false);
}

std::string deflate_response_header(const DeflateParams& p) {
  std::string out = "permessage-deflate";
  if (p.server_no_context_takeover) out += "; server_no_context_takeover";
  if (p.client_no_context_takeover) out += "; client_no_context_takeover";
  if (p.server_max_window_bits != 15) {
    out += "; server_max_window_bits=" + std::to_string(p.server_max_window_bits);
  }
  if (p.client_max_window_bits) {
    out += "; client_max_window_bits=" + std::to_string(*p.client_max_window_bits);
  }
  return out;
}

// ---- inflater -----------------------------------------------------------------------------

namespace {

constexpr uint8_t kTail[4] = {0x00, 0x00, 0xFF, 0xFF};

// Inflate streams between messages of no_context_takeover connections, per thread.
struct InflatePool {
  static constexpr std::size_t kMaxFree = 8;
  std::array<z_stream*, kMaxFree> free{};
  std::size_t count = 0;
  ~InflatePool() {
    for (std::size_t i = 0; i < count; ++i) {
      inflateEnd(free[i]);
      delete free[i];
    }
  }
};

thread_local InflatePool inflate_pool;

z_stream* new_inflate_stream() {
  if (inflate_pool.count > 0) return inflate_pool.free[--inflate_pool.count];
  auto z = std::make_unique<z_stream>();
  if (inflateInit2(z.get(), -MAX_WBITS) != Z_OK) throw std::runtime_error("inflateInit2 failed");
  return z.release();
}

void release_inflate_stream(z_stream* z, bool reusable) noexcept {
  if (reusable && inflate_pool.count < InflatePool::kMaxFree && inflateReset(z) == Z_OK) {
    inflate_pool.free[inflate_pool.count++] = z;
    return;
  }
  inflateEnd(z);
  delete z;
}

}  // namespace

Inflater::~Inflater() {
  if (z_) release_inflate_stream(z_, no_context_takeover_ && !failed_);
}

bool Inflater::run(std::string_view in, std::string& out, std::size_t limit) {
  if (failed_) return false;
  if (stream_ended_ && !in.empty()) {
    failed_ = true;  // data after the final block
    return false;
  }
  if (!z_) z_ = new_inflate_stream();
  z_->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z_->avail_in = static_cast<uInt>(in.size());
  // Output grows in steps and never past limit + 1: a bomb costs at most the limit in
  // memory and the time to produce it.
  for (;;) {
    if (out.size() > limit) return false;
    const std::size_t step =
        std::min<std::size_t>(std::max<std::size_t>(in.size() * 4, 4096), limit + 1 - out.size());
    const std::size_t start = out.size();
    out.resize(start + step);
    z_->next_out = reinterpret_cast<Bytef*>(out.data() + start);
    z_->avail_out = static_cast<uInt>(step);
    const int rc = ::inflate(z_, Z_SYNC_FLUSH);
    out.resize(start + step - z_->avail_out);
    if (rc == Z_STREAM_END) {
      // A block with BFINAL ended the message's stream (RFC 7692 §7.2.3.3 allows it): the
      // next message starts a new one. Nothing but the tail may follow in this message.
      stream_ended_ = true;
      if (inflateReset(z_) != Z_OK || z_->avail_in != 0) {
        failed_ = true;
        return false;
      }
      return out.size() <= limit;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      failed_ = true;
      return false;
    }
    if (out.size() > limit) return false;
    // zlib stops early only when the output is full: room left means all input is taken.
    if (z_->avail_out != 0) return true;
  }
}

bool Inflater::inflate(std::string_view in, std::string& out, std::size_t limit) {
  if (!in.empty()) message_fed_ = true;
  // zlib counts in uInt: feed very large pieces in parts.
  while (in.size() > (1u << 30)) {
    if (!run(in.substr(0, 1u << 30), out, limit)) return false;
    in.remove_prefix(1u << 30);
  }
  return run(in, out, limit);
}

bool Inflater::finish_message(std::string& out, std::size_t limit) {
  // After a final block the 00 00 FF FF tail is not part of any stream: skip it. An empty
  // payload (no block at all) is an empty message; the tail alone would not inflate.
  const bool fed = std::exchange(message_fed_, false);
  const bool ok = std::exchange(stream_ended_, false) || !fed
                      ? !failed_
                      : run({reinterpret_cast<const char*>(kTail), 4}, out, limit);
  if (ok && no_context_takeover_ && z_) {
    release_inflate_stream(z_, true);
    z_ = nullptr;
  }
  return ok;
}

// ---- deflater -----------------------------------------------------------------------------

namespace {

z_stream* new_deflate_stream(int level, int mem_level, int window_bits) {
  auto z = std::make_unique<z_stream>();
  if (deflateInit2(z.get(), level, Z_DEFLATED, -window_bits, mem_level, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    throw std::invalid_argument("deflateInit2 failed (compression options out of range)");
  }
  return z.release();
}

void delete_deflate_stream(z_stream* z) noexcept {
  deflateEnd(z);
  delete z;
}

// The no_context_takeover deflaters of this thread, one per parameter set in use.
struct SharedDeflater {
  int level, mem_level, window_bits;
  z_stream* z;
};
struct DeflatePool {
  std::vector<SharedDeflater> entries;
  ~DeflatePool() {
    for (auto& e : entries) delete_deflate_stream(e.z);
  }
  z_stream* get(int level, int mem_level, int window_bits) {
    for (auto& e : entries) {
      if (e.level == level && e.mem_level == mem_level && e.window_bits == window_bits) return e.z;
    }
    entries.push_back(
        {level, mem_level, window_bits, new_deflate_stream(level, mem_level, window_bits)});
    return entries.back().z;
  }
};
thread_local DeflatePool deflate_pool;

}  // namespace

Deflater::~Deflater() {
  if (z_) delete_deflate_stream(z_);
}

void Deflater::compress(std::string_view message, std::string& out) {
  z_stream* z;
  if (no_context_takeover_) {
    z = deflate_pool.get(level_, mem_level_, window_bits_);
  } else {
    if (!z_) z_ = new_deflate_stream(level_, mem_level_, window_bits_);
    z = z_;
  }
  const std::size_t start = out.size();
  out.resize(start + deflateBound(z, static_cast<uLong>(message.size())) + 16);
  z->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(message.data()));
  z->avail_in = static_cast<uInt>(message.size());
  z->next_out = reinterpret_cast<Bytef*>(out.data() + start);
  z->avail_out = static_cast<uInt>(out.size() - start);
  const int rc = ::deflate(z, Z_SYNC_FLUSH);
  std::size_t produced = out.size() - start - z->avail_out;
  if (no_context_takeover_) deflateReset(z);
  // Z_BUF_ERROR: nothing to do (an empty message right after a flush): an empty payload.
  if ((rc != Z_OK && rc != Z_BUF_ERROR) || z->avail_in != 0) {
    throw std::runtime_error("deflate failed");
  }
  // RFC 7692 §7.2.1: remove the sync flush's 00 00 FF FF. Nothing produced (an empty
  // message right after a flush): §7.2.3.6's single 00 byte, an empty stored block's header.
  if (produced >= 4) {
    produced -= 4;
  } else if (produced == 0) {
    out[start] = '\0';
    produced = 1;
  }
  out.resize(start + produced);
}

}  // namespace tornado::websocket::detail
