// tornado::auth — OAuth 1.0/1.0a (OAuthMixin) and Twitter (TwitterMixin): the request-token
// step and its cookie, the redirect, the access-token step, signed API calls.
#include <chrono>
#include <stdexcept>

#include "internal/auth_internal.h"
#include "internal/http_url.h"
#include "tornado/auth.h"
#include "tornado/escape.h"
#include "tornado/httputil.h"
#include "tornado/web/xsrf.h"

namespace tornado::auth {

namespace {

constexpr std::string_view kRequestTokenCookie = "_oauth_request_token";

// The protocol parameters every signed request carries (RFC 5849 3.1).
Params base_parameters(const OAuthToken& consumer) {
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  return {{"oauth_consumer_key", consumer.key},
          {"oauth_signature_method", "HMAC-SHA1"},
          {"oauth_timestamp", std::to_string(now)},
          {"oauth_nonce", oauth_nonce()},
          {"oauth_version", "1.0"}};
}

// Sets `name` to `value`, replacing an earlier value (Tornado's dict.update).
void set_param(Params& params, std::string name, std::string value) {
  for (auto& [n, v] : params) {
    if (n == name) {
      v = std::move(value);
      return;
    }
  }
  params.emplace_back(std::move(name), std::move(value));
}

}  // namespace

std::string OAuthMixin::sign(const OAuthToken& consumer, const OAuthToken* token,
                             std::string_view method, std::string_view url,
                             const Params& params) const {
  std::string base = oauth_signature_base_string(method, url, params);
  std::string_view token_secret = token != nullptr ? std::string_view(token->secret) : "";
  if (oauth_version_ == "1.0") {
    // OAuth 1.0 (Tornado's _oauth_signature): the secrets go into the key as they are.
    return detail::hmac_sha1_base64(consumer.secret + '&' + std::string(token_secret), base);
  }
  return oauth_hmac_sha1(consumer.secret, token_secret, base);
}

std::string OAuthMixin::oauth_request_token_request_url(
    const std::optional<std::string>& callback_uri, const Params& extra_params) {
  require_url(oauth_request_token_url_, "oauth_request_token_url_");
  OAuthToken consumer = oauth_consumer_token();
  Params args = base_parameters(consumer);
  if (oauth_version_ != "1.0") {
    if (callback_uri == "oob") {
      args.emplace_back("oauth_callback", "oob");
    } else if (callback_uri) {
      args.emplace_back("oauth_callback", httpclient::detail::resolve_url(
                                              auth_handler().request().full_url(), *callback_uri));
    }
    for (const auto& [name, value] : extra_params) set_param(args, name, value);
  }
  args.emplace_back("oauth_signature",
                    sign(consumer, nullptr, "GET", oauth_request_token_url_, args));
  return httputil::url_concat(oauth_request_token_url_, args);
}

std::string OAuthMixin::oauth_access_token_request_url(const OAuthToken& request_token,
                                                       const std::optional<std::string>& verifier) {
  require_url(oauth_access_token_url_, "oauth_access_token_url_");
  OAuthToken consumer = oauth_consumer_token();
  Params args = base_parameters(consumer);
  args.emplace_back("oauth_token", request_token.key);
  if (verifier) args.emplace_back("oauth_verifier", *verifier);
  args.emplace_back("oauth_signature",
                    sign(consumer, &request_token, "GET", oauth_access_token_url_, args));
  return httputil::url_concat(oauth_access_token_url_, args);
}

Params OAuthMixin::oauth_request_parameters(std::string_view url, const OAuthToken& access_token,
                                            const Params& parameters, std::string_view method) {
  OAuthToken consumer = oauth_consumer_token();
  Params base = base_parameters(consumer);
  base.emplace_back("oauth_token", access_token.key);
  Params all = base;
  all.insert(all.end(), parameters.begin(), parameters.end());
  base.emplace_back("oauth_signature", sign(consumer, &access_token, method, url, all));
  return base;
}

Task<> OAuthMixin::authorize_redirect(std::optional<std::string> callback_uri,
                                      Params extra_params) {
  auto step = redirect_with_request_token(oauth_authorize_url_, std::move(callback_uri),
                                          std::move(extra_params), true);
  co_await std::move(step);
}

Task<> OAuthMixin::redirect_with_request_token(std::string authorize_url,
                                               std::optional<std::string> callback_uri,
                                               Params extra_params, bool callback_in_redirect) {
  if (callback_uri && oauth_no_callbacks_) {
    throw std::logic_error("This service does not support oauth_callback");
  }
  web::RequestHandler& handler = auth_handler();
  require_url(authorize_url, "the authorize URL");
  auto request = std::make_shared<const httpclient::HTTPRequest>(
      provider_request(oauth_request_token_request_url(callback_uri, extra_params)));
  auto fetch =
      detail::provider_fetch(get_auth_http_client(), request, "OAuth request token request");
  httpclient::HTTPResponse response = co_await std::move(fetch);
  OAuthToken token = parse_oauth_response(response.body);

  // The request token goes back to the callback in a cookie (Tornado's format), where
  // get_authenticated_user matches it against the provider's oauth_token argument.
  web::CookieOptions cookie;
  cookie.httponly = true;
  cookie.secure = handler.request().protocol == "https";
  handler.set_cookie(kRequestTokenCookie,
                     escape::base64_encode(token.key) + "|" + escape::base64_encode(token.secret),
                     cookie);
  Params args{{"oauth_token", token.key}};
  if (callback_in_redirect && callback_uri == "oob") {
    handler.finish(httputil::url_concat(authorize_url, args));
    co_return;
  }
  if (callback_in_redirect && callback_uri) {
    args.emplace_back("oauth_callback",
                      httpclient::detail::resolve_url(handler.request().full_url(), *callback_uri));
  }
  handler.redirect(httputil::url_concat(authorize_url, args));
}

Task<nlohmann::json> OAuthMixin::get_authenticated_user() {
  web::RequestHandler& handler = auth_handler();
  // Twitter (and others) come back with ?denied=<token> when the user refuses.
  if (auto denied = handler.get_optional_argument("denied")) {
    handler.clear_cookie(kRequestTokenCookie);
    throw AuthError(403, "OAuth: the user denied access (denied=" + detail::snippet(*denied) + ")");
  }
  std::string request_key = handler.get_argument("oauth_token");
  std::optional<std::string> verifier = handler.get_optional_argument("oauth_verifier");
  std::optional<std::string> cookie = handler.get_cookie(kRequestTokenCookie);
  if (!cookie || cookie->empty()) throw AuthError(403, "Missing OAuth request token cookie");
  handler.clear_cookie(kRequestTokenCookie);
  std::size_t bar = cookie->find('|');
  OAuthToken request_token;
  try {
    if (bar == std::string::npos || cookie->find('|', bar + 1) != std::string::npos) {
      throw std::invalid_argument("not two fields");
    }
    request_token.key = escape::base64_decode(std::string_view(*cookie).substr(0, bar));
    request_token.secret = escape::base64_decode(std::string_view(*cookie).substr(bar + 1));
  } catch (const std::invalid_argument&) {
    throw AuthError(403, "Malformed OAuth request token cookie");
  }
  if (!web::constant_time_equal(request_token.key, request_key)) {
    throw AuthError(403, "Request token does not match cookie");
  }
  if (verifier && verifier->empty()) verifier.reset();
  auto request = std::make_shared<const httpclient::HTTPRequest>(
      provider_request(oauth_access_token_request_url(request_token, verifier)));
  auto fetch =
      detail::provider_fetch(get_auth_http_client(), request, "OAuth access token request");
  httpclient::HTTPResponse response = co_await std::move(fetch);
  OAuthToken access_token = parse_oauth_response(response.body);
  auto get_user = oauth_get_user(access_token);
  nlohmann::json user = co_await std::move(get_user);
  if (!user.is_object() || user.empty()) throw AuthError(502, "Error getting user");
  user["access_token"] = access_token.to_json();
  co_return user;
}

// ---- Twitter ----

TwitterMixin::TwitterMixin() {
  oauth_request_token_url_ = "https://api.twitter.com/oauth/request_token";
  oauth_access_token_url_ = "https://api.twitter.com/oauth/access_token";
  oauth_authorize_url_ = "https://api.twitter.com/oauth/authorize";
}

OAuthToken TwitterMixin::oauth_consumer_token() {
  return OAuthToken(require_setting("twitter_consumer_key", "Twitter OAuth"),
                    require_setting("twitter_consumer_secret", "Twitter OAuth"));
}

Task<> TwitterMixin::authenticate_redirect(std::optional<std::string> callback_uri) {
  auto step = redirect_with_request_token(oauth_authenticate_url_, std::move(callback_uri),
                                          Params(), false);
  co_await std::move(step);
}

Task<nlohmann::json> TwitterMixin::twitter_request(std::string path, OAuthToken access_token,
                                                   std::optional<Params> post_args, Params args) {
  std::string url = path.starts_with("http:") || path.starts_with("https:")
                        ? path
                        : twitter_base_url_ + path + ".json";
  const std::string method = post_args ? "POST" : "GET";
  if (!access_token.key.empty()) {
    Params signed_args = args;
    if (post_args) signed_args.insert(signed_args.end(), post_args->begin(), post_args->end());
    Params oauth = oauth_request_parameters(url, access_token, signed_args, method);
    args.insert(args.end(), oauth.begin(), oauth.end());
  }
  if (!args.empty()) url = httputil::url_concat(url, args);
  httpclient::HTTPRequest request = provider_request(url);
  auto answer = fetch_json(std::move(request), std::move(post_args));
  co_return co_await std::move(answer);
}

Task<nlohmann::json> TwitterMixin::oauth_get_user(OAuthToken access_token) {
  auto call = twitter_request("/account/verify_credentials", std::move(access_token));
  nlohmann::json user = co_await std::move(call);
  if (user.is_object() && user.contains("screen_name")) user["username"] = user["screen_name"];
  co_return user;
}

}  // namespace tornado::auth
