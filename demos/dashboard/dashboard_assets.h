// The dashboard's page, script and stylesheet, built into the binary from demos/dashboard/web/
// by embed_assets.cmake (the page works from any directory, with no file to install).
#pragma once

#include <string_view>

namespace dashboard {

// The file `name` of demos/dashboard/web/ (index.html, dashboard.js, dashboard.css);
// std::out_of_range for any other name.
std::string_view asset(std::string_view name);

}  // namespace dashboard
