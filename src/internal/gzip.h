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

  // Hands over the next compressed bytes; they must stay valid until has_pending() is
  // false. Call only when has_pending() is false. Throws std::runtime_error for bytes after
  // the end of the gzip stream.
  void feed(std::string_view in);
  // Inflates at most `limit` bytes of what was fed, appending them to `out` (so a gzip
  // bomb costs at most `limit` bytes per call). Throws std::runtime_error on corrupt data
  // and std::length_error as soon as the total passes max_output.
  void inflate_some(std::string& out, std::size_t limit);
  // More output may come from what was fed (call inflate_some again).
  bool has_pending() const noexcept { return pending_; }
  // True once the gzip trailer was read.
  bool finished() const noexcept { return finished_; }
  std::size_t total_out() const noexcept { return total_out_; }

 private:
  z_stream* z_;
  std::size_t max_output_;
  std::size_t total_out_ = 0;
  bool finished_ = false;
  bool pending_ = false;
};

// gzip-compresses `in` at `level` (Tornado's GZipContentEncoding uses 6).
std::string gzip_compress(std::string_view in, int level = 6);

}  // namespace tornado::detail
