// tornado/web/errors.h — the exceptions a handler raises to end a request (part of web.h).
//
//   throw web::HTTPError(404);                                  // "404: Not Found" page
//   throw web::HTTPError(403, "user {} not allowed", name);     // logged, not shown
//   throw web::HTTPError(418, {}, "I'm a teapot");              // custom reason phrase
//   throw web::Finish();                                        // end quietly (finish())
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace tornado::web {

// An HTTP error response (Tornado's HTTPError). `log_message` is logged (at warning, with
// the request summary) and never shown to the client, unless serve_traceback is on;
// `reason` replaces the standard reason phrase. what(): "HTTP 404: Not Found (log message)".
class HTTPError : public std::runtime_error {
 public:
  explicit HTTPError(int status_code = 500, std::string log_message = {}, std::string reason = {});
  // The log message formatted with fmt (Tornado's `log_message % args`).
  template <typename A, typename... Rest>
  HTTPError(int status_code, fmt::format_string<A, Rest...> log_format, A&& a, Rest&&... rest)
      : HTTPError(status_code,
                  fmt::format(log_format, std::forward<A>(a), std::forward<Rest>(rest)...)) {}

  int status_code() const noexcept { return status_code_; }
  const std::string& log_message() const noexcept { return log_message_; }
  const std::string& reason() const noexcept { return reason_; }

 private:
  int status_code_;
  std::string log_message_;
  std::string reason_;
};

// A missing required argument: 400 "Missing argument <name>".
class MissingArgumentError : public HTTPError {
 public:
  explicit MissingArgumentError(std::string arg_name);
  const std::string& arg_name() const noexcept { return arg_name_; }

 private:
  std::string arg_name_;
};

// Ends the request without an error: the response is finished as it stands (Tornado's Finish).
// With a body, it is written first (Tornado's `raise Finish(chunk)`).
class Finish : public std::exception {
 public:
  Finish() = default;
  explicit Finish(std::string chunk) : chunk_(std::move(chunk)), has_chunk_(true) {}
  const char* what() const noexcept override { return "Finish"; }
  const std::string& chunk() const noexcept { return chunk_; }
  bool has_chunk() const noexcept { return has_chunk_; }

 private:
  std::string chunk_;
  bool has_chunk_ = false;
};

}  // namespace tornado::web
