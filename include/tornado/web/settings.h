// tornado/web/settings.h — Application settings and output transforms (part of web.h).
//
//   web::Settings s{.debug = true, .cookie_secret = "secret", .xsrf_cookies = true};
//
// One struct with Tornado's keys and defaults. Fields are in the order a designated
// initializer needs them (C++ requires declaration order).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tornado/httputil.h"
#include "tornado/task.h"
#include "tornado/web/signing.h"

namespace tornado::templates {
class BaseLoader;
}

namespace tornado::web {

class HandlerFactory;
class RequestHandler;
class UIModule;

// Makes a UI module for one handler (web/ui_module.h: web::ui_module<M>()).
using UIModuleFactory = std::function<std::unique_ptr<UIModule>(RequestHandler&)>;
// A template function that also receives the handler (Tornado's ui_methods).
using UIMethod =
    std::function<nlohmann::json(RequestHandler& handler, const std::vector<nlohmann::json>& args,
                                 const nlohmann::json& kwargs)>;

// Attributes of a Set-Cookie (Tornado's set_cookie keyword arguments). Unset fields are left
// out of the header; `path` defaults to "/".
struct CookieOptions {
  std::string domain;
  std::optional<std::int64_t> expires;  // Unix seconds
  std::string path = "/";
  std::optional<double> expires_days;   // used when `expires` is not set
  std::optional<std::int64_t> max_age;  // seconds
  bool httponly = false;
  bool secure = false;
  std::string samesite;  // "Strict", "Lax" or "None"; "" = not sent
  bool partitioned = false;
};

struct Settings {
  // Debug mode: serve_traceback on, static_hash_cache and compiled_template_cache off, and
  // autoreload on unless set.
  bool debug = false;
  // Restart the process when its binary (or an autoreload::watch()ed file) changes
  // (autoreload.h): the Application calls autoreload::start() on the current loop. Unset:
  // the value of `debug`.
  std::optional<bool> autoreload;
  std::optional<std::string> autoescape = "xhtml_escape";  // nullopt: off
  bool compress_response = false;                          // gzip (the static branch's transform)
  CookieSecret cookie_secret;                              // one secret or {key_version: secret}
  std::optional<int> key_version;  // which of versioned secrets signs new cookies
  std::string template_path;
  std::string template_whitespace;  // "" = by extension; all | single | oneline
  std::string static_path;
  std::string static_url_prefix = "/static/";
  bool xsrf_cookies = false;
  CookieOptions xsrf_cookie_kwargs;
  int xsrf_cookie_version = 2;
  std::string xsrf_cookie_name = "_xsrf";
  std::string login_url;
  std::shared_ptr<const HandlerFactory> static_handler_class;  // null: StaticFileHandler
  // Arguments of the static routes' handler; StaticFileHandler reads "default_filename".
  nlohmann::json static_handler_args = nlohmann::json::object();
  bool static_hash_cache = true;
  std::shared_ptr<const HandlerFactory> default_handler_class;  // null: 404
  bool serve_traceback = false;
  bool compiled_template_cache = true;
  // Replaces the access log line (called once per finished request).
  std::function<void(const RequestHandler&)> log_function;
  // A handler still running after this long is cancelled and answered 503 (or its
  // connection closed if the headers went out), with a warning. None by default.
  std::optional<Duration> request_timeout;
  // WebSocketHandler's defaults (websocket.h): keepalive pings every interval (none: off),
  // a peer not answering within the timeout (default: the interval) is closed; messages
  // over the size are closed with 1009.
  std::optional<Duration> websocket_ping_interval;
  std::optional<Duration> websocket_ping_timeout;
  std::size_t websocket_max_message_size = 10 * 1024 * 1024;
  // Anything else an application wants to reach through handler.settings().
  nlohmann::json extra = nlohmann::json::object();
  // Loads render()'s templates instead of a Loader on template_path (Tornado's
  // template_loader), e.g. a templates::DictLoader.
  std::shared_ptr<templates::BaseLoader> template_loader;
  // UI modules by name, called from templates as {% module Name(...) %} (web/ui_module.h);
  // "Template" is built in. UI methods by name, called as name(...) in templates.
  std::map<std::string, UIModuleFactory, std::less<>> ui_modules;
  std::map<std::string, UIMethod, std::less<>> ui_methods;
};

// Rewrites the response on its way out (Tornado's OutputTransform, e.g. gzip). One is made
// per request by the factories in Application::add_transform, in order.
class OutputTransform {
 public:
  virtual ~OutputTransform() = default;
  // Called once with the status, headers and first body piece; `finishing` is true when
  // this piece is the whole body. May change all three.
  virtual void transform_first_chunk(int& status_code, httputil::HTTPHeaders& headers,
                                     std::string& chunk, bool finishing) = 0;
  // Called for every later piece; `finishing` on the last.
  virtual void transform_chunk(std::string& chunk, bool finishing) = 0;
};

// Makes the transform for one request (or nullptr to skip it for this request).
using OutputTransformFactory =
    std::function<std::unique_ptr<OutputTransform>(const httputil::HTTPServerRequest&)>;

}  // namespace tornado::web
