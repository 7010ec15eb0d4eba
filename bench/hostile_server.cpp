// A server on the library for bench/hostile.py: answers every request like demos/helloworld
// ("Hello, world", or a summary of a parsed form body), inflates gzip request bodies, and
// reports its memory and the loop's worst lag at /stats.
//
//   build/bench/hostile_server <port> [max_unsent_output [discard]]
//
// With "discard", request bodies are streamed and dropped (an HTTPMessageDelegate) instead
// of collected: the figures are then the connection's own, without the application's copy.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "tornado/httpserver.h"
#include "tornado/ioloop.h"

using namespace tornado;

namespace {

double max_lag = 0;  // seconds the loop was late for its 10 ms tick, since the last /stats

void watch_lag(double expected) {
  IOLoop& loop = IOLoop::current();
  double late = loop.time() - expected;
  if (late > max_lag) max_lag = late;
  double next = loop.time() + 0.01;
  loop.call_at(next, [next] { watch_lag(next); });
}

long status_kb(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
  }
  return -1;
}

void handle(httputil::HTTPServerRequest& req) {
  std::string body;
  if (req.path == "/stats") {
    body = "rss_kb=" + std::to_string(status_kb("VmRSS")) +
           " hwm_kb=" + std::to_string(status_kb("VmHWM")) +
           " max_lag_ms=" + std::to_string(static_cast<long>(max_lag * 1000));
    max_lag = 0;
  } else if (req.method == "POST") {
    body = "body=" + std::to_string(req.body.size()) +
           " args=" + std::to_string(req.body_arguments.size()) +
           " files=" + std::to_string(req.files.size());
  } else {
    body = "Hello, world";
  }
  httputil::HTTPHeaders headers{{"Content-Length", std::to_string(body.size())}};
  req.connection->write_headers(httputil::ResponseStartLine{"HTTP/1.1", 200, "OK"}, headers, body);
  req.connection->finish();
}

// Streams the body and drops it; answers like handle() with the byte count.
class DiscardingDelegate final : public httputil::HTTPMessageDelegate {
 public:
  explicit DiscardingDelegate(httputil::HTTPConnection* conn) : conn_(conn) {}
  Task<> headers_received(const httputil::StartLine& line, httputil::HTTPHeaders&) override {
    path_ = std::get<httputil::RequestStartLine>(line).path;
    co_return;
  }
  Task<> data_received(std::string_view chunk) override {
    bytes_ += chunk.size();
    co_return;
  }
  void finish() override {
    httputil::HTTPServerRequest req("GET", path_, "HTTP/1.1", {}, {}, {}, conn_);
    if (path_ == "/stats") return handle(req);
    std::string body = "body=" + std::to_string(bytes_);
    httputil::HTTPHeaders headers{{"Content-Length", std::to_string(body.size())}};
    conn_->write_headers(httputil::ResponseStartLine{"HTTP/1.1", 200, "OK"}, headers, body);
    conn_->finish();
  }
  void on_connection_close() override {}

 private:
  httputil::HTTPConnection* conn_;
  std::string path_;
  std::size_t bytes_ = 0;
};

class DiscardingApp final : public httputil::HTTPServerConnectionDelegate {
 public:
  std::unique_ptr<httputil::HTTPMessageDelegate> start_request(
      httputil::HTTPConnection* conn) override {
    return std::make_unique<DiscardingDelegate>(conn);
  }
};

}  // namespace

int main(int argc, char** argv) {
  const int port = argc > 1 ? std::atoi(argv[1]) : 8891;
  HTTPServerOptions options;
  options.decompress_request = true;
  if (argc > 2) options.max_unsent_output = std::strtoull(argv[2], nullptr, 10);
  IOLoop loop;
  const bool discard = argc > 3 && std::string(argv[3]) == "discard";
  HTTPServer server = discard ? HTTPServer(std::make_shared<DiscardingApp>(), options)
                              : HTTPServer(handle, options);
  server.listen(port, "127.0.0.1");
  watch_lag(loop.time());
  std::printf("listening on %d\n", port);
  std::fflush(stdout);
  loop.start();
}
