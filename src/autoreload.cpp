// autoreload: restart the process when its executable (or a watched file) changes. Polls
// with stat() on the loop's timer, as Tornado does (no inotify: a binary is replaced by
// rename, and polling a handful of files twice a second costs nothing).
#include "tornado/autoreload.h"

#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/details/registry.h>
#include <spdlog/spdlog.h>

#include "tornado/ioloop.h"
#include "tornado/log.h"
#include "tornado/process.h"

namespace tornado::autoreload {

namespace {

// What identifies a version of a file.
struct FileState {
  std::int64_t mtime_ns = 0;
  ino_t inode = 0;
  dev_t device = 0;
  off_t size = 0;
  bool operator==(const FileState&) const = default;
};

std::optional<FileState> stat_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileState{std::int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
                   st.st_ino, st.st_dev, st.st_size};
}

// One loop's checks: the times seen, and a change waiting for its file to hold still.
struct Watcher {
  LoopRef loop;
  Duration period;
  std::map<std::string, FileState> seen;
  std::string changed;                // the changed file, "" when none
  std::optional<FileState> settling;  // its state at the previous check
};

struct Global {
  std::mutex mutex;
  std::string executable;         // resolved at the first start()
  std::vector<std::string> argv;  // from /proc/self/cmdline, at the first start()
  std::set<std::string> watched;
  std::vector<std::function<void()>> hooks;
  std::vector<std::weak_ptr<Watcher>> watchers;  // alive while their loop's timer is pending
  bool reload_attempted = false;
};

Global& global() {
  static Global* g = new Global;  // never destroyed: a loop thread may check during exit
  return *g;
}

std::string read_executable_path() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return {};
  std::string path(buf, static_cast<std::size_t>(n));
  // Replaced before we looked: the kernel names the old inode "<path> (deleted)".
  static constexpr std::string_view kDeleted = " (deleted)";
  if (path.ends_with(kDeleted)) path.resize(path.size() - kDeleted.size());
  return path;
}

std::vector<std::string> read_argv() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> argv;
  std::size_t start = 0;
  while (start < all.size()) {
    const auto nul = all.find('\0', start);
    argv.push_back(all.substr(start, nul - start));
    if (nul == std::string::npos) break;
    start = nul + 1;
  }
  return argv;
}

// True if `path` can be run as it is now: an ELF file whose headers, segments and section
// header table all lie inside it (a linker still writing has not got there), or a script.
bool looks_complete(const std::string& path, off_t size) {
  if (::access(path.c_str(), X_OK) != 0) return false;
  std::ifstream in(path, std::ios::binary);
  Elf64_Ehdr eh{};
  in.read(reinterpret_cast<char*>(&eh), sizeof eh);
  const auto got = in.gcount();
  if (got >= 2 && eh.e_ident[0] == '#' && eh.e_ident[1] == '!') return true;
  if (got < static_cast<std::streamsize>(sizeof eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64) {
    return false;
  }
  const auto within = [size](std::uint64_t offset, std::uint64_t length) {
    return offset <= std::uint64_t(size) && length <= std::uint64_t(size) - offset;
  };
  if (!within(eh.e_phoff, std::uint64_t(eh.e_phnum) * eh.e_phentsize)) return false;
  if (!within(eh.e_shoff, std::uint64_t(eh.e_shnum) * eh.e_shentsize)) return false;
  if (eh.e_phentsize != sizeof(Elf64_Phdr)) return eh.e_phnum == 0;
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph{};
    in.seekg(static_cast<std::streamoff>(eh.e_phoff + i * sizeof ph));
    in.read(reinterpret_cast<char*>(&ph), sizeof ph);
    if (in.gcount() != sizeof ph) return false;
    if (!within(ph.p_offset, ph.p_filesz)) return false;
  }
  return true;
}

// The files to check: the executable and the watched set.
std::vector<std::string> watched_paths() {
  auto& g = global();
  std::lock_guard lock(g.mutex);
  std::vector<std::string> paths;
  if (!g.executable.empty()) paths.push_back(g.executable);
  paths.insert(paths.end(), g.watched.begin(), g.watched.end());
  return paths;
}

void check(Watcher& w) {
  {
    auto& g = global();
    std::lock_guard lock(g.mutex);
    if (g.reload_attempted) return;  // it failed once; Tornado does not try again
  }
  if (!w.changed.empty()) {
    // A change was seen: restart once the file holds still and is whole.
    auto now = stat_file(w.changed);
    if (!now || !w.settling || !(*now == *w.settling)) {
      w.settling = now;
      return;
    }
    bool executable;
    {
      std::lock_guard lock(global().mutex);
      executable = w.changed == global().executable;
    }
    if (executable && !looks_complete(w.changed, now->size)) return;
    gen_log().info("{} modified; restarting server", w.changed);
    reload();
    w.changed.clear();  // the exec failed (logged); nothing more will happen
    return;
  }
  for (const auto& path : watched_paths()) {
    auto now = stat_file(path);
    if (!now) continue;  // missing (being replaced, or not made yet): look again later
    auto [it, inserted] = w.seen.try_emplace(path, *now);
    if (inserted) continue;
    const FileState& before = it->second;
    if (before.mtime_ns != now->mtime_ns || before.inode != now->inode ||
        before.device != now->device) {
      w.changed = path;
      w.settling = now;
      return;
    }
  }
}

void schedule(std::shared_ptr<Watcher> w) {
  IOLoop* loop = w->loop.get();
  if (!loop) return;
  const Duration period = w->period;
  // The pending timer holds the Watcher: when the loop closes, its timers go and so does it.
  loop->call_later(period, [w = std::move(w)]() mutable {
    check(*w);
    schedule(std::move(w));
  });
}

}  // namespace

void start(Duration check_time) {
  if (!(check_time.count() > 0)) throw std::invalid_argument("autoreload::start: check_time must be > 0");
  IOLoop& loop = IOLoop::current();
  auto w = std::make_shared<Watcher>();
  w->loop = loop.ref();
  w->period = check_time;
  std::size_t live = 0;
  {
    auto& g = global();
    std::lock_guard lock(g.mutex);
    std::erase_if(g.watchers, [](const std::weak_ptr<Watcher>& p) { return p.expired(); });
    for (const auto& weak : g.watchers) {
      auto other = weak.lock();
      if (other && other->loop.refers_to(loop)) return;  // already checking on this loop
    }
    if (g.executable.empty()) g.executable = read_executable_path();
    if (g.argv.empty()) g.argv = read_argv();
    g.watchers.push_back(w);
    live = g.watchers.size();
  }
  if (live > 1) gen_log().warn("tornado.autoreload started more than once in the same process");
  check(*w);  // the first look records the times
  schedule(std::move(w));
}

bool started() {
  IOLoop* loop = IOLoop::current_or_null();
  if (!loop) return false;
  auto& g = global();
  std::lock_guard lock(g.mutex);
  for (const auto& weak : g.watchers) {
    auto w = weak.lock();
    if (w && w->loop.refers_to(*loop)) return true;
  }
  return false;
}

void wait() {
  IOLoop loop(/*make_current=*/true);
  loop.add_callback([] { start(); });
  for (;;) loop.start();
}

void watch(const std::filesystem::path& path) {
  auto& g = global();
  std::lock_guard lock(g.mutex);
  g.watched.insert(path.string());
}

void add_reload_hook(std::function<void()> hook) {
  auto& g = global();
  std::lock_guard lock(g.mutex);
  g.hooks.push_back(std::move(hook));
}

void reload() {
  auto& g = global();
  std::vector<std::function<void()>> hooks;
  std::string executable;
  std::vector<std::string> args;
  {
    std::lock_guard lock(g.mutex);
    // Once per process: loops on several threads may see the same change at once.
    if (g.reload_attempted) return;
    g.reload_attempted = true;
    // A worker of fork_processes does not restart itself (as in Tornado): every worker would
    // re-run main() and call fork_processes again. Restart the parent instead.
    if (process::task_id()) {
      gen_log().warn("autoreload: a change was seen in worker {} of fork_processes: not "
                     "restarting (restart the parent process)", *process::task_id());
      return;
    }
    hooks = g.hooks;
    executable = g.executable.empty() ? read_executable_path() : g.executable;
    args = g.argv.empty() ? read_argv() : g.argv;
  }
  for (auto& hook : hooks) {
    try {
      hook();
    } catch (const std::exception& e) {
      app_log().error("autoreload: reload hook failed: {}", e.what());
    } catch (...) {
      app_log().error("autoreload: reload hook failed");
    }
  }
  if (args.empty()) args.push_back(executable);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->flush(); });
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  // The new image must not inherit a pending alarm or this thread's blocked signals (the
  // loop blocks the ones it reads through a signalfd).
  itimerval off{};
  ::setitimer(ITIMER_REAL, &off, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::pthread_sigmask(SIG_SETMASK, &none, nullptr);

  const char* path = executable.c_str();
  if (executable.empty() || ::access(path, F_OK) != 0) path = "/proc/self/exe";
  // A writer that has not closed the new file yet makes exec fail with ETXTBSY: wait a little.
  for (int attempt = 0; attempt < 40; ++attempt) {
    ::execv(path, argv.data());
    if (errno != ETXTBSY) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const int error = errno;
  gen_log().error("autoreload: cannot re-execute {}: {}", path, std::strerror(error));
}

}  // namespace tornado::autoreload
