// The gzip output transform: when it compresses (Tornado's GzipTestCase rules plus the cases
// the issue adds: HEAD, 206, 304), the headers it rewrites, and the bytes, inflated back with
// zlib, whole and chunk by chunk.
#include <gtest/gtest.h>
#include <zlib.h>

#include <random>
#include <string>
#include <vector>

#include "tornado/web/gzip.h"

namespace tornado::web {
namespace web_gzip_test {

using httputil::HTTPHeaders;

// Inflates a complete gzip member; fails the test on a zlib error or trailing garbage.
std::string gunzip(const std::string& data) {
  z_stream s{};
  EXPECT_EQ(inflateInit2(&s, 15 + 16), Z_OK);
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  s.avail_in = static_cast<uInt>(data.size());
  std::string out;
  int rc = Z_OK;
  while (rc == Z_OK) {
    char buf[16384];
    s.next_out = reinterpret_cast<Bytef*>(buf);
    s.avail_out = sizeof buf;
    rc = inflate(&s, Z_NO_FLUSH);
    out.append(buf, sizeof buf - s.avail_out);
    if (rc == Z_BUF_ERROR && s.avail_in == 0) break;
  }
  EXPECT_EQ(rc, Z_STREAM_END) << "gzip stream not complete";
  EXPECT_EQ(s.avail_in, 0u) << "bytes after the gzip member";
  inflateEnd(&s);
  return out;
}

// An incremental inflater: what a client can decode from the bytes received so far.
class Inflater {
 public:
  Inflater() { EXPECT_EQ(inflateInit2(&s_, 15 + 16), Z_OK); }
  ~Inflater() { inflateEnd(&s_); }
  std::string feed(const std::string& data) {
    s_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    s_.avail_in = static_cast<uInt>(data.size());
    std::string out;
    while (s_.avail_in > 0 || last_ == Z_OK) {
      char buf[4096];
      s_.next_out = reinterpret_cast<Bytef*>(buf);
      s_.avail_out = sizeof buf;
      last_ = inflate(&s_, Z_SYNC_FLUSH);
      out.append(buf, sizeof buf - s_.avail_out);
      if (last_ != Z_OK || s_.avail_out != 0) break;
    }
    return out;
  }
  int last() const { return last_; }

 private:
  z_stream s_{};
  int last_ = Z_OK;
};

std::string text_body(std::size_t n) {
  std::string s = "hello world";
  while (s.size() < n) s += "!";
  return s;
}

HTTPHeaders html_headers(std::size_t length) {
  return HTTPHeaders{{"Content-Type", "text/html; charset=UTF-8"},
                     {"Content-Length", std::to_string(length)}};
}

TEST(GZipContentEncodingTest, CompressesALargeTextBodyAndRewritesContentLength) {
  GZipContentEncoding gzip("GET", "gzip, deflate");
  std::string body = text_body(1035);
  int status = 200;
  HTTPHeaders headers = html_headers(body.size());
  std::string chunk = body;
  gzip.transform_first_chunk(status, headers, chunk, true);
  EXPECT_TRUE(gzip.gzipping());
  EXPECT_EQ(status, 200);
  EXPECT_EQ(headers.get("Content-Encoding"), "gzip");
  EXPECT_EQ(headers.get("Vary"), "Accept-Encoding");
  EXPECT_EQ(headers.get("Content-Length"), std::to_string(chunk.size()));
  EXPECT_LT(chunk.size(), body.size());
  EXPECT_EQ(chunk.substr(0, 2), "\x1f\x8b");  // a gzip member, not raw deflate
  EXPECT_EQ(gunzip(chunk), body);
}

TEST(GZipContentEncodingTest, NotRequestedLeavesBodyAloneButAddsVary) {
  GZipContentEncoding gzip("GET", "");
  std::string body = text_body(2000), chunk = body;
  int status = 200;
  HTTPHeaders headers = html_headers(body.size());
  gzip.transform_first_chunk(status, headers, chunk, true);
  EXPECT_FALSE(gzip.gzipping());
  EXPECT_FALSE(headers.contains("Content-Encoding"));
  EXPECT_EQ(headers.get("Vary"), "Accept-Encoding");
  EXPECT_EQ(headers.get("Content-Length"), "2000");
  EXPECT_EQ(chunk, body);
}

TEST(GZipContentEncodingTest, VaryAlreadyPresentIsExtended) {
  GZipContentEncoding gzip("GET", "gzip");
  std::string chunk = text_body(2000);
  int status = 200;
  HTTPHeaders headers = html_headers(chunk.size());
  headers.add("Vary", "Accept-Language");
  headers.add("Vary", "Cookie");
  gzip.transform_first_chunk(status, headers, chunk, true);
  EXPECT_EQ(headers.get_list("Vary"),
            std::vector<std::string>{"Accept-Language,Cookie, Accept-Encoding"});
}

TEST(GZipContentEncodingTest, VaryListingAcceptEncodingOrStarIsKept) {
  for (const char* vary : {"accept-encoding", "Cookie, Accept-Encoding", "*"}) {
    GZipContentEncoding gzip("GET", "gzip");
    std::string chunk = text_body(2000);
    int status = 200;
    HTTPHeaders headers = html_headers(chunk.size());
    headers.add("Vary", vary);
    gzip.transform_first_chunk(status, headers, chunk, true);
    EXPECT_EQ(headers.get("Vary"), vary);
  }
}

TEST(GZipContentEncodingTest, SingleChunkBelowMinLengthIsNotCompressed) {
  GZipContentEncoding gzip("GET", "gzip");
  std::string body = text_body(GZipContentEncoding::kMinLength - 1), chunk = body;
  int status = 200;
  HTTPHeaders headers = html_headers(body.size());
  gzip.transform_first_chunk(status, headers, chunk, true);
  EXPECT_FALSE(gzip.gzipping());
  EXPECT_EQ(chunk, body);
  EXPECT_EQ(headers.get("Vary"), "Accept-Encoding");

  GZipContentEncoding at_min("GET", "gzip");
  chunk = text_body(GZipContentEncoding::kMinLength);
  HTTPHeaders h2 = html_headers(chunk.size());
  at_min.transform_first_chunk(status, h2, chunk, true);
  EXPECT_TRUE(at_min.gzipping());
}

TEST(GZipContentEncodingTest, IncompressibleTypesAreNotCompressed) {
  for (const char* type :
       {"image/png", "application/octet-stream", "application/gzip", "video/mp4", ""}) {
    GZipContentEncoding gzip("GET", "gzip");
    std::string chunk = text_body(5000);
    int status = 200;
    HTTPHeaders headers{{"Content-Length", "5000"}};
    if (*type) headers.add("Content-Type", type);
    gzip.transform_first_chunk(status, headers, chunk, true);
    EXPECT_FALSE(gzip.gzipping()) << type;
    EXPECT_EQ(chunk.size(), 5000u);
  }
}

TEST(GZipContentEncodingTest, CompressibleTypesAreTornadosList) {
  for (const char* type :
       {"text/plain", "text/css", "TEXT/HTML", "application/javascript", "application/x-javascript",
        "application/xml", "application/atom+xml", "application/json; charset=UTF-8",
        "application/xhtml+xml", "image/svg+xml", " text/csv ;x=y"}) {
    EXPECT_TRUE(GZipContentEncoding::compressible_type(type)) << type;
  }
  for (const char* type : {"image/png", "application/jsonx", "application/pdf", "texts/x", ""}) {
    EXPECT_FALSE(GZipContentEncoding::compressible_type(type)) << type;
  }
}

TEST(GZipContentEncodingTest, AlreadyEncodedBodyIsLeftAlone) {
  GZipContentEncoding gzip("GET", "gzip");
  std::string body = text_body(5000), chunk = body;
  int status = 200;
  HTTPHeaders headers = html_headers(body.size());
  headers.add("Content-Encoding", "br");
  gzip.transform_first_chunk(status, headers, chunk, true);
  EXPECT_FALSE(gzip.gzipping());
  EXPECT_EQ(headers.get("Content-Encoding"), "br");
  EXPECT_EQ(chunk, body);
}

TEST(GZipContentEncodingTest, NeverFor304HeadOr206) {
  struct Case {
    const char* method;
    int status;
    const char* extra_header;
  };
  for (Case c :
       {Case{"GET", 304, nullptr}, Case{"HEAD", 200, nullptr}, Case{"GET", 206, "Content-Range"},
        Case{"GET", 204, nullptr}, Case{"GET", 200, "Content-Range"}}) {
    GZipContentEncoding gzip(c.method, "gzip");
    std::string body = text_body(5000), chunk = body;
    int status = c.status;
    HTTPHeaders headers = html_headers(body.size());
    if (c.extra_header) headers.add(c.extra_header, "bytes 0-4999/9000");
    gzip.transform_first_chunk(status, headers, chunk, false);
    EXPECT_FALSE(gzip.gzipping()) << c.method << " " << c.status;
    EXPECT_EQ(headers.get("Content-Length"), "5000");
    EXPECT_EQ(headers.get("Vary"), "Accept-Encoding");
    EXPECT_EQ(chunk, body);
    std::string next = "more";
    gzip.transform_chunk(next, true);
    EXPECT_EQ(next, "more");
  }
}

TEST(GZipContentEncodingTest, StrongEtagBecomesWeakWeakStaysWeak) {
  GZipContentEncoding gzip("GET", "gzip");
  std::string chunk = text_body(2000);
  int status = 200;
  HTTPHeaders headers = html_headers(chunk.size());
  headers.add("Etag", "\"abc\"");
  gzip.transform_first_chunk(status, headers, chunk, true);
  EXPECT_EQ(headers.get("Etag"), "W/\"abc\"");

  GZipContentEncoding weak("GET", "gzip");
  chunk = text_body(2000);
  HTTPHeaders h2 = html_headers(chunk.size());
  h2.add("ETag", "W/\"abc\"");
  weak.transform_first_chunk(status, h2, chunk, true);
  EXPECT_EQ(h2.get("Etag"), "W/\"abc\"");
}

TEST(GZipContentEncodingTest, EtagUntouchedWhenNotCompressing) {
  GZipContentEncoding gzip("GET", "identity");
  std::string chunk = text_body(2000);
  int status = 200;
  HTTPHeaders headers = html_headers(chunk.size());
  headers.add("Etag", "\"abc\"");
  gzip.transform_first_chunk(status, headers, chunk, true);
  EXPECT_EQ(headers.get("Etag"), "\"abc\"");
}

// A streamed response: the first chunk is compressed whatever its size, Content-Length goes
// (the body is sent chunked), and every flush emits bytes a client can already decode.
TEST(GZipContentEncodingTest, StreamedChunksDecodeAsTheyArrive) {
  GZipContentEncoding gzip("GET", "gzip");
  int status = 200;
  HTTPHeaders headers = html_headers(12345);
  std::string chunk = "first piece;";
  gzip.transform_first_chunk(status, headers, chunk, false);
  EXPECT_TRUE(gzip.gzipping());
  EXPECT_FALSE(headers.contains("Content-Length"));
  EXPECT_EQ(headers.get("Content-Encoding"), "gzip");

  Inflater client;
  std::string seen = client.feed(chunk);
  EXPECT_EQ(seen, "first piece;");
  std::string expected = "first piece;";
  std::mt19937 rng(7);
  for (int i = 0; i < 50; ++i) {
    std::string piece;
    std::size_t n = rng() % 3000;
    for (std::size_t j = 0; j < n; ++j) piece.push_back(static_cast<char>('a' + rng() % 6));
    expected += piece;
    std::string wire = piece;
    gzip.transform_chunk(wire, false);
    EXPECT_FALSE(wire.empty());  // a sync flush always emits its marker at least
    EXPECT_EQ(client.feed(wire), piece) << "piece " << i;
  }
  std::string tail = "the end";
  expected += tail;
  gzip.transform_chunk(tail, true);
  EXPECT_EQ(client.feed(tail), "the end");
  EXPECT_EQ(client.last(), Z_STREAM_END);
}

TEST(GZipContentEncodingTest, StreamedChunksConcatenateToOneGzipMember) {
  GZipContentEncoding gzip("GET", "gzip");
  int status = 200;
  HTTPHeaders headers{{"Content-Type", "application/json"}};
  std::string expected, wire;
  std::string chunk = "[";
  expected += chunk;
  gzip.transform_first_chunk(status, headers, chunk, false);
  wire += chunk;
  for (int i = 0; i < 1000; ++i) {
    std::string piece = std::to_string(i) + ",";
    expected += piece;
    gzip.transform_chunk(piece, false);
    wire += piece;
  }
  std::string empty_tail;
  gzip.transform_chunk(empty_tail, true);
  wire += empty_tail;
  EXPECT_EQ(gunzip(wire), expected);
}

TEST(GZipContentEncodingTest, LargeIncompressibleBodyRoundTrips) {
  std::mt19937 rng(11);
  std::string body(3 << 20, '\0');
  for (char& c : body) c = static_cast<char>(rng());
  GZipContentEncoding gzip("GET", "gzip");
  int status = 200;
  HTTPHeaders headers = html_headers(body.size());
  std::string chunk = body;
  gzip.transform_first_chunk(status, headers, chunk, true);
  EXPECT_EQ(headers.get("Content-Length"), std::to_string(chunk.size()));
  EXPECT_EQ(gunzip(chunk), body);
}

TEST(GZipContentEncodingTest, ChunkAfterTheLastOneIsAnError) {
  GZipContentEncoding gzip("GET", "gzip");
  int status = 200;
  HTTPHeaders headers = html_headers(2000);
  std::string chunk = text_body(2000);
  gzip.transform_first_chunk(status, headers, chunk, true);
  std::string more = "x";
  EXPECT_THROW(gzip.transform_chunk(more, false), std::logic_error);
}

TEST(GZipContentEncodingTest, RequestConstructorReadsMethodAndAcceptEncoding) {
  httputil::HTTPServerRequest get("GET", "/", "HTTP/1.1", HTTPHeaders{{"Accept-Encoding", "gzip"}});
  GZipContentEncoding gzip(get);
  int status = 200;
  HTTPHeaders headers = html_headers(2000);
  std::string chunk = text_body(2000);
  gzip.transform_first_chunk(status, headers, chunk, true);
  EXPECT_TRUE(gzip.gzipping());

  httputil::HTTPServerRequest head("HEAD", "/", "HTTP/1.1",
                                   HTTPHeaders{{"Accept-Encoding", "gzip"}});
  GZipContentEncoding for_head(head);
  HTTPHeaders h2 = html_headers(2000);
  chunk = text_body(2000);
  for_head.transform_first_chunk(status, h2, chunk, true);
  EXPECT_FALSE(for_head.gzipping());
}

TEST(AcceptsGzipTest, CodingsAndWeights) {
  EXPECT_TRUE(GZipContentEncoding::accepts_gzip("gzip"));
  EXPECT_TRUE(GZipContentEncoding::accepts_gzip("deflate, gzip;q=1.0, *;q=0.5"));
  EXPECT_TRUE(GZipContentEncoding::accepts_gzip("GZIP"));
  EXPECT_TRUE(GZipContentEncoding::accepts_gzip("x-gzip"));
  EXPECT_TRUE(GZipContentEncoding::accepts_gzip("br ; q=0.9 , gzip ; q=0.001"));
  EXPECT_TRUE(GZipContentEncoding::accepts_gzip("*"));
  EXPECT_FALSE(GZipContentEncoding::accepts_gzip(""));
  EXPECT_FALSE(GZipContentEncoding::accepts_gzip("identity"));
  EXPECT_FALSE(GZipContentEncoding::accepts_gzip("br, deflate"));
  EXPECT_FALSE(GZipContentEncoding::accepts_gzip("gzip;q=0"));
  EXPECT_FALSE(GZipContentEncoding::accepts_gzip("gzip;q=0.000"));
  EXPECT_FALSE(GZipContentEncoding::accepts_gzip("gzip;q=0, *"));  // gzip refused by name
  EXPECT_FALSE(GZipContentEncoding::accepts_gzip("*;q=0"));
  EXPECT_FALSE(GZipContentEncoding::accepts_gzip("gzipx, xgzip"));
}

}  // namespace web_gzip_test
}  // namespace tornado::web
