// tornado/auth.h — third-party sign-in (Tornado's tornado.auth): OAuth 2 (Google, GitHub)
// and OAuth 1.0a (Twitter), as mixins a handler inherits beside web::RequestHandler.
//
//   struct GoogleLogin : web::RequestHandler, auth::GoogleOAuth2Mixin {
//     Task<> get() override {
//       const std::string redirect_uri = "https://example.com/auth/google";
//       if (get_optional_argument("code") || get_optional_argument("error")) {
//         nlohmann::json token = co_await get_authenticated_user(redirect_uri);
//         nlohmann::json user = co_await get_user_info(token["access_token"].get<std::string>());
//         set_signed_cookie("user", user["email"].get<std::string>());
//         redirect("/");
//         co_return;
//       }
//       authorize_redirect(redirect_uri,
//       settings().extra["google_oauth"]["key"].get<std::string>(),
//                          std::nullopt, {}, {"profile", "email"});
//       co_return;
//     }
//   };
//
// A mixin reaches its handler by a cross-cast (dynamic_cast), so the class that inherits it
// must also inherit web::RequestHandler (std::logic_error otherwise, at the first call). The
// provider's endpoints are protected members (Tornado's _OAUTH_*_URL class attributes) that
// a handler may change, e.g. in initialize(), to point at another (or a fake) provider.
//
// OAuth 2 state (beyond Tornado): authorize_redirect stores a random `state` in a signed
// cookie (needs settings.cookie_secret) and sends it to the provider; the Google and GitHub
// get_authenticated_user check it on the callback (check_oauth2_state) before exchanging
// the code. A mismatch, or the provider's `error=access_denied`, is an AuthError (403).
//
// Errors: AuthError is a web::HTTPError, so an uncaught one ends the request with its
// status (403: the user's side — denied, state or request-token cookie missing or wrong;
// 502: the provider's — an error response or an unreadable token) and logs its message.
// The API calls (oauth2_request, twitter_request) raise httpclient::HTTPClientError as
// Tornado does. Thread rule: loop thread only (a handler's).
//
// g++ 12 rule (docs/task.md): build Params and other arguments in named variables before
// the co_await, not as braced lists inside it.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tornado/httpclient.h"
#include "tornado/task.h"
#include "tornado/web.h"

namespace tornado::auth {

// Name/value pairs, in order, repeats allowed (query and form arguments).
using Params = std::vector<std::pair<std::string, std::string>>;

// A failed sign-in (Tornado's AuthError). A web::HTTPError: 403 for the user's side, 502
// for the provider's; the message is the log message (not shown to the user).
class AuthError : public web::HTTPError {
 public:
  AuthError(int status_code, std::string message)
      : web::HTTPError(status_code, std::move(message)) {}
};

// ---- OAuth 1.0a signatures (RFC 5849), pure functions, any thread ----

// RFC 5849 3.6: UTF-8 bytes percent-encoded, only A-Z a-z 0-9 - . _ ~ kept, hex upper case.
std::string oauth_escape(std::string_view value);
// RFC 5849 3.4.1.2: scheme and host lower case, the port only when not the scheme's
// default, the path ("/" when empty), no query or fragment. std::invalid_argument for a
// URL that is not absolute http(s).
std::string oauth_base_string_uri(std::string_view url);
// RFC 5849 3.4.1: METHOD&uri&params, each part encoded. `params` are the decoded protocol
// and request parameters (form body ones included); the query parameters of `url` are
// collected too (decoded as a form: '+' is a space). "oauth_signature" and "realm" are
// left out. Names and values are encoded, then sorted by name and, for equal names, by
// value (3.4.1.3.2).
std::string oauth_signature_base_string(std::string_view method, std::string_view url,
                                        const Params& params);
// RFC 5849 3.4.2: base64(HMAC-SHA1(escape(consumer_secret) & escape(token_secret),
// base_string)). An empty token secret for the request-token step.
std::string oauth_hmac_sha1(std::string_view consumer_secret, std::string_view token_secret,
                            std::string_view base_string);
// Both steps: the signature of a request.
std::string oauth_signature(std::string_view consumer_secret, std::string_view token_secret,
                            std::string_view method, std::string_view url, const Params& params);
// A fresh nonce: 32 hex digits of 16 random bytes (RAND_bytes).
std::string oauth_nonce();

// An OAuth 1 token (request or access): key, secret, and whatever else the provider sent
// (Twitter's screen_name, user_id). Not an aggregate (the g++ 12 rule).
struct OAuthToken {
  OAuthToken() {}
  OAuthToken(std::string key, std::string secret)
      : key(std::move(key)), secret(std::move(secret)) {}
  std::string key;
  std::string secret;
  std::map<std::string, std::string> extra;

  // {"key": ..., "secret": ..., <extra>...}: Tornado's access_token dict.
  nlohmann::json to_json() const;
  // The inverse; std::invalid_argument without string "key" and "secret".
  static OAuthToken from_json(const nlohmann::json& value);
};

// Reads a provider's form-encoded token answer ("oauth_token=..&oauth_token_secret=..&..").
// AuthError (502) when oauth_token or oauth_token_secret is missing.
OAuthToken parse_oauth_response(std::string_view body);

namespace detail {
// What every mixin shares: the handler (by cross-cast) and the HTTP client.
class AuthMixinBase {
 public:
  virtual ~AuthMixinBase() = default;

 protected:
  AuthMixinBase() = default;
  AuthMixinBase(const AuthMixinBase&) = delete;
  AuthMixinBase& operator=(const AuthMixinBase&) = delete;

  // The handler this mixin is part of; std::logic_error if the class is no RequestHandler.
  web::RequestHandler& auth_handler();
  // The client for calls to the provider (default: the loop's shared AsyncHTTPClient).
  virtual std::shared_ptr<httpclient::AsyncHTTPClient> get_auth_http_client();
  // A request to the provider: `url`, with auth_request_timeout_.
  httpclient::HTTPRequest provider_request(std::string url) const;
  // Sends `request` (a form POST of `post_args` when given) with get_auth_http_client() and
  // returns the answer's JSON: the tail of oauth_request and oauth2_request.
  Task<nlohmann::json> fetch_json(httpclient::HTTPRequest request, std::optional<Params> post_args);
  // std::logic_error naming `what` when `url` is empty (an endpoint left unset).
  static const std::string& require_url(const std::string& url, std::string_view what);
  // settings.extra[name] as a string; std::logic_error naming the setting when absent.
  std::string require_setting(std::string_view name, std::string_view feature);
  // settings.extra[name][field] ({"key", "secret"} objects such as google_oauth).
  std::string require_setting(std::string_view name, std::string_view field,
                              std::string_view feature);

  // Bounds every request to the provider (connect and whole exchange; nullopt = none).
  std::optional<Duration> auth_request_timeout_ = Duration(20);
};
}  // namespace detail

// ---- OAuth 1.0 / 1.0a (Tornado's OAuthMixin) ----

class OAuthMixin : public detail::AuthMixinBase {
 public:
  // Gets a request token (a signed GET to oauth_request_token_url_, with oauth_callback
  // made absolute against the request's URL, or "oob"), keeps it in the
  // `_oauth_request_token` cookie (base64(key)|base64(secret), as Tornado) and redirects to
  // oauth_authorize_url_?oauth_token=... ("oob": writes that URL as the response instead).
  // Finishes the response. std::logic_error for a callback when oauth_no_callbacks_;
  // AuthError (502) when the provider fails.
  Task<> authorize_redirect(std::optional<std::string> callback_uri = std::nullopt,
                            Params extra_params = {});
  // On the callback: checks the `oauth_token` argument against the cookie (and clears it),
  // exchanges it (with `oauth_verifier`) for an access token, and returns
  // oauth_get_user(token) with "access_token" set to token.to_json(). AuthError: 403 for
  // a `denied` argument, a missing or mismatched cookie; 502 for a provider failure or an
  // empty user. A missing oauth_token argument is a 400 (MissingArgumentError).
  Task<nlohmann::json> get_authenticated_user();
  // The oauth_* parameters (signature included) that sign a request for `url` made with
  // `access_token`; `parameters` are the request's own (query and form) parameters.
  Params oauth_request_parameters(std::string_view url, const OAuthToken& access_token,
                                  const Params& parameters = {}, std::string_view method = "GET");

 protected:
  // The application's consumer key and secret.
  virtual OAuthToken oauth_consumer_token() = 0;
  // The user for an access token (e.g. an API call made with it); null or empty = failure.
  virtual Task<nlohmann::json> oauth_get_user(OAuthToken access_token) = 0;

  // Tornado's _OAUTH_* attributes.
  std::string oauth_request_token_url_;
  std::string oauth_authorize_url_;
  std::string oauth_access_token_url_;
  std::string oauth_version_ = "1.0a";  // or "1.0": no oauth_callback, secrets not escaped
  bool oauth_no_callbacks_ = false;

  // The signed URL of the request-token step.
  std::string oauth_request_token_request_url(const std::optional<std::string>& callback_uri,
                                              const Params& extra_params);
  // The signed URL of the access-token step.
  std::string oauth_access_token_request_url(const OAuthToken& request_token,
                                             const std::optional<std::string>& verifier);
  // Common to authorize_redirect and TwitterMixin::authenticate_redirect.
  Task<> redirect_with_request_token(std::string authorize_url,
                                     std::optional<std::string> callback_uri, Params extra_params,
                                     bool callback_in_redirect);

 private:
  std::string sign(const OAuthToken& consumer, const OAuthToken* token, std::string_view method,
                   std::string_view url, const Params& params) const;
};

// Twitter (Tornado's TwitterMixin). Settings: extra["twitter_consumer_key"] and
// extra["twitter_consumer_secret"]. The user is verify_credentials' answer with "username"
// (= screen_name) and "access_token" added.
class TwitterMixin : public OAuthMixin {
 public:
  TwitterMixin();
  // authorize_redirect through oauth_authenticate_url_ (signs in without asking again a
  // user who already authorised the application).
  Task<> authenticate_redirect(std::optional<std::string> callback_uri = std::nullopt);
  // Calls the API: `path` ("/statuses/user_timeline/btaylor") under twitter_base_url_
  // with ".json" appended, or an absolute http(s) URL as it is. Signed with `access_token`
  // when given (key not empty); a POST with `post_args` (form body), else a GET with
  // `args` in the query. Returns the decoded JSON; HTTPClientError for an error response.
  Task<nlohmann::json> twitter_request(std::string path, OAuthToken access_token,
                                       std::optional<Params> post_args = std::nullopt,
                                       Params args = {});

 protected:
  OAuthToken oauth_consumer_token() override;
  Task<nlohmann::json> oauth_get_user(OAuthToken access_token) override;

  std::string oauth_authenticate_url_ = "https://api.twitter.com/oauth/authenticate";
  std::string twitter_base_url_ = "https://api.twitter.com/1.1";
};

// ---- OAuth 2 (Tornado's OAuth2Mixin) ----

class OAuth2Mixin : public detail::AuthMixinBase {
 public:
  // Redirects to oauth_authorize_url_ with response_type, redirect_uri, client_id,
  // extra_params, scope (joined by spaces) and, unless extra_params has its own "state"
  // or oauth2_state_ is off, a fresh random `state` also kept in the signed cookie
  // `_oauth2_state` (needs settings.cookie_secret: std::logic_error otherwise). Does not
  // finish the handler's task: return after it. client_secret is accepted for Tornado's
  // signature and never sent to the browser.
  void authorize_redirect(std::optional<std::string> redirect_uri = std::nullopt,
                          std::optional<std::string> client_id = std::nullopt,
                          std::optional<std::string> client_secret = std::nullopt,
                          Params extra_params = {}, std::vector<std::string> scope = {},
                          std::string response_type = "code");
  // The callback's checks, before any exchange: the provider's `error` argument →
  // AuthError 403 naming it (and its error_description); no `state` argument → 400; a
  // state unlike the cookie's (or no cookie, or an expired one) → 403. Clears the cookie.
  // Does nothing when oauth2_state_ is off.
  void check_oauth2_state();
  // Fetches `url` with an access token: in the query (access_token=..., Tornado's way) or,
  // when oauth2_bearer_header_, as "Authorization: Bearer" (GitHub); `args` go in the
  // query. A POST with `post_args` (form body) when given. Returns the decoded JSON;
  // HTTPClientError for an error response.
  Task<nlohmann::json> oauth2_request(std::string url,
                                      std::optional<std::string> access_token = std::nullopt,
                                      std::optional<Params> post_args = std::nullopt,
                                      Params args = {});
  // Exchanges an authorization code at oauth_access_token_url_ (a form POST with
  // grant_type=authorization_code, Accept: application/json) and returns the token JSON.
  // AuthError 502 when the provider answers an error status, a JSON `error`, no
  // access_token, or no JSON.
  Task<nlohmann::json> oauth2_exchange_code(std::string redirect_uri, std::string code,
                                            std::string client_id, std::string client_secret);

 protected:
  // What Google's and GitHub's get_authenticated_user do: check_oauth2_state(), then
  // oauth2_exchange_code with the client id and secret of settings extra[settings_key]
  // ({"key", "secret"}; `provider` names them in the error when missing). No `code`: the
  // request's `code` argument, read after the check.
  Task<nlohmann::json> exchange_code_from_settings(std::string redirect_uri,
                                                   std::optional<std::string> code,
                                                   std::string settings_key, std::string provider);
  std::string oauth_authorize_url_;
  std::string oauth_access_token_url_;
  bool oauth2_state_ = true;                     // generate and check the state parameter
  double oauth2_state_max_age_days_ = 1.0 / 24;  // a state cookie older than an hour fails
  bool oauth2_bearer_header_ = false;            // send the token in Authorization, not the query
};

// Google (Tornado's GoogleOAuth2Mixin). Settings: extra["google_oauth"] = {"key": client
// id, "secret": client secret}.
class GoogleOAuth2Mixin : public OAuth2Mixin {
 public:
  GoogleOAuth2Mixin();
  // Checks the state (check_oauth2_state), then exchanges `code` and returns the token
  // JSON ("access_token", "expires_in", "id_token", ...), as Tornado (no user fields).
  Task<nlohmann::json> get_authenticated_user(std::string redirect_uri, std::string code);
  // The same with the request's `code` argument, read after the checks: a refusal (which
  // comes back with `error` and no code) is then reported as such (403), not as a missing
  // argument. The form to call whenever the callback has `code` or `error`.
  Task<nlohmann::json> get_authenticated_user(std::string redirect_uri);
  // oauth2_request(oauth_userinfo_url_, access_token): the user's profile.
  Task<nlohmann::json> get_user_info(std::string access_token);

 protected:
  std::string oauth_userinfo_url_ = "https://www.googleapis.com/oauth2/v1/userinfo";
  std::string oauth_settings_key_ = "google_oauth";
};

// GitHub (not in Tornado; shaped like the Google one). Settings: extra["github_oauth"] =
// {"key": client id, "secret": client secret}. The token endpoint is asked for JSON; API
// calls carry the token as "Authorization: Bearer".
class GitHubOAuth2Mixin : public OAuth2Mixin {
 public:
  GitHubOAuth2Mixin();
  // Checks the state, then exchanges `code`: {"access_token", "token_type", "scope"}.
  // GitHub answers a bad code with 200 and {"error": ...}: AuthError 502 naming it.
  Task<nlohmann::json> get_authenticated_user(std::string redirect_uri, std::string code);
  // The same with the request's `code` argument, read after the checks (as Google's).
  Task<nlohmann::json> get_authenticated_user(std::string redirect_uri);
  // The signed-in user (GET oauth_userinfo_url_, /user): login, id, name, email, ...
  Task<nlohmann::json> get_user_info(std::string access_token);

 protected:
  std::string oauth_userinfo_url_ = "https://api.github.com/user";
  std::string oauth_settings_key_ = "github_oauth";
};

}  // namespace tornado::auth
