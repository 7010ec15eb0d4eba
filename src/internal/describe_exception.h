// Turns an exception_ptr into "<type>: <what>" for log lines.
#pragma once

#include <exception>
#include <string>

namespace tornado::detail {

std::string describe_exception(const std::exception_ptr& e);

}  // namespace tornado::detail
