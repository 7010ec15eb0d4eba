// echo_client — connects to a WebSocket server and echoes every message it receives (text
// stays text, binary stays binary) until the server closes; the client side of conformance
// runs (Autobahn's fuzzing server) and of tests/echo_demo.py.
//
//   build/demos/echo/echo_client --url=ws://127.0.0.1:9000/ [--compression=1]
//                                [--max-message-size=16777216]
//
// Offers permessage-deflate unless --compression=0. Exits 0 when the server closed cleanly
// (1000), 1 for another close code or none, 2 when the connection failed.
#include <csignal>
#include <cstdio>
#include <string>

#include "tornado/ioloop.h"
#include "tornado/log.h"
#include "tornado/options.h"
#include "tornado/websocket_client.h"

using namespace tornado;

namespace {

Task<int> echo_until_closed(std::string url, websocket::WebSocketConnectOptions options) {
  auto ws = co_await websocket::websocket_connect(url, options);
  long echoed = 0;
  for (;;) {
    auto message = co_await ws->read_message();
    if (!message) break;
    try {
      co_await ws->write_message(message->data, message->binary);
      ++echoed;
    } catch (const websocket::WebSocketClosedError&) {
      // the server closed meanwhile: the next read ends the loop
    }
  }
  const int code = ws->close_code().value_or(0);
  app_log().info("echo_client: {} messages echoed; closed with {} {}", echoed, code,
                 ws->close_reason());
  co_return code == 1000 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  options::define<std::string>("url", "ws://127.0.0.1:9000/echo",
                               "WebSocket URL (ws:// or wss://)");
  options::define<bool>("compression", true, "offer permessage-deflate");
  options::define<int>("max-message-size", 16 << 20, "largest message (bytes); larger: 1009");
  options::parse_command_line(argc, argv);
  websocket::WebSocketConnectOptions options;
  if (options::get<bool>("compression")) {
    options.compression_options = websocket::CompressionOptions();
  }
  options.max_message_size =
      static_cast<std::size_t>(std::max(1, options::get<int>("max-message-size")));
  IOLoop loop;
  try {
    const std::string url = options::get<std::string>("url");
    return loop.run_sync([&]() -> Task<int> { return echo_until_closed(url, options); });
  } catch (const std::exception& e) {
    app_log().error("echo_client: {}", e.what());
    return 2;
  }
}
