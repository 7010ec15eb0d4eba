// Our WebSocket client for the interop tests with real servers
// (test_websocket_client_peers.py): connects, prints what was negotiated, echoes every
// message it receives (text stays text, binary stays binary) until the server closes, then
// prints the close code and reason.
//
//   interop_websocket_client URL [deflate] [snct] [cnct] [smwb=N] [cmwb=N] [protocol=P]...
//                                [pings]
//
// With "pings": it pings the server with "client-ping" once connected, and prints each
// ping's and pong's payload from on_ping/on_pong ("ping: <data>", "pong: <data>").
//
// Output lines: "extensions: <Sec-WebSocket-Extensions or empty>", "subprotocol: <P>",
// "echoed: <count>", "closed: <code> <reason>". Exit 0 when the server closed with 1000,
// 1 for another close, 2 when the connection failed.
#include "tornado/websocket_client.h"

#include <csignal>
#include <iostream>
#include <string>

using namespace tornado;

namespace {

Task<int> run(std::string url, websocket::WebSocketConnectOptions options, bool pings) {
  auto ws = co_await websocket::websocket_connect(url, options);
  std::cout << "extensions: " << ws->headers().get("Sec-WebSocket-Extensions", "") << "\n"
            << "subprotocol: " << ws->selected_subprotocol() << std::endl;
  if (pings) ws->ping("client-ping");
  int echoed = 0;
  for (;;) {
    auto message = co_await ws->read_message();
    if (!message) break;
    try {
      co_await ws->write_message(message->data, message->binary);
      ++echoed;
    } catch (const websocket::WebSocketClosedError&) {
    }
  }
  std::cout << "echoed: " << echoed << "\n"
            << "closed: " << ws->close_code().value_or(0) << " " << ws->close_reason() << std::endl;
  co_return ws->close_code() == 1000 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  if (argc < 2) {
    std::cerr << "usage: interop_websocket_client URL [deflate] [snct] [cnct] [smwb=N] [cmwb=N] "
                 "[protocol=P]... [pings]\n";
    return 2;
  }
  websocket::WebSocketConnectOptions options;
  options.max_message_size = 64 << 20;
  websocket::CompressionOptions compression;
  bool deflate = false;
  bool pings = false;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "deflate") {
      deflate = true;
    } else if (arg == "snct") {
      compression.set_server_no_context_takeover(true);
    } else if (arg == "cnct") {
      compression.set_client_no_context_takeover(true);
    } else if (arg.starts_with("smwb=")) {
      compression.set_server_max_window_bits(std::stoi(arg.substr(5)));
    } else if (arg.starts_with("cmwb=")) {
      compression.set_client_max_window_bits(std::stoi(arg.substr(5)));
    } else if (arg == "pings") {
      pings = true;
      options.on_ping = [](std::string_view data) { std::cout << "ping: " << data << std::endl; };
      options.on_pong = [](std::string_view data) { std::cout << "pong: " << data << std::endl; };
    } else if (arg.starts_with("protocol=")) {
      options.subprotocols.push_back(arg.substr(9));
    } else {
      std::cerr << "unknown argument " << arg << "\n";
      return 2;
    }
  }
  if (deflate) options.compression_options = compression;
  IOLoop loop;
  try {
    return loop.run_sync([&]() -> Task<int> { return run(argv[1], options, pings); }, Duration(60));
  } catch (const std::exception& e) {
    std::cout << "error: " << e.what() << std::endl;
    return 2;
  }
}
