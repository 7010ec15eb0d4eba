// See links.h.
#include "links.h"

#include <cctype>
#include <optional>

#include "tornado/escape.h"

namespace webspider {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool istarts_with(std::string_view s, std::size_t at, std::string_view prefix) {
  if (s.size() - at < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (lower(s[at + i]) != prefix[i]) return false;
  }
  return true;
}

// The end of the raw-text element `name` (script, style) that starts at `from`.
std::size_t skip_raw_text(std::string_view html, std::size_t from, std::string_view name) {
  for (std::size_t i = html.find('<', from); i != std::string_view::npos;
       i = html.find('<', i + 1)) {
    if (i + 1 < html.size() && html[i + 1] == '/' && istarts_with(html, i + 2, name)) return i;
  }
  return html.size();
}

// Parses the tag that starts at html[at] == '<': its lower-case name, and its href if it
// has one. Returns the index after the tag's '>', or npos if the tag is not closed.
std::size_t parse_tag(std::string_view html, std::size_t at, std::string& name,
                      std::optional<std::string>& href) {
  std::size_t i = at + 1;
  name.clear();
  href.reset();
  while (i < html.size() && !is_space(html[i]) && html[i] != '>' && html[i] != '/') {
    name.push_back(lower(html[i++]));
  }
  while (i < html.size()) {
    while (i < html.size() && (is_space(html[i]) || html[i] == '/')) ++i;
    if (i >= html.size()) break;
    if (html[i] == '>') return i + 1;
    std::string attr;
    while (i < html.size() && !is_space(html[i]) && html[i] != '=' && html[i] != '>' &&
           (html[i] != '/' || attr.empty())) {
      attr.push_back(lower(html[i++]));
    }
    while (i < html.size() && is_space(html[i])) ++i;
    std::string value;
    if (i < html.size() && html[i] == '=') {
      ++i;
      while (i < html.size() && is_space(html[i])) ++i;
      if (i < html.size() && (html[i] == '"' || html[i] == '\'')) {
        const char quote = html[i++];
        const std::size_t end = html.find(quote, i);
        if (end == std::string_view::npos) return std::string_view::npos;
        value = html.substr(i, end - i);
        i = end + 1;
      } else {
        while (i < html.size() && !is_space(html[i]) && html[i] != '>') value.push_back(html[i++]);
      }
    }
    if (attr == "href" && !href) href = tornado::escape::xhtml_unescape(value);
  }
  return std::string_view::npos;
}

// RFC 3986 appendix B: scheme, authority, path, query and fragment, each present or not.
struct Parts {
  std::optional<std::string> scheme, authority, query, fragment;
  std::string path;
};

Parts split(std::string_view u) {
  Parts p;
  const std::size_t colon = u.find(':');
  const std::size_t stop = u.find_first_of("/?#");
  if (colon != std::string_view::npos && colon > 0 && (stop == std::string_view::npos || colon < stop) &&
      std::isalpha(static_cast<unsigned char>(u[0]))) {
    bool ok = true;
    for (char c : u.substr(0, colon)) {
      ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.');
    }
    if (ok) {
      std::string scheme(u.substr(0, colon));
      for (char& c : scheme) c = lower(c);
      p.scheme = scheme;
      u.remove_prefix(colon + 1);
    }
  }
  if (u.starts_with("//")) {
    const std::size_t end = u.find_first_of("/?#", 2);
    p.authority = std::string(u.substr(2, end == std::string_view::npos ? end : end - 2));
    u.remove_prefix(end == std::string_view::npos ? u.size() : end);
  }
  const std::size_t hash = u.find('#');
  if (hash != std::string_view::npos) {
    p.fragment = std::string(u.substr(hash + 1));
    u = u.substr(0, hash);
  }
  const std::size_t question = u.find('?');
  if (question != std::string_view::npos) {
    p.query = std::string(u.substr(question + 1));
    u = u.substr(0, question);
  }
  p.path = std::string(u);
  return p;
}

// RFC 3986 5.2.4.
std::string remove_dot_segments(std::string_view in) {
  std::string out;
  while (!in.empty()) {
    if (in.starts_with("../")) {
      in.remove_prefix(3);
    } else if (in.starts_with("./")) {
      in.remove_prefix(2);
    } else if (in.starts_with("/./")) {
      in.remove_prefix(2);
    } else if (in == "/.") {
      in = "/";
    } else if (in.starts_with("/../") || in == "/..") {
      in = in.size() == 3 ? std::string_view("/") : in.substr(3);
      const std::size_t last = out.rfind('/');
      out.erase(last == std::string::npos ? 0 : last);
    } else if (in == "." || in == "..") {
      in = {};
    } else {
      const std::size_t next = in.find('/', in.front() == '/' ? 1 : 0);
      const std::size_t n = next == std::string_view::npos ? in.size() : next;
      out.append(in.substr(0, n));
      in.remove_prefix(n);
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> get_links(std::string_view html) {
  std::vector<std::string> links;
  std::string name;
  std::optional<std::string> href;
  std::size_t i = 0;
  while ((i = html.find('<', i)) != std::string_view::npos) {
    if (html.substr(i, 4) == "<!--") {
      const std::size_t end = html.find("-->", i + 4);
      if (end == std::string_view::npos) break;
      i = end + 3;
      continue;
    }
    if (i + 1 >= html.size() || !std::isalpha(static_cast<unsigned char>(html[i + 1]))) {
      ++i;  // "</x>", "<!doctype>", a lone '<' in text: no start tag
      continue;
    }
    const std::size_t end = parse_tag(html, i, name, href);
    if (end == std::string_view::npos) break;
    if (name == "a" && href && !href->empty()) links.push_back(std::move(*href));
    i = (name == "script" || name == "style") ? skip_raw_text(html, end, name) : end;
  }
  return links;
}

std::string urljoin(std::string_view base_text, std::string_view reference) {
  const Parts base = split(base_text);
  Parts r = split(reference);
  Parts t;
  if (r.scheme && r.scheme != base.scheme) {
    t = r;
    t.path = remove_dot_segments(r.path);
  } else {
    // A reference with the base's own scheme ("http:g") is relative, as Python's urljoin
    // reads it (RFC 3986 5.2.2 allows both).
    t.scheme = base.scheme;
    if (r.authority) {
      t.authority = r.authority;
      t.path = remove_dot_segments(r.path);
      t.query = r.query;
    } else {
      t.authority = base.authority;
      if (r.path.empty()) {
        t.path = base.path;
        t.query = r.query ? r.query : base.query;
      } else {
        if (r.path.front() == '/') {
          t.path = remove_dot_segments(r.path);
        } else {
          // RFC 3986 5.2.3: merge with the base's directory.
          std::string merged;
          if (base.authority && base.path.empty()) {
            merged = "/" + r.path;
          } else {
            const std::size_t slash = base.path.rfind('/');
            merged = (slash == std::string::npos ? std::string() : base.path.substr(0, slash + 1)) +
                     r.path;
          }
          t.path = remove_dot_segments(merged);
        }
        t.query = r.query;
      }
    }
  }
  t.fragment = r.fragment;
  std::string out;
  if (t.scheme) out += *t.scheme + ":";
  if (t.authority) out += "//" + *t.authority;
  out += t.path;
  if (t.query) out += "?" + *t.query;
  if (t.fragment) out += "#" + *t.fragment;
  return out;
}

std::string remove_fragment(std::string_view url) {
  return std::string(url.substr(0, url.find('#')));
}

}  // namespace webspider
