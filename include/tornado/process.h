// tornado/process.h — several processes, several loops, and child processes (Tornado's
// `process`).
//
//   cpu_count()            the processors this process may run on.
//   fork_processes(n)      pre-fork: n worker processes (0: one per CPU) restarted when they
//                          die abnormally; returns the worker's task id in each worker.
//   task_id()              that id in a worker, empty elsewhere.
//   LoopThreads            loop per core: N threads, each its own IOLoop and its own
//                          SO_REUSEPORT listening sockets on one port; serve_on_all_cores.
//   Subprocess             a child process whose stdin/stdout/stderr may be IOStreams
//                          (STREAM), with wait_for_exit() and set_exit_callback().
//
//   auto fds = bind_sockets(8888, "127.0.0.1");      // bind first, in the parent
//   int id = process::fork_processes(0);              // returns in each worker only
//   HTTPServer server(std::make_shared<web::Application>(routes()));
//   server.add_sockets(fds);                          // (or server.bind(8888) + start(0))
//   IOLoop::current().start();
//
//   process::Subprocess child({"sort"}, {.std_in = process::Subprocess::STREAM,
//                                        .std_out = process::Subprocess::STREAM});
//   co_await child.stdin_stream()->write("b\na\n");
//   child.stdin_stream()->close();
//   std::string sorted = co_await child.stdout_stream()->read_until_close();
//   int status = co_await child.wait_for_exit();     // CalledProcessError if non-zero
//
// See docs/process.md for the semantics (what the parent does, signals, the SIGCHLD reaper).
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tornado/ioloop.h"
#include "tornado/iostream.h"
#include "tornado/task.h"

namespace tornado {

class TCPServer;

namespace process {

// The number of processors this process may run on (its CPU affinity; sysconf's online
// count if that fails; 1, logged, if both do). Never less than 1.
int cpu_count() noexcept;

// ---- fork_processes ------------------------------------------------------------------

// Forks `num_processes` worker processes (<= 0: cpu_count()) and supervises them, as
// Tornado's fork_processes:
// - In each worker it returns that worker's task id, 0 .. num_processes - 1.
// - The parent never returns normally. It waits for its workers; one that dies abnormally
//   (killed by a signal, or a non-zero exit status) is forked again with the same task id,
//   at most `max_restarts` times in all, after which it throws std::runtime_error ("Too
//   many child restarts, giving up"; the workers still running are left running, as in
//   Tornado, until the parent process ends).
//   When every worker has exited with status 0 the parent calls std::exit(0) (Tornado's
//   sys.exit(0): atexit handlers and static destructors run).
// - A worker receives SIGTERM when the parent process ends, however it ends (SIGKILL
//   included): no worker outlives its supervisor.
// - SIGTERM and SIGINT sent to the parent by a process (kill, a service manager) are passed
//   on to every worker, no worker is restarted from then on, and once all have exited the
//   parent ends by that signal (default action). A SIGINT from the terminal (Ctrl-C) is
//   not passed on: the terminal sent it to the workers already.
// Call it before anything makes an IOLoop or a thread in this process: it throws
// std::logic_error if an IOLoop is open here, if another thread runs (fork would leave the
// locks it holds locked in the workers), or if this process is already a worker.
// Listening sockets bound before the call are shared by the workers (the kernel spreads
// the connections). Throws std::invalid_argument for max_restarts < 0, std::system_error
// if fork fails.
int fork_processes(int num_processes, int max_restarts = 100);

// The task id of this process when fork_processes made it; empty in the parent and in a
// process that never forked.
std::optional<int> task_id() noexcept;

// ---- loop per core -------------------------------------------------------------------

// Listening sockets for `loops` loops on one port: the first set fixes the port (a free
// one for port 0), every set has its own sockets bound to that port with SO_REUSEPORT, so
// the kernel spreads new connections across the loops. One loop gets SO_REUSEPORT only
// with `reuse_port` (to share the port with other processes binding it the same way, e.g.
// one per fork_processes worker).
struct LoopSockets {
  int port = 0;                       // the port bound (the one picked, for port 0)
  std::vector<std::vector<int>> fds;  // one set per loop; the caller owns them
};
// Throws what bind_sockets throws (after closing the sockets made), std::invalid_argument
// for loops < 1.
LoopSockets bind_loop_sockets(int port, const std::string& address = "", int loops = 1,
                              int family = AF_UNSPEC, int backlog = 128, bool reuse_port = false);

struct LoopThreadsOptions {
  int port = 0;              // 0: a free port (port() says which), the same for every loop
  std::string address = "";  // as bind_sockets: "" is every interface
  int threads = 0;           // <= 0: cpu_count()
  int family = AF_UNSPEC;
  int backlog = 1024;  // listen(2) backlog of each loop's sockets (capped by somaxconn)
  // SO_REUSEPORT even with one loop: several processes (fork_processes workers, a new
  // version started beside the old) then share the port too. Always on with several loops.
  bool reuse_port = false;
};

// N threads, each running its own IOLoop with its own listening sockets on one port
// (bind_loop_sockets): the loop-per-core way to use every CPU from one process.
//
//   process::LoopThreads loops({.port = 8888, .address = "127.0.0.1"});
//   loops.start([](int index) {                 // on each loop's thread, its loop current
//     return std::make_unique<HTTPServer>(std::make_shared<web::Application>(routes()));
//   });
//   ...
//   loops.stop();                               // any thread; also in the destructor
//
// The factory runs on each loop's thread with that loop current and not yet running (it
// may run_sync setup work there); the server it returns is given that loop's sockets and
// is stopped and destroyed on that thread after its loop stops. The loop threads block
// every asynchronous signal: signals are the creating thread's to handle (see
// serve_on_all_cores). Objects shared between the loops must be thread-safe (the pub/sub
// Hub is); an Application per loop is the simple way.
class LoopThreads {
 public:
  using ServerFactory = std::function<std::unique_ptr<TCPServer>(int index)>;

  // Binds the sockets now, on this thread (throws what bind_loop_sockets throws).
  explicit LoopThreads(LoopThreadsOptions options = {});
  // stop() and join().
  ~LoopThreads();
  LoopThreads(const LoopThreads&) = delete;
  LoopThreads& operator=(const LoopThreads&) = delete;

  // Starts the threads and returns once every loop runs with its server. If a factory
  // throws (or returns null), the loops already started are stopped and joined and the
  // first exception is rethrown here. Throws std::logic_error if called twice.
  void start(ServerFactory factory);
  // Asks every loop to stop (its server stops accepting, its loop returns); from any
  // thread, a loop callback included. Idempotent. Does not wait: join() does.
  void stop();
  // Waits for every loop thread to end (after stop()). Not from a loop thread.
  void join();

  int port() const noexcept { return port_; }
  int size() const noexcept { return threads_; }
  // A loop's reference, for add_callback from other threads (empty before start()).
  LoopRef loop(int index) const;

 private:
  struct Shared;
  void run_loop(int index, std::vector<int> fds);
  int port_ = 0;
  int threads_ = 0;
  std::vector<std::vector<int>> fds_;  // until start() hands them to the loops
  std::shared_ptr<Shared> shared_;
  std::vector<std::thread> workers_;
  bool started_ = false;
};

// Serves on every core until SIGINT or SIGTERM: LoopThreads(options).start(factory), then
// waits on this thread for one of those signals (blocked here first, handled by an IOLoop
// made for the wait), stops the loops, joins them and returns. `on_listening`, when set, is
// called with the port once every loop accepts (to print it). Call it from main() before
// starting other threads (they would inherit a mask without the two signals blocked).
void serve_on_all_cores(LoopThreadsOptions options, LoopThreads::ServerFactory factory,
                        std::function<void(int port)> on_listening = {});

// ---- Subprocess ----------------------------------------------------------------------

// wait_for_exit() found a non-zero exit status (Python's subprocess.CalledProcessError).
// returncode(): the exit status, or -N for a child killed by signal N.
class CalledProcessError : public std::runtime_error {
 public:
  CalledProcessError(int returncode, std::vector<std::string> cmd);
  int returncode() const noexcept { return returncode_; }
  const std::vector<std::string>& cmd() const noexcept { return cmd_; }

 private:
  int returncode_;
  std::vector<std::string> cmd_;
};

// Where one of the child's standard fds comes from or goes to.
struct Stdio {
  enum class Kind { kInherit, kStream, kDevNull, kStdout, kFd };
  Kind kind = Kind::kInherit;
  int fd = -1;  // for kFd: the parent's fd to give the child (the parent keeps it)
  static Stdio from_fd(int fd) { return {Kind::kFd, fd}; }
};

struct SubprocessOptions {
  Stdio std_in{};  // default: inherit the parent's
  Stdio std_out{};
  Stdio std_err{};  // Subprocess::STDOUT: the same as std_out
  // Working directory of the child ("" = the parent's).
  std::string cwd{};
  // The child's environment as "NAME=value" strings; empty optional = the parent's.
  std::optional<std::vector<std::string>> env{};
  // Limits of the STREAM pipes' IOStreams.
  IOStreamOptions stream_options{};
};

// A child process run from argv (argv[0] looked up in PATH unless it has a '/'), as
// Tornado's Subprocess over subprocess.Popen:
// - Each of std_in/std_out/std_err may be STREAM: a pipe whose other end is an IOStream on
//   the current loop (stdin_stream(), stdout_stream(), stderr_stream()); close stdin's to
//   send EOF. DEVNULL, STDOUT (for std_err) and Stdio::from_fd(fd) as in Python.
// - The child starts with every fd above 2 closed (Python's close_fds), an empty signal
//   mask and every signal at its default action, whatever the parent blocks or ignores.
// - A program that cannot be run (not found, not executable) throws std::system_error from
//   the constructor, with the exec's errno (ENOENT, EACCES): there is no child to wait for.
// - The exit is seen through one SIGCHLD handler per process (initialize()), which reaps
//   every child Subprocess started, on any loop or thread, and delivers each exit on the
//   loop that was current when its Subprocess was made: returncode(), the exit callback
//   and the wait_for_exit() futures. A child that exits before anyone asks is kept until
//   asked (or reaped at once if the handler is installed) and delivered then.
// The object belongs to its loop's thread. Destroying it does not kill the child; its exit
// callback is then dropped (the child is still reaped once the handler is installed).
class Subprocess {
 public:
  static constexpr Stdio STREAM{Stdio::Kind::kStream, -1};
  static constexpr Stdio DEVNULL{Stdio::Kind::kDevNull, -1};
  static constexpr Stdio STDOUT{Stdio::Kind::kStdout, -1};

  // Throws std::invalid_argument for an empty argv, a NUL byte in argv, env or cwd, STDOUT
  // given to std_in/std_out, or stream options the IOStream refuses,
  // std::system_error if a pipe cannot be made or the program cannot be run.
  explicit Subprocess(std::vector<std::string> argv, SubprocessOptions options = {});
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const noexcept { return pid_; }
  const std::vector<std::string>& argv() const noexcept { return argv_; }
  // Empty until the exit has been delivered; then the exit status, or -N for signal N.
  std::optional<int> returncode() const noexcept;

  // The STREAM pipes (null when not STREAM). The caller closes them when done.
  const std::shared_ptr<IOStream>& stdin_stream() const noexcept { return stdin_; }
  const std::shared_ptr<IOStream>& stdout_stream() const noexcept { return stdout_; }
  const std::shared_ptr<IOStream>& stderr_stream() const noexcept { return stderr_; }

  // Runs callback(returncode) once, on this Subprocess's loop, when the child has exited
  // (on a later iteration if it already has). Replaces an earlier callback. Installs the
  // SIGCHLD handler (initialize()). Throws std::logic_error if that loop is closed and the
  // exit was not delivered before (it never can be).
  void set_exit_callback(std::function<void(int)> callback);
  // Resolves, on this Subprocess's loop, with the return code once the child has exited;
  // with raise_error, a non-zero code is a CalledProcessError instead. Any number of
  // waiters; independent of set_exit_callback. Installs the SIGCHLD handler. The future
  // does not need this object alive. std::logic_error as set_exit_callback's.
  Future<int> wait_for_exit(bool raise_error = true);

  // Installs the process's SIGCHLD handler and its reaper thread (idempotent; any thread).
  // Children started before are reaped too. Called by set_exit_callback/wait_for_exit.
  static void initialize();
  // Restores the SIGCHLD disposition found by initialize() and stops the reaper. Exits
  // not yet delivered wait for the next initialize(). Idempotent.
  static void uninitialize();

  struct State;  // shared with the reaper (src/process_subprocess.cpp)

 private:
  std::vector<std::string> argv_;
  pid_t pid_ = -1;
  std::shared_ptr<IOStream> stdin_, stdout_, stderr_;
  std::shared_ptr<State> state_;
};

}  // namespace process
}  // namespace tornado
