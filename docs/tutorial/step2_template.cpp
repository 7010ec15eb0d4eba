// Step 2: a page from a template, a form that posts messages, and a long poll that waits
// for the next one (Tornado's chat before WebSockets). One loop: no locks needed.
#include <tornado/escape.h>
#include <tornado/locks.h>
#include <tornado/web.h>

using namespace tornado;

std::vector<std::string> messages;  // the room: every message so far
locks::Condition new_message;       // notified at each one

struct MainHandler : web::RequestHandler {
  Task<> get() override {
    render("chat.html", {{"messages", messages}, {"live", "poll"}});
    co_return;
  }
};

struct MessageNewHandler : web::RequestHandler {
  Task<> post() override {
    messages.push_back(get_argument("body"));
    new_message.notify_all();
    redirect("/");
    co_return;
  }
};

// POST cursor=N: the messages after the first N, as soon as there are any.
struct MessageUpdatesHandler : web::RequestHandler {
  Task<> post() override {
    const std::size_t cursor = std::stoul(get_argument("cursor", "0"));
    while (messages.size() <= cursor) co_await new_message.wait();
    write(nlohmann::json{{"messages", std::vector(messages.begin() + cursor, messages.end())}});
  }
};

int main() {
  web::Settings settings;
  settings.template_path = TUTORIAL_DIR "/templates";
  web::Application app({{"/", web::handler<MainHandler>()},
                        {"/a/message/new", web::handler<MessageNewHandler>()},
                        {"/a/message/updates", web::handler<MessageUpdatesHandler>()}},
                       settings);
  app.listen(8888);
  IOLoop::current().start();
}
