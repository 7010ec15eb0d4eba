// The one implementation of Tornado's xhtml_escape (& < > " ' as entities): escape::xhtml_escape
// and the template engine's autoescape append through it.
#pragma once

#include <string>
#include <string_view>

namespace tornado::internal {

// Appends `value` to `out`, escaped. Runs of bytes that need nothing are copied whole, found
// eight bytes at a time.
void append_xhtml_escaped(std::string& out, std::string_view value);

}  // namespace tornado::internal
