// The HTML5 character reference tables behind escape::xhtml_unescape (generated data in
// html_entities.cpp; see scripts/gen_html_entities.py).
#pragma once

#include <cstdint>
#include <string_view>

namespace tornado::internal {

// The UTF-8 expansion of a named reference, looked up with its ';' if it has one ("amp;",
// and the legacy "amp" without); nullptr if the name is not in the table.
const std::string_view* find_named_entity(std::string_view name) noexcept;

// WHATWG numeric reference fix-ups: 0x80..0x9f as windows-1252, 0 as U+FFFD, 0x0d kept.
// Returns the code point to use instead, or -1 when no fix-up applies to `code`.
int32_t numeric_replacement(uint32_t code) noexcept;

}  // namespace tornado::internal
