// The templates and static files built into the blog binary (embed_assets.cmake), by path:
// "templates/base.html", "static/blog.css", ...
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace blog {

const std::map<std::string, std::string_view, std::less<>>& embedded_assets();

}  // namespace blog
