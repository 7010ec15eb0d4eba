// RequestHandler: signed cookies and XSRF tokens, in Tornado's formats (web/signing.h,
// web/xsrf.h do the cryptography).
#include <chrono>

#include "tornado/escape.h"
#include "tornado/web.h"

namespace tornado::web {

namespace {

const CookieSecret& require_secret(const Settings& s) {
  if (s.cookie_secret.empty()) {
    throw std::logic_error(
        "You must define the 'cookie_secret' setting in your application to use secure cookies");
  }
  return s.cookie_secret;
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string RequestHandler::create_signed_value(std::string_view name, std::string_view value,
                                                std::optional<int> version) const {
  const CookieSecret& secret = require_secret(settings());
  std::optional<int> key_version;
  if (secret.versioned()) {
    if (!settings().key_version) {
      throw std::logic_error("key_version setting must be used for secret_key dicts");
    }
    key_version = settings().key_version;
  }
  return web::create_signed_value(secret, name, value, version.value_or(2), std::nullopt,
                                  key_version);
}

void RequestHandler::set_signed_cookie(std::string_view name, std::string_view value,
                                       std::optional<double> expires_days, CookieOptions options,
                                       std::optional<int> version) {
  if (expires_days && !options.expires) options.expires_days = expires_days;
  set_cookie(name, create_signed_value(name, value, version), options);
}

std::optional<std::string> RequestHandler::get_signed_cookie(std::string_view name,
                                                             std::optional<std::string_view> value,
                                                             double max_age_days, int min_version) {
  const CookieSecret& secret = require_secret(settings());
  std::optional<std::string> cookie;
  if (value) {
    cookie = std::string(*value);
  } else {
    cookie = get_cookie(name);
  }
  if (!cookie) return std::nullopt;
  return decode_signed_value(secret, name, *cookie, max_age_days, std::nullopt, min_version);
}

std::optional<int> RequestHandler::get_signed_cookie_key_version(
    std::string_view name, std::optional<std::string_view> value) {
  require_secret(settings());
  std::optional<std::string> cookie;
  if (value) {
    cookie = std::string(*value);
  } else {
    cookie = get_cookie(name);
  }
  if (!cookie) return std::nullopt;
  return get_signature_key_version(*cookie);
}

const XsrfToken& RequestHandler::raw_xsrf_token() {
  if (!response().raw_xsrf_token) {
    std::optional<XsrfToken> decoded;
    if (auto cookie = get_cookie(settings().xsrf_cookie_name); cookie && !cookie->empty()) {
      decoded = decode_xsrf_token(*cookie);
    }
    if (!decoded) {
      decoded = XsrfToken{0, generate_xsrf_token(), unix_now()};  // version 0: no cookie yet
    }
    response().raw_xsrf_token = std::move(decoded);
  }
  return *response().raw_xsrf_token;
}

const std::string& RequestHandler::xsrf_token() {
  if (response().xsrf_token.empty()) {
    const XsrfToken& raw = raw_xsrf_token();
    const int output_version = settings().xsrf_cookie_version;
    if (output_version == 1) {
      response().xsrf_token = encode_xsrf_token_v1(raw.token);
    } else if (output_version == 2) {
      response().xsrf_token = encode_xsrf_token(raw.token, raw.timestamp);
    } else {
      throw std::invalid_argument("unknown xsrf cookie version " + std::to_string(output_version));
    }
    if (raw.version == 0) {
      CookieOptions options = settings().xsrf_cookie_kwargs;
      // Tornado: a logged-in user's token cookie lasts 30 days unless told otherwise.
      const auto& user = current_user();
      if (!user.is_null() && !options.expires && !options.expires_days) {
        options.expires_days = 30;
      }
      set_cookie(settings().xsrf_cookie_name, response().xsrf_token, options);
    }
  }
  return response().xsrf_token;
}

std::string RequestHandler::xsrf_form_html() {
  return "<input type=\"hidden\" name=\"_xsrf\" value=\"" + escape::xhtml_escape(xsrf_token()) +
         "\"/>";
}

void RequestHandler::check_xsrf_cookie() {
  std::optional<std::string> sent = get_optional_argument("_xsrf");
  if (!sent || sent->empty()) {
    if (auto h = request_->headers.get_first("X-Xsrftoken")) {
      sent = std::string(*h);
    } else if (auto c = request_->headers.get_first("X-Csrftoken")) {
      sent = std::string(*c);
    }
  }
  if (!sent || sent->empty()) throw HTTPError(403, "'_xsrf' argument missing from POST");
  auto token = decode_xsrf_token(*sent);
  const XsrfToken& expected = raw_xsrf_token();
  if (!token) throw HTTPError(403, "'_xsrf' argument has invalid format");
  if (!constant_time_equal(token->token, expected.token)) {
    throw HTTPError(403, "XSRF cookie does not match POST argument");
  }
}

}  // namespace tornado::web
