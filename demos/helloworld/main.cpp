// Tornado's hello world on web::Application.
//
//   build/demos/helloworld/helloworld --port=8888 [--address=127.0.0.1] [--threads=2]
//                                     [--logging=info|warning|none]
//
// "/" → "Hello, world"; for the benchmarks (bench/web.sh) also "/plaintext" → "Hello, World!"
// as text/plain ("/noetag": the same without Tornado's default ETag, the body's
// SHA-1, to show what that costs), "/json" → {"message":"Hello, World!"} from a JSON value, and "/fortunes":
// TechEmpower's Fortunes page (12 rows from memory plus one added per request, sorted by
// message, rendered through an autoescaped template). With --threads=N,
// N loops share the port through SO_REUSEPORT, each with its own Application.
// (helloworld_raw is the same without the web layer.)
#include <algorithm>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tornado/ioloop.h"
#include "tornado/log.h"
#include "tornado/options.h"
#include "tornado/web.h"

using namespace tornado;

struct MainHandler : web::RequestHandler {
  Task<> get() override {
    write("Hello, world");
    co_return;
  }
};

struct PlaintextHandler : web::RequestHandler {
  Task<> get() override {
    set_header("Content-Type", "text/plain");
    write("Hello, World!");
    co_return;
  }
};

struct PlaintextNoEtagHandler : PlaintextHandler {
  std::optional<std::string> compute_etag() const override { return std::nullopt; }
};

struct JsonHandler : web::RequestHandler {
  Task<> get() override {
    write(nlohmann::json{{"message", "Hello, World!"}});
    co_return;
  }
};

// TechEmpower's Fortunes: the rows a database would return (here from memory), one more added
// per request, sorted by message, rendered with autoescape (row 11 is a script tag).
struct FortunesHandler : web::RequestHandler {
  Task<> get() override {
    static const std::pair<int, const char*> kRows[] = {
        {1, "fortune: No such file or directory"},
        {2, "A computer scientist is someone who fixes things that aren't broken."},
        {3, "After enough decimal places, nobody gives a damn."},
        {4, "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1"},
        {5, "A computer program does what you tell it to do, not what you want it to do."},
        {6, "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen"},
        {7, "Any program that runs right is obsolete."},
        {8, "A list is only as strong as its weakest link. — Donald Knuth"},
        {9, "Feature: A bug with seniority."},
        {10, "Computers make very fast, very accurate mistakes."},
        {11, "<script>alert(\"This should not be displayed in a browser alert box.\");</script>"},
        {12, "フレームワークのベンチマーク"},
    };
    std::vector<std::pair<int, std::string>> rows(std::begin(kRows), std::end(kRows));
    rows.emplace_back(0, "Additional fortune added at request time.");
    std::sort(rows.begin(), rows.end(),
              [](const auto& a, const auto& b) { return a.second < b.second; });
    nlohmann::json list = nlohmann::json::array();
    for (auto& [id, message] : rows) {
      nlohmann::json& row = list.emplace_back(nlohmann::json::object());
      row["id"] = id;
      row["message"] = std::move(message);
    }
    render("fortunes.html", {{"fortunes", std::move(list)}});
    co_return;
  }
};

std::shared_ptr<templates::BaseLoader> fortunes_templates() {
  return std::make_shared<templates::DictLoader>(std::map<std::string, std::string, std::less<>>{
      {"fortunes.html",
       "<!DOCTYPE html>\n<html>\n<head><title>Fortunes</title></head>\n<body>\n<table>\n"
       "<tr><th>id</th><th>message</th></tr>\n"
       "{% for f in fortunes %}<tr><td>{{ f['id'] }}</td><td>{{ f['message'] }}</td></tr>\n"
       "{% end %}</table>\n</body>\n</html>\n"}});
}

namespace {

void serve(int port, const std::string& address, bool reuse_port) {
  IOLoop loop;
  web::Application app({{"/", web::handler<MainHandler>()},
                        {"/plaintext", web::handler<PlaintextHandler>()},
                        {"/noetag", web::handler<PlaintextNoEtagHandler>()},
                        {"/json", web::handler<JsonHandler>()},
                        {"/fortunes", web::handler<FortunesHandler>()}},
                       {.template_loader = fortunes_templates()});
  auto server = std::make_unique<HTTPServer>(
      std::shared_ptr<web::Application>(&app, [](web::Application*) {}));
  server->listen(port, address, AF_UNSPEC, 4096, reuse_port);
  loop.start();
}

}  // namespace

int main(int argc, char** argv) {
  options::define<int>("port", 8888, "port to listen on");
  options::define<std::string>("address", "127.0.0.1", "address to listen on");
  options::define<int>("threads", 1, "loops (threads) sharing the port with SO_REUSEPORT");
  options::parse_command_line(argc, argv);
  const int port = options::get<int>("port");
  const std::string address = options::get<std::string>("address");
  const int threads = std::max(1, options::get<int>("threads"));
  app_log().info("helloworld listening on http://{}:{}/ ({} loop{})", address, port, threads,
                 threads > 1 ? "s" : "");
  std::vector<std::thread> extra;
  for (int i = 1; i < threads; ++i) extra.emplace_back(serve, port, address, threads > 1);
  serve(port, address, threads > 1);
  for (auto& t : extra) t.join();
}
