// libFuzzer target: multipart/form-data bodies (httputil::parse_multipart_form_data and
// parse_body_arguments).
//
// Input layout: the boundary, a LF, then the body (an input without a LF in its first 80
// bytes is all body, with the boundary "B"). Seeds in corpus/multipart_fuzzer/ follow it.
//
// Checked (beyond "no crash, no sanitizer report"): only HTTPInputError is thrown; every
// argument value and file body is a piece of the body; no more parts than max_parts; a
// parse that passes tight limits gives the same result under the default ones; going
// through parse_body_arguments with a Content-Type gives the same result as the direct
// call; a disabled config refuses everything.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "tornado/httputil.h"

namespace {

using tornado::httputil::Arguments;
using tornado::httputil::Files;
using tornado::httputil::HTTPHeaders;
using tornado::httputil::HTTPInputError;
using tornado::httputil::ParseMultipartConfig;

struct Outcome {
  bool ok = false;
  Arguments args;
  Files files;
};

bool same(const Outcome& a, const Outcome& b) {
  if (a.ok != b.ok || a.args != b.args || a.files.size() != b.files.size()) return false;
  for (auto ia = a.files.begin(), ib = b.files.begin(); ia != a.files.end(); ++ia, ++ib) {
    if (ia->first != ib->first || ia->second.size() != ib->second.size()) return false;
    for (std::size_t i = 0; i < ia->second.size(); ++i) {
      const auto& fa = ia->second[i];
      const auto& fb = ib->second[i];
      if (fa.filename != fb.filename || fa.body != fb.body ||
          fa.content_type != fb.content_type) {
        return false;
      }
    }
  }
  return true;
}

template <typename F>
Outcome run(F parse) {
  Outcome out;
  try {
    parse(out.args, out.files);
    out.ok = true;
  } catch (const HTTPInputError& e) {
    FUZZ_CHECK(e.status() == 400 && e.what()[0] != '\0');
  }
  return out;
}

Outcome direct(std::string_view boundary, std::string_view body,
               const ParseMultipartConfig& config) {
  return run([&](Arguments& args, Files& files) {
    tornado::httputil::parse_multipart_form_data(boundary, body, args, files, config);
  });
}

void check_multipart(std::string_view input) {
  std::string_view boundary = "B";
  std::string_view body = input;
  std::size_t lf = input.substr(0, 80).find('\n');
  if (lf != std::string_view::npos) {
    boundary = input.substr(0, lf);
    body = input.substr(lf + 1);
  }

  const ParseMultipartConfig defaults;
  Outcome full = direct(boundary, body, defaults);
  if (full.ok) {
    std::size_t parts = 0;
    for (const auto& [name, values] : full.args) {
      FUZZ_CHECK(!name.empty());
      for (const std::string& v : values) FUZZ_CHECK(body.find(v) != std::string_view::npos);
      parts += values.size();
    }
    for (const auto& [name, list] : full.files) {
      FUZZ_CHECK(!name.empty());
      for (const auto& f : list) {
        // A file part has a filename; its Content-Type may be empty when the part says
        // "Content-Type:" with nothing after it (kept empty, as Tornado keeps it).
        FUZZ_CHECK(!f.filename.empty());
        FUZZ_CHECK(body.find(f.body) != std::string_view::npos);
      }
      parts += list.size();
    }
    FUZZ_CHECK(parts <= defaults.max_parts);
  }

  // Tighter limits only ever turn a success into an error, never change what is parsed.
  ParseMultipartConfig tight;
  tight.max_parts = 2;
  tight.max_part_header_size = 64;
  Outcome limited = direct(boundary, body, tight);
  if (limited.ok) FUZZ_CHECK(same(limited, full));

  ParseMultipartConfig disabled;
  disabled.enabled = false;
  FUZZ_CHECK(!direct(boundary, body, disabled).ok);

  // The same body through the Content-Type dispatcher, which finds the boundary parameter
  // (a boundary with ';' or surrounding whitespace cannot be expressed that way).
  auto space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
  if (boundary.find(';') == std::string_view::npos && !boundary.empty() &&
      !space(boundary.front()) && !space(boundary.back())) {
    std::string content_type = "multipart/form-data; boundary=" + std::string(boundary);
    Outcome via = run([&](Arguments& args, Files& files) {
      HTTPHeaders headers;
      tornado::httputil::parse_body_arguments(content_type, body, args, files, &headers);
    });
    FUZZ_CHECK(same(via, full));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  check_multipart(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
