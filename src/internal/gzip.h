// Streaming gzip inflation with a bound on the output, for request bodies
// (decompress_request) and client responses (decompress_response).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

typedef struct z_stream_s z_stream;

namespace tornado::detail {

class GzipDecompressor {
 public:
  // Output beyond max_output bytes in total raises std::length_error (a zip bomb guard).
  explicit GzipDecompressor(std::size_t max_output);
  ~GzipDecompressor();
  GzipDecompressor(const GzipDecompressor&) = delete;
  GzipDecompressor& operator=(const GzipDecompressor&) = delete;

  // Inflates `in`, appending to `out`. Throws std::runtime_error on corrupt data.
  void decompress(std::string_view in, std::string& out);
  // True once the gzip trailer was read.
  bool finished() const noexcept { return finished_; }
  std::size_t total_out() const noexcept { return total_out_; }

 private:
  z_stream* z_;
  std::size_t max_output_;
  std::size_t total_out_ = 0;
  bool finished_ = false;
};

// gzip-compresses `in` at `level` (Tornado's GZipContentEncoding uses 6).
std::string gzip_compress(std::string_view in, int level = 6);

}  // namespace tornado::detail
