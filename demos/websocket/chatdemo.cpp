// Tornado's WebSocket chat demo (demos/websocket/chatdemo.py), on the pub/sub hub.
//
//   chatdemo [--port=8888] [--address=127.0.0.1] [--threads=1]
//
// Open http://127.0.0.1:8888/ in several browsers: a message posted in one appears in all.
// Tornado's demo keeps a class-level set of sockets and a cache of the last 200 messages;
// here the hub is both (topic "chat" with a 200-message history), so --threads=N loops on
// the port share one chat. The page is rendered with the cache; each message is sent to
// every socket as {"id", "body", "html"} JSON, the html rendered once by the server.
#include <random>
#include <thread>

#include "assets.h"
#include "tornado/escape.h"
#include "tornado/log.h"
#include "tornado/options.h"
#include "tornado/pubsub.h"
#include "tornado/web.h"
#include "tornado/websocket.h"

using namespace tornado;

namespace {

constexpr std::string_view kTopic = "chat";
constexpr std::size_t kCacheSize = 200;  // Tornado's ChatSocketHandler.cache_size

std::string new_id() {  // uuid4().hex's shape: 32 hex digits
  thread_local std::mt19937_64 gen{std::random_device{}()};
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(gen()),
                static_cast<unsigned long long>(gen()));
  return buf;
}

nlohmann::json cached_messages() {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& m : pubsub::Hub::instance().history(kTopic)) {
    list.push_back(nlohmann::json::parse(m->data()));
  }
  return list;
}

struct MainHandler : web::RequestHandler {
  Task<> get() override {
    render("index.html", {{"messages", cached_messages()}});
    co_return;
  }
};

struct StaticAsset : web::RequestHandler {
  Task<> get() override {
    const bool css = path_arg(0) == "chat.css";
    set_header("Content-Type", css ? "text/css" : "application/javascript");
    write(css ? chatdemo::kChatCss : chatdemo::kChatJs);
    co_return;
  }
};

struct ChatSocketHandler : websocket::WebSocketHandler {
  pubsub::Subscription sub;

  Task<> open() override {
    sub = pubsub::Hub::instance().subscribe(kTopic, *this);
    co_return;
  }

  Task<> on_message(std::string message, bool binary) override {
    app_log().info("got message {}", message);
    nlohmann::json parsed = nlohmann::json::parse(message, nullptr, /*allow_exceptions=*/false);
    if (binary || !parsed.is_object() || !parsed.contains("body") || !parsed["body"].is_string()) {
      close(1003, "expected a JSON object {\"body\": text}");
      co_return;
    }
    nlohmann::json chat = {{"id", new_id()}, {"body", parsed["body"]}};
    chat["html"] = render_string("message.html", {{"message", chat}});
    pubsub::Hub::instance().publish(kTopic, escape::json_encode(chat));
  }

  std::size_t max_message_size() const override { return 64 * 1024; }
};

std::shared_ptr<templates::BaseLoader> templates_loader() {
  return std::make_shared<templates::DictLoader>(std::map<std::string, std::string, std::less<>>{
      {"index.html", chatdemo::kIndexHtml}, {"message.html", chatdemo::kMessageHtml}});
}

void serve(int port, const std::string& address, bool reuse_port, const std::string& secret) {
  IOLoop loop;
  web::Application app({{"/", web::handler<MainHandler>()},
                        {"/chatsocket", web::handler<ChatSocketHandler>()},
                        {"/static/(chat\\.css|chat\\.js)", web::handler<StaticAsset>()}},
                       {.cookie_secret = secret,
                        .xsrf_cookies = true,
                        .template_loader = templates_loader()});
  HTTPServer server(std::shared_ptr<web::Application>(&app, [](web::Application*) {}));
  server.listen(port, address, AF_UNSPEC, 4096, reuse_port);
  loop.start();
}

}  // namespace

int main(int argc, char** argv) {
  options::define<int>("port", 8888, "run on the given port");
  options::define<std::string>("address", "127.0.0.1", "address to listen on");
  options::define<int>("threads", 1, "loops (threads) sharing the port and the chat");
  options::parse_command_line(argc, argv);
  const int port = options::get<int>("port");
  const std::string address = options::get<std::string>("address");
  const int threads = std::max(1, options::get<int>("threads"));
  pubsub::TopicOptions topic;
  topic.history_size = kCacheSize;
  pubsub::Hub::instance().configure(kTopic, topic);
  const std::string secret = new_id() + new_id();  // per process: restarts sign out
  app_log().info("chatdemo on http://{}:{}/ ({} loop{})", address, port, threads,
                 threads > 1 ? "s" : "");
  std::vector<std::thread> extra;
  for (int i = 1; i < threads; ++i) extra.emplace_back(serve, port, address, true, secret);
  serve(port, address, threads > 1, secret);
}
