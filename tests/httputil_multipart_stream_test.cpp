// httputil::MultipartStreamParser: the same parts come out however the body is cut
// (one shot, 1-byte chunks, every split point, random chunkings — splits inside the
// boundary and the CRLFs included), agreement with the buffered parse_multipart_form_data,
// malformed bodies and limits (the same error for every chunking), bounded memory (nothing
// but the held-back delimiter prefix stays behind a feed) and linear time.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "tornado/httputil.h"

namespace httputil_multipart_stream_test {

namespace {

using namespace tornado::httputil;

struct Part {
  std::string name;
  std::optional<std::string> filename;
  std::string content_type;
  std::string body;
  bool ended = false;
  bool operator==(const Part&) const = default;
};

struct Outcome {
  std::vector<Part> parts;
  std::string error;  // empty: parsed and finished
  bool operator==(const Outcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  os << "{error=\"" << o.error << "\" parts=[";
  for (const Part& p : o.parts)
    os << p.name << ":" << p.body.size() << (p.ended ? "" : "(open)") << " ";
  return os << "]}";
}

MultipartStreamParser::Callbacks collect_into(Outcome& out) {
  return {.on_part_begin =
              [&out](const MultipartPart& part) {
                out.parts.push_back({part.name, part.filename, part.content_type, "", false});
              },
          .on_part_data =
              [&out](std::string_view data) {
                EXPECT_FALSE(data.empty());
                EXPECT_FALSE(out.parts.empty());
                EXPECT_FALSE(out.parts.back().ended);
                out.parts.back().body.append(data);
              },
          .on_part_end = [&out] { out.parts.back().ended = true; }};
}

// Parses `body` fed in pieces of the given sizes (the last piece takes the rest).
Outcome parse_chunked(std::string_view boundary, std::string_view body,
                      const std::vector<std::size_t>& sizes, ParseMultipartConfig config = {}) {
  Outcome out;
  try {
    MultipartStreamParser parser(boundary, collect_into(out), config);
    std::size_t pos = 0;
    for (std::size_t size : sizes) {
      if (pos >= body.size()) break;
      parser.feed(body.substr(pos, size));
      pos += std::min(size, body.size() - pos);
    }
    parser.feed(body.substr(pos));
    parser.finish();
  } catch (const MultipartError& e) {
    out.error = e.what();
  }
  return out;
}

Outcome parse_whole(std::string_view boundary, std::string_view body,
                    ParseMultipartConfig config = {}) {
  return parse_chunked(boundary, body, {}, config);
}

// Checks that one-shot parsing equals 1-byte chunks, every two-piece split, and random
// chunkings; returns the one-shot outcome.
Outcome parse_every_way(std::string_view boundary, std::string_view body,
                        ParseMultipartConfig config = {}) {
  Outcome whole = parse_whole(boundary, body, config);
  EXPECT_EQ(parse_chunked(boundary, body, std::vector<std::size_t>(body.size(), 1), config), whole)
      << "1-byte chunks";
  for (std::size_t split = 0; split <= body.size(); ++split) {
    Outcome two = parse_chunked(boundary, body, {split}, config);
    EXPECT_EQ(two, whole) << "split at " << split;
    if (two != whole) break;
  }
  std::mt19937 rng(12345);
  for (int round = 0; round < 50; ++round) {
    std::vector<std::size_t> sizes;
    for (std::size_t total = 0; total < body.size();) {
      std::size_t n = std::uniform_int_distribution<std::size_t>(0, 9)(rng);
      sizes.push_back(n);
      total += n;
    }
    EXPECT_EQ(parse_chunked(boundary, body, sizes, config), whole) << "random round " << round;
  }
  return whole;
}

std::string part(std::string_view disposition, std::string_view data,
                 std::string_view extra_headers = "") {
  return "Content-Disposition: form-data; " + std::string(disposition) + "\r\n" +
         std::string(extra_headers) + "\r\n" + std::string(data);
}

std::string body_of(std::string_view boundary, const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += "--" + std::string(boundary) + "\r\n" + p + "\r\n";
  return out + "--" + std::string(boundary) + "--\r\n";
}

TEST(MultipartStreamTest, FieldsAndFilesComeOutInOrder) {
  std::string body = body_of("1234", {part("name=\"a\"", "hello"),
                                      part("name=\"files\"; filename=\"ab.txt\"", "file\r\nbody",
                                           "Content-Type: text/plain\r\n"),
                                      part("name=\"empty\"", "")});
  Outcome out = parse_every_way("1234", body);
  ASSERT_EQ(out.error, "");
  ASSERT_EQ(out.parts.size(), 3u);
  EXPECT_EQ(out.parts[0], (Part{"a", std::nullopt, "application/unknown", "hello", true}));
  EXPECT_EQ(out.parts[1], (Part{"files", "ab.txt", "text/plain", "file\r\nbody", true}));
  EXPECT_EQ(out.parts[2], (Part{"empty", std::nullopt, "application/unknown", "", true}));
}

TEST(MultipartStreamTest, BoundaryLookalikesInsidePartsAreData) {
  // Near-misses of the delimiter: CRs, "--", the boundary without its CRLF, the boundary
  // followed by other bytes (no transport padding, as in Tornado), a final-looking "--b-x".
  std::string tricky =
      "\r\r\n\r\n-\r\n--\r\n--b\r\n--bo\r\n--boundary"
      "X\r\n--boundary \r\n--boundary-x--boundary\r\n\r";
  std::string body = body_of("boundary", {part("name=\"t\"", tricky), part("name=\"u\"", "\r")});
  Outcome out = parse_every_way("boundary", body);
  ASSERT_EQ(out.error, "");
  ASSERT_EQ(out.parts.size(), 2u);
  EXPECT_EQ(out.parts[0].body, tricky);
  EXPECT_EQ(out.parts[1].body, "\r");
}

TEST(MultipartStreamTest, BinaryDataWithEveryByteSurvives) {
  std::string data;
  for (int round = 0; round < 3; ++round) {
    for (int c = 0; c < 256; ++c) data.push_back(static_cast<char>(c));
  }
  data += "\r\n-";  // ends with a delimiter prefix
  std::string body = body_of("B", {part("name=\"bin\"; filename=\"x.bin\"", data)});
  Outcome out = parse_every_way("B", body);
  ASSERT_EQ(out.error, "");
  ASSERT_EQ(out.parts.size(), 1u);
  EXPECT_EQ(out.parts[0].body, data);
}

TEST(MultipartStreamTest, PreambleAndEpilogueAreIgnored) {
  std::string body = "This is the preamble.\r\n--xx ignored\r\n" +
                     body_of("xx", {part("name=\"a\"", "1")}) + "epilogue --xx\r\n junk";
  Outcome out = parse_every_way("xx", body);
  ASSERT_EQ(out.error, "");
  ASSERT_EQ(out.parts.size(), 1u);
  EXPECT_EQ(out.parts[0].body, "1");
  EXPECT_EQ(parse_every_way("xx", "--xx--").parts.size(), 0u) << "no parts at all";
}

// RFC 2046: a body part is headers [CRLF body], so the CRLF that ends the header block may
// also open the delimiter. Found by multipart_stream_fuzzer.
TEST(MultipartStreamTest, PartWithoutBodyEndsRightAfterItsHeaders) {
  std::string body =
      "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n--x\r\n"
      "Content-Disposition: form-data; name=\"b\"\r\n\r\n--x--";
  Outcome out = parse_every_way("x", body);
  ASSERT_EQ(out.error, "");
  ASSERT_EQ(out.parts.size(), 2u);
  EXPECT_EQ(out.parts[0], (Part{"a", std::nullopt, "application/unknown", "", true}));
  EXPECT_EQ(out.parts[1], (Part{"b", std::nullopt, "application/unknown", "", true}));
  Arguments args;
  Files files;
  parse_multipart_form_data("x", body, args, files);
  EXPECT_EQ(args, (Arguments{{"a", {""}}, {"b", {""}}}));
  // The bytes right after the header block are data when no delimiter follows.
  Outcome data =
      parse_every_way("x", "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n-\r\n--x--");
  ASSERT_EQ(data.parts.size(), 1u);
  EXPECT_EQ(data.parts[0].body, "-");
}

TEST(MultipartStreamTest, AgreesWithTheBufferedParser) {
  std::vector<std::string> bodies = {
      body_of("b", {part("name=\"a\"", "1"), part("name=\"a\"", "2"),
                    part("name=\"f\"; filename=\"f.txt\"", "data", "Content-Type: text/x\r\n")}),
      body_of("----WebKitFormBoundary7MA4YWxkTrZu0gW",
              {part("name=\"q\"", "x y"), part("name=\"r\"; filename=\"\"", "not a file")}),
      body_of("quoted", {part("name*=UTF-8''%C3%A1; filename*=UTF-8''%E2%82%AC.txt", "euro")}),
  };
  for (const std::string& body : bodies) {
    std::string boundary = body.substr(2, body.find("\r\n") - 2);
    Arguments args;
    Files files;
    parse_multipart_form_data(boundary, body, args, files);
    Outcome out = parse_every_way(boundary, body);
    ASSERT_EQ(out.error, "");
    Arguments stream_args;
    Files stream_files;
    for (const Part& p : out.parts) {
      if (p.filename && !p.filename->empty()) {
        stream_files[p.name].push_back({*p.filename, p.body, p.content_type});
      } else {
        stream_args[p.name].push_back(p.body);
      }
    }
    EXPECT_EQ(stream_args, args);
    ASSERT_EQ(stream_files.size(), files.size());
    for (const auto& [name, list] : files) {
      ASSERT_EQ(stream_files[name].size(), list.size());
      for (std::size_t i = 0; i < list.size(); ++i) {
        EXPECT_EQ(stream_files[name][i].filename, list[i].filename);
        EXPECT_EQ(stream_files[name][i].body, list[i].body);
        EXPECT_EQ(stream_files[name][i].content_type, list[i].content_type);
      }
    }
  }
}

TEST(MultipartStreamTest, MalformedBodiesGiveTheSameErrorForEveryChunking) {
  const std::pair<std::string, std::string> cases[] = {
      {body_of("b", {part("name=\"a\"", "1")}).substr(0, 40), "no final boundary found"},
      {"--b\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nx\r\n--b--",
       "Invalid multipart/form-data"},
      {"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--", "missing name"},
      {"--b\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nx\r\n--b--", "missing name"},
      {"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--", "Invalid multipart/form-data"},
      {"--b\r\nno colon here\r\n\r\nx\r\n--b--", "Invalid multipart/form-data"},
      {"--b\r\n\r\nx\r\n--b--", "Invalid multipart/form-data"},
      {"", "no final boundary found"},
      {"just text", "no final boundary found"},
  };
  for (const auto& [body, expected] : cases) {
    Outcome out = parse_every_way("b", body);
    EXPECT_NE(out.error.find(expected), std::string::npos) << body << " -> " << out.error;
  }
}

TEST(MultipartStreamTest, LimitsFromParseMultipartConfig) {
  std::vector<std::string> parts(4, part("name=\"a\"", "x"));
  std::string body = body_of("b", parts);
  EXPECT_EQ(parse_every_way("b", body, {.max_parts = 4}).error, "");
  EXPECT_EQ(parse_every_way("b", body, {.max_parts = 3}).error,
            "multipart/form-data has too many parts (limit 3)");

  std::string header = part("name=\"a\"", "x", "X-Pad: " + std::string(100, 'p') + "\r\n");
  std::string one = body_of("b", {header});
  std::size_t header_size = header.find("\r\n\r\n");
  EXPECT_EQ(parse_every_way("b", one, {.max_part_header_size = header_size}).error, "");
  EXPECT_EQ(parse_every_way("b", one, {.max_part_header_size = header_size - 1}).error,
            "multipart/form-data part header too large (limit " + std::to_string(header_size - 1) +
                " bytes)");
  // A header block that never ends stops at the limit, not at the end of the body.
  std::string endless = "--b\r\n" + std::string(1 << 20, 'h');
  EXPECT_NE(parse_whole("b", endless, {.max_part_header_size = 100}).error.find("too large"),
            std::string::npos);

  EXPECT_THROW(MultipartStreamParser(std::string(71, 'b'), {}), MultipartError);
  EXPECT_NO_THROW(MultipartStreamParser(std::string(70, 'b'), {}));
  EXPECT_NO_THROW(MultipartStreamParser("\"quoted\"", {}));
  EXPECT_THROW(MultipartStreamParser("", {}), MultipartError);
  EXPECT_THROW(MultipartStreamParser("\"\"", {}), MultipartError);
  EXPECT_THROW(MultipartStreamParser("a\r\nb", {}), MultipartError);
  EXPECT_THROW(MultipartStreamParser("b", {}, {.enabled = false}), MultipartError);
}

TEST(MultipartStreamTest, AFailedParserKeepsFailing) {
  Outcome out;
  MultipartStreamParser parser("b", collect_into(out), {.max_parts = 1});
  std::string body = body_of("b", {part("name=\"a\"", "1"), part("name=\"b\"", "2")});
  EXPECT_THROW(parser.feed(body), MultipartError);
  try {
    parser.feed("more");
    FAIL() << "no error";
  } catch (const MultipartError& e) {
    EXPECT_STREQ(e.what(), "multipart/form-data has too many parts (limit 1)");
  }
  EXPECT_THROW(parser.finish(), MultipartError);
}

TEST(MultipartStreamTest, ACallbackExceptionStopsTheParser) {
  MultipartStreamParser parser(
      "b", {.on_part_begin = [](const MultipartPart&) { throw std::runtime_error("disk full"); }});
  EXPECT_THROW(parser.feed(body_of("b", {part("name=\"a\"", "1")})), std::runtime_error);
  EXPECT_THROW(parser.feed("x"), MultipartError);
}

TEST(MultipartStreamTest, FromContentType) {
  Outcome out;
  auto parser = MultipartStreamParser::from_content_type(
      "multipart/form-data; charset=utf-8; boundary=\"xyz\"", collect_into(out));
  parser.feed(body_of("xyz", {part("name=\"a\"", "1")}));
  parser.finish();
  EXPECT_TRUE(parser.done());
  EXPECT_EQ(parser.part_count(), 1u);
  EXPECT_THROW(MultipartStreamParser::from_content_type("multipart/form-data", {}), MultipartError);
  EXPECT_THROW(MultipartStreamParser::from_content_type("text/plain; boundary=x", {}),
               MultipartError);
}

TEST(MultipartStreamTest, PartBytesAreNotBufferedBehindAFeed) {
  // A 32 MiB file in 64 KiB chunks: after every feed, all fed bytes but at most the
  // delimiter's length (plus the header block) have been handed on.
  const std::string boundary(70, 'z');
  std::string head = "--" + boundary + "\r\n" + part("name=\"f\"; filename=\"big\"", "");
  std::size_t fed = 0, delivered = 0;
  MultipartStreamParser parser(
      boundary, {.on_part_data = [&](std::string_view d) { delivered += d.size(); }});
  parser.feed(head);
  std::string chunk(64 * 1024, '\r');  // CRs: every byte could open a delimiter
  for (std::size_t i = 0; i < chunk.size(); i += 7) chunk[i] = '\n';
  for (int i = 0; i < 512; ++i) {
    parser.feed(chunk);
    fed += chunk.size();
    ASSERT_LE(fed - delivered, boundary.size() + 5) << "held back after feed " << i;
  }
  parser.feed("\r\n--" + boundary + "--");
  parser.finish();
  EXPECT_EQ(delivered, fed);
}

TEST(MultipartStreamTest, NearMatchesTakeLinearTime) {
  // 8 MiB of "\r\n--<boundary minus its last byte>" repeated: a search that restarts at each
  // position would compare ~70 bytes per byte. Compared with 8 MiB of CRs, which also go
  // byte by byte through the delimiter match (each CR may open it): data without CRs is
  // skipped with memchr, far faster, and would make any byte-by-byte path look slow.
  const std::string boundary(70, 'q');
  std::string near = "\r\n--" + boundary.substr(0, 69);
  auto time_body = [&](const std::string& unit) {
    std::string data;
    while (data.size() < (8u << 20)) data += unit;
    std::string body =
        "--" + boundary + "\r\n" + part("name=\"f\"", data) + "\r\n--" + boundary + "--";
    std::size_t delivered = 0;
    MultipartStreamParser parser(
        boundary, {.on_part_data = [&](std::string_view d) { delivered += d.size(); }});
    auto start = std::chrono::steady_clock::now();
    for (std::size_t pos = 0; pos < body.size(); pos += 65536) {
      parser.feed(std::string_view(body).substr(pos, 65536));
    }
    parser.finish();
    EXPECT_EQ(delivered, data.size());
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  double carriage_returns = time_body(std::string(64, '\r'));
  double adversarial = time_body(near);
  EXPECT_LT(adversarial, 4 * carriage_returns + 0.05)
      << "CRs " << carriage_returns << " s, near-matches " << adversarial << " s";
}

}  // namespace

}  // namespace httputil_multipart_stream_test
