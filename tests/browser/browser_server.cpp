// browser_test_server — the server headless Chromium talks to in tests/browser/*.test.js.
// One process, one loop; prints "LISTENING <port>" and stops at EOF on stdin (the harness
// closes it), so that a sanitizer's leak check runs and the exit status tells.
//
// Pages (served from the same origin as the sockets, so the default check_origin passes):
//   GET /                       an empty HTML page; the tests run their code in it
// WebSockets (default check_origin: same origin, else 403):
//   /ws/echo                    echoes (text stays text, binary stays binary); deflate offered
//   /ws/echo_plain              the same without compression
//   /ws/small                   echoes messages up to 64 KiB; larger: close 1009
//   /ws/close?code=C&reason=R   closes with C and R after the first message
//   /ws/track/<id>              echoes; on_close records the page's code and reason
//   /ws/room/<name>             subscribed to topic "room:<name>"; each message is published
//   /ws/room_nct/<name>         the same, deflating with server_no_context_takeover (the
//                               hub's deflate-once frame)
//   /ws/flood?n=N&size=S        sends N text messages of S bytes, awaiting each write
// Server-Sent Events:
//   /sse/events                 a fixed script of events (multi-line data, named events)
//   /sse/feed/<name>            subscribed to topic "feed:<name>" (history 1000), recovering
//                               from Last-Event-ID; its first event sets retry to 300 ms
// Control (JSON answers):
//   POST /publish/<name>        publishes the body argument `data` to "feed:<name>"
//   POST /sse/drop/<name>?then=N  ends every open /sse/feed/<name> stream, then publishes
//                               N messages "missed-1".."missed-N" (the browser reconnects)
//   GET /report/close/<id>      the close /ws/track/<id> saw (waits up to 5 s), else 404
//   GET /report/feed/<name>     each connect of /sse/feed/<name>: Last-Event-ID, recovery
//   GET /stats                  open WebSockets and event streams, 403s of check_origin
#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <iostream>
#include <map>
#include <set>

#include "tornado/pubsub.h"
#include "tornado/web.h"
#include "tornado/web/event_source.h"
#include "tornado/websocket.h"
#include "../stdin_watch.h"

using namespace tornado;
using namespace std::chrono_literals;

namespace {

// Everything below runs on the one loop thread.
struct State {
  int open_websockets = 0;
  int open_event_streams = 0;
  int origin_refused = 0;
  int floods_running = 0;  // /ws/flood handlers still sending
  std::map<std::string, nlohmann::json> closes;         // /ws/track/<id> -> {code, reason}
  std::map<std::string, nlohmann::json> feed_connects;  // /sse/feed/<name> -> [connect...]
  std::map<std::string, std::set<web::EventSourceHandler*>> feeds;  // open streams by name
};
State state;

constexpr std::string_view kPage =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>tornado-cpp browser test</title>"
    "</head><body></body></html>";

struct PageHandler : web::RequestHandler {
  Task<> get() override {
    set_header("Content-Type", "text/html; charset=UTF-8");
    write(kPage);
    co_return;
  }
};

// Counts itself in /stats while open; counts the 403s of the default check_origin.
struct CountedSocket : websocket::WebSocketHandler {
  bool counted = false;
  Task<> open() override {
    counted = true;
    ++state.open_websockets;
    co_return;
  }
  void on_close() override {
    if (counted) --state.open_websockets;
    counted = false;
  }
  bool check_origin(std::string_view origin) override {
    const bool ok = WebSocketHandler::check_origin(origin);
    if (!ok) ++state.origin_refused;
    return ok;
  }
  Task<> on_message(std::string message, bool binary) override {
    co_await write_message(message, binary);
  }
};

struct DeflateEcho : CountedSocket {
  std::optional<websocket::CompressionOptions> get_compression_options() override {
    return websocket::CompressionOptions();
  }
};

struct PlainEcho : CountedSocket {};

struct SmallEcho : CountedSocket {
  std::size_t max_message_size() const override { return 64 * 1024; }
};

struct CloseAfterOne : CountedSocket {
  int code = 1000;
  std::string reason;
  Task<> open() override {
    co_await CountedSocket::open();
    // The request's arguments are released once open() returned (docs/websocket.md).
    code = std::stoi(get_query_argument("code", "1000"));
    reason = get_query_argument("reason", "");
  }
  Task<> on_message(std::string, bool) override {
    close(code, reason);
    co_return;
  }
};

struct TrackedEcho : DeflateEcho {
  void on_close() override {
    DeflateEcho::on_close();
    nlohmann::json seen = {{"reason", close_reason()}};
    seen["code"] = close_code() ? nlohmann::json(*close_code()) : nlohmann::json(nullptr);
    state.closes[path_arg(0)] = seen;
  }
};

struct Room : DeflateEcho {
  pubsub::Subscription sub;
  std::string topic() const { return "room:" + path_arg(0); }
  Task<> open() override {
    co_await DeflateEcho::open();
    sub = pubsub::Hub::instance().subscribe(topic(), *this);
  }
  Task<> on_message(std::string message, bool binary) override {
    pubsub::Hub::instance().publish(topic(), message, binary);
    co_return;
  }
};

// The hub sends these the frame it deflated once for every such subscriber.
struct RoomNoContext : Room {
  std::optional<websocket::CompressionOptions> get_compression_options() override {
    return websocket::CompressionOptions().set_server_no_context_takeover(true);
  }
};

struct Flood : DeflateEcho {
  Task<> open() override {
    co_await DeflateEcho::open();
    const int n = std::stoi(get_query_argument("n", "1000"));
    const std::size_t size = std::stoul(get_query_argument("size", "100"));
    ++state.floods_running;
    struct Running {
      ~Running() { --state.floods_running; }
    } running;
    try {
      for (int i = 0; i < n && is_open(); ++i) {
        std::string message = std::to_string(i) + ":";
        message.resize(std::max(size, message.size()), 'x');
        co_await write_message(message);
      }
    } catch (const websocket::WebSocketClosedError&) {
      // the page went away mid-flood
    }
  }
};

struct CountedStream : web::EventSourceHandler {
  bool counted = false;
  Task<> open() override {
    counted = true;
    ++state.open_event_streams;
    co_return;
  }
  void on_close() override {
    if (counted) --state.open_event_streams;
    counted = false;
  }
};

struct ScriptedEvents : CountedStream {
  Task<> open() override {
    co_await CountedStream::open();
    co_await send("first line\nsecond line\r\nthird line\rfourth line");
    co_await send("before blank\n\nafter blank");
    co_await send("hello, named", "greeting");
    co_await send("\xF0\x9F\x98\x80 \xE2\x82\xAC \xC3\xA9", "unicode", "u1");
    co_await send_comment("a comment the browser ignores");
    co_await send("", "empty");
    co_await send("end", "done");
  }
};

struct Feed : CountedStream {
  pubsub::Subscription sub;
  std::string name() const { return path_arg(0); }
  Task<> open() override {
    co_await CountedStream::open();
    state.feeds[name()].insert(this);
    co_await send("300", "config", {}, 300ms);  // reconnect quickly after a drop
    nlohmann::json connect = {{"last_event_id", nullptr}};
    pubsub::SubscribeOptions options;
    if (last_event_id()) {
      connect["last_event_id"] = *last_event_id();
      options.since = pubsub::StreamPosition::parse(*last_event_id());
      if (!options.since) connect["bad_last_event_id"] = true;
    }
    sub = pubsub::Hub::instance().subscribe("feed:" + name(), *this, options);
    if (options.since) {
      connect["recovery"] =
          sub.recovery() == pubsub::Recovery::kRecovered ? "recovered" : "unrecoverable";
    }
    state.feed_connects[name()].push_back(connect);
  }
  void on_close() override {
    CountedStream::on_close();
    state.feeds[name()].erase(this);
  }
};

struct Publish : web::RequestHandler {
  Task<> post() override {
    auto position = pubsub::Hub::instance().publish("feed:" + path_arg(0), get_argument("data"));
    nlohmann::json answer = {{"position", position.to_string()}};
    write(answer);
    co_return;
  }
};

struct DropFeed : web::RequestHandler {
  Task<> post() override {
    const std::string name = path_arg(0);
    const auto streams = state.feeds[name];  // a copy: close() may call on_close later
    for (auto* stream : streams) stream->close();
    const int then = std::stoi(get_query_argument("then", "0"));
    for (int i = 1; i <= then; ++i) {
      pubsub::Hub::instance().publish("feed:" + name, "missed-" + std::to_string(i));
    }
    nlohmann::json answer = {{"closed", streams.size()}, {"published", then}};
    write(answer);
    co_return;
  }
};

struct CloseReport : web::RequestHandler {
  Task<> get() override {
    for (int waited = 0; waited < 100 && !state.closes.contains(path_arg(0)); ++waited) {
      co_await sleep(50ms);
    }
    auto it = state.closes.find(path_arg(0));
    if (it == state.closes.end()) {
      set_status(404);
      nlohmann::json answer = {{"error", "no close recorded for " + path_arg(0)}};
      write(answer);
      co_return;
    }
    write(it->second);
  }
};

struct FeedReport : web::RequestHandler {
  Task<> get() override {
    auto it = state.feed_connects.find(path_arg(0));
    nlohmann::json connects =
        it == state.feed_connects.end() ? nlohmann::json::array() : it->second;
    nlohmann::json answer = {{"connects", connects}};
    write(answer);
    co_return;
  }
};

struct Stats : web::RequestHandler {
  Task<> get() override {
    nlohmann::json answer = {{"open_websockets", state.open_websockets},
                             {"open_event_streams", state.open_event_streams},
                             {"origin_refused", state.origin_refused},
                             {"floods_running", state.floods_running}};
    write(answer);
    co_return;
  }
};

}  // namespace

int main() {
  ::signal(SIGPIPE, SIG_IGN);
  pubsub::TopicOptions topics;
  topics.history_size = 1000;
  pubsub::Hub::instance().set_default_options(topics);
  IOLoop loop;
  web::Application app({{"/", web::handler<PageHandler>()},
                        {"/ws/echo", web::handler<DeflateEcho>()},
                        {"/ws/echo_plain", web::handler<PlainEcho>()},
                        {"/ws/small", web::handler<SmallEcho>()},
                        {"/ws/close", web::handler<CloseAfterOne>()},
                        {"/ws/track/(\\w+)", web::handler<TrackedEcho>()},
                        {"/ws/room/(\\w+)", web::handler<Room>()},
                        {"/ws/room_nct/(\\w+)", web::handler<RoomNoContext>()},
                        {"/ws/flood", web::handler<Flood>()},
                        {"/sse/events", web::handler<ScriptedEvents>()},
                        {"/sse/feed/(\\w+)", web::handler<Feed>()},
                        {"/sse/drop/(\\w+)", web::handler<DropFeed>()},
                        {"/publish/(\\w+)", web::handler<Publish>()},
                        {"/report/close/(\\w+)", web::handler<CloseReport>()},
                        {"/report/feed/(\\w+)", web::handler<FeedReport>()},
                        {"/stats", web::handler<Stats>()}});
  HTTPServer& server = app.listen(0, {}, "127.0.0.1");
  std::cout << "LISTENING " << server.listening_addresses().at(0).port() << std::endl;
  tornado::test::stop_loop_at_stdin_eof(loop);
  loop.start();
  server.stop();
  server.close_all_connections();
}
