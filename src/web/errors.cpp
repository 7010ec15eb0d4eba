#include "tornado/web/errors.h"

#include "tornado/httputil.h"

namespace tornado::web {

namespace {
// Tornado's HTTPError.__str__: "HTTP 404: Not Found (log message)".
std::string describe(int code, const std::string& log_message, const std::string& reason) {
  std::string s = "HTTP " + std::to_string(code) + ": " +
                  (reason.empty() ? std::string(httputil::reason_phrase(code)) : reason);
  if (!log_message.empty()) s += " (" + log_message + ")";
  return s;
}
}  // namespace

HTTPError::HTTPError(int status_code, std::string log_message, std::string reason)
    : std::runtime_error(describe(status_code, log_message, reason)),
      status_code_(status_code),
      log_message_(std::move(log_message)),
      reason_(std::move(reason)) {}

MissingArgumentError::MissingArgumentError(std::string arg_name)
    : HTTPError(400, "Missing argument " + arg_name), arg_name_(std::move(arg_name)) {}

}  // namespace tornado::web
