// Helpers shared by src/auth*.cpp: form encoding and calls to the provider.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "tornado/auth.h"
#include "tornado/httpclient.h"

namespace tornado::auth::detail {

// base64(HMAC-SHA1(key, data)).
std::string hmac_sha1_base64(std::string_view key, std::string_view data);

// application/x-www-form-urlencoded, as Python's urlencode (quote_plus).
std::string form_encode(const Params& params);

// Fetches `request` for one step of a sign-in (`step` names it in errors): a transport
// failure or an error status is an AuthError 502 naming the step and the provider's answer.
Task<httpclient::HTTPResponse> provider_fetch(std::shared_ptr<httpclient::AsyncHTTPClient> client,
                                              std::shared_ptr<const httpclient::HTTPRequest> request,
                                              std::string step);

// At most `limit` bytes of a provider's answer for a log message (control bytes shown as
// '?', so nothing the provider sent can forge a log line).
std::string snippet(std::string_view body, std::size_t limit = 200);

}  // namespace tornado::auth::detail
