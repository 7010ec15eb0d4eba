// Our AsyncHTTPClient against real servers: Python Tornado (tests/interop/
// tornado_http_server.py, run with /usr/bin/python3) and nginx (its own prefix and config
// on an unused port). Each suite skips when its peer is not installed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tornado/httpclient.h"
#include "tornado/tcpclient.h"
#include "tornado/testing.h"

extern char** environ;

namespace httpclient_interop_test {

using namespace tornado;
using httpclient::AsyncHTTPClient;
using httpclient::HTTPRequest;
using httpclient::HTTPResponse;
using tornado::testing::AsyncTest;

namespace {

// A child process we started, stopped (SIGTERM, then reaped) when this goes away.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_path) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) pid_ = -1;
  }
  ~ChildProcess() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  bool started() const { return pid_ > 0; }
  bool exited() {
    if (pid_ <= 0) return true;
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return true;
    }
    return false;
  }

 private:
  pid_t pid_ = -1;
};

int unused_port() {
  auto [fd, port] = tornado::testing::bind_unused_port();
  ::close(fd);
  return port;
}

std::string make_temp_dir(const char* name) {
  std::string tmpl = std::string("/tmp/") + name + "-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A fixture that runs a peer server and waits until it accepts connections.
class PeerTest : public AsyncTest {
 protected:
  void TearDown() override {
    client_.reset();
    child_.reset();
    AsyncTest::TearDown();
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }

  // Starts argv; returns false (with a reason in skip_reason_) if it never listened.
  bool start_peer(const std::vector<std::string>& argv) {
    child_ = std::make_unique<ChildProcess>(argv, dir_ + "/peer.log");
    if (!child_->started()) return false;
    bool ready = run_sync(
        [this]() -> Task<bool> {
          TCPClient tcp;
          for (int i = 0; i < 400; ++i) {
            if (child_->exited()) co_return false;
            try {
              auto stream = co_await tcp.connect("127.0.0.1", port_);
              stream->close();
              co_return true;
            } catch (const StreamClosedError&) {
            }
            co_await sleep(25ms);
          }
          co_return false;
        },
        Duration(15));
    client_ = std::make_unique<AsyncHTTPClient>();
    return ready;
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  HTTPResponse get(const std::string& path, HTTPRequest options = {}) {
    options.url = url(path);
    auto request = std::make_shared<HTTPRequest>(std::move(options));
    return run_sync([this, request]() -> Task<HTTPResponse> {
      return client_->fetch(*request, /*raise_error=*/false);
    });
  }

  std::string dir_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> child_;
  std::unique_ptr<AsyncHTTPClient> client_;
};

// ---- Python Tornado -------------------------------------------------------------------------

class PythonTornadoPeerTest : public PeerTest {
 protected:
  void SetUp() override {
    PeerTest::SetUp();
    if (::access("/usr/bin/python3", X_OK) != 0 ||
        std::system("/usr/bin/python3 -c 'import tornado' >/dev/null 2>&1") != 0) {
      GTEST_SKIP() << "/usr/bin/python3 with python3-tornado is not installed";
    }
    dir_ = make_temp_dir("tornado-interop");
    port_ = unused_port();
    std::string script = std::string(TORNADO_SOURCE_DIR) + "/tests/interop/tornado_http_server.py";
    ASSERT_TRUE(start_peer({"/usr/bin/python3", script, std::to_string(port_)}))
        << "Python Tornado did not start: " << read_file(dir_ + "/peer.log");
  }
};

TEST_F(PythonTornadoPeerTest, HelloWorld) {
  HTTPResponse r = get("/hello");
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, "Hello from Python Tornado");
  EXPECT_EQ(r.headers.get("Content-Type", ""), "text/html; charset=UTF-8");
}

TEST_F(PythonTornadoPeerTest, PostAndPutBodies) {
  HTTPRequest post;
  post.method = "POST";
  post.body = "a=1&b=2";
  EXPECT_EQ(get("/echo", post).body, "POST a=1&b=2");
  HTTPRequest put;
  put.method = "PUT";
  put.body = std::string(100000, 'x');
  EXPECT_EQ(get("/echo", put).body, "PUT " + std::string(100000, 'x'));
}

TEST_F(PythonTornadoPeerTest, ChunkedResponse) {
  std::vector<std::string> lines;
  HTTPRequest o;
  o.header_callback = [&](std::string_view l) { lines.emplace_back(l); };
  HTTPResponse r = get("/chunked", o);
  EXPECT_EQ(r.body, std::string(10, 'a') + std::string(10, 'b'));
  EXPECT_NE(std::find(lines.begin(), lines.end(), "Transfer-Encoding: chunked\r\n"), lines.end());
}

TEST_F(PythonTornadoPeerTest, GzipCompressedResponseIsInflated) {
  std::string expected;
  for (int i = 0; i < 1000; ++i) expected += "tornado ";
  HTTPResponse r = get("/text");
  EXPECT_EQ(r.headers.get("X-Consumed-Content-Encoding", ""), "gzip");
  EXPECT_EQ(r.body, expected);
  HTTPRequest raw;
  raw.decompress_response = false;
  EXPECT_EQ(get("/text", raw).body, expected);  // no Accept-Encoding: sent plain
}

TEST_F(PythonTornadoPeerTest, RedirectsAreFollowed) {
  HTTPResponse r = get("/redirect?to=/hello");
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.effective_url, url("/hello"));
  HTTPRequest post;
  post.method = "POST";
  post.body = "data";
  r = get("/redirect?to=/method&status=303", post);
  EXPECT_EQ(r.body, "GET 0");
}

TEST_F(PythonTornadoPeerTest, KeepAliveReusesTheConnection) {
  std::string first = get("/stream").body;
  EXPECT_EQ(get("/stream").body, first);
  EXPECT_EQ(get("/stream").body, first);
  EXPECT_EQ(client_->connections_opened(), 1u);
}

TEST_F(PythonTornadoPeerTest, RequestHeadersAsTornadoSeesThem) {
  HTTPRequest o;
  o.auth_username = "user";
  o.auth_password = "pass";
  o.headers.set("X-Custom", "v1");
  HTTPResponse r = get("/headers", o);
  EXPECT_NE(r.body.find("\"Authorization\": \"Basic dXNlcjpwYXNz\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"X-Custom\": \"v1\""), std::string::npos);
  EXPECT_NE(r.body.find("\"User-Agent\": \"tornado-cpp/"), std::string::npos);
  EXPECT_NE(r.body.find("\"Host\": \"127.0.0.1:" + std::to_string(port_) + "\""),
            std::string::npos);
}

TEST_F(PythonTornadoPeerTest, ErrorStatusAndHead) {
  HTTPResponse r = get("/status/404");
  EXPECT_EQ(r.code, 404);
  EXPECT_EQ(r.body, "status 404");
  EXPECT_TRUE(r.error);
  HTTPRequest head;
  head.method = "HEAD";
  r = get("/hello", head);
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(get("/hello").body, "Hello from Python Tornado");  // still in step
}

// ---- nginx -----------------------------------------------------------------------------------

std::string find_nginx() {
  for (const char* p : {"/usr/sbin/nginx", "/usr/bin/nginx"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return {};
}

class NginxPeerTest : public PeerTest {
 protected:
  void SetUp() override {
    PeerTest::SetUp();
    std::string nginx = find_nginx();
    if (nginx.empty()) GTEST_SKIP() << "nginx is not installed";
    dir_ = make_temp_dir("nginx-interop");
    port_ = unused_port();
    std::filesystem::create_directories(dir_ + "/html");
    std::filesystem::create_directories(dir_ + "/logs");
    big_.clear();
    for (int i = 0; i < 5000; ++i) big_ += "line " + std::to_string(i) + "\n";
    std::ofstream(dir_ + "/html/big.txt") << big_;
    std::ofstream(dir_ + "/nginx.conf")
        << "worker_processes 1;\nmaster_process off;\ndaemon off;\n"
        << "error_log " << dir_ << "/logs/error.log;\npid " << dir_ << "/nginx.pid;\n"
        << "events { worker_connections 64; }\n"
        << "http {\n  access_log off;\n  default_type text/plain;\n"
        << "  gzip on; gzip_types text/plain; gzip_min_length 1;\n"
        << "  server {\n    listen 127.0.0.1:" << port_ << ";\n    root " << dir_ << "/html;\n"
        << "    location = /hello { return 200 \"hello from nginx\"; }\n"
        << "    location = /redirect { return 302 /hello; }\n"
        << "    location = /connection { gzip off; return 200 \"$connection\"; }\n"
        << "    location = /auth { return 200 \"$http_authorization\"; }\n"
        << "  }\n}\n";
    ASSERT_TRUE(
        start_peer({nginx, "-p", dir_, "-e", dir_ + "/logs/error.log", "-c", dir_ + "/nginx.conf"}))
        << "nginx did not start: " << read_file(dir_ + "/peer.log")
        << read_file(dir_ + "/logs/error.log");
  }
  std::string big_;
};

TEST_F(NginxPeerTest, HelloWorld) {
  HTTPResponse r = get("/hello");
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, "hello from nginx");
  EXPECT_NE(r.headers.get("Server", "").find("nginx"), std::string::npos);
}

TEST_F(NginxPeerTest, KeepAliveReusesTheConnection) {
  std::string first = get("/connection").body;
  EXPECT_FALSE(first.empty());
  EXPECT_EQ(get("/connection").body, first);
  EXPECT_EQ(get("/hello").body, "hello from nginx");
  EXPECT_EQ(get("/connection").body, first);
  EXPECT_EQ(client_->connections_opened(), 1u);
}

TEST_F(NginxPeerTest, GzippedChunkedStaticFileIsInflated) {
  std::vector<std::string> lines;
  HTTPRequest o;
  o.header_callback = [&](std::string_view l) { lines.emplace_back(l); };
  HTTPResponse r = get("/big.txt", o);
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.headers.get("X-Consumed-Content-Encoding", ""), "gzip");
  EXPECT_EQ(r.body, big_);
  EXPECT_NE(std::find(lines.begin(), lines.end(), "Transfer-Encoding: chunked\r\n"), lines.end());
  HTTPRequest plain;
  plain.decompress_response = false;
  r = get("/big.txt", plain);
  EXPECT_EQ(r.headers.get("Content-Length", ""), std::to_string(big_.size()));
  EXPECT_EQ(r.body, big_);
}

TEST_F(NginxPeerTest, RedirectHeadPostAnd404) {
  HTTPResponse r = get("/redirect");
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, "hello from nginx");
  EXPECT_EQ(r.effective_url, url("/hello"));
  HTTPRequest head;
  head.method = "HEAD";
  r = get("/big.txt", head);
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, "");
  HTTPRequest post;
  post.method = "POST";
  post.body = "ignored by nginx";
  EXPECT_EQ(get("/hello", post).body, "hello from nginx");
  r = get("/missing");
  EXPECT_EQ(r.code, 404);
  HTTPRequest auth;
  auth.auth_username = "a";
  auth.auth_password = "b";
  EXPECT_EQ(get("/auth", auth).body, "Basic YTpi");
  EXPECT_EQ(client_->connections_opened(), 1u);  // all on one keep-alive connection
}

}  // namespace

}  // namespace httpclient_interop_test
