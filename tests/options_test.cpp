// options.h: Tornado's options_test.py behaviours (command line, config files, callbacks,
// help, types, multiple values, redefinition, dashes and underscores), the help layout
// against Python Tornado's own output, the duration and date formats, and the exiting
// free functions (exit status 2 on a bad option) in a child process.
#include "tornado/options.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tornado/log.h"

namespace options_test {

namespace {

namespace fs = std::filesystem;
using namespace tornado::options;
using namespace std::chrono_literals;

// Captures std::cerr for the scope (print_help on an unknown option writes there).
class CaptureStderr {
 public:
  CaptureStderr() : old_(std::cerr.rdbuf(out_.rdbuf())) {}
  ~CaptureStderr() { std::cerr.rdbuf(old_); }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::streambuf* old_;
};

class OptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tornado_options_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write_file(const std::string& name, const std::string& text) {
    fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << text;
    return path.string();
  }

  // Tornado's _define_options (without the Email type: C++ options have fixed types).
  static void define_typed(OptionParser& options) {
    options.define<std::string>("str", std::nullopt);
    options.define<std::string>("basestring", std::nullopt);
    options.define<std::int64_t>("int", std::nullopt);
    options.define<double>("float", std::nullopt);
    options.define<DateTime>("datetime", std::nullopt);
    options.define<Duration>("timedelta", std::nullopt);
    options.define<std::int64_t>("list-of-int", std::nullopt, "", "", /*multiple=*/true);
  }
  static void check_typed(const OptionParser& options) {
    EXPECT_EQ(options.get<std::string>("str"), "asdf");
    EXPECT_EQ(options.get<std::string>("basestring"), "qwer");
    EXPECT_EQ(options.get<int>("int"), 42);
    EXPECT_EQ(options.get<double>("float"), 1.5);
    EXPECT_EQ(options.get<DateTime>("datetime"), (DateTime{2013, 4, 28, 5, 16, 0}));
    EXPECT_EQ(options.get<Duration>("timedelta"), 45s);
    EXPECT_EQ(options.get<std::vector<int>>("list_of_int"), (std::vector<int>{1, 2, 3}));
  }

  fs::path dir_;
};

TEST_F(OptionsTest, ParseCommandLine) {
  OptionParser options;
  options.define("port", 80);
  options.parse_command_line({"main.py", "--port=443"});
  EXPECT_EQ(options.get<int>("port"), 443);
}

TEST_F(OptionsTest, ParseConfigFile) {
  // Tornado's options_test.cfg, verbatim.
  std::string path = write_file("options_test.cfg",
                                "port=443\nport=443\nusername='\xe6\x9d\x8e\xe5\xba\xb7'\n\n"
                                "foo_bar='a'\n\nmy_path = __file__\n");
  OptionParser options;
  options.define("port", 80);
  options.define("username", "foo");
  options.define<std::string>("my_path", std::nullopt);
  options.parse_config_file(path);
  EXPECT_EQ(options.get<int>("port"), 443);
  EXPECT_EQ(options.get<std::string>("username"), "\xe6\x9d\x8e\xe5\xba\xb7");
  EXPECT_EQ(options.get<std::string>("my_path"), fs::absolute(path).lexically_normal().string());
}

TEST_F(OptionsTest, ParseCallbacksRunOnFinalParsesOnly) {
  OptionParser options;
  int called = 0;
  options.add_parse_callback([&] { ++called; });
  options.parse_command_line({"main.py"}, /*final=*/false);
  EXPECT_EQ(called, 0);
  options.parse_command_line({"main.py"});
  EXPECT_EQ(called, 1);
  options.parse_command_line({"main.py"});
  EXPECT_EQ(called, 2) << "callbacks run again on every final parse";
  options.parse_config_file(write_file("empty.cfg", ""));
  EXPECT_EQ(called, 3);
}

TEST_F(OptionsTest, HelpPrintsUsageAndSignalsExit) {
  OptionParser options;
  CaptureStderr err;
  EXPECT_THROW(options.parse_command_line({"main.py", "--help"}), HelpShown);
  EXPECT_NE(err.text().find("Usage: main.py [OPTIONS]"), std::string::npos);
}

TEST_F(OptionsTest, Subcommand) {
  OptionParser base;
  base.define("verbose", false);
  OptionParser sub;
  sub.define<std::string>("foo", std::nullopt);
  auto rest = base.parse_command_line({"main.py", "--verbose", "subcommand", "--foo=bar"});
  EXPECT_EQ(rest, (std::vector<std::string>{"subcommand", "--foo=bar"}));
  EXPECT_TRUE(base.get<bool>("verbose"));
  EXPECT_TRUE(sub.parse_command_line(rest).empty());
  EXPECT_EQ(sub.get<std::string>("foo"), "bar");
  CaptureStderr err;
  EXPECT_THROW(sub.parse_command_line({"subcommand", "--verbose"}), Error);
}

TEST_F(OptionsTest, DoubleDashEndsOptions) {
  OptionParser options;
  options.define("port", 80);
  auto rest = options.parse_command_line({"main.py", "--port=1", "--", "--port=2", "x"});
  EXPECT_EQ(rest, (std::vector<std::string>{"--port=2", "x"}));
  EXPECT_EQ(options.get<int>("port"), 1);
}

TEST_F(OptionsTest, SetattrTypeChecksAndRunsTheCallback) {
  OptionParser options;
  std::vector<std::int64_t> values;
  options.define("foo", 1, "", "", false, "",
                 [&](const Value& v) { values.push_back(v.get<std::int64_t>()); });
  options.set("foo", 2);
  EXPECT_EQ(options.get<int>("foo"), 2);
  EXPECT_EQ(values, (std::vector<std::int64_t>{2}));
  // setattr does not parse strings.
  EXPECT_THROW(options.set("foo", std::string("2")), Error);
  EXPECT_EQ(options.get<int>("foo"), 2);
}

TEST_F(OptionsTest, IterItemsAsDictAndGroups) {
  OptionParser options;
  options.define("a", 1);
  options.define("b", 2, "", "", false, "b_group");
  EXPECT_EQ(options.names(), (std::vector<std::string>{"help", "a", "b"}));
  auto all = options.as_dict();
  EXPECT_EQ(all.size(), 3u);
  EXPECT_EQ(all.at("a").get<int>(), 1);
  EXPECT_TRUE(all.at("help").is_none());
  EXPECT_EQ(options.groups(), (std::set<std::string>{"", "b_group", __FILE__}))
      << "the default group is the defining file, as Tornado";
  auto b_group = options.group_dict("b_group");
  ASSERT_EQ(b_group.size(), 1u);
  EXPECT_EQ(b_group.at("b").get<int>(), 2);
  EXPECT_TRUE(options.group_dict("nonexistent").empty());
}

TEST_F(OptionsTest, TypesFromTheCommandLine) {
  OptionParser options;
  define_typed(options);
  options.parse_command_line({"main.py", "--str=asdf", "--basestring=qwer", "--int=42",
                              "--float=1.5", "--datetime=2013-04-28 05:16", "--timedelta=45s",
                              "--list-of-int=1,2,3"});
  check_typed(options);
}

TEST_F(OptionsTest, TypesFromAConfigFileOfStrings) {
  // Tornado's options_test_types_str.cfg (without the Email line).
  std::string path = write_file("types_str.cfg",
                                "str = 'asdf'\nbasestring = 'qwer'\nint = 42\nfloat = 1.5\n"
                                "datetime = '2013-04-28 05:16'\ntimedelta = '45s'\n"
                                "list_of_int = '1,2,3'\n");
  OptionParser options;
  define_typed(options);
  options.parse_config_file(path);
  check_typed(options);
}

TEST_F(OptionsTest, ConfigFileWithPythonCodeIsRefusedNamingTheLine) {
  // Tornado's options_test_types.cfg imports modules and calls constructors: Python code,
  // which a tornado-cpp config file cannot run.
  std::string path =
      write_file("types.cfg", "from datetime import datetime, timedelta\nstr = 'asdf'\n");
  OptionParser options;
  define_typed(options);
  try {
    options.parse_config_file(path);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("types.cfg:1:"), std::string::npos) << e.what();
  }
  std::string call = write_file("call.cfg", "str = 'a'\ndatetime = datetime(2013, 4, 28)\n");
  try {
    options.parse_config_file(call);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("call.cfg:2:"), std::string::npos) << e.what();
  }
}

TEST_F(OptionsTest, ConfigFileLiterals) {
  std::string path = write_file("literals.cfg",
                                "# a comment\n"
                                "name = \"double\" 'single'  # adjacent strings join\n"
                                "escaped = 'tab\\there\\x41\\u00e9\\n'\n"
                                "raw = r'\\d+'\n"
                                "hosts = ['cache1.example.com:11011',\n"
                                "         'cache2.example.com:11011',  # trailing comma\n"
                                "        ]\n"
                                "ports = [80, 0x1bb]\n"
                                "ratio = -2.5e1\n"
                                "debug = True\n"
                                "count = 1_000\n"
                                "nothing = None\n"
                                "unrelated_variable = [1, 'x', None]\n");
  OptionParser options;
  options.define("name", "");
  options.define("escaped", "");
  options.define("raw", "");
  options.define("hosts", std::vector<std::string>{});
  options.define("ports", std::vector<int>{});
  options.define("ratio", 0.0);
  options.define("debug", false);
  options.define("count", 0);
  options.define("nothing", "default");
  options.parse_config_file(path);
  EXPECT_EQ(options.get<std::string>("name"), "doublesingle");
  EXPECT_EQ(options.get<std::string>("escaped"), "tab\there\x41\xc3\xa9\n");
  EXPECT_EQ(options.get<std::string>("raw"), "\\d+");
  EXPECT_EQ(options.get<std::vector<std::string>>("hosts"),
            (std::vector<std::string>{"cache1.example.com:11011", "cache2.example.com:11011"}));
  EXPECT_EQ(options.get<std::vector<int>>("ports"), (std::vector<int>{80, 443}));
  EXPECT_EQ(options.get<double>("ratio"), -25.0);
  EXPECT_TRUE(options.get<bool>("debug"));
  EXPECT_EQ(options.get<int>("count"), 1000);
  EXPECT_EQ(options.get<std::optional<std::string>>("nothing"), std::nullopt);
}

TEST_F(OptionsTest, ConfigFileTypeMismatchIsAnError) {
  OptionParser options;
  options.define("ratio", 1.0);
  options.define("hosts", std::vector<std::string>{});
  // As Tornado: an int is not a float, and a multiple option needs a list or a string.
  EXPECT_THROW(options.parse_config_file(write_file("a.cfg", "ratio = 5\n")), Error);
  EXPECT_THROW(options.parse_config_file(write_file("b.cfg", "hosts = 5\n")), Error);
  EXPECT_THROW(options.parse_config_file(write_file("c.cfg", "hosts = [1]\n")), Error);
  options.parse_config_file(write_file("d.cfg", "hosts = 'a,b'\n"));
  EXPECT_EQ(options.get<std::vector<std::string>>("hosts"), (std::vector<std::string>{"a", "b"}));
  EXPECT_THROW(options.parse_config_file(write_file("e.cfg", "ratio = 'x'\n")), Error);
  EXPECT_THROW(options.parse_config_file((dir_ / "missing.cfg").string()), Error);
  EXPECT_THROW(options.parse_config_file(write_file("f.cfg", "ratio = [1.0\n")), Error);
  EXPECT_THROW(options.parse_config_file(write_file("g.cfg", "ratio = b'1'\n")), Error);
  EXPECT_THROW(options.parse_config_file(write_file("h.cfg", "ratio = 'unterminated\n")), Error);
}

TEST_F(OptionsTest, MultipleString) {
  OptionParser options;
  options.define<std::string>("foo", std::nullopt, "", "", true);
  options.parse_command_line({"main.py", "--foo=a,b,c"});
  EXPECT_EQ(options.get<std::vector<std::string>>("foo"),
            (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(OptionsTest, MultipleIntWithInclusiveRanges) {
  OptionParser options;
  options.define<int>("foo", std::nullopt, "", "", true);
  options.parse_command_line({"main.py", "--foo=1,3,5:7"});
  EXPECT_EQ(options.get<std::vector<int>>("foo"), (std::vector<int>{1, 3, 5, 6, 7}));
  options.parse_command_line({"main.py", "--foo=7:5"});
  EXPECT_TRUE(options.get<std::vector<int>>("foo").empty()) << "range(7, 6) is empty";
  EXPECT_THROW(options.parse_command_line({"main.py", "--foo=0:100000000000"}), Error)
      << "a range is bounded, not allocated";
}

TEST_F(OptionsTest, ErrorRedefine) {
  const std::pair<const char*, const char*> cases[] = {{"foo-bar", "foo-bar"},
                                                       {"foo_bar", "foo_bar"},
                                                       {"foo-bar", "foo_bar"},
                                                       {"foo_bar", "foo-bar"}};
  for (auto [a, b] : cases) {
    OptionParser options;
    options.define(a, "");
    try {
      options.define(b, "");
      ADD_FAILURE() << a << " then " << b << ": no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("Option 'foo-bar' already defined"), std::string::npos)
          << e.what();
    }
  }
}

TEST_F(OptionsTest, DashUnderscoreCli) {
  for (const char* defined : {"foo-bar", "foo_bar"}) {
    for (const char* flag : {"--foo-bar=a", "--foo_bar=a"}) {
      OptionParser options;
      options.define<std::string>(defined, std::nullopt);
      options.parse_command_line({"main.py", flag});
      EXPECT_EQ(options.get<std::string>("foo_bar"), "a");
      EXPECT_EQ(options.get<std::string>("foo-bar"), "a");
    }
  }
}

TEST_F(OptionsTest, DashUnderscoreFile) {
  std::string path = write_file("options_test.cfg", "foo_bar='a'\n");
  for (const char* defined : {"foo-bar", "foo_bar"}) {
    OptionParser options;
    options.define<std::string>(defined, std::nullopt);
    options.parse_config_file(path);
    EXPECT_EQ(options.get<std::string>("foo_bar"), "a");
  }
}

TEST_F(OptionsTest, DashUnderscoreIntrospection) {
  OptionParser options;
  options.define<std::string>("with-dash", std::nullopt, "", "", false, "g");
  options.define<std::string>("with_underscore", std::nullopt, "", "", false, "g");
  EXPECT_EQ(options.names(), (std::vector<std::string>{"help", "with-dash", "with_underscore"}));
  auto g = options.group_dict("g");
  EXPECT_TRUE(g.contains("with-dash") && g.contains("with_underscore"));
  std::ostringstream help;
  options.print_help(help);
  EXPECT_NE(help.str().find("--with-dash"), std::string::npos);
  EXPECT_NE(help.str().find("--with-underscore"), std::string::npos);
}

TEST_F(OptionsTest, OnlyEqualsFormIsAcceptedAsTornado) {
  OptionParser options;
  options.define("port", 80);
  options.define("debug", false);
  try {
    options.parse_command_line({"main.py", "--port", "443"});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "Option 'port' requires a value");
  }
  options.parse_command_line({"main.py", "--debug"});
  EXPECT_TRUE(options.get<bool>("debug"));
  // Tornado's bool parsing: only false, 0 and f (any case) are false.
  options.parse_command_line({"main.py", "--debug=F"});
  EXPECT_FALSE(options.get<bool>("debug"));
  options.parse_command_line({"main.py", "--debug=no"});
  EXPECT_TRUE(options.get<bool>("debug"));
  // One dash works too (Tornado strips every leading '-').
  options.parse_command_line({"main.py", "-port=8"});
  EXPECT_EQ(options.get<int>("port"), 8);
}

TEST_F(OptionsTest, UnknownOptionPrintsHelpAndThrows) {
  OptionParser options;
  CaptureStderr err;
  try {
    options.parse_command_line({"main.py", "--nope=1"});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "Unrecognized command line option: 'nope'");
  }
  EXPECT_NE(err.text().find("Usage:"), std::string::npos);
}

TEST_F(OptionsTest, BadValuesNameTheOption) {
  OptionParser options;
  options.define("port", 80);
  options.define("timeout", Duration(0));
  try {
    options.parse_command_line({"main.py", "--port=80x"});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "Option 'port': invalid literal for int() with base 10: '80x'");
  }
  EXPECT_THROW(options.parse_command_line({"main.py", "--timeout=5 fortnights"}), Error);
  EXPECT_THROW(options.get<std::string>("port"), Error) << "get<T> checks the type";
  EXPECT_THROW(options.get<int>("nope"), Error);
}

TEST_F(OptionsTest, DurationsAsTornadoParsesThem) {
  OptionParser options;
  options.define("t", Duration(0));
  auto parse = [&](const char* text) {
    options.parse_value("t", text);
    return options.get<Duration>("t");
  };
  EXPECT_EQ(parse("1h"), 1h);
  EXPECT_EQ(parse("30s"), 30s);
  EXPECT_EQ(parse("45"), 45s) << "no unit: seconds";
  EXPECT_EQ(parse("5m"), 5min);
  EXPECT_EQ(parse("5min"), 5min);
  EXPECT_EQ(parse("2d"), 48h);
  EXPECT_EQ(parse("1w"), 168h);
  EXPECT_EQ(parse("1.5h"), 90min);
  EXPECT_EQ(parse("300ms"), 300ms);
  EXPECT_EQ(parse("10us"), 10us);
  EXPECT_EQ(parse("1h 30m"), 90min);
  EXPECT_EQ(parse(" 2 hours 3 seconds "), 2h + 3s);
  EXPECT_EQ(parse("-1.5s"), -1500ms);
  EXPECT_EQ(parse("1e3ms"), 1s);
  EXPECT_EQ(parse(".5s"), 500ms);
  EXPECT_EQ(parse(""), 0s);
  for (const char* bad : {"1h30m", "1H", "x", "1 fortnight", "h", "1e"}) {
    EXPECT_THROW(options.parse_value("t", bad), Error) << bad;
  }
  EXPECT_EQ(options.get<std::chrono::seconds>("t"), 0s) << "a failed parse changes nothing";
}

TEST_F(OptionsTest, DatesInTornadoFormats) {
  OptionParser options;
  options.define("d", DateTime{});
  auto parse = [&](const char* text) {
    options.parse_value("d", text);
    return options.get<DateTime>("d");
  };
  EXPECT_EQ(parse("Sun Apr 28 05:16:07 2013"), (DateTime{2013, 4, 28, 5, 16, 7}));
  EXPECT_EQ(parse("2013-04-28 05:16:07"), (DateTime{2013, 4, 28, 5, 16, 7}));
  EXPECT_EQ(parse("2013-04-28 05:16"), (DateTime{2013, 4, 28, 5, 16, 0}));
  EXPECT_EQ(parse("2013-04-28T05:16"), (DateTime{2013, 4, 28, 5, 16, 0}));
  EXPECT_EQ(parse("20130428 05:16:07"), (DateTime{2013, 4, 28, 5, 16, 7}));
  EXPECT_EQ(parse("20130428 05:16"), (DateTime{2013, 4, 28, 5, 16, 0}));
  EXPECT_EQ(parse("2013-04-28"), (DateTime{2013, 4, 28}));
  EXPECT_EQ(parse("20130428"), (DateTime{2013, 4, 28}));
  EXPECT_EQ(parse("05:16:07"), (DateTime{1900, 1, 1, 5, 16, 7}));
  EXPECT_EQ(parse("5:16"), (DateTime{1900, 1, 1, 5, 16, 0}));
  EXPECT_EQ(parse("2013-4-8"), (DateTime{2013, 4, 8}));
  EXPECT_EQ(parse("2024-02-29"), (DateTime{2024, 2, 29}));
  for (const char* bad : {"2013-02-29", "2013-13-01", "25:00", "2013-04-28 05:16:60", "12:345",
                          "yesterday", "2013-04-28x", ""}) {
    EXPECT_THROW(options.parse_value("d", bad), Error) << bad;
  }
  EXPECT_EQ((DateTime{2013, 4, 28, 5, 16, 0}).as_utc().time_since_epoch().count(), 1367126160);
}

// Python Tornado 6.2's print_help for the same definitions (tests/data: generated with
// /usr/bin/python3 from tornado.options.OptionParser).
TEST_F(OptionsTest, HelpIsGroupedAndAlignedAsTornado) {
  OptionParser o;
  o.set_program_name("main.py");
  o.define("port", 8888, "run on the given port", "PORT", false, "application");
  o.define("debug", false, "debug mode", "", false, "application");
  o.define<std::string>("cookie_secret", std::nullopt,
                        "the secret used to sign cookies; random when not given (printed at "
                        "start)",
                        "", false, "application");
  o.define("a_very_long_option_name_past_thirty", "x", "short", "", false, "application");
  o.define("ratio", 1.5, "", "", false, "tuning");
  o.define("timeout", Duration(90s), "request timeout", "", false, "tuning");
  o.define<std::string>("hosts", std::nullopt, "hosts, comma separated", "", true, "tuning");
  o.define("ports", std::vector<int>{80, 443}, "", "", true, "tuning");
  o.define("name", "", "empty default is not shown", "", false, "tuning");
  o.define("start", DateTime{2013, 4, 28, 5, 16, 0}, "", "", false, "tuning");
  o.define("words", std::vector<std::string>{"it's", "a"}, "", "", true, "tuning");
  std::ostringstream out;
  o.print_help(out);
  EXPECT_EQ(out.str(),
            "Usage: main.py [OPTIONS]\n"
            "\n"
            "Options:\n"
            "\n"
            "  --help                           show this help information\n"
            "\n"
            "application options:\n"
            "\n"
            "  --a-very-long-option-name-past-thirty \n"
            "                                   short (default x)\n"
            "  --cookie-secret                  the secret used to sign cookies; random when\n"
            "                                   not given (printed at start)\n"
            "  --debug                          debug mode (default False)\n"
            "  --port=PORT                      run on the given port (default 8888)\n"
            "\n"
            "tuning options:\n"
            "\n"
            "  --hosts                          hosts, comma separated (default [])\n"
            "  --name                           empty default is not shown\n"
            "  --ports                           (default [80, 443])\n"
            "  --ratio                           (default 1.5)\n"
            "  --start                           (default 2013-04-28 05:16:00)\n"
            "  --timeout                        request timeout (default 0:01:30)\n"
            "  --words                           (default [\"it's\", 'a'])\n"
            "\n");
}

TEST_F(OptionsTest, ValueStrIsPythons) {
  EXPECT_EQ(Value(Type::Double, 100.0).str(), "100.0");
  EXPECT_EQ(Value(Type::Double, 1e16).str(), "1e+16");
  EXPECT_EQ(Value(Type::Duration, Duration(-1s)).str(), "-1 day, 23:59:59");
  EXPECT_EQ(Value(Type::Duration, Duration(48h + 1500ms)).str(), "2 days, 0:00:01.500000");
  EXPECT_EQ(Value::list(Type::Duration, {Duration(45s)}).str(), "[datetime.timedelta(seconds=45)]");
  EXPECT_EQ(Value::list(Type::DateTime, {DateTime{2013, 4, 28, 5, 16, 0}}).str(),
            "[datetime.datetime(2013, 4, 28, 5, 16)]");
}

// ---- the global parser: exit statuses and the logging options ----

// Runs `body` in a child process and returns its exit status (stderr goes to `err_path`).
template <class F>
int exit_status_of(F body, const std::string& err_path) {
  pid_t pid = fork();
  if (pid == 0) {
    FILE* f = freopen(err_path.c_str(), "w", stderr);
    (void)f;
    body();
    _exit(100);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_F(OptionsTest, GlobalParseCommandLineExitsTwoOnAnUnknownOption) {
  std::string err = (dir_ / "stderr").string();
  int status = exit_status_of(
      [] {
        const char* argv[] = {"prog", "--no-such-option=1"};
        parse_command_line(2, argv);
      },
      err);
  EXPECT_EQ(status, 2);
  std::string text = read_file(err);
  EXPECT_NE(text.find("error: Unrecognized command line option: 'no-such-option'"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("--log-file-prefix=PATH"), std::string::npos)
      << "the help lists the logging options";
}

TEST_F(OptionsTest, GlobalHelpExitsZero) {
  std::string err = (dir_ / "stderr").string();
  int status = exit_status_of(
      [] {
        const char* argv[] = {"prog", "--help"};
        parse_command_line(2, argv);
      },
      err);
  EXPECT_EQ(status, 0);
  EXPECT_NE(read_file(err).find("Usage: prog [OPTIONS]"), std::string::npos);
}

TEST_F(OptionsTest, GlobalBadConfigFileExitsTwo) {
  std::string path = write_file("bad.cfg", "import os\n");
  std::string err = (dir_ / "stderr").string();
  EXPECT_EQ(exit_status_of([&] { parse_config_file(path); }, err), 2);
}

TEST_F(OptionsTest, LoggingOptionsConfigureLogH) {
  // In a child: the global parser's parse callback calls enable_pretty_logging.
  std::string log_path = (dir_ / "app.log").string();
  std::string err = (dir_ / "stderr").string();
  int status = exit_status_of(
      [&] {
        std::string prefix = "--log_file_prefix=" + log_path;
        const char* argv[] = {"prog", "--logging=warning", prefix.c_str()};
        parse_command_line(3, argv);
        tornado::app_log().info("not written: below warning");
        tornado::app_log().warn("written");
        _exit(tornado::app_log().level() == spdlog::level::warn ? 0 : 1);
      },
      err);
  EXPECT_EQ(status, 0) << read_file(err);
  std::string text = read_file(log_path);
  EXPECT_NE(text.find("tornado.application] written"), std::string::npos) << text;
  EXPECT_EQ(text.find("below warning"), std::string::npos) << text;
}

TEST_F(OptionsTest, BadLoggingOptionIsAnOptionsError) {
  OptionParser options;
  define_logging_options(options);
  EXPECT_THROW(options.parse_command_line({"main.py", "--logging=loud"}), Error);
  std::string prefix = "--log_file_prefix=" + (dir_ / "x.log").string();
  EXPECT_THROW(
      options.parse_command_line({"main.py", "--logging=info", prefix, "--log_rotate_mode=x"}),
      Error);
  EXPECT_FALSE(fs::exists(dir_ / "x.log")) << "checked before anything changes";
  // Restore the default configuration (stderr, info) for the other tests in this process.
  options.set("log_file_prefix", Value::none(Type::String));
  options.parse_command_line({"main.py", "--logging=info", "--log_rotate_mode=size"});
}

}  // namespace

}  // namespace options_test
