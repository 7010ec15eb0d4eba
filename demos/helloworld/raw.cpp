// The bare-server hello world (no web layer): HTTPServer's request callback answering
// directly, the baseline the Application stack is measured against (bench/web.sh).
// Built a second time as helloworld_views, which answers the same requests through the
// server's fast path (tornado/httputil_view.h: views and a Responder, no request object),
// the bare server's uWebSockets-shaped way (bench/cpu_ab.sh, docs/performance.md).
//
//   build/demos/helloworld/helloworld_raw --port=8888 [--address=127.0.0.1] [--threads=2]
//
// "/plaintext" → "Hello, World!" (text/plain), "/json" → {"message":"Hello, World!"} encoded
// per request from a JSON value, any other path → "Hello, world" as Tornado's demo sends it.
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tornado/escape.h"
#include "tornado/httpserver.h"
#include "tornado/httputil_view.h"
#include "tornado/ioloop.h"
#include "tornado/log.h"

using namespace tornado;

namespace {

std::string flag(int argc, char** argv, const std::string& name, const std::string& fallback) {
  const std::string prefix = "--" + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) return argv[i] + prefix.size();
    if (name == argv[i] + 2 && std::strncmp(argv[i], "--", 2) == 0) return "true";
  }
  return fallback;
}

void answer(httputil::HTTPServerRequest& request, std::string_view type, std::string_view body) {
  httputil::HTTPHeaders headers;
  headers.add_unchecked("Server", "TornadoServer/6.5");
  headers.add_unchecked("Content-Type", type);
  headers.add_unchecked("Content-Length", std::to_string(body.size()));
  request.connection->write_headers(httputil::ResponseStartLine{"HTTP/1.1", 200, "OK"}, headers,
                                    body);
  request.connection->finish();
}

void say_hello(httputil::HTTPServerRequest& request) {
  if (request.path == "/plaintext") {
    answer(request, "text/plain", "Hello, World!");
  } else if (request.path == "/json") {
    answer(request, "application/json",
           escape::json_encode(nlohmann::json{{"message", "Hello, World!"}}));
  } else {
    answer(request, "text/html; charset=UTF-8", "Hello, world");
  }
}

#ifdef HELLOWORLD_VIEWS
// The same answers from views: every request here is body-less (a body goes to say_hello).
void say_hello_now(const httputil::RequestView& request, httputil::Responder& response) {
  if (request.path() == "/plaintext") {
    response.send(200, "text/plain", {{"Server", "TornadoServer/6.5"}}, "Hello, World!");
  } else if (request.path() == "/json") {
    response.send(200, "application/json", {{"Server", "TornadoServer/6.5"}},
                  escape::json_encode(nlohmann::json{{"message", "Hello, World!"}}));
  } else {
    response.send(200, "text/html; charset=UTF-8", {{"Server", "TornadoServer/6.5"}},
                  "Hello, world");
  }
}
#endif

// One loop on this thread: its own SO_REUSEPORT listener when several threads share a port.
void serve(int port, const std::string& address, bool reuse_port) {
  IOLoop loop;
#ifdef HELLOWORLD_VIEWS
  HTTPServer server(say_hello_now, say_hello);
#else
  HTTPServer server(say_hello);
#endif
  server.listen(port, address, AF_UNSPEC, 4096, reuse_port);
  loop.start();
}

}  // namespace

int main(int argc, char** argv) {
  const int port = std::atoi(flag(argc, argv, "port", "8888").c_str());
  const std::string address = flag(argc, argv, "address", "127.0.0.1");
  const int threads = std::max(1, std::atoi(flag(argc, argv, "threads", "1").c_str()));
  const bool reuse_port = threads > 1 || flag(argc, argv, "reuse-port", "") == "true";
  app_log().info("helloworld_raw listening on http://{}:{}/ ({} loop{})", address, port, threads,
                 threads > 1 ? "s" : "");
  std::vector<std::thread> extra;
  for (int i = 1; i < threads; ++i) extra.emplace_back(serve, port, address, reuse_port);
  serve(port, address, reuse_port);
  for (auto& t : extra) t.join();
}
