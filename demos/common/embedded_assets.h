// A demo's templates and static files built into its binary (embed_assets.cmake writes a
// source defining `<ns>::embedded_assets()`), so the binary runs from any directory:
//
//   s.template_loader = demo::embedded_templates(chat::embedded_assets());
//   s.static_path = "(built in)";  // a marker: nothing is read from disk
//   s.static_handler_class = web::static_handler<demo::EmbeddedStaticHandler<chat::embedded_assets>>();
//
// The handler serves the files as StaticFileHandler serves a directory: versioned URLs from
// static_url (the SHA-256 of the content), ETag/If-None-Match → 304, ten-year caching when
// the URL carries `v=`.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "tornado/template.h"
#include "tornado/web.h"

namespace demo {

// Every embedded file by its path under the demo's directory: "templates/index.html",
// "static/chat.js", ...
using AssetMap = std::map<std::string, std::string_view, std::less<>>;
using AssetsFunction = const AssetMap& (*)();

// The files under templates/, by their name below it ("index.html", "modules/entry.html").
std::shared_ptr<tornado::templates::DictLoader> embedded_templates(const AssetMap& assets);

// A file under static/ and its version (SHA-256 hex, computed once per process).
struct StaticAsset {
  std::string_view content;
  std::string version;
};
const StaticAsset* find_static_asset(const AssetMap& assets, std::string_view path);

namespace detail {
void serve_static_asset(tornado::web::StaticFileHandler& handler, const StaticAsset* asset,
                        std::optional<std::string>& version, bool include_body);
std::string versioned_static_url(const AssetMap& assets, const tornado::web::Settings& settings,
                                 std::string_view path, bool include_version);
}  // namespace detail

template <AssetsFunction Assets>
class EmbeddedStaticHandler : public tornado::web::StaticFileHandler {
 public:
  tornado::Task<> get() override {
    detail::serve_static_asset(*this, find_static_asset(Assets(), path_arg(0)), version_, true);
    co_return;
  }
  tornado::Task<> head() override {
    detail::serve_static_asset(*this, find_static_asset(Assets(), path_arg(0)), version_, false);
    co_return;
  }
  // What static_url() returns: prefix + path + "?v=<sha256 hex>" (no version for a file that
  // is not embedded).
  static std::string make_static_url(const tornado::web::Settings& settings,
                                     std::string_view path, bool include_version = true) {
    return detail::versioned_static_url(Assets(), settings, path, include_version);
  }
};

}  // namespace demo
