// Step 1: a handler on a route, an Application, a loop.
#include <tornado/web.h>

using namespace tornado;

struct MainHandler : web::RequestHandler {
  Task<> get() override {
    write("Hello, world");
    co_return;
  }
};

int main() {
  web::Application app({{"/", web::handler<MainHandler>()}});
  app.listen(8888);
  IOLoop::current().start();
}
