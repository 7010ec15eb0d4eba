// Helpers shared by the tests that lay out files on disk (the static-file tests).
#pragma once

#include <filesystem>
#include <fstream>
#include <string_view>

namespace tornado::test {

// Writes `content` to `path` (binary, replacing what was there).
inline void write_file(const std::filesystem::path& path, std::string_view content) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

}  // namespace tornado::test
