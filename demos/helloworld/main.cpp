// Tornado's hello world on web::Application.
//
//   build/demos/helloworld/helloworld --port=8888 [--address=127.0.0.1] [--threads=2]
//                                     [--logging=info|warning|none]
//
// "/" → "Hello, world"; for the benchmarks (bench/web.sh) also "/plaintext" → "Hello, World!"
// as text/plain and "/json" → {"message":"Hello, World!"} from a JSON value. With --threads=N,
// N loops share the port through SO_REUSEPORT, each with its own Application.
// (helloworld_raw is the same without the web layer.)
#include <string>
#include <thread>
#include <vector>

#include "tornado/ioloop.h"
#include "tornado/log.h"
#include "tornado/options.h"
#include "tornado/web.h"

using namespace tornado;

struct MainHandler : web::RequestHandler {
  Task<> get() override {
    write("Hello, world");
    co_return;
  }
};

struct PlaintextHandler : web::RequestHandler {
  Task<> get() override {
    set_header("Content-Type", "text/plain");
    write("Hello, World!");
    co_return;
  }
};

struct JsonHandler : web::RequestHandler {
  Task<> get() override {
    write(nlohmann::json{{"message", "Hello, World!"}});
    co_return;
  }
};

namespace {

void serve(int port, const std::string& address, bool reuse_port) {
  IOLoop loop;
  web::Application app({{"/", web::handler<MainHandler>()},
                        {"/plaintext", web::handler<PlaintextHandler>()},
                        {"/json", web::handler<JsonHandler>()}});
  auto server = std::make_unique<HTTPServer>(
      std::shared_ptr<web::Application>(&app, [](web::Application*) {}));
  server->listen(port, address, AF_UNSPEC, 4096, reuse_port);
  loop.start();
}

}  // namespace

int main(int argc, char** argv) {
  options::define<int>("port", 8888, "port to listen on");
  options::define<std::string>("address", "127.0.0.1", "address to listen on");
  options::define<int>("threads", 1, "loops (threads) sharing the port with SO_REUSEPORT");
  options::parse_command_line(argc, argv);
  const int port = options::get<int>("port");
  const std::string address = options::get<std::string>("address");
  const int threads = std::max(1, options::get<int>("threads"));
  app_log().info("helloworld listening on http://{}:{}/ ({} loop{})", address, port, threads,
                 threads > 1 ? "s" : "");
  std::vector<std::thread> extra;
  for (int i = 1; i < threads; ++i) extra.emplace_back(serve, port, address, threads > 1);
  serve(port, address, threads > 1);
  for (auto& t : extra) t.join();
}
