// Step 4: the pub/sub hub instead of the set. It fans each message out once for every
// subscriber, on every loop thread, keeps the last 100 as the room's history, and closes a
// browser that stops reading instead of buffering for it forever. Two loops share the port.
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
    for (const auto& m : pubsub::Hub::instance().history("chat")) messages.emplace_back(m->data());
    render("chat.html", {{"messages", messages}, {"live", "websocket"}});
    co_return;
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
  std::thread second(serve);
  serve();
  second.join();
}
