// A throwaway PostgreSQL cluster for tests in a temporary directory (a copy of the data
// directory initdb made once a process), listening on a Unix socket there only (no TCP),
// password authentication (scram-sha-256, user "postgres", password "secret"). The server is
// this process's child and dies with it (PR_SET_PDEATHSIG), so a crashed test leaves no server
// behind; the destructor stops it and removes the directory, and a new cluster removes the
// directories of dead test processes.
// initdb and postgres refuse to run as root: as root they run as `nobody`.
#pragma once

#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace tornado::test {

class PostgresCluster {
 public:
  // The directory of initdb and postgres: `pg_config --bindir`, else Debian 12's; "" when
  // the server is not installed.
  static std::string bindir() {
    std::vector<std::string> dirs;
    if (FILE* p = ::popen("pg_config --bindir 2>/dev/null", "r")) {
      char buf[512] = {};
      if (std::fgets(buf, sizeof buf, p)) {
        std::string d = buf;
        while (!d.empty() && (d.back() == '\n' || d.back() == ' ')) d.pop_back();
        dirs.push_back(d);
      }
      ::pclose(p);
    }
    dirs.push_back("/usr/lib/postgresql/15/bin");
    for (const auto& d : dirs) {
      if (::access((d + "/initdb").c_str(), X_OK) == 0 &&
          ::access((d + "/postgres").c_str(), X_OK) == 0) {
        return d;
      }
    }
    return "";
  }

  // A new cluster's data directory is a copy of one that initdb made once for this process
  // (initdb costs about 1.7 CPU-seconds and 3 s, a copy about a quarter of that: a suite of
  // 32 clusters ran 128 s). A copy of a data directory no server has run on is what initdb
  // would make again.
  PostgresCluster() : bin_(bindir()) {
    if (bin_.empty()) throw std::runtime_error("PostgreSQL server binaries not found");
    static const std::filesystem::path initial = make_initial(bin_);
    dir_ = new_dir(std::to_string(counter()++));
    const int rc = run_and_wait({"/bin/cp", "-a", (initial / "data").string(), data()},
                                (dir_ / "copy.log").string());
    if (rc != 0) {
      const std::string log = read((dir_ / "copy.log").string());
      std::filesystem::remove_all(dir_);
      throw std::runtime_error("copying the initial data directory failed: " + log);
    }
    start();
  }
  ~PostgresCluster() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;

  std::string socket_dir() const { return dir_.string(); }
  // key=value form.
  std::string conninfo(const std::string& db = "postgres",
                       const std::string& password = "secret") const {
    return "host=" + socket_dir() + " user=postgres password=" + password + " dbname=" + db;
  }
  // URI form (the socket directory percent-encoded as the host).
  std::string uri(const std::string& db = "postgres") const {
    std::string host;
    for (char c : socket_dir()) host += c == '/' ? std::string("%2F") : std::string(1, c);
    return "postgresql://postgres:secret@" + host + "/" + db;
  }

  void start() {
    server_ = spawn({bin_ + "/postgres", "-D", data(), "-c", "listen_addresses=",
                     "-c", "unix_socket_directories=" + socket_dir(), "-c", "fsync=off",
                     "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                     "-c", "max_connections=40", "-c", "shared_buffers=16MB",
                     "-c", "log_line_prefix=%m [%p] "},
                    (dir_ / "server.log").string());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (PQping(conninfo().c_str()) != PQPING_OK) {
      int status;
      if (::waitpid(server_, &status, WNOHANG) == server_) {
        server_ = -1;
        throw std::runtime_error("postgres exited at start: " + read((dir_ / "server.log").string()));
      }
      if (std::chrono::steady_clock::now() > deadline) {
        stop();
        throw std::runtime_error("postgres did not start: " + read((dir_ / "server.log").string()));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  // Fast shutdown (SIGINT: sessions are terminated), SIGKILL after 10 s.
  void stop() {
    if (server_ <= 0) return;
    ::kill(server_, SIGINT);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int status;
    while (::waitpid(server_, &status, WNOHANG) != server_) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(server_, SIGKILL);
        ::waitpid(server_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    server_ = -1;
  }
  void restart() {
    stop();
    start();
  }
  std::string server_log() const { return read((dir_ / "server.log").string()); }

 private:
  std::string data() const { return (dir_ / "data").string(); }
  // tornado-pg-<pid>-<suffix> in the temporary directory, empty, the server user's.
  static std::filesystem::path new_dir(const std::string& suffix) {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("tornado-pg-" + std::to_string(::getpid()) + "-" + suffix);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    give_to_server_user(dir);
    return dir;
  }
  // initdb, once a process; the directory is removed at exit (or, after a crash, by the
  // next test process's remove_stale).
  static std::filesystem::path make_initial(const std::string& bin) {
    remove_stale();
    const auto dir = new_dir("initial");
    {
      std::ofstream pw(dir / "pwfile");
      pw << "secret\n";
    }
    give_to_server_user(dir / "pwfile");
    const int rc = run_and_wait({bin + "/initdb", "-D", (dir / "data").string(), "-U", "postgres",
                                 "--auth=scram-sha-256", "--pwfile=" + (dir / "pwfile").string(),
                                 "-E", "UTF8", "--no-locale", "--no-sync"},
                                (dir / "initdb.log").string());
    if (rc != 0) {
      const std::string log = read((dir / "initdb.log").string());
      std::filesystem::remove_all(dir);
      throw std::runtime_error("initdb failed: " + log);
    }
    static const struct Remover {
      std::filesystem::path dir;
      ~Remover() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
      }
    } remover{dir};
    return dir;
  }
  static int& counter() {
    static int n = 0;
    return n;
  }
  static std::string read(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  static bool as_root() { return ::geteuid() == 0; }
  static void give_to_server_user(const std::filesystem::path& p) {
    if (!as_root()) return;
    const passwd* pw = ::getpwnam("nobody");
    if (!pw) throw std::runtime_error("running as root and there is no user nobody");
    if (::chown(p.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      throw std::runtime_error("chown " + p.string() + " failed");
    }
  }
  // Directories of test processes that are gone (a crash skipped their destructor).
  static void remove_stale() {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(
             std::filesystem::temp_directory_path(), ec)) {
      const std::string name = e.path().filename().string();
      if (name.rfind("tornado-pg-", 0) != 0) continue;
      const int pid = std::atoi(name.c_str() + 11);
      if (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH) {
        std::filesystem::remove_all(e.path(), ec);
      }
    }
  }
  // Runs argv as the server's user (nobody when we are root), output to `log`; the child
  // gets SIGKILL when this thread exits.
  static pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
    const passwd* pw = as_root() ? ::getpwnam("nobody") : nullptr;
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      if (pw) {
        if (::setgroups(0, nullptr) != 0 || ::setgid(pw->pw_gid) != 0 ||
            ::setuid(pw->pw_uid) != 0) {
          ::_exit(126);
        }
      }
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // after setuid, which clears it
      if (::getppid() != parent) ::_exit(125);
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    return pid;
  }
  static int run_and_wait(const std::vector<std::string>& args, const std::string& log) {
    const pid_t pid = spawn(args, log);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string bin_;
  std::filesystem::path dir_;
  pid_t server_ = -1;
};

}  // namespace tornado::test
