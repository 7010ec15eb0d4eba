// libFuzzer target: httputil::HTTPHeaders::parse (a header block, as in a multipart part).
//
// Checked (beyond "no crash, no sanitizer report"): only HTTPInputError is thrown; every
// parsed name is a token and every value a trimmed field-value; writing the headers out
// and parsing them again gives the same headers; get() and get_list() agree with
// get_all(); and on a block without blank lines, the result is the one the server's
// in-place head parser (http1::parse_request_head) gives for the same lines.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "internal/http_parser.h"
#include "tornado/httputil.h"

namespace {

using tornado::httputil::HTTPHeaders;
using tornado::httputil::HTTPInputError;
namespace http1 = tornado::http1;

std::optional<HTTPHeaders> parse(std::string_view text) {
  try {
    return HTTPHeaders::parse(text);
  } catch (const HTTPInputError& e) {
    FUZZ_CHECK(e.status() == 400 && e.what()[0] != '\0');
    return std::nullopt;
  }
}

// The head parser stops at the first blank line and HTTPHeaders::parse skips blank lines,
// and a CR just before the end of the text is a line end for one and not the other: the
// two only have to agree on text without those.
bool comparable_with_head_parser(std::string_view text) {
  if (!text.empty() && text.back() == '\r') return false;
  std::size_t line_start = 0;
  while (line_start < text.size()) {
    std::size_t lf = text.find('\n', line_start);
    std::size_t end = lf == std::string_view::npos ? text.size() : lf;
    std::string_view line = text.substr(line_start, end - line_start);
    if (line.empty() || line == "\r") return false;
    if (lf == std::string_view::npos) break;
    line_start = lf + 1;
  }
  return true;
}

void check_against_head_parser(std::string_view text, const std::optional<HTTPHeaders>& parsed) {
  std::string head = "GET / HTTP/1.1\r\n";
  head.append(text);
  if (!text.empty() && text.back() != '\n') head.append("\r\n");
  head.append("\r\n");
  http1::MessageHead message;
  http1::ParseError err;
  std::size_t consumed = 0;
  http1::Limits unlimited;
  unlimited.max_header_size = head.size();
  http1::ParseStatus st = http1::parse_request_head(head, message, consumed, err, unlimited);
  FUZZ_CHECK(st != http1::ParseStatus::kIncomplete);
  FUZZ_CHECK((st == http1::ParseStatus::kComplete) == parsed.has_value());
  if (!parsed) return;
  FUZZ_CHECK(consumed == head.size());
  const auto& fields = parsed->get_all();
  FUZZ_CHECK(fields.size() == message.fields.size());
  for (std::size_t i = 0; i < fields.size(); ++i) {
    FUZZ_CHECK(http1::iequals(fields[i].first, message.fields[i].name));
    FUZZ_CHECK(fields[i].second == message.fields[i].value);
  }
}

void check_headers(std::string_view text) {
  std::optional<HTTPHeaders> parsed = parse(text);
  if (comparable_with_head_parser(text)) check_against_head_parser(text, parsed);
  if (!parsed) return;

  const auto& fields = parsed->get_all();
  for (const auto& [name, value] : fields) {
    FUZZ_CHECK(http1::is_token(name));
    FUZZ_CHECK(http1::is_field_value(value));
    FUZZ_CHECK(value.empty() || (value.front() != ' ' && value.front() != '\t' &&
                                 value.back() != ' ' && value.back() != '\t'));
    FUZZ_CHECK(parsed->contains(name));
  }

  // What write_to produces parses back to the same headers.
  std::string written;
  parsed->write_to(written);
  std::optional<HTTPHeaders> again = parse(written);
  FUZZ_CHECK(again.has_value() && *again == *parsed);

  // get_list/get see every value of a name, in order, whatever the spelling asked with.
  for (const auto& field : fields) {
    std::string upper = field.first;
    for (char& c : upper) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
    std::vector<std::string> values = parsed->get_list(upper);
    std::string joined;
    std::size_t count = 0;
    for (const auto& [name, value] : fields) {
      if (!http1::iequals(name, field.first)) continue;
      FUZZ_CHECK(count < values.size() && values[count] == value);
      joined.append(count ? "," : "").append(value);
      ++count;
    }
    FUZZ_CHECK(count == values.size());
    FUZZ_CHECK(parsed->get(upper) == joined);
    FUZZ_CHECK(*parsed->get_first(field.first) == values.front());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  check_headers(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
