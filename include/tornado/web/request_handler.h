// tornado/web/request_handler.h — RequestHandler, the base of every handler (part of web.h).
//
//   struct ItemHandler : web::RequestHandler {        // route "/items/([0-9]+)"
//     void initialize(std::string db) { db_ = std::move(db); }   // the rule's arguments
//     Task<> get() override {
//       auto id = path_arg(0);
//       auto fmt = get_argument("format", "html");
//       if (fmt == "json") co_return write(nlohmann::json{{"id", id}});
//       write("<p>" + escape::xhtml_escape(id) + "</p>");
//       co_return;
//     }
//     std::string db_;
//   };
//
// One handler object serves one request; it is made when the request's head is read and
// destroyed when the response is finished and its task has returned. The method runs on
// the loop thread; every method here is loop-thread only.
// The flow (Tornado's _execute): 405 unless the method is supported and implemented; the
// body parsed (unless stream_request_body); the XSRF check for POST/PUT/PATCH/DELETE when
// xsrf_cookies is on; prepare(); the method; finish() unless it already happened. An
// exception becomes an error page: HTTPError(code) → code, Finish → the response as is,
// anything else → 500 (logged with the request).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tornado/frame_alloc.h"
#include "tornado/httputil.h"
#include "tornado/ioloop.h"
#include "tornado/locale.h"
#include "tornado/routing.h"
#include "tornado/task.h"
#include "tornado/template.h"
#include "tornado/web/errors.h"
#include "tornado/web/settings.h"
#include "tornado/web/xsrf.h"

namespace tornado::web {

class Application;
namespace detail {
class RequestDispatcher;
struct ActiveUIModules;
// A handler's request lives in the per-thread frame cache (it is built there once, routed,
// and handed to the handler without a copy or a move of its 672 bytes).
struct RequestDeleter {
  void operator()(httputil::HTTPServerRequest* request) const noexcept;
};
using RequestPtr = std::unique_ptr<httputil::HTTPServerRequest, RequestDeleter>;
RequestPtr make_request(const httputil::RequestStartLine& line, httputil::HTTPHeaders&& headers,
                        httputil::HTTPConnection* connection);
RequestPtr make_request(const httputil::RequestLineView& line, httputil::HTTPHeaders&& headers,
                        httputil::HTTPConnection* connection);

// A handler's request. A handler that outlives its response (a WebSocket after open()) can
// compact it: the request is freed and its method, URI, version, peer, protocol and host are
// kept in one small block. The first use of the request afterwards rebuilds one from them
// (path, query and query arguments parsed again; no headers, cookies or body) and keeps it.
class RequestSlot {
 public:
  RequestSlot() = default;
  RequestSlot& operator=(RequestPtr request) noexcept {
    full_ = std::move(request);
    compact_.reset();
    return *this;
  }
  httputil::HTTPServerRequest& operator*() const { return full_ ? *full_ : rebuild(); }
  httputil::HTTPServerRequest* operator->() const { return &**this; }
  // Frees the request, keeping its first line, peer and host (std::bad_alloc aside, noexcept).
  // A request with a field over 65,535 bytes (only with a raised max_header_size) stays
  // whole: the block keeps 16-bit lengths.
  void compact();
  // compact() was called: the headers, cookies, body and body arguments are gone.
  bool compacted() const noexcept { return compact_ != nullptr; }
  // These read the compact block without rebuilding the request.
  std::string_view method() const noexcept;
  std::string_view uri() const noexcept;
  std::string_view remote_ip() const noexcept;

 private:
  enum Field : unsigned { kMethod, kUri, kVersion, kRemoteIp, kProtocol, kHost, kFields };
  using Length = uint16_t;  // of each field, before the text (a longer one: not compacted)
  std::string_view field(Field f) const noexcept;
  httputil::HTTPServerRequest& rebuild() const;
  mutable RequestPtr full_;
  // kFields uint32 lengths, then the fields' bytes one after the other.
  std::unique_ptr<char[]> compact_;
};
}  // namespace detail

namespace detail {
// A route's captured groups, when it has any (from the frame cache).
struct PooledPathArgs : routing::PathArgs, tornado::detail::PooledFrame {};

// A handler's response state: made with the handler (in the frame cache), freed by
// release_response() when the handler outlives its response (a WebSocket after the 101).
struct ResponseState : tornado::detail::PooledFrame {
  httputil::HTTPHeaders headers;
  std::string write_buffer;
  std::string reason = "OK";
  std::vector<std::unique_ptr<OutputTransform>> transforms;
  std::vector<std::string> new_cookies;  // Set-Cookie lines, by set order
  std::optional<XsrfToken> raw_xsrf_token;
  std::string xsrf_token;
  std::shared_ptr<ActiveUIModules> ui_modules;  // made by the first module call
  // Tornado's default Content-Type is not in `headers` yet: it goes in at index 1 (after
  // Server, where clear() puts it) when the fields are next read, or is replaced before
  // that by the handler's own (RequestHandler::settle_content_type).
  bool content_type_pending = false;
  // Something other than the pending Content-Type set, added or removed a field since the
  // defaults went in (or a transform ran): only then may the handler have its own Etag or
  // Content-Length, which finish() otherwise knows absent without looking, and only then
  // is the first field anything but the default Server (which a recycled state keeps).
  bool fields_changed = false;
};

// A freed response state goes to its thread's few spares (every member back to its default,
// the header block and body buffer keeping their capacity, the headers the default Server
// field unless they changed), so a request served after another allocates nothing for its
// response head; too big a buffer is freed instead.
struct RecycleResponseState {
  void operator()(ResponseState* state) const noexcept;
};
using ResponseStatePtr = std::unique_ptr<ResponseState, RecycleResponseState>;
// A spare of this thread's when there is one, else a new state.
ResponseStatePtr make_response_state();
}  // namespace detail

// The HTTP methods as bits, for the methods a handler class implements (Allow on a 405).
enum class Method : unsigned {
  kGet = 1,
  kHead = 2,
  kPost = 4,
  kDelete = 8,
  kPatch = 16,
  kPut = 32,
  kOptions = 64,
};

class RequestHandler : public tornado::detail::PooledFrame {
 public:
  RequestHandler();
  virtual ~RequestHandler();
  RequestHandler(const RequestHandler&) = delete;
  RequestHandler& operator=(const RequestHandler&) = delete;

  // ---- what a handler overrides ----
  // The HTTP methods; each default answers 405 (with Allow: the methods the class
  // implements). `delete` is a C++ keyword: delete_().
  virtual Task<> get();
  virtual Task<> head();
  virtual Task<> post();
  virtual Task<> delete_();
  virtual Task<> patch();
  virtual Task<> put();
  virtual Task<> options();
  // Runs before the method (and, for stream_request_body handlers, before the body is read).
  // May finish the request (then the method is not called).
  virtual Task<> prepare();
  // Headers every response of this handler starts with (called by clear(), so also after
  // an error resets the response). Tornado's set_default_headers.
  virtual void set_default_headers() {}
  // After the response is finished (Tornado's on_finish): cleanup, logging.
  virtual void on_finish() {}
  // The client went away before the response was finished. The default does nothing; then
  // the framework cancels the handler's task (CancelledError at its suspension point).
  virtual void on_connection_close() {}
  // Methods this handler accepts at all (Tornado's SUPPORTED_METHODS); others get 405.
  virtual std::span<const std::string_view> supported_methods() const;
  // true: the body is not collected; data_received gets it piece by piece, and reading the
  // socket waits while the returned task runs (backpressure). prepare() runs first.
  virtual bool stream_request_body() const { return false; }
  virtual Task<> data_received(std::string_view chunk);
  // Per-handler limits for streamed bodies (nullopt: the server's).
  virtual std::optional<std::size_t> max_body_size() const { return std::nullopt; }
  virtual std::optional<Duration> body_timeout() const { return std::nullopt; }
  // Overrides Settings::request_timeout for this handler.
  virtual std::optional<Duration> request_timeout() const;
  // The user for current_user() (computed once per request); null = nobody.
  virtual nlohmann::json get_current_user() { return nullptr; }
  // Writes the error page's body (Tornado's write_error). The default is a small HTML page,
  // or the exception's text as text/plain with serve_traceback.
  virtual void write_error(int status_code, std::exception_ptr error);
  // The ETag for the buffered body (Tornado: a quoted SHA-1 hex of it); nullopt = none.
  virtual std::optional<std::string> compute_etag() const;
  // Where authenticated() sends anonymous users (default: settings.login_url).
  virtual std::string get_login_url() const;
  // The user's own locale (e.g. a preference stored with the account), or nullptr to use
  // the browser's. Called once per request, by the first locale() (Tornado's
  // get_user_locale).
  virtual tornado::locale::LocalePtr get_user_locale() { return nullptr; }
  // The closest supported locale to the request's Accept-Language, tags in order of their
  // q-values (a tag with q=0, or a q that is not a number >= 0, is left out); without the
  // header, or no usable tag, locale::get(default_locale).
  virtual tornado::locale::LocalePtr get_browser_locale(
      std::string_view default_locale = "en_US") const;

  // ---- the locale (locale.h) ----
  // This request's locale: set_locale()'s, else get_user_locale()'s, else
  // get_browser_locale()'s; computed once per request.
  const tornado::locale::Locale& locale();
  // Sets the locale (e.g. from prepare()); nullptr makes the next locale() compute it again.
  void set_locale(tornado::locale::LocalePtr locale) { locale_ = std::move(locale); }

  // ---- the request ----
  Application& application() const noexcept { return *application_; }
  const Settings& settings() const noexcept;
  // After a WebSocket's open() returned, the request is rebuilt from its first line, peer and
  // host on first use (no headers, cookies or body: read those in open()); see
  // docs/websocket.md "Memory per connection".
  httputil::HTTPServerRequest& request() { return *request_; }
  const httputil::HTTPServerRequest& request() const { return *request_; }
  // Positional path arguments (groups of the route pattern), UTF-8 checked.
  const std::string& path_arg(std::size_t index) const;
  std::size_t path_arg_count() const noexcept { return path_args().args.size(); }
  // A named group (?P<name>...) of the route pattern; throws std::out_of_range if none.
  const std::string& path_kwarg(std::string_view name) const;
  const routing::PathArgs& path_args() const noexcept {
    return path_args_ ? *path_args_ : no_path_args();
  }

  // Query and body arguments merged (Tornado's get_argument): the last value, control
  // characters other than \t\n\r replaced by spaces, stripped of surrounding whitespace
  // when `strip`. Missing → MissingArgumentError (400); not UTF-8 → HTTPError 400.
  std::string get_argument(std::string_view name, bool strip = true) const;
  std::string get_argument(std::string_view name, std::string_view default_value,
                           bool strip = true) const;
  // (a string literal default must not become the `strip` bool)
  std::string get_argument(std::string_view name, const char* default_value,
                           bool strip = true) const {
    return get_argument(name, std::string_view(default_value), strip);
  }
  std::optional<std::string> get_optional_argument(std::string_view name, bool strip = true) const;
  std::vector<std::string> get_arguments(std::string_view name, bool strip = true) const;
  std::string get_query_argument(std::string_view name, bool strip = true) const;
  std::string get_query_argument(std::string_view name, std::string_view default_value,
                                 bool strip = true) const;
  std::string get_query_argument(std::string_view name, const char* default_value,
                                 bool strip = true) const {
    return get_query_argument(name, std::string_view(default_value), strip);
  }
  std::vector<std::string> get_query_arguments(std::string_view name, bool strip = true) const;
  std::string get_body_argument(std::string_view name, bool strip = true) const;
  std::string get_body_argument(std::string_view name, std::string_view default_value,
                                bool strip = true) const;
  std::string get_body_argument(std::string_view name, const char* default_value,
                                bool strip = true) const {
    return get_body_argument(name, std::string_view(default_value), strip);
  }
  std::vector<std::string> get_body_arguments(std::string_view name, bool strip = true) const;

  // ---- the response ----
  // Sets the status; `reason` replaces the standard phrase (a reason with "<" or a control
  // character becomes "Unknown", as in Tornado). An unknown code without reason: "Unknown".
  void set_status(int status_code, std::optional<std::string_view> reason = std::nullopt);
  int get_status() const noexcept { return status_code_; }
  // ("" once release_response() freed the response)
  const std::string& reason() const noexcept;
  // Header values may be text or numbers; CR, LF and other controls are refused with
  // std::invalid_argument (header injection).
  void set_header(std::string_view name, std::string_view value);
  void set_header(std::string_view name, std::int64_t value);
  void set_header(std::string_view name, std::chrono::system_clock::time_point date);
  void add_header(std::string_view name, std::string_view value);
  void clear_header(std::string_view name);
  const httputil::HTTPHeaders& response_headers() const;
  // Resets status, headers and buffered body to the defaults (Tornado's clear()).
  void clear();

  // Buffers a body piece. A JSON object is encoded and sets Content-Type application/json;
  // other JSON values are refused (std::invalid_argument, as Tornado refuses a list).
  // After finish(): std::logic_error.
  void write(std::string_view chunk);
  void write(const char* chunk) { write(std::string_view(chunk)); }
  void write(const std::string& chunk) { write(std::string_view(chunk)); }
  void write(const nlohmann::json& object);
  // Sends the headers (first time) and the buffered body now, chunked. Awaiting the result
  // waits until those bytes reached the kernel (backpressure for a streaming response);
  // not awaiting it is fine.
  httputil::HTTPConnection::WriteAwaiter flush();
  // Ends the response (sends what is buffered, with Content-Length when nothing was flushed;
  // a 304 when the ETag matches If-None-Match). Twice: std::logic_error.
  httputil::HTTPConnection::WriteAwaiter finish();
  httputil::HTTPConnection::WriteAwaiter finish(std::string_view chunk);
  // Redirects (302, or 301 with `permanent`, or `status` 300-399; other statuses are
  // std::invalid_argument) and finishes. The URL goes into Location as given (Tornado 6);
  // a control character in it (CR/LF: header injection) is std::invalid_argument.
  void redirect(std::string_view url, bool permanent = false, std::optional<int> status = {});
  // Answers with an error page for `status_code` (clears what was buffered). After the
  // headers were sent it can only end the response (logged).
  void send_error(int status_code = 500, std::exception_ptr error = nullptr);
  bool finished() const noexcept { return finished_; }
  bool headers_written() const noexcept { return headers_written_; }

  // ---- cookies ----
  std::optional<std::string> get_cookie(std::string_view name) const;
  // Name and value may not contain controls, spaces or ';' (std::invalid_argument).
  void set_cookie(std::string_view name, std::string_view value, const CookieOptions& options = {});
  void clear_cookie(std::string_view name, std::string_view path = "/",
                    std::string_view domain = {});
  void clear_all_cookies(std::string_view path = "/", std::string_view domain = {});

  // ---- templates ----
  // Renders template `name` (through the application's loader for get_template_path()) with
  // get_template_namespace() and `values` (which win), and the functions of
  // get_template_functions(). Throws templates::ParseError / TemplateError. `values` is
  // taken by value and its members moved into the namespace: pass a temporary (or
  // std::move) and nothing is copied.
  std::string render_string(std::string_view name,
                            nlohmann::json values = nlohmann::json::object());
  // The same with `extra` functions on top of get_template_functions().
  std::string render_string(std::string_view name, nlohmann::json values,
                            const templates::Functions& extra);
  // render_string, then finish() with it, with the CSS/JS/head/body parts of the UI modules
  // the page used inserted before </head> and </body> (web/ui_module.h). After finish():
  // std::logic_error.
  void render(std::string_view name, nlohmann::json values = nlohmann::json::object());
  // Where render() looks (default settings.template_path).
  virtual std::string get_template_path() const;
  // Every template sees `request` (method, uri, path, query, host, host_name, remote_ip,
  // protocol, version, arguments), `current_user` and `locale` (code, name, rtl of
  // locale()); each is built only if the page uses it. get_template_namespace() returns the
  // values a handler adds on top of these (the base returns an empty object): override it,
  // call the base and add to what it returns, as in Tornado; a name you add hides the
  // default of that name, and render()'s `values` hide both.
  virtual nlohmann::json get_template_namespace();
  // Every template can call, besides the built-ins (escape, url_escape, json_encode,
  // squeeze, linkify, ...): _(message[, plural, count]) and pgettext(context, message[,
  // plural, count]) in locale(), the locale's methods locale.translate, locale.pgettext,
  // locale.format_date(date, gmt_offset=, relative=, shorter=, full_format=),
  // locale.format_day(date, gmt_offset=, dow=) (a date: Unix seconds or a UTC ISO 8601
  // string), locale.list(parts),
  // locale.friendly_number(n), xsrf_form_html(), reverse_url(name, args...),
  // static_url(path, include_host=, include_version=) when settings.static_path is set, the
  // settings' UI modules (and the built-in Template) and UI methods; each is made only when a
  // page calls it. get_template_functions() returns the functions a handler adds (the base
  // returns none): override it, call the base and add; a name you add replaces the default.
  virtual templates::Functions get_template_functions();

  // ---- signed cookies (Tornado's format; settings.cookie_secret, key_version) ----
  // Sets a cookie signed with cookie_secret (v2 unless `version`), expiring in
  // `expires_days` (default 30; nullopt: a session cookie). std::logic_error without a
  // cookie_secret, or with versioned secrets and no settings.key_version.
  void set_signed_cookie(std::string_view name, std::string_view value,
                         std::optional<double> expires_days = 30, CookieOptions options = {},
                         std::optional<int> version = std::nullopt);
  // The value of a signed cookie (or of `value` if given) if its signature is good, it is
  // younger than `max_age_days` and at least `min_version`; otherwise nullopt.
  std::optional<std::string> get_signed_cookie(std::string_view name,
                                               std::optional<std::string_view> value = {},
                                               double max_age_days = 31, int min_version = 1);
  // The key version a signed cookie was made with (nullopt: v1, absent or malformed).
  std::optional<int> get_signed_cookie_key_version(std::string_view name,
                                                   std::optional<std::string_view> value = {});
  // Signs `value` as set_signed_cookie would (for values sent other ways).
  std::string create_signed_value(std::string_view name, std::string_view value,
                                  std::optional<int> version = std::nullopt) const;

  // ---- XSRF ----
  // This request's XSRF token in settings.xsrf_cookie_version's format (v2: masked anew per
  // request). Sets the _xsrf cookie when the request had none (or an undecodable one).
  const std::string& xsrf_token();
  // <input type="hidden" name="_xsrf" value="..."/> for forms.
  std::string xsrf_form_html();
  // 403 unless the `_xsrf` argument (or X-XSRFToken / X-CSRFToken) holds the cookie's token
  // (compared in constant time). Run for POST/PUT/PATCH/DELETE when xsrf_cookies is on.
  virtual void check_xsrf_cookie();

  // ---- users ----
  // get_current_user(), computed on first use and kept (set_current_user overrides, e.g.
  // from an async prepare()).
  const nlohmann::json& current_user();
  void set_current_user(nlohmann::json user);
  // Tornado's @authenticated, called at the top of a method: an anonymous GET/HEAD is
  // redirected to login_url?next=<uri> and Finish is thrown; other methods get 403.
  void authenticated();

  // ---- ETags ----
  void set_etag_header();
  // True if If-None-Match matches the ETag header (weak comparison, "*", lists).
  bool check_etag_header() const;

  // ---- misc ----
  std::string reverse_url(std::string_view name, const std::vector<std::string>& args = {}) const;
  // The URL of a static file with its content version, "/static/css/a.css?v=<sha512 hex>"
  // (Tornado's static_url; web/static.h). Needs settings.static_path (else
  // std::logic_error). `include_host` (default: include_host_) puts scheme://host first.
  std::string static_url(std::string_view path, std::optional<bool> include_host = std::nullopt,
                         bool include_version = true) const;
  // "GET /path?x (1.2.3.4)"
  std::string request_summary() const;
  // Logs an exception the way Tornado does: HTTPError with a log message at warning on
  // tornado.general; anything else at error on tornado.application with the request.
  void log_exception(std::exception_ptr error) const;
  // The Allow set of this handler's class (set by handler<H>()).
  unsigned implemented_methods() const noexcept { return implemented_; }

 protected:
  // Throws HTTPError(405) (what the default get() etc. do); the error page carries Allow.
  [[noreturn]] void unsupported_method();
  // The methods the class implements, "GET, POST".
  std::string allow_header() const;
  // The response went out another way (FallbackHandler answered through the connection):
  // marks it finished without writing anything and runs on_finish().
  void mark_finished();
  // After finish(), for a handler that lives on with the connection (a WebSocket after its
  // 101): frees the response's state (headers, buffers, transforms, cookies, XSRF token, UI
  // modules), which nothing reads any more. get_status() stays; what writes a response
  // afterwards (set_header, write, set_cookie, xsrf_token, ...) throws std::logic_error.
  void release_response() noexcept;
  // For a handler that lives on after its request (a WebSocket once open() returned): frees
  // the request, keeping its first line, peer and host (detail::RequestSlot). Afterwards
  // request() rebuilds a request without headers, and get_cookie() throws std::logic_error.
  void compact_request() { request_.compact(); }
  // For a handler whose life goes on after its method's task (a WebSocket after the 101):
  // once that task completed, the request's root frame ends and hands the handler to
  // take_over(), which keeps it as long as it needs (an idle connection then holds no frame
  // of the request's). Call from the method, before its task completes.
  void hand_over_after_method() noexcept { hand_over_ = true; }
  // Receives the handler (this object) from the request's root. The default drops it.
  virtual void take_over(std::unique_ptr<RequestHandler> self) noexcept;
  // The peer's address without rebuilding a compacted request.
  std::string_view request_remote_ip() const noexcept { return request_.remote_ip(); }

 private:
  friend class Application;
  friend class detail::RequestDispatcher;
  friend class HandlerFactory;
  friend class EventSourceHandler;  // its response outlives the request/response cycle

  // The synchronous steps before prepare(): initialize, transforms, the method and UTF-8
  // checks, the body, XSRF. Throws what ends the request (HTTPError, ...).
  void begin_request();
  // Runs the request from begin_request to the end of prepare(); false if it ended there.
  // (The streaming path: prepare runs before the body is read.)
  Task<bool> run_prepare();
  // The task of the method the request names (get(), post(), ...); throws 405 for a
  // supported method without a C++ one.
  Task<> method_task();
  // How a request runs (non-streaming: begin_request, prepare, the method, finish; a
  // streamed one: the method and finish, once the body is in). start() runs it without a
  // coroutine frame of its own while each step (prepare(), the method) completes at once,
  // the usual case; the first step that suspends is handed, still running, to a root
  // coroutine (continue_request) that awaits it and runs the rest. The root is started at
  // once, nobody awaits it (no Future), and it lends the handler's CancelState to the steps.
  // Defined in handler_flow.cpp.
  struct Root;
  enum class Stage : uint8_t { kPrepare, kMethod, kRest };
  static Root continue_request(std::unique_ptr<RequestHandler> self, Task<> running, Stage stage);
  // Runs the request (`rest`: a streamed request's method, its prepare having run); while it
  // is suspended, the client's departure and the request timeout cancel it.
  static void start(std::unique_ptr<RequestHandler> handler, bool rest);
  // Starts `step` now under this handler's CancelState, as awaiting it would; true when it
  // completed (its exception rethrown here), false when it suspended (it runs on).
  bool run_step_now(Task<>& step);
  void handle_request_exception(std::exception_ptr error);
  void on_cancelled();
  void on_timeout();
  void connection_closed();
  // The cookie's token (version 0: none or undecodable, then a fresh random one).
  const XsrfToken& raw_xsrf_token();
  void log_request() const;
  void write_access_log(int level) const;  // the access log's line, at spdlog `level`
  // finish() for the flow's own call, which drops the awaitable (none is made), and the two
  // halves both forms share.
  void finish_unawaited();
  void begin_finish();
  void end_finish();
  // Sends the buffered body (with the headers the first time) through the transforms.
  // `known`: finish()'s framing of the fields, used when the handler changed none of them.
  void send_buffer(bool finishing, const httputil::KnownFraming* known = nullptr);
  // The response's headers back to Server and Content-Type only (clear()'s first step).
  void reset_to_default_headers();
  // The default Content-Type put in its place (index 1) if it is still pending; before
  // anything reads the fields or changes them other than by setting Content-Type.
  void settle_content_type() const {
    if (response_ && response_->content_type_pending) put_default_content_type();
  }
  void put_default_content_type() const;
  // Content-Type `value` put in the default's place (index 1, after Server); no longer pending.
  void put_content_type(std::string_view value) const;
  // Sets Content-Type to `value` (already checked by the caller) in the default's place
  // while it is pending: a handler's own type costs an insertion, not a search and a
  // replacement. False (nothing done) when it is not pending.
  bool set_pending_content_type(std::string_view value);
  // The default template namespace and functions, made on a page's first use of each
  // (handler_render.cpp).
  class TemplateDefaults;
  nlohmann::json template_request_value();
  nlohmann::json template_locale_value();
  bool is_default_template_function(std::string_view name) const;
  void add_default_template_functions(templates::Functions& functions);
  // The default functions' UI modules and methods (Settings::ui_modules, ui_methods).
  void add_ui_functions(templates::Functions& functions);
  // The default functions' _, pgettext and locale.* functions.
  void add_locale_functions(templates::Functions& functions);
  // The response's state; std::logic_error once release_response() freed it.
  detail::ResponseState& response() {
    if (!response_) response_released();
    return *response_;
  }
  const detail::ResponseState& response() const {
    if (!response_) response_released();
    return *response_;
  }
  [[noreturn]] static void response_released();
  static const routing::PathArgs& no_path_args() noexcept;
  std::vector<std::string> collect_arguments(const httputil::Arguments& source,
                                             std::string_view name, bool strip) const;

  Application* application_ = nullptr;
  const HandlerFactory* factory_ = nullptr;
  detail::RequestSlot request_;  // set by the dispatcher before any handler code runs
  // Only when the route captured groups (from the frame cache): a handler that lives as
  // long as its connection (a WebSocket) costs 40 bytes less without.
  std::unique_ptr<detail::PooledPathArgs> path_args_;
  // The response's state; null once release_response() freed it.
  detail::ResponseStatePtr response_;
  // The user, alive only once has_current_user_ (current_user() or set_current_user() makes
  // it): a request that never asks has no json to destroy with its handler.
  union {
    nlohmann::json current_user_;
  };
  tornado::locale::LocalePtr locale_;
  // The running request's cancellation, shared by its steps (prepare(), the method).
  tornado::detail::CancelState cancel_state_;
  TimeoutHandle timeout_{};
  int16_t status_code_ = 200;  // 100-999 (set_status checks); packed with the flags below
  uint8_t implemented_ = 0;     // Method bits
  bool headers_written_ = false;
  bool finished_ = false;
  bool streaming_ = false;  // stream_request_body, fixed when the request starts
  bool prepared_ = false;
  bool timed_out_ = false;
  bool client_gone_ = false;
  bool has_timeout_ = false;
  bool close_hooked_ = false;  // the connection's close callback points at this handler
  bool hand_over_ = false;     // hand_over_after_method() was called
  bool has_current_user_ = false;  // current_user_ was computed or set

 protected:
  // static_url's default for include_host (Tornado's include_host attribute). Declared last,
  // with the flags above: a handler that lives as long as its connection (a WebSocket) is
  // 16 bytes smaller than with a padded bool first and an optional json.
  bool include_host_ = false;

 private:
  // Fills what would be the class's tail padding, where a derived class's first member
  // could otherwise be placed: then a handler class of this class's size adds no data
  // member, and detail::make_handler can skip value-initialisation's zero fill.
  [[maybe_unused]] uint8_t tail_fill_[2] = {};
};

namespace detail {
struct TailProbe : RequestHandler {
  char probe;
};
// True when RequestHandler has no tail padding (the probe's member lies past its size).
inline constexpr bool kHandlerHasNoTailPadding = sizeof(TailProbe) > sizeof(RequestHandler);

// A new handler of class H. A class that adds no data member (its size is the base's, and
// the base has no tail padding to hide one in) is default-initialised: the base's
// constructor sets every member, and value-initialisation's zero fill of the whole object
// first (g++ emits `rep stosq`, some 35 cycles: 1.3 % of a pipelined plaintext request's
// CPU) would be overwritten anyway. Any other class keeps value-initialisation, so its own
// members without an initialiser start zeroed as before.
template <typename H>
std::unique_ptr<RequestHandler> make_handler() {
  if constexpr (kHandlerHasNoTailPadding && sizeof(H) == sizeof(RequestHandler)) {
    return std::make_unique_for_overwrite<H>();
  } else {
    return std::make_unique<H>();
  }
}
}  // namespace detail

}  // namespace tornado::web
