// tornado/options.h — command-line and config-file options (Tornado's `tornado.options`).
//
//   namespace opts = tornado::options;
//   opts::define("port", 8888, "run on the given port", "PORT");
//   opts::define<std::string>("db", std::nullopt, "path of the database");
//   opts::define("timeout", std::chrono::seconds(30), "request timeout (30s, 1.5h, 300ms)");
//   opts::define("hosts", std::vector<std::string>{}, "comma-separated hosts");
//   auto args = opts::parse_command_line(argc, argv);   // --port=80 --timeout=1m file.txt
//   int port = opts::get<int>("port");
//   auto db = opts::get<std::optional<std::string>>("db");
//
// As in Tornado: `--name=value`, and `--flag` alone for a bool (true). `--name value` is NOT
// accepted (Tornado refuses it: "Option 'name' requires a value"); parsing stops at the
// first argument that does not start with '-' or after `--`, and the rest is returned.
// `-` and `_` are interchangeable in names. `--help` prints the options grouped by the file
// that defined them (or `group`), aligned as Tornado's print_help, and exits 0.
// The free functions work on one global OptionParser (options()), which also holds the
// logging options (--logging, --log_to_stderr, --log_file_prefix, ...) wired to log.h:
// parsing configures logging, as Tornado's parse callbacks do.
//
// Errors: the OptionParser methods throw options::Error (unknown option, bad value,
// redefinition, type mismatch); the free parse_command_line / parse_config_file print the
// error on stderr and exit with status 2 (Tornado lets the exception escape).
// Thread rule: define and parse at start-up, on one thread; reading afterwards from any
// thread is safe while nothing writes.
#pragma once

#include <chrono>
#include <compare>
#include <concepts>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <set>
#include <source_location>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace tornado::options {

// Any options error: the message says which option and what is wrong.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown by OptionParser after `--help` printed the help (Tornado exits 0 there); the free
// functions catch it and exit 0.
class HelpShown : public Error {
 public:
  HelpShown() : Error("help requested") {}
};

// timedelta: microseconds, as Python's resolution.
using Duration = std::chrono::microseconds;

// A naive date and time (no zone), as Python's datetime from strptime: fields left out by
// the format keep their defaults (1900-01-01 00:00:00).
struct DateTime {
  int year = 1900, month = 1, day = 1, hour = 0, minute = 0, second = 0;
  friend auto operator<=>(const DateTime&, const DateTime&) = default;
  // The fields read as a UTC time.
  std::chrono::sys_seconds as_utc() const;
  // "2013-04-28 05:16:00" (Python's str(datetime)).
  std::string str() const;
};

enum class Type { Bool, Int, Double, String, Duration, DateTime };
// The Python type name: "bool", "int", "float", "str", "timedelta", "datetime".
std::string_view type_name(Type type);

using Scalar = std::variant<bool, std::int64_t, double, std::string, Duration, DateTime>;

// An option's value: None (no default and never set), one value, or a list (multiple).
class Value {
 public:
  Value() = default;  // None
  Value(Type type, Scalar item) : type_(type), items_{std::move(item)}, none_(false) {}
  static Value list(Type type, std::vector<Scalar> items) {
    Value v;
    v.type_ = type;
    v.items_ = std::move(items);
    v.multiple_ = true;
    v.none_ = false;
    return v;
  }
  static Value none(Type type, bool multiple = false) {
    Value v;
    v.type_ = type;
    v.multiple_ = multiple;
    return v;
  }

  bool is_none() const { return none_; }
  bool multiple() const { return multiple_; }
  Type type() const { return type_; }
  const std::vector<Scalar>& items() const { return items_; }
  // Python's str() of the value: "True", "80", "1.5", "0:00:45", "['a', 'b']", "None".
  std::string str() const;

  // T: bool, any integer, float/double, std::string, a std::chrono::duration, DateTime;
  // std::optional<T> (nullopt for None); std::vector<T> for a multiple option.
  // Throws Error when the value is None, of another type, or out of T's range.
  template <class T>
  T get() const;

  friend bool operator==(const Value&, const Value&) = default;

 private:
  [[noreturn]] void type_mismatch(std::string_view wanted) const;
  template <class T>
  T scalar_as(const Scalar& item) const;

  Type type_ = Type::String;
  std::vector<Scalar> items_;
  bool multiple_ = false;
  bool none_ = true;
};

// Called with the new value whenever the option is set or parsed.
using Callback = std::function<void(const Value&)>;

template <class T>
struct is_duration : std::false_type {};
template <class R, class P>
struct is_duration<std::chrono::duration<R, P>> : std::true_type {};

// The C++ types an option can be defined with.
template <class T>
concept OptionType = std::same_as<T, bool> || std::integral<T> || std::floating_point<T> ||
    std::convertible_to<const T&, std::string_view> || is_duration<T>::value ||
    std::same_as<T, DateTime>;

template <OptionType T>
constexpr Type type_of() {
  if constexpr (std::same_as<T, bool>)
    return Type::Bool;
  else if constexpr (std::integral<T>)
    return Type::Int;
  else if constexpr (std::floating_point<T>)
    return Type::Double;
  else if constexpr (is_duration<T>::value)
    return Type::Duration;
  else if constexpr (std::same_as<T, DateTime>)
    return Type::DateTime;
  else
    return Type::String;
}

template <OptionType T>
Scalar to_scalar(const T& v) {
  if constexpr (std::same_as<T, bool>)
    return v;
  else if constexpr (std::integral<T>)
    return static_cast<std::int64_t>(v);
  else if constexpr (std::floating_point<T>)
    return static_cast<double>(v);
  else if constexpr (is_duration<T>::value)
    return std::chrono::duration_cast<Duration>(v);
  else if constexpr (std::same_as<T, DateTime>)
    return v;
  else
    return std::string(std::string_view(v));
}

// One option's definition and current value.
struct Option {
  std::string name;  // as defined (underscores kept)
  Type type = Type::String;
  bool multiple = false;
  Value default_value;
  std::optional<Value> value;  // set by parsing or set(); unset: default_value applies
  std::string help;
  std::string metavar;
  std::string group;      // `group`, else the file that called define
  std::string file_name;  // the file that called define
  Callback callback;

  const Value& current() const { return value ? *value : default_value; }
};

// A set of options (Tornado's OptionParser). Tests make their own; the free functions use
// the global one, options().
class OptionParser {
 public:
  // Defines only `--help`. The global parser also has the logging options
  // (define_logging_options).
  OptionParser();
  OptionParser(const OptionParser&) = delete;  // the --help callback points at this parser
  OptionParser& operator=(const OptionParser&) = delete;

  // Defines an option of T's type with a default (std::nullopt: None). `multiple`: the
  // value is a list (comma-separated on the command line; "a:b" int ranges, inclusive).
  // `group` for --help, default the calling file. `callback` runs on every change.
  // Throws Error when the name (with '-' and '_' the same) is already defined.
  template <OptionType T>
  void define(std::string_view name, const T& default_value, std::string help = "",
              std::string metavar = "", bool multiple = false, std::string group = "",
              Callback callback = {},
              std::source_location where = std::source_location::current()) {
    Value def = multiple ? Value::list(type_of<T>(), {to_scalar(default_value)})
                         : Value(type_of<T>(), to_scalar(default_value));
    define_value(name, type_of<T>(), multiple, std::move(def), std::move(help), std::move(metavar),
                 std::move(group), std::move(callback), where.file_name());
  }
  // No default (None): `define<std::string>("db", std::nullopt, ...)`.
  template <OptionType T>
  void define(std::string_view name, std::nullopt_t, std::string help = "",
              std::string metavar = "", bool multiple = false, std::string group = "",
              Callback callback = {},
              std::source_location where = std::source_location::current()) {
    define_value(name, type_of<T>(), multiple,
                 multiple ? Value::list(type_of<T>(), {}) : Value::none(type_of<T>()),
                 std::move(help), std::move(metavar), std::move(group), std::move(callback),
                 where.file_name());
  }
  // A list option (multiple) with a list default.
  template <OptionType T>
  void define(std::string_view name, const std::vector<T>& default_value, std::string help = "",
              std::string metavar = "", bool /*multiple*/ = true, std::string group = "",
              Callback callback = {},
              std::source_location where = std::source_location::current()) {
    std::vector<Scalar> items;
    for (const T& v : default_value) items.push_back(to_scalar(v));
    define_value(name, type_of<T>(), true, Value::list(type_of<T>(), std::move(items)),
                 std::move(help), std::move(metavar), std::move(group), std::move(callback),
                 where.file_name());
  }
  // The untyped form the templates use.
  void define_value(std::string_view name, Type type, bool multiple, Value default_value,
                    std::string help, std::string metavar, std::string group, Callback callback,
                    std::string file_name);

  // Parses `args` (args[0], the program name, is skipped) and returns the arguments after
  // the options. With `final`, runs the parse callbacks. Throws Error (unknown option: after
  // printing the help to stderr, as Tornado) and HelpShown (after --help).
  std::vector<std::string> parse_command_line(const std::vector<std::string>& args,
                                              bool final = true);
  // Reads `name = value` lines whose values are Python literals: strings in either quotes
  // (with escapes), ints, floats, True/False/None, [lists] (may span lines); `#` comments;
  // `__file__` (the file's absolute path). A string given to a non-string option is parsed
  // as on the command line. Names that are not options are ignored (as Python's globals).
  // Throws Error naming the file and line on anything else (Tornado executes the file as
  // Python; a config here cannot run code).
  void parse_config_file(const std::string& path, bool final = true);
  // Prints "Usage: <program> [OPTIONS]" and the options, grouped and aligned as Tornado.
  void print_help(std::ostream& out) const;
  void print_help() const;

  void add_parse_callback(std::function<void()> callback);
  void run_parse_callbacks();

  bool contains(std::string_view name) const;
  // The option, or Error "Unrecognized option 'name'".
  const Option& option(std::string_view name) const;
  const Value& value(std::string_view name) const { return option(name).current(); }
  template <class T>
  T get(std::string_view name) const {
    try {
      return value(name).get<T>();
    } catch (const Error& e) {
      throw Error("Option '" + std::string(name) + "': " + e.what());
    }
  }
  // Sets a value of the option's type (Python's setattr: type-checked, runs the callback).
  void set(std::string_view name, Value value);
  template <OptionType T>
  void set(std::string_view name, const T& v) {
    set(name, Value(type_of<T>(), to_scalar(v)));
  }
  // Parses `text` as the command line would and sets it.
  void parse_value(std::string_view name, std::string_view text);

  // Names as defined, in definition order.
  std::vector<std::string> names() const;
  std::set<std::string> groups() const;
  // name -> value for one group ("" = all), as Tornado's group_dict / as_dict.
  std::map<std::string, Value> group_dict(std::string_view group) const;
  std::map<std::string, Value> as_dict() const { return group_dict(""); }

  // The program name for the usage line: argv[0] of the last parse_command_line.
  void set_program_name(std::string name) { program_name_ = std::move(name); }

 private:
  Option& find(std::string_view name);
  const Option* find_ptr(std::string_view name) const;
  void assign(Option& option, Value value);

  std::vector<Option> options_;
  std::vector<std::function<void()>> parse_callbacks_;
  std::string program_name_;
};

// Tornado's define_logging_options: --logging, --log_to_stderr, --log_file_prefix,
// --log_file_max_size, --log_file_num_backups, --log_rotate_mode, --log_rotate_when,
// --log_rotate_interval, and a parse callback that applies them with
// tornado::enable_pretty_logging (log.h). The global parser has them already.
void define_logging_options(OptionParser& parser);

// ---- the global parser and Tornado's free functions ----

OptionParser& options();

template <OptionType T>
void define(std::string_view name, const T& default_value, std::string help = "",
            std::string metavar = "", bool multiple = false, std::string group = "",
            Callback callback = {}, std::source_location where = std::source_location::current()) {
  options().define(name, default_value, std::move(help), std::move(metavar), multiple,
                   std::move(group), std::move(callback), where);
}
template <OptionType T>
void define(std::string_view name, std::nullopt_t, std::string help = "", std::string metavar = "",
            bool multiple = false, std::string group = "", Callback callback = {},
            std::source_location where = std::source_location::current()) {
  options().define<T>(name, std::nullopt, std::move(help), std::move(metavar), multiple,
                      std::move(group), std::move(callback), where);
}
template <OptionType T>
void define(std::string_view name, const std::vector<T>& default_value, std::string help = "",
            std::string metavar = "", bool multiple = true, std::string group = "",
            Callback callback = {}, std::source_location where = std::source_location::current()) {
  options().define(name, default_value, std::move(help), std::move(metavar), multiple,
                   std::move(group), std::move(callback), where);
}

template <class T>
T get(std::string_view name) {
  return options().get<T>(name);
}

// Parse the global options; on an error print it on stderr and exit(2); after --help
// exit(0). Returns the arguments left after the options.
std::vector<std::string> parse_command_line(int argc, const char* const* argv, bool final = true);
void parse_config_file(const std::string& path, bool final = true);
void print_help();
void add_parse_callback(std::function<void()> callback);

// ---- Value::get ----

template <class T>
T Value::scalar_as(const Scalar& item) const {
  if constexpr (std::same_as<T, bool>) {
    if (auto* b = std::get_if<bool>(&item)) return *b;
    type_mismatch("bool");
  } else if constexpr (std::integral<T>) {
    if (auto* i = std::get_if<std::int64_t>(&item)) {
      if (!std::in_range<T>(*i)) throw Error("value " + std::to_string(*i) + " out of range");
      return static_cast<T>(*i);
    }
    type_mismatch("int");
  } else if constexpr (std::floating_point<T>) {
    if (auto* d = std::get_if<double>(&item)) return static_cast<T>(*d);
    type_mismatch("float");
  } else if constexpr (is_duration<T>::value) {
    if (auto* d = std::get_if<Duration>(&item)) return std::chrono::duration_cast<T>(*d);
    type_mismatch("timedelta");
  } else if constexpr (std::same_as<T, DateTime>) {
    if (auto* d = std::get_if<DateTime>(&item)) return *d;
    type_mismatch("datetime");
  } else {
    static_assert(std::same_as<T, std::string>, "get<T>: T is not an option type");
    if (auto* s = std::get_if<std::string>(&item)) return *s;
    type_mismatch("str");
  }
}

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};

template <class T>
T Value::get() const {
  if constexpr (is_optional<T>::value) {
    if (none_) return std::nullopt;
    return get<typename T::value_type>();
  } else if constexpr (is_vector<T>::value) {
    if (!multiple_) type_mismatch("list");
    T out;
    for (const Scalar& item : items_) out.push_back(scalar_as<typename T::value_type>(item));
    return out;
  } else {
    if (none_) throw Error("value is None");
    if (multiple_) type_mismatch("single value");
    return scalar_as<T>(items_.front());
  }
}

}  // namespace tornado::options
