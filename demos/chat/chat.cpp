// The chat demo: Tornado's chat (demos/chat/chatdemo.py: the page, /a/message/new,
// /a/message/updates long polling) grown into what a chat product needs — sign-in by name,
// rooms, presence, recovery of missed messages, and WebSocket and Server-Sent Events beside
// long polling, all three on the pub/sub hub so their users see one another in one order.
//
//   build/demos/chat/chat [--port=8888] [--address=127.0.0.1] [--threads=1]
//                         [--redis=HOST:PORT] [--cookie_secret=...] [--history=200]
//                         [--max_poll_leases=10000] [--ping_interval=30] [--max_posts=30]
//                         (--help: all)
//                         [--drain=1] [--drain_timeout=30] [--reuse_port=0]
//
// --threads=N runs N loops on the port (SO_REUSEPORT), sharing the rooms through the hub;
// --redis makes several processes share them (rooms, presence events, history).
//
// SIGTERM or SIGINT drains (docs/drain.md): long polls are answered at once, WebSockets get
// 1001 (going away), SSE streams end with a retry: hint — each browser reconnects, to the
// process that serves the port by then (--reuse_port, --redis) — then the process exits;
// --drain_timeout bounds it, a second signal cuts it short.
#include <sys/socket.h>

#include <csignal>
#include <cstdio>
#include <random>
#include <thread>

#include "dashboard.h"
#include "drain_setup.h"
#include "embedded_assets.h"
#include "handlers.h"
#include "tornado/log.h"
#include "tornado/metrics.h"
#include "tornado/netutil.h"
#include "tornado/options.h"
#include "tornado/process.h"
#include "tornado/web.h"

using namespace tornado;

namespace chat {
const demo::AssetMap& embedded_assets();  // written by embed_assets.cmake
}

namespace {

struct Config {
  web::Settings settings;
  chat::Rooms* rooms = nullptr;
  std::string redis;  // HOST:PORT or empty
};

std::string random_secret() {
  std::random_device device;
  std::string hex;
  for (int i = 0; i < 8; ++i) {
    char buf[9];
    std::snprintf(buf, sizeof buf, "%08x", device());
    hex += buf;
  }
  return hex;
}

std::vector<web::URLSpec> routes(chat::Context context) {
  using namespace chat;
  return {{"/", web::handler<MainHandler>(context)},
          {"/room/([A-Za-z0-9_-]{1,64})", web::handler<MainHandler>(context)},
          {"/auth/login", web::handler<AuthLoginHandler>(context)},
          {"/auth/logout", web::handler<AuthLogoutHandler>(context)},
          {"/a/message/new", web::handler<MessageNewHandler>(context)},
          {"/a/message/updates", web::handler<MessageUpdatesHandler>(context)},
          {"/a/message/socket", web::handler<MessageSocketHandler>(context)},
          {"/a/message/events", web::handler<MessageEventsHandler>(context)},
          {"/a/stats", web::handler<StatsHandler>()},
          // Prometheus's scrape. The chat listens on 127.0.0.1 unless --address says
          // otherwise: on a public address, serve this from an internal port instead.
          {"/metrics", web::handler<web::MetricsHandler>()}};
}

// The chat's rules, then the live dashboard of this process (or, with Redis, of every
// process) at /dashboard.
std::vector<web::URLSpec> all_routes(chat::Context context) {
  auto rules = routes(context);
  for (auto& r : dashboard::routes("/dashboard")) rules.push_back(std::move(r));
  return rules;
}

// One loop serving `fds` (its own listening sockets when the port is shared).
// `drain` (when on): this loop drains with the others; the first loop takes the signals.
void serve(std::vector<int> fds, const Config* config, bool first, Drain* drain) {
  IOLoop loop;
  const chat::Limits& limits = config->rooms->limits();
  chat::PollLeases leases(limits.poll_timeout + std::chrono::seconds(10), limits.max_poll_leases);
  auto app =
      std::make_shared<web::Application>(all_routes({config->rooms, &leases}), config->settings);
  HTTPServerOptions http;
  // A request body is a form: a message (each byte up to 3 as %XX), a room, a cursor and the
  // XSRF token. Anything much larger is refused (413) before it is read, not buffered whole.
  http.max_body_size = 3 * limits.max_body + 16 * 1024;
  HTTPServer server(app, http);
  server.add_sockets(fds);
  if (drain) {
    drain->add(server);
    if (first) drain->handle_signals();
  }
  if (first && !config->redis.empty()) {
    pubsub::RedisOptions redis;
    const auto colon = config->redis.rfind(':');
    redis.host = config->redis.substr(0, colon);
    if (colon != std::string::npos) redis.port = std::stoi(config->redis.substr(colon + 1));
    redis.prefix = "tornado-chat:";
    loop.run_sync([&redis]() -> Task<> { return pubsub::Hub::instance().connect_redis(redis); });
  }
  if (first) {
    dashboard::start_sampler();  // one per process, on this loop
  } else {
    metrics::watch_loop();  // this loop's lag, in the same samples
  }
  loop.start();
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  options::define<int>("port", 8888, "port to listen on (0: a free one, printed)");
  options::define<std::string>("address", "127.0.0.1", "address to listen on");
  options::define<int>("threads", 1, "loops (threads) sharing the port and the rooms");
  options::define<std::string>("redis", "", "HOST:PORT of a Redis server shared by processes");
  options::define<std::string>("cookie_secret", std::nullopt,
                               "secret for the sign-in cookie (default: random per start)");
  options::define<int>("history", 200, "messages kept per room");
  options::define<int>("max_rooms", 1000, "rooms served");
  options::define<int>("max_body", 4096, "bytes of one message");
  options::define<int>("max_posts", 30,
                       "messages one user may post in a burst, refilled over --post_window "
                       "(0: no limit)");
  options::define<int>("post_window", 10, "seconds over which --max_posts is refilled");
  options::define<int>("max_posters", 100000,
                       "users whose posting rate is tracked at once (past it: 503)");
  options::define<int>("poll_timeout", 25, "seconds a long poll waits before answering empty");
  options::define<int>("max_poll_leases", 10000,
                       "long-polling users present at once, per loop (503 past it)");
  options::define<int>("ping_interval", 30,
                       "seconds between WebSocket pings (a peer that stops answering is closed, "
                       "and leaves the room)");
  options::define<bool>("debug", false, "debug mode (tracebacks in error pages)");
  demo::define_drain_options();
  options::parse_command_line(argc, argv);

  chat::Limits limits;
  limits.history = static_cast<std::size_t>(std::max(1, options::get<int>("history")));
  limits.max_rooms = static_cast<std::size_t>(std::max(1, options::get<int>("max_rooms")));
  limits.max_body = static_cast<std::size_t>(std::max(1, options::get<int>("max_body")));
  limits.max_posts = static_cast<std::size_t>(std::max(0, options::get<int>("max_posts")));
  limits.max_posters = static_cast<std::size_t>(std::max(1, options::get<int>("max_posters")));
  limits.post_window = std::chrono::seconds(std::max(1, options::get<int>("post_window")));
  limits.poll_timeout = std::chrono::seconds(std::max(1, options::get<int>("poll_timeout")));
  limits.max_poll_leases =
      static_cast<std::size_t>(std::max(1, options::get<int>("max_poll_leases")));
  chat::Rooms rooms(limits);
  // The lobby (the page at /) exists from the start: visits to --max_rooms empty rooms of
  // someone's choosing must not leave the first page a 503.
  (void)rooms.topic(chat::kDefaultRoom);

  Config config;
  config.rooms = &rooms;
  config.redis = options::get<std::string>("redis");
  web::Settings& s = config.settings;
  s.debug = options::get<bool>("debug");
  s.serve_traceback = s.debug;
  s.xsrf_cookies = true;
  s.websocket_ping_interval = std::chrono::seconds(std::max(1, options::get<int>("ping_interval")));
  s.login_url = "/auth/login";
  if (auto given = options::get<std::optional<std::string>>("cookie_secret")) {
    s.cookie_secret = *given;
  } else {
    app_log().warn("no --cookie_secret given: a random one (sign-ins end at restart)");
    s.cookie_secret = random_secret();
  }
  s.template_loader = demo::embedded_templates(chat::embedded_assets());
  s.static_path = "(built in)";  // a marker: the handler below reads no files
  s.static_handler_class =
      web::static_handler<demo::EmbeddedStaticHandler<chat::embedded_assets>>();

  const int threads = std::max(1, options::get<int>("threads"));
  const std::string address = options::get<std::string>("address");
  const bool shared = threads > 1;
  auto [port, fds] = process::bind_loop_sockets(options::get<int>("port"), address, threads,
                                                AF_UNSPEC, 4096, demo::reuse_port_option());
  // Before the loop threads start: they inherit the blocked SIGTERM/SIGINT.
  std::unique_ptr<Drain> drain = demo::make_drain();
  std::printf("listening on port %d\n", port);
  std::fflush(stdout);
  app_log().info("chat on http://{}:{}/ ({} loop{}{})", address, port, threads, shared ? "s" : "",
                 config.redis.empty() ? "" : ", Redis " + config.redis);

  std::vector<std::thread> extra;
  for (int i = 1; i < threads; ++i) extra.emplace_back(serve, fds[i], &config, false, drain.get());
  serve(fds[0], &config, true, drain.get());
  for (auto& t : extra) t.join();
  if (drain) app_log().info("chat: drained, exiting");
}
