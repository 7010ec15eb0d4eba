// options.h attacked as a careless user and a hostile config file would: integers past
// their type, overflowing durations, deep or garbage config literals.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tornado/options.h"

namespace options_hostile_test {

using namespace tornado;
using namespace tornado::options;
namespace fs = std::filesystem;

namespace {

class OptionsHostileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tornado_options_hostile_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write_file(const std::string& text) {
    fs::path path = dir_ / "conf.py";
    std::ofstream(path, std::ios::binary) << text;
    return path.string();
  }
  fs::path dir_;
};

TEST_F(OptionsHostileTest, IntegersPastInt64AreRefused) {
  for (const char* arg :
       {"--n=9223372036854775808", "--n=-9223372036854775809", "--n=99999999999999999999999999",
        "--n=", "--n=-", "--n=1e3", "--n=0x10"}) {
    OptionParser options;
    options.define<std::int64_t>("n", 0);
    EXPECT_THROW(options.parse_command_line({"prog", arg}), Error) << arg;
  }
  OptionParser options;
  options.define<std::int64_t>("n", 0);
  options.parse_command_line({"prog", "--n=-9223372036854775808"});
  EXPECT_EQ(options.get<std::int64_t>("n"), INT64_MIN);
}

TEST_F(OptionsHostileTest, NarrowIntegerOptionOutOfRangeIsAnErrorNotAWrap) {
  OptionParser options;
  options.define<int>("n", 0);
  options.parse_command_line({"prog", "--n=4294967301"});  // 2^32 + 5
  EXPECT_THROW(options.get<int>("n"), Error);
}

TEST_F(OptionsHostileTest, HugeDurationsAreRefusedNotOverflowed) {
  for (const char* arg : {"--d=1e400h", "--d=1e300w", "--d=inf", "--d=nan", "--d=-1e400s"}) {
    OptionParser options;
    options.define<Duration>("d", Duration(1));
    bool threw = false;
    try {
      options.parse_command_line({"prog", arg});
      // Accepted: reading it at any precision must not be undefined behaviour.
      (void)options.get<std::chrono::seconds>("d");
      (void)options.get<std::chrono::milliseconds>("d");
    } catch (const Error&) {
      threw = true;
    }
    EXPECT_TRUE(threw) << arg << " was accepted";
  }
}

TEST_F(OptionsHostileTest, DeeplyNestedConfigLiteralIsAnErrorNotAStackOverflow) {
  OptionParser options;
  options.define<std::int64_t>("n", 0, "", "", /*multiple=*/true);
  std::string deep = "n = " + std::string(200000, '[') + "1" + std::string(200000, ']') + "\n";
  EXPECT_THROW(options.parse_config_file(write_file(deep)), Error);
}

TEST_F(OptionsHostileTest, GarbageConfigFilesAreErrorsNamingTheLine) {
  for (std::string text :
       {std::string("n = \xff\xfe\n"), std::string("n = 1\0\n", 6),
        std::string("n = '''unterminated\n"), std::string("n = [1, 2\n"), std::string("n = 1 +\n"),
        std::string("= 1\n"), std::string("n = (((((\n")}) {
    OptionParser options;
    options.define<std::int64_t>("n", 0);
    try {
      options.parse_config_file(write_file(text));
      ADD_FAILURE() << "accepted: " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("line"), std::string::npos) << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not an options::Error: " << e.what() << " for " << text;
    }
  }
}

TEST_F(OptionsHostileTest, FloatOverflowingToInfinityIsNotAnInt) {
  OptionParser options;
  options.define<std::int64_t>("n", 0);
  EXPECT_THROW(options.parse_config_file(write_file("n = 1e99999\n")), Error);
}

// "lo:hi" at the ends of int64: hi - lo and the loop's n + 1 overflowed (undefined
// behaviour, caught by UBSan; MAX:MAX looped forever).
TEST_F(OptionsHostileTest, IntRangesAtTheEndsOfInt64) {
  OptionParser options;
  options.define<std::int64_t>("n", std::nullopt, "", "", true);
  EXPECT_THROW(options.parse_command_line({"prog", "--n=-9223372036854775808:9223372036854775807"}),
               Error);
  options.parse_command_line({"prog", "--n=9223372036854775807:9223372036854775807"});
  EXPECT_EQ(options.get<std::vector<std::int64_t>>("n"), (std::vector<std::int64_t>{INT64_MAX}));
  options.parse_command_line({"prog", "--n=9223372036854775806:9223372036854775807"});
  EXPECT_EQ(options.get<std::vector<std::int64_t>>("n"),
            (std::vector<std::int64_t>{INT64_MAX - 1, INT64_MAX}));
  options.parse_command_line({"prog", "--n=-9223372036854775808:-9223372036854775807"});
  EXPECT_EQ(options.get<std::vector<std::int64_t>>("n"),
            (std::vector<std::int64_t>{INT64_MIN, INT64_MIN + 1}));
}

}  // namespace

}  // namespace options_hostile_test
