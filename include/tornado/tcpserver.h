// tornado/tcpserver.h — a non-blocking, single-threaded TCP server (Tornado's `tcpserver`).
//
// Subclass TCPServer and override handle_stream(): it runs as a coroutine per connection.
//
//   class EchoServer : public TCPServer {
//     Task<> handle_stream(std::shared_ptr<IOStream> stream, std::string address) override {
//       try {
//         for (;;) co_await stream->write(co_await stream->read_until("\n"));
//       } catch (const StreamClosedError&) {}   // the client left
//     }
//   };
//   EchoServer server;
//   server.listen(9888);                  // or add_sockets(bind_sockets(...)), or bind + start
//   IOLoop::current().start();
//
// Several processes: server.bind(8888); server.start(0); IOLoop::current().start(); forks
// one worker per CPU, all accepting on the same sockets (process.h has the details).
//
// TLS: pass TCPServerOptions{.ssl_options = SSLContext::server("cert.pem", "key.pem")} and
// every connection arrives as an SSLIOStream (its handshake runs on first read/write, or
// await wait_for_handshake()).
//
// Lifetime: the server must outlive the handle_stream coroutines it started (they run on
// `this`). stop() closes the listening sockets; connections already accepted go on.
// Thread rule: loop thread only (the loop current when a socket was added).
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tornado/iostream.h"
#include "tornado/netutil.h"
#include "tornado/ssl.h"
#include "tornado/task.h"

namespace tornado {

struct TCPServerOptions {
  // Makes every connection an SSLIOStream (server side) with this context; null = plain.
  std::shared_ptr<SSLContext> ssl_options{};
  // Per-stream limits handed to each IOStream (Tornado's defaults: 100 MiB and 64 KiB).
  std::size_t max_buffer_size = IOStreamOptions{}.max_buffer_size;
  std::size_t read_chunk_size = IOStreamOptions{}.read_chunk_size;
  // How the listening sockets accept (per-event budget, EMFILE backoff).
  AcceptOptions accept{};
};

class TCPServer {
 public:
  // Throws std::invalid_argument if ssl_options is a client context or a limit is 0.
  explicit TCPServer(TCPServerOptions options = {});
  // Stops listening (stop()). Does not close accepted connections.
  virtual ~TCPServer();
  TCPServer(const TCPServer&) = delete;
  TCPServer& operator=(const TCPServer&) = delete;

  // Binds (bind_sockets) and starts accepting on this loop: the single-process way.
  // Defaults as bind_sockets: all interfaces, AF_UNSPEC, backlog 128, no SO_REUSEPORT.
  // Throws what bind_sockets throws.
  void listen(int port, const std::string& address = "", int family = AF_UNSPEC, int backlog = 128,
              bool reuse_port = false);

  // Starts accepting on listening sockets made elsewhere (bind_sockets, bind_unix_socket,
  // or inherited across fork). The server owns the fds from now on and closes them in
  // stop(). Throws std::system_error if the loop refuses an fd.
  void add_sockets(const std::vector<int>& fds);
  void add_socket(int fd) { add_sockets({fd}); }

  // Binds sockets now but accepts only after start(): the pre-fork pattern. Same
  // arguments and exceptions as listen(). May be called more than once.
  void bind(int port, const std::string& address = "", int family = AF_UNSPEC, int backlog = 128,
            bool reuse_port = false);
  // Starts accepting on the sockets from bind(). With num_processes != 1 it first forks
  // that many workers (<= 0: one per CPU) with process::fork_processes(num_processes,
  // max_restarts), so each worker accepts on the inherited sockets and the parent only
  // supervises (it never returns from here normally: see fork_processes). As in Tornado,
  // nothing may make an IOLoop before a forking start() (std::logic_error), and then the
  // server object, built before, is used in each worker. Throws std::logic_error if called
  // twice, and what fork_processes throws.
  void start(int num_processes = 1, int max_restarts = 100);

  // Stops accepting and closes every listening socket. Connections already accepted stay
  // open. Idempotent; safe from inside handle_stream or any callback.
  void stop();

  // stop() for a graceful restart: closes the listening sockets without resetting the
  // connections queued in their backlogs. New connection attempts (TCP SYNs) to these
  // sockets are dropped first, so their clients retry them (after 1 s, TCP's initial
  // retransmission timeout) and meet the listener that is open then: another process on
  // the same port (SO_REUSEPORT), or a refusal once this one closed. The backlog keeps
  // being accepted for `settle` (and then until it is empty, up to 10 settles), and only
  // then the sockets close. Without the SYN filter (a socket that refuses it, or
  // drop_new_syns false) this is stop() after `settle`. Completes once stopped; cut short
  // (cancelled, with_timeout) it stops at once rather than leave the sockets filtered.
  // See docs/drain.md. The server must outlive the task.
  Task<> stop_gracefully(Duration settle = std::chrono::milliseconds(100), bool drop_new_syns = true);

  // Ports and addresses we listen on (for tests and logs: listen(0) picks the port).
  std::vector<ResolvedAddress> listening_addresses() const;

  const TCPServerOptions& options() const noexcept { return options_; }

 protected:
  // Called for each new connection, as a coroutine; override it. `address` is the peer's
  // numeric IP ("127.0.0.1", "::1"), or "" for a unix-socket peer (Tornado passes the
  // address tuple; its [0] is this; the full peer is peer_name(stream->fd())). An
  // exception escaping it is logged on tornado.application with the peer address
  // ("Exception in callback handle_stream ..."), StreamClosedError included, as in Tornado:
  // catch it where a client leaving is normal.
  // The default implementation throws std::logic_error (override it).
  virtual Task<> handle_stream(std::shared_ptr<IOStream> stream, std::string address);

  // Wraps an accepted fd in a stream and spawns handle_stream. Override to take over the
  // raw connection (HTTPServer does not need to).
  virtual void handle_connection(int fd, const ResolvedAddress& peer);
  // For overrides of handle_connection: the stream for an accepted fd (TLS when the
  // server has ssl_options), and the address handle_stream would be given.
  std::shared_ptr<IOStream> make_stream(int fd);
  static std::string peer_address(const ResolvedAddress& peer);

 private:
  struct Listener {
    int fd;
    std::function<void()> remove;
  };
  TCPServerOptions options_;
  std::vector<Listener> listeners_;
  std::vector<int> pending_fds_;  // bound by bind(), waiting for start()
  bool started_ = false;
};

}  // namespace tornado
