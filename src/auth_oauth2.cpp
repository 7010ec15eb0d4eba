// tornado::auth — OAuth 2 (OAuth2Mixin) with its state check, and the Google and GitHub
// providers: the authorization redirect, the code exchange, API calls with the token.
#include <stdexcept>

#include "internal/auth_internal.h"
#include "tornado/auth.h"
#include "tornado/escape.h"
#include "tornado/httputil.h"
#include "tornado/web/xsrf.h"

namespace tornado::auth {

namespace {

constexpr std::string_view kStateCookie = "_oauth2_state";

bool has_param(const Params& params, std::string_view name) {
  for (const auto& [n, v] : params) {
    if (n == name) return true;
  }
  return false;
}

}  // namespace

void OAuth2Mixin::authorize_redirect(std::optional<std::string> redirect_uri,
                                     std::optional<std::string> client_id,
                                     std::optional<std::string> /*client_secret*/,
                                     Params extra_params, std::vector<std::string> scope,
                                     std::string response_type) {
  web::RequestHandler& handler = auth_handler();
  require_url(oauth_authorize_url_, "oauth_authorize_url_");
  Params args{{"response_type", std::move(response_type)}};
  if (redirect_uri) args.emplace_back("redirect_uri", std::move(*redirect_uri));
  if (client_id) args.emplace_back("client_id", std::move(*client_id));
  if (oauth2_state_ && !has_param(extra_params, "state")) {
    // CSRF protection for the callback (RFC 6749 10.12): a value the provider sends back
    // and only this browser holds, signed so that it cannot be planted as a plain cookie.
    std::string state = oauth_nonce();
    web::CookieOptions cookie;
    cookie.httponly = true;
    cookie.samesite = "Lax";  // the callback is a top-level GET from the provider's site
    cookie.secure = handler.request().protocol == "https";
    handler.set_signed_cookie(kStateCookie, state, std::nullopt, cookie);
    args.emplace_back("state", std::move(state));
  }
  args.insert(args.end(), extra_params.begin(), extra_params.end());
  if (!scope.empty()) {
    std::string joined;
    for (const auto& s : scope) joined += (joined.empty() ? "" : " ") + s;
    args.emplace_back("scope", std::move(joined));
  }
  handler.redirect(httputil::url_concat(oauth_authorize_url_, args));
}

void OAuth2Mixin::check_oauth2_state() {
  web::RequestHandler& handler = auth_handler();
  // RFC 6749 4.1.2.1: the provider reports a refusal (access_denied) or a failure in `error`.
  if (auto error = handler.get_optional_argument("error")) {
    handler.clear_cookie(kStateCookie);
    std::string message =
        "OAuth2: the provider refused the authorization: " + detail::snippet(*error);
    if (auto description = handler.get_optional_argument("error_description")) {
      message += " (" + detail::snippet(*description) + ")";
    }
    throw AuthError(403, message);
  }
  if (!oauth2_state_) return;
  std::optional<std::string> state = handler.get_optional_argument("state");
  if (!state || state->empty()) {
    handler.clear_cookie(kStateCookie);
    throw AuthError(400, "OAuth2 callback without a state argument");
  }
  std::optional<std::string> expected =
      handler.get_signed_cookie(kStateCookie, std::nullopt, oauth2_state_max_age_days_);
  handler.clear_cookie(kStateCookie);  // one use only
  if (!expected) throw AuthError(403, "OAuth2 state cookie missing, expired or forged");
  if (!web::constant_time_equal(*expected, *state)) {
    throw AuthError(403, "OAuth2 state mismatch (a forged or stale callback)");
  }
}

Task<nlohmann::json> OAuth2Mixin::oauth2_request(std::string url,
                                                 std::optional<std::string> access_token,
                                                 std::optional<Params> post_args, Params args) {
  httpclient::HTTPRequest request = provider_request(std::string());
  if (access_token && !access_token->empty()) {
    if (oauth2_bearer_header_) {
      request.headers.set("Authorization", "Bearer " + *access_token);
    } else {
      args.insert(args.begin(), {"access_token", *access_token});
    }
  }
  request.url = args.empty() ? url : httputil::url_concat(url, args);
  request.headers.set("Accept", "application/json");
  auto answer = fetch_json(std::move(request), std::move(post_args));
  co_return co_await std::move(answer);
}

Task<nlohmann::json> OAuth2Mixin::oauth2_exchange_code(std::string redirect_uri, std::string code,
                                                       std::string client_id,
                                                       std::string client_secret) {
  auto request = std::make_shared<httpclient::HTTPRequest>(
      provider_request(require_url(oauth_access_token_url_, "oauth_access_token_url_")));
  request->method = "POST";
  request->headers.set("Content-Type", "application/x-www-form-urlencoded");
  request->headers.set("Accept", "application/json");  // GitHub answers a form otherwise
  request->body = detail::form_encode({{"redirect_uri", std::move(redirect_uri)},
                                       {"code", std::move(code)},
                                       {"client_id", std::move(client_id)},
                                       {"client_secret", std::move(client_secret)},
                                       {"grant_type", "authorization_code"}});
  auto fetch = detail::provider_fetch(get_auth_http_client(), request, "OAuth2 token request");
  httpclient::HTTPResponse response = co_await std::move(fetch);
  nlohmann::json token;
  try {
    token = escape::json_decode(response.body);
  } catch (const std::invalid_argument&) {
    throw AuthError(502, "OAuth2 token response is not JSON: " + detail::snippet(response.body));
  }
  if (!token.is_object()) {
    throw AuthError(502,
                    "OAuth2 token response is not an object: " + detail::snippet(response.body));
  }
  if (auto error = token.find("error"); error != token.end()) {
    std::string message =
        "OAuth2 token request refused: " +
        detail::snippet(error->is_string() ? error->get<std::string>() : error->dump());
    if (auto d = token.find("error_description"); d != token.end() && d->is_string()) {
      message += " (" + detail::snippet(d->get<std::string>()) + ")";
    }
    throw AuthError(502, message);
  }
  auto access = token.find("access_token");
  if (access == token.end() || !access->is_string() || access->get<std::string>().empty()) {
    throw AuthError(
        502, "OAuth2 token response without access_token: " + detail::snippet(response.body));
  }
  co_return token;
}

Task<nlohmann::json> OAuth2Mixin::exchange_code_from_settings(std::string redirect_uri,
                                                              std::optional<std::string> code,
                                                              std::string settings_key,
                                                              std::string provider) {
  check_oauth2_state();
  std::string the_code = code ? std::move(*code) : auth_handler().get_argument("code");
  auto exchange = oauth2_exchange_code(std::move(redirect_uri), std::move(the_code),
                                       require_setting(settings_key, "key", provider),
                                       require_setting(settings_key, "secret", provider));
  co_return co_await std::move(exchange);
}

// ---- Google ----

GoogleOAuth2Mixin::GoogleOAuth2Mixin() {
  oauth_authorize_url_ = "https://accounts.google.com/o/oauth2/v2/auth";
  oauth_access_token_url_ = "https://www.googleapis.com/oauth2/v4/token";
}

Task<nlohmann::json> GoogleOAuth2Mixin::get_authenticated_user(std::string redirect_uri,
                                                               std::string code) {
  return exchange_code_from_settings(std::move(redirect_uri), std::move(code), oauth_settings_key_,
                                     "Google OAuth");
}

Task<nlohmann::json> GoogleOAuth2Mixin::get_authenticated_user(std::string redirect_uri) {
  return exchange_code_from_settings(std::move(redirect_uri), std::nullopt, oauth_settings_key_,
                                     "Google OAuth");
}

Task<nlohmann::json> GoogleOAuth2Mixin::get_user_info(std::string access_token) {
  auto call = oauth2_request(oauth_userinfo_url_, std::move(access_token));
  co_return co_await std::move(call);
}

// ---- GitHub ----

GitHubOAuth2Mixin::GitHubOAuth2Mixin() {
  oauth_authorize_url_ = "https://github.com/login/oauth/authorize";
  oauth_access_token_url_ = "https://github.com/login/oauth/access_token";
  oauth2_bearer_header_ = true;  // GitHub's API takes no access_token query argument
}

Task<nlohmann::json> GitHubOAuth2Mixin::get_authenticated_user(std::string redirect_uri,
                                                               std::string code) {
  return exchange_code_from_settings(std::move(redirect_uri), std::move(code), oauth_settings_key_,
                                     "GitHub OAuth");
}

Task<nlohmann::json> GitHubOAuth2Mixin::get_authenticated_user(std::string redirect_uri) {
  return exchange_code_from_settings(std::move(redirect_uri), std::nullopt, oauth_settings_key_,
                                     "GitHub OAuth");
}

Task<nlohmann::json> GitHubOAuth2Mixin::get_user_info(std::string access_token) {
  auto call = oauth2_request(oauth_userinfo_url_, std::move(access_token));
  co_return co_await std::move(call);
}

}  // namespace tornado::auth
