#include "embedded_assets.h"

#include <openssl/sha.h>

#include <mutex>

#include "tornado/web/mimetypes.h"

namespace demo {

namespace {

std::string sha256_hex(std::string_view content) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(content.data()), content.size(), digest);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char b : digest) {
    hex += kDigits[b >> 4];
    hex += kDigits[b & 15];
  }
  return hex;
}

using StaticIndex = std::map<std::string, StaticAsset, std::less<>>;

// The static files of each asset map, hashed on first use (a process may serve two demos'
// maps: the chat mounts the dashboard). Loop threads look them up concurrently.
const StaticIndex& static_index(const AssetMap& assets) {
  static std::mutex mu;
  static std::map<const AssetMap*, StaticIndex> indexes;
  std::lock_guard lock(mu);
  auto [it, fresh] = indexes.try_emplace(&assets);
  if (fresh) {
    for (const auto& [path, content] : assets) {
      if (path.starts_with("static/")) {
        it->second.emplace(path.substr(7), StaticAsset{content, sha256_hex(content)});
      }
    }
  }
  return it->second;  // never changed again: read without the lock
}

}  // namespace

std::shared_ptr<tornado::templates::DictLoader> embedded_templates(const AssetMap& assets) {
  std::map<std::string, std::string, std::less<>> sources;
  for (const auto& [path, content] : assets) {
    if (path.starts_with("templates/")) sources.emplace(path.substr(10), std::string(content));
  }
  return std::make_shared<tornado::templates::DictLoader>(std::move(sources));
}

const StaticAsset* find_static_asset(const AssetMap& assets, std::string_view path) {
  const auto& index = static_index(assets);
  auto it = index.find(path);
  return it == index.end() ? nullptr : &it->second;
}

namespace detail {

void serve_static_asset(tornado::web::StaticFileHandler& handler, const StaticAsset* asset,
                        std::optional<std::string>& version, bool include_body) {
  using tornado::web::StaticFileHandler;
  if (!asset) throw tornado::web::HTTPError(404);
  version = asset->version;  // StaticFileHandler::compute_etag quotes it
  handler.set_header("Content-Type", tornado::web::static_content_type(handler.path_arg(0)));
  if (handler.get_optional_argument("v")) {
    handler.set_header("Cache-Control", "max-age=" + std::to_string(StaticFileHandler::kCacheMaxAge));
    handler.set_header("Expires", std::chrono::system_clock::now() +
                                      std::chrono::seconds(StaticFileHandler::kCacheMaxAge));
  }
  if (include_body) {
    handler.write(asset->content);
  } else {
    handler.set_header("Content-Length", static_cast<std::int64_t>(asset->content.size()));
  }
}

std::string versioned_static_url(const AssetMap& assets, const tornado::web::Settings& settings,
                                 std::string_view path, bool include_version) {
  std::string url = settings.static_url_prefix + std::string(path);
  if (!include_version) return url;
  const StaticAsset* asset = find_static_asset(assets, path);
  return asset ? url + "?v=" + asset->version : url;
}

}  // namespace detail

}  // namespace demo
