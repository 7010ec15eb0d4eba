// RequestHandler: arguments, path arguments, cookies, users, the locale, URLs.
#include <algorithm>
#include <cstdlib>
#include <memory>

#include "tornado/escape.h"
#include "tornado/web.h"
#include "web/web_internal.h"

namespace tornado::web {

namespace {

// Python's str.strip() whitespace (ASCII part).
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' ||
         (c >= '\x1c' && c <= '\x1f');
}

std::string_view strip(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// http.cookies' legal key characters.
bool cookie_legal(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~:").find(c) != std::string_view::npos;
}

// The value as Python's SimpleCookie writes it: as is when non-empty and every character
// is legal, otherwise in double quotes, with '"' and '\' backslashed and any byte other
// than the legal ones and " ()/<=>?@[]{}" as \ooo (';' is \073). Both sides then read
// each other's cookies the same way.
std::string quote_cookie_value(std::string_view value) {
  if (!value.empty() && std::all_of(value.begin(), value.end(), cookie_legal)) {
    return std::string(value);
  }
  std::string out = "\"";
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (cookie_legal(c) ||
               std::string_view(" ()/<=>?@[]{}").find(c) != std::string_view::npos) {
      out.push_back(c);
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\%03o", u);
      out += buf;
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace

std::vector<std::string> RequestHandler::collect_arguments(const httputil::Arguments& source,
                                                           std::string_view name,
                                                           bool strip_value) const {
  std::vector<std::string> values;
  auto it = source.find(name);
  if (it == source.end()) return values;
  values.reserve(it->second.size());
  for (const std::string& raw : it->second) {
    if (!detail::is_valid_utf8(raw)) {
      throw HTTPError(400, "Invalid unicode in {}: {}", name,
                      escape::url_escape(raw.substr(0, 40)));
    }
    std::string value(strip_value ? strip(raw) : std::string_view(raw));
    // Tornado replaces control characters other than \t \n \r (and \v \f) with spaces.
    for (char& c : value) {
      if ((c >= '\x00' && c <= '\x08') || (c >= '\x0e' && c <= '\x1f')) c = ' ';
    }
    if (strip_value) value = std::string(strip(value));
    values.push_back(std::move(value));
  }
  return values;
}

std::vector<std::string> RequestHandler::get_arguments(std::string_view name, bool s) const {
  return collect_arguments(request_->arguments, name, s);
}
std::vector<std::string> RequestHandler::get_query_arguments(std::string_view name, bool s) const {
  return collect_arguments(request_->query_arguments, name, s);
}
std::vector<std::string> RequestHandler::get_body_arguments(std::string_view name, bool s) const {
  return collect_arguments(request_->body_arguments, name, s);
}

namespace {
std::string last_or_missing(std::vector<std::string> values, std::string_view name) {
  if (values.empty()) throw MissingArgumentError(std::string(name));
  return std::move(values.back());
}
std::string last_or(std::vector<std::string> values, std::string_view fallback) {
  if (values.empty()) return std::string(fallback);
  return std::move(values.back());
}
}  // namespace

std::string RequestHandler::get_argument(std::string_view name, bool s) const {
  return last_or_missing(get_arguments(name, s), name);
}
std::string RequestHandler::get_argument(std::string_view name, std::string_view d, bool s) const {
  return last_or(get_arguments(name, s), d);
}
std::optional<std::string> RequestHandler::get_optional_argument(std::string_view name,
                                                                 bool s) const {
  auto values = get_arguments(name, s);
  if (values.empty()) return std::nullopt;
  return std::move(values.back());
}
std::string RequestHandler::get_query_argument(std::string_view name, bool s) const {
  return last_or_missing(get_query_arguments(name, s), name);
}
std::string RequestHandler::get_query_argument(std::string_view name, std::string_view d,
                                               bool s) const {
  return last_or(get_query_arguments(name, s), d);
}
std::string RequestHandler::get_body_argument(std::string_view name, bool s) const {
  return last_or_missing(get_body_arguments(name, s), name);
}
std::string RequestHandler::get_body_argument(std::string_view name, std::string_view d,
                                              bool s) const {
  return last_or(get_body_arguments(name, s), d);
}

const std::string& RequestHandler::path_arg(std::size_t index) const {
  const auto& args = path_args().args;
  if (index >= args.size()) {
    throw std::out_of_range("path_arg(" + std::to_string(index) + "): the route has " +
                            std::to_string(args.size()) + " positional groups");
  }
  return args[index];
}

const std::string& RequestHandler::path_kwarg(std::string_view name) const {
  for (const auto& [key, value] : path_args().kwargs) {
    if (key == name) return value;
  }
  throw std::out_of_range("path_kwarg: the route has no group named " + std::string(name));
}

// ---- cookies ----

std::optional<std::string> RequestHandler::get_cookie(std::string_view name) const {
  if (request_.compacted()) {
    // Answering "no such cookie" would be wrong, and silently so (a signed-in user would
    // look anonymous): the headers were freed after a WebSocket's open().
    throw std::logic_error("get_cookie(\"" + std::string(name) +
                           "\") after open(): a WebSocket's request headers are released once "
                           "open() returned; read cookies in prepare() or open()");
  }
  const auto& cookies = request_->cookies();
  auto it = cookies.find(name);
  if (it == cookies.end()) return std::nullopt;
  return it->second;
}

void RequestHandler::set_cookie(std::string_view name, std::string_view value,
                                const CookieOptions& o) {
  for (char c : std::string(name) + std::string(value)) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      throw std::invalid_argument("Invalid cookie " + std::string(name) + ": " +
                                  std::string(value));
    }
  }
  if (name.empty() || !std::all_of(name.begin(), name.end(), cookie_legal)) {
    throw std::invalid_argument("Illegal cookie name " + std::string(name));
  }
  // ';' would start another attribute; a control character (CR, LF, NUL, ...) would only
  // be caught as the headers go out, after the handler has returned.
  for (std::string_view attr : {o.domain, o.path, o.samesite}) {
    if (std::any_of(attr.begin(), attr.end(), [](char c) {
          return c == ';' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
        })) {
      throw std::invalid_argument("Invalid cookie attribute " + std::string(attr));
    }
  }
  std::string line(name);
  line += '=';
  line += quote_cookie_value(value);
  // Attributes in the order Python's Morsel writes them (sorted by key).
  if (!o.domain.empty()) line += "; Domain=" + o.domain;
  std::optional<std::int64_t> expires = o.expires;
  if (!expires && o.expires_days) {
    auto now = std::chrono::system_clock::now();
    expires = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() +
              static_cast<std::int64_t>(*o.expires_days * 86400);
  }
  if (expires) line += "; expires=" + httputil::format_timestamp(*expires);
  if (o.httponly) line += "; HttpOnly";
  if (o.max_age) line += "; Max-Age=" + std::to_string(*o.max_age);
  if (o.partitioned) line += "; Partitioned";
  if (!o.path.empty()) line += "; Path=" + o.path;
  if (!o.samesite.empty()) line += "; SameSite=" + o.samesite;
  if (o.secure) line += "; Secure";
  // A second set_cookie of the same name replaces the first (one Morsel per name).
  std::string prefix = std::string(name) + "=";
  std::erase_if(response().new_cookies,
                [&](const std::string& c) { return c.starts_with(prefix); });
  response().new_cookies.push_back(std::move(line));
}

void RequestHandler::clear_cookie(std::string_view name, std::string_view path,
                                  std::string_view domain) {
  CookieOptions o;
  o.path = std::string(path);
  o.domain = std::string(domain);
  auto now = std::chrono::system_clock::now();
  o.expires = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() -
              365 * 86400;
  set_cookie(name, "", o);
}

void RequestHandler::clear_all_cookies(std::string_view path, std::string_view domain) {
  for (const auto& [name, value] : request_->cookies()) clear_cookie(name, path, domain);
}

// ---- users ----

const nlohmann::json& RequestHandler::current_user() {
  if (!has_current_user_) {
    nlohmann::json user = get_current_user();
    set_current_user(std::move(user));  // (made here, or assigned if get_current_user set one)
  }
  return current_user_;
}

void RequestHandler::set_current_user(nlohmann::json user) {
  if (has_current_user_) {
    current_user_ = std::move(user);
    return;
  }
  std::construct_at(&current_user_, std::move(user));
  has_current_user_ = true;
}

std::string RequestHandler::get_login_url() const {
  if (settings().login_url.empty()) {
    throw std::logic_error(
        "You must define the 'login_url' setting in your application to use authenticated()");
  }
  return settings().login_url;
}

void RequestHandler::authenticated() {
  const auto& user = current_user();
  if (!user.is_null() && !(user.is_boolean() && !user.get<bool>()) &&
      !(user.is_string() && user.get<std::string>().empty())) {
    return;
  }
  if (request_->method == "GET" || request_->method == "HEAD") {
    std::string url = get_login_url();
    if (url.find('?') == std::string::npos) {
      // An absolute login URL gets the full URL as next, a relative one the URI.
      bool absolute = url.find("://") != std::string::npos;
      url = httputil::url_concat(url, {{"next", absolute ? request_->full_url() : request_->uri}});
    }
    redirect(url);
    throw Finish();
  }
  throw HTTPError(403);
}

// ---- locale ----

namespace {

// Python's float() of a q-value: the whole (stripped) text must be a decimal number, "inf"
// or "nan"; nullopt otherwise.
std::optional<double> parse_q(std::string_view text) {
  text = strip(text);
  if (text.empty() || text.find_first_of("xX") != std::string_view::npos) return std::nullopt;
  std::string owned(text);
  char* end = nullptr;
  const double value = std::strtod(owned.c_str(), &end);
  if (end != owned.c_str() + owned.size()) return std::nullopt;
  return value;
}

}  // namespace

tornado::locale::LocalePtr RequestHandler::get_browser_locale(
    std::string_view default_locale) const {
  auto header = request_->headers.get_first("Accept-Language");
  if (!header) return tornado::locale::get(default_locale);
  // Tornado's parsing: "tag;q=x" items split on ','; a q that is not a number >= 0 counts
  // as 0, and q=0 leaves the tag out; the rest, best first (stable for equal scores).
  std::vector<std::pair<std::string, double>> tags;
  std::string_view rest = *header;
  for (;;) {
    const auto comma = rest.find(',');
    std::string_view item = strip(rest.substr(0, comma));
    const auto semi = item.find(';');
    std::string_view tag = item.substr(0, semi);
    double score = 1.0;
    if (semi != std::string_view::npos) {
      std::string_view param = item.substr(semi + 1);
      param = param.substr(0, param.find(';'));
      param = strip(param);
      if (param.starts_with("q=")) {
        auto q = parse_q(param.substr(2));
        score = q && *q >= 0 ? *q : 0.0;
      }
    }
    if (score > 0) tags.emplace_back(std::string(tag), score);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (tags.empty()) return tornado::locale::get(default_locale);
  std::stable_sort(tags.begin(), tags.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<std::string> codes;
  codes.reserve(tags.size());
  for (auto& [tag, _] : tags) codes.push_back(std::move(tag));
  return tornado::locale::get(std::span<const std::string>(codes));
}

const tornado::locale::Locale& RequestHandler::locale() {
  if (!locale_) {
    locale_ = get_user_locale();
    if (!locale_) locale_ = get_browser_locale();
    if (!locale_) throw std::logic_error("get_browser_locale() returned no locale");
  }
  return *locale_;
}

std::string RequestHandler::reverse_url(std::string_view name,
                                        const std::vector<std::string>& args) const {
  return application_->reverse_url(name, args);
}

}  // namespace tornado::web
