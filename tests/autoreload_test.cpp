// autoreload: a copy of tests/autoreload_test_app is started, then replaced (as a linker
// or `install` does: a new file renamed over it), rewritten slowly, or its watched file
// touched, and must re-execute itself — the new binary, same pid, same argv, reload hooks
// first. Each child exits by itself within its lifetime and is killed and reaped at the end
// of its test. Also: Application starts autoreload in debug mode (Tornado's setting).
#include <gtest/gtest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "locale_test_util.h"
#include "tornado/autoreload.h"
#include "tornado/testing.h"
#include "tornado/web.h"

extern char** environ;

namespace autoreload_test {

using namespace tornado;
using namespace std::chrono_literals;
using tornado::test::TempDir;

const std::string kApp = TORNADO_BINARY_DIR "/tests/autoreload_test_app";

// In one read: the app is tens of MB under ASan, and byte-wise iteration at -O0 takes seconds.
std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary | std::ios::ate);
  if (!in) return {};
  std::string bytes(static_cast<std::size_t>(in.tellg()), '\0');
  in.seekg(0);
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  bytes.resize(static_cast<std::size_t>(in.gcount()));
  return bytes;
}

// A copy of the test app in a temporary directory, run as a child process.
class AutoreloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kApp)) GTEST_SKIP() << kApp << " is not built";
    app_ = dir_.path() / "app";
    out_ = dir_.path() / "out.txt";
    binary_ = read_all(kApp);
    write_version(app_, "v1");
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }

  // The app's bytes with a version tag appended (trailing bytes do not change an ELF file).
  std::string versioned(const std::string& version) const {
    return binary_ + "\nAUTORELOAD-VERSION:" + version + "\n";
  }
  void write_version(const std::filesystem::path& path, const std::string& version) const {
    std::ofstream(path, std::ios::binary) << versioned(version);
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  }
  // Replaces the app the way a linker or `install` does: a new file renamed over it.
  void replace_atomically(const std::string& version) const {
    const auto tmp = dir_.path() / "app.new";
    write_version(tmp, version);
    std::filesystem::rename(tmp, app_);
  }

  void start(std::vector<std::string> extra = {}, double lifetime = 20) {
    std::vector<std::string> args{app_.string(), out_.string(), std::to_string(lifetime)};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::unsetenv("AUTORELOAD_TEST_GENERATION");
    ASSERT_EQ(::posix_spawn(&pid_, app_.c_str(), nullptr, nullptr, argv.data(), environ), 0);
  }

  // Waits (up to 30 s: a loaded machine, a sanitizer build) until the output contains `text`.
  bool wait_for(const std::string& text) const {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (read_all(out_).find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  std::string output() const { return read_all(out_); }

  TempDir dir_{"autoreload"};
  std::filesystem::path app_, out_;
  std::string binary_;
  pid_t pid_ = -1;
};

TEST_F(AutoreloadTest, ReplacedBinaryIsReExecutedWithHooksFirst) {
  start();
  ASSERT_TRUE(wait_for("started v1 1\n")) << output();
  std::this_thread::sleep_for(200ms);  // a few checks see the first version
  replace_atomically("v2");
  ASSERT_TRUE(wait_for("started v2 2\n")) << output();
  EXPECT_EQ(output(), "started v1 1\nhook 1\nstarted v2 2\n");
  // The same process (execv keeps the pid), still running the new image.
  EXPECT_EQ(::waitpid(pid_, nullptr, WNOHANG), 0);
  // And the new image watches too: a third version ends the app (generation 3 exits).
  replace_atomically("v3");
  ASSERT_TRUE(wait_for("started v3 3\n")) << output();
  int status = 0;
  ASSERT_EQ(::waitpid(pid_, &status, 0), pid_);
  pid_ = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST_F(AutoreloadTest, WatchedFileChangeReExecutes) {
  const auto watched = dir_.path() / "config.txt";
  std::ofstream(watched) << "a";
  start({watched.string()});
  ASSERT_TRUE(wait_for("started v1 1\n")) << output();
  std::this_thread::sleep_for(200ms);
  std::ofstream(watched) << "b";
  std::filesystem::last_write_time(watched, std::filesystem::file_time_type::clock::now() + 1h);
  ASSERT_TRUE(wait_for("started v1 2\n")) << output();
  EXPECT_EQ(output(), "started v1 1\nhook 1\nstarted v1 2\n");
}

TEST_F(AutoreloadTest, HalfWrittenBinaryIsNotRunUntilComplete) {
  start();
  ASSERT_TRUE(wait_for("started v1 1\n")) << output();
  std::this_thread::sleep_for(200ms);
  // As a linker writes: the old file goes, a new one grows, pausing longer than several
  // checks (50 ms each) half-way, so that its size holds still while it is incomplete.
  const std::string bytes = versioned("v2");
  std::filesystem::remove(app_);
  {
    std::ofstream part(app_, std::ios::binary);
    part << bytes.substr(0, bytes.size() / 2) << std::flush;
    std::filesystem::permissions(app_, std::filesystem::perms::owner_all);
    std::this_thread::sleep_for(600ms);
    EXPECT_EQ(output(), "started v1 1\n");  // nothing ran the half file
    part << bytes.substr(bytes.size() / 2) << std::flush;
  }
  ASSERT_TRUE(wait_for("started v2 2\n")) << output();
  EXPECT_EQ(output(), "started v1 1\nhook 1\nstarted v2 2\n");
}

TEST_F(AutoreloadTest, UnchangedBinaryKeepsRunningAndExitsByItself) {
  start({}, 0.5);
  ASSERT_TRUE(wait_for("exit 1\n")) << output();
  int status = 0;
  ASSERT_EQ(::waitpid(pid_, &status, 0), pid_);
  pid_ = -1;
  EXPECT_EQ(output(), "started v1 1\nexit 1\n");
}

// ---- the Application setting ----

class AutoreloadSettingTest : public tornado::testing::AsyncTest {};

TEST_F(AutoreloadSettingTest, DebugStartsAutoreloadUnlessTurnedOff) {
  EXPECT_FALSE(autoreload::started());
  {
    web::Application app({}, {.debug = true, .autoreload = false});
    EXPECT_FALSE(autoreload::started());
  }
  {
    web::Application app({}, {.debug = false});
    EXPECT_FALSE(autoreload::started());
  }
  web::Application app({}, {.debug = true});
  EXPECT_TRUE(autoreload::started());
  web::Application again({}, {.autoreload = true});  // once per loop: no second watcher
  EXPECT_TRUE(autoreload::started());
}

TEST_F(AutoreloadSettingTest, StartRejectsANonPositivePeriod) {
  EXPECT_THROW(autoreload::start(0s), std::invalid_argument);
}

}  // namespace autoreload_test
