// URL handling for the HTTP client: splitting an absolute http(s) URL into the parts the
// client needs, and resolving a redirect's Location against the current URL (RFC 3986).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tornado::httpclient::detail {

struct ParsedURL {
  std::string scheme;                   // "http" or "https" (lower case)
  std::optional<std::string> username;  // percent-decoded userinfo, if any
  std::optional<std::string> password;
  std::string host;  // without brackets for IPv6 literals; lower case
  int port = 0;      // explicit or the scheme's default
  bool explicit_port = false;
  std::string target;  // path and query, "/" when empty; no fragment

  bool is_ipv6() const { return host.find(':') != std::string::npos; }
  // host, bracketed if IPv6, with ":port" unless it is the scheme's default.
  std::string host_header() const;
  // host:port, bracketed if IPv6, always with the port (a CONNECT request's target).
  std::string authority() const {
    return (is_ipv6() ? "[" + host + "]" : host) + ":" + std::to_string(port);
  }
  // scheme://host[:port]: two URLs with the same origin share credentials.
  std::string origin() const;
  // scheme://host[:port]/target, without userinfo (the absolute form sent to a proxy).
  std::string absolute() const;
};

// Parses an absolute URL. Throws std::invalid_argument for an unsupported scheme, a
// missing host, a bad port, or characters that cannot go on the wire (CTL, space).
ParsedURL parse_url(std::string_view url);

// Resolves `reference` (absolute, scheme-relative, absolute-path or relative) against the
// absolute URL `base`, as RFC 3986 5.2 (dot segments removed). The fragment is dropped.
std::string resolve_url(std::string_view base, std::string_view reference);

}  // namespace tornado::httpclient::detail
