// tcpecho — Tornado's demos/tcpecho (server.py and client.py) in one binary.
//
//   tcpecho [server] [--port=9888] [--address=127.0.0.1] [--backlog=4096]
//       Echoes every newline-terminated line back to its sender.
//   tcpecho client [--port=9888] [--address=127.0.0.1] [--message=ping]
//       Sends one line and prints the reply, like client.py.
//   tcpecho client --connections=10000 --messages=5 [--connect-concurrency=512]
//       Load mode: opens every connection (at most connect-concurrency connects in
//       flight, each retried on failure), keeps them all open at once, sends `messages`
//       distinct lines on each and checks every echo. Exits 1 on any failure.
//
// The server prints "listening on ADDRESS:PORT" once ready (--port=0 picks a free port),
// so scripts can wait for that line.
#include <sys/resource.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tornado/ioloop.h"
#include "tornado/iostream.h"
#include "tornado/log.h"
#include "tornado/netutil.h"
#include "tornado/tcpclient.h"
#include "tornado/tcpserver.h"

using namespace tornado;

namespace {

// --name=value options; every option must be known and well formed.
class Flags {
 public:
  Flags(int argc, char** argv, int first, std::map<std::string, std::string> defaults)
      : values_(std::move(defaults)) {
    for (int i = first; i < argc; ++i) {
      std::string arg = argv[i];
      auto eq = arg.find('=');
      if (arg.rfind("--", 0) != 0 || eq == std::string::npos) {
        throw std::invalid_argument("expected --name=value, got '" + arg + "'");
      }
      std::string name = arg.substr(2, eq - 2);
      if (!values_.count(name)) throw std::invalid_argument("unknown option --" + name);
      values_[name] = arg.substr(eq + 1);
    }
  }
  const std::string& str(const std::string& name) const { return values_.at(name); }
  long num(const std::string& name, long min, long max) const {
    const std::string& v = values_.at(name);
    long out = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc() || p != v.data() + v.size() || out < min || out > max) {
      throw std::invalid_argument("--" + name + " must be an integer in [" + std::to_string(min) +
                                  ", " + std::to_string(max) + "], got '" + v + "'");
    }
    return out;
  }

 private:
  std::map<std::string, std::string> values_;
};

// 10,000 sockets need more than the usual soft limit of 1024: go up to the hard limit.
void raise_open_files_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
}

// ---- server -------------------------------------------------------------------------

class EchoServer : public TCPServer {
 public:
  EchoServer(TCPServerOptions options, std::size_t max_line)
      : TCPServer(std::move(options)), max_line_(max_line) {}

 protected:
  Task<> handle_stream(std::shared_ptr<IOStream> stream, std::string address) override {
    try {
      for (;;) {
        std::string line = co_await stream->read_until("\n", max_line_);
        co_await stream->write(std::move(line));
      }
    } catch (const StreamClosedError&) {
      gen_log().debug("Lost client at host {}", address);
    }
  }

 private:
  std::size_t max_line_;
};

int run_server(const Flags& flags) {
  TCPServerOptions options;
  options.accept.max_per_event = static_cast<int>(flags.num("accepts-per-event", 1, 1 << 20));
  EchoServer server(std::move(options),
                    static_cast<std::size_t>(flags.num("max-line", 1, 1L << 30)));
  int port = static_cast<int>(flags.num("port", 0, 65535));
  server.listen(port, flags.str("address"), AF_UNSPEC,
                static_cast<int>(flags.num("backlog", 1, 1 << 20)));
  for (const auto& a : server.listening_addresses()) {
    std::printf("listening on %s\n", a.to_string().c_str());
  }
  std::fflush(stdout);
  IOLoop::current().start();
  return 0;
}

// ---- client -------------------------------------------------------------------------

struct LoadStats {
  long connected = 0;
  long connect_retries = 0;
  long echoed = 0;
  long failures = 0;
  std::string first_failure;

  void fail(const std::string& what) {
    if (failures++ == 0) first_failure = what;
  }
};

std::string describe(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const StreamClosedError& sce) {
    if (sce.real_error()) return "stream closed: " + describe(sce.real_error());
    return sce.what();
  } catch (const std::exception& ex) {
    return ex.what();
  }
  return "unknown error";
}

struct LoadConfig {
  std::string host;
  int port;
  long connections;
  long messages;
  long concurrency;
  long retries;
  Duration connect_timeout;
};

// One connect worker: takes the next connection index until all are open.
Task<> connect_worker(TCPClient& client, const LoadConfig& cfg, long& next,
                      std::vector<std::shared_ptr<IOStream>>& streams, LoadStats& stats) {
  while (next < cfg.connections) {
    long i = next++;
    for (long attempt = 0;; ++attempt) {
      std::exception_ptr error;
      try {
        ConnectOptions options;
        options.timeout = cfg.connect_timeout;
        streams[i] = co_await client.connect(cfg.host, cfg.port, options);
        ++stats.connected;
        break;
      } catch (...) {
        error = std::current_exception();
      }
      // A full accept queue drops SYNs or resets: back off briefly and retry.
      if (attempt >= cfg.retries) {
        stats.fail("connection " + std::to_string(i) + ": " + describe(error));
        break;
      }
      ++stats.connect_retries;
      co_await sleep(Duration(0.05 * (attempt + 1)));
    }
  }
}

// The echo conversation on one connection: distinct lines, each checked.
Task<> converse(std::shared_ptr<IOStream> stream, long index, long messages, LoadStats& stats) {
  try {
    for (long m = 0; m < messages; ++m) {
      std::string line = "connection " + std::to_string(index) + " message " +
                         std::to_string(m) + "\n";
      co_await stream->write(line);
      // Bounded: a lost echo fails this connection with a message instead of hanging.
      std::string reply = co_await with_timeout(10s, stream->read_until("\n", 1 << 16));
      if (reply != line) {
        stats.fail("connection " + std::to_string(index) + ": sent '" + line + "' got '" +
                   reply + "'");
        co_return;
      }
      ++stats.echoed;
    }
  } catch (...) {
    stats.fail("connection " + std::to_string(index) + ": " + describe(std::current_exception()));
  }
}

Task<int> run_load(LoadConfig cfg) {
  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  TCPClient client;
  LoadStats stats;
  std::vector<std::shared_ptr<IOStream>> streams(cfg.connections);
  long next = 0;
  std::vector<Task<>> workers;
  for (long w = 0; w < std::min(cfg.concurrency, cfg.connections); ++w) {
    workers.push_back(connect_worker(client, cfg, next, streams, stats));
  }
  co_await when_all(std::move(workers));
  auto t1 = Clock::now();
  long open = 0;
  for (auto& s : streams) open += (s && !s->closed()) ? 1 : 0;
  std::printf("connected %ld/%ld (retries %ld) in %.2fs; %ld open at once\n", stats.connected,
              cfg.connections, stats.connect_retries, Duration(t1 - t0).count(), open);

  std::vector<Task<>> talks;
  for (long i = 0; i < cfg.connections; ++i) {
    if (streams[i]) talks.push_back(converse(streams[i], i, cfg.messages, stats));
  }
  co_await when_all(std::move(talks));
  auto t2 = Clock::now();
  // Every connection must still be open here: they were all held through the exchange.
  long still_open = 0;
  for (auto& s : streams) still_open += (s && !s->closed()) ? 1 : 0;
  double secs = Duration(t2 - t1).count();
  std::printf("echoed %ld/%ld messages in %.2fs (%.0f msg/s); %ld connections still open\n",
              stats.echoed, cfg.connections * cfg.messages, secs,
              secs > 0 ? stats.echoed / secs : 0.0, still_open);
  for (auto& s : streams) {
    if (s) s->close();
  }
  if (still_open != cfg.connections) stats.fail("only " + std::to_string(still_open) + " open");
  if (stats.failures > 0) {
    std::printf("FAILED: %ld failures; first: %s\n", stats.failures, stats.first_failure.c_str());
    co_return 1;
  }
  std::printf("OK\n");
  co_return 0;
}

Task<int> run_single(std::string host, int port, std::string message) {
  TCPClient client;
  auto stream = co_await client.connect(host, port);
  co_await stream->write(message + "\n");
  std::string reply = co_await stream->read_until("\n");
  std::printf("Response from server: %s", reply.c_str());
  stream->close();
  co_return 0;
}

int run_client(const Flags& flags) {
  std::string host = flags.str("address");
  int port = static_cast<int>(flags.num("port", 1, 65535));
  long connections = flags.num("connections", 1, 1000000);
  long messages = flags.num("messages", 0, 1000000);
  IOLoop& loop = IOLoop::current();
  if (connections == 1 && messages == 1) {
    return loop.run_sync([&] { return run_single(host, port, flags.str("message")); });
  }
  LoadConfig cfg{host,
                 port,
                 connections,
                 messages,
                 flags.num("connect-concurrency", 1, 1000000),
                 flags.num("connect-retries", 0, 1000),
                 Duration(static_cast<double>(flags.num("connect-timeout", 1, 3600)))};
  return loop.run_sync([&] { return run_load(cfg); });
}

}  // namespace

int main(int argc, char** argv) {
  bool client = argc > 1 && std::string(argv[1]) == "client";
  bool server = argc > 1 && std::string(argv[1]) == "server";
  int first = (client || server) ? 2 : 1;
  try {
    raise_open_files_limit();
    if (client) {
      return run_client(Flags(argc, argv, first,
                              {{"port", "9888"},
                               {"address", "127.0.0.1"},
                               {"message", "ping"},
                               {"connections", "1"},
                               {"messages", "1"},
                               {"connect-concurrency", "512"},
                               {"connect-retries", "5"},
                               {"connect-timeout", "20"}}));
    }
    return run_server(Flags(argc, argv, first,
                            {{"port", "9888"},
                             {"address", "127.0.0.1"},
                             {"backlog", "4096"},
                             {"accepts-per-event", "128"},
                             {"max-line", "65536"}}));
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr,
                 "tcpecho: %s\n"
                 "usage: tcpecho [server] [--port=9888] [--address=127.0.0.1] [--backlog=4096]\n"
                 "               [--accepts-per-event=128] [--max-line=65536]\n"
                 "       tcpecho client [--port=9888] [--address=127.0.0.1] [--message=ping]\n"
                 "               [--connections=1] [--messages=1] [--connect-concurrency=512]\n"
                 "               [--connect-retries=5] [--connect-timeout=20]\n",
                 e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tcpecho: %s\n", e.what());
    return 1;
  }
}
