// uWebSockets' hello world, the same-run peer of demos/helloworld in bench/plaintext.sh and
// bench/profile.sh: one thread, one epoll loop, plain TCP (uSockets built with LIBUS_NO_SSL).
// Built out of tree by bench/peers/build_uws.sh against a uWebSockets checkout; not part of
// the CMake build (the project does not depend on uWebSockets).
//
//   build/bench-peers/uws_hello [PORT] [ADDRESS]      (defaults: 8892 127.0.0.1)
//
// It answers every GET like demos/helloworld: 200, `Content-Type: text/html; charset=UTF-8`,
// body "Hello, world". uWebSockets adds Content-Length, Date and its own "uWebSockets: 20"
// mark (the counterpart of our "Server: TornadoServer/6.5").
#include <cstdio>
#include <cstdlib>
#include <string>

#include "App.h"

int main(int argc, char** argv) {
  const int port = argc > 1 ? std::atoi(argv[1]) : 8892;
  const std::string address = argc > 2 ? argv[2] : "127.0.0.1";
  bool listening = false;
  uWS::App()
      .get("/*",
           [](auto* res, auto* /*req*/) {
             res->writeHeader("Content-Type", "text/html; charset=UTF-8")->end("Hello, world");
           })
      .listen(address, port,
              [&](auto* listen_socket) {
                listening = listen_socket != nullptr;
                if (listening)
                  std::printf("uws_hello listening on http://%s:%d/\n", address.c_str(), port);
                std::fflush(stdout);
              })
      .run();
  if (!listening) {
    std::fprintf(stderr, "uws_hello: cannot listen on %s:%d\n", address.c_str(), port);
    return 1;
  }
}
