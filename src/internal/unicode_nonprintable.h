// Python's str.isprintable() for one code point (what repr() leaves unescaped).
#pragma once

namespace tornado::templates::detail {
bool is_printable(char32_t cp);
}
