// Text → option values, as Tornado's _Option.parse does it (bool, int, float, str,
// timedelta, datetime), and Python's str()/repr() of values for --help. Shared by the
// command line and config-file parsers in src/options*.cpp.
#pragma once

#include <string>
#include <string_view>

#include "tornado/options.h"

namespace tornado::options::internal {

// Most values one multiple option may hold ("1:1000000000" is refused, not allocated).
constexpr std::size_t kMaxListItems = 100000;

bool parse_bool(std::string_view text);
std::int64_t parse_int(std::string_view text);    // Python int(); throws Error
double parse_float(std::string_view text);        // Python float(); throws Error
Duration parse_timedelta(std::string_view text);  // Tornado's _parse_timedelta; throws Error
DateTime parse_datetime(std::string_view text);   // Tornado's _DATETIME_FORMATS; throws Error

// One value of `type` from command-line text.
Scalar parse_scalar(Type type, std::string_view text);
// The whole value: a comma list (with int ranges "a:b") when `multiple`.
Value parse_text(Type type, bool multiple, std::string_view text);

// Python's str() and repr() of one item.
std::string python_str(const Scalar& item);
std::string python_repr(const Scalar& item);
// Python's repr() of a str ('abc', "it's").
std::string python_repr_string(std::string_view s);

}  // namespace tornado::options::internal
