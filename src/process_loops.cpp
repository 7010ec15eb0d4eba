// process::bind_loop_sockets, LoopThreads, serve_on_all_cores (tornado/process.h).
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <condition_variable>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "tornado/log.h"
#include "tornado/netutil.h"
#include "tornado/process.h"
#include "tornado/tcpserver.h"

namespace tornado::process {

namespace {

void close_all(const std::vector<std::vector<int>>& sets) noexcept {
  for (const auto& set : sets) {
    for (int fd : set) ::close(fd);
  }
}

// Blocks every asynchronous signal in the calling thread while it lives (threads started
// meanwhile inherit the mask), as the executor pool does.
class BlockAsyncSignals {
 public:
  BlockAsyncSignals() {
    sigset_t all;
    sigfillset(&all);
    for (int sync : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS}) {
      sigdelset(&all, sync);
    }
    ::pthread_sigmask(SIG_BLOCK, &all, &old_);
  }
  ~BlockAsyncSignals() { ::pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  BlockAsyncSignals(const BlockAsyncSignals&) = delete;
  BlockAsyncSignals& operator=(const BlockAsyncSignals&) = delete;

 private:
  sigset_t old_;
};

}  // namespace

LoopSockets bind_loop_sockets(int port, const std::string& address, int loops, int family,
                              int backlog, bool reuse_port) {
  if (loops < 1) {
    throw std::invalid_argument("bind_loop_sockets: loops must be >= 1, got " +
                                std::to_string(loops));
  }
  LoopSockets out;
  const bool shared = loops > 1 || reuse_port;
  try {
    out.fds.push_back(bind_sockets(port, address, family, backlog, shared));
    out.port = sock_name(out.fds[0].front()).port();
    for (int i = 1; i < loops; ++i) {
      out.fds.push_back(bind_sockets(out.port, address, family, backlog, true));
    }
  } catch (...) {
    close_all(out.fds);
    throw;
  }
  return out;
}

// What the loop threads and the owner share, under `mutex`.
struct LoopThreads::Shared {
  std::mutex mutex;
  std::condition_variable ready_changed;
  ServerFactory factory;
  std::vector<LoopRef> loops;  // each set by its thread once its loop exists
  int ready = 0;               // threads past their setup (served or failed)
  std::exception_ptr error;    // the first setup failure
  bool stopping = false;
};

LoopThreads::LoopThreads(LoopThreadsOptions options) : shared_(std::make_shared<Shared>()) {
  threads_ = options.threads > 0 ? options.threads : cpu_count();
  auto sockets = bind_loop_sockets(options.port, options.address, threads_, options.family,
                                   options.backlog, options.reuse_port);
  port_ = sockets.port;
  fds_ = std::move(sockets.fds);
  shared_->loops.resize(static_cast<std::size_t>(threads_));
}

LoopThreads::~LoopThreads() {
  stop();
  join();
  close_all(fds_);
}

void LoopThreads::start(ServerFactory factory) {
  if (started_) throw std::logic_error("LoopThreads::start called twice");
  if (!factory) throw std::invalid_argument("LoopThreads::start: empty factory");
  started_ = true;
  shared_->factory = std::move(factory);
  {
    BlockAsyncSignals blocked;  // the loop threads take no process-directed signal
    for (int i = 0; i < threads_; ++i) {
      workers_.emplace_back(&LoopThreads::run_loop, this, i,
                            std::exchange(fds_[static_cast<std::size_t>(i)], {}));
    }
  }
  std::exception_ptr error;
  {
    std::unique_lock lock(shared_->mutex);
    shared_->ready_changed.wait(lock, [&] { return shared_->ready == threads_; });
    error = shared_->error;
  }
  if (error) {
    stop();
    join();
    std::rethrow_exception(error);
  }
}

void LoopThreads::run_loop(int index, std::vector<int> fds) {
  IOLoop loop(/*make_current=*/true);
  std::unique_ptr<TCPServer> server;
  std::exception_ptr error;
  try {
    server = shared_->factory(index);
    if (!server) throw std::invalid_argument("LoopThreads: the factory returned no server");
    server->add_sockets(fds);  // the server owns them from here
    fds.clear();
  } catch (...) {
    error = std::current_exception();
  }
  for (int fd : fds) ::close(fd);
  bool run;
  {
    std::lock_guard lock(shared_->mutex);
    shared_->loops[static_cast<std::size_t>(index)] = loop.ref();
    if (error && !shared_->error) shared_->error = error;
    ++shared_->ready;
    // A stop() from here on reaches the loop through its ref (queued until it starts).
    run = !error && !shared_->stopping;
  }
  shared_->ready_changed.notify_all();
  if (run) loop.start();
  if (server) server->stop();
  server.reset();  // on this thread, with its loop still open
}

void LoopThreads::stop() {
  std::lock_guard lock(shared_->mutex);
  shared_->stopping = true;
  for (const LoopRef& ref : shared_->loops) {
    ref.add_callback([ref] {
      if (IOLoop* loop = ref.get()) loop->stop();
    });
  }
}

void LoopThreads::join() {
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
}

LoopRef LoopThreads::loop(int index) const {
  if (index < 0 || index >= threads_) {
    throw std::out_of_range("LoopThreads::loop: no loop " + std::to_string(index));
  }
  std::lock_guard lock(shared_->mutex);
  return shared_->loops[static_cast<std::size_t>(index)];
}

void serve_on_all_cores(LoopThreadsOptions options, LoopThreads::ServerFactory factory,
                        std::function<void(int port)> on_listening) {
  // The handlers first: from here SIGINT and SIGTERM wait in this thread's signalfd, and
  // the loop threads start with every asynchronous signal blocked.
  IOLoop waiter;
  int received = 0;
  for (int sig : {SIGINT, SIGTERM}) {
    waiter.add_signal_handler(sig, [&waiter, &received, sig] {
      received = sig;
      waiter.stop();
    });
  }
  LoopThreads loops(std::move(options));
  loops.start(std::move(factory));
  if (on_listening) on_listening(loops.port());
  waiter.start();
  gen_log().info("received signal {}, stopping {} loops", received, loops.size());
  loops.stop();
  loops.join();
}

}  // namespace tornado::process
