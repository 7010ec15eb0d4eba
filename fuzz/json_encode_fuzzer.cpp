// libFuzzer target: escape::json_encode, differential against nlohmann's dump.
//
// Input: bytes cut at NUL into strings; they become a JSON array of those strings, an object
// keyed by them, and the strings alone, so that every byte sequence reaches the string
// writer (its ASCII word scan, its escapes and its UTF-8 decoder) as a value and as a key.
//
// Checked: json_encode gives exactly nlohmann's dump(ensure_ascii, compact) with every "</"
// written "<\/", or throws std::invalid_argument exactly when dump throws (invalid UTF-8);
// json_encode_to leaves its buffer as it was when it throws.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "tornado/escape.h"

namespace {

std::optional<std::string> reference(const nlohmann::json& v) {
  std::string text;
  try {
    text = v.dump(-1, ' ', true);
  } catch (const nlohmann::json::type_error&) {
    return std::nullopt;
  }
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    out.push_back(text[i]);
    if (text[i] == '<' && i + 1 < text.size() && text[i + 1] == '/') out.push_back('\\');
  }
  return out;
}

void check(const nlohmann::json& v) {
  const std::optional<std::string> expected = reference(v);
  std::string out = "prefix</";
  try {
    tornado::escape::json_encode_to(out, v);
  } catch (const std::invalid_argument&) {
    FUZZ_CHECK(!expected);
    FUZZ_CHECK(out == "prefix</");
    return;
  }
  FUZZ_CHECK(expected);
  FUZZ_CHECK(out == "prefix</" + *expected);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  nlohmann::json array = nlohmann::json::array(), object = nlohmann::json::object();
  std::size_t start = 0;
  while (start <= input.size()) {
    std::size_t end = input.find('\0', start);
    if (end == std::string_view::npos) end = input.size();
    const std::string piece(input.substr(start, end - start));
    check(piece);
    array.push_back(piece);
    object[piece] = static_cast<std::int64_t>(start) - 1000;
    start = end + 1;
  }
  check(array);
  check(object);
  return 0;
}
