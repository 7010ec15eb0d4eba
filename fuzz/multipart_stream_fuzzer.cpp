// libFuzzer target: httputil::MultipartStreamParser, the streaming multipart/form-data
// parser.
//
// Input layout: as multipart_fuzzer — the boundary, a LF, then the body (no LF in the first
// 80 bytes: all body, boundary "B").
//
// Checked (beyond "no crash, no sanitizer report"): only MultipartError is thrown; the body
// fed in one piece, byte by byte (bodies up to 4 KiB) and in three random chunkings gives
// exactly the same parts (name, filename, content type, bytes, ended) and the same error;
// every data view lies inside the chunk being fed and is never empty; part callbacks come
// in order (begin, data*, end); at most max_parts parts; tighter limits only turn a
// success into an error; and on bodies without a preamble, epilogue or stray boundary text (where
// the two grammars coincide), the result equals parse_multipart_form_data's.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.h"
#include "tornado/httputil.h"

namespace {

using tornado::httputil::MultipartError;
using tornado::httputil::MultipartPart;
using tornado::httputil::MultipartStreamParser;
using tornado::httputil::ParseMultipartConfig;

struct Part {
  std::string name;
  std::optional<std::string> filename;
  std::string content_type;
  std::string body;
  bool ended = false;
  bool operator==(const Part&) const = default;
};

struct Outcome {
  bool constructed = false;
  std::vector<Part> parts;
  std::string error;  // empty: finished cleanly
  bool operator==(const Outcome&) const = default;
};

// Feeds `body` in pieces cut by `next_size(left)`; 0 from next_size means "all the rest".
template <typename NextSize>
Outcome run(std::string_view boundary, std::string_view body, const ParseMultipartConfig& config,
            NextSize next_size) {
  Outcome out;
  std::string_view current_chunk;
  MultipartStreamParser::Callbacks callbacks{
      .on_part_begin =
          [&](const MultipartPart& part) {
            FUZZ_CHECK(out.parts.empty() || out.parts.back().ended);
            FUZZ_CHECK(!part.name.empty() && !part.content_type.empty());
            out.parts.push_back({part.name, part.filename, part.content_type, "", false});
          },
      .on_part_data =
          [&](std::string_view data) {
            FUZZ_CHECK(!data.empty());
            FUZZ_CHECK(!out.parts.empty() && !out.parts.back().ended);
            // Part bytes are views into the chunk being fed, or pieces of the delimiter
            // held back from the chunk before (at most its length).
            FUZZ_CHECK(fuzz::inside(data, current_chunk) || data.size() <= boundary.size() + 5);
            out.parts.back().body.append(data);
          },
      .on_part_end =
          [&] {
            FUZZ_CHECK(!out.parts.empty() && !out.parts.back().ended);
            out.parts.back().ended = true;
          }};
  try {
    MultipartStreamParser parser(boundary, callbacks, config);
    out.constructed = true;
    std::size_t pos = 0;
    while (true) {
      std::size_t left = body.size() - pos;
      std::size_t n = left == 0 ? 0 : next_size(left);
      fuzz::ExactCopy chunk(body.substr(pos, n));
      current_chunk = chunk.view();
      parser.feed(current_chunk);
      pos += n;
      if (left == 0) break;
    }
    parser.finish();
    FUZZ_CHECK(parser.done());
    FUZZ_CHECK(parser.part_count() == out.parts.size());
  } catch (const MultipartError& e) {
    FUZZ_CHECK(e.status() == 400 && e.what()[0] != '\0');
    out.error = e.what();
  }
  if (out.error.empty()) {
    FUZZ_CHECK(out.parts.size() <= config.max_parts);
    for (const Part& p : out.parts) FUZZ_CHECK(p.ended);
  }
  return out;
}

std::size_t count(std::string_view hay, std::string_view needle) {
  std::size_t n = 0;
  for (std::size_t at = hay.find(needle); at != std::string_view::npos;
       at = hay.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// True when the buffered (split at "--b\r\n", up to the last "--b--") and streaming
// (CRLF "--b" CRLF | "--") grammars must agree: the body starts with "--b", ends with
// CRLF "--b--" (or is "--b--"), and every other "--b" is preceded by CRLF and followed
// by CRLF.
bool grammars_coincide(std::string_view boundary, std::string_view body) {
  const std::string dash = "--" + std::string(boundary);
  if (body.substr(0, dash.size()) != dash) return false;
  if (body == dash + "--") return true;
  const std::string final = "\r\n" + dash + "--";
  if (body.size() < final.size() || body.substr(body.size() - final.size()) != final) return false;
  if (count(body, dash + "--") != 1) return false;
  std::size_t occurrences = count(body, dash);
  return occurrences == count(body, "\r\n" + dash + "\r\n") + 2 &&
         body.substr(dash.size(), 2) == "\r\n";
}

void check(std::string_view input) {
  std::string_view boundary = "B";
  std::string_view body = input;
  std::size_t lf = input.substr(0, 80).find('\n');
  if (lf != std::string_view::npos) {
    boundary = input.substr(0, lf);
    body = input.substr(lf + 1);
  }
  const ParseMultipartConfig defaults;
  Outcome whole = run(boundary, body, defaults, [](std::size_t left) { return left; });
  if (body.size() <= 4096) {
    FUZZ_CHECK(run(boundary, body, defaults, [](std::size_t) { return std::size_t{1}; }) == whole);
  }
  for (uint64_t salt = 1; salt <= 3; ++salt) {
    fuzz::Splitter split(input, salt);
    FUZZ_CHECK(run(boundary, body, defaults, [&](std::size_t left) { return split.next(left); }) ==
               whole);
  }

  ParseMultipartConfig tight;
  tight.max_parts = 2;
  tight.max_part_header_size = 64;
  Outcome limited = run(boundary, body, tight, [](std::size_t left) { return left; });
  if (limited.error.empty()) FUZZ_CHECK(limited == whole);

  if (whole.constructed && whole.error.empty() && grammars_coincide(boundary, body)) {
    tornado::httputil::Arguments args;
    tornado::httputil::Files files;
    bool buffered_ok = true;
    try {
      tornado::httputil::parse_multipart_form_data(boundary, body, args, files, defaults);
    } catch (const tornado::httputil::HTTPInputError&) {
      buffered_ok = false;
    }
    FUZZ_CHECK(buffered_ok);
    tornado::httputil::Arguments stream_args;
    std::size_t file_count = 0, files_matched = 0;
    for (const Part& p : whole.parts) {
      if (p.filename && !p.filename->empty()) {
        ++file_count;
        for (const auto& f : files[p.name]) {
          if (f.filename == *p.filename && f.body == p.body && f.content_type == p.content_type) {
            ++files_matched;
            break;
          }
        }
      } else {
        stream_args[p.name].push_back(p.body);
      }
    }
    FUZZ_CHECK(stream_args == args);
    std::size_t buffered_files = 0;
    for (const auto& [name, list] : files) buffered_files += list.size();
    FUZZ_CHECK(file_count == buffered_files && files_matched == file_count);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  check(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
