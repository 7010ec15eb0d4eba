// tornado/web/application.h — Application and handler<H>() (part of web.h).
//
//   web::Application app({{"/", web::handler<MainHandler>()},
//                         {"/entry/([^/]+)", web::handler<EntryHandler>(db), "entry"}},
//                        {.cookie_secret = "...", .xsrf_cookies = true});
//   app.listen(8888);
//
// An Application is a routing table plus settings. It is the HTTPServer's connection
// delegate: for each request it finds the rule (host rules, then path rules, first match
// wins), makes one handler object, and runs it. Thread rule: build it (add_handlers,
// add_transform) before serving; serving is on the loop thread.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "tornado/hot.h"
#include "tornado/httpserver.h"
#include "tornado/metrics.h"
#include "tornado/routing.h"
#include "tornado/web/request_handler.h"
#include "tornado/web/settings.h"

namespace tornado::web {

// Makes the handler objects of one rule (Tornado's handler class + its init kwargs).
class HandlerFactory : public routing::Target {
 public:
  // A fresh handler (its implemented_methods() set).
  virtual std::unique_ptr<RequestHandler> create() const = 0;
  // Calls the handler's initialize() with the rule's arguments (once its application and
  // request are set, so initialize may read them).
  virtual void initialize(RequestHandler& handler) const = 0;
  // The methods the handler class overrides (bits of Method), for Allow.
  virtual unsigned implemented_methods() const noexcept = 0;
  // Whether the class overrides prepare(): when not, the request skips its (empty) frame.
  virtual bool overrides_prepare() const noexcept = 0;
  // Whether the class overrides compute_etag(): when not, finish() hashes into a buffer.
  virtual bool overrides_compute_etag() const noexcept = 0;
  // The handler class's id in the request counts (metrics::detail::handler_id).
  int metrics_id() const noexcept { return metrics_id_; }

 protected:
  explicit HandlerFactory(int metrics_id = 0) noexcept : metrics_id_(metrics_id) {}
  static void set_implemented(RequestHandler& h, unsigned bits) {
    h.implemented_ = static_cast<uint8_t>(bits);
  }

 private:
  int metrics_id_;
};

namespace detail {

template <typename H>
constexpr unsigned implemented_methods_of() {
  using Base = RequestHandler;
  unsigned bits = 0;
  // A method the class does not override has the base's member pointer type.
  if (!std::is_same_v<decltype(&H::get), Task<> (Base::*)()>) bits |= unsigned(Method::kGet);
  if (!std::is_same_v<decltype(&H::head), Task<> (Base::*)()>) bits |= unsigned(Method::kHead);
  if (!std::is_same_v<decltype(&H::post), Task<> (Base::*)()>) bits |= unsigned(Method::kPost);
  if (!std::is_same_v<decltype(&H::delete_), Task<> (Base::*)()>) {
    bits |= unsigned(Method::kDelete);
  }
  if (!std::is_same_v<decltype(&H::patch), Task<> (Base::*)()>) bits |= unsigned(Method::kPatch);
  if (!std::is_same_v<decltype(&H::put), Task<> (Base::*)()>) bits |= unsigned(Method::kPut);
  if (!std::is_same_v<decltype(&H::options), Task<> (Base::*)()>) {
    bits |= unsigned(Method::kOptions);
  }
  return bits;
}

template <typename H, typename... Args>
class HandlerFactoryFor final : public HandlerFactory {
 public:
  explicit HandlerFactoryFor(Args... args)
      : HandlerFactory(metrics::detail::handler_id(typeid(H))), args_(std::move(args)...) {}
  TORNADO_HOT std::unique_ptr<RequestHandler> create() const override {
    std::unique_ptr<RequestHandler> h = make_handler<H>();
    set_implemented(*h, implemented_methods_of<H>());
    return h;
  }
  void initialize(RequestHandler& handler) const override {
    if constexpr (requires(H & x, const Args&... a) { x.initialize(a...); }) {
      H& h = static_cast<H&>(handler);
      std::apply([&](const Args&... a) { h.initialize(a...); }, args_);
    } else {
      static_assert(sizeof...(Args) == 0,
                    "handler<H>(args...): H has no initialize() taking these arguments");
    }
  }
  unsigned implemented_methods() const noexcept override { return implemented_methods_of<H>(); }
  bool overrides_prepare() const noexcept override {
    // As for the methods: a class that does not override prepare() names the base's.
    return !std::is_same_v<decltype(&H::prepare), Task<> (RequestHandler::*)()>;
  }
  bool overrides_compute_etag() const noexcept override {
    // A class that declares it protected or private overrides it (the base's is public).
    if constexpr (requires { &H::compute_etag; }) {
      return !std::is_same_v<decltype(&H::compute_etag),
                             std::optional<std::string> (RequestHandler::*)() const>;
    } else {
      return true;
    }
  }

 private:
  std::tuple<Args...> args_;
};

}  // namespace detail

// The rule target for handler class H; `args` are passed to H::initialize (by const
// reference, on every request) when H declares one.
template <typename H, typename... Args>
std::shared_ptr<const HandlerFactory> handler(Args&&... args) {
  static_assert(std::is_base_of_v<RequestHandler, H>, "handler<H>: H must derive RequestHandler");
  return std::make_shared<detail::HandlerFactoryFor<H, std::decay_t<Args>...>>(
      std::forward<Args>(args)...);
}

// One routing rule as Application takes it (Tornado's URLSpec / (pattern, handler, kwargs,
// name) tuple): a path pattern, a handler factory, an optional name for reverse_url.
struct URLSpec {
  URLSpec(std::string_view pattern, std::shared_ptr<const HandlerFactory> handler,
          std::string name = {});
  // A nested router under a path pattern (Tornado's Rule(PathMatches(...), router)).
  URLSpec(std::string_view pattern, std::shared_ptr<routing::RuleRouter> router,
          std::string name = {});
  // Any rule.
  URLSpec(routing::Rule rule);  // NOLINT: implicit on purpose
  routing::Rule rule;
};

class Application : public httputil::HTTPServerConnectionDelegate {
 public:
  explicit Application(std::vector<URLSpec> handlers = {}, Settings settings = {},
                       std::string default_host = {});
  ~Application() override;
  Application(const Application&) = delete;
  Application& operator=(const Application&) = delete;

  // Adds rules for hosts matching `host_pattern` ("$" appended), before the catch-all (and
  // after earlier host rules), as Tornado does. ".*$" extends the default rules.
  void add_handlers(std::string_view host_pattern, std::vector<URLSpec> handlers);
  // Adds an output transform made per request (gzip is one).
  void add_transform(OutputTransformFactory factory);

  // The URL of the named rule; throws std::out_of_range ("... not found in named urls").
  std::string reverse_url(std::string_view name, const std::vector<std::string>& args = {}) const;

  // Starts an HTTPServer for this application on `port` (all addresses, or `address`) and
  // returns it. The Application owns the server (closed when the Application is destroyed),
  // so the Application must outlive the loop's use of it.
  HTTPServer& listen(int port, HTTPServerOptions options = {}, std::string address = {});

  const Settings& settings() const noexcept { return settings_; }
  Settings& mutable_settings() noexcept { return settings_; }
  const std::string& default_host() const noexcept { return default_host_; }
  routing::RuleRouter& router() noexcept { return default_router_; }
  const std::vector<OutputTransformFactory>& transforms() const noexcept { return transforms_; }

  // The template loader for `path`: settings.template_loader if set, else one Loader per
  // path, made on first use with settings.autoescape / template_whitespace and re-reading
  // changed files when compiled_template_cache is off (debug).
  templates::BaseLoader& template_loader(const std::string& path);

  // HTTPServerConnectionDelegate: one dispatcher per request, reused for a connection's
  // next request when it was one of ours (a pipelined batch is served by one).
  std::unique_ptr<httputil::HTTPMessageDelegate> start_request(
      httputil::HTTPConnection* connection) override;
  bool reuse_request(httputil::HTTPMessageDelegate& finished) override;

  // The handler factory for `request` (default_handler_class or the 404 handler when no
  // rule matches), with the path arguments. Used per request; allocates nothing beyond the
  // path arguments.
  const HandlerFactory& find_handler(const httputil::HTTPServerRequest& request,
                                     routing::PathArgs& args) const;

 private:
  Settings settings_;
  std::string default_host_;
  routing::RuleRouter default_router_;             // host rules, then the wildcard
  std::shared_ptr<routing::RuleRouter> wildcard_;  // the rules given to the constructor
  const routing::Matcher* catch_all_ = nullptr;    // default_router_'s rule to wildcard_
  std::size_t host_rules_ = 0;
  std::vector<OutputTransformFactory> transforms_;
  std::shared_ptr<const HandlerFactory> not_found_;
  std::vector<std::unique_ptr<HTTPServer>> servers_;
  std::map<std::string, std::shared_ptr<templates::BaseLoader>, std::less<>> loaders_;
};

}  // namespace tornado::web
