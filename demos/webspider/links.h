// The web spider's HTML and URL work, as Tornado's webspider demo does it with Python's
// HTMLParser and urllib.parse: the href of every <a> tag (entities decoded), urljoin
// (RFC 3986 section 5.2 reference resolution) and remove_fragment.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace webspider {

// The href of each <a> start tag, in document order, with character references decoded.
// Comments and the contents of <script> and <style> are not markup; an unclosed tag at the
// end is ignored, as HTMLParser leaves it pending.
std::vector<std::string> get_links(std::string_view html);

// `reference` resolved against `base` (RFC 3986 5.2.2, with its dot-segment removal).
std::string urljoin(std::string_view base, std::string_view reference);

// `url` without its "#fragment".
std::string remove_fragment(std::string_view url);

}  // namespace webspider
