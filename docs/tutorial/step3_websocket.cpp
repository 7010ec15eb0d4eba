// Step 3: a WebSocket per browser; each message is written to every open socket.
#include <set>

#include <tornado/web.h>
#include <tornado/websocket.h>

using namespace tornado;

std::vector<std::string> messages;

struct ChatSocket : websocket::WebSocketHandler {
  static inline std::set<ChatSocket*> open_sockets;  // Tornado's class-level `waiters`

  Task<> open() override {
    open_sockets.insert(this);
    co_return;
  }
  void on_close() override { open_sockets.erase(this); }

  Task<> on_message(std::string message, bool /*binary*/) override {
    messages.push_back(message);
    for (ChatSocket* socket : open_sockets) {
      (void)socket->write_message(message);  // queued; awaiting it would wait for the kernel
    }
    co_return;
  }
};

struct MainHandler : web::RequestHandler {
  Task<> get() override {
    render("chat.html", {{"messages", messages}, {"live", "websocket"}});
    co_return;
  }
};

int main() {
  web::Settings settings;
  settings.template_path = TUTORIAL_DIR "/templates";
  web::Application app({{"/", web::handler<MainHandler>()},
                        {"/chatsocket", web::handler<ChatSocket>()}},
                       settings);
  app.listen(8888);
  IOLoop::current().start();
}
