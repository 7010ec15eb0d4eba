#include "internal/http_url.h"

#include <cctype>
#include <stdexcept>
#include <vector>

namespace tornado::httpclient::detail {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

int default_port(std::string_view scheme) { return scheme == "https" ? 443 : 80; }

// The generic parts of a URI reference (RFC 3986 3): each may be absent.
struct Parts {
  std::optional<std::string> scheme, authority, query;
  std::string path;
};

Parts split(std::string_view s) {
  Parts p;
  if (std::size_t hash = s.find('#'); hash != std::string_view::npos) s = s.substr(0, hash);
  // A scheme is ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) followed by ':'.
  std::size_t colon = s.find(':');
  if (colon != std::string_view::npos && colon > 0 &&
      std::isalpha(static_cast<unsigned char>(s[0]))) {
    bool ok = true;
    for (std::size_t i = 0; i < colon; ++i) {
      char c = s[i];
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
        ok = false;
        break;
      }
    }
    if (ok) {
      p.scheme = lower(s.substr(0, colon));
      s.remove_prefix(colon + 1);
    }
  }
  if (s.starts_with("//")) {
    s.remove_prefix(2);
    std::size_t end = s.find_first_of("/?");
    p.authority = std::string(s.substr(0, end));
    s = end == std::string_view::npos ? std::string_view() : s.substr(end);
  }
  std::size_t q = s.find('?');
  if (q != std::string_view::npos) {
    p.query = std::string(s.substr(q + 1));
    s = s.substr(0, q);
  }
  p.path = std::string(s);
  return p;
}

// RFC 3986 5.2.4.
std::string remove_dot_segments(std::string_view path) {
  std::vector<std::string_view> out;
  bool absolute = path.starts_with('/');
  std::string_view rest = absolute ? path.substr(1) : path;
  bool trailing = false;
  while (true) {
    std::size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    bool last = slash == std::string_view::npos;
    if (seg == "..") {
      if (!out.empty()) out.pop_back();
      trailing = true;
    } else if (seg == ".") {
      trailing = true;
    } else {
      out.push_back(seg);
      trailing = false;
    }
    if (last) break;
    rest.remove_prefix(slash + 1);
  }
  std::string result = absolute ? "/" : "";
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (i) result += '/';
    result += out[i];
  }
  if (trailing && !result.empty() && result.back() != '/') result += '/';
  return result;
}

std::string merge(const Parts& base, std::string_view ref_path) {
  if (base.authority && base.path.empty()) return "/" + std::string(ref_path);
  std::size_t slash = base.path.rfind('/');
  if (slash == std::string::npos) return std::string(ref_path);
  return base.path.substr(0, slash + 1) + std::string(ref_path);
}

std::string recompose(const Parts& p) {
  std::string out;
  if (p.scheme) out += *p.scheme + ":";
  if (p.authority) out += "//" + *p.authority;
  out += p.path;
  if (p.query) out += "?" + *p.query;
  return out;
}

}  // namespace

std::string ParsedURL::host_header() const {
  std::string out = is_ipv6() ? "[" + host + "]" : host;
  if (explicit_port && port != default_port(scheme)) out += ":" + std::to_string(port);
  return out;
}

std::string ParsedURL::origin() const {
  return scheme + "://" + (is_ipv6() ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string ParsedURL::absolute() const { return scheme + "://" + host_header() + target; }

ParsedURL parse_url(std::string_view url) {
  for (unsigned char c : url) {
    if (c <= 0x20 || c == 0x7f) {
      throw std::invalid_argument("URL holds a space or control character: " + std::string(url));
    }
  }
  Parts p = split(url);
  if (!p.scheme || (*p.scheme != "http" && *p.scheme != "https")) {
    throw std::invalid_argument("Unsupported url scheme: " + std::string(url));
  }
  if (!p.authority || p.authority->empty()) {
    throw std::invalid_argument("URL has no host: " + std::string(url));
  }
  ParsedURL out;
  out.scheme = *p.scheme;
  std::string_view auth = *p.authority;
  if (std::size_t at = auth.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = auth.substr(0, at);
    auth.remove_prefix(at + 1);
    std::size_t colon = userinfo.find(':');
    out.username = percent_decode(userinfo.substr(0, colon));
    if (colon != std::string_view::npos) out.password = percent_decode(userinfo.substr(colon + 1));
  }
  std::string_view host = auth, port;
  if (auth.starts_with('[')) {
    std::size_t close = auth.find(']');
    if (close == std::string_view::npos) {
      throw std::invalid_argument("URL has an unterminated IPv6 literal: " + std::string(url));
    }
    host = auth.substr(1, close - 1);
    std::string_view after = auth.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') throw std::invalid_argument("Bad URL authority: " + std::string(url));
      port = after.substr(1);
    }
  } else if (std::size_t colon = auth.rfind(':'); colon != std::string_view::npos) {
    host = auth.substr(0, colon);
    port = auth.substr(colon + 1);
  }
  if (host.empty()) throw std::invalid_argument("URL has no host: " + std::string(url));
  out.host = lower(host);
  out.port = default_port(out.scheme);
  if (!port.empty()) {
    int n = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || n > 65535) {
        throw std::invalid_argument("Bad port in URL: " + std::string(url));
      }
      n = n * 10 + (c - '0');
    }
    if (n <= 0 || n > 65535) throw std::invalid_argument("Bad port in URL: " + std::string(url));
    out.port = n;
    out.explicit_port = true;
  }
  out.target = p.path.empty() ? "/" : p.path;
  if (p.query) out.target += "?" + *p.query;
  return out;
}

std::string resolve_url(std::string_view base_url, std::string_view reference) {
  Parts base = split(base_url);
  Parts ref = split(reference);
  Parts t;
  if (ref.scheme) {
    t = ref;
    t.path = remove_dot_segments(ref.path);
  } else if (ref.authority) {
    t = ref;
    t.scheme = base.scheme;
    t.path = remove_dot_segments(ref.path);
  } else {
    t.scheme = base.scheme;
    t.authority = base.authority;
    if (ref.path.empty()) {
      t.path = base.path;
      t.query = ref.query ? ref.query : base.query;
    } else {
      t.path = remove_dot_segments(ref.path.starts_with('/') ? ref.path : merge(base, ref.path));
      t.query = ref.query;
    }
  }
  return recompose(t);
}

}  // namespace tornado::httpclient::detail
