// tornado/web/gzip.h — the gzip output transform (Tornado's GZipContentEncoding), applied to
// responses when the `compress_response` setting is on.
//
//   web::GZipContentEncoding gzip(request);                     // one per response
//   gzip.transform_first_chunk(status, headers, chunk, false);  // decides, rewrites headers
//   gzip.transform_chunk(more, false);   // compresses; emits what zlib has (Z_SYNC_FLUSH)
//   gzip.transform_chunk(last, true);    // ends the gzip member
//
// A response is compressed when the request accepts gzip, its Content-Type is text/* or one
// of Tornado's list (application/javascript, application/x-javascript, application/xml,
// application/atom+xml, application/json, application/xhtml+xml, image/svg+xml), it has no
// Content-Encoding yet, and it is not a single chunk shorter than kMinLength (1024 bytes).
// Never for HEAD, 1xx/204/304, 206 or a response with Content-Range (Tornado would compress
// a 206 whose Content-Range then names bytes of the uncompressed file).
// Every response gets `Vary: Accept-Encoding` (added to an existing Vary, once).
// When compressing: `Content-Encoding: gzip`; Content-Length rewritten to the compressed
// size if the whole body is in the first chunk, removed otherwise (the body goes chunked);
// a strong ETag becomes weak (`"x"` → `W/"x"`, RFC 9110 8.8.3.3: the gzip bytes are a
// different representation; If-None-Match still matches, it compares weakly).
// Thread rule: one object per response, used on the loop thread serving it.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "tornado/httputil.h"
#include "tornado/web/settings.h"

namespace tornado::web {

class GZipContentEncoding final : public OutputTransform {
 public:
  // zlib level 6, as Tornado (gzip's default: a better CPU/size trade than 9).
  static constexpr int kGzipLevel = 6;
  // A response written in one chunk shorter than this is sent as it is.
  static constexpr std::size_t kMinLength = 1024;

  // Reads the request's method and Accept-Encoding.
  explicit GZipContentEncoding(const httputil::HTTPServerRequest& request);
  GZipContentEncoding(std::string_view method, std::string_view accept_encoding);
  ~GZipContentEncoding() override;
  GZipContentEncoding(const GZipContentEncoding&) = delete;
  GZipContentEncoding& operator=(const GZipContentEncoding&) = delete;

  // Called once with the status, the headers and the first piece of the body (`finishing`:
  // it is the whole body). Rewrites headers and chunk in place as described above.
  void transform_first_chunk(int& status_code, httputil::HTTPHeaders& headers, std::string& chunk,
                             bool finishing) override;
  // Every later piece; `finishing` on the last one (which may be empty). Compresses in place
  // when gzipping, else leaves the chunk alone.
  void transform_chunk(std::string& chunk, bool finishing) override;

  // What Application::add_transform takes: one GZipContentEncoding per request (added by
  // the Application itself when settings.compress_response is on).
  static OutputTransformFactory factory();

  // True once transform_first_chunk decided to compress.
  bool gzipping() const noexcept { return gzipping_; }

  // text/* or one of Tornado's compressible types (parameters ignored, case-insensitive).
  static bool compressible_type(std::string_view content_type) noexcept;
  // True if an Accept-Encoding value accepts gzip: `gzip` or `x-gzip` with q > 0, or `*`
  // with q > 0 when gzip is not listed. (Tornado looks for the substring "gzip", so it
  // compresses for `gzip;q=0` too.)
  static bool accepts_gzip(std::string_view accept_encoding) noexcept;

 private:
  struct Deflater;
  bool gzipping_;
  bool head_;
  std::unique_ptr<Deflater> deflater_;
};

}  // namespace tornado::web
