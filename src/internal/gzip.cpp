#include "internal/gzip.h"

#include <zlib.h>

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

void GzipDecompressor::decompress(std::string_view in, std::string& out) {
  if (finished_) {
    if (!in.empty()) throw std::runtime_error("data after the end of the gzip stream");
    return;
  }
  z_->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z_->avail_in = static_cast<uInt>(in.size());
  char buf[16384];
  while (z_->avail_in > 0 || z_->avail_out == 0) {
    z_->next_out = reinterpret_cast<Bytef*>(buf);
    z_->avail_out = sizeof buf;
    int rc = inflate(z_, Z_NO_FLUSH);
    std::size_t produced = sizeof buf - z_->avail_out;
    total_out_ += produced;
    if (total_out_ > max_output_) throw std::length_error("decompressed body too large");
    out.append(buf, produced);
    if (rc == Z_STREAM_END) {
      finished_ = true;
      if (z_->avail_in > 0) throw std::runtime_error("data after the end of the gzip stream");
      return;
    }
    if (rc == Z_BUF_ERROR) return;  // needs more input
    if (rc != Z_OK) throw std::runtime_error(std::string("invalid gzip data: ") + (z_->msg ? z_->msg : "error"));
    if (z_->avail_in == 0 && z_->avail_out != 0) return;
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
