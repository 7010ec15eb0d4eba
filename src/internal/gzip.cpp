#include "internal/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <stdexcept>

namespace tornado::detail {

GzipDecompressor::GzipDecompressor(std::size_t max_output)
    : z_(new z_stream{}), max_output_(max_output) {
  // 16 + MAX_WBITS: expect a gzip header and trailer.
  if (inflateInit2(z_, 16 + MAX_WBITS) != Z_OK) {
    delete z_;
    throw std::runtime_error("inflateInit2 failed");
  }
}

GzipDecompressor::~GzipDecompressor() {
  inflateEnd(z_);
  delete z_;
}

void GzipDecompressor::feed(std::string_view in) {
  if (in.empty()) return;
  if (finished_) throw std::runtime_error("data after the end of the gzip stream");
  z_->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z_->avail_in = static_cast<uInt>(in.size());
  pending_ = true;
}

void GzipDecompressor::inflate_some(std::string& out, std::size_t limit) {
  if (!pending_) return;
  // Never produce more than one byte past the bound: the bomb stops at the limit.
  const std::size_t room = max_output_ - total_out_;
  if (room < limit) limit = room + 1;
  limit = std::min<std::size_t>(limit, 1u << 30);  // zlib counts in uInt
  const std::size_t start = out.size();
  out.resize(start + limit);
  z_->next_out = reinterpret_cast<Bytef*>(out.data() + start);
  z_->avail_out = static_cast<uInt>(limit);
  int rc = Z_OK;
  while (z_->avail_out > 0) {
    rc = inflate(z_, Z_NO_FLUSH);
    if (rc == Z_STREAM_END || rc == Z_BUF_ERROR) break;  // done, or needs more input
    if (rc != Z_OK) {
      out.resize(start);
      pending_ = false;
      throw std::runtime_error(std::string("invalid gzip data: ") + (z_->msg ? z_->msg : "error"));
    }
    if (z_->avail_in == 0) break;
  }
  const std::size_t produced = limit - z_->avail_out;
  out.resize(start + produced);
  total_out_ += produced;
  // A full output buffer may leave inflated bytes inside zlib even with no input left.
  pending_ = rc != Z_STREAM_END && (z_->avail_in > 0 || z_->avail_out == 0);
  if (total_out_ > max_output_) throw std::length_error("decompressed body too large");
  if (rc == Z_STREAM_END) {
    finished_ = true;
    if (z_->avail_in > 0) throw std::runtime_error("data after the end of the gzip stream");
  }
}

std::string gzip_compress(std::string_view in, int level) {
  z_stream z{};
  if (deflateInit2(&z, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  std::string out;
  out.resize(deflateBound(&z, static_cast<uLong>(in.size())));
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate failed");
  out.resize(z.total_out);
  return out;
}

}  // namespace tornado::detail
