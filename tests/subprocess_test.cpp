// process::Subprocess: Tornado's SubprocessTest (stdout/stdin/stderr streams, the exit
// callback, wait_for_exit and CalledProcessError, a signal's return code) plus many
// children at once, exits that happen before anyone asks, children of several loops on
// several threads, a program that cannot run, and the child's clean fd and signal state.
// The SIGCHLD reaper is a thread: these tests carry the tsan label.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "tornado/gen.h"
#include "tornado/iostream.h"
#include "tornado/process.h"
#include "tornado/testing_core.h"

namespace subprocess_test {

using namespace tornado;
using process::CalledProcessError;
using process::Subprocess;
using process::SubprocessOptions;
using tornado::testing::AsyncTest;

namespace {

class SubprocessTest : public AsyncTest {
 protected:
  void TearDown() override {
    Subprocess::uninitialize();  // as Tornado's tests: each test installs it afresh
    AsyncTest::TearDown();
  }
};

// This process's children, running or exited and not yet reaped (from /proc).
std::set<pid_t> child_pids() {
  std::set<pid_t> pids;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream f(task.path() / "children");
    for (pid_t p; f >> p;) pids.insert(p);
  }
  return pids;
}

// Until `done()` or 5 s, giving the loop turns.
template <typename F>
Task<bool> eventually(F done) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) co_return false;
    co_await sleep(5ms);
  }
  co_return true;
}

TEST_F(SubprocessTest, StdoutStreamReadsWhatTheChildWrites) {
  Subprocess child({"echo", "hello"}, {.std_out = Subprocess::STREAM});
  ASSERT_TRUE(child.stdout_stream());
  EXPECT_FALSE(child.stdin_stream());
  auto [line, status] = run_sync([&]() -> Task<std::pair<std::string, int>> {
    std::string line = co_await child.stdout_stream()->read_until("\n");
    int status = co_await child.wait_for_exit();
    co_return std::pair{line, status};
  });
  EXPECT_EQ(line, "hello\n");
  EXPECT_EQ(status, 0);
  EXPECT_EQ(child.returncode(), 0);
}

// Tornado's test_subprocess: an interactive Python whose stderr goes to its stdout.
TEST_F(SubprocessTest, InteractivePythonThroughStdinAndStdoutStreams) {
  Subprocess child(
      {"/usr/bin/python3", "-u", "-i"},
      {.std_in = Subprocess::STREAM, .std_out = Subprocess::STREAM, .std_err = Subprocess::STDOUT});
  auto out = child.stdout_stream();
  auto in = child.stdin_stream();
  std::string rest = run_sync(
      [&]() -> Task<std::string> {
        co_await out->read_until(">>> ");
        co_await in->write("print('hello')\n");
        std::string data = co_await out->read_until("\n");
        EXPECT_EQ(data, "hello\n");
        co_await out->read_until(">>> ");
        co_await in->write("raise SystemExit\n");
        co_return co_await out->read_until_close();
      },
      std::chrono::seconds(10));
  EXPECT_EQ(rest, "");
  in->close();
  EXPECT_EQ(run_sync([&]() -> Task<int> { co_return co_await child.wait_for_exit(); }), 0);
}

TEST_F(SubprocessTest, ClosingStdinEndsCat) {
  Subprocess child({"cat"}, {.std_in = Subprocess::STREAM, .std_out = Subprocess::STREAM});
  auto [echo, rest, status] = run_sync([&]() -> Task<std::tuple<std::string, std::string, int>> {
    co_await child.stdin_stream()->write("one line\n");
    std::string echo = co_await child.stdout_stream()->read_until("\n");
    child.stdin_stream()->close();  // EOF: cat exits
    std::string rest = co_await child.stdout_stream()->read_until_close();
    int status = co_await child.wait_for_exit();
    co_return std::tuple{echo, rest, status};
  });
  EXPECT_EQ(echo, "one line\n");
  EXPECT_EQ(rest, "");
  EXPECT_EQ(status, 0);
}

TEST_F(SubprocessTest, StderrStreamReadsTheChildsErrors) {
  Subprocess child({"sh", "-c", "echo hello >&2"}, {.std_err = Subprocess::STREAM});
  std::string data = run_sync(
      [&]() -> Task<std::string> { co_return co_await child.stderr_stream()->read_until("\n"); });
  EXPECT_EQ(data, "hello\n");
  child.stderr_stream()->close();
}

TEST_F(SubprocessTest, DevNullStdinReadsEmpty) {
  Subprocess child({"cat"}, {.std_in = Subprocess::DEVNULL, .std_out = Subprocess::STREAM});
  std::string data = run_sync(
      [&]() -> Task<std::string> { co_return co_await child.stdout_stream()->read_until_close(); });
  EXPECT_EQ(data, "");
}

// Tornado's test_sigchild.
TEST_F(SubprocessTest, ExitCallbackGetsTheReturnCode) {
  Subprocess::initialize();
  Subprocess child({"true"});
  int got = run_sync([&]() -> Task<int> {
    Future<int> exited;
    child.set_exit_callback([exited](int code) mutable { exited.set_result(code); });
    co_return co_await exited;
  });
  EXPECT_EQ(got, 0);
  EXPECT_EQ(child.returncode(), 0);
}

// Tornado's test_sigchild_future.
TEST_F(SubprocessTest, WaitForExitResolvesWithZero) {
  Subprocess child({"true"});
  EXPECT_EQ(run_sync([&]() -> Task<int> { co_return co_await child.wait_for_exit(); }), 0);
  EXPECT_EQ(child.returncode(), 0);
}

// Tornado's test_sigchild_signal: a child killed by SIGTERM returns -SIGTERM.
TEST_F(SubprocessTest, ChildKilledBySignalReturnsMinusTheSignal) {
  Subprocess child({"sleep", "30"}, {.std_out = Subprocess::STREAM});
  int got = run_sync([&]() -> Task<int> {
    Future<int> exited;
    child.set_exit_callback([exited](int code) mutable { exited.set_result(code); });
    ::kill(child.pid(), SIGTERM);
    co_return co_await exited;
  });
  EXPECT_EQ(got, -SIGTERM);
  EXPECT_EQ(child.returncode(), -SIGTERM);
  child.stdout_stream()->close();
}

// Tornado's test_wait_for_exit_raise.
TEST_F(SubprocessTest, WaitForExitRaisesCalledProcessErrorOnNonZero) {
  Subprocess child({"sh", "-c", "exit 3"});
  try {
    run_sync([&]() -> Task<> { co_await child.wait_for_exit(); });
    FAIL() << "no CalledProcessError";
  } catch (const CalledProcessError& e) {
    EXPECT_EQ(e.returncode(), 3);
    EXPECT_EQ(e.cmd(), (std::vector<std::string>{"sh", "-c", "exit 3"}));
    EXPECT_EQ(std::string(e.what()),
              "Command ['sh', '-c', 'exit 3'] returned non-zero exit status 3.");
  }
}

// Tornado's test_wait_for_exit_raise_disabled.
TEST_F(SubprocessTest, WaitForExitWithoutRaiseReturnsTheStatus) {
  Subprocess child({"sh", "-c", "exit 1"});
  EXPECT_EQ(run_sync([&]() -> Task<int> { co_return co_await child.wait_for_exit(false); }), 1);
}

TEST_F(SubprocessTest, SeveralWaitersAndACallbackAllHearOfTheExit) {
  Subprocess child({"sh", "-c", "exit 2"});
  int callback_code = 0;
  child.set_exit_callback([&](int code) { callback_code = code; });
  auto first = child.wait_for_exit(false);
  auto second = child.wait_for_exit(false);
  auto [a, b] = run_sync([&]() -> Task<std::pair<int, int>> {
    int a = co_await first;
    int b = co_await second;
    co_return std::pair{a, b};
  });
  EXPECT_EQ(a, 2);
  EXPECT_EQ(b, 2);
  EXPECT_EQ(callback_code, 2);
}

// SIGCHLD is not queued: many exits at once may arrive as one signal. Every one is reaped.
TEST_F(SubprocessTest, ManyChildrenExitingAtOnceAreAllDelivered) {
  constexpr int kChildren = 64;
  Subprocess::initialize();
  std::vector<std::unique_ptr<Subprocess>> children;
  for (int i = 0; i < kChildren; ++i) {
    children.push_back(std::make_unique<Subprocess>(
        std::vector<std::string>{"sh", "-c", "exit " + std::to_string(i % 7)}));
  }
  auto codes = run_sync(
      [&]() -> Task<std::vector<int>> {
        std::vector<int> out;
        for (auto& c : children) out.push_back(co_await c->wait_for_exit(false));
        co_return out;
      },
      std::chrono::seconds(20));
  for (int i = 0; i < kChildren; ++i) EXPECT_EQ(codes[static_cast<size_t>(i)], i % 7) << i;
}

// A loop thread that blocks SIGCHLD (as one reading signals from a signalfd does) leaves
// the reaper the only thread to take it: the reaper must not inherit that mask from the
// thread that installs it, and must run its handler while it waits (under ThreadSanitizer,
// a handler for a thread blocked in read() waited forever).
TEST_F(SubprocessTest, ExitsAreDeliveredWhenTheLoopThreadBlocksSigchld) {
  sigset_t sigchld, old;
  sigemptyset(&sigchld);
  sigaddset(&sigchld, SIGCHLD);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &sigchld, &old), 0);
  struct Restore {
    sigset_t mask;
    ~Restore() { ::pthread_sigmask(SIG_SETMASK, &mask, nullptr); }
  } restore{old};
  Subprocess::initialize();
  for (int round = 0; round < 5; ++round) {
    Subprocess child({"sh", "-c", "exit " + std::to_string(round + 1)});
    int code = run_sync([&]() -> Task<int> { co_return co_await child.wait_for_exit(false); },
                        std::chrono::seconds(10));
    EXPECT_EQ(code, round + 1);
  }
}

// With the handler installed, a child that exits before anyone asks is reaped at once
// (returncode set on the loop); a callback set later still runs, on a later iteration.
TEST_F(SubprocessTest, ExitBeforeTheCallbackIsSetIsStillDelivered) {
  Subprocess::initialize();
  Subprocess child({"true"});
  int got = run_sync([&]() -> Task<int> {
    EXPECT_TRUE(co_await eventually([&] { return child.returncode().has_value(); }));
    Future<int> exited;
    child.set_exit_callback([exited](int code) mutable { exited.set_result(code); });
    co_return co_await exited;
  });
  EXPECT_EQ(got, 0);
}

// Without the handler, the exited child waits as a zombie; asking installs the handler,
// whose first scan finds it.
TEST_F(SubprocessTest, ExitBeforeTheHandlerExistsIsFoundWhenAsked) {
  Subprocess child({"true"});
  siginfo_t info{};
  // Wait for the exit without reaping it (WNOWAIT), so we know it happened before asking.
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(child.pid()), &info, WEXITED | WNOWAIT), 0);
  EXPECT_FALSE(child.returncode());
  EXPECT_EQ(run_sync([&]() -> Task<int> { co_return co_await child.wait_for_exit(); }), 0);
}

TEST_F(SubprocessTest, DestroyedSubprocessIsStillReaped) {
  Subprocess::initialize();
  pid_t pid;
  {
    Subprocess child({"true"});
    pid = child.pid();
  }
  bool gone = run_sync([&]() -> Task<bool> {
    co_return co_await eventually([&] { return ::kill(pid, 0) != 0 && errno == ESRCH; });
  });
  EXPECT_TRUE(gone) << "pid " << pid << " left as a zombie";
}

TEST_F(SubprocessTest, ProgramThatCannotRunThrowsWithItsErrno) {
  const std::set<pid_t> before = child_pids();
  try {
    Subprocess child({"/nonexistent/program"});
    FAIL() << "no exception";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/program"), std::string::npos);
  }
  EXPECT_THROW(Subprocess({}), std::invalid_argument);
  EXPECT_THROW(Subprocess({"true"}, {.std_out = Subprocess::STDOUT}), std::invalid_argument);
  // No child of these is left (not waitpid(-1): that would reap an earlier test's child).
  EXPECT_EQ(child_pids(), before);
}

// Tornado's Subprocess is Python's Popen, which reaps the children of dropped objects when
// the next one starts: with no reaper installed, no zombies gather.
TEST_F(SubprocessTest, ChildOfADroppedSubprocessIsReapedWhenTheNextStarts) {
  pid_t pid;
  {
    Subprocess child({"true"});
    pid = child.pid();
  }
  // Exited, not reaped: a zombie.
  const std::string stat = "/proc/" + std::to_string(pid) + "/stat";
  auto state = [&]() -> char {
    std::ifstream f(stat);
    std::string line;
    if (!std::getline(f, line)) return '-';  // gone
    auto paren = line.rfind(')');
    return paren + 2 < line.size() ? line[paren + 2] : '?';
  };
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (state() != 'Z' && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(state(), 'Z') << "pid " << pid << " did not exit";
  Subprocess next({"true"});
  EXPECT_EQ(state(), '-') << "pid " << pid << " still there: not reaped";
  EXPECT_FALSE(child_pids().count(pid));
}

// Whatever the parent blocks, ignores or leaks, the child starts clean: no blocked or
// ignored signal, no fd beyond 0-2.
TEST_F(SubprocessTest, ChildStartsWithCleanSignalsAndNoInheritedFds) {
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &term, &old), 0);
  auto old_pipe = ::signal(SIGPIPE, SIG_IGN);
  int leaked = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC
  ASSERT_GE(leaked, 3);
  Subprocess child({"sh", "-c",
                    "grep -E '^Sig(Blk|Ign)' /proc/self/status; test -e /proc/self/fd/" +
                        std::to_string(leaked) + " && echo leaked; true"},
                   {.std_out = Subprocess::STREAM});
  ::close(leaked);
  ::signal(SIGPIPE, old_pipe);
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  std::string out = run_sync(
      [&]() -> Task<std::string> { co_return co_await child.stdout_stream()->read_until_close(); });
  // Signals 1-31 (the low 31 bits). glibc's posix_spawn leaves its two internal real-time
  // signals (32, 33) ignored in every child it starts; exec'd glibc programs install their
  // own handlers for them when they need them.
  auto mask_of = [&](const std::string& name) {
    auto at = out.find(name + ":\t");
    return at == std::string::npos ? ~0ull
                                   : std::stoull(out.substr(at + name.size() + 2, 16), nullptr, 16);
  };
  EXPECT_EQ(mask_of("SigBlk"), 0u) << out;
  EXPECT_EQ(mask_of("SigIgn") & 0x7fffffffull, 0u) << out;
  EXPECT_EQ(out.find("leaked"), std::string::npos) << out;
}

TEST_F(SubprocessTest, StdioFromFdGivesTheChildThatFdAndTheParentKeepsIt) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  Subprocess child({"echo", "through my pipe"}, {.std_out = process::Stdio::from_fd(fds[1])});
  EXPECT_EQ(::close(fds[1]), 0);  // still ours (not closed by Subprocess); the child has a copy
  auto reader = IOStream::create(fds[0]);
  std::string out = run_sync([&]() -> Task<std::string> {
    std::string out = co_await reader->read_until_close();
    co_await child.wait_for_exit();
    co_return out;
  });
  EXPECT_EQ(out, "through my pipe\n");
  EXPECT_THROW(Subprocess({"true"}, {.std_in = process::Stdio::from_fd(-1)}),
               std::invalid_argument);
}

TEST_F(SubprocessTest, CwdAndEnvOptions) {
  Subprocess child({"sh", "-c", "pwd; echo \"$GREETING\""},
                   {.std_out = Subprocess::STREAM,
                    .cwd = "/tmp",
                    .env = std::vector<std::string>{"GREETING=bonjour", "PATH=/usr/bin:/bin"}});
  std::string out = run_sync(
      [&]() -> Task<std::string> { co_return co_await child.stdout_stream()->read_until_close(); });
  EXPECT_EQ(out, "/tmp\nbonjour\n");
}

// Open fds of this process (for tests that check nothing leaks).
int open_fd_count() {
  int n = 0;
  for (int fd = 0; fd < 1024; ++fd) {
    if (::fcntl(fd, F_GETFD) >= 0) ++n;
  }
  return n;
}

// Stream options the IOStreams refuse are refused before any child starts: no child is
// left running unwatched and no pipe end stays open.
TEST_F(SubprocessTest, StreamOptionsRefusedBeforeAnyChildStarts) {
  const std::string marker =
      ::testing::TempDir() + "subprocess_started_" + std::to_string(::getpid());
  ::unlink(marker.c_str());
  const int before = open_fd_count();
  IOStreamOptions bad;
  bad.max_buffer_size = 0;
  EXPECT_THROW(Subprocess({"sh", "-c", "echo > " + marker}, {.std_in = Subprocess::STREAM,
                                                            .std_out = Subprocess::STREAM,
                                                            .std_err = Subprocess::STREAM,
                                                            .stream_options = bad}),
               std::invalid_argument);
  EXPECT_EQ(open_fd_count(), before);
  run_sync([]() -> Task<> { co_await sleep(300ms); });
  EXPECT_NE(::access(marker.c_str(), F_OK), 0) << "a child was started";
  ::unlink(marker.c_str());
}

// A NUL byte in an argument, the environment or cwd would end that C string early: the
// child would run with a prefix of what was checked ("safe\0/../x" as "safe"). Refused
// before anything starts, as Python's ValueError("embedded null byte").
TEST_F(SubprocessTest, EmbeddedNulInArgvEnvOrCwdIsRefused) {
  const std::string marker =
      ::testing::TempDir() + "subprocess_nul_started_" + std::to_string(::getpid());
  ::unlink(marker.c_str());
  const std::string nul("x\0y", 3);
  EXPECT_THROW(Subprocess({"sh", "-c", "echo > " + marker, nul}), std::invalid_argument);
  EXPECT_THROW(Subprocess({"sh", "-c", "echo > " + marker + nul}), std::invalid_argument);
  EXPECT_THROW(Subprocess({"sh", "-c", "echo > " + marker},
                          {.env = std::vector<std::string>{"PATH=/usr/bin:/bin", "A=" + nul}}),
               std::invalid_argument);
  EXPECT_THROW(Subprocess({"sh", "-c", "echo > " + marker}, {.cwd = "/tmp" + nul}),
               std::invalid_argument);
  run_sync([]() -> Task<> { co_await sleep(200ms); });
  EXPECT_NE(::access(marker.c_str(), F_OK), 0) << "a child was started";
  ::unlink(marker.c_str());
}

// The Subprocess goes while a read of its stdout is pending: the read holds the stream and
// still completes with what the child writes.
TEST_F(SubprocessTest, ReadPendingWhenTheSubprocessIsDestroyedStillCompletes) {
  auto child = std::make_unique<Subprocess>(std::vector<std::string>{"sh", "-c", "sleep 0.2; echo late"},
                                            SubprocessOptions{.std_out = Subprocess::STREAM});
  Future<int> exited = child->wait_for_exit();
  std::string out = run_sync([&]() -> Task<std::string> {
    Future<std::string> reading = spawn(child->stdout_stream()->read_until_close());
    co_await moment();
    child.reset();
    std::string data = co_await reading;
    co_await exited;
    co_return data;
  });
  EXPECT_EQ(out, "late\n");
}

// A child writing without end to a STREAM stdout nobody reads: the parent does not buffer
// it (the pipe fills, the child blocks); destroying the Subprocess closes our end and the
// child dies of SIGPIPE, its exit still delivered.
TEST_F(SubprocessTest, UnreadStdoutOfAnEndlessWriterIsNotBufferedAndSigpipeEndsIt) {
  auto child = std::make_unique<Subprocess>(std::vector<std::string>{"yes", "0123456789abcdef"},
                                            SubprocessOptions{.std_out = Subprocess::STREAM});
  Future<int> exited = child->wait_for_exit(false);
  run_sync([&]() -> Task<> { co_await sleep(200ms); });
  EXPECT_EQ(child->stdout_stream()->read_buffer_capacity(), 0u);
  EXPECT_FALSE(child->returncode());
  child.reset();
  int code = run_sync([&]() -> Task<int> { co_return co_await exited; });
  EXPECT_EQ(code, -SIGPIPE);
}

// The Subprocess outlives the loop it was made on: its exit can no longer be delivered
// (that loop is gone), so asking for it is a clear error rather than a Future that never
// resolves. What was delivered before stays readable.
TEST(SubprocessLoopTest, WaitForExitAfterItsLoopClosedIsAClearError) {
  std::unique_ptr<Subprocess> child, done;
  {
    IOLoop first(/*make_current=*/true);
    child = std::make_unique<Subprocess>(std::vector<std::string>{"sleep", "0.2"});
    done = std::make_unique<Subprocess>(std::vector<std::string>{"true"});
    EXPECT_EQ(first.run_sync([&]() -> Task<int> { co_return co_await done->wait_for_exit(); }),
              0);
  }
  IOLoop second(/*make_current=*/true);
  EXPECT_THROW(child->wait_for_exit(), std::logic_error);
  EXPECT_THROW(child->set_exit_callback([](int) {}), std::logic_error);
  EXPECT_EQ(done->returncode(), 0);
  EXPECT_EQ(second.run_sync([&]() -> Task<int> { co_return co_await done->wait_for_exit(); }), 0);
  Subprocess::uninitialize();
}

// Children started on several loops, each on its own thread, at the same time: each exit
// is delivered on the loop (thread) of its Subprocess.
TEST(SubprocessThreadsTest, ChildrenOfSeveralLoopsExitOnTheirOwnLoops) {
  constexpr int kThreads = 4, kPerThread = 8;
  std::atomic<int> wrong_thread{0}, delivered{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        IOLoop loop;
        loop.run_sync(
            [&]() -> Task<> {
              std::vector<std::unique_ptr<Subprocess>> children;
              for (int i = 0; i < kPerThread; ++i) {
                children.push_back(std::make_unique<Subprocess>(
                    std::vector<std::string>{"sh", "-c", "exit " + std::to_string((t + i) % 5)}));
              }
              const auto me = std::this_thread::get_id();
              for (int i = 0; i < kPerThread; ++i) {
                Future<int> exited;
                children[static_cast<size_t>(i)]->set_exit_callback([&, exited, me](int) mutable {
                  if (std::this_thread::get_id() != me) ++wrong_thread;
                  exited.set_result(0);
                });
                int code = co_await children[static_cast<size_t>(i)]->wait_for_exit(false);
                co_await exited;
                if (code != (t + i) % 5) ++failures;
                ++delivered;
              }
            },
            std::chrono::seconds(20));
      } catch (...) {
        ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  Subprocess::uninitialize();
  EXPECT_EQ(delivered.load(), kThreads * kPerThread);
  EXPECT_EQ(wrong_thread.load(), 0);
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace

}  // namespace subprocess_test
