// A web::Application for the cookie/XSRF interop test (test_web_app.py): signed cookies and
// XSRF tokens with a secret shared with a Python Tornado app.
//
//   interop_web_app_server --secret=S [--versioned]   (prints "LISTENING <port>", stops at EOF
//                                                       on stdin)
// --versioned: cookie_secret {0: S+"0", 1: S+"1"} with key_version 1.
#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <iostream>

#include "tornado/web.h"
#include "../stdin_watch.h"

using namespace tornado;

namespace {

std::string flag(int argc, char** argv, const std::string& name, const std::string& fallback) {
  const std::string prefix = "--" + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) return argv[i] + prefix.size();
    if (std::string(argv[i]) == "--" + name) return "true";
  }
  return fallback;
}

struct SetSigned : web::RequestHandler {
  Task<> get() override {
    std::optional<int> version;
    if (auto v = get_optional_argument("version")) version = std::stoi(*v);
    set_signed_cookie("user", get_argument("value"), 30, {}, version);
    co_return;
  }
};

struct GetSigned : web::RequestHandler {
  Task<> get() override {
    auto v = get_signed_cookie("user", std::nullopt, 31, std::stoi(get_argument("min_version", "1")));
    write(v ? *v : std::string("(none)"));
    co_return;
  }
};

struct Xsrf : web::RequestHandler {
  Task<> get() override {
    write(xsrf_token());
    co_return;
  }
  Task<> post() override {
    write("posted");
    co_return;
  }
};

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  const std::string secret = flag(argc, argv, "secret", "secret");
  web::Settings settings;
  settings.xsrf_cookies = true;
  if (flag(argc, argv, "versioned", "") == "true") {
    settings.cookie_secret = std::map<int, std::string>{{0, secret + "0"}, {1, secret + "1"}};
    settings.key_version = 1;
  } else {
    settings.cookie_secret = secret;
  }
  IOLoop loop;
  web::Application app({{"/set_signed", web::handler<SetSigned>()},
                        {"/get_signed", web::handler<GetSigned>()},
                        {"/xsrf", web::handler<Xsrf>()}},
                       settings);
  HTTPServer& server = app.listen(0, {}, "127.0.0.1");
  std::cout << "LISTENING " << server.listening_addresses().at(0).port() << std::endl;
  tornado::test::stop_loop_at_stdin_eof(loop);
  loop.start();
  server.stop();
  server.close_all_connections();
}
