// Behaviours of Tornado's log_test: the LogFormatter's shape and colours, robustness to bytes
// that are not UTF-8, enable_pretty_logging (log file, rotation, bad options), level filtering.
#include "tornado/log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <spdlog/sinks/ostream_sink.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace log_test {

namespace {

using namespace tornado;
namespace fs = std::filesystem;

constexpr long long k261122_120000_UTC = 1795348800;  // 2026-11-22 12:00:00 UTC

std::string format_with(LogFormatter& f, spdlog::level::level_enum level, std::string_view text,
                        long long epoch = k261122_120000_UTC,
                        std::string_view logger = "tornado.general") {
  spdlog::details::log_msg msg(std::chrono::system_clock::time_point(std::chrono::seconds(epoch)),
                               spdlog::source_loc{},
                               spdlog::string_view_t(logger.data(), logger.size()), level,
                               spdlog::string_view_t(text.data(), text.size()));
  spdlog::memory_buf_t buf;
  f.format(msg, buf);
  return std::string(buf.data(), buf.size());
}

std::string format(bool color, spdlog::level::level_enum level, std::string_view text,
                   std::string_view logger = "tornado.general") {
  LogFormatter f(color);
  return format_with(f, level, text, k261122_120000_UTC, logger);
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class LogFormatterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setenv("TZ", "UTC", 1);  // the prefix shows local time: pin it
    tzset();
  }
};

TEST_F(LogFormatterTest, PrefixHasLevelLetterDateTimeAndLoggerName) {
  EXPECT_EQ(format(false, spdlog::level::info, "hello"),
            "[I 261122 12:00:00 tornado.general] hello\n");
  EXPECT_EQ(format(false, spdlog::level::info, "200 GET / (127.0.0.1) 0.31ms", "tornado.access"),
            "[I 261122 12:00:00 tornado.access] 200 GET / (127.0.0.1) 0.31ms\n");
}

TEST_F(LogFormatterTest, EachLevelIsItsFirstLetter) {
  EXPECT_EQ(format(false, spdlog::level::debug, "m").substr(0, 3), "[D ");
  EXPECT_EQ(format(false, spdlog::level::info, "m").substr(0, 3), "[I ");
  EXPECT_EQ(format(false, spdlog::level::warn, "m").substr(0, 3), "[W ");
  EXPECT_EQ(format(false, spdlog::level::err, "m").substr(0, 3), "[E ");
  EXPECT_EQ(format(false, spdlog::level::critical, "m").substr(0, 3), "[C ");
}

TEST_F(LogFormatterTest, ColourWrapsOnlyThePrefixInTheLevelsColour) {
  EXPECT_EQ(format(true, spdlog::level::info, "hello"),
            "\033[32m[I 261122 12:00:00 tornado.general]\033[0m hello\n");
  EXPECT_EQ(format(true, spdlog::level::debug, "x").substr(0, 5), "\033[34m");
  EXPECT_EQ(format(true, spdlog::level::warn, "x").substr(0, 5), "\033[33m");
  EXPECT_EQ(format(true, spdlog::level::err, "x").substr(0, 5), "\033[31m");
  EXPECT_EQ(format(true, spdlog::level::critical, "x").substr(0, 5), "\033[35m");
}

TEST_F(LogFormatterTest, NoEscapeSequencesWithoutColour) {
  for (auto level : {spdlog::level::trace, spdlog::level::debug, spdlog::level::info,
                     spdlog::level::warn, spdlog::level::err, spdlog::level::critical}) {
    EXPECT_EQ(format(false, level, "plain").find('\033'), std::string::npos) << level;
  }
}

TEST_F(LogFormatterTest, ContinuationLinesAreIndentedFourSpaces) {
  EXPECT_EQ(format(false, spdlog::level::err, "Uncaught exception\nline one\n  line two"),
            "[E 261122 12:00:00 tornado.general] Uncaught exception\n"
            "    line one\n"
            "      line two\n");
}

TEST_F(LogFormatterTest, TrailingNewlinesAreDropped) {
  EXPECT_EQ(format(false, spdlog::level::info, "done\n\n"),
            "[I 261122 12:00:00 tornado.general] done\n");
}

TEST_F(LogFormatterTest, ValidUtf8IsKeptAsIs) {
  const std::string text = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf";
  EXPECT_EQ(format(false, spdlog::level::info, text),
            "[I 261122 12:00:00 tornado.general] " + text + "\n");
}

TEST_F(LogFormatterTest, InvalidUtf8BytesAreEscapedAndTheRestKept) {
  auto body = [](std::string_view text) {
    std::string line = format(false, spdlog::level::info, text);
    return line.substr(line.find("] ") + 2);
  };
  EXPECT_EQ(body("\xff ok"), "\\xff ok\n");                       // never valid
  EXPECT_EQ(body("a\x80z"), "a\\x80z\n");                         // lone continuation
  EXPECT_EQ(body("end \xe2\x82"), "end \\xe2\\x82\n");            // truncated
  EXPECT_EQ(body("\xc0\xaf"), "\\xc0\\xaf\n");                    // overlong '/'
  EXPECT_EQ(body("\xed\xa0\x80"), "\\xed\\xa0\\x80\n");           // UTF-16 surrogate
  EXPECT_EQ(body("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80\n");  // above U+10FFFF
  EXPECT_EQ(body("caf\xc3\xa9\xfe\nnext"), "caf\xc3\xa9\\xfe\n    next\n");
}

TEST_F(LogFormatterTest, TimeFollowsEachRecordNotTheFirst) {
  LogFormatter f(false);
  EXPECT_EQ(format_with(f, spdlog::level::info, "a").substr(0, 19), "[I 261122 12:00:00 ");
  EXPECT_EQ(format_with(f, spdlog::level::info, "b", k261122_120000_UTC + 61).substr(0, 19),
            "[I 261122 12:01:01 ");
  EXPECT_EQ(format_with(f, spdlog::level::info, "c", k261122_120000_UTC + 86400).substr(0, 19),
            "[I 261123 12:00:00 ");
}

TEST_F(LogFormatterTest, CloneKeepsTheColourSetting) {
  EXPECT_TRUE(static_cast<LogFormatter&>(*LogFormatter(true).clone()).color());
  EXPECT_FALSE(static_cast<LogFormatter&>(*LogFormatter(false).clone()).color());
}

// Restores TERM when a test changed it.
class TermGuard {
 public:
  TermGuard() {
    if (const char* t = std::getenv("TERM")) saved_ = t;
  }
  ~TermGuard() {
    if (saved_) {
      setenv("TERM", saved_->c_str(), 1);
    } else {
      unsetenv("TERM");
    }
  }

 private:
  std::optional<std::string> saved_;
};

TEST(StreamSupportsColor, OnlyOnATerminalThatIsNotDumb) {
  TermGuard guard;
  setenv("TERM", "xterm-256color", 1);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  EXPECT_FALSE(stream_supports_color(fds[1]));
  close(fds[0]);
  close(fds[1]);
  int null_fd = open("/dev/null", O_WRONLY);
  ASSERT_GE(null_fd, 0);
  EXPECT_FALSE(stream_supports_color(null_fd));
  close(null_fd);

  int master = -1, slave = -1;
  if (openpty(&master, &slave, nullptr, nullptr, nullptr) != 0) {
    GTEST_SKIP() << "no pseudo-terminal available here: " << std::strerror(errno);
  }
  EXPECT_TRUE(stream_supports_color(slave));
  setenv("TERM", "dumb", 1);
  EXPECT_FALSE(stream_supports_color(slave));
  unsetenv("TERM");
  EXPECT_FALSE(stream_supports_color(slave));
  close(slave);
  close(master);
}

// Saves and restores the three loggers' sinks and levels: these tests reconfigure them.
class LoggingTest : public ::testing::Test {
 protected:
  struct Saved {
    std::vector<spdlog::sink_ptr> sinks;
    spdlog::level::level_enum level, flush;
  };
  void SetUp() override {
    for (auto* l : loggers()) saved_.push_back({l->sinks(), l->level(), l->flush_level()});
    dir_ = fs::temp_directory_path() /
           ("tornado_log_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    auto ls = loggers();
    for (std::size_t i = 0; i < ls.size(); ++i) {
      ls[i]->sinks() = saved_[i].sinks;
      ls[i]->set_level(saved_[i].level);
      ls[i]->flush_on(saved_[i].flush);
    }
    fs::remove_all(dir_);  // the file sinks are closed: the loggers dropped them
  }
  static std::vector<spdlog::logger*> loggers() { return {&access_log(), &app_log(), &gen_log()}; }

  // Routes the three loggers into `out_` in the plain Tornado format.
  void capture() {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    sink->set_formatter(std::make_unique<LogFormatter>(false));
    set_log_sink(sink);
  }

  std::vector<Saved> saved_;
  fs::path dir_;
  std::ostringstream out_;
};

const std::regex kLine(
    R"(\[[DIWEC] \d{6} \d{2}:\d{2}:\d{2} tornado\.(access|application|general)\] .*)");

bool all_lines_well_formed(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    if (!std::regex_match(line, kLine)) return false;
    ++n;
  }
  return n > 0;
}

TEST_F(LoggingTest, LevelFilteringDropsRecordsBelowTheLevel) {
  capture();
  set_logging_level("warning");
  gen_log().info("quiet info");
  app_log().debug("quiet debug");
  gen_log().warn("loud {}", "warning");
  access_log().error("loud error");
  const std::string text = out_.str();
  EXPECT_EQ(text.find("quiet"), std::string::npos) << text;
  EXPECT_NE(text.find("tornado.general] loud warning\n"), std::string::npos) << text;
  EXPECT_NE(text.find("tornado.access] loud error\n"), std::string::npos) << text;

  set_logging_level("none");
  app_log().critical("silenced");
  EXPECT_EQ(out_.str().find("silenced"), std::string::npos);
}

TEST_F(LoggingTest, LevelNamesAreCaseInsensitiveAndUnknownOnesThrow) {
  EXPECT_EQ(parse_logging_level("WARNING"), spdlog::level::warn);
  EXPECT_EQ(parse_logging_level("Debug"), spdlog::level::debug);
  EXPECT_EQ(parse_logging_level("none"), spdlog::level::off);
  try {
    set_logging_level("verbose");
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("verbose"), std::string::npos);
  }
}

TEST_F(LoggingTest, MultiLineRecordsAreIndentedThroughTheLoggers) {
  capture();
  set_logging_level("info");
  app_log().error("Exception in callback\nTraceback line");
  EXPECT_NE(out_.str().find("tornado.application] Exception in callback\n    Traceback line\n"),
            std::string::npos)
      << out_.str();
}

TEST_F(LoggingTest, StderrSinkIsPlainWhenStderrIsNotATerminal) {
  const fs::path path = dir_ / "stderr.txt";
  std::fflush(stderr);
  int saved = dup(STDERR_FILENO);
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  dup2(fd, STDERR_FILENO);
  close(fd);
  {
    set_log_sink(make_stderr_sink());
    set_logging_level("info");
    gen_log().warn("to stderr");
  }
  std::fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  const std::string text = read_file(path);
  EXPECT_EQ(text.find('\033'), std::string::npos) << text;
  EXPECT_TRUE(all_lines_well_formed(text)) << text;
  EXPECT_NE(text.find("tornado.general] to stderr\n"), std::string::npos) << text;
}

TEST_F(LoggingTest, EnablePrettyLoggingWritesPlainLinesToTheLogFile) {
  const fs::path file = dir_ / "test.log";
  enable_pretty_logging({.log_file_prefix = file.string()});
  EXPECT_EQ(gen_log().sinks().size(), 1u);  // no stderr when a file is configured
  gen_log().info("hello");
  app_log().debug("below the default level");
  const std::string text = read_file(file);  // flushed per record: no flush call needed
  EXPECT_TRUE(std::regex_match(
      text, std::regex(R"(\[I \d{6} \d{2}:\d{2}:\d{2} tornado\.general\] hello\n)")))
      << text;
}

TEST_F(LoggingTest, LogFileRotatesAtMaxSizeKeepingNumBackups) {
  const fs::path file = dir_ / "test.log";
  enable_pretty_logging({.logging = "debug",
                         .log_file_prefix = file.string(),
                         .log_file_max_size = 300,
                         .log_file_num_backups = 2});
  for (int i = 0; i < 40; ++i) gen_log().debug("record number {:04d} with some padding", i);
  for (const char* name : {"test.log", "test.1.log", "test.2.log"}) {
    const fs::path p = dir_ / name;
    ASSERT_TRUE(fs::exists(p)) << name;
    EXPECT_LE(fs::file_size(p), 300u) << name;
    EXPECT_TRUE(all_lines_well_formed(read_file(p))) << name;
  }
  EXPECT_FALSE(fs::exists(dir_ / "test.3.log"));
  EXPECT_NE(read_file(file).find("record number 0039"), std::string::npos);
  EXPECT_EQ(read_file(dir_ / "test.2.log").find("record number 0039"), std::string::npos);
}

TEST_F(LoggingTest, ZeroBackupsMeansTheFileNeverRotates) {
  const fs::path file = dir_ / "test.log";
  enable_pretty_logging(
      {.log_file_prefix = file.string(), .log_file_max_size = 100, .log_file_num_backups = 0});
  for (int i = 0; i < 10; ++i) gen_log().info("line {}", i);
  EXPECT_GT(fs::file_size(file), 100u);
  EXPECT_FALSE(fs::exists(dir_ / "test.1.log"));
}

TEST_F(LoggingTest, TimeRotationWritesADatedFile) {
  enable_pretty_logging({.log_file_prefix = (dir_ / "test.log").string(),
                         .log_rotate_mode = "time",
                         .log_rotate_when = "midnight"});
  gen_log().info("dated");
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename());
  ASSERT_EQ(names.size(), 1u);
  EXPECT_TRUE(std::regex_match(names[0], std::regex(R"(test_\d{4}-\d{2}-\d{2}\.log)"))) << names[0];
}

TEST_F(LoggingTest, WrongRotateOptionsThrowAndLeaveLoggingAlone) {
  capture();
  const auto before = gen_log().sinks();
  const fs::path file = dir_ / "test.log";
  EXPECT_THROW(
      enable_pretty_logging({.log_file_prefix = file.string(), .log_rotate_mode = "wrong"}),
      std::invalid_argument);
  EXPECT_THROW(
      enable_pretty_logging(
          {.log_file_prefix = file.string(), .log_rotate_mode = "time", .log_rotate_when = "W0"}),
      std::invalid_argument);
  EXPECT_THROW(
      enable_pretty_logging(
          {.log_file_prefix = file.string(), .log_rotate_mode = "time", .log_rotate_interval = 2}),
      std::invalid_argument);
  EXPECT_THROW(enable_pretty_logging({.logging = "loud"}), std::invalid_argument);
  EXPECT_EQ(gen_log().sinks(), before);
  EXPECT_FALSE(fs::exists(file));
}

TEST_F(LoggingTest, LoggingNoneLeavesTheConfigurationAlone) {
  capture();
  set_logging_level("error");
  const auto before = app_log().sinks();
  enable_pretty_logging({.logging = "NONE", .log_file_prefix = (dir_ / "x.log").string()});
  EXPECT_EQ(app_log().sinks(), before);
  EXPECT_EQ(app_log().level(), spdlog::level::err);
  EXPECT_FALSE(fs::exists(dir_ / "x.log"));
}

TEST_F(LoggingTest, StderrIsUsedOnlyWithoutAFileUnlessAskedFor) {
  enable_pretty_logging({});
  EXPECT_EQ(access_log().sinks().size(), 1u);
  enable_pretty_logging({.log_to_stderr = false});
  EXPECT_TRUE(access_log().sinks().empty());
  enable_pretty_logging({.log_to_stderr = true, .log_file_prefix = (dir_ / "t.log").string()});
  EXPECT_EQ(access_log().sinks().size(), 2u);
  EXPECT_EQ(access_log().level(), spdlog::level::info);
}

}  // namespace

}  // namespace log_test
