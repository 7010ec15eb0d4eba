// The data field of a Server-Sent Events event, shared by EventSourceHandler::send and the
// hub's encode-once SSE form of a message.
#pragma once

#include <string>
#include <string_view>

namespace tornado::internal {

// One "data: <line>\n" per line of `data` (CR, LF and CRLF all end a line in an event
// stream; the browser joins the lines with LF).
inline void append_sse_data(std::string& out, std::string_view data) {
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = data.find_first_of("\r\n", start);
    out.append("data: ").append(data.substr(start, end - start)).push_back('\n');
    if (end == std::string_view::npos) break;
    start = end + (data[end] == '\r' && end + 1 < data.size() && data[end + 1] == '\n' ? 2 : 1);
  }
}

}  // namespace tornado::internal
