// WebSocket handlers for the interop tests with real peers (test_websocket_peers.py):
//   /echo       echoes every message (text stays text, binary stays binary)
//   /deflate    the same with permessage-deflate accepted when offered
//   /deflate_nct  the same, answering server_no_context_takeover always
//   /close      closes with 4000 "done" after the first message
//   /proto      selects the subprotocol "chat" when offered and sends its name
//   /path/(.*)  sends the path argument from open(), then echoes
//
//   interop_websocket_server   (prints "LISTENING <port>", stops at EOF on stdin)
#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <iostream>

#include "tornado/websocket.h"
#include "../stdin_watch.h"

using namespace tornado;

namespace {

struct Echo : websocket::WebSocketHandler {
  Task<> on_message(std::string message, bool binary) override {
    co_await write_message(message, binary);
  }
};

struct DeflateEcho : Echo {
  std::optional<websocket::CompressionOptions> get_compression_options() override {
    return websocket::CompressionOptions();
  }
};

struct DeflateNoContextEcho : Echo {
  std::optional<websocket::CompressionOptions> get_compression_options() override {
    return websocket::CompressionOptions().set_server_no_context_takeover(true);
  }
};

struct CloseAfterOne : websocket::WebSocketHandler {
  Task<> on_message(std::string, bool) override {
    close(4000, "done");
    co_return;
  }
};

struct Proto : websocket::WebSocketHandler {
  std::optional<std::string> select_subprotocol(const std::vector<std::string>& offered) override {
    for (const auto& p : offered) {
      if (p == "chat") return p;
    }
    return std::nullopt;
  }
  Task<> open() override { co_await write_message("subprotocol=" + selected_subprotocol()); }
  Task<> on_message(std::string, bool) override { co_return; }
};

struct PathArg : Echo {
  Task<> open() override { co_await write_message("path=" + path_arg(0)); }
};

}  // namespace

int main() {
  ::signal(SIGPIPE, SIG_IGN);
  IOLoop loop;
  web::Application app({{"/echo", web::handler<Echo>()},
                        {"/deflate", web::handler<DeflateEcho>()},
                        {"/deflate_nct", web::handler<DeflateNoContextEcho>()},
                        {"/close", web::handler<CloseAfterOne>()},
                        {"/proto", web::handler<Proto>()},
                        {"/path/(.*)", web::handler<PathArg>()}});
  HTTPServer& server = app.listen(0, {}, "127.0.0.1");
  std::cout << "LISTENING " << server.listening_addresses().at(0).port() << std::endl;
  tornado::test::stop_loop_at_stdin_eof(loop);
  loop.start();
  server.stop();
  server.close_all_connections();
}
