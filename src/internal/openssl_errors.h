// OpenSSL's thread-local error queue as text, for SSLError messages.
#pragma once

#include <string>

namespace tornado::detail {

// Drains the error queue into "reason; reason" (or `fallback` when it is empty).
std::string take_openssl_errors(const std::string& fallback = "unknown OpenSSL error");

}  // namespace tornado::detail
