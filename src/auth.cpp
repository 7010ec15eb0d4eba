// tornado::auth — what the OAuth mixins share: RFC 5849 percent-encoding, signature base
// strings and HMAC-SHA1, tokens, the handler cross-cast, settings and provider calls.
#include "tornado/auth.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

#include "internal/auth_internal.h"
#include "internal/http_url.h"
#include "tornado/escape.h"

namespace tornado::auth {

namespace {

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// Query text to decoded pairs, as a form (RFC 5849 3.4.1.3.1): "c2" alone is ("c2", "").
void collect_query(std::string_view query, Params& out) {
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    std::size_t eq = pair.find('=');
    std::string_view name = pair.substr(0, eq);
    std::string_view value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    out.emplace_back(escape::url_unescape(name, true), escape::url_unescape(value, true));
  }
}

}  // namespace

std::string oauth_escape(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (unsigned char c : value) {
    if (is_unreserved(c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string oauth_base_string_uri(std::string_view url) {
  httpclient::detail::ParsedURL parsed = httpclient::detail::parse_url(url);
  std::string path = parsed.target.substr(0, parsed.target.find('?'));
  if (path.empty()) path = "/";
  // host_header(): lower-case host, brackets for IPv6, the port only when not the default.
  return parsed.scheme + "://" + parsed.host_header() + path;
}

std::string oauth_signature_base_string(std::string_view method, std::string_view url,
                                        const Params& params) {
  Params all;
  if (std::size_t q = url.find('?'); q != std::string_view::npos) {
    std::string_view query = url.substr(q + 1);
    query = query.substr(0, query.find('#'));
    collect_query(query, all);
  }
  all.insert(all.end(), params.begin(), params.end());
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(all.size());
  for (const auto& [name, value] : all) {
    if (name == "oauth_signature" || name == "realm") continue;
    encoded.emplace_back(oauth_escape(name), oauth_escape(value));
  }
  std::sort(encoded.begin(), encoded.end());  // by name, then value (3.4.1.3.2)
  std::string normalized;
  for (const auto& [name, value] : encoded) {
    if (!normalized.empty()) normalized += '&';
    normalized += name;
    normalized += '=';
    normalized += value;
  }
  std::string upper(method);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return oauth_escape(upper) + '&' + oauth_escape(oauth_base_string_uri(url)) + '&' +
         oauth_escape(normalized);
}

std::string oauth_hmac_sha1(std::string_view consumer_secret, std::string_view token_secret,
                            std::string_view base_string) {
  return detail::hmac_sha1_base64(oauth_escape(consumer_secret) + '&' + oauth_escape(token_secret),
                                  base_string);
}

std::string oauth_signature(std::string_view consumer_secret, std::string_view token_secret,
                            std::string_view method, std::string_view url, const Params& params) {
  return oauth_hmac_sha1(consumer_secret, token_secret,
                         oauth_signature_base_string(method, url, params));
}

std::string oauth_nonce() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("RAND_bytes failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

nlohmann::json OAuthToken::to_json() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, value] : extra) out[name] = value;
  out["key"] = key;
  out["secret"] = secret;
  return out;
}

OAuthToken OAuthToken::from_json(const nlohmann::json& value) {
  if (!value.is_object() || !value.contains("key") || !value["key"].is_string() ||
      !value.contains("secret") || !value["secret"].is_string()) {
    throw std::invalid_argument("OAuthToken::from_json: needs string \"key\" and \"secret\"");
  }
  OAuthToken token(value["key"].get<std::string>(), value["secret"].get<std::string>());
  for (const auto& [name, v] : value.items()) {
    if (name != "key" && name != "secret" && v.is_string())
      token.extra[name] = v.get<std::string>();
  }
  return token;
}

OAuthToken parse_oauth_response(std::string_view body) {
  Params pairs;
  collect_query(body, pairs);
  std::optional<std::string> key, secret;
  std::map<std::string, std::string> extra;
  for (auto& [name, value] : pairs) {
    if (value.empty()) continue;  // parse_qs without keep_blank_values, as Tornado
    if (name == "oauth_token") {
      if (!key) key = value;
    } else if (name == "oauth_token_secret") {
      if (!secret) secret = value;
    } else {
      extra.emplace(name, value);  // the first of repeated names, as p[k][0]
    }
  }
  if (!key || !secret) {
    throw AuthError(502, "OAuth token response without oauth_token and oauth_token_secret: " +
                             detail::snippet(body));
  }
  OAuthToken token(std::move(*key), std::move(*secret));
  token.extra = std::move(extra);
  return token;
}

namespace detail {

web::RequestHandler& AuthMixinBase::auth_handler() {
  auto* handler = dynamic_cast<web::RequestHandler*>(this);
  if (handler == nullptr) {
    throw std::logic_error("tornado::auth: a mixin must be inherited by a web::RequestHandler");
  }
  return *handler;
}

std::shared_ptr<httpclient::AsyncHTTPClient> AuthMixinBase::get_auth_http_client() {
  return httpclient::AsyncHTTPClient::current();
}

httpclient::HTTPRequest AuthMixinBase::provider_request(std::string url) const {
  httpclient::HTTPRequest request(std::move(url));
  request.connect_timeout = auth_request_timeout_;
  request.request_timeout = auth_request_timeout_;
  return request;
}

Task<nlohmann::json> AuthMixinBase::fetch_json(httpclient::HTTPRequest request,
                                               std::optional<Params> post_args) {
  if (post_args) {
    request.method = "POST";
    request.body = form_encode(*post_args);
  }
  auto client = get_auth_http_client();
  httpclient::HTTPResponse response = co_await client->fetch(request);
  co_return escape::json_decode(response.body);
}

const std::string& AuthMixinBase::require_url(const std::string& url, std::string_view what) {
  if (url.empty()) {
    throw std::logic_error("tornado::auth: " + std::string(what) +
                           " is not set (assign it, e.g. in initialize())");
  }
  return url;
}

std::string AuthMixinBase::require_setting(std::string_view name, std::string_view feature) {
  const nlohmann::json& extra = auth_handler().settings().extra;
  auto it = extra.find(name);
  if (it == extra.end() || !it->is_string()) {
    throw std::logic_error("You must define the '" + std::string(name) +
                           "' setting in your application to use " + std::string(feature));
  }
  return it->get<std::string>();
}

std::string AuthMixinBase::require_setting(std::string_view name, std::string_view field,
                                           std::string_view feature) {
  const nlohmann::json& extra = auth_handler().settings().extra;
  auto it = extra.find(name);
  if (it == extra.end() || !it->is_object() || !it->contains(field) ||
      !(*it)[std::string(field)].is_string()) {
    throw std::logic_error("You must define the '" + std::string(name) + "' setting (with \"" +
                           std::string(field) + "\") in your application to use " +
                           std::string(feature));
  }
  return (*it)[std::string(field)].get<std::string>();
}

std::string hmac_sha1_base64(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest,
           &length) == nullptr) {
    throw std::runtime_error("HMAC-SHA1 failed");
  }
  return escape::base64_encode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

std::string form_encode(const Params& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    out += escape::url_escape(name, true);
    out += '=';
    out += escape::url_escape(value, true);
  }
  return out;
}

std::string snippet(std::string_view body, std::size_t limit) {
  std::string out(body.substr(0, limit));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  if (body.size() > limit) out += "...";
  return out;
}

Task<httpclient::HTTPResponse> provider_fetch(
    std::shared_ptr<httpclient::AsyncHTTPClient> client,
    std::shared_ptr<const httpclient::HTTPRequest> request, std::string step) {
  std::string failure;
  try {
    httpclient::HTTPResponse response = co_await client->fetch(*request, false);
    if (response.code >= 200 && response.code < 300) co_return response;
    failure = "HTTP " + std::to_string(response.code) + ": " + snippet(response.body);
  } catch (const httpclient::HTTPClientError& e) {
    failure = e.what();  // 599: no answer at all
  }
  throw AuthError(502, step + " failed: " + failure);
}

}  // namespace detail

}  // namespace tornado::auth
