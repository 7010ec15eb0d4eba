// RedirectHandler, ErrorHandler, FallbackHandler; RequestHandler::mark_finished.
#include <stdexcept>
#include <string>

#include "internal/describe_exception.h"
#include "internal/tsc_clock.h"
#include "tornado/log.h"
#include "tornado/web.h"

namespace tornado::web {

std::string format_redirect_url(std::string_view pattern, const routing::PathArgs& args) {
  std::string out;
  std::size_t next_auto = 0;
  bool used_auto = false, used_manual = false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '}') {
      if (i + 1 < pattern.size() && pattern[i + 1] == '}') {
        out += '}';
        ++i;
        continue;
      }
      throw std::invalid_argument("Single '}' encountered in format string");
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < pattern.size() && pattern[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    std::size_t close = pattern.find('}', i + 1);
    if (close == std::string_view::npos) {
      throw std::invalid_argument("Single '{' encountered in format string");
    }
    std::string_view field = pattern.substr(i + 1, close - i - 1);
    i = close;
    if (field.find_first_of(":!.[{") != std::string_view::npos) {
      throw std::invalid_argument(
          "RedirectHandler: only {N}, {name} and {} fields are supported: {" + std::string(field) +
          "}");
    }
    std::size_t index;
    if (field.empty()) {
      used_auto = true;
      index = next_auto++;
    } else if (field.find_first_not_of("0123456789") == std::string_view::npos) {
      used_manual = true;
      index = std::stoul(std::string(field));
    } else {
      bool found = false;
      for (const auto& [name, value] : args.kwargs) {
        if (name == field) {
          out += value;
          found = true;
          break;
        }
      }
      if (!found)
        throw std::invalid_argument("RedirectHandler: no group named " + std::string(field));
      continue;
    }
    if (used_auto && used_manual) {
      throw std::invalid_argument(
          "cannot switch from automatic field numbering to manual field specification");
    }
    if (index >= args.args.size()) {
      throw std::invalid_argument("RedirectHandler: replacement index " + std::to_string(index) +
                                  " out of range for " + std::to_string(args.args.size()) +
                                  " path arguments");
    }
    out += args.args[index];
  }
  return out;
}

void RedirectHandler::initialize(std::string url, bool permanent) {
  url_ = std::move(url);
  permanent_ = permanent;
}

Task<> RedirectHandler::get() {
  std::string to_url = format_redirect_url(url_, path_args());
  const auto& query = request().query_arguments;
  if (!query.empty()) {
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const auto& [name, values] : query) {
      for (const auto& value : values) pairs.emplace_back(name, value);
    }
    to_url = httputil::url_concat(to_url, pairs);
  }
  redirect(to_url, permanent_);
  co_return;
}

void ErrorHandler::initialize(int status_code) {
  status_code_ = status_code;
  set_status(status_code);
}

Task<> ErrorHandler::prepare() { throw HTTPError(status_code_); }

void FallbackHandler::initialize(HTTPServer::RequestCallback fallback) {
  fallback_ = std::move(fallback);
}

Task<> FallbackHandler::prepare() {
  fallback_(request());
  mark_finished();
  co_return;
}

void RequestHandler::mark_finished() {
  finished_ = true;
  headers_written_ = true;
  // The handler may be gone before the connection closes: it must not be called back.
  if (request_->connection != nullptr) request_->connection->set_close_callback({});
  request_->finish_time = tornado::detail::tsc_clock_now();  // (internal/tsc_clock.h: no fence)
  if (has_timeout_) {
    IOLoop::current().remove_timeout(timeout_);
    has_timeout_ = false;
  }
  try {
    on_finish();
  } catch (...) {
    app_log().error("Exception in on_finish {}: {}", request_summary(),
                    tornado::detail::describe_exception(std::current_exception()));
  }
}

}  // namespace tornado::web
