// process::cpu_count, fork_processes, task_id (tornado/process.h).
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>

#include "internal/open_loops.h"
#include "tornado/log.h"
#include "tornado/process.h"

namespace tornado::process {

namespace {

// Set once in a worker; fork_processes runs before any thread exists, so no lock.
std::optional<int> g_task_id;

// The signal state fork_processes changes while it supervises, restored in every worker and
// in the parent before it throws.
struct SupervisorSignals {
  sigset_t old_mask;
  struct sigaction old_chld {};
  sigset_t waited;  // SIGCHLD, SIGTERM, SIGINT

  SupervisorSignals() {
    sigemptyset(&waited);
    sigaddset(&waited, SIGCHLD);
    sigaddset(&waited, SIGTERM);
    sigaddset(&waited, SIGINT);
    // Blocked, they wait for sigwaitinfo. SIGCHLD at its default action: an inherited
    // SIG_IGN would make the kernel reap the workers before we could read their status.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    ::sigaction(SIGCHLD, &dfl, &old_chld);
    ::sigprocmask(SIG_BLOCK, &waited, &old_mask);
  }
  void restore() const noexcept {
    ::sigaction(SIGCHLD, &old_chld, nullptr);
    ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  }
};

// Forks worker `id`: its pid in the parent, 0 in the worker.
pid_t fork_worker(int id, const SupervisorSignals& signals) {
  std::fflush(nullptr);  // or the worker would write the parent's buffered output again
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork_processes: fork");
  if (pid == 0) {
    g_task_id = id;
    signals.restore();
    // A parent that dies (even by SIGKILL) takes its workers with it: SIGTERM, which a
    // worker may handle to drain. If it died before this line, act as if just signalled.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::raise(SIGTERM);
  }
  return pid;
}

// Threads of this process (entries of /proc/self/task); 1 if that cannot be read.
int thread_count() noexcept {
  DIR* dir = ::opendir("/proc/self/task");
  if (!dir) return 1;
  int n = 0;
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  return n > 0 ? n : 1;
}

}  // namespace

int cpu_count() noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (online > 0) return static_cast<int>(online);
  gen_log().error("Could not detect number of processors; assuming 1");
  return 1;
}

std::optional<int> task_id() noexcept { return g_task_id; }

int fork_processes(int num_processes, int max_restarts) {
  if (max_restarts < 0) {
    throw std::invalid_argument("fork_processes: max_restarts must be >= 0, got " +
                                std::to_string(max_restarts));
  }
  if (g_task_id) {
    throw std::logic_error("fork_processes: this process is already worker " +
                           std::to_string(*g_task_id) + " of an earlier fork_processes");
  }
  if (int loops = detail::open_loop_count(); loops > 0) {
    throw std::logic_error(
        "fork_processes: " + std::to_string(loops) +
        " IOLoop(s) already exist in this process; call fork_processes before anything "
        "makes or uses an IOLoop (IOLoop::current() included), as in Tornado");
  }
  // fork copies this thread only: a lock another thread holds (the log's, a registry's)
  // would stay locked in every worker, and a SIGCHLD or SIGTERM sent to the supervisor
  // could be taken by a thread that does not block it (a SIGCHLD lost: no restart).
  if (int threads = thread_count(); threads > 1) {
    throw std::logic_error("fork_processes: " + std::to_string(threads - 1) +
                           " other thread(s) run in this process; call fork_processes before "
                           "starting any thread (Subprocess's reaper, an executor, your own)");
  }
  if (num_processes <= 0) num_processes = cpu_count();
  gen_log().info("Starting {} processes", num_processes);

  SupervisorSignals signals;
  std::map<pid_t, int> children;  // pid -> task id
  for (int id = 0; id < num_processes; ++id) {
    pid_t pid;
    try {
      pid = fork_worker(id, signals);
    } catch (...) {
      signals.restore();
      throw;
    }
    if (pid == 0) return id;
    children[pid] = id;
  }

  int num_restarts = 0;
  int stop_signal = 0;  // SIGTERM/SIGINT received: pass it on, restart no one
  while (!children.empty()) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) {
      // ECHILD: someone else reaped them (cannot happen with SIGCHLD at SIG_DFL).
      gen_log().error("fork_processes: waitpid: {}", std::strerror(errno));
      break;
    }
    if (pid == 0) {
      siginfo_t info{};
      int sig = ::sigwaitinfo(&signals.waited, &info);
      if (sig == SIGTERM || sig == SIGINT) {
        if (!stop_signal) {
          gen_log().info("received signal {}, stopping {} child processes", sig, children.size());
        }
        stop_signal = sig;
        // A terminal's Ctrl-C (sent by the kernel) reached every worker of the process
        // group already; a kill from a process reached only us.
        if (info.si_code != SI_KERNEL) {
          for (const auto& [child, id] : children) ::kill(child, sig);
        }
      }
      continue;
    }
    auto it = children.find(pid);
    if (it == children.end()) continue;  // not a worker (Tornado ignores those too)
    const int id = it->second;
    children.erase(it);
    if (stop_signal) {
      gen_log().info("child {} (pid {}) ended while stopping ({} {})", id, pid,
                     WIFSIGNALED(status) ? "signal" : "status",
                     WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
      continue;
    }
    if (WIFSIGNALED(status)) {
      gen_log().warn("child {} (pid {}) killed by signal {}, restarting", id, pid,
                     WTERMSIG(status));
    } else if (WEXITSTATUS(status) != 0) {
      gen_log().warn("child {} (pid {}) exited with status {}, restarting", id, pid,
                     WEXITSTATUS(status));
    } else {
      gen_log().info("child {} (pid {}) exited normally", id, pid);
      continue;
    }
    if (++num_restarts > max_restarts) {
      signals.restore();
      throw std::runtime_error("Too many child restarts, giving up");
    }
    pid_t again;
    try {
      again = fork_worker(id, signals);
    } catch (...) {
      signals.restore();
      throw;
    }
    if (again == 0) return id;
    children[again] = id;
  }
  signals.restore();
  if (stop_signal) {
    // End as the signal would have ended us, now that the workers are gone.
    ::signal(stop_signal, SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, stop_signal);
    ::sigprocmask(SIG_UNBLOCK, &one, nullptr);
    ::raise(stop_signal);
    std::_Exit(128 + stop_signal);
  }
  // Every worker exited cleanly: exit instead of returning to code that expects to be a
  // worker (Tornado's sys.exit(0)).
  std::exit(0);
}

}  // namespace tornado::process
