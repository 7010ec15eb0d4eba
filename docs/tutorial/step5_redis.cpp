// Step 5: several processes, one chat. The only change from step 4 is connect_redis: every
// publish then goes through Redis, which numbers it and carries it to every process
// connected to it (the history too lives in Redis). Start two:
//   redis-server &  ./tutorial_step5 & ./tutorial_step5    (each loop shares port 8888)
#include <thread>

#include <tornado/pubsub.h>
#include <tornado/web.h>
#include <tornado/websocket.h>

using namespace tornado;

struct ChatSocket : websocket::WebSocketHandler {
  pubsub::Subscription subscription;  // ends with the connection

  Task<> open() override {
    subscription = pubsub::Hub::instance().subscribe("chat", *this);
    co_return;
  }
  Task<> on_message(std::string message, bool /*binary*/) override {
    pubsub::Hub::instance().publish("chat", message);  // any thread, never blocks
    co_return;
  }
};

struct MainHandler : web::RequestHandler {
  Task<> get() override {
    std::vector<std::string> messages;
    // Every process's history, read from Redis.
    for (const auto& m : co_await pubsub::Hub::instance().fetch_history("chat")) {
      messages.emplace_back(m->data());
    }
    render("chat.html", {{"messages", messages}, {"live", "websocket"}});
  }
};

void serve() {  // one loop, its own Application, the port shared (SO_REUSEPORT)
  IOLoop loop;
  web::Settings settings;
  settings.template_path = TUTORIAL_DIR "/templates";
  auto app = std::make_shared<web::Application>(
      std::vector<web::URLSpec>{{"/", web::handler<MainHandler>()},
                                {"/chatsocket", web::handler<ChatSocket>()}},
      settings);
  HTTPServer server(app);
  server.listen(8888, "", AF_UNSPEC, 128, /*reuse_port=*/true);
  loop.start();
}

int main() {
  pubsub::TopicOptions room;
  room.history_size = 100;
  pubsub::Hub::instance().configure("chat", room);
  IOLoop loop;  // owns the hub's Redis connections
  pubsub::RedisOptions redis;  // 127.0.0.1:6379; a statement of its own (g++ 12)
  loop.run_sync([&redis]() -> Task<> { return pubsub::Hub::instance().connect_redis(redis); });
  std::thread web(serve);
  loop.start();
}
