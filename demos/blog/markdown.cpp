#include "markdown.h"

#include <md4c-html.h>
#include <md4c.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace blog {

namespace {

void append_output(const MD_CHAR* text, MD_SIZE size, void* userdata) {
  static_cast<std::string*>(userdata)->append(text, size);
}

// The URL as a browser reads it: md4c writes '&' as "&amp;" in attributes.
std::string unescape_amp(std::string_view v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v.compare(i, 5, "&amp;") == 0) {
      out += '&';
      i += 4;
    } else {
      out += v[i];
    }
  }
  return out;
}

// Relative URLs (no scheme before the first '/', '?' or '#') and http(s)/mailto are safe.
bool safe_url(std::string_view escaped) {
  std::string url = unescape_amp(escaped);
  auto colon = url.find(':');
  if (colon == std::string::npos) return true;
  auto delimiter = url.find_first_of("/?#");
  if (delimiter != std::string::npos && delimiter < colon) return true;
  std::string scheme = url.substr(0, colon);
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return scheme == "http" || scheme == "https" || scheme == "mailto";
}

// md4c writes every attribute value between double quotes with '"', '<', '>' and '&'
// escaped, and raw HTML is off, so `href="` / `src="` in its output start link and image
// URLs only (text containing them reads `href=&quot;`).
std::string neutralise_urls(std::string_view html) {
  std::string out;
  out.reserve(html.size());
  std::size_t pos = 0;
  for (;;) {
    std::size_t href = html.find("href=\"", pos);
    std::size_t src = html.find("src=\"", pos);
    std::size_t at = std::min(href, src);
    if (at == std::string_view::npos) break;
    std::size_t start = html.find('"', at) + 1;
    std::size_t end = html.find('"', start);
    if (end == std::string_view::npos) break;
    out.append(html.substr(pos, start - pos));
    std::string_view url = html.substr(start, end - start);
    out.append(safe_url(url) ? url : std::string_view("#"));
    pos = end;
  }
  out.append(html.substr(pos));
  return out;
}

}  // namespace

std::string markdown_to_html(std::string_view markdown) {
  std::string html;
  unsigned parser_flags = MD_DIALECT_GITHUB | MD_FLAG_NOHTML;
  if (md_html(markdown.data(), static_cast<MD_SIZE>(markdown.size()), append_output, &html,
              parser_flags, 0) != 0) {
    throw std::runtime_error("markdown rendering failed");
  }
  return neutralise_urls(html);
}

std::string slugify(std::string_view title) {
  std::string slug;
  bool gap = false;
  for (unsigned char c : title) {
    if (std::isalnum(c) && c < 0x80) {
      if (gap && !slug.empty()) slug += '-';
      gap = false;
      slug += static_cast<char>(std::tolower(c));
      if (slug.size() >= 100) break;
    } else if (c < 0x80) {
      gap = true;
    }  // a non-ASCII byte is dropped, as Tornado's encode("ascii", "ignore")
  }
  return slug.empty() ? "entry" : slug;
}

}  // namespace blog
