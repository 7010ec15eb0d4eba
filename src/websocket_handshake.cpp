// The server's checks of a WebSocket upgrade request and the accept value.
#include "internal/websocket_handshake.h"

#include <stdexcept>

#include "internal/sha1.h"
#include "tornado/escape.h"

namespace tornado::websocket::detail {

namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string compute_accept_value(std::string_view key) {
  internal::Sha1 h;
  h.update(key);
  h.update(kGuid);
  const auto digest = h.finish();
  return escape::base64_encode(
      std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

bool is_valid_key(std::string_view key) noexcept {
  if (key.size() != 24 || !key.ends_with("==")) return false;
  try {
    return escape::base64_decode(key).size() == 16;
  } catch (const std::invalid_argument&) {
    return false;
  }
}

bool has_token(std::string_view value, std::string_view token) noexcept {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

std::vector<std::string> split_list(std::string_view value) {
  std::vector<std::string> out;
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    auto item = trim(value.substr(0, comma));
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return out;
}

bool same_origin(std::string_view origin, std::string_view host) {
  // Python's urlparse(origin).netloc: what follows "//" up to the path, query or fragment.
  std::string_view netloc;
  const std::size_t slashes = origin.find("//");
  if (slashes != std::string_view::npos) {
    const std::size_t colon = origin.find(':');
    const bool scheme_ok =
        slashes == 0 || (colon != std::string_view::npos && colon + 1 == slashes);
    if (scheme_ok) {
      netloc = origin.substr(slashes + 2);
      netloc = netloc.substr(0, netloc.find_first_of("/?#"));
    }
  }
  if (netloc.size() != host.size()) return false;
  for (std::size_t i = 0; i < netloc.size(); ++i) {
    if (lower(netloc[i]) != host[i]) return false;
  }
  return true;
}

UpgradeCheck check_upgrade_headers(const httputil::HTTPHeaders& headers) {
  auto upgrade = headers.get_first("Upgrade");
  if (!upgrade || !iequals(trim(*upgrade), "websocket")) {
    return {400, "Can \"Upgrade\" only to \"WebSocket\"."};
  }
  // Connection may be a list ("keep-alive, Upgrade"), possibly over several lines.
  bool upgrade_token = false;
  for (const auto& line : headers.get_list("Connection")) {
    upgrade_token = upgrade_token || has_token(line, "upgrade");
  }
  if (!upgrade_token) return {400, "\"Connection\" must be \"Upgrade\"."};
  return {};
}

UpgradeCheck check_upgrade_version(const httputil::HTTPHeaders& headers) {
  auto version = headers.get_first("Sec-WebSocket-Version");
  if (!version || trim(*version) != "13") return {426, "Upgrade Required"};
  auto key = headers.get_first("Sec-WebSocket-Key");
  if (!headers.contains("Host") || !key || !is_valid_key(trim(*key))) {
    return {400, "Missing/Invalid WebSocket headers"};
  }
  return {};
}

}  // namespace tornado::websocket::detail
