#include "embedded_static.h"

#include <openssl/sha.h>

#include <map>

#include "assets.h"

namespace blog {

namespace {

struct StaticFile {
  std::string_view content;
  std::string version;  // SHA-256 hex
};

// The embedded static files by their path under static/, hashed once.
const std::map<std::string, StaticFile, std::less<>>& static_files() {
  static const auto files = [] {
    std::map<std::string, StaticFile, std::less<>> out;
    for (const auto& [path, content] : embedded_assets()) {
      if (!path.starts_with("static/")) continue;
      unsigned char digest[SHA256_DIGEST_LENGTH];
      SHA256(reinterpret_cast<const unsigned char*>(content.data()), content.size(), digest);
      std::string hex;
      for (unsigned char b : digest) {
        static constexpr char kDigits[] = "0123456789abcdef";
        hex += kDigits[b >> 4];
        hex += kDigits[b & 15];
      }
      out.emplace(path.substr(7), StaticFile{content, hex});
    }
    return out;
  }();
  return files;
}

}  // namespace

tornado::Task<> EmbeddedStaticHandler::get() {
  serve(true);
  co_return;
}

tornado::Task<> EmbeddedStaticHandler::head() {
  serve(false);
  co_return;
}

void EmbeddedStaticHandler::serve(bool include_body) {
  const auto& files = static_files();
  auto it = files.find(path_arg(0));
  if (it == files.end()) throw tornado::web::HTTPError(404);
  version_ = it->second.version;  // StaticFileHandler::compute_etag quotes it
  set_header("Content-Type", tornado::web::static_content_type(it->first));
  if (get_optional_argument("v")) {
    set_header("Cache-Control", "max-age=" + std::to_string(kCacheMaxAge));
    set_header("Expires", std::chrono::system_clock::now() + std::chrono::seconds(kCacheMaxAge));
  }
  if (include_body) {
    write(it->second.content);
  } else {
    set_header("Content-Length", static_cast<std::int64_t>(it->second.content.size()));
  }
}

std::string EmbeddedStaticHandler::make_static_url(const tornado::web::Settings& settings,
                                                   std::string_view path, bool include_version) {
  std::string url = settings.static_url_prefix + std::string(path);
  if (!include_version) return url;
  const auto& files = static_files();
  auto it = files.find(path);
  return it == files.end() ? url : url + "?v=" + it->second.version;
}

}  // namespace blog
