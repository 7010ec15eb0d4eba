// Serves the static files built into the binary (assets.h) under settings.static_url_prefix,
// as StaticFileHandler serves a directory: versioned URLs from static_url (the SHA-256 of
// the content), ETag/If-None-Match → 304, ten-year caching when the URL carries `v=`.
// Route it with Settings::static_handler_class = web::static_handler<EmbeddedStaticHandler>()
// (static_path is then only a marker: nothing is read from disk).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "tornado/web.h"
#include "tornado/web/mimetypes.h"

namespace blog {

class EmbeddedStaticHandler : public tornado::web::StaticFileHandler {
 public:
  tornado::Task<> get() override;
  tornado::Task<> head() override;
  // What static_url() returns: prefix + path + "?v=<sha256 hex>" (no version for a file that
  // is not embedded).
  static std::string make_static_url(const tornado::web::Settings& settings, std::string_view path,
                                     bool include_version = true);

 private:
  void serve(bool include_body);
};

}  // namespace blog
