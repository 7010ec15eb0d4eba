// The dashboard demo: serves the live dashboard (demos/dashboard/dashboard.h) at /dashboard/
// with some load of its own worth charting.
//
//   dashboard [--port=8890] [--address=127.0.0.1] [--threads=1] [--redis=HOST:PORT]
//             [--self-load=40] [--process-id=NAME]
//
// Open http://127.0.0.1:8890/ (redirected to /dashboard/). --self-load=R makes the process
// fetch its own /hello at up to R requests/s in a 30-second wave (one in ten is a 404) and
// echo WebSocket messages on /echo, so every chart moves; 0 turns it off. --threads=N runs N
// loops on the port (SO_REUSEPORT), each measured for loop lag. --redis=HOST:PORT puts the
// hub on Redis: every dashboard process on that Redis shows on every page. Prints
// "listening on port P" (--port=0 picks a free port); SIGTERM or SIGINT stops it (status 0).
#include <arpa/inet.h>
#include <sys/socket.h>

#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <thread>

#include "dashboard.h"
#include "tornado/httpclient.h"
#include "tornado/log.h"
#include "tornado/metrics.h"
#include "tornado/netutil.h"
#include "tornado/options.h"
#include "tornado/process.h"
#include "tornado/pubsub.h"
#include "tornado/websocket.h"
#include "tornado/websocket_client.h"

using namespace tornado;

namespace {

struct Hello : web::RequestHandler {
  Task<> get() override {
    write("Hello, world");
    co_return;
  }
};

struct Echo : websocket::WebSocketHandler {
  Task<> on_message(std::string m, bool binary) override {
    (void)write_message(m, binary);
    co_return;
  }
};

// The access log without the demo's own load (its requests carry X-Self-Load).
void log_request(const web::RequestHandler& h) {
  const auto& req = h.request();
  if (req.headers.get_first("X-Self-Load")) return;
  const int status = h.get_status();
  const auto level = status < 400   ? spdlog::level::info
                     : status < 500 ? spdlog::level::warn
                                    : spdlog::level::err;
  access_log().log(level, "{} {} {} ({}) {:.2f}ms", status, req.method, req.uri, req.remote_ip,
                   1000.0 * req.request_time());
}

// Serves on `fds` until `loop` stops.
void serve(IOLoop& loop, const std::vector<int>& fds) {
  std::vector<web::URLSpec> rules = {
      {"/", web::handler<web::RedirectHandler>(std::string("/dashboard/"), false)},
      {"/hello", web::handler<Hello>()},
      {"/echo", web::handler<Echo>()}};
  for (auto& r : dashboard::routes("/dashboard")) rules.push_back(std::move(r));
  web::Application app(std::move(rules), {.log_function = log_request});
  HTTPServer server(std::shared_ptr<web::Application>(&app, [](web::Application*) {}));
  server.add_sockets(fds);
  loop.start();
  server.stop();
  server.close_all_connections();
}

// The load the demo makes on itself: HTTP requests at a rate that follows a 30 s wave, and
// WebSocket echoes at a tenth of it.
Task<> self_load(std::string base, double peak) {
  auto client = std::make_shared<httpclient::AsyncHTTPClient>();
  std::shared_ptr<websocket::WebSocketClientConnection> ws;
  const auto start = std::chrono::steady_clock::now();
  double owed = 0, owed_ws = 0;
  uint64_t sent = 0;
  for (;;) {
    co_await sleep(Duration(0.05));
    const double t =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double rate = peak * (0.55 + 0.45 * std::sin(2 * M_PI * t / 30.0));
    owed += rate * 0.05;
    owed_ws += rate * 0.005;
    for (; owed >= 1; owed -= 1) {
      const std::string path = ++sent % 10 == 0 ? "/nowhere" : "/hello";
      (void)spawn([](std::shared_ptr<httpclient::AsyncHTTPClient> c, std::string url) -> Task<> {
        try {
          httpclient::HTTPRequest r;
          r.headers.set("X-Self-Load", "1");
          co_await c->fetch(url, std::move(r), /*raise_error=*/false);
        } catch (const std::exception&) {
        }
      }(client, base + path));
    }
    try {
      if (!ws) {
        httpclient::HTTPRequest r;
        r.url = "ws" + base.substr(4) + "/echo";
        r.headers.set("X-Self-Load", "1");
        ws = co_await websocket::websocket_connect(std::move(r));
      }
      for (; owed_ws >= 1; owed_ws -= 1) {
        co_await ws->write_message("tick");
        (void)co_await ws->read_message();
      }
    } catch (const std::exception&) {
      ws.reset();
    }
  }
}


}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  options::define<int>("port", 8890, "port to listen on (0: a free one)");
  options::define<std::string>("address", "127.0.0.1", "address to listen on");
  options::define<int>("threads", 1, "loops (threads) sharing the port with SO_REUSEPORT");
  options::define<std::string>("redis", "", "HOST:PORT of a Redis server shared by dashboards");
  options::define<double>("self-load", 40, "peak requests/s the demo sends itself (0: none)");
  options::define<std::string>("process-id", "", "this process's name in the samples");
  options::parse_command_line(argc, argv);
  const int threads = std::max(1, options::get<int>("threads"));
  const std::string address = options::get<std::string>("address");
  const std::string redis = options::get<std::string>("redis");

  auto [port, fds] =
      process::bind_loop_sockets(options::get<int>("port"), address, threads, AF_UNSPEC, 4096);

  // The main loop: Redis, the sampler, the self-load, the signals; then it serves too.
  std::vector<std::atomic<IOLoop*>> loops(threads);
  IOLoop main_loop;
  loops[0] = &main_loop;
  for (int sig : {SIGTERM, SIGINT}) {  // before the threads start: they inherit the mask
    main_loop.add_signal_handler(sig, [&loops] {
      for (auto& l : loops) l.load()->stop();
    });
  }
  if (!redis.empty()) {
    pubsub::RedisOptions r;
    const auto colon = redis.rfind(':');
    r.host = redis.substr(0, colon);
    if (colon != std::string::npos) r.port = std::stoi(redis.substr(colon + 1));
    main_loop.run_sync([&r]() -> Task<> { return pubsub::Hub::instance().connect_redis(r); });
  }
  dashboard::SamplerOptions sampler;
  sampler.process_id = options::get<std::string>("process-id");
  dashboard::start_sampler(sampler);
  const double load = options::get<double>("self-load");
  const std::string host = address.empty() || address == "0.0.0.0"  ? "127.0.0.1"
                           : address == "::"                        ? "[::1]"
                           : address.find(':') != std::string::npos ? "[" + address + "]"
                                                                    : address;
  const std::string base = "http://" + host + ":" + std::to_string(port);
  if (load > 0) (void)spawn(self_load(base, load));

  std::vector<std::thread> extra;
  for (int i = 1; i < threads; ++i) {
    extra.emplace_back([&loops, &fds, i] {
      IOLoop loop;
      metrics::watch_loop();
      loops[i] = &loop;
      serve(loop, fds[i]);
    });
  }
  for (auto& l : loops) {  // every loop exists before a signal may stop them all
    while (!l.load()) std::this_thread::yield();
  }
  std::printf("listening on port %d\n", port);
  std::fflush(stdout);
  app_log().info("dashboard: {}/dashboard/ ({} loop{}{})", base, threads, threads > 1 ? "s" : "",
                 redis.empty() ? "" : ", Redis " + redis);
  serve(main_loop, fds[0]);
  for (auto& t : extra) t.join();
  dashboard::stop_sampler();
  return 0;
}
