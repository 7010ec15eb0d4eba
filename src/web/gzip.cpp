// web: the gzip output transform (Tornado's GZipContentEncoding) over zlib.
#include "tornado/web/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "internal/http_parser.h"

namespace tornado::web {
namespace {

using http1::iequals;
using http1::trim_ows;

constexpr std::array<std::string_view, 7> kCompressibleTypes = {
    "application/javascript", "application/x-javascript", "application/xml", "application/atom+xml",
    "application/json",       "application/xhtml+xml",    "image/svg+xml",
};

bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// RFC 9110 12.4.2: a qvalue of zero is "0" optionally followed by "." and up to three zeros.
bool is_zero_qvalue(std::string_view q) noexcept {
  if (q.empty() || q.front() != '0') return false;
  q.remove_prefix(1);
  if (q.empty()) return true;
  if (q.front() != '.' || q.size() > 4) return false;
  return q.substr(1).find_first_not_of('0') == std::string_view::npos;
}

// Splits "coding;q=0.5" into the coding and whether its weight is above zero.
std::pair<std::string_view, bool> coding_and_weight(std::string_view element) noexcept {
  auto semi = element.find(';');
  std::string_view coding = trim_ows(element.substr(0, semi));
  bool positive = true;
  while (semi != std::string_view::npos) {
    element.remove_prefix(semi + 1);
    semi = element.find(';');
    std::string_view param = trim_ows(element.substr(0, semi));
    auto eq = param.find('=');
    if (eq != std::string_view::npos && iequals(trim_ows(param.substr(0, eq)), "q")) {
      positive = !is_zero_qvalue(trim_ows(param.substr(eq + 1)));
    }
  }
  return {coding, positive};
}

// Adds "Accept-Encoding" to Vary unless it is listed already or Vary is "*".
void add_vary_accept_encoding(httputil::HTTPHeaders& headers) {
  std::optional<std::string> vary = headers.get("Vary");
  if (!vary || trim_ows(*vary).empty()) {
    headers.set("Vary", "Accept-Encoding");
    return;
  }
  std::string_view rest = *vary;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string_view name = trim_ows(rest.substr(0, comma));
    if (name == "*" || iequals(name, "Accept-Encoding")) return;
    rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 1);
  }
  headers.set("Vary", *vary + ", Accept-Encoding");
}

// A strong entity tag becomes weak: the compressed bytes are another representation.
void weaken_etag(httputil::HTTPHeaders& headers) {
  std::optional<std::string_view> etag = headers.get_first("Etag");
  if (!etag || etag->starts_with("W/")) return;
  headers.set("Etag", "W/" + std::string(*etag));
}

bool status_has_body_to_compress(int status) noexcept {
  // 1xx/204/304 have no body; a 206 body is bytes of the identity representation.
  return status >= 200 && status != 204 && status != 206 && status != 304;
}

}  // namespace

struct GZipContentEncoding::Deflater {
  z_stream stream{};
  Deflater() {
    // windowBits 15 + 16: a gzip wrapper around the deflate stream; memLevel 8 (zlib's default).
    if (deflateInit2(&stream, kGzipLevel, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      throw std::runtime_error("zlib deflateInit2 failed");
    }
  }
  ~Deflater() { deflateEnd(&stream); }

  // Compresses `input` and returns what zlib emits with `flush` (Z_SYNC_FLUSH or Z_FINISH).
  std::string run(std::string_view input, int flush) {
    constexpr std::size_t kSlice = std::size_t{1} << 30;  // zlib counts in uInt
    std::string out;
    out.resize(deflateBound(&stream, static_cast<uLong>(std::min(input.size(), kSlice))) + 64);
    std::size_t used = 0;
    for (;;) {
      std::size_t take = std::min(input.size(), kSlice);
      bool last = take == input.size();
      stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
      stream.avail_in = static_cast<uInt>(take);
      for (;;) {
        if (out.size() - used < 64) out.resize(out.size() * 2);
        std::size_t room = std::min(out.size() - used, kSlice);
        stream.next_out = reinterpret_cast<Bytef*>(out.data() + used);
        stream.avail_out = static_cast<uInt>(room);
        int rc = deflate(&stream, last ? flush : Z_NO_FLUSH);
        used += room - stream.avail_out;
        if (rc == Z_STREAM_END) break;
        if (rc != Z_OK && rc != Z_BUF_ERROR) throw std::runtime_error("zlib deflate failed");
        // Done with this slice when zlib had room left over: all of it went in (and out).
        if (stream.avail_out != 0 && stream.avail_in == 0) break;
      }
      input.remove_prefix(take);
      if (last) break;
    }
    out.resize(used);
    return out;
  }
};

GZipContentEncoding::GZipContentEncoding(const httputil::HTTPServerRequest& request)
    : GZipContentEncoding(request.method,
                          request.headers.get_first("Accept-Encoding").value_or("")) {}

GZipContentEncoding::GZipContentEncoding(std::string_view method, std::string_view accept_encoding)
    : gzipping_(accepts_gzip(accept_encoding)), head_(method == "HEAD") {}

GZipContentEncoding::~GZipContentEncoding() = default;

OutputTransformFactory GZipContentEncoding::factory() {
  return [](const httputil::HTTPServerRequest& request) -> std::unique_ptr<OutputTransform> {
    return std::make_unique<GZipContentEncoding>(request);
  };
}

bool GZipContentEncoding::compressible_type(std::string_view content_type) noexcept {
  std::string_view type = trim_ows(content_type.substr(0, content_type.find(';')));
  if (istarts_with(type, "text/")) return true;
  for (std::string_view t : kCompressibleTypes) {
    if (iequals(type, t)) return true;
  }
  return false;
}

bool GZipContentEncoding::accepts_gzip(std::string_view accept_encoding) noexcept {
  bool gzip_listed = false, gzip_ok = false, star_ok = false;
  while (!accept_encoding.empty()) {
    auto comma = accept_encoding.find(',');
    auto [coding, positive] = coding_and_weight(accept_encoding.substr(0, comma));
    if (iequals(coding, "gzip") || iequals(coding, "x-gzip")) {
      gzip_listed = true;
      gzip_ok = gzip_ok || positive;
    } else if (coding == "*") {
      star_ok = positive;
    }
    accept_encoding.remove_prefix(comma == std::string_view::npos ? accept_encoding.size()
                                                                  : comma + 1);
  }
  return gzip_ok || (!gzip_listed && star_ok);
}

void GZipContentEncoding::transform_first_chunk(int& status_code, httputil::HTTPHeaders& headers,
                                                std::string& chunk, bool finishing) {
  add_vary_accept_encoding(headers);
  if (gzipping_) {
    gzipping_ = !head_ && status_has_body_to_compress(status_code) &&
                compressible_type(headers.get_first("Content-Type").value_or("")) &&
                (!finishing || chunk.size() >= kMinLength) &&
                !headers.contains("Content-Encoding") && !headers.contains("Content-Range");
  }
  if (!gzipping_) return;
  headers.set("Content-Encoding", "gzip");
  weaken_etag(headers);
  deflater_ = std::make_unique<Deflater>();
  transform_chunk(chunk, finishing);
  if (headers.contains("Content-Length")) {
    if (finishing) {
      headers.set("Content-Length", std::to_string(chunk.size()));
    } else {
      headers.remove("Content-Length");
    }
  }
}

void GZipContentEncoding::transform_chunk(std::string& chunk, bool finishing) {
  if (!gzipping_) return;
  if (!deflater_) throw std::logic_error("GZipContentEncoding: a chunk after the last one");
  chunk = deflater_->run(chunk, finishing ? Z_FINISH : Z_SYNC_FLUSH);
  if (finishing) deflater_.reset();  // the ~256 KiB of zlib state go as soon as possible
}

}  // namespace tornado::web
