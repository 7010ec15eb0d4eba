// HTTPResponse, HTTPClientError and the small helpers every part of the client shares.
#include "internal/httpclient_impl.h"

namespace tornado::httpclient {

namespace {
// Follows the project version in CMakeLists.txt.
constexpr std::string_view kUserAgent = "tornado-cpp/0.1.0";
}  // namespace

std::string_view default_user_agent() noexcept { return kUserAgent; }

void HTTPResponse::rethrow() const {
  if (error) std::rethrow_exception(error);
}

HTTPClientError::HTTPClientError(int code, std::string message,
                                 std::shared_ptr<const HTTPResponse> response,
                                 std::exception_ptr cause)
    : std::runtime_error("HTTP " + std::to_string(code) + ": " +
                         (message.empty() ? std::string(httputil::reason_phrase(code)) : message)),
      code_(code),
      message_(message.empty() ? std::string(httputil::reason_phrase(code)) : std::move(message)),
      response_(std::move(response)),
      cause_(std::move(cause)) {}

namespace detail {

bool is_redirect_code(int code) noexcept {
  return code == 301 || code == 302 || code == 303 || code == 307 || code == 308;
}

std::exception_ptr make_599(const std::string& message, std::exception_ptr cause) {
  return std::make_exception_ptr(HTTPClientError(599, message, nullptr, std::move(cause)));
}

}  // namespace detail
}  // namespace tornado::httpclient
