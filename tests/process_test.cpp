// fork_processes, task_id and TCPServer::start(n): Tornado's process_test (ProcessTest)
// plus restarts, the restart limit, signals passed on by the parent, and the refusals.
//
// Each forking test runs its "parent" (the process that calls fork_processes) in a process
// of its own, forked from the test in a new process group: fork_processes' parent never
// returns normally (it exits, throws or ends by a signal), and the test reads its exit
// status. Every process sets an alarm, the test waits with a deadline, and at the end kills
// the whole group: nothing outlives a test.
#include "tornado/process.h"

#include <gtest/gtest.h>

#include "sanitizer_detect.h"
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

#include "process_test_util.h"
#include "tornado/httpserver.h"
#include "tornado/ioloop.h"
#include "tornado/netutil.h"
#include "tornado/web.h"

namespace process_test {

using namespace tornado;
using tornado::test::http_get;
using tornado::test::LinePipe;

namespace {

constexpr unsigned kAlarmSeconds = 20;

// Forks a process (own process group, alarm) that runs `parent` and exits with its result.
pid_t start_parent(const std::function<int()>& parent, LinePipe& pipe) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::alarm(kAlarmSeconds);
    int code = 99;
    try {
      code = parent();
    } catch (const std::exception& e) {
      pipe.write_line(std::string("exception: ") + e.what());
      code = 98;
    } catch (...) {
      code = 97;
    }
    std::_Exit(code);  // never back into GoogleTest from a forked copy of it
  }
  if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
  ::setpgid(pid, pid);  // both sides set it: whichever runs first
  pipe.close_write();
  return pid;
}

// Waits for the process start_parent made and returns its waitpid status, then (with
// kill_group) kills its group: workers left behind by a failed test, or by restarts given
// up. Fails the test if it outlives `deadline`.
int wait_parent(pid_t pid, std::chrono::seconds deadline = std::chrono::seconds(30),
                bool kill_group = true) {
  int status = -1;
  auto until = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (std::chrono::steady_clock::now() > until) {
      ADD_FAILURE() << "the parent process did not end in time";
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (kill_group) ::kill(-pid, SIGKILL);
  return status;
}

// Kills the group of a process start_parent made when the test ends, however it ends (an
// ASSERT returning early included), and reaps the process if it has not been.
struct KillGroupAtExit {
  pid_t pid;
  ~KillGroupAtExit() {
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, WNOHANG);
  }
};

int run_parent(const std::function<int()>& parent, LinePipe& pipe) {
  return wait_parent(start_parent(parent, pipe));
}

// A worker's lifetime bound: it must never outlive the test.
void bound_worker() { ::alarm(kAlarmSeconds); }

// Tornado's ProcessHandler: ?exit=N exits with N, ?signal=N kills itself, else its pid.
struct ProcessHandler : web::RequestHandler {
  Task<> get() override {
    auto exit_code = get_argument("exit", "");
    if (!exit_code.empty()) std::_Exit(std::stoi(exit_code));
    auto signal = get_argument("signal", "");
    if (!signal.empty()) ::kill(::getpid(), std::stoi(signal));
    write(std::to_string(::getpid()) + " " + std::to_string(process::task_id().value_or(-1)));
    co_return;
  }
};

std::shared_ptr<web::Application> process_app() {
  return std::make_shared<web::Application>(
      std::vector<web::URLSpec>{{"/", web::handler<ProcessHandler>()}});
}

// The pid a worker answered with, or -1.
int answer_pid(const std::optional<tornado::test::HttpReply>& reply) {
  if (!reply || reply->status != 200) return -1;
  return std::stoi(reply->body);
}

}  // namespace

// Tornado's test_multi_process: workers 0 and 1 serve one port; worker 2 is the client.
// Two workers exit abnormally and are restarted; then one exits cleanly (not restarted),
// the last one is restarted under a new pid, and when it too exits cleanly the parent
// exits with status 0.
TEST(ProcessTest, MultiProcessWorkersShareAPortAndAreRestarted) {
  LinePipe pipe;
  int status = run_parent(
      [&] {
        auto fds = bind_sockets(0, "127.0.0.1");
        const int port = sock_name(fds[0]).port();
        if (process::task_id()) return 10;
        int id = process::fork_processes(3, /*max_restarts=*/3);
        bound_worker();
        if (process::task_id() != id) return 11;
        if (id == 0 || id == 1) {
          HTTPServer server(process_app());
          server.add_sockets(fds);
          IOLoop::current().start();
          return 12;  // not reached: workers exit from the handler
        }
        for (int fd : fds) ::close(fd);
        auto fail = [&](const std::string& why) {
          pipe.write_line("client failed: " + why);
          return 0;  // status 0: a failing client must not be restarted
        };
        http_get(port, "/?exit=2");  // no answer: the worker exited
        http_get(port, "/?exit=3");
        if (answer_pid(http_get(port, "/")) <= 0) return fail("no answer after two restarts");
        http_get(port, "/?exit=0");  // exits cleanly: not restarted
        int pid = answer_pid(http_get(port, "/"));
        http_get(port, "/?exit=4");
        int pid2 = answer_pid(http_get(port, "/"));
        if (pid <= 0 || pid2 <= 0) return fail("no answer from the last worker");
        if (pid == pid2) return fail("the last worker was not restarted");
        http_get(port, "/?exit=0");
        pipe.write_line("client ok");
        return 0;
      },
      pipe);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  std::vector<std::string> lines;
  while (auto line = pipe.read_line(std::chrono::seconds(5))) lines.push_back(*line);
  EXPECT_EQ(lines, std::vector<std::string>{"client ok"});
}

// A worker killed by a signal, or exiting non-zero, is forked again with its task id.
TEST(ProcessTest, AbnormalExitsAreRestartedWithTheSameTaskId) {
  LinePipe pipe;
  char path[] = "/tmp/process_test_starts_XXXXXX";
  int counter = ::mkstemp(path);
  ASSERT_GE(counter, 0);
  int status = run_parent(
      [&] {
        int id = process::fork_processes(2, /*max_restarts=*/5);
        bound_worker();
        // Count this id's starts in the shared file (O_APPEND writes do not interleave).
        std::string mine = std::to_string(id) + "\n";
        [[maybe_unused]] ssize_t n = ::write(counter, mine.data(), mine.size());
        std::string all;
        char buf[256];
        ssize_t got;
        while ((got = ::pread(counter, buf, sizeof buf, static_cast<off_t>(all.size()))) > 0) {
          all.append(buf, static_cast<size_t>(got));
        }
        int starts = 0;
        for (std::size_t at = 0; (at = all.find(mine, at)) != std::string::npos; at += 2) ++starts;
        pipe.write_line("start " + std::to_string(id) + " " + std::to_string(starts));
        if (starts == 1) {
          if (id == 0) ::kill(::getpid(), SIGKILL);  // by a signal
          std::_Exit(3);                             // by a status
        }
        return 0;
      },
      pipe);
  ::close(counter);
  ::unlink(path);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  std::multiset<std::string> lines;
  while (auto line = pipe.read_line(std::chrono::seconds(5))) lines.insert(*line);
  EXPECT_EQ(lines,
            (std::multiset<std::string>{"start 0 1", "start 0 2", "start 1 1", "start 1 2"}));
}

TEST(ProcessTest, ZeroProcessesMeansOnePerCpuEachWithItsTaskId) {
  LinePipe pipe;
  const int cpus = process::cpu_count();
  int status = run_parent(
      [&] {
        if (process::task_id()) return 10;  // the parent has none before
        int id = process::fork_processes(0);
        bound_worker();
        pipe.write_line(std::to_string(id) + " " + std::to_string(process::task_id().value_or(-1)));
        return 0;
      },
      pipe);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  std::set<std::string> lines, expected;
  while (auto line = pipe.read_line(std::chrono::seconds(5))) lines.insert(*line);
  for (int i = 0; i < cpus; ++i) expected.insert(std::to_string(i) + " " + std::to_string(i));
  EXPECT_EQ(lines, expected);
}

TEST(ProcessTest, MaxRestartsExhaustedRaisesInTheParent) {
  LinePipe pipe;
  int status = run_parent(
      [&]() -> int {
        try {
          process::fork_processes(1, /*max_restarts=*/2);
        } catch (const std::runtime_error& e) {
          pipe.write_line(std::string("parent: ") + e.what());
          return 42;
        }
        bound_worker();
        pipe.write_line("start");
        std::_Exit(3);
      },
      pipe);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 42) << "status " << status;
  std::vector<std::string> lines;
  while (auto line = pipe.read_line(std::chrono::seconds(5))) lines.push_back(*line);
  EXPECT_EQ(lines, (std::vector<std::string>{"start", "start", "start",
                                             "parent: Too many child restarts, giving up"}));
}

// SIGTERM from a process (kill, a service manager) reaches every worker; none is
// restarted; the parent ends by SIGTERM once they are gone (it reaped them first).
TEST(ProcessTest, SigtermToTheParentIsPassedOnAndEndsIt) {
  LinePipe pipe;
  pid_t parent = start_parent(
      [&]() -> int {
        int id = process::fork_processes(2, /*max_restarts=*/5);
        bound_worker();
        pipe.write_line(std::to_string(::getpid()) + " " + std::to_string(id));
        for (;;) ::pause();  // SIGTERM's default action ends it
      },
      pipe);
  KillGroupAtExit guard{parent};
  std::set<int> ids;
  std::vector<pid_t> workers;
  while (ids.size() < 2) {
    auto line = pipe.read_line(std::chrono::seconds(10));
    if (!line) break;
    auto space = line->find(' ');
    workers.push_back(std::stoi(line->substr(0, space)));
    ids.insert(std::stoi(line->substr(space + 1)));
  }
  EXPECT_EQ(ids, (std::set<int>{0, 1}));
  ::kill(parent, SIGTERM);
  int status = wait_parent(parent);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << "status " << status;
  for (pid_t w : workers) EXPECT_NE(::kill(w, 0), 0) << "worker " << w << " still exists";
  EXPECT_FALSE(pipe.read_line(std::chrono::seconds(2))) << "a worker was restarted";
}

// True when `pid` has ended: gone, or a zombie left for whoever reaps orphans.
bool ended(pid_t pid) {
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (!f) return true;
  char state = '?';
  int scanned = std::fscanf(f, "%*d (%*[^)]) %c", &state);
  std::fclose(f);
  return scanned == 1 && (state == 'Z' || state == 'X');
}

// A supervisor killed outright (SIGKILL: nothing of it runs) still takes its workers along.
TEST(ProcessTest, WorkersEndWhenTheParentIsKilled) {
  LinePipe pipe;
  pid_t parent = start_parent(
      [&]() -> int {
        process::fork_processes(2, /*max_restarts=*/5);
        bound_worker();
        pipe.write_line(std::to_string(::getpid()));
        for (;;) ::pause();
      },
      pipe);
  KillGroupAtExit guard{parent};
  std::vector<pid_t> workers;
  while (workers.size() < 2) {
    auto line = pipe.read_line(std::chrono::seconds(10));
    if (!line) break;
    workers.push_back(std::stoi(*line));
  }
  ASSERT_EQ(workers.size(), 2u);
  ::kill(parent, SIGKILL);
  int status = wait_parent(parent, std::chrono::seconds(30), /*kill_group=*/false);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  for (pid_t w : workers) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!ended(w) && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_TRUE(ended(w)) << "worker " << w << " outlived its parent";
  }
}

// Tornado's pre-fork pattern through TCPServer: bind, then start(2) forks two workers that
// accept on the inherited sockets, here an HTTPServer serving an Application. Each request
// to ?exit=0 ends one worker cleanly, so the second one must come from the other worker;
// then the parent exits with status 0.
TEST(ProcessTest, TCPServerStartForksWorkersThatAcceptOnTheBoundSockets) {
  LinePipe pipe;
  pid_t parent = start_parent(
      [&] {
        HTTPServer server(process_app());
        server.bind(0, "127.0.0.1");
        pipe.write_line(std::to_string(server.listening_addresses().at(0).port()));
        server.start(2, /*max_restarts=*/0);
        bound_worker();
        pipe.write_line("worker " + std::to_string(process::task_id().value_or(-1)));
        IOLoop::current().start();
        return 12;
      },
      pipe);
  KillGroupAtExit guard{parent};
  auto port_line = pipe.read_line(std::chrono::seconds(10));
  ASSERT_TRUE(port_line);
  const int port = std::stoi(*port_line);
  std::set<std::string> started;
  while (started.size() < 2) {
    auto line = pipe.read_line(std::chrono::seconds(10));
    if (!line) break;
    started.insert(*line);
  }
  EXPECT_EQ(started, (std::set<std::string>{"worker 0", "worker 1"}));
  auto first = http_get(port, "/");
  ASSERT_TRUE(first && first->status == 200);
  EXPECT_FALSE(http_get(port, "/?exit=0"));  // one worker gone, cleanly
  auto second = http_get(port, "/");         // so the other one answers
  ASSERT_TRUE(second && second->status == 200);
  EXPECT_FALSE(http_get(port, "/?exit=0"));
  int status = wait_parent(parent);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
}

TEST(ProcessTest, RefusesToForkOnceAnIOLoopExists) {
  {
    IOLoop loop;
    EXPECT_THROW(process::fork_processes(2), std::logic_error);
  }
  EXPECT_THROW(process::fork_processes(2, -1), std::invalid_argument);
  EXPECT_FALSE(process::task_id());  // nothing was forked
}

// A thread running when fork_processes forks would leave any lock it holds (the log's, a
// registry's) locked in every worker, and could take the signals the supervisor waits for
// (a SIGCHLD delivered to it is lost: a worker never restarted). Refused, as an IOLoop is.
TEST(ProcessTest, RefusesToForkWhileAnotherThreadRuns) {
  LinePipe pipe;
  int status = run_parent(
      [&]() -> int {
        std::atomic<bool> stop{false};
        std::thread other([&] {
          while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        });
        int code;
        try {
          process::fork_processes(1);
          pipe.write_line("forked");
          std::_Exit(0);  // the worker (its copy of `other` has no thread behind it)
        } catch (const std::logic_error& e) {
          pipe.write_line(std::string("refused: ") + e.what());
          code = 42;
        }
        stop = true;
        other.join();
        return code;
      },
      pipe);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 42) << "status " << status;
  auto line = pipe.read_line(std::chrono::seconds(5));
  ASSERT_TRUE(line);
  EXPECT_NE(line->find("refused: fork_processes"), std::string::npos) << *line;
  EXPECT_NE(line->find("thread"), std::string::npos) << *line;
}

TEST(ProcessTest, TCPServerStartRefusesToForkOnceAnIOLoopExists) {
  IOLoop loop;
  HTTPServer server(process_app());
  server.bind(0, "127.0.0.1");
  EXPECT_THROW(server.start(2), std::logic_error);
  server.start(1);  // the refused start() left it startable
}

// The default executor's threads stay in the process that started them. A copy forked
// afterwards that exits normally runs the executor's static destructor, which joined threads
// the copy does not have and waited forever (a fork_processes parent that had inherited the
// executor from earlier tests in the same binary hung there).
#if TORNADO_TEST_ASAN
// LeakSanitizer's check at exit stops the world by the thread list the copy inherited: the
// executor's threads, which a forked copy does not have. It then hangs, or reports what only
// those threads' stacks referred to (flaky: half the runs). Registered before the executor
// exists, this runs after the executor's destructor (exit handlers run in reverse order) and
// ends a forked copy before that check: the destructor is still what the test exercises.
pid_t g_registering_pid = 0;
void end_forked_copy_before_leak_check() {
  if (::getpid() != g_registering_pid) ::_exit(0);
}
#endif

TEST(ProcessTest, AProcessForkedAfterTheDefaultExecutorRanExitsNormally) {
#if TORNADO_TEST_ASAN
  if (g_registering_pid == 0) {
    g_registering_pid = ::getpid();
    std::atexit(end_forked_copy_before_leak_check);
  }
#endif
  {
    IOLoop loop;
    int seven = loop.run_sync([&]() -> Task<int> {
      co_return co_await IOLoop::current().run_in_executor([] { return 7; });
    });
    ASSERT_EQ(seven, 7);
  }
  std::fflush(nullptr);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setpgid(0, 0);
    ::alarm(kAlarmSeconds);
    std::exit(0);  // static destructors run, the executor's among them
  }
  ::setpgid(pid, pid);
  int status = wait_parent(pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
}

TEST(ProcessTest, CpuCountIsAtLeastOneAndAtMostTheOnlineCount) {
  int n = process::cpu_count();
  EXPECT_GE(n, 1);
  EXPECT_LE(n, static_cast<int>(std::thread::hardware_concurrency()));
}

}  // namespace process_test
