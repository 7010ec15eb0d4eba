// httputil: query strings, form bodies (urlencoded and multipart), cookies, url_concat.
#include <algorithm>
#include <cctype>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "internal/header_params.h"
#include "internal/http_parser.h"
#include "internal/utf8.h"
#include "tornado/escape.h"
#include "tornado/httputil.h"

namespace tornado::httputil {
namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

using detail::kMaxBoundaryLength;
using detail::strip_ascii_space;

// Python's parse_qsl(qs, keep_blank_values=True): '&' separates pairs (Python >= 3.10 no
// longer splits on ';'), empty pairs are skipped, a pair without '=' has an empty value.
template <typename Fn>
void for_each_qs_pair(std::string_view qs, Fn&& fn) {
  while (true) {
    std::size_t amp = qs.find('&');
    std::string_view pair = qs.substr(0, amp);
    if (!pair.empty()) {
      std::size_t eq = pair.find('=');
      std::string_view name = pair.substr(0, eq);
      std::string_view value =
          eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
      fn(escape::url_unescape(name, true), escape::url_unescape(value, true));
    }
    if (amp == std::string_view::npos) break;
    qs.remove_prefix(amp + 1);
  }
}

// email.utils.unquote: strips one pair of surrounding double quotes, then undoes \\ and \"
// in that order (two passes, exactly as Python does), or strips surrounding <...>.
std::string email_unquote(std::string_view s) {
  if (s.size() > 1 && s.front() == '"' && s.back() == '"') {
    s = s.substr(1, s.size() - 2);
    std::string once;
    for (std::size_t i = 0; i < s.size(); ++i) {
      once.push_back(s[i]);
      if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == '\\') ++i;
    }
    std::string twice;
    for (std::size_t i = 0; i < once.size(); ++i) {
      if (once[i] == '\\' && i + 1 < once.size() && once[i + 1] == '"') continue;
      twice.push_back(once[i]);
    }
    return twice;
  }
  if (s.size() > 1 && s.front() == '<' && s.back() == '>') {
    return std::string(s.substr(1, s.size() - 2));
  }
  return std::string(s);
}

bool iequals_any(std::string_view s, std::initializer_list<std::string_view> names) {
  return std::any_of(names.begin(), names.end(),
                     [s](std::string_view n) { return http1::iequals(s, n); });
}

// Valid UTF-8 kept, each invalid byte replaced by U+FFFD (errors="replace").
std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80         ? 1
                      : (c >> 5) == 6  ? 2
                      : (c >> 4) == 14 ? 3
                      : (c >> 3) == 30 ? 4
                                       : 0;
    bool ok = len > 0 && i + len <= s.size();
    uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
    for (std::size_t k = 1; ok && k < len; ++k) {
      ok = internal::is_continuation_byte(s[i + k]);
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid too.
    ok = ok && !(len == 2 && cp < 0x80) && !(len == 3 && cp < 0x800) &&
         !(len == 4 && (cp < 0x10000 || cp > 0x10ffff)) && !(cp >= 0xd800 && cp <= 0xdfff);
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      internal::append_utf8(out, 0xfffd);
      ++i;
    }
  }
  return out;
}

// An RFC 2231 extended value "charset'language'percent-encoded" → UTF-8.
std::string decode_rfc2231(std::string_view raw) {
  std::string bytes = escape::url_unescape(raw, false);
  std::size_t q1 = bytes.find('\'');
  std::size_t q2 = q1 == std::string::npos ? q1 : bytes.find('\'', q1 + 1);
  std::string charset;
  std::string_view text = bytes;
  if (q2 != std::string::npos) {
    charset = bytes.substr(0, q1);
    text = std::string_view(bytes).substr(q2 + 1);
  } else {
    charset = "us-ascii";  // no charset given: Python falls back to ASCII
  }
  if (iequals_any(charset, {"utf-8", "utf8", "utf_8"})) return sanitize_utf8(text);
  if (iequals_any(charset, {"us-ascii", "ascii"})) {
    std::string out;
    for (char c : text) {
      if (static_cast<unsigned char>(c) < 0x80) {
        out.push_back(c);
      } else {
        internal::append_utf8(out, 0xfffd);
      }
    }
    return out;
  }
  // iso-8859-1, and any charset we do not know (Python then keeps the latin-1 text).
  std::string out;
  for (char c : text) internal::append_utf8(out, static_cast<unsigned char>(c));
  return out;
}

}  // namespace

namespace detail {

ParsedHeader parse_header_params(std::string_view line) {
  std::vector<std::string_view> pieces;
  bool quoted = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '"' && (i == 0 || line[i - 1] != '\\')) quoted = !quoted;
    if (line[i] == ';' && !quoted) {
      pieces.push_back(strip_ascii_space(line.substr(start, i - start)));
      start = i + 1;
    }
  }
  pieces.push_back(strip_ascii_space(line.substr(start)));

  ParsedHeader out;
  out.value = std::string(pieces.front());
  struct Continuation {
    int index;  // -1 for "name*"
    std::string value;
    bool encoded;
  };
  std::vector<std::pair<std::string, std::vector<Continuation>>> extended;
  for (std::size_t k = 1; k < pieces.size(); ++k) {
    std::size_t eq = pieces[k].find('=');
    if (eq == std::string_view::npos) continue;
    std::string name(strip_ascii_space(pieces[k].substr(0, eq)));
    for (char& c : name) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    std::string value = email_unquote(strip_ascii_space(pieces[k].substr(eq + 1)));
    // "base*", "base*N" or "base*N*" (base made of word characters).
    std::size_t star = name.find('*');
    bool rfc2231 = star != std::string::npos && star > 0;
    int index = -1;
    bool encoded = !name.empty() && name.back() == '*';
    if (rfc2231) {
      std::string_view base(name.data(), star);
      std::string_view rest = std::string_view(name).substr(star + 1);
      if (!rest.empty() && rest.back() == '*') rest.remove_suffix(1);
      rfc2231 = std::all_of(base.begin(), base.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
      });
      if (!rest.empty()) {
        index = 0;
        for (char c : rest) {
          if (c < '0' || c > '9' || index > 100000) {
            rfc2231 = false;
            break;
          }
          index = index * 10 + (c - '0');
        }
      } else if (name.size() != star + 1) {
        rfc2231 = false;  // "base**"
      }
      if (rfc2231) {
        std::string key(base);
        auto it = std::find_if(extended.begin(), extended.end(),
                               [&](const auto& e) { return e.first == key; });
        if (it == extended.end()) it = extended.insert(extended.end(), {key, {}});
        it->second.push_back({index, std::move(value), encoded});
        continue;
      }
    }
    out.params.emplace_back(std::move(name), std::move(value));
  }
  for (auto& [name, parts] : extended) {
    std::stable_sort(parts.begin(), parts.end(),
                     [](const auto& a, const auto& b) { return a.index < b.index; });
    bool any_encoded = false;
    std::string joined;
    for (const auto& p : parts) any_encoded = any_encoded || p.encoded;
    for (const auto& p : parts) {
      // Unencoded pieces of an encoded value are literal: escape their '%' for the decoder.
      joined += p.encoded || !any_encoded ? p.value : escape::url_escape(p.value, false);
    }
    out.params.emplace_back(name, any_encoded ? decode_rfc2231(joined) : joined);
  }
  for (auto& [name, value] : out.params) {
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
  }
  return out;
}

}  // namespace detail

namespace {

using detail::parse_header_params;
using detail::ParsedHeader;

std::string with_multipart_prefix(const char* what) {
  std::string_view w(what);
  if (starts_with(w, "Invalid multipart/form-data")) return std::string(w);
  return "Invalid multipart/form-data: " + std::string(w);
}

void check_content_encoding(const HTTPHeaders* headers) {
  if (headers == nullptr) return;
  auto ce = headers->get_first("Content-Encoding");
  // A decompressing server removes the header; anything left here was not decoded.
  if (ce && !http1::iequals(*ce, "identity")) {
    throw HTTPInputError("Unsupported Content-Encoding: " + headers->get("Content-Encoding", ""));
  }
}

}  // namespace

void parse_qs_into(std::string_view qs, Arguments& out) {
  for_each_qs_pair(qs, [&](std::string name, std::string value) {
    out[std::move(name)].push_back(std::move(value));
  });
}

void parse_body_arguments(std::string_view content_type, std::string_view body, Arguments& args,
                          Files& files, const HTTPHeaders* headers,
                          const ParseMultipartConfig& config) {
  if (starts_with(content_type, "application/x-www-form-urlencoded")) {
    check_content_encoding(headers);
    parse_qs_into(body, args);
  } else if (starts_with(content_type, "multipart/form-data")) {
    check_content_encoding(headers);
    try {
      std::string_view rest = content_type;
      while (true) {
        std::size_t semi = rest.find(';');
        std::string_view field = strip_ascii_space(rest.substr(0, semi));
        std::size_t eq = field.find('=');
        if (eq != std::string_view::npos && field.substr(0, eq) == "boundary" &&
            eq + 1 < field.size()) {
          parse_multipart_form_data(field.substr(eq + 1), body, args, files, config);
          return;
        }
        if (semi == std::string_view::npos) break;
        rest.remove_prefix(semi + 1);
      }
      throw HTTPInputError("multipart boundary not found");
    } catch (const HTTPInputError& e) {
      throw HTTPInputError(with_multipart_prefix(e.what()));
    }
  }
}

namespace {

// std::string_view::find/rfind compare at every position: O(body x pattern) against a body
// of near-matches. glibc's memmem is linear in the worst case (two-way fallback).
std::size_t find_first(std::string_view hay, std::string_view needle) {
  const void* at = ::memmem(hay.data(), hay.size(), needle.data(), needle.size());
  return at ? static_cast<std::size_t>(static_cast<const char*>(at) - hay.data())
            : std::string_view::npos;
}

// The last occurrence of `needle`: Knuth-Morris-Pratt run from the end, linear whatever
// the body holds (the final boundary is normally found within its last few bytes).
std::size_t find_last(std::string_view hay, std::string_view needle) {
  const std::size_t m = needle.size();
  if (m == 0 || m > hay.size()) return m == 0 ? hay.size() : std::string_view::npos;
  auto pat = [&](std::size_t i) { return needle[m - 1 - i]; };  // the needle reversed
  std::vector<std::size_t> fail(m, 0);
  for (std::size_t i = 1, k = 0; i < m; ++i) {
    while (k > 0 && pat(i) != pat(k)) k = fail[k - 1];
    if (pat(i) == pat(k)) ++k;
    fail[i] = k;
  }
  std::size_t matched = 0;
  for (std::size_t i = hay.size(); i-- > 0;) {
    while (matched > 0 && hay[i] != pat(matched)) matched = fail[matched - 1];
    if (hay[i] == pat(matched)) ++matched;
    if (matched == m) return i;
  }
  return std::string_view::npos;
}
}  // namespace

void parse_multipart_form_data(std::string_view boundary, std::string_view data, Arguments& args,
                               Files& files, const ParseMultipartConfig& config) {
  if (!config.enabled) throw HTTPInputError("multipart/form-data parsing is disabled");
  // RFC 2046 5.1.1 allows a quoted boundary parameter.
  if (boundary.size() >= 2 && boundary.front() == '"' && boundary.back() == '"') {
    boundary = boundary.substr(1, boundary.size() - 2);
  }
  if (boundary.empty()) throw HTTPInputError("Invalid multipart/form-data: empty boundary");
  // RFC 2046 5.1.1: 1 to 70 characters. A longer one is refused, which also keeps every
  // search below linear in the body (each step skips up to the pattern's length).
  if (boundary.size() > kMaxBoundaryLength) {
    throw HTTPInputError("Invalid multipart/form-data: boundary longer than " +
                         std::to_string(kMaxBoundaryLength) + " characters");
  }
  const std::string delimiter = "--" + std::string(boundary);
  std::size_t final_index = find_last(data, delimiter + "--");
  if (final_index == std::string_view::npos) {
    throw HTTPInputError("Invalid multipart/form-data: no final boundary found");
  }
  // Everything before the final boundary, split at "--boundary\r\n"; text after the final
  // boundary (some clients add a CRLF) is ignored, as RFC 2046 says.
  const std::string separator = delimiter + "\r\n";
  std::vector<std::string_view> parts;
  std::string_view body = data.substr(0, final_index);
  while (true) {
    std::size_t at = find_first(body, separator);
    std::string_view part = body.substr(0, at);
    if (!part.empty()) {
      if (parts.size() == config.max_parts) {
        throw HTTPInputError("multipart/form-data has too many parts (limit " +
                             std::to_string(config.max_parts) + ")");
      }
      parts.push_back(part);
    }
    if (at == std::string_view::npos) break;
    body.remove_prefix(at + separator.size());
  }
  for (std::string_view part : parts) {
    std::size_t eoh = part.find("\r\n\r\n");
    if (eoh == std::string_view::npos) throw HTTPInputError("multipart/form-data missing headers");
    if (eoh > config.max_part_header_size) {
      throw HTTPInputError("multipart/form-data part header too large (limit " +
                           std::to_string(config.max_part_header_size) + " bytes)");
    }
    HTTPHeaders headers = HTTPHeaders::parse(part.substr(0, eoh));
    ParsedHeader disposition = parse_header_params(headers.get("Content-Disposition", ""));
    if (disposition.value != "form-data" || part.size() < 2 ||
        part.substr(part.size() - 2) != "\r\n") {
      throw HTTPInputError("Invalid multipart/form-data");
    }
    std::size_t value_start = eoh + 4;
    std::size_t value_end = part.size() - 2;
    std::string_view value =
        value_start < value_end ? part.substr(value_start, value_end - value_start) : "";
    const std::string* name = disposition.get("name");
    if (name == nullptr || name->empty()) {
      throw HTTPInputError("multipart/form-data missing name");
    }
    const std::string* filename = disposition.get("filename");
    if (filename != nullptr && !filename->empty()) {
      files[*name].push_back(
          {*filename, std::string(value), headers.get("Content-Type", "application/unknown")});
    } else {
      args[*name].emplace_back(value);
    }
  }
}

namespace {

// http.cookies._unquote: a double-quoted value loses its quotes, and inside it \ooo (octal
// up to \377) is that byte and \c is c.
std::string unquote_cookie(std::string_view s) {
  if (s.size() < 2 || s.front() != '"' || s.back() != '"') return std::string(s);
  s = s.substr(1, s.size() - 2);
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 >= s.size()) {
      out.push_back(s[i]);
      continue;
    }
    auto octal = [&](std::size_t k, char hi) { return s[k] >= '0' && s[k] <= hi; };
    if (i + 3 < s.size() && octal(i + 1, '3') && octal(i + 2, '7') && octal(i + 3, '7')) {
      out.push_back(
          static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else if (s[i + 1] != '\n') {
      out.push_back(s[i + 1]);
      ++i;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

std::map<std::string, std::string, std::less<>> parse_cookie(std::string_view header) {
  std::map<std::string, std::string, std::less<>> cookies;
  while (true) {
    std::size_t semi = header.find(';');
    std::string_view chunk = header.substr(0, semi);
    std::size_t eq = chunk.find('=');
    // A chunk without '=' is a value with an empty name (as browsers do).
    std::string_view key = eq == std::string_view::npos ? std::string_view() : chunk.substr(0, eq);
    std::string_view val = eq == std::string_view::npos ? chunk : chunk.substr(eq + 1);
    key = strip_ascii_space(key);
    val = strip_ascii_space(val);
    if (!key.empty() || !val.empty())
      cookies.insert_or_assign(std::string(key), unquote_cookie(val));
    if (semi == std::string_view::npos) break;
    header.remove_prefix(semi + 1);
  }
  return cookies;
}

std::string url_concat(std::string_view url,
                       const std::vector<std::pair<std::string, std::string>>& args) {
  // As urlsplit: the fragment goes first, then the query; the rest is kept as is.
  std::string_view fragment;
  if (std::size_t hash = url.find('#'); hash != std::string_view::npos) {
    fragment = url.substr(hash + 1);
    url = url.substr(0, hash);
  }
  std::string_view query;
  if (std::size_t q = url.find('?'); q != std::string_view::npos) {
    query = url.substr(q + 1);
    url = url.substr(0, q);
  }
  std::string out(url);
  std::string encoded;
  auto append = [&](std::string_view name, std::string_view value) {
    if (!encoded.empty()) encoded.push_back('&');
    encoded += escape::url_escape(name, true);
    encoded.push_back('=');
    encoded += escape::url_escape(value, true);
  };
  // Existing arguments are decoded and re-encoded, so "?x" becomes "?x=" (as Tornado).
  for_each_qs_pair(query, [&](const std::string& n, const std::string& v) { append(n, v); });
  for (const auto& [name, value] : args) append(name, value);
  if (!encoded.empty()) out.append("?").append(encoded);
  if (!fragment.empty()) out.append("#").append(fragment);
  return out;
}

}  // namespace tornado::httputil
