// StaticFileHandler: conditional GETs, one Range, streamed bodies; the Application's static
// routes and RequestHandler::static_url.
#include <openssl/crypto.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "tornado/httputil.h"
#include "tornado/ioloop.h"
#include "tornado/web.h"
#include "tornado/web/mimetypes.h"

namespace tornado::web {

namespace {

// Python's re.escape for the characters that mean something in a PCRE2 pattern.
std::string regex_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::strchr(".^$*+?{}[]\\|()#&~-", c) != nullptr && c != '\0') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

void StaticFileHandler::initialize() {
  root_ = settings().static_path;
  const auto& args = settings().static_handler_args;
  if (auto it = args.find("default_filename"); it != args.end() && it->is_string()) {
    default_filename_ = it->get<std::string>();
  }
}

void StaticFileHandler::initialize(std::string path, std::optional<std::string> default_filename) {
  root_ = std::move(path);
  default_filename_ = std::move(default_filename);
}

Task<> StaticFileHandler::get() { return serve(true); }
Task<> StaticFileHandler::head() { return serve(false); }

std::string StaticFileHandler::parse_url_path(std::string_view url_path) {
  return std::string(url_path);
}

StaticPath StaticFileHandler::validate_absolute_path(std::string_view root, std::string_view path) {
  return resolve_static_path(root, path, request().path, default_filename_);
}

std::string StaticFileHandler::get_content_type() { return static_content_type(absolute_path_); }

int64_t StaticFileHandler::get_cache_time(std::string_view, int64_t, std::string_view) {
  return request().arguments.contains("v") ? kCacheMaxAge : 0;
}

void StaticFileHandler::set_extra_headers(std::string_view) {}

Task<std::optional<std::string>> StaticFileHandler::get_content_version() {
  const bool use_cache = settings().static_hash_cache;
  if (use_cache) {
    if (auto cached = static_hash_cache().find(absolute_path_)) co_return *cached;
  }
  // A miss hashes the whole file: on the executor, so a large file does not stall the loop.
  // The closure is a named variable: g++ 12 destroys a closure temporary inside a co_await
  // expression twice (docs/task.md, "the g++ 12 rule").
  auto hash = [path = absolute_path_, use_cache] {
    auto version = static_hash_cache().get(path, use_cache);
    // OpenSSL keeps per-thread state for the executor thread that is never released while
    // the pool lives (LeakSanitizer reports it at exit): release it after each job.
    OPENSSL_thread_stop();
    return version;
  };
  auto hashed = IOLoop::current().run_in_executor(std::move(hash));
  co_return co_await hashed;
}

std::optional<std::string> StaticFileHandler::compute_etag() const {
  if (!version_) return std::nullopt;
  return "\"" + *version_ + "\"";
}

bool StaticFileHandler::should_return_304() {
  const auto& headers = request().headers;
  if (auto inm = headers.get_first("If-None-Match"); inm && !inm->empty()) {
    return check_etag_header();
  }
  if (auto ims = headers.get_first("If-Modified-Since")) {
    std::optional<int64_t> since = httputil::parse_http_date(*ims);
    return since && *since >= modified_;
  }
  return false;
}

void StaticFileHandler::set_headers() {
  set_header("Accept-Ranges", "bytes");
  set_etag_header();
  set_header("Last-Modified",
             std::chrono::system_clock::time_point(std::chrono::seconds(modified_)));
  std::string content_type = get_content_type();
  if (!content_type.empty()) set_header("Content-Type", content_type);
  int64_t cache_time = get_cache_time(path_, modified_, content_type);
  if (cache_time > 0) {
    set_header("Expires", std::chrono::system_clock::now() + std::chrono::seconds(cache_time));
    set_header("Cache-Control", "max-age=" + std::to_string(cache_time));
  }
  set_extra_headers(path_);
}

Task<> StaticFileHandler::serve(bool include_body) {
  path_ = parse_url_path(path_arg_count() > 0 ? path_arg(0) : std::string());
  StaticPath found = validate_absolute_path(root_, path_);
  if (found.kind == StaticPath::kRedirect) {
    redirect(found.location, true);
    co_return;
  }
  if (found.kind == StaticPath::kError) throw HTTPError(found.status, found.log_message);
  absolute_path_ = found.absolute_path;
  file_ = StaticFile::open(found);
  if (!file_.valid()) {
    // Changed between the check and the open (a symlink or FIFO swapped in, or deleted).
    throw HTTPError(file_.error() == ENOENT ? 404 : 403,
                    fmt::format("{} could not be opened: {}", path_, std::strerror(file_.error())));
  }
  modified_ = file_.modified();

  version_ = co_await get_content_version();
  set_headers();
  if (should_return_304()) {
    set_status(304);
    co_return;
  }

  const int64_t size = file_.size();
  std::optional<httputil::ByteRange> range;
  if (auto header = request().headers.get_first("Range")) {
    range = httputil::parse_request_range(*header);  // RFC 9110 14.2: invalid → ignored
  }
  httputil::RangeDecision decision = httputil::decide_range(range, size);
  if (decision.kind == httputil::RangeDecision::kUnsatisfiable) {
    set_status(416);
    set_header("Content-Type", "text/plain");
    set_header("Content-Range", decision.content_range);
    co_return;
  }
  if (decision.kind == httputil::RangeDecision::kPartial) {
    set_status(206);
    set_header("Content-Range", decision.content_range);
  }
  set_header("Content-Length", decision.length());
  if (!include_body) co_return;

  std::string piece;
  int64_t offset = decision.start;
  bool client_left = false;
  while (offset < decision.end && !client_left) {
    auto want = static_cast<std::size_t>(
        std::min<int64_t>(static_cast<int64_t>(kChunkSize), decision.end - offset));
    file_.read_at(offset, want, piece);
    // A file that shrank meanwhile: stop; finish() then refuses the short body and the
    // connection is closed rather than mis-framed.
    if (piece.empty()) break;
    offset += static_cast<int64_t>(piece.size());
    write(piece);
    try {
      co_await flush();  // backpressure: the next piece is read once this one is sent
    } catch (const StreamClosedError&) {
      client_left = true;  // Tornado stops the same way
    }
  }
  if (client_left) {
    // Nothing more can be sent: end the exchange without the error finish() would raise
    // for the missing bytes.
    mark_finished();
    try {
      (void)request().connection->finish();
    } catch (const std::exception&) {
    }
  }
}

std::string StaticFileHandler::make_static_url(const Settings& settings, std::string_view path,
                                               bool include_version) {
  std::string url = settings.static_url_prefix + std::string(path);
  if (!include_version) return url;
  std::optional<std::string> version = get_version(settings, path);
  return version ? url + "?v=" + *version : url;
}

std::optional<std::string> StaticFileHandler::get_version(const Settings& settings,
                                                          std::string_view path) {
  return get_static_version(settings.static_path, path, settings.static_hash_cache);
}

std::vector<routing::Rule> detail::static_routes(const Settings& settings) {
  std::vector<routing::Rule> rules;
  if (settings.static_path.empty()) return rules;
  std::shared_ptr<const HandlerFactory> factory = settings.static_handler_class;
  if (!factory) factory = static_handler<StaticFileHandler>();
  for (std::string pattern : {std::string("/(robots\\.txt)"), std::string("/(favicon\\.ico)"),
                              regex_escape(settings.static_url_prefix) + "(.*)"}) {
    rules.emplace_back(std::make_shared<routing::PathMatches>(pattern), factory);
  }
  return rules;
}

std::string RequestHandler::static_url(std::string_view path, std::optional<bool> include_host,
                                       bool include_version) const {
  const Settings& s = settings();
  if (s.static_path.empty()) {
    throw std::logic_error(
        "You must define the 'static_path' setting in your application to use static_url");
  }
  std::string base;
  if (include_host.value_or(include_host_)) base = request_->protocol + "://" + request_->host;
  if (auto* custom = dynamic_cast<const StaticHandlerFactory*>(s.static_handler_class.get())) {
    return base + custom->make_static_url(s, path, include_version);
  }
  return base + StaticFileHandler::make_static_url(s, path, include_version);
}

}  // namespace tornado::web
