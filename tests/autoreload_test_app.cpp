// The program autoreload_test runs: a copy of it is started, changed, and must re-execute.
//
//   autoreload_test_app <out-file> <lifetime-seconds> [watched-file]
//
// Appends "started <version> <generation>" to <out-file> at each start (version: the text
// after the last "AUTORELOAD-VERSION:" in its own executable, which the test appends to
// each copy; generation: 1, 2, ... across re-executions, through the environment), then runs
// autoreload::start(50ms) with a reload hook that appends "hook <generation>". Exits by
// itself after <lifetime-seconds> (and at once in generation 3), so nothing outlives a test.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>

#include "tornado/autoreload.h"
#include "tornado/ioloop.h"

namespace {

std::string own_version() {
  // The tag is in the last bytes: read only those (the file is tens of MB under ASan).
  std::ifstream in("/proc/self/exe", std::ios::binary | std::ios::ate);
  const std::streamoff size = in.tellg();
  const std::streamoff tail = std::min<std::streamoff>(size, 256);
  std::string bytes(static_cast<std::size_t>(tail), '\0');
  in.seekg(size - tail);
  in.read(bytes.data(), tail);
  static const std::string kTag = "AUTORELOAD-VERSION:";
  const auto at = bytes.rfind(kTag);
  if (at == std::string::npos) return "none";
  auto version = bytes.substr(at + kTag.size());
  return version.substr(0, version.find('\n'));
}

void append(const std::string& file, const std::string& line) {
  std::ofstream(file, std::ios::app) << line << "\n" << std::flush;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  const std::string out = argv[1];
  const double lifetime = std::atof(argv[2]);
  const char* previous = std::getenv("AUTORELOAD_TEST_GENERATION");
  const int generation = previous ? std::atoi(previous) + 1 : 1;
  ::setenv("AUTORELOAD_TEST_GENERATION", std::to_string(generation).c_str(), 1);
  append(out, "started " + own_version() + " " + std::to_string(generation));
  if (generation >= 3) return 0;

  tornado::IOLoop loop;
  if (argc > 3) tornado::autoreload::watch(argv[3]);
  tornado::autoreload::add_reload_hook(
      [out, generation] { append(out, "hook " + std::to_string(generation)); });
  tornado::autoreload::start(std::chrono::milliseconds(50));
  loop.call_later(tornado::Duration(lifetime), [&loop] { loop.stop(); });
  loop.start();
  append(out, "exit " + std::to_string(generation));
  return 0;
}
