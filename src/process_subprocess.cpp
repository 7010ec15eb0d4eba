// process::Subprocess and its SIGCHLD reaper (tornado/process.h).
//
// How an exit reaches its Subprocess: every child is registered (pid -> State) when it is
// spawned. The SIGCHLD handler, installed once per process by initialize(), only writes a
// byte to a pipe (async-signal-safe). A reaper thread reads that pipe and calls
// waitpid(pid, WNOHANG) for every registered child, since SIGCHLD is not queued (many exits
// may arrive as one signal); each exit found is posted to the loop of its Subprocess. A
// registration or initialize() also wakes the reaper, so an exit that happened before
// either is found by that scan. The reaper is a thread, not a loop, so that no particular
// loop has to be running for exits to be reaped.
#include "tornado/process.h"

#include <fcntl.h>
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "tornado/log.h"

extern char** environ;

namespace tornado::process {

namespace {

std::string describe_cmd(const std::vector<std::string>& cmd) {
  std::string out = "[";
  for (std::size_t i = 0; i < cmd.size(); ++i) {
    if (i) out += ", ";
    out += "'" + cmd[i] + "'";
  }
  return out + "]";
}

std::string called_process_message(int returncode, const std::vector<std::string>& cmd) {
  if (returncode < 0) {
    return "Command " + describe_cmd(cmd) + " died with signal " + std::to_string(-returncode) +
           ".";
  }
  return "Command " + describe_cmd(cmd) + " returned non-zero exit status " +
         std::to_string(returncode) + ".";
}

}  // namespace

CalledProcessError::CalledProcessError(int returncode, std::vector<std::string> cmd)
    : std::runtime_error(called_process_message(returncode, cmd)),
      returncode_(returncode),
      cmd_(std::move(cmd)) {}

// What the reaper and the Subprocess share. `loop` and `argv` are set once; the rest
// belongs to the loop's thread.
struct Subprocess::State {
  LoopRef loop;
  std::vector<std::string> argv;
  pid_t pid = -1;
  std::optional<int> returncode;
  std::function<void(int)> exit_callback;
  struct Waiter {
    Future<int> future;
    bool raise_error;
  };
  std::vector<Waiter> waiters;

  void settle(Waiter& w) const {
    if (w.future.done()) return;  // cancelled
    if (w.raise_error && *returncode != 0) {
      w.future.set_exception(CalledProcessError(*returncode, argv));
    } else {
      w.future.set_result(*returncode);
    }
  }

  // On the loop: the child ended with waitpid status `status`.
  void deliver(int status) {
    returncode = WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
    for (auto& w : std::exchange(waiters, {})) settle(w);
    if (auto cb = std::exchange(exit_callback, nullptr)) cb(*returncode);
  }

  // On the loop: someone else reaped the child (SIGCHLD set to SIG_IGN, or a waitpid(-1)
  // elsewhere), so its status is lost. Waiters fail rather than wait for ever.
  // Before a waiter or callback is registered: an exit not yet delivered can only reach the
  // loop this Subprocess was made on; once that loop is closed it never will.
  void require_open_loop() const {
    if (!returncode && !loop) {
      throw std::logic_error("Subprocess: the IOLoop of pid " + std::to_string(pid) +
                             " is closed: its exit can no longer be delivered");
    }
  }

  void deliver_lost() {
    gen_log().error(
        "Subprocess: child {} (pid {}) was reaped by someone else; its exit status "
        "is unknown",
        describe_cmd(argv), pid);
    exit_callback = nullptr;
    for (auto& w : std::exchange(waiters, {})) {
      if (!w.future.done()) {
        w.future.set_exception(std::system_error(
            ECHILD, std::generic_category(),
            "Subprocess: exit status of pid " + std::to_string(pid) + " reaped elsewhere"));
      }
    }
  }
};

namespace {

// ---- the reaper ----------------------------------------------------------------------

// The wake-up pipe's write end, read by the signal handler (-1: not installed).
std::atomic<int> g_wake_fd{-1};
// The disposition initialize() replaced, chained by our handler; written only while the
// handler is not installed.
struct sigaction g_old_sigchld {};

void on_sigchld(int sig, siginfo_t* info, void* context) {
  const int saved = errno;
  int fd = g_wake_fd.load(std::memory_order_relaxed);
  if (fd >= 0) {
    char byte = 1;
    [[maybe_unused]] ssize_t n = ::write(fd, &byte, 1);  // full pipe: a wake-up is pending
  }
  if (g_old_sigchld.sa_flags & SA_SIGINFO) {
    if (g_old_sigchld.sa_sigaction) g_old_sigchld.sa_sigaction(sig, info, context);
  } else if (g_old_sigchld.sa_handler != SIG_DFL && g_old_sigchld.sa_handler != SIG_IGN) {
    g_old_sigchld.sa_handler(sig);
  }
  errno = saved;
}

class Reaper {
 public:
  static Reaper& instance() {
    static Reaper* reaper = new Reaper();  // never destroyed: children may outlive main()
    return *reaper;
  }

  void add(pid_t pid, std::shared_ptr<Subprocess::State> state) {
    std::lock_guard lock(mutex_);
    if (!thread_) reap_orphans_locked();
    children_[pid] = std::move(state);
    wake_locked();  // it may have exited already
  }

  void initialize() {
    std::lock_guard lock(mutex_);
    if (thread_) return;
    static std::once_flag atfork;
    std::call_once(atfork, [] { ::pthread_atfork(&prepare_fork, &after_fork, &child_after_fork); });
    if (pipe_[0] < 0) {
      if (::pipe2(pipe_, O_CLOEXEC) != 0) {
        throw std::system_error(errno, std::generic_category(), "Subprocess::initialize: pipe");
      }
      ::fcntl(pipe_[1], F_SETFL, ::fcntl(pipe_[1], F_GETFL) | O_NONBLOCK);
    }
    stopping_ = false;
    // The thread blocks every asynchronous signal but SIGCHLD: other signals stay with the
    // loops that handle them, and SIGCHLD always has a thread that takes it. SETMASK, not
    // BLOCK: a caller whose thread blocks SIGCHLD must not pass that on to the reaper.
    sigset_t all, old;
    sigfillset(&all);
    for (int keep : {SIGCHLD, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS}) {
      sigdelset(&all, keep);
    }
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    thread_ = new std::thread([this] { run(); });
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    struct sigaction sa {};
    sa.sa_sigaction = &on_sigchld;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NOCLDSTOP;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGCHLD, nullptr, &g_old_sigchld);
    g_wake_fd.store(pipe_[1], std::memory_order_relaxed);
    ::sigaction(SIGCHLD, &sa, nullptr);
    wake_locked();  // children that exited before the handler existed
  }

  void uninitialize() {
    std::thread* thread;
    {
      std::lock_guard lock(mutex_);
      if (!thread_) return;
      ::sigaction(SIGCHLD, &g_old_sigchld, nullptr);
      g_wake_fd.store(-1, std::memory_order_relaxed);
      stopping_ = true;
      wake_locked();
      thread = std::exchange(thread_, nullptr);
    }
    thread->join();
    delete thread;
    // The pipe stays: a handler still running on another thread may write to it.
  }

 private:
  Reaper() = default;

  void wake_locked() noexcept {
    if (pipe_[1] < 0) return;
    char byte = 1;
    [[maybe_unused]] ssize_t n = ::write(pipe_[1], &byte, 1);
  }

  // Without the reaper thread (initialize() not called), the exited children of Subprocess
  // objects already destroyed are reaped when the next child starts, as Python's Popen does
  // (Tornado's Subprocess is one): a program that never waits does not gather zombies.
  // A child whose Subprocess still exists is left for its own wait, and so is one with a
  // wait_for_exit future still pending (a later initialize() delivers to it).
  void reap_orphans_locked() {
    for (auto it = children_.begin(); it != children_.end();) {
      // use_count 1: no Subprocess holds the state (only we copy it), so nobody can add a
      // waiter while we look.
      if (it->second.use_count() != 1 || !it->second->waiters.empty()) {
        ++it;
        continue;
      }
      const pid_t r = ::waitpid(it->first, nullptr, WNOHANG);
      if (r == it->first || (r < 0 && errno == ECHILD)) {
        it = children_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void run() {
    for (;;) {
      // poll, then read: ThreadSanitizer runs a handler at once only for a thread blocked in
      // a call it knows blocks, and read is not one; a SIGCHLD taken by this thread in read
      // would wait for the byte its own handler writes (found: 1 run in ~100 under load).
      pollfd ready{pipe_[0], POLLIN, 0};
      if (::poll(&ready, 1, -1) < 0 && errno == EINTR) continue;
      char buf[256];
      ssize_t n = ::read(pipe_[0], buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      std::vector<std::pair<std::shared_ptr<Subprocess::State>, int>> exited;
      std::vector<std::shared_ptr<Subprocess::State>> lost;
      {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        for (auto it = children_.begin(); it != children_.end();) {
          int status = 0;
          pid_t r = ::waitpid(it->first, &status, WNOHANG);
          if (r == it->first) {
            exited.emplace_back(std::move(it->second), status);
            it = children_.erase(it);
          } else if (r < 0 && errno == ECHILD) {
            lost.push_back(std::move(it->second));
            it = children_.erase(it);
          } else {
            ++it;
          }
        }
      }
      // A closed loop drops the delivery (nobody is left to tell).
      for (auto& [state, status] : exited) {
        state->loop.add_callback([state, status = status] { state->deliver(status); });
      }
      for (auto& state : lost) state->loop.add_callback([state] { state->deliver_lost(); });
    }
  }

  // fork() while another thread holds the mutex would leave it locked in the child.
  static void prepare_fork() { instance().mutex_.lock(); }
  static void after_fork() { instance().mutex_.unlock(); }
  // The child has no reaper thread and none of these children; the pipe is the parent's.
  static void child_after_fork() {
    Reaper& r = instance();
    if (r.thread_) {
      ::sigaction(SIGCHLD, &g_old_sigchld, nullptr);
      r.thread_ = nullptr;  // the thread does not exist here; its object is left alone
    }
    g_wake_fd.store(-1, std::memory_order_relaxed);
    for (int& fd : r.pipe_) {
      if (fd >= 0) ::close(fd);
      fd = -1;
    }
    r.children_.clear();
    r.stopping_ = false;
    r.mutex_.unlock();
  }

  std::mutex mutex_;
  std::map<pid_t, std::shared_ptr<Subprocess::State>> children_;
  int pipe_[2] = {-1, -1};
  std::thread* thread_ = nullptr;
  bool stopping_ = false;
};

// ---- spawning ------------------------------------------------------------------------

// Closes the fds it holds unless released.
struct FdList {
  std::vector<int> fds;
  ~FdList() {
    for (int fd : fds) ::close(fd);
  }
  int add(int fd) {
    fds.push_back(fd);
    return fd;
  }
  void release(int fd) { std::erase(fds, fd); }
};

// argv, env and cwd reach exec as C strings: a NUL byte would end one early and the child
// would run with a prefix of what the caller checked. Python refuses it the same way.
void refuse_nul(const std::string& s, const char* what) {
  if (s.find('\0') != std::string::npos) {
    throw std::invalid_argument(std::string("Subprocess: embedded NUL byte in ") + what);
  }
}

// A close-on-exec fd >= 3 with the same file as `fd`, so that the dup2 onto 0, 1 and 2 in
// the child never overwrites another of the child's sources.
int high_fd(int fd) {
  int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) throw std::system_error(errno, std::generic_category(), "Subprocess: dup");
  return copy;
}

// One end for the child (its source fd in `child_fds`), one for us (returned, or -1).
int plan_stdio(const Stdio& stdio, int target, posix_spawn_file_actions_t* actions,
               FdList& child_fds, FdList& parent_fds) {
  switch (stdio.kind) {
    case Stdio::Kind::kInherit:
      return -1;
    case Stdio::Kind::kDevNull:
      posix_spawn_file_actions_addopen(actions, target, "/dev/null",
                                       target == 0 ? O_RDONLY : O_WRONLY, 0);
      return -1;
    case Stdio::Kind::kStdout:
      posix_spawn_file_actions_adddup2(actions, 1, 2);
      return -1;
    case Stdio::Kind::kFd: {
      if (stdio.fd < 0) throw std::invalid_argument("Subprocess: Stdio::from_fd needs an fd >= 0");
      int source = child_fds.add(high_fd(stdio.fd));
      posix_spawn_file_actions_adddup2(actions, source, target);
      return -1;
    }
    case Stdio::Kind::kStream: {
      int fds[2];
      if (::pipe2(fds, O_CLOEXEC) != 0) {
        throw std::system_error(errno, std::generic_category(), "Subprocess: pipe");
      }
      // fds[0] reads: the child's for stdin, ours for stdout/stderr.
      int child_end = target == 0 ? fds[0] : fds[1];
      int our_end = target == 0 ? fds[1] : fds[0];
      parent_fds.add(our_end);
      child_fds.add(child_end);
      if (child_end < 3) {
        child_end = child_fds.add(high_fd(child_end));
      }
      if (our_end < 3) {  // keep 0-2 free for what the parent may open there later
        parent_fds.release(our_end);
        int moved = high_fd(our_end);
        ::close(our_end);
        our_end = parent_fds.add(moved);
      }
      posix_spawn_file_actions_adddup2(actions, child_end, target);
      return our_end;
    }
  }
  return -1;
}

}  // namespace

Subprocess::Subprocess(std::vector<std::string> argv, SubprocessOptions options)
    : argv_(std::move(argv)) {
  if (argv_.empty()) throw std::invalid_argument("Subprocess: argv is empty");
  if (options.std_in.kind == Stdio::Kind::kStdout || options.std_out.kind == Stdio::Kind::kStdout) {
    throw std::invalid_argument("Subprocess: STDOUT is only for std_err");
  }
  for (const auto& a : argv_) refuse_nul(a, "argv");
  if (options.env) {
    for (const auto& e : *options.env) refuse_nul(e, "env");
  }
  refuse_nul(options.cwd, "cwd");
  IOLoop& loop = IOLoop::current();

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  struct Cleanup {
    posix_spawn_file_actions_t* actions;
    posix_spawnattr_t* attr;
    ~Cleanup() {
      posix_spawn_file_actions_destroy(actions);
      posix_spawnattr_destroy(attr);
    }
  } cleanup{&actions, &attr};

  FdList child_fds, parent_fds;
  int in_fd = plan_stdio(options.std_in, 0, &actions, child_fds, parent_fds);
  int out_fd = plan_stdio(options.std_out, 1, &actions, child_fds, parent_fds);
  int err_fd = plan_stdio(options.std_err, 2, &actions, child_fds, parent_fds);
  // Python's close_fds: the child gets 0, 1 and 2 and nothing else, even an fd some other
  // thread opened without O_CLOEXEC.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, options.cwd.c_str());

  // A clean signal state, whatever this thread blocks (signalfd loops) or ignores (SIGPIPE).
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> args;
  for (auto& a : argv_) args.push_back(a.data());
  args.push_back(nullptr);
  std::vector<char*> envp;
  if (options.env) {
    for (auto& e : *options.env) envp.push_back(e.data());
    envp.push_back(nullptr);
  }
  // Our ends become streams before the child starts: stream options the IOStream refuses
  // (max_buffer_size 0) throw here, with no child running unwatched and no end left open
  // (an end not yet handed to its stream is still parent_fds', which closes it).
  auto make_stream = [&](int fd) -> std::shared_ptr<IOStream> {
    if (fd < 0) return nullptr;
    parent_fds.release(fd);  // the stream owns it now, even if it throws
    return IOStream::create(fd, options.stream_options);
  };
  stdin_ = make_stream(in_fd);
  stdout_ = make_stream(out_fd);
  stderr_ = make_stream(err_fd);

  pid_t pid = -1;
  // glibc reports a failed exec here (and reaps that child itself).
  int err = ::posix_spawnp(&pid, argv_[0].c_str(), &actions, &attr, args.data(),
                           options.env ? envp.data() : environ);
  if (err != 0) {
    throw std::system_error(err, std::generic_category(),
                            "Subprocess: cannot run '" + argv_[0] + "'");
  }
  pid_ = pid;
  state_ = std::make_shared<State>();
  state_->loop = loop.ref();
  state_->argv = argv_;
  state_->pid = pid;
  Reaper::instance().add(pid, state_);
  // child_fds closes the child's ends here.
}

Subprocess::~Subprocess() {
  // The child is still reaped; nobody is left to call back.
  if (state_) state_->exit_callback = nullptr;
}

std::optional<int> Subprocess::returncode() const noexcept { return state_->returncode; }

void Subprocess::set_exit_callback(std::function<void(int)> callback) {
  if (state_->returncode) {
    int code = *state_->returncode;
    state_->exit_callback = nullptr;
    IOLoop* loop = state_->loop.get();
    if (loop && callback) loop->add_callback([cb = std::move(callback), code] { cb(code); });
    return;
  }
  state_->require_open_loop();
  state_->exit_callback = std::move(callback);
  initialize();
}

Future<int> Subprocess::wait_for_exit(bool raise_error) {
  State::Waiter waiter{Future<int>(), raise_error};
  Future<int> result = waiter.future;
  if (state_->returncode) {
    state_->settle(waiter);
    return result;
  }
  state_->require_open_loop();
  state_->waiters.push_back(std::move(waiter));
  initialize();
  return result;
}

void Subprocess::initialize() { Reaper::instance().initialize(); }

void Subprocess::uninitialize() { Reaper::instance().uninitialize(); }

}  // namespace tornado::process
