// RequestHandler: how one request runs (Tornado's _execute), its errors, timeout and
// cancellation (the access log line is finish()'s: handler_output.cpp).
#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

#include "internal/describe_exception.h"
#include "tornado/escape.h"
#include "tornado/hot.h"
#include "tornado/http1connection.h"
#include "tornado/log.h"
#include "tornado/metrics.h"
#include "tornado/web.h"
#include "web/web_internal.h"

namespace tornado::web {

#if defined(__x86_64__) || defined(__aarch64__)
// A member added to RequestHandler changes its layout: adjust tail_fill_ so that the class
// still ends without padding (detail::make_handler relies on it to skip a zero fill).
static_assert(detail::kHandlerHasNoTailPadding, "RequestHandler::tail_fill_ needs resizing");
#endif

namespace {

constexpr std::array<std::string_view, 7> kDefaultMethods = {"GET",   "HEAD", "POST",   "DELETE",
                                                             "PATCH", "PUT",  "OPTIONS"};

constexpr std::array<std::pair<std::string_view, Method>, 7> kMethodBits = {{
    {"GET", Method::kGet},
    {"HEAD", Method::kHead},
    {"POST", Method::kPost},
    {"DELETE", Method::kDelete},
    {"PATCH", Method::kPatch},
    {"PUT", Method::kPut},
    {"OPTIONS", Method::kOptions},
}};

// One of kDefaultMethods, by size first and then against literals (inline compares).
bool is_default_method(std::string_view m) noexcept {
  using detail::method_is;
  switch (m.size()) {
    case 3: return method_is(m, "GET") || method_is(m, "PUT");
    case 4: return method_is(m, "HEAD") || method_is(m, "POST");
    case 5: return method_is(m, "PATCH");
    case 6: return method_is(m, "DELETE");
    case 7: return method_is(m, "OPTIONS");
    default: return false;
  }
}

// begin_request's steps that most requests skip, out of line and in .text.unlikely (cold):
// the common request's code then spans fewer cache lines (at depth 1 the request path's
// code fills the instruction cache, and each line it leaves out is one fetch less per
// request).
[[gnu::cold, gnu::noinline]] void add_transforms(detail::ResponseState& r, const Application& app,
                                                 httputil::HTTPServerRequest& request) {
  for (const auto& make : app.transforms()) {
    if (auto t = make(request)) r.transforms.push_back(std::move(t));
  }
}

// A handler's own SUPPORTED_METHODS.
[[gnu::cold, gnu::noinline]] bool is_listed_method(std::span<const std::string_view> methods,
                                                   std::string_view method) noexcept {
  return std::any_of(methods.begin(), methods.end(), [method](std::string_view m) {
    return m.size() == method.size() && std::memcmp(m.data(), method.data(), m.size()) == 0;
  });
}

[[gnu::cold, gnu::noinline]] void parse_body(httputil::HTTPServerRequest& request) {
  request.parse_body();
}

[[gnu::cold, gnu::noinline]] void check_path_args(const routing::PathArgs& path_args) {
  for (const auto& arg : path_args.args) {
    if (!detail::is_valid_utf8(arg)) throw HTTPError(400, "Invalid unicode in path argument");
  }
  for (const auto& [name, value] : path_args.kwargs) {
    if (!detail::is_valid_utf8(value)) throw HTTPError(400, "Invalid unicode in {}", name);
  }
}

[[gnu::cold, gnu::noinline]] void check_xsrf(RequestHandler& h) { h.check_xsrf_cookie(); }

}  // namespace

namespace detail {
namespace {
// A request in the frame cache (PooledFrame: plain new/delete under ASan).
struct PooledRequest final : httputil::HTTPServerRequest, tornado::detail::PooledFrame {
  using HTTPServerRequest::HTTPServerRequest;
};
}  // namespace

TORNADO_HOT void RequestDeleter::operator()(httputil::HTTPServerRequest* request) const noexcept {
  delete static_cast<PooledRequest*>(request);  // make_request made every one
}

RequestPtr make_request(const httputil::RequestStartLine& line, httputil::HTTPHeaders&& headers,
                        httputil::HTTPConnection* connection) {
  return RequestPtr(new PooledRequest(line, std::move(headers), connection));
}

TORNADO_HOT RequestPtr make_request(const httputil::RequestLineView& line,
                                    httputil::HTTPHeaders&& headers,
                                    httputil::HTTPConnection* connection) {
  return RequestPtr(new PooledRequest(line, std::move(headers), connection));
}

void RequestSlot::compact() {
  if (compact_) return;
  const httputil::HTTPServerRequest& r = *full_;
  const std::string_view fields[kFields] = {r.method,    r.uri,      r.version,
                                            r.remote_ip, r.protocol, r.host};
  std::size_t size = kFields * sizeof(Length);
  for (auto f : fields) {
    // A field over 64 KiB (a URI that long needs a raised max_header_size): the request
    // stays whole rather than the lengths taking 4 bytes each for every connection.
    if (f.size() > std::numeric_limits<Length>::max()) return;
    size += f.size();
  }
  auto block = std::make_unique_for_overwrite<char[]>(size);
  char* text = block.get() + kFields * sizeof(Length);
  for (unsigned i = 0; i < kFields; ++i) {
    const auto n = static_cast<Length>(fields[i].size());
    std::memcpy(block.get() + i * sizeof(Length), &n, sizeof n);
    std::memcpy(text, fields[i].data(), n);
    text += n;
  }
  compact_ = std::move(block);
  full_.reset();
}

std::string_view RequestSlot::field(Field f) const noexcept {
  if (!compact_) return {};  // no request at all
  const char* text = compact_.get() + kFields * sizeof(Length);
  Length n = 0;
  for (unsigned i = 0; i <= f; ++i) {
    text += n;
    std::memcpy(&n, compact_.get() + i * sizeof(Length), sizeof n);
  }
  return {text, n};
}

std::string_view RequestSlot::method() const noexcept {
  return full_ ? std::string_view(full_->method) : field(kMethod);
}
std::string_view RequestSlot::uri() const noexcept {
  return full_ ? std::string_view(full_->uri) : field(kUri);
}
std::string_view RequestSlot::remote_ip() const noexcept {
  return full_ ? std::string_view(full_->remote_ip) : field(kRemoteIp);
}

httputil::HTTPServerRequest& RequestSlot::rebuild() const {
  if (!compact_) throw std::logic_error("RequestHandler has no request");
  full_ = RequestPtr(new PooledRequest(std::string(field(kMethod)), std::string(field(kUri)),
                                       std::string(field(kVersion)), httputil::HTTPHeaders(),
                                       std::string(), std::string(field(kHost)), nullptr));
  full_->remote_ip = field(kRemoteIp);
  full_->protocol = field(kProtocol);
  return *full_;
}

}  // namespace detail

// A state from make_response_state() is at its defaults (a spare was reset when it was
// recycled): only the default headers go in, as clear() would put them. A spare that kept
// the default Server field (its only field then) lacks only the pending Content-Type.
TORNADO_HOT RequestHandler::RequestHandler() : response_(detail::make_response_state()) {
  if (response_->headers.size() == 1) {
    response_->content_type_pending = true;
  } else {
    reset_to_default_headers();
  }
}

TORNADO_HOT RequestHandler::~RequestHandler() {
  if (has_timeout_) IOLoop::current().remove_timeout(timeout_);
  if (has_current_user_) std::destroy_at(&current_user_);
}

std::span<const std::string_view> RequestHandler::supported_methods() const {
  return kDefaultMethods;
}

std::optional<Duration> RequestHandler::request_timeout() const {
  return settings().request_timeout;
}

void RequestHandler::unsupported_method() { throw HTTPError(405); }

std::string RequestHandler::allow_header() const {
  std::string allow;
  for (const auto& [name, bit] : kMethodBits) {
    if ((implemented_ & unsigned(bit)) == 0) continue;
    if (!allow.empty()) allow += ", ";
    allow += name;
  }
  return allow;
}

Task<> RequestHandler::get() { unsupported_method(); }
Task<> RequestHandler::head() { unsupported_method(); }
Task<> RequestHandler::post() { unsupported_method(); }
Task<> RequestHandler::delete_() { unsupported_method(); }
Task<> RequestHandler::patch() { unsupported_method(); }
Task<> RequestHandler::put() { unsupported_method(); }
Task<> RequestHandler::options() { unsupported_method(); }
Task<> RequestHandler::prepare() { co_return; }
Task<> RequestHandler::data_received(std::string_view) { co_return; }

TORNADO_HOT void RequestHandler::begin_request() {
  // Tornado's __init__ runs clear() with the subclass in place; the constructor here
  // could only reach the base class's set_default_headers.
  set_default_headers();
  factory_->initialize(*this);
  // (The steps most requests skip are out of line and cold: see add_transforms.)
  if (!application_->transforms().empty()) add_transforms(response(), *application_, *request_);
  const auto methods = supported_methods();
  const std::string_view method = request_->method;
  if (methods.data() == kDefaultMethods.data()) {
    // The usual set, compared inline against literals (a memcmp call per entry otherwise).
    if (!is_default_method(method)) unsupported_method();
  } else if (!is_listed_method(methods, method)) {
    unsupported_method();
  }
  if (!streaming_) {
    // Without a Content-Type (and so no body arguments yet) parse_body has nothing to do
    // (most requests are GETs).
    httputil::HTTPServerRequest& request = *request_;
    if (!request.body_arguments.empty() || detail::first_field(request.headers, "Content-Type")) {
      parse_body(request);
    }
  }
  if (path_args_) check_path_args(*path_args_);  // (only a route with groups has any)
  const std::string& m = request_->method;
  // (application_->settings(): inline here, where settings() would be a call.)
  if (application_->settings().xsrf_cookies && !detail::method_is(m, "GET") &&
      !detail::method_is(m, "HEAD") && !detail::method_is(m, "OPTIONS")) {
    check_xsrf(*this);
  }
}

Task<bool> RequestHandler::run_prepare() {
  try {
    begin_request();
    co_await prepare();
    prepared_ = true;
    co_return !finished_;
  } catch (const CancelledError&) {
    throw;
  } catch (...) {
    handle_request_exception(std::current_exception());
  }
  co_return false;
}

TORNADO_HOT Task<> RequestHandler::method_task() {
  const std::string_view m = request_->method;  // (a view: compared without strlen)
  if (detail::method_is(m, "GET")) return get();
  if (detail::method_is(m, "POST")) return post();
  if (detail::method_is(m, "HEAD")) return head();
  if (detail::method_is(m, "PUT")) return put();
  if (detail::method_is(m, "DELETE")) return delete_();
  if (detail::method_is(m, "PATCH")) return patch();
  if (detail::method_is(m, "OPTIONS")) return options();
  unsupported_method();  // [[noreturn]]: a custom SUPPORTED_METHODS entry without a C++ method
}

struct RequestHandler::Root {
  struct promise_type : tornado::detail::DetachedNode,
                        tornado::detail::CancelScope,
                        tornado::detail::PooledFrame {
    promise_type(std::unique_ptr<RequestHandler>& self, Task<>&, Stage) {
      handle = std::coroutine_handle<promise_type>::from_promise(*this);
      cancel_state = &self->cancel_state_;  // (the running step has it already)
      // In the loop's list: IOLoop::close() destroys a request still suspended.
      tornado::detail::link_detached(this);
    }
    ~promise_type() { unlink(); }
    Root get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }  // the bodies catch everything
  };
};

namespace {

using StepPromise = Task<>::promise_type;
using StepRun = tornado::detail::TaskPromiseBase::Run;

// A step that start() began and that suspended: awaiting it resumes the root when it
// completes (it is not started again).
struct RunningStep {
  std::coroutine_handle<StepPromise> step;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> root) const noexcept {
    step.promise().continuation = root;
  }
  // Its failure, if any (the caller frees the step first, as a co_await's temporary).
  std::exception_ptr await_resume() const noexcept { return std::move(step.promise().exception); }
};

// What a request does with the CancelledError its handler's step ended with.
void end_cancelled(RequestHandler& h, void (RequestHandler::*on_cancelled)()) noexcept {
  try {
    (h.*on_cancelled)();
  } catch (...) {
    app_log().error("Exception while ending a cancelled request: {}",
                    tornado::detail::describe_exception(std::current_exception()));
  }
}

}  // namespace

TORNADO_HOT bool RequestHandler::run_step_now(Task<>& step) {
  // (start()'s DriverScope: no driver is active here; see the resumption below.)
  // What Task's awaiter does when a coroutine awaits it with no driver active (start()'s
  // DriverScope), the awaiting coroutine's part (its continuation) left for the root.
  auto awaiter = step.operator co_await();
  if (awaiter.await_ready()) {  // an empty Task: what co_await would throw
    awaiter.await_resume();
    return true;
  }
  StepPromise& p = awaiter.h.promise();
  p.cancel_state = &cancel_state_;
  p.run = StepRun::kInline;
  // Resumed here, not through drive(): start()'s DriverScope left no driver active, so
  // nothing can be handed to one while the step runs (a task it awaits is started under a
  // driver of its own, as with no driver at all), and drive()'s loop, with its saved state
  // and queue checks, would have nothing to do after the step.
  awaiter.h.resume();
  if (p.run == StepRun::kDoneInline) {
    // Its frame freed before what comes next, as a co_await's temporary Task is.
    std::exception_ptr error = std::move(p.exception);
    step = Task<>();
    if (error) std::rethrow_exception(error);
    return true;
  }
  p.run = StepRun::kDetached;  // it resumes continue_request's frame when it completes
  return false;
}

// The rest of a request whose step `running` suspended (see start()).
RequestHandler::Root RequestHandler::continue_request(std::unique_ptr<RequestHandler> self,
                                                      Task<> running, Stage stage) {
  RequestHandler& h = *self;
  try {
    try {
      std::exception_ptr error = co_await RunningStep{running.operator co_await().h};
      running = Task<>();
      if (error) std::rethrow_exception(error);
      if (stage == Stage::kPrepare) {
        h.prepared_ = true;
        if (h.finished_) co_return;
        co_await h.method_task();
      }
      if (stage != Stage::kRest && h.hand_over_) {
        h.take_over(std::move(self));
        co_return;  // `h` may be gone already
      }
      if (!h.finished_) h.finish_unawaited();
    } catch (const CancelledError&) {
      throw;
    } catch (...) {
      h.handle_request_exception(std::current_exception());
    }
  } catch (const CancelledError&) {
    end_cancelled(h, &RequestHandler::on_cancelled);
  } catch (...) {
    app_log().error("Uncaught exception ending {}: {}", h.request_summary(),
                    tornado::detail::describe_exception(std::current_exception()));
  }
}

void RequestHandler::take_over(std::unique_ptr<RequestHandler>) noexcept {}

const routing::PathArgs& RequestHandler::no_path_args() noexcept {
  static const routing::PathArgs none;
  return none;
}

// The request in this frame while its steps complete at once (a request costs the frames
// of prepare(), when overridden, and of the method, no others); a step that suspends goes
// on in continue_request's.
TORNADO_HOT void RequestHandler::start(std::unique_ptr<RequestHandler> handler, bool rest) {
  RequestHandler& h = *handler;
  Task<> step;
  Stage stage = rest ? Stage::kRest : Stage::kMethod;
  {
    tornado::detail::DriverScope scope;  // the steps run to their first suspension
    try {
      try {
        bool suspended = false;
        if (!rest) {
          h.begin_request();
          if (h.factory_->overrides_prepare()) {
            step = h.prepare();
            suspended = !h.run_step_now(step);
            if (suspended) stage = Stage::kPrepare;
          }
          if (!suspended) h.prepared_ = true;
        }
        if (!suspended && !h.finished_) {
          step = h.method_task();
          suspended = !h.run_step_now(step);
          if (!suspended && !rest && h.hand_over_) {
            h.take_over(std::move(handler));
            return;  // `h` may be gone already
          }
        }
        if (!suspended) {
          if (!h.finished_) h.finish_unawaited();
          return;  // the handler goes with `handler`
        }
      } catch (const CancelledError&) {
        throw;
      } catch (...) {
        h.handle_request_exception(std::current_exception());
        return;
      }
    } catch (const CancelledError&) {
      end_cancelled(h, &RequestHandler::on_cancelled);
      return;
    } catch (...) {
      app_log().error("Uncaught exception ending {}: {}", h.request_summary(),
                      tornado::detail::describe_exception(std::current_exception()));
      return;
    }
    // A step suspended: the root owns the handler and the step from here, and is suspended
    // on the step when this returns.
    continue_request(std::move(handler), std::move(step), stage);
  }
  if (h.finished_) return;  // finished, waiting only for its last write
  RequestHandler* running = &h;
  h.request_->connection->set_close_callback([running] { running->connection_closed(); });
  h.close_hooked_ = true;
  if (auto timeout = h.request_timeout()) {
    h.timeout_ = IOLoop::current().call_later(*timeout, [running] { running->on_timeout(); });
    h.has_timeout_ = true;
  }
}

void RequestHandler::connection_closed() {
  client_gone_ = true;
  try {
    on_connection_close();
  } catch (...) {
    app_log().error("Exception in on_connection_close: {}",
                    tornado::detail::describe_exception(std::current_exception()));
  }
  if (!finished_) tornado::detail::request_cancel(cancel_state_);
}

void RequestHandler::on_timeout() {
  has_timeout_ = false;
  if (finished_) return;
  timed_out_ = true;
  tornado::detail::request_cancel(cancel_state_);
}

void RequestHandler::on_cancelled() {
  if (finished_) return;
  if (timed_out_) {
    gen_log().warn("Request timed out after {}s: {}", request_timeout()->count(),
                   request_summary());
    if (!headers_written_) {
      send_error(503);
      return;
    }
    // The status is out: all we can say is that the response is incomplete.
    if (auto* http1 = dynamic_cast<HTTP1Connection*>(request_->connection)) http1->stream().close();
  }
  try {
    finish();
  } catch (...) {
  }
}

void RequestHandler::handle_request_exception(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const Finish& f) {
    if (!finished_) {
      if (f.has_chunk()) write(f.chunk());
      finish();
    }
    return;
  } catch (...) {
  }
  try {
    log_exception(error);
  } catch (...) {
    app_log().error("Error in exception logger");
  }
  if (finished_) return;
  int status = 500;
  try {
    std::rethrow_exception(error);
  } catch (const HTTPError& e) {
    status = e.status_code();
  } catch (...) {
  }
  try {
    send_error(status, error);
  } catch (...) {
    app_log().error("Exception in exception handler: {}",
                    tornado::detail::describe_exception(std::current_exception()));
  }
}

void RequestHandler::log_exception(std::exception_ptr error) const {
  try {
    std::rethrow_exception(error);
  } catch (const HTTPError& e) {
    if (!e.log_message().empty()) {
      gen_log().warn("{} {}: {}", e.status_code(), request_summary(), e.log_message());
    }
  } catch (...) {
    app_log().error("Uncaught exception {}\n{}", request_summary(),
                    tornado::detail::describe_exception(error));
  }
}

std::string RequestHandler::request_summary() const {
  // Through the slot's views: a compacted request is not rebuilt for a log line.
  const auto method = request_.method(), uri = request_.uri(), ip = request_.remote_ip();
  std::string s;
  s.reserve(method.size() + uri.size() + ip.size() + 4);
  s += method;
  s += ' ';
  s += uri;
  s += " (";
  s += ip;
  s += ')';
  return s;
}

}  // namespace tornado::web
