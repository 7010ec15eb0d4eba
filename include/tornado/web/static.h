// tornado/web/static.h — StaticFileHandler (Tornado's), part of web.h.
//
//   web::Application app({{"/", web::handler<MainHandler>()},
//                         {"/content/(.*)", web::handler<web::StaticFileHandler>("/var/www")}},
//                        {.static_path = "static"});   // also serves /static/..., /robots.txt
//   handler.static_url("css/site.css");   // "/static/css/site.css?v=<sha512 hex>"
//
// GET and HEAD of files under a root: ETag (the SHA-512 of the content) with If-None-Match,
// Last-Modified with If-Modified-Since, one Range (206, 416), Content-Type by extension,
// Cache-Control and Expires for ten years when the URL carries `v=`. Bodies are read in
// kChunkSize pieces and each piece is flushed (awaited) before the next is read, so a file
// of any size is never held in memory and a slow client slows the reading.
// The rules for which file a path names (never one outside the root, symlinks included) are
// in web/static_files.h; docs/static.md has the whole picture.
//
// Customising (Tornado's subclass hooks): derive, override the virtual hooks below, and
// route to `web::static_handler<MyHandler>()`; as Settings::static_handler_class that also
// makes static_url() call MyHandler::make_static_url (a static function hidden in the
// subclass, as a Tornado classmethod is overridden).
// Thread rule: like every handler, loop thread only; the hash cache is shared by all threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "tornado/web/application.h"
#include "tornado/web/request_handler.h"
#include "tornado/web/settings.h"
#include "tornado/web/static_files.h"

namespace tornado::web {

class StaticFileHandler : public RequestHandler {
 public:
  static constexpr int64_t kCacheMaxAge = 86400LL * 365 * 10;  // 10 years, Tornado's
  static constexpr std::size_t kChunkSize = 64 * 1024;

  // The Application's own static routes: the root is settings().static_path and
  // `default_filename` comes from settings().static_handler_args.
  void initialize();
  // A route of its own: files under `path`; a directory serves `default_filename` if given.
  void initialize(std::string path, std::optional<std::string> default_filename = std::nullopt);

  // The file named by the route's first capture group (URL-unescaped by the router).
  Task<> get() override;
  // The same headers (Content-Length of the would-be body included), no body.
  Task<> head() override;

  // Tornado's classmethods. static_url() calls make_static_url of the static_handler_class.
  // `prefix + path + "?v=" + version`, or without the query when include_version is false
  // or the file has no version.
  static std::string make_static_url(const Settings& settings, std::string_view path,
                                     bool include_version = true);
  // The content hash of `path` under settings.static_path (cached unless
  // settings.static_hash_cache is false), nullopt if it is not a servable file.
  static std::optional<std::string> get_version(const Settings& settings, std::string_view path);
  // Forgets every cached hash.
  static void reset() { static_hash_cache().reset(); }

 protected:
  // ---- hooks (Tornado's names) ----
  // The URL path (the capture) to a path relative to the root. Default: unchanged.
  virtual std::string parse_url_path(std::string_view url_path);
  // Which file to serve (kFile), a redirect, or an error. Default: resolve_static_path with
  // the request path and default_filename.
  virtual StaticPath validate_absolute_path(std::string_view root, std::string_view path);
  // Default: static_content_type(absolute path).
  virtual std::string get_content_type();
  // Seconds to let clients cache the file: kCacheMaxAge when the request has a `v`
  // argument, else 0 (no Expires / Cache-Control).
  virtual int64_t get_cache_time(std::string_view path, int64_t modified,
                                 std::string_view content_type);
  // For extra headers; called after the standard ones. Default: nothing.
  virtual void set_extra_headers(std::string_view path);
  // The version of the file served (the ETag's content), computed before the headers.
  // Default: its SHA-512 hex from static_hash_cache(), hashed on the executor on a miss (the
  // first request of a large file does not stall the loop); uncached when
  // settings.static_hash_cache is false. Override for a cheaper tag (size and mtime...).
  virtual Task<std::optional<std::string>> get_content_version();
  // Default: `"<content version>"` (quoted), as Tornado.
  std::optional<std::string> compute_etag() const override;
  // If-None-Match when present (If-Modified-Since then ignored), else If-Modified-Since at
  // or after the file's mtime (whole seconds). An unparseable date is ignored.
  virtual bool should_return_304();

  // Set during get()/head(), for the hooks (Tornado's self.root, self.path, ...).
  std::string root_;
  std::optional<std::string> default_filename_;
  std::string path_;                    // after parse_url_path
  std::string absolute_path_;           // the real path of the file served
  StaticFile file_;                     // open from validation to the end of the response
  int64_t modified_ = 0;                // mtime, seconds
  std::optional<std::string> version_;  // content hash, computed before the headers

 private:
  Task<> serve(bool include_body);
  void set_headers();
};

// A HandlerFactory that also knows its handler class's make_static_url (what Tornado reaches
// through settings["static_handler_class"].make_static_url).
class StaticHandlerFactory : public HandlerFactory {
 public:
  using HandlerFactory::HandlerFactory;
  virtual std::string make_static_url(const Settings& settings, std::string_view path,
                                      bool include_version) const = 0;
};

namespace detail {
template <typename H, typename... Args>
class StaticHandlerFactoryFor final : public StaticHandlerFactory {
 public:
  explicit StaticHandlerFactoryFor(Args... args)
      : StaticHandlerFactory(metrics::detail::handler_id(typeid(H))), inner_(std::move(args)...) {}
  std::unique_ptr<RequestHandler> create() const override { return inner_.create(); }
  void initialize(RequestHandler& handler) const override { inner_.initialize(handler); }
  unsigned implemented_methods() const noexcept override { return inner_.implemented_methods(); }
  bool overrides_prepare() const noexcept override { return inner_.overrides_prepare(); }
  bool overrides_compute_etag() const noexcept override { return inner_.overrides_compute_etag(); }
  std::string make_static_url(const Settings& settings, std::string_view path,
                              bool include_version) const override {
    return H::make_static_url(settings, path, include_version);
  }

 private:
  HandlerFactoryFor<H, Args...> inner_;
};

// The static routes Application puts before its own (Tornado's order): /robots.txt,
// /favicon.ico, then `static_url_prefix(.*)`. Empty without settings.static_path.
std::vector<routing::Rule> static_routes(const Settings& settings);
}  // namespace detail

// handler<H>(args...) for a StaticFileHandler subclass, remembering H::make_static_url.
template <typename H, typename... Args>
std::shared_ptr<const HandlerFactory> static_handler(Args&&... args) {
  static_assert(std::is_base_of_v<StaticFileHandler, H>,
                "static_handler<H>: H must derive StaticFileHandler");
  return std::make_shared<detail::StaticHandlerFactoryFor<H, std::decay_t<Args>...>>(
      std::forward<Args>(args)...);
}

}  // namespace tornado::web
