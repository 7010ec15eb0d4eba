// Application: the routing table, and the per-request dispatcher that makes a handler and
// drives it through the connection's delegate calls.
#include <stdexcept>
#include <typeinfo>

#include "internal/describe_exception.h"
#include "tornado/autoreload.h"
#include "tornado/hot.h"
#include "tornado/log.h"
#include "tornado/web.h"

namespace tornado::web {

using httputil::HTTPConnection;
using httputil::HTTPHeaders;
using httputil::StartLine;

namespace {

// What answers when no rule matches and there is no default_handler_class.
struct NotFoundHandler final : RequestHandler {
  Task<> prepare() override { throw HTTPError(404); }
};

}  // namespace

URLSpec::URLSpec(std::string_view pattern, std::shared_ptr<const HandlerFactory> handler,
                 std::string name)
    : rule(std::make_shared<routing::PathMatches>(pattern), std::move(handler), std::move(name)) {}

URLSpec::URLSpec(std::string_view pattern, std::shared_ptr<routing::RuleRouter> router,
                 std::string name)
    : rule(std::make_shared<routing::PathMatches>(pattern), std::move(router), std::move(name)) {}

URLSpec::URLSpec(routing::Rule r) : rule(std::move(r)) {}

Application::Application(std::vector<URLSpec> handlers, Settings settings, std::string default_host)
    : settings_(std::move(settings)),
      default_host_(std::move(default_host)),
      wildcard_(std::make_shared<routing::RuleRouter>()),
      not_found_(handler<NotFoundHandler>()) {
  if (settings_.debug) {  // Tornado's debug implies these
    settings_.serve_traceback = true;
    settings_.static_hash_cache = false;
    settings_.compiled_template_cache = false;
  }
  if (settings_.autoreload.value_or(settings_.debug)) autoreload::start();
  if (settings_.compress_response) add_transform(GZipContentEncoding::factory());
  // Tornado puts the static routes before the application's own.
  for (auto& rule : detail::static_routes(settings_)) wildcard_->add_rule(std::move(rule));
  for (auto& spec : handlers) wildcard_->add_rule(std::move(spec.rule));
  auto catch_all = std::make_shared<routing::AnyMatches>();
  catch_all_ = catch_all.get();
  default_router_.add_rule(routing::Rule(std::move(catch_all), wildcard_));
}

Application::~Application() {
  for (auto& server : servers_) {
    server->stop();
    server->close_all_connections();
  }
}

void Application::add_handlers(std::string_view host_pattern, std::vector<URLSpec> handlers) {
  auto router = std::make_shared<routing::RuleRouter>();
  for (auto& spec : handlers) router->add_rule(std::move(spec.rule));
  // Before the catch-all, after earlier host rules (Tornado inserts at -1).
  default_router_.insert_rule(
      host_rules_++,
      routing::Rule(std::make_shared<routing::HostMatches>(host_pattern), std::move(router)));
  if (!default_host_.empty()) {
    // Tornado adds these to the wildcard router: after the application's own rules.
    wildcard_->add_rule(
        routing::Rule(std::make_shared<routing::DefaultHostMatches>(default_host_, host_pattern),
                      default_router_.rules()[host_rules_ - 1].router));
  }
}

void Application::add_transform(OutputTransformFactory factory) {
  transforms_.push_back(std::move(factory));
}

std::string Application::reverse_url(std::string_view name,
                                     const std::vector<std::string>& args) const {
  auto url = default_router_.reverse_url(name, args);
  if (!url) throw std::out_of_range(std::string(name) + " not found in named urls");
  return *url;
}

HTTPServer& Application::listen(int port, HTTPServerOptions options, std::string address) {
  // The server must not own the Application (it may live on the stack): a non-owning
  // pointer; the Application owns the server instead.
  std::shared_ptr<Application> self(this, [](Application*) {});
  servers_.push_back(std::make_unique<HTTPServer>(std::move(self), std::move(options)));
  servers_.back()->listen(port, address);
  return *servers_.back();
}

templates::BaseLoader& Application::template_loader(const std::string& path) {
  if (settings_.template_loader) return *settings_.template_loader;
  auto it = loaders_.find(path);
  if (it == loaders_.end()) {
    templates::TemplateOptions options;
    options.autoescape = settings_.autoescape;
    options.whitespace = settings_.template_whitespace;
    it = loaders_
             .emplace(path, std::make_shared<templates::Loader>(
                                path, options, /*watch=*/!settings_.compiled_template_cache))
             .first;
  }
  return *it->second;
}

TORNADO_HOT const HandlerFactory& Application::find_handler(
    const httputil::HTTPServerRequest& request, routing::PathArgs& args) const {
  // The usual table, no host rules and nothing added through router(): only the catch-all
  // to the application's own rules, asked directly (the same first match, one router's
  // walk and a virtual match less per request).
  const auto& top = default_router_.rules();
  const routing::Rule* rule = top.size() == 1 && top[0].matcher.get() == catch_all_
                                  ? wildcard_->find(request, args)
                                  : default_router_.find(request, args);
  if (rule != nullptr) return static_cast<const HandlerFactory&>(*rule->target);
  args.clear();
  if (settings_.default_handler_class) return *settings_.default_handler_class;
  return *not_found_;
}

namespace detail {

namespace {
// A route's captured groups, kept with the handler (out of line and cold: most routes
// capture none, and the common request's code then spans fewer cache lines).
[[gnu::cold, gnu::noinline]] std::unique_ptr<PooledPathArgs> keep_path_args(
    routing::PathArgs& args) {
  return std::unique_ptr<PooledPathArgs>(new PooledPathArgs{std::move(args), {}});
}
}  // namespace

// One per request: routes at the head, owns the handler while the body arrives, then hands
// the handler to its own task (which outlives this delegate) at finish().
class RequestDispatcher final : public httputil::HTTPMessageDelegate,
                                public tornado::detail::PooledFrame {
 public:
  RequestDispatcher(Application& app, HTTPConnection* conn) : app_(app), conn_(conn) {}
  TORNADO_HOT ~RequestDispatcher() override = default;  // (at depth 1, one a request)

  // Routing needs nothing awaited: it is done here, and only a handler that streams its
  // body needs headers_received (for prepare(), awaited before the body is read).
  bool headers_received_now(const StartLine& start_line, HTTPHeaders& headers) override {
    route(std::get<httputil::RequestStartLine>(start_line), headers);
    return !handler_->stream_request_body();
  }
  // The same from the line's views (the request's strings copied once, from the buffer); a
  // streaming handler still needs headers_received, which gets the line.
  TORNADO_HOT bool request_head_now(const httputil::RequestLineView& line, HTTPHeaders& headers,
                                    StartLine& start_line) override {
    route(line, headers);
    if (!handler_->stream_request_body()) return true;
    start_line.emplace<httputil::RequestStartLine>(httputil::to_start_line(line));
    return false;
  }

  Task<> headers_received(const StartLine& start_line, HTTPHeaders& headers) override {
    // Called after headers_received_now declined (a streaming handler), or directly by a
    // connection that does not try it first.
    if (!handler_) route(std::get<httputil::RequestStartLine>(start_line), headers);
    if (!handler_->stream_request_body()) co_return;
    streaming_ = true;
    handler_->streaming_ = true;
    if (auto limit = handler_->max_body_size()) conn_->set_max_body_size(*limit);
    if (auto timeout = handler_->body_timeout()) conn_->set_body_timeout(*timeout);
    // prepare() before the body: reading waits for it (Tornado's _prepared_future).
    co_await handler_->run_prepare();
  }

  Task<> data_received(std::string_view chunk) override {
    if (!streaming_) {
      handler_->request_->body.append(chunk);
      co_return;
    }
    if (handler_->finished_) co_return;  // answered early: the rest is dropped
    try {
      co_await handler_->data_received(chunk);
    } catch (...) {
      handler_->handle_request_exception(std::current_exception());
    }
  }

  TORNADO_HOT void finish() override {
    if (!handler_) return;
    if (streaming_) {
      if (handler_->finished_) return;  // prepare() or data_received ended it
      RequestHandler::start(std::move(handler_), /*rest=*/true);
    } else {
      RequestHandler::start(std::move(handler_), /*rest=*/false);
    }
  }

  void on_connection_close() override {
    // Only reached while the body is read: the handler has no task yet, and the connection
    // goes away with this delegate.
    if (handler_ && streaming_) {
      handler_->client_gone_ = true;
      try {
        handler_->on_connection_close();
      } catch (...) {
        app_log().error("Exception in on_connection_close: {}",
                        tornado::detail::describe_exception(std::current_exception()));
      }
    }
    handler_.reset();
  }

  // Ready for the connection's next request (Application::reuse_request): nothing of the
  // previous one is kept (its handler went to its own task at finish()).
  void reset() noexcept {
    handler_.reset();
    streaming_ = false;
  }

 private:
  // The request built once, routed, and handed to the handler as it is.
  template <typename Line>  // RequestStartLine or RequestLineView
  TORNADO_HOT void route(const Line& line, HTTPHeaders& headers) {
    routing::PathArgs args;
    RequestPtr request = make_request(line, std::move(headers), conn_);
    const HandlerFactory& factory = app_.find_handler(*request, args);
    std::unique_ptr<RequestHandler> h = factory.create();
    h->factory_ = &factory;
    h->request_ = std::move(request);
    h->application_ = &app_;
    if (!args.args.empty() || !args.kwargs.empty()) h->path_args_ = keep_path_args(args);
    handler_ = std::move(h);
  }

  Application& app_;
  HTTPConnection* conn_;
  std::unique_ptr<RequestHandler> handler_;
  bool streaming_ = false;
};

}  // namespace detail

TORNADO_HOT std::unique_ptr<httputil::HTTPMessageDelegate> Application::start_request(
    HTTPConnection* connection) {
  return std::make_unique<detail::RequestDispatcher>(*this, connection);
}

TORNADO_HOT bool Application::reuse_request(httputil::HTTPMessageDelegate& finished) {
  // A subclass's start_request may have made a delegate of its own.
  if (typeid(finished) != typeid(detail::RequestDispatcher)) return false;
  static_cast<detail::RequestDispatcher&>(finished).reset();
  return true;
}

}  // namespace tornado::web
