// Builds GNU .mo catalogs byte by byte for the locale tests (no msgfmt needed), and a
// temporary translations directory.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace tornado::test {

// A .mo file holding `entries` (original → translation; plural originals are
// "singular\0plural", plural translations "form0\0form1...", contexts "ctx\x04msgid"), in
// the given byte order. `header` becomes the translation of the empty msgid.
inline std::string make_mo(std::vector<std::pair<std::string, std::string>> entries,
                           const std::string& header, bool big_endian = false) {
  entries.emplace_back("", header);
  std::sort(entries.begin(), entries.end());
  std::string out;
  auto word = [&](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) {
      const int shift = big_endian ? 24 - 8 * i : 8 * i;
      out.push_back(static_cast<char>((v >> shift) & 0xff));
    }
  };
  const auto n = static_cast<std::uint32_t>(entries.size());
  const std::uint32_t originals = 28, translations = originals + 8 * n;
  std::uint32_t data = translations + 8 * n;
  word(0x950412de);
  word(0);  // revision
  word(n);
  word(originals);
  word(translations);
  word(0);  // hash table size
  word(data);  // hash table offset (none)
  std::string blob;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> orig_at, trans_at;
  for (const auto& [o, t] : entries) {
    orig_at.emplace_back(static_cast<std::uint32_t>(o.size()), data + static_cast<std::uint32_t>(blob.size()));
    blob += o;
    blob.push_back('\0');
  }
  for (const auto& [o, t] : entries) {
    trans_at.emplace_back(static_cast<std::uint32_t>(t.size()), data + static_cast<std::uint32_t>(blob.size()));
    blob += t;
    blob.push_back('\0');
  }
  for (auto [len, off] : orig_at) { word(len); word(off); }
  for (auto [len, off] : trans_at) { word(len); word(off); }
  return out + blob;
}

// A directory under the temporary directory, removed with the object.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    path_ = std::filesystem::temp_directory_path() /
            (tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  // Writes `bytes` to `name` (directories made as needed).
  std::filesystem::path put(const std::string& name, const std::string& bytes) const {
    auto p = path_ / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }

 private:
  static int& counter() {
    static int n = 0;
    return n;
  }
  std::filesystem::path path_;
};

}  // namespace tornado::test
