// OptionParser: definitions, the command line, --help, the global parser and its logging
// options (Tornado's options.py and log.define_logging_options).
#include "tornado/options.h"

#include <fmt/format.h>
#include <spdlog/common.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "internal/options_parse.h"
#include "tornado/log.h"

namespace tornado::options {

namespace {

// Tornado stores names with '-' (so "foo_bar" and "foo-bar" are one option).
std::string normalize(std::string_view name) {
  std::string out(name);
  std::replace(out.begin(), out.end(), '_', '-');
  return out;
}

std::size_t code_points(std::string_view s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

std::string pad_right(std::string_view s, std::size_t width) {
  std::string out(s);
  std::size_t n = code_points(s);
  if (n < width) out.append(width - n, ' ');
  return out;
}

// Python's textwrap.wrap(text, width) with its defaults, except that words are not split
// after hyphens: chunks of whitespace and of other characters; whitespace at the start of a
// line (but the first) and at its end is dropped; a word longer than the width is cut.
std::vector<std::string> wrap(std::string_view text, std::size_t width) {
  std::vector<std::string> chunks;
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  for (std::size_t i = 0; i < text.size();) {
    std::size_t j = i;
    bool ws = space(text[i]);
    while (j < text.size() && space(text[j]) == ws) ++j;
    std::string chunk(text.substr(i, j - i));
    if (ws) std::fill(chunk.begin(), chunk.end(), ' ');  // replace_whitespace (tabs: 1 space)
    chunks.push_back(std::move(chunk));
    i = j;
  }
  std::reverse(chunks.begin(), chunks.end());
  auto blank = [](const std::string& s) { return s.find_first_not_of(' ') == std::string::npos; };
  std::vector<std::string> lines;
  while (!chunks.empty()) {
    std::vector<std::string> line;
    std::size_t len = 0;
    if (blank(chunks.back()) && !lines.empty()) chunks.pop_back();
    while (!chunks.empty() && len + code_points(chunks.back()) <= width) {
      len += code_points(chunks.back());
      line.push_back(std::move(chunks.back()));
      chunks.pop_back();
    }
    if (!chunks.empty() && code_points(chunks.back()) > width) {
      std::size_t space_left = width > len ? width - len : 1;
      std::string& chunk = chunks.back();
      // Cut at a code point boundary space_left code points in.
      std::size_t cut = 0, seen = 0;
      while (cut < chunk.size() && seen < space_left) {
        ++cut;
        while (cut < chunk.size() && (chunk[cut] & 0xC0) == 0x80) ++cut;
        ++seen;
      }
      line.push_back(chunk.substr(0, cut));
      chunk.erase(0, cut);
    }
    if (!line.empty() && blank(line.back())) line.pop_back();
    if (!line.empty()) {
      std::string joined;
      for (auto& piece : line) joined += piece;
      lines.push_back(std::move(joined));
    }
  }
  return lines;
}

std::string repr_name(std::string_view name) { return internal::python_repr_string(name); }

std::string default_program_name() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("program") : exe.filename().string();
}

}  // namespace

OptionParser::OptionParser() {
  define_value(
      "help", Type::Bool, false, Value::none(Type::Bool), "show this help information", "", "",
      [this](const Value& v) {
        if (!v.is_none() && v.get<bool>()) {
          print_help();
          throw HelpShown();
        }
      },
      "");
}

void OptionParser::define_value(std::string_view name, Type type, bool multiple,
                                Value default_value, std::string help, std::string metavar,
                                std::string group, Callback callback, std::string file_name) {
  std::string normalized = normalize(name);
  if (const Option* existing = find_ptr(normalized)) {
    throw Error("Option " + repr_name(normalized) + " already defined in " + existing->file_name);
  }
  Option option;
  option.name = std::string(name);
  option.type = type;
  option.multiple = multiple;
  option.default_value = std::move(default_value);
  option.help = std::move(help);
  option.metavar = std::move(metavar);
  option.file_name = std::move(file_name);
  option.group = group.empty() ? option.file_name : std::move(group);
  option.callback = std::move(callback);
  options_.push_back(std::move(option));
}

const Option* OptionParser::find_ptr(std::string_view name) const {
  std::string normalized = normalize(name);
  for (const Option& option : options_) {
    if (normalize(option.name) == normalized) return &option;
  }
  return nullptr;
}

Option& OptionParser::find(std::string_view name) { return const_cast<Option&>(option(name)); }

const Option& OptionParser::option(std::string_view name) const {
  const Option* found = find_ptr(name);
  if (found == nullptr) throw Error("Unrecognized option " + repr_name(normalize(name)));
  return *found;
}

bool OptionParser::contains(std::string_view name) const { return find_ptr(name) != nullptr; }

void OptionParser::assign(Option& option, Value value) {
  option.value = std::move(value);
  if (option.callback) option.callback(*option.value);
}

void OptionParser::set(std::string_view name, Value value) {
  Option& option = find(name);
  std::string kind = std::string(type_name(option.type));
  if (option.multiple) {
    if (value.is_none() || !value.multiple() ||
        (value.type() != option.type && !value.items().empty())) {
      throw Error("Option " + repr_name(option.name) + " is required to be a list of " + kind);
    }
    value = Value::list(option.type, value.items());
  } else if (!value.is_none()) {
    if (value.multiple() || value.type() != option.type) {
      throw Error("Option " + repr_name(option.name) + " is required to be a " + kind + " (" +
                  (value.multiple() ? std::string("list") : std::string(type_name(value.type()))) +
                  " given)");
    }
  } else {
    value = Value::none(option.type);
  }
  assign(option, std::move(value));
}

void OptionParser::parse_value(std::string_view name, std::string_view text) {
  Option& option = find(name);
  Value value;
  try {
    value = internal::parse_text(option.type, option.multiple, text);
  } catch (const Error& e) {
    throw Error("Option " + repr_name(normalize(option.name)) + ": " + e.what());
  }
  assign(option, std::move(value));
}

std::vector<std::string> OptionParser::parse_command_line(const std::vector<std::string>& args,
                                                          bool final) {
  if (!args.empty()) program_name_ = args[0];
  std::vector<std::string> remaining;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.empty() || arg[0] != '-') {
      remaining.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
      break;
    }
    if (arg == "--") {
      remaining.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    std::string_view text = arg;
    text.remove_prefix(std::min(text.find_first_not_of('-'), text.size()));
    std::size_t equals = text.find('=');
    std::string name = normalize(text.substr(0, equals));
    const Option* option = find_ptr(name);
    if (option == nullptr) {
      print_help();
      throw Error("Unrecognized command line option: " + repr_name(name));
    }
    std::string_view value;
    if (equals == std::string_view::npos) {
      if (option->type != Type::Bool)
        throw Error("Option " + repr_name(name) + " requires a value");
      value = "true";
    } else {
      value = text.substr(equals + 1);
    }
    parse_value(name, value);
  }
  if (final) run_parse_callbacks();
  return remaining;
}

void OptionParser::print_help() const { print_help(std::cerr); }

void OptionParser::print_help(std::ostream& out) const {
  std::string program = program_name_.empty() ? default_program_name() : program_name_;
  out << "Usage: " << program << " [OPTIONS]\n\nOptions:\n\n";
  std::map<std::string, std::vector<const Option*>> by_group;
  for (const Option& option : options_) by_group[option.group].push_back(&option);
  for (auto& [group, members] : by_group) {
    if (!group.empty()) {
      out << "\n" << std::filesystem::path(group).lexically_normal().string() << " options:\n\n";
    }
    std::sort(members.begin(), members.end(),
              [](const Option* a, const Option* b) { return a->name < b->name; });
    for (const Option* option : members) {
      std::string prefix = normalize(option->name);
      if (!option->metavar.empty()) prefix += "=" + option->metavar;
      std::string description = option->help;
      const Value& def = option->default_value;
      bool empty_string = !def.is_none() && !def.multiple() && def.type() == Type::String &&
                          std::get<std::string>(def.items().front()).empty();
      if (!def.is_none() && !empty_string) description += " (default " + def.str() + ")";
      std::vector<std::string> lines = wrap(description, 79 - 35);
      if (code_points(prefix) > 30 || lines.empty()) lines.insert(lines.begin(), "");
      out << "  --" << pad_right(prefix, 30) << " " << lines[0] << "\n";
      for (std::size_t i = 1; i < lines.size(); ++i) {
        out << pad_right(" ", 34) << " " << lines[i] << "\n";
      }
    }
  }
  out << "\n";
}

void OptionParser::add_parse_callback(std::function<void()> callback) {
  parse_callbacks_.push_back(std::move(callback));
}

void OptionParser::run_parse_callbacks() {
  for (auto& callback : parse_callbacks_) callback();
}

std::vector<std::string> OptionParser::names() const {
  std::vector<std::string> out;
  for (const Option& option : options_) out.push_back(option.name);
  return out;
}

std::set<std::string> OptionParser::groups() const {
  std::set<std::string> out;
  for (const Option& option : options_) out.insert(option.group);
  return out;
}

std::map<std::string, Value> OptionParser::group_dict(std::string_view group) const {
  std::map<std::string, Value> out;
  for (const Option& option : options_) {
    if (group.empty() || option.group == group) out[option.name] = option.current();
  }
  return out;
}

// ---- logging options ----

void define_logging_options(OptionParser& parser) {
  const std::string group = "tornado/log.h";
  LoggingOptions defaults;
  parser.define_value("logging", Type::String, false, Value(Type::String, defaults.logging),
                      "Set the log level. If 'none', tornado won't touch the logging "
                      "configuration.",
                      "debug|info|warning|error|none", group, {}, group);
  parser.define_value("log_to_stderr", Type::Bool, false, Value::none(Type::Bool),
                      "Send log output to stderr (colorized if possible). By default use "
                      "stderr if --log_file_prefix is not set and no other logging is "
                      "configured.",
                      "", group, {}, group);
  parser.define_value("log_file_prefix", Type::String, false, Value::none(Type::String),
                      "Path prefix for log files. Note that if you are running multiple "
                      "tornado processes, log_file_prefix must be different for each of them "
                      "(e.g. include the port number)",
                      "PATH", group, {}, group);
  parser.define_value("log_file_max_size", Type::Int, false,
                      Value(Type::Int, static_cast<std::int64_t>(defaults.log_file_max_size)),
                      "max size of log files before rollover", "", group, {}, group);
  parser.define_value("log_file_num_backups", Type::Int, false,
                      Value(Type::Int, static_cast<std::int64_t>(defaults.log_file_num_backups)),
                      "number of log files to keep", "", group, {}, group);
  parser.define_value(
      "log_rotate_when", Type::String, false, Value(Type::String, defaults.log_rotate_when),
      "specify the type of time-rotating interval: midnight (or D) or H", "", group, {}, group);
  parser.define_value("log_rotate_interval", Type::Int, false,
                      Value(Type::Int, static_cast<std::int64_t>(defaults.log_rotate_interval)),
                      "The interval value of timed rotating", "", group, {}, group);
  parser.define_value("log_rotate_mode", Type::String, false,
                      Value(Type::String, defaults.log_rotate_mode),
                      "The mode of rotating files(time or size)", "", group, {}, group);
  parser.add_parse_callback([&parser] {
    LoggingOptions o;
    o.logging = parser.get<std::string>("logging");
    o.log_to_stderr = parser.get<std::optional<bool>>("log_to_stderr");
    o.log_file_prefix = parser.get<std::optional<std::string>>("log_file_prefix").value_or("");
    auto non_negative = [&](const char* name) {
      std::int64_t n = parser.get<std::int64_t>(name);
      if (n < 0) throw Error("Option " + repr_name(normalize(name)) + " must not be negative");
      return static_cast<std::size_t>(n);
    };
    o.log_file_max_size = non_negative("log_file_max_size");
    o.log_file_num_backups = non_negative("log_file_num_backups");
    o.log_rotate_mode = parser.get<std::string>("log_rotate_mode");
    o.log_rotate_when = parser.get<std::string>("log_rotate_when");
    o.log_rotate_interval = parser.get<int>("log_rotate_interval");
    try {
      enable_pretty_logging(o);
    } catch (const std::invalid_argument& e) {
      throw Error(std::string("logging options: ") + e.what());
    } catch (const spdlog::spdlog_ex& e) {
      throw Error(std::string("logging options: ") + e.what());
    }
  });
}

// ---- the global parser ----

OptionParser& options() {
  static OptionParser* parser = [] {
    auto* p = new OptionParser();  // never destroyed: usable during static destruction
    define_logging_options(*p);
    return p;
  }();
  return *parser;
}

namespace {

template <class F>
auto exit_on_error(F&& f) {
  try {
    return f();
  } catch (const HelpShown&) {
    std::exit(0);
  } catch (const Error& e) {
    std::cerr << "error: " << e.what() << std::endl;
    std::exit(2);
  }
}

}  // namespace

std::vector<std::string> parse_command_line(int argc, const char* const* argv, bool final) {
  std::vector<std::string> args(argv, argv + argc);
  return exit_on_error([&] { return options().parse_command_line(args, final); });
}

void parse_config_file(const std::string& path, bool final) {
  exit_on_error([&] { options().parse_config_file(path, final); });
}

void print_help() { options().print_help(); }

void add_parse_callback(std::function<void()> callback) {
  options().add_parse_callback(std::move(callback));
}

}  // namespace tornado::options
