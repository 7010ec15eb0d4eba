// Entry text: Markdown to HTML with md4c, and titles to URL slugs.
#pragma once

#include <string>
#include <string_view>

namespace blog {

// CommonMark + GitHub tables/strikethrough/autolinks through md4c's HTML renderer, with raw
// HTML disabled (MD_FLAG_NOHTML: "<script>" in the text comes out as "&lt;script&gt;") and
// link/image URLs whose scheme is not http, https or mailto replaced by "#" (no
// "javascript:" links). The result is safe to put in a page unescaped.
std::string markdown_to_html(std::string_view markdown);

// Tornado's demo slug: lower-case ASCII letters and digits, runs of anything else as one
// "-", at most 100 bytes; "entry" when nothing is left. (Tornado also folds accents through
// NFKD, "café" → "cafe"; here non-ASCII letters are dropped: "caf".)
std::string slugify(std::string_view title);

}  // namespace blog
