// echo — the WebSocket echo server: the target for conformance tools (Autobahn's fuzzing
// client, tests/echo_demo.py) and benchmarks.
//
//   build/demos/echo/echo [--port=9000] [--address=127.0.0.1] [--threads=1]
//                         [--compression=1] [--max-message-size=16777216] [--redis=HOST:PORT]
//                         [--drain=1] [--drain_timeout=30] [--reuse_port=0]
//
// /echo echoes every message: text stays text, binary stays binary. /sub subscribes the
// connection to one topic of the process's pub/sub hub, and every message received on /pub
// is published to that topic (every /sub connection, on every loop thread, receives it).
// permessage-deflate is accepted when the client offers it (--compression=0 turns it off).
// With --threads=N, N
// loops share the port through SO_REUSEPORT, each with its own Application. Prints
// "listening on port P" once every loop listens (--port=0 picks a free port).
//
// GET /health answers 200 "ok" (for load balancers, and the restart test's load).
//
// SIGTERM or SIGINT drains (docs/drain.md): the listening sockets close without resetting
// their backlogs, requests in flight finish, WebSocket clients get 1001 (going away), then
// the process exits; --drain_timeout bounds it, a second signal cuts it short. With
// --reuse_port a new echo process can take the port first: no request is lost across the
// restart (tests/drain_restart.py).
//
// --redis=HOST:PORT switches the hub to the Redis backend: /pub messages then reach the /sub
// connections of every echo process connected to the same Redis server.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "drain_setup.h"
#include "tornado/ioloop.h"
#include "tornado/log.h"
#include "tornado/netutil.h"
#include "tornado/options.h"
#include "tornado/process.h"
#include "tornado/pubsub.h"
#include "tornado/web.h"
#include "tornado/websocket.h"

using namespace tornado;

namespace {

struct Settings {
  std::string redis;  // HOST:PORT, or empty
  bool compression = true;
  std::size_t max_message_size = 16 << 20;
};

struct EchoHandler : websocket::WebSocketHandler {
  void initialize(const Settings* settings) { settings_ = settings; }
  Task<> open() override {
    set_nodelay(true);  // echoes are small and answered at once
    co_return;
  }
  Task<> on_message(std::string message, bool binary) override {
    co_await write_message(message, binary);
  }
  // Conformance tools and browsers come from anywhere.
  bool check_origin(std::string_view) override { return true; }
  std::optional<websocket::CompressionOptions> get_compression_options() override {
    if (!settings_->compression) return std::nullopt;
    return websocket::CompressionOptions();
  }
  std::size_t max_message_size() const override { return settings_->max_message_size; }

 private:
  const Settings* settings_ = nullptr;
};

struct HealthHandler : web::RequestHandler {
  Task<> get() override {
    set_header("Content-Type", "text/plain");
    write("ok\n");
    co_return;
  }
};

// The one topic of /sub and /pub.
constexpr std::string_view kTopic = "echo";

struct SubHandler : EchoHandler {
  Task<> open() override {
    set_nodelay(true);
    subscription_ = pubsub::Hub::instance().subscribe(kTopic, *this);
    co_return;
  }
  Task<> on_message(std::string, bool) override { co_return; }  // listeners only listen

 private:
  pubsub::Subscription subscription_;
};

struct PubHandler : EchoHandler {
  Task<> on_message(std::string message, bool binary) override {
    pubsub::Hub::instance().publish(kTopic, message, binary);
    co_return;
  }
};

// One loop on `fds` (its own listening sockets, bound with SO_REUSEPORT when shared).
// `drain` (when on): this loop drains with the others; the first loop takes the signals.
void serve(std::vector<int> fds, const Settings* settings, bool connect_redis, Drain* drain) {
  IOLoop loop;
  web::Application app({{"/echo", web::handler<EchoHandler>(settings)},
                        {"/sub", web::handler<SubHandler>(settings)},
                        {"/pub", web::handler<PubHandler>(settings)},
                        {"/health", web::handler<HealthHandler>()}});
  HTTPServer server(std::shared_ptr<web::Application>(&app, [](web::Application*) {}));
  server.add_sockets(fds);
  if (drain) {
    drain->add(server);
    if (connect_redis) drain->handle_signals();
  }
  if (connect_redis && !settings->redis.empty()) {
    // The first loop owns the hub's Redis connections (raises if Redis cannot be reached).
    pubsub::RedisOptions redis;
    const auto colon = settings->redis.rfind(':');
    redis.host = settings->redis.substr(0, colon);
    if (colon != std::string::npos) redis.port = std::stoi(settings->redis.substr(colon + 1));
    loop.run_sync([&redis]() -> Task<> { return pubsub::Hub::instance().connect_redis(redis); });
  }
  loop.start();
}

// The port a listening socket is bound to.

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  options::define<int>("port", 9000, "port to listen on (0: a free one)");
  options::define<std::string>("address", "127.0.0.1", "address to listen on");
  options::define<int>("threads", 1, "loops (threads) sharing the port with SO_REUSEPORT");
  options::define<std::string>("redis", "", "HOST:PORT of a Redis server for the hub (optional)");
  options::define<bool>("compression", true, "accept permessage-deflate when offered");
  options::define<int>("max-message-size", 16 << 20, "largest message (bytes); larger: 1009");
  demo::define_drain_options();
  options::parse_command_line(argc, argv);
  Settings settings;
  settings.compression = options::get<bool>("compression");
  settings.redis = options::get<std::string>("redis");
  settings.max_message_size =
      static_cast<std::size_t>(std::max(1, options::get<int>("max-message-size")));
  const int threads = std::max(1, options::get<int>("threads"));
  const std::string address = options::get<std::string>("address");
  const bool shared = threads > 1;
  auto [port, fds] = process::bind_loop_sockets(options::get<int>("port"), address, threads,
                                                AF_UNSPEC, 4096, demo::reuse_port_option());
  // Before the loop threads start: they inherit the blocked SIGTERM/SIGINT.
  std::unique_ptr<Drain> drain = demo::make_drain();
  std::printf("listening on port %d\n", port);
  std::fflush(stdout);
  app_log().info("echo: ws://{}:{}/echo ({} loop{}, compression {})", address, port, threads,
                 shared ? "s" : "", settings.compression ? "on" : "off");
  std::vector<std::thread> extra;
  for (int i = 1; i < threads; ++i) {
    extra.emplace_back(serve, fds[i], &settings, false, drain.get());
  }
  serve(fds[0], &settings, true, drain.get());
  for (auto& t : extra) t.join();
  if (drain) app_log().info("echo: drained, exiting");
}
