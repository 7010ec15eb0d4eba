// PLACEHOLDER until the `options` branch's web/signing.h is merged: the CookieSecret type
// Settings holds (same constructors). Replaced by #include "tornado/web/signing.h".
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>

namespace tornado::web {

class CookieSecret {
 public:
  CookieSecret() = default;
  CookieSecret(const char* secret) : single_(secret) {}             // NOLINT: implicit on purpose
  CookieSecret(std::string secret) : single_(std::move(secret)) {}  // NOLINT
  CookieSecret(std::map<int, std::string> versioned)                // NOLINT
      : versioned_(std::move(versioned)), is_versioned_(true) {}
  bool empty() const { return is_versioned_ ? versioned_.empty() : single_.empty(); }

 private:
  std::string single_;
  std::map<int, std::string> versioned_;
  bool is_versioned_ = false;
};

}  // namespace tornado::web
