// The server the interop tests (tests/interop/*.py) talk to with real peers: curl, Python
// requests, Python Tornado's clients. An HTTPServer with a request callback:
//
//   /            "Hello world" (text/plain, Content-Length)
//   /echo        JSON: method, uri, path, query, version, body, body_length, headers,
//                arguments, files (name -> [{filename, content_type, length, body}]),
//                remote_ip, remote_port (0 on a Unix socket), protocol, host
//   /chunked     a chunked response written in ?parts= pieces (default 3); HTTP/1.0 peers
//                get the same bytes delimited by the close
//   /slow        answers "slow <ms>" after ?ms= milliseconds (default 100), from a timer
//   /status      an empty response with status ?code= (default 200; 204/304 have no body)
//   /big         ?n= bytes of 'x' with Content-Length (default 1 MiB)
//
//   interop_echo_server [--port=0] [--address=127.0.0.1] [--unix-socket=PATH]
//                       [--certfile=PEM --keyfile=PEM] [--decompress-request]
//                       [--max-body-size=BYTES] [--chunk-size=BYTES]
//
// Prints one line "LISTENING <port>" (or "LISTENING unix:<path>") on stdout once it accepts,
// then serves until SIGTERM or until its standard input reaches end of file, so a test
// script that dies never leaves it running.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "tornado/httpserver.h"
#include "tornado/ioloop.h"
#include "tornado/log.h"
#include "tornado/netutil.h"
#include "tornado/ssl.h"
#include "../stdin_watch.h"

using namespace tornado;
using httputil::HTTPHeaders;
using httputil::HTTPServerRequest;
using httputil::ResponseStartLine;

namespace {

std::string flag(int argc, char** argv, const std::string& name, const std::string& fallback) {
  const std::string prefix = "--" + name + "=";
  const std::string bare = "--" + name;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) return argv[i] + prefix.size();
    if (bare == argv[i]) return "true";
  }
  return fallback;
}

std::string argument(const HTTPServerRequest& req, const std::string& name,
                     const std::string& fallback) {
  auto it = req.query_arguments.find(name);
  if (it == req.query_arguments.end() || it->second.empty()) return fallback;
  return it->second.back();
}

void respond(HTTPServerRequest& req, int code, const std::string& body,
             const std::string& content_type = "text/plain") {
  HTTPHeaders headers{{"Content-Type", content_type},
                      {"Content-Length", std::to_string(body.size())}};
  req.connection->write_headers(ResponseStartLine{"HTTP/1.1", code, ""}, headers, body);
  req.connection->finish();
}

// Bodies may be binary: JSON strings must be UTF-8, so invalid bytes are replaced (the
// length fields carry the exact sizes for the tests that upload binary data).
std::string to_json(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void echo(HTTPServerRequest& req) {
  nlohmann::json j;
  j["method"] = req.method;
  j["uri"] = req.uri;
  j["path"] = req.path;
  j["query"] = req.query;
  j["version"] = req.version;
  j["body"] = req.body;
  j["body_length"] = req.body.size();
  j["remote_ip"] = req.remote_ip;
  j["protocol"] = req.protocol;
  j["host"] = req.host;
  // The peer's port tells a test whether two requests shared one connection.
  auto* http1 = static_cast<HTTP1Connection*>(req.connection);
  j["remote_port"] = peer_name(http1->stream().fd()).port();
  nlohmann::json headers = nlohmann::json::object();
  for (const auto& [name, value] : req.headers.get_all()) headers[name].push_back(value);
  j["headers"] = headers;
  nlohmann::json args = nlohmann::json::object();
  for (const auto& [name, values] : req.arguments) args[name] = values;
  j["arguments"] = args;
  nlohmann::json files = nlohmann::json::object();
  for (const auto& [name, list] : req.files) {
    for (const auto& f : list) {
      files[name].push_back({{"filename", f.filename},
                             {"content_type", f.content_type},
                             {"length", f.body.size()},
                             {"body", f.body}});
    }
  }
  j["files"] = files;
  respond(req, 200, to_json(j), "application/json");
}

void chunked(HTTPServerRequest& req) {
  const int parts = std::max(1, std::atoi(argument(req, "parts", "3").c_str()));
  auto* conn = req.connection;
  conn->write_headers(ResponseStartLine{"HTTP/1.1", 200, "OK"},
                      HTTPHeaders{{"Content-Type", "text/plain"}});
  for (int i = 0; i < parts; ++i) conn->write("part" + std::to_string(i) + ";");
  conn->finish();
}

void slow(HTTPServerRequest& req) {
  const int ms = std::max(0, std::atoi(argument(req, "ms", "100").c_str()));
  auto* conn = req.connection;
  // The connection object outlives the request until finish() (docs/http1connection.md),
  // even when the peer leaves meanwhile. Whichever comes first, the timer or the client
  // leaving, finishes the response (its write then fails when awaited, which we don't), so
  // an abandoned request does not hold its connection until the timer.
  auto timer = std::make_shared<std::optional<TimeoutHandle>>();
  auto send = [conn, ms, timer] {
    if (!timer->has_value()) return;
    IOLoop::current().remove_timeout(**timer);
    timer->reset();
    std::string body = "slow " + std::to_string(ms);
    conn->write_headers(ResponseStartLine{"HTTP/1.1", 200, "OK"},
                        HTTPHeaders{{"Content-Length", std::to_string(body.size())}}, body);
    conn->finish();
  };
  *timer = IOLoop::current().call_later(std::chrono::milliseconds(ms), send);
  conn->set_close_callback(send);
}

void app(HTTPServerRequest& req) {
  if (req.path == "/echo") {
    echo(req);
  } else if (req.path == "/chunked") {
    chunked(req);
  } else if (req.path == "/slow") {
    slow(req);
  } else if (req.path == "/status") {
    const int code = std::atoi(argument(req, "code", "200").c_str());
    req.connection->write_headers(ResponseStartLine{"HTTP/1.1", code, ""},
                                  code == 204 || code == 304
                                      ? HTTPHeaders{}
                                      : HTTPHeaders{{"Content-Length", "0"}});
    req.connection->finish();
  } else if (req.path == "/big") {
    const std::size_t n = std::strtoull(argument(req, "n", "1048576").c_str(), nullptr, 10);
    respond(req, 200, std::string(n, 'x'));
  } else if (req.path == "/") {
    respond(req, 200, "Hello world");
  } else {
    respond(req, 404, "not found: " + req.path);
  }
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  HTTPServerOptions options;
  options.decompress_request = flag(argc, argv, "decompress-request", "") == "true";
  if (auto v = flag(argc, argv, "max-body-size", ""); !v.empty()) {
    options.max_body_size = std::strtoull(v.c_str(), nullptr, 10);
  }
  if (auto v = flag(argc, argv, "chunk-size", ""); !v.empty()) {
    options.chunk_size = std::strtoull(v.c_str(), nullptr, 10);
  }
  const std::string certfile = flag(argc, argv, "certfile", "");
  if (!certfile.empty()) {
    options.ssl_options = SSLContext::server(certfile, flag(argc, argv, "keyfile", certfile));
  }

  IOLoop loop;
  HTTPServer server(app, options);
  const std::string unix_path = flag(argc, argv, "unix-socket", "");
  if (!unix_path.empty()) {
    server.add_socket(bind_unix_socket(unix_path));
    std::cout << "LISTENING unix:" << unix_path << std::endl;
  } else {
    const int port = std::atoi(flag(argc, argv, "port", "0").c_str());
    server.listen(port, flag(argc, argv, "address", "127.0.0.1"), AF_INET);
    std::cout << "LISTENING " << server.listening_addresses().at(0).port() << std::endl;
  }
  if (::isatty(STDIN_FILENO) == 0) {
    try {
      tornado::test::stop_loop_at_stdin_eof(loop);
    } catch (const std::exception&) {
      // stdin is a regular file or /dev/null (epoll refuses those): serve until SIGTERM.
    }
  }
  loop.start();
  // Graceful shutdown: stop accepting, close every connection, and let their coroutines
  // end on the loop before it is destroyed.
  server.stop();
  server.close_all_connections();
  loop.run_sync(
      [&]() -> Task<> {
        while (server.connection_count() > 0) co_await sleep(std::chrono::milliseconds(1));
      },
      Duration(5));
  return 0;
}
