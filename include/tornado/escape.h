// tornado/escape.h — escaping and unescaping for HTML, URLs and JSON, plus a few string
// helpers (Tornado's `escape`).
//
//   using namespace tornado::escape;
//   xhtml_escape("<a href='x'>");        // "&lt;a href=&#x27;x&#x27;&gt;"
//   xhtml_unescape("&lt;&eacute;&#x41;"); // "<éA"  (UTF-8)
//   url_escape("a b/c");                 // "a+b%2Fc"     (quote_plus)
//   url_escape("a b/c", false);          // "a%20b/c"     (quote, '/' kept)
//   url_unescape("a+b%2Fc");             // "a b/c"
//   json_encode({{"s", "</script>"}});   // {"s":"<\/script>"}
//   linkify("see http://example.com");   // see <a href="http://example.com">...</a>
//
// Strings are bytes: text is UTF-8 in and out, and %XX escapes decode to raw bytes (as
// Tornado's url_unescape(..., encoding=None)). json_decode's result is an nlohmann::json:
// include <nlohmann/json.hpp> where you use it (this header only forward-declares it).
// Thread rule: pure functions, any thread.
#pragma once

#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace tornado::escape {

// Escapes & < > " ' as &amp; &lt; &gt; &quot; &#x27; (Python's html.escape, as Tornado 6.3+).
// Other bytes, including non-ASCII UTF-8, pass through unchanged.
std::string xhtml_escape(std::string_view value);

// Decodes HTML character references the way HTML5 (and Python's html.unescape) does:
// named references with and without ';' for the legacy names (longest prefix wins),
// decimal and hex references, windows-1252 fix-ups for 0x80..0x9f, U+FFFD for surrogates
// and values past U+10FFFF, and forbidden code points removed. Anything that is not a
// reference is kept as it is ("&#xyz;" stays). Output is UTF-8.
std::string xhtml_unescape(std::string_view value);

// Percent-encodes `value` byte by byte. plus=true (default) is Python's quote_plus: only
// A-Z a-z 0-9 _ . - ~ are kept and space becomes '+'. plus=false is Python's quote: '/' is
// also kept and space becomes %20. Hex digits are upper case.
std::string url_escape(std::string_view value, bool plus = true);

// Decodes %XX escapes to bytes; with plus=true (default) '+' is a space first. A '%' not
// followed by two hex digits is kept literally. Never throws.
std::string url_unescape(std::string_view value, bool plus = true);

// Default nesting limit of json_decode and json_encode: about where Python's json.loads
// and json.dumps stop with a RecursionError.
inline constexpr std::size_t kMaxJsonDepth = 1000;

// JSON text of `value` with every "</" written as "<\/" so the result is safe inside a
// <script> element. Non-ASCII is written as \uXXXX (as Python's json.dumps). Compact
// separators. Throws std::invalid_argument if a string in `value` is not valid UTF-8, or if
// arrays/objects nest deeper than `max_depth` (the writer recurses per level: a value nested
// 100,000 deep would overflow the stack).
std::string json_encode(const nlohmann::json& value, std::size_t max_depth = kMaxJsonDepth);
// The same text appended to `out` (a response body: no intermediate string). On the
// exception, `out` is as it was.
void json_encode_to(std::string& out, const nlohmann::json& value,
                    std::size_t max_depth = kMaxJsonDepth);

// Parses JSON text. Throws std::invalid_argument with the parser's message on bad input,
// and on arrays/objects nested deeper than `max_depth` (nlohmann::json parses, copies, prints
// and compares recursively: a request body of a million '[' would overflow the stack).
nlohmann::json json_decode(std::string_view text, std::size_t max_depth = kMaxJsonDepth);

// Replaces each run of bytes 0x00..0x20 with one space and trims spaces at both ends.
std::string squeeze(std::string_view value);

struct LinkifyOptions {
  // Shorten long URLs for display (the full URL stays in href and goes into title).
  bool shorten = false;
  // Extra attributes for every <a> tag, e.g. R"(rel="nofollow" class="external")".
  std::string extra_params;
  // If set, called with each href; its (trimmed) result is used instead of extra_params.
  std::function<std::string(std::string_view href)> extra_params_fn;
  // Only link URLs with an explicit protocol (no bare "www.example.com").
  bool require_protocol = false;
  // Protocols that are linked (case-sensitive). Never add "javascript".
  std::vector<std::string> permitted_protocols = {"http", "https"};
};

// Converts plain text to HTML: the text is xhtml-escaped, then URLs ("proto://...",
// "proto:/..." and "www....") become <a> links, with trailing punctuation and unbalanced
// parentheses left outside the link (Tornado's rules). Input is UTF-8.
std::string linkify(std::string_view text, const LinkifyOptions& options = {});

// Standard base64 (RFC 4648 4) with padding; urlsafe=true uses '-' and '_' (RFC 4648 5).
std::string base64_encode(std::string_view data, bool urlsafe = false);
// Decodes base64 (the alphabet chosen by `urlsafe`; padding required when the length is
// not a multiple of 4 is accepted missing). Throws std::invalid_argument on a character
// outside the alphabet or a bad length.
std::string base64_decode(std::string_view text, bool urlsafe = false);

}  // namespace tornado::escape
