// web: media types by extension (Python's mimetypes rules, /etc/mime.types over a built-in
// table).
#include "tornado/web/mimetypes.h"

#include <array>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>

#include "tornado/log.h"

namespace tornado::web {
namespace {

// The common web types, for systems without /etc/mime.types (the system file wins).
constexpr std::pair<std::string_view, std::string_view> kBuiltin[] = {
    {"text/html", "html htm"},
    {"text/css", "css"},
    {"text/javascript", "js mjs"},
    {"text/plain", "txt text"},
    {"text/csv", "csv"},
    {"text/markdown", "md markdown"},
    {"text/xml", "xsl"},
    {"application/json", "json map"},
    {"application/manifest+json", "webmanifest"},
    {"application/xml", "xml"},
    {"application/atom+xml", "atom"},
    {"application/rss+xml", "rss"},
    {"application/xhtml+xml", "xhtml"},
    {"application/wasm", "wasm"},
    {"application/pdf", "pdf"},
    {"application/zip", "zip"},
    {"application/x-tar", "tar"},
    {"application/octet-stream", "bin"},
    {"image/svg+xml", "svg"},
    {"image/png", "png"},
    {"image/jpeg", "jpg jpeg jpe"},
    {"image/gif", "gif"},
    {"image/webp", "webp"},
    {"image/avif", "avif"},
    {"image/bmp", "bmp"},
    {"image/vnd.microsoft.icon", "ico"},
    {"font/woff", "woff"},
    {"font/woff2", "woff2"},
    {"font/ttf", "ttf"},
    {"font/otf", "otf"},
    {"application/vnd.ms-fontobject", "eot"},
    {"audio/mpeg", "mp3"},
    {"audio/ogg", "oga ogg opus"},
    {"audio/wav", "wav"},
    {"audio/flac", "flac"},
    {"video/mp4", "mp4"},
    {"video/webm", "webm"},
    {"video/ogg", "ogv"},
};

// Python's suffix_map (looked up lower-cased) and encodings_map (case-sensitive).
constexpr std::pair<std::string_view, std::string_view> kSuffixes[] = {
    {".svgz", ".svg.gz"}, {".tgz", ".tar.gz"},   {".taz", ".tar.gz"},
    {".tz", ".tar.gz"},   {".tbz2", ".tar.bz2"}, {".txz", ".tar.xz"},
};
constexpr std::pair<std::string_view, std::string_view> kEncodings[] = {
    {".gz", "gzip"}, {".Z", "compress"}, {".bz2", "bzip2"}, {".xz", "xz"}, {".br", "br"},
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// os.path.splitext on a '/' path: the extension of the last component, not counting its
// leading dots.
std::pair<std::string, std::string> splitext(std::string_view path) {
  std::size_t name_at = path.rfind('/');
  name_at = name_at == std::string_view::npos ? 0 : name_at + 1;
  std::size_t dot = path.rfind('.');
  if (dot == std::string_view::npos || dot < name_at) return {std::string(path), {}};
  bool only_dots_before = true;
  for (std::size_t i = name_at; i < dot; ++i) {
    if (path[i] != '.') only_dots_before = false;
  }
  if (only_dots_before) return {std::string(path), {}};
  return {std::string(path.substr(0, dot)), std::string(path.substr(dot))};
}

template <std::size_t N>
const std::string_view* lookup(const std::pair<std::string_view, std::string_view> (&table)[N],
                               std::string_view key) {
  for (const auto& [k, v] : table) {
    if (k == key) return &v;
  }
  return nullptr;
}

bool is_mime_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

}  // namespace

MimeTypes::MimeTypes() {
  for (const auto& [type, extensions] : kBuiltin) {
    read_text(std::string(type) + " " + std::string(extensions));
  }
}

const MimeTypes& MimeTypes::system() {
  static const MimeTypes instance = [] {
    MimeTypes types;
    types.read_file("/etc/mime.types");
    return types;
  }();
  return instance;
}

void MimeTypes::add_type(std::string_view type, std::string_view extension) {
  if (extension.empty() || type.empty()) return;
  std::string key = extension.front() == '.' ? lower(extension) : "." + lower(extension);
  types_.insert_or_assign(std::move(key), std::string(type));
}

bool MimeTypes::read_file(const std::string& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::string text;
  text.resize(max_bytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return false;
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > max_bytes) {
    gen_log().warn("{} is larger than {} bytes: not read", path, max_bytes);
    return false;
  }
  read_text(text);
  return true;
}

void MimeTypes::read_text(std::string_view text) {
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    std::string_view type;
    while (!line.empty()) {
      while (!line.empty() && is_mime_blank(line.front())) line.remove_prefix(1);
      std::size_t end = 0;
      while (end < line.size() && !is_mime_blank(line[end])) ++end;
      std::string_view word = line.substr(0, end);
      line.remove_prefix(end);
      if (word.empty()) break;
      if (type.empty()) {
        type = word;
      } else {
        add_type(type, word);
      }
    }
  }
}

MimeTypes::Guess MimeTypes::guess_type(std::string_view path) const {
  auto [base, ext] = splitext(path);
  while (const std::string_view* expanded = lookup(kSuffixes, lower(ext))) {
    std::tie(base, ext) = splitext(base + std::string(*expanded));
  }
  Guess guess;
  if (const std::string_view* coding = lookup(kEncodings, ext)) {
    guess.encoding = std::string(*coding);
    std::tie(base, ext) = splitext(base);
  }
  if (!ext.empty()) {
    if (auto it = types_.find(lower(ext)); it != types_.end()) guess.type = it->second;
  }
  return guess;
}

std::string static_content_type(std::string_view path, const MimeTypes& types) {
  MimeTypes::Guess guess = types.guess_type(path);
  if (guess.encoding == "gzip") return "application/gzip";
  if (guess.encoding || !guess.type) return "application/octet-stream";
  if (guess.type->starts_with("text/")) return *guess.type + "; charset=utf-8";
  return *guess.type;
}

}  // namespace tornado::web
