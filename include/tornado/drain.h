// tornado/drain.h — graceful shutdown: on SIGTERM (or when asked), a server stops accepting,
// lets the requests in flight finish, sends its WebSocket clients 1001 (going away) and ends
// its SSE streams and long polls so that they reconnect elsewhere, then its loops stop — all
// within a deadline, after which what is left is closed hard. docs/drain.md.
//
//   Drain drain({.timeout = 30s});          // (options in a statement of their own)
//   Drain::block_signals();                 // in main(), before any thread starts
//   ... on each loop thread:  HTTPServer server(app); server.add_sockets(fds);
//                             drain.add(server);  loop.start();
//   ... on the main loop:     drain.handle_signals();   // SIGTERM, SIGINT
//
// Per loop, a drain: raises the loop's draining signal (tornado/draining.h: watches fire,
// WebSockets get on_drain → close 1001, SSE streams a last retry: and their end); makes each
// HTTPServer end its connections after their current response (Connection: close) and, after
// idle_grace, closes those still waiting for a request; closes the listening sockets without resetting their backlogs
// (TCPServer::stop_gracefully: with SO_REUSEPORT, another process on the port takes the new
// connections); waits until no HTTP connection and no WebSocket/SSE stream is left, or the
// deadline; then closes the rest and stops the loop.
//
// Tornado's way stays: server.stop(); server.close_all_connections(); — the abrupt end.
//
// Thread rule: add*/handle_signals on the loop thread they concern; start(), cut() and the
// observers from any thread. Servers and loops must outlive their drain (or the Drain, if it
// never starts), and a started Drain must outlive its drain (finished()). A Drain destroyed
// on the thread of a loop it handles signals on removes those handlers; destroy it there, or
// once that loop has ended.
#pragma once

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <utility>
#include <vector>

#include "tornado/draining.h"
#include "tornado/httpserver.h"
#include "tornado/ioloop.h"
#include "tornado/tcpserver.h"

namespace tornado {

struct DrainOptions {
  // The whole drain, per loop: past it, connections and streams still open are closed.
  Duration timeout = std::chrono::seconds(30);
  // How long the listening sockets keep accepting their backlog (TCPServer::stop_gracefully)
  // after new connection attempts are turned away.
  Duration accept_settle = std::chrono::milliseconds(100);
  // Turn new connection attempts away before closing the listening sockets (the SYN filter),
  // so that the kernel does not reset the connections queued in them. false: plain stop().
  bool drop_new_syns = true;
  // Connections waiting for a request (keep-alive between requests, or accepted and not sent
  // one yet) are given this long: a request that comes is served (with Connection: close),
  // then those still waiting are closed. Busy clients thus get an answer and a close instead
  // of HTTP/1.1's keep-alive race (a request crossing the close of its idle connection).
  Duration idle_grace = std::chrono::seconds(1);
  // Stop each loop once its drain is done (its start() returns).
  bool stop_loops = true;
};

class Drain {
 public:
  explicit Drain(DrainOptions options = {});
  ~Drain();
  Drain(const Drain&) = delete;
  Drain& operator=(const Drain&) = delete;

  // Drains `server` on the current loop (its loop). Call before start().
  void add(HTTPServer& server);
  void add(TCPServer& server);  // listening sockets only: its connections are the subclass's
  // Drains the current loop with no server of its own (its WebSockets, streams, watches).
  void add_loop();

  // On the current loop, each of `signals` starts the drain; the next one, during the drain,
  // cuts it short (what is left is closed at once). The current loop is drained too (as
  // add_loop()), so that a signal taken from its default action always stops a loop. Blocks them in this thread (signalfd):
  // threads started later inherit that; call block_signals() in main() before starting any.
  void handle_signals(const std::vector<int>& signals = {SIGTERM, SIGINT});
  // Blocks `signals` in the calling thread (and so in the threads it starts afterwards).
  static void block_signals(const std::vector<int>& signals = {SIGTERM, SIGINT});

  // Starts draining every registered loop (idempotent). Any thread.
  void start();
  // Brings the deadline forward to now (starting the drain first if needed). Any thread.
  void cut();

  bool started() const noexcept { return started_.load(); }
  // Every registered loop finished its drain.
  bool finished() const noexcept;
  // Connections and streams closed by the deadline (or cut()), over all loops so far.
  std::size_t cut_count() const noexcept { return cut_count_.load(); }
  const DrainOptions& options() const noexcept { return options_; }

 private:
  struct Loop {
    IOLoop* loop = nullptr;
    std::vector<HTTPServer*> http;
    std::vector<TCPServer*> tcp;  // every server (HTTP ones too): listening sockets
    bool done = false;
  };
  Loop& current_loop();  // the entry of the current loop (made on first use); lock held
  Task<> drain_loop(Loop& entry);

  DrainOptions options_;
  mutable std::mutex mutex_;
  // The signals handle_signals() installed, and on which loop: the destructor removes them.
  std::vector<std::pair<IOLoop*, int>> signal_handlers_;
  std::deque<Loop> loops_;  // stable addresses: each loop's drain refers to its entry
  std::atomic<bool> started_{false};
  std::atomic<bool> cut_{false};
  std::atomic<std::size_t> cut_count_{0};
};

}  // namespace tornado
