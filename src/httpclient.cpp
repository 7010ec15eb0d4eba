// AsyncHTTPClient: the shared instance per IOLoop, request slots with their FIFO queue
// (max_clients), request validation, and the redirect loop around fetch_hop.
#include <algorithm>
#include <utility>
#include <vector>

#include "internal/http_parser.h"
#include "internal/httpclient_impl.h"
#include "tornado/ioloop.h"

namespace tornado::httpclient {

namespace detail {

namespace {

// The resolver connections use: the options' resolver, under the hostname mapping if any.
std::shared_ptr<Resolver> connect_resolver(const AsyncHTTPClientOptions& options) {
  const auto& mapping = options.hostname_mapping;
  if (mapping.host.empty() && mapping.host_port.empty() && mapping.host_port_family.empty()) {
    return options.resolver;  // null: TCPClient makes (and owns) the default one
  }
  std::shared_ptr<Resolver> base = options.resolver;
  if (!base) base = std::make_shared<DefaultExecutorResolver>();
  return std::make_shared<OverrideResolver>(std::move(base), mapping);
}

}  // namespace

ClientState::ClientState(AsyncHTTPClientOptions o)
    : options(std::move(o)),
      max_body_size(options.max_body_size.value_or(options.max_buffer_size)),
      tcp(connect_resolver(options)),
      pool(IOLoop::current().ref(), options.max_idle_per_host, options.max_idle_total,
           options.idle_timeout) {}

std::shared_ptr<SSLContext> ClientState::ssl_context_for(const HTTPRequest& request) {
  if (request.ssl_options) return request.ssl_options;
  std::string key = std::string(request.validate_cert ? "1" : "0") + '\n' + request.ca_certs +
                    '\n' + request.client_cert + '\n' + request.client_key;
  auto it = ssl_contexts.find(key);
  if (it != ssl_contexts.end()) return it->second;
  auto ctx = make_ssl_context(request);
  ssl_contexts.emplace(std::move(key), ctx);
  return ctx;
}

std::shared_ptr<SSLContext> make_ssl_context(const HTTPRequest& request) {
  if (request.ssl_options) return request.ssl_options;
  SSLClientOptions o;
  o.verify = request.validate_cert;
  o.ca_certs = request.ca_certs;
  o.certfile = request.client_cert;
  o.keyfile = request.client_key;
  return SSLContext::client(o);
}

Task<> ClientState::acquire_slot(std::optional<Duration> timeout) {
  if (active < options.max_clients && queue.empty()) {
    ++active;
    co_return;
  }
  auto waiter = std::make_shared<QueueWaiter>();
  queue.push_back(waiter);
  IOLoop& loop = IOLoop::current();
  TimeoutHandle timer;
  if (timeout) {
    std::weak_ptr<QueueWaiter> weak = waiter;
    timer = loop.call_later(*timeout, [weak] {
      auto w = weak.lock();
      if (!w || w->ready.done()) return;
      w->ready.set_exception(make_599("Timeout in request queue"));
    });
  }
  try {
    co_await waiter->ready;  // on success the slot was handed over by release_slot
  } catch (...) {
    std::erase(queue, waiter);
    throw;
  }
  loop.remove_timeout(timer);
}

void ClientState::release_slot() {
  while (!queue.empty()) {
    auto next = std::move(queue.front());
    queue.pop_front();
    if (!next->ready.done()) {
      next->ready.set_result();  // the slot passes to it: `active` stays the same
      return;
    }
  }
  if (active > 0) --active;
}

namespace {

const char* const kStandardMethods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};

// Tornado's checks in _HTTPConnection.run, made before anything is queued.
void validate(const HTTPRequest& request) {
  if (!http1::is_token(request.method)) {
    throw std::invalid_argument("Invalid HTTP method: " + request.method);
  }
  if (!request.allow_nonstandard_methods) {
    if (std::find(std::begin(kStandardMethods), std::end(kStandardMethods), request.method) ==
        std::end(kStandardMethods)) {
      throw std::invalid_argument("unknown method " + request.method +
                                  " (set allow_nonstandard_methods to send it)");
    }
    const bool expected =
        request.method == "POST" || request.method == "PUT" || request.method == "PATCH";
    if (expected != (request.body.has_value() || bool(request.body_producer))) {
      throw std::invalid_argument("Body must " + std::string(expected ? "not " : "") +
                                  "be empty (nullopt) for method " + request.method +
                                  " (unless allow_nonstandard_methods is true)");
    }
  }
  if (request.body && request.body_producer) {
    throw std::invalid_argument("Only one of body and body_producer may be set");
  }
  if (request.body_producer && !request.headers.contains("Content-Length") &&
      !request.headers.contains("Transfer-Encoding") && request.method != "POST" &&
      request.method != "PUT" && request.method != "PATCH") {
    // HTTP1Connection chunks only these methods' bodies (as Tornado's does): any other
    // would go out unframed.
    throw std::invalid_argument("A body_producer for method " + request.method +
                                " needs a Content-Length header");
  }
  if (request.auth_username && request.auth_mode != "basic") {
    throw std::invalid_argument("unsupported auth_mode " + request.auth_mode);
  }
  if (!request.proxy_host.empty()) {
    if (request.proxy_port <= 0 || request.proxy_port > 65535) {
      throw std::invalid_argument("proxy_host needs a proxy_port in 1..65535");
    }
    if (!request.proxy_username.empty() && request.proxy_auth_mode != "basic") {
      throw std::invalid_argument("unsupported proxy_auth_mode " + request.proxy_auth_mode);
    }
  }
  if (request.max_redirects < 0) throw std::invalid_argument("max_redirects must be >= 0");
}

// The request for the next hop (Tornado's _HTTPConnection.finish, plus dropping
// credentials when the redirect leaves the origin).
void prepare_redirect(HTTPRequest& next, int code, const std::string& location,
                      const ParsedURL& from) {
  next.url = resolve_url(next.url, location);
  ParsedURL to = parse_url(next.url);  // std::invalid_argument for e.g. ftp://
  next.headers.remove("Host");
  // RFC 9110 15.4.2-4: 303 (except HEAD) and, as every browser does, 301/302 after POST
  // turn into a GET without a body; 307/308 keep the method and body.
  if (((code == 301 || code == 302) && next.method == "POST") ||
      (code == 303 && next.method != "HEAD")) {
    next.method = "GET";
    next.body.reset();
    next.body_producer = nullptr;
    for (const char* h :
         {"Content-Length", "Content-Type", "Content-Encoding", "Transfer-Encoding"}) {
      next.headers.remove(h);
    }
  }
  if (to.origin() != from.origin()) {
    // Credentials are for the origin that asked for them (RFC 9110 11.6.2 is per
    // protection space). Proxy credentials belong to the proxy and stay.
    next.headers.remove("Authorization");
    next.headers.remove("Cookie");
    next.auth_username.reset();
    next.auth_password.reset();
  }
}

Task<HTTPResponse> run_fetch(std::shared_ptr<ClientState> state,
                             std::shared_ptr<const HTTPRequest> original, bool raise_error) {
  if (state->closed) throw std::logic_error("fetch() called on a closed AsyncHTTPClient");
  validate(*original);
  HTTPRequest current = *original;
  ParsedURL url = parse_url(current.url);
  HopContext hop;
  hop.redirects_left = current.max_redirects;
  IOLoop& loop = IOLoop::current();
  for (;;) {
    hop.fetch_start = loop.time();
    auto ct = current.connect_timeout, rt = current.request_timeout;
    std::optional<Duration> queue_timeout;
    for (auto t : {ct, rt}) {
      if (t && t->count() > 0) queue_timeout = queue_timeout ? std::min(*queue_timeout, *t) : *t;
    }
    co_await state->acquire_slot(queue_timeout);
    hop.queue_seconds = loop.time() - hop.fetch_start;
    HTTPResponse response;
    std::exception_ptr hop_error;
    try {
      response = co_await fetch_hop(state, current, url, hop);
    } catch (...) {
      hop_error = std::current_exception();
    }
    state->release_slot();
    if (hop_error) std::rethrow_exception(hop_error);
    response.request = original;
    if (response.error) std::rethrow_exception(response.error);  // 599: always raised

    std::optional<std::string_view> location = response.headers.get_first("Location");
    if (current.follow_redirects && hop.redirects_left > 0 && is_redirect_code(response.code) &&
        location) {
      try {
        prepare_redirect(current, response.code, std::string(*location), url);
        url = parse_url(current.url);
      } catch (const std::invalid_argument& bad) {
        // The server's Location is the server's error, not a bad argument of ours.
        throw HTTPClientError(599, std::string("Invalid redirect Location: ") + bad.what(), nullptr,
                              std::current_exception());
      }
      --hop.redirects_left;
      continue;
    }
    if (response.code < 200 || response.code >= 300) {
      auto copy = std::make_shared<HTTPResponse>(response);
      response.error =
          std::make_exception_ptr(HTTPClientError(response.code, response.reason, std::move(copy)));
      if (raise_error) std::rethrow_exception(response.error);
    }
    co_return response;
  }
}

// Shared instances: one per IOLoop, found by the loop's address. The registry lives on
// the heap forever (one small vector per thread) so that a loop destroyed during thread
// exit can still unregister its client.
using Registry = std::vector<std::pair<IOLoop*, std::weak_ptr<AsyncHTTPClient>>>;
Registry& registry() {
  thread_local Registry* r = new Registry();
  return *r;
}

// Frames spawned on a loop are destroyed with it: this one holds the shared client until
// then, and takes it out of the registry (a later loop at the same address must not find
// it) and closes it.
struct Unregister {
  explicit Unregister(std::shared_ptr<AsyncHTTPClient> c) : client(std::move(c)) {}
  Unregister(const Unregister&) = delete;
  Unregister& operator=(const Unregister&) = delete;
  std::shared_ptr<AsyncHTTPClient> client;
  ~Unregister() {
    std::erase_if(registry(), [this](const auto& e) {
      auto c = e.second.lock();
      return !c || c == client;
    });
    client->close();
  }
};

Task<> hold_until_loop_closes(std::shared_ptr<Unregister> guard, Future<void> never) {
  co_await never;
  (void)guard;
}

}  // namespace
}  // namespace detail

std::shared_ptr<AsyncHTTPClient> AsyncHTTPClient::current() {
  IOLoop& loop = IOLoop::current();
  auto& reg = detail::registry();
  for (const auto& [l, weak] : reg) {
    if (l != &loop) continue;
    if (auto c = weak.lock()) return c;
  }
  auto client = std::make_shared<AsyncHTTPClient>();
  reg.emplace_back(&loop, client);
  auto guard = std::make_shared<detail::Unregister>(client);
  (void)spawn(detail::hold_until_loop_closes(std::move(guard), Future<void>()));
  return client;
}

AsyncHTTPClient::AsyncHTTPClient(AsyncHTTPClientOptions options)
    : state_(std::make_shared<detail::ClientState>(std::move(options))) {
  if (state_->options.max_clients == 0) {
    throw std::invalid_argument("AsyncHTTPClient: max_clients must be at least 1");
  }
}

AsyncHTTPClient::~AsyncHTTPClient() { close(); }

Task<HTTPResponse> AsyncHTTPClient::fetch(HTTPRequest request, bool raise_error) {
  return detail::run_fetch(state_, std::make_shared<const HTTPRequest>(std::move(request)),
                           raise_error);
}

Task<HTTPResponse> AsyncHTTPClient::fetch(std::string url, HTTPRequest options, bool raise_error) {
  options.url = std::move(url);
  return fetch(std::move(options), raise_error);
}

void AsyncHTTPClient::close() {
  if (state_->closed) return;
  state_->closed = true;
  state_->pool.close_all();
  // The resolver stays until the state goes: requests in flight may still follow a redirect.
}

bool AsyncHTTPClient::closed() const noexcept { return state_->closed; }
const AsyncHTTPClientOptions& AsyncHTTPClient::options() const noexcept { return state_->options; }
std::size_t AsyncHTTPClient::queue_size() const noexcept { return state_->queue.size(); }
std::size_t AsyncHTTPClient::active_count() const noexcept { return state_->active; }
std::size_t AsyncHTTPClient::idle_connection_count() const noexcept {
  return state_->pool.idle_count();
}
std::size_t AsyncHTTPClient::connections_opened() const noexcept {
  return state_->connections_opened;
}

}  // namespace tornado::httpclient
