// chat_load — the load generator of bench/chat_load.sh: many signed-in chat users on three
// transports (WebSocket, Server-Sent Events, long polling) in rooms of different sizes, posting
// at a set rate; measures delivery latency at every receiving user and counts what each user
// got against what its room was sent. Independent of tornado-cpp (raw sockets, epoll), so it
// drives demos/chat and Python Tornado's chat (bench/peers/tornado_chat.py) alike.
//
//   chat_load --port=8888 --rooms=5000x1,500x8,10x100 --mix=70,20,10 --rate=100
//             [--spread=rooms|users] [--seconds=20] [--settle=3] [--drain=15]
//             [--login=1] [--threads=1] [--posters=4] [--sources=1] [--server_pid=PID]
//             [--max_setup=300] [--body_prefix=m]
//
//   --rooms      room sizes, "SIZExCOUNT,..." (users = their sum); room i is named r<i>
//   --mix        percent of WebSocket, SSE and long-polling users in every room
//   --rate       messages per second, in total; --spread=rooms: every room equally busy
//                (rate / rooms each), users: every user equally talkative (a room's share
//                of the rate is its share of the users)
//   --login=1    sign every user in (POST /auth/login, name u<i>) for the signed `chatuser`
//                cookie (demos/chat); 0: no sign-in (Tornado's demo has none) and one room
//   --sources=N  spread the connections over source addresses 127.0.0.1 .. 127.0.0.N
//   --server_pid the server's pid: its RSS (before the users, after them) and its CPU time
//                over the posting phase are read from /proc and reported
//
// Phases: the XSRF cookie (one GET), sign-in, then every user connects (WebSocket: the 101 and
// the "members" event; SSE: the stream and its "members" event; long polling: its first poll
// sent); --settle seconds later messages are posted for --seconds (WebSocket users on their
// socket, the others with POST /a/message/new on a few keep-alive connections); each body is
// "m_<room>_<seq>_<send time in ns, CLOCK_MONOTONIC>". Receiving ends when every user has
// every message of its room or --drain seconds have passed. Prints one line of "key value"
// pairs for the whole run, then one per transport and one per room size.
//
// Exits 1 when setup fails (a refused sign-in or handshake, a user not ready in --max_setup s);
// lost or duplicated messages are reported (lost, dup), not fatal.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "ws_frames.h"

namespace {

using Clock = std::chrono::steady_clock;

std::string arg(int argc, char** argv, const char* name, const char* fallback) {
  const std::string prefix = std::string("--") + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) return argv[i] + prefix.size();
  }
  return fallback;
}
double num(int argc, char** argv, const char* name, double fallback) {
  std::string v = arg(argc, argv, name, "");
  return v.empty() ? fallback : std::strtod(v.c_str(), nullptr);
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "chat_load: %s\n", what.c_str());
  std::exit(1);
}

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// ---- configuration ----------------------------------------------------------------------------

enum Transport { kWebSocket = 0, kSSE = 1, kPoll = 2 };
const char* const kTransportName[] = {"websocket", "sse", "poll"};

struct Config {
  int port = 8888;
  std::vector<int> room_sizes;
  int mix[3] = {70, 20, 10};
  double rate = 100;
  bool spread_rooms = true;
  double seconds = 20, settle = 3, drain = 15, max_setup = 300;
  bool login = true;
  int threads = 1, posters = 4, sources = 1;
  int server_pid = 0;
  std::string xsrf_cookie;  // the value of the _xsrf cookie, also sent as the argument
};

std::vector<int> parse_rooms(const std::string& spec) {
  std::vector<int> sizes;
  std::size_t pos = 0;
  while (pos < spec.size()) {
    std::size_t comma = spec.find(',', pos);
    if (comma == std::string::npos) comma = spec.size();
    const std::string item = spec.substr(pos, comma - pos);
    const std::size_t x = item.find('x');
    const int size = std::atoi(item.c_str());
    const int count = x == std::string::npos ? 1 : std::atoi(item.c_str() + x + 1);
    if (size <= 0 || count <= 0) die("bad --rooms item '" + item + "' (SIZExCOUNT)");
    for (int i = 0; i < count; ++i) sizes.push_back(size);
    pos = comma + 1;
  }
  return sizes;
}

std::string url_encode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// ---- sockets ----------------------------------------------------------------------------------

int open_socket(const Config& cfg, int index, bool blocking) {
  int fd = socket(AF_INET, SOCK_STREAM | (blocking ? 0 : SOCK_NONBLOCK), 0);
  if (fd < 0) die(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (cfg.sources > 1) {  // 127.0.0.(1 + index % sources), the port chosen at connect
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7f000001u + static_cast<uint32_t>(index % cfg.sources));
    if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
      die(std::string("bind: ") + std::strerror(errno));
    }
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(cfg.port));
  sa.sin_addr.s_addr = htonl(0x7f000001u);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS) {
    die(std::string("connect: ") + std::strerror(errno));
  }
  return fd;
}

// ---- HTTP responses ---------------------------------------------------------------------------

struct Head {
  int status = 0;
  long content_length = -1;
  bool chunked = false;
  std::map<std::string, std::string> cookies;  // from Set-Cookie
  std::string text;
};

// Takes a response head off `in` when it is whole.
bool take_head(std::string& in, Head& h) {
  const std::size_t end = in.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  h = Head{};
  h.text = in.substr(0, end);
  in.erase(0, end + 4);
  if (h.text.size() < 12) die("malformed response head: " + h.text);
  h.status = std::atoi(h.text.c_str() + 9);
  std::size_t pos = h.text.find("\r\n");
  while (pos != std::string::npos) {
    const std::size_t next = h.text.find("\r\n", pos + 2);
    std::string line =
        h.text.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
    const std::size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      if (name == "content-length") h.content_length = std::atol(value.c_str());
      if (name == "transfer-encoding" && value.find("chunked") != std::string::npos)
        h.chunked = true;
      if (name == "set-cookie") {
        const std::size_t eq = value.find('=');
        const std::size_t semi = value.find(';');
        if (eq != std::string::npos && eq < semi) {
          h.cookies[value.substr(0, eq)] =
              value.substr(eq + 1, semi == std::string::npos ? std::string::npos : semi - eq - 1);
        }
      }
    }
    pos = next;
  }
  return true;
}

// Moves the whole chunks at the front of `in` to `out`. 1: the last chunk was seen; 0: more is
// needed; -1: malformed.
int dechunk(std::string& in, std::string& out) {
  std::size_t pos = 0;
  int result = 0;
  for (;;) {
    const std::size_t line_end = in.find("\r\n", pos);
    if (line_end == std::string::npos) break;
    char* end = nullptr;
    const unsigned long size = std::strtoul(in.c_str() + pos, &end, 16);
    if (end == in.c_str() + pos) return -1;
    if (size == 0) {
      if (in.size() < line_end + 4) break;  // the last chunk's empty trailer
      pos = line_end + 4;
      result = 1;
      break;
    }
    if (in.size() < line_end + 2 + size + 2) break;
    out.append(in, line_end + 2, size);
    pos = line_end + 2 + size + 2;
  }
  in.erase(0, pos);
  return result;
}

// A whole response body (Content-Length or chunked) from `in` into `body`: true when complete.
bool take_body(std::string& in, const Head& h, std::string& body) {
  if (h.chunked) {
    const int r = dechunk(in, body);
    if (r < 0) die("malformed chunked body");
    return r == 1;
  }
  const std::size_t len = h.content_length < 0 ? 0 : static_cast<std::size_t>(h.content_length);
  if (in.size() < len) return false;
  body.assign(in, 0, len);
  in.erase(0, len);
  return true;
}

// Blocking: one request on `fd` (keep-alive), its head and body.
void roundtrip(int fd, const std::string& request, Head& head, std::string& body) {
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    die(std::string("write: ") + std::strerror(errno));
  }
  std::string in;
  char buf[16384];
  bool have_head = false;
  body.clear();
  for (;;) {
    if (!have_head) have_head = take_head(in, head);
    if (have_head && take_body(in, head, body)) return;
    const ssize_t r = read(fd, buf, sizeof buf);
    if (r <= 0) die("connection closed during a request");
    in.append(buf, static_cast<std::size_t>(r));
  }
}

// ---- message bodies ---------------------------------------------------------------------------

struct Body {
  int room;
  uint32_t seq;
  int64_t sent_ns;
};

// Every chat message body "m_<room>_<seq>_<ns>" in `text` (a JSON value, compact or with the
// spaces Python's json puts after ':').
template <typename F>
void scan_bodies(std::string_view text, F&& on_body) {
  std::size_t pos = 0;
  while ((pos = text.find("\"body\":", pos)) != std::string_view::npos) {
    pos += 7;
    while (pos < text.size() && text[pos] == ' ') ++pos;
    if (text.substr(pos, 3) != "\"m_") continue;
    const char* p = text.data() + pos + 3;
    char* end = nullptr;
    Body b{};
    b.room = static_cast<int>(std::strtol(p, &end, 10));
    if (*end != '_') continue;
    b.seq = static_cast<uint32_t>(std::strtoul(end + 1, &end, 10));
    if (*end != '_') continue;
    b.sent_ns = std::strtoll(end + 1, &end, 10);
    on_body(b);
  }
}

// The string value of the last `"key":"value"` in `text` ("" if none).
std::string last_string_value(std::string_view text, std::string_view key) {
  const std::string k = "\"" + std::string(key) + "\":";
  std::size_t pos = text.rfind(k);
  if (pos == std::string_view::npos) return "";
  pos += k.size();
  while (pos < text.size() && text[pos] == ' ') ++pos;
  if (pos >= text.size() || text[pos] != '"') return "";
  const std::size_t end = text.find('"', pos + 1);
  return end == std::string_view::npos ? "" : std::string(text.substr(pos + 1, end - pos - 1));
}

// ---- WebSocket frames -------------------------------------------------------------------------

using bench::client_frame;
using bench::take_frames;

// ---- shared state -----------------------------------------------------------------------------

enum Phase { kSetup = 0, kSending = 1, kDraining = 2, kStop = 3 };

struct Shared {
  std::atomic<int> phase{kSetup};
  std::atomic<long> ready{0};
  std::vector<std::atomic<uint32_t>> room_sent;    // seq numbers handed out per room
  std::vector<std::atomic<uint32_t>> room_posted;  // written on a WebSocket or answered 200
  std::vector<std::atomic<uint32_t>> room_failed;  // posts the server refused
  std::atomic<long> received_unique{0};
  explicit Shared(std::size_t rooms) : room_sent(rooms), room_posted(rooms), room_failed(rooms) {}
};

struct Stats {
  std::vector<float> latency_ms[3];  // per receiving transport
  std::map<int, std::vector<float>> latency_by_size;
  long received = 0, dup = 0, wrong_room = 0, reloads = 0, dropped = 0, reconnects = 0;
  long post_errors = 0, sent = 0, bytes_in = 0, connect_errors = 0;
};

struct User {
  int id = 0, room = 0;
  Transport transport = kWebSocket;
  std::string cookie;  // the Cookie header's value
  int fd = -1;
  bool connected = false, head_done = false, ready = false;
  Head head;
  std::string in, out, body, sse;
  std::string cursor;
  std::vector<uint8_t> seen;  // by seq
  long unique = 0;
};

struct Poster {  // a keep-alive connection posting for SSE and long-polling users
  int fd = -1;
  bool connected = false, busy = false, head_done = false;
  Head head;
  std::string in, out, body;
  int busy_room = 0;
};

// ---- a worker: one thread, one epoll, a share of the users ------------------------------------

class Worker {
 public:
  Worker(const Config& cfg, Shared& shared, int index, std::vector<User> users)
      : cfg_(cfg), shared_(shared), index_(index), users_(std::move(users)), rng_(index + 1) {
    ep_ = epoll_create1(0);
    for (const auto& u : users_)
      room_users_[u.room].push_back(static_cast<int>(&u - users_.data()));
    for (const auto& [room, list] : room_users_) rooms_.push_back(room);
  }
  ~Worker() { close(ep_); }

  void run() {
    // WebSocket and SSE users first, pollers last: each join wakes every waiting poll (a
    // presence change), which the setup does not need to pay for.
    std::vector<int> order(users_.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return users_[a].transport < users_[b].transport; });
    pending_connects_.assign(order.begin(), order.end());
    for (int p = 0; p < cfg_.posters; ++p) posters_.emplace_back();
    for (std::size_t p = 0; p < posters_.size(); ++p) connect_poster(static_cast<int>(p));
    std::vector<epoll_event> events(1024);
    char chunk[65536];
    double next_send = 0;
    while (shared_.phase.load() != kStop) {
      start_connects();
      const int phase = shared_.phase.load();
      int timeout = 50;
      if (phase == kSending && my_rate() > 0) {
        const double t = seconds_since_start();
        if (next_send == 0) next_send = t;
        while (next_send <= t) {
          send_one();
          next_send += 1.0 / my_rate();
        }
        timeout = std::clamp(static_cast<int>((next_send - t) * 1000), 0, 50);
      }
      const int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), timeout);
      for (int e = 0; e < n; ++e) {
        const uint64_t key = events[e].data.u64;
        if (key & kPosterBit) {
          on_poster_event(static_cast<int>(key & ~kPosterBit), events[e].events, chunk,
                          sizeof chunk);
        } else {
          on_user_event(static_cast<int>(key), events[e].events, chunk, sizeof chunk);
        }
      }
    }
    for (auto& u : users_) {
      if (u.fd >= 0) close(u.fd);
    }
    for (auto& p : posters_) {
      if (p.fd >= 0) close(p.fd);
    }
  }

  Stats& stats() { return stats_; }
  const std::vector<User>& users() const { return users_; }
  Clock::time_point send_start;

 private:
  static constexpr uint64_t kPosterBit = 1ull << 40;
  static constexpr std::size_t kMaxConnecting = 200;

  double seconds_since_start() const {
    return std::chrono::duration<double>(Clock::now() - send_start).count();
  }
  double my_rate() const {
    return cfg_.rate * static_cast<double>(users_.size()) / static_cast<double>(total_users());
  }
  std::size_t total_users() const {
    std::size_t n = 0;
    for (int s : cfg_.room_sizes) n += static_cast<std::size_t>(s);
    return n;
  }

  // ---- connecting ----

  void start_connects() {
    while (!pending_connects_.empty() && connecting_ < kMaxConnecting) {
      const int i = pending_connects_.front();
      pending_connects_.pop_front();
      User& u = users_[i];
      u.fd = open_socket(cfg_, u.id, false);
      epoll_event ev{EPOLLIN | EPOLLOUT, {.u64 = static_cast<uint64_t>(i)}};
      epoll_ctl(ep_, EPOLL_CTL_ADD, u.fd, &ev);
      u.out = first_request(u);
      ++connecting_;
    }
  }

  std::string first_request(User& u) {
    const std::string room = "r" + std::to_string(u.room);
    std::string common = "Host: 127.0.0.1\r\nCookie: " + u.cookie + "\r\n";
    switch (u.transport) {
      case kWebSocket:
        return "GET /a/message/socket?room=" + room + " HTTP/1.1\r\n" + common +
               "Upgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
      case kSSE:
        return "GET /a/message/events?room=" + room + " HTTP/1.1\r\n" + common +
               "Accept: text/event-stream\r\n\r\n";
      case kPoll:
        return poll_request(u);
    }
    return "";
  }

  std::string poll_request(const User& u) {
    const std::string form = "_xsrf=" + url_encode(cfg_.xsrf_cookie) + "&room=r" +
                             std::to_string(u.room) + "&cursor=" + url_encode(u.cursor);
    return "POST /a/message/updates HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: " + u.cookie +
           "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
           std::to_string(form.size()) + "\r\n\r\n" + form;
  }

  void mark_ready(User& u) {
    if (u.ready) return;
    u.ready = true;
    --connecting_;
    shared_.ready.fetch_add(1);
  }

  // ---- user events ----

  void flush(int fd, std::string& out, uint64_t key) {
    while (!out.empty()) {
      const ssize_t w = ::write(fd, out.data(), out.size());
      if (w < 0) {
        if (errno == EAGAIN) break;
        out.clear();  // the read side reports the loss
        break;
      }
      out.erase(0, static_cast<std::size_t>(w));
    }
    epoll_event ev{EPOLLIN | (out.empty() ? 0u : static_cast<uint32_t>(EPOLLOUT)), {.u64 = key}};
    epoll_ctl(ep_, EPOLL_CTL_MOD, fd, &ev);
  }

  void on_user_event(int i, uint32_t events, char* chunk, std::size_t size) {
    User& u = users_[i];
    if (events & EPOLLOUT) {
      if (!u.connected) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(u.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
          // A poller reconnecting is retried (a few times); a first connection must succeed.
          if (!u.ready || ++stats_.connect_errors > 100) {
            die(std::string("connect: ") + std::strerror(err));
          }
          on_user_closed(i);
          return;
        }
        u.connected = true;
        if (u.transport == kPoll) mark_ready(u);  // its first poll is on its way
      }
      flush(u.fd, u.out, static_cast<uint64_t>(i));
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
    const ssize_t r = ::read(u.fd, chunk, size);
    if (r <= 0) {
      if (r < 0 && errno == EAGAIN) return;
      on_user_closed(i);
      return;
    }
    stats_.bytes_in += r;
    u.in.append(chunk, static_cast<std::size_t>(r));
    switch (u.transport) {
      case kWebSocket:
        on_ws_data(u);
        break;
      case kSSE:
        on_sse_data(u);
        break;
      case kPoll:
        on_poll_data(i);
        break;
    }
  }

  void on_user_closed(int i) {
    User& u = users_[i];
    epoll_ctl(ep_, EPOLL_CTL_DEL, u.fd, nullptr);
    close(u.fd);
    u.fd = -1;
    if (u.transport == kPoll && u.ready) {  // a keep-alive connection ended: poll again
      ++stats_.reconnects;
      u.fd = open_socket(cfg_, u.id, false);
      u.connected = false;
      u.head_done = false;
      u.in.clear();
      u.body.clear();
      u.out = poll_request(u);
      epoll_event ev{EPOLLIN | EPOLLOUT, {.u64 = static_cast<uint64_t>(i)}};
      epoll_ctl(ep_, EPOLL_CTL_ADD, u.fd, &ev);
      return;
    }
    if (!u.ready)
      die(std::string(kTransportName[u.transport]) + " user u" + std::to_string(u.id) +
          " closed during setup" + (u.head_done ? ": " + u.head.text : ""));
    ++stats_.dropped;  // counted; its later messages show as lost
  }

  bool need_head(User& u, int expected_status) {
    if (u.head_done) return true;
    if (!take_head(u.in, u.head)) return false;
    u.head_done = true;
    if (u.head.status != expected_status) {
      die(std::string(kTransportName[u.transport]) + " user u" + std::to_string(u.id) +
          " refused: " + u.head.text);
    }
    return true;
  }

  void on_ws_data(User& u) {
    if (!need_head(u, 101)) return;
    const bool ok = take_frames(u.in, [&](std::string_view m) {
      if (!u.ready && m.find("\"event\":\"members\"") != std::string_view::npos) mark_ready(u);
      deliver(u, m);
    });
    if (!ok) {
      epoll_ctl(ep_, EPOLL_CTL_DEL, u.fd, nullptr);
      close(u.fd);
      u.fd = -1;
      ++stats_.dropped;
    }
  }

  void on_sse_data(User& u) {
    if (!need_head(u, 200)) return;
    if (u.head.chunked) {
      if (dechunk(u.in, u.sse) < 0) die("malformed SSE chunk");
    } else {
      u.sse += u.in;
      u.in.clear();
    }
    std::size_t pos = 0, end;
    while ((end = u.sse.find("\n\n", pos)) != std::string::npos) {
      const std::string_view event = std::string_view(u.sse).substr(pos, end - pos);
      if (!u.ready && event.find("event: members") != std::string_view::npos) mark_ready(u);
      if (event.find("event: reload") != std::string_view::npos) ++stats_.reloads;
      deliver(u, event);
      pos = end + 2;
    }
    u.sse.erase(0, pos);
  }

  void on_poll_data(int i) {
    User& u = users_[i];
    for (;;) {
      if (!u.head_done) {
        if (!take_head(u.in, u.head)) return;
        u.head_done = true;
        u.body.clear();
      }
      if (!take_body(u.in, u.head, u.body)) return;
      u.head_done = false;
      if (u.head.status != 200) {
        die("poll of u" + std::to_string(u.id) + " answered " + u.head.text + "\n" + u.body);
      }
      if (u.body.find("\"reload\":true") != std::string::npos ||
          u.body.find("\"reload\": true") != std::string::npos) {
        ++stats_.reloads;
      }
      deliver(u, u.body);
      // demos/chat answers the next cursor; Tornado's client sends the last message's id.
      std::string next = last_string_value(u.body, "cursor");
      if (next.empty() && u.body.find("\"cursor\"") == std::string::npos) {
        next = last_string_value(u.body, "id");
        if (next.empty()) next = u.cursor;
      }
      u.cursor = next;
      if (shared_.phase.load() == kStop) return;
      u.out += poll_request(u);
      flush(u.fd, u.out, static_cast<uint64_t>(i));
    }
  }

  // Counts the chat messages in `text` for user u.
  void deliver(User& u, std::string_view text) {
    scan_bodies(text, [&](const Body& b) {
      const int64_t now = now_ns();
      if (b.room != u.room) {
        ++stats_.wrong_room;
        return;
      }
      if (u.seen.size() <= b.seq) u.seen.resize(b.seq + 64, 0);
      ++stats_.received;
      if (u.seen[b.seq]) {
        ++stats_.dup;
        return;
      }
      u.seen[b.seq] = 1;
      ++u.unique;
      shared_.received_unique.fetch_add(1, std::memory_order_relaxed);
      const float ms = static_cast<float>(now - b.sent_ns) / 1e6f;
      stats_.latency_ms[u.transport].push_back(ms);
      stats_.latency_by_size[cfg_.room_sizes[b.room]].push_back(ms);
    });
  }

  // ---- sending ----

  void send_one() {
    int user;
    if (cfg_.spread_rooms) {
      // Every room of the whole run is equally busy: pick a room; send from it only if this
      // worker holds a share of it (the other workers hold the rest, at their own rate).
      std::uniform_int_distribution<std::size_t> pick_room(0, rooms_.size() - 1);
      const auto& list = room_users_[rooms_[pick_room(rng_)]];
      std::uniform_int_distribution<std::size_t> pick(0, list.size() - 1);
      user = list[pick(rng_)];
    } else {
      std::uniform_int_distribution<std::size_t> pick(0, users_.size() - 1);
      user = static_cast<int>(pick(rng_));
    }
    User& u = users_[user];
    const uint32_t seq = shared_.room_sent[u.room].fetch_add(1);
    ++stats_.sent;
    // Stamped now, when the schedule says it is sent: a post that waits for a free connection
    // (the server answering posts slowly) waits inside the latency measured.
    const int64_t stamp = now_ns();
    const std::string body =
        "m_" + std::to_string(u.room) + "_" + std::to_string(seq) + "_" + std::to_string(stamp);
    if (u.transport == kWebSocket && u.fd >= 0) {
      u.out += client_frame("{\"body\":\"" + body + "\"}");
      flush(u.fd, u.out, static_cast<uint64_t>(user));
      shared_.room_posted[u.room].fetch_add(1);
      return;
    }
    // SSE and long-polling users post with POST /a/message/new.
    queue_.push_back({user, seq, stamp});
    pump_posters();
  }

  struct Queued {
    int user;
    uint32_t seq;
    int64_t stamp;
  };

  void connect_poster(int p) {
    Poster& ps = posters_[p];
    ps = Poster{};
    ps.fd = open_socket(cfg_, index_ * 1000 + p, false);
    epoll_event ev{EPOLLIN | EPOLLOUT, {.u64 = kPosterBit | static_cast<uint64_t>(p)}};
    epoll_ctl(ep_, EPOLL_CTL_ADD, ps.fd, &ev);
  }

  void pump_posters() {
    for (std::size_t p = 0; p < posters_.size() && !queue_.empty(); ++p) {
      Poster& ps = posters_[p];
      if (!ps.connected || ps.busy) continue;
      const Queued q = queue_.front();
      queue_.pop_front();
      const User& u = users_[q.user];
      const std::string form = "_xsrf=" + url_encode(cfg_.xsrf_cookie) + "&room=r" +
                               std::to_string(u.room) + "&body=m_" + std::to_string(u.room) + "_" +
                               std::to_string(q.seq) + "_" + std::to_string(q.stamp);
      ps.out += "POST /a/message/new HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: " + u.cookie +
                "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
                std::to_string(form.size()) + "\r\n\r\n" + form;
      ps.busy = true;
      ps.busy_room = u.room;
      flush(ps.fd, ps.out, kPosterBit | p);
    }
  }

  void on_poster_event(int p, uint32_t events, char* chunk, std::size_t size) {
    Poster& ps = posters_[p];
    if (events & EPOLLOUT) {
      if (!ps.connected) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(ps.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) die(std::string("poster connect: ") + std::strerror(err));
        ps.connected = true;
      }
      flush(ps.fd, ps.out, kPosterBit | p);
      pump_posters();
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
    const ssize_t r = ::read(ps.fd, chunk, size);
    if (r <= 0) {
      if (r < 0 && errno == EAGAIN) return;
      epoll_ctl(ep_, EPOLL_CTL_DEL, ps.fd, nullptr);
      close(ps.fd);
      if (ps.busy) {
        ++stats_.post_errors;
        shared_.room_failed[ps.busy_room].fetch_add(1);
      }
      connect_poster(p);
      return;
    }
    ps.in.append(chunk, static_cast<std::size_t>(r));
    if (!ps.head_done) {
      if (!take_head(ps.in, ps.head)) return;
      ps.head_done = true;
      ps.body.clear();
    }
    if (!take_body(ps.in, ps.head, ps.body)) return;
    ps.head_done = false;
    if (ps.head.status == 200) {
      shared_.room_posted[ps.busy_room].fetch_add(1);
    } else {
      ++stats_.post_errors;
      shared_.room_failed[ps.busy_room].fetch_add(1);
      if (stats_.post_errors <= 3)
        std::fprintf(stderr, "chat_load: post refused: %s\n", ps.head.text.c_str());
    }
    ps.busy = false;
    pump_posters();
  }

  const Config& cfg_;
  Shared& shared_;
  int index_;
  std::vector<User> users_;
  std::map<int, std::vector<int>> room_users_;
  std::vector<int> rooms_;
  std::mt19937_64 rng_;
  int ep_;
  std::deque<int> pending_connects_;
  std::size_t connecting_ = 0;
  std::vector<Poster> posters_;
  std::deque<Queued> queue_;
  Stats stats_;
};

// ---- setup: XSRF cookie, sign-in ----------------------------------------------------------

std::string fetch_xsrf(const Config& cfg, const std::string& path) {
  const int fd = open_socket(cfg, 0, true);
  Head h;
  std::string body;
  roundtrip(fd, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", h, body);
  close(fd);
  auto it = h.cookies.find("_xsrf");
  if (it == h.cookies.end()) die("no _xsrf cookie from GET " + path + ": " + h.text);
  return it->second;
}

// Signs users [begin, end) in on one keep-alive connection; fills their cookies.
void sign_in(const Config& cfg, std::vector<User>& users, std::size_t begin, std::size_t end) {
  int fd = open_socket(cfg, static_cast<int>(begin), true);
  for (std::size_t i = begin; i < end; ++i) {
    const std::string form = "_xsrf=" + url_encode(cfg.xsrf_cookie) + "&name=u" +
                             std::to_string(users[i].id) + "&next=%2F";
    const std::string req =
        "POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: _xsrf=" + cfg.xsrf_cookie +
        "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
        std::to_string(form.size()) + "\r\n\r\n" + form;
    Head h;
    std::string body;
    roundtrip(fd, req, h, body);
    auto it = h.cookies.find("chatuser");
    if (h.status != 302 || it == h.cookies.end()) die("sign-in refused: " + h.text);
    users[i].cookie += "; chatuser=" + it->second;
  }
  close(fd);
}

// ---- /proc ------------------------------------------------------------------------------------

long rss_kib(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}
double cpu_seconds(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const std::size_t close_paren = s.rfind(')');
  if (close_paren == std::string::npos) return 0;
  std::vector<std::string> fields;
  std::size_t pos = close_paren + 2;
  while (pos < s.size()) {
    const std::size_t sp = s.find(' ', pos);
    fields.push_back(s.substr(pos, sp - pos));
    if (sp == std::string::npos) break;
    pos = sp + 1;
  }
  if (fields.size() < 13) return 0;
  // fields[0] is field 3 (state): utime is field 14, stime 15.
  return (std::atof(fields[11].c_str()) + std::atof(fields[12].c_str())) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

double own_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double percentile(std::vector<float>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  cfg.port = static_cast<int>(num(argc, argv, "port", 8888));
  cfg.room_sizes = parse_rooms(arg(argc, argv, "rooms", "5000x1,500x8,10x100"));
  {
    const std::string mix = arg(argc, argv, "mix", "70,20,10");
    if (std::sscanf(mix.c_str(), "%d,%d,%d", &cfg.mix[0], &cfg.mix[1], &cfg.mix[2]) != 3 ||
        cfg.mix[0] + cfg.mix[1] + cfg.mix[2] != 100) {
      die("--mix is three percentages adding up to 100 (WebSocket,SSE,poll)");
    }
  }
  cfg.rate = num(argc, argv, "rate", 100);
  cfg.spread_rooms = arg(argc, argv, "spread", "rooms") == "rooms";
  cfg.seconds = num(argc, argv, "seconds", 20);
  cfg.settle = num(argc, argv, "settle", 3);
  cfg.drain = num(argc, argv, "drain", 15);
  cfg.max_setup = num(argc, argv, "max_setup", 300);
  cfg.login = num(argc, argv, "login", 1) != 0;
  cfg.threads = std::max(1, static_cast<int>(num(argc, argv, "threads", 1)));
  cfg.posters = std::max(1, static_cast<int>(num(argc, argv, "posters", 4)));
  cfg.sources = std::clamp(static_cast<int>(num(argc, argv, "sources", 1)), 1, 250);
  cfg.server_pid = static_cast<int>(num(argc, argv, "server_pid", 0));
  if (!cfg.login && cfg.room_sizes.size() != 1) die("--login=0 (Tornado's demo) has one room");

  // The users: room by room; the transports in --mix proportions over the whole run, interleaved
  // (i * 37 % 100 walks 0..99 in a scattered order: every 100 users hold the exact mix, a room
  // of 10 holds about it).
  std::vector<User> all;
  for (std::size_t r = 0; r < cfg.room_sizes.size(); ++r) {
    for (int k = 0; k < cfg.room_sizes[r]; ++k) {  // user u<all.size()>
      User u;
      u.id = static_cast<int>(all.size());
      u.room = static_cast<int>(r);
      const int slot = (static_cast<int>(all.size()) * 37) % 100;
      u.transport = slot < cfg.mix[0] ? kWebSocket : slot < cfg.mix[0] + cfg.mix[1] ? kSSE : kPoll;
      all.push_back(std::move(u));
    }
  }
  const auto setup_start = Clock::now();
  cfg.xsrf_cookie = fetch_xsrf(cfg, cfg.login ? "/auth/login" : "/");
  for (auto& u : all) u.cookie = "_xsrf=" + cfg.xsrf_cookie;
  if (cfg.login) {
    std::vector<std::thread> ts;
    const std::size_t share = (all.size() + 3) / 4;
    for (std::size_t b = 0; b < all.size(); b += share) {
      ts.emplace_back(sign_in, std::cref(cfg), std::ref(all), b, std::min(all.size(), b + share));
    }
    for (auto& t : ts) t.join();
  }
  const double login_s = std::chrono::duration<double>(Clock::now() - setup_start).count();
  const long rss_before = cfg.server_pid ? rss_kib(cfg.server_pid) : 0;

  // Users dealt to the workers round robin: each holds a share of every room.
  Shared shared(cfg.room_sizes.size());
  std::vector<std::vector<User>> shares(cfg.threads);
  for (std::size_t i = 0; i < all.size(); ++i) shares[i % cfg.threads].push_back(std::move(all[i]));
  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < cfg.threads; ++t) {
    workers.push_back(std::make_unique<Worker>(cfg, shared, t, std::move(shares[t])));
  }
  std::vector<std::thread> threads;
  const auto connect_start = Clock::now();
  for (auto& w : workers) threads.emplace_back([&w] { w->run(); });
  const long users = static_cast<long>(all.size());
  auto stop = [&](int code) {
    shared.phase.store(kStop);
    for (auto& t : threads) t.join();
    if (code) std::exit(code);
  };
  while (shared.ready.load() < users) {
    if (std::chrono::duration<double>(Clock::now() - connect_start).count() > cfg.max_setup) {
      std::fprintf(stderr, "chat_load: only %ld of %ld users ready after %.0f s\n",
                   shared.ready.load(), users, cfg.max_setup);
      stop(1);
    }
    usleep(20000);
  }
  const double connect_s = std::chrono::duration<double>(Clock::now() - connect_start).count();
  // Settling: --settle seconds, then (with --server_pid) until the server is idle (under 5 % of
  // a CPU over half a second: the joins' presence events all written), at most --max_setup.
  usleep(static_cast<useconds_t>(cfg.settle * 1e6));
  const auto settle_start = Clock::now();
  while (cfg.server_pid &&
         std::chrono::duration<double>(Clock::now() - settle_start).count() < cfg.max_setup) {
    const double c0 = cpu_seconds(cfg.server_pid);
    usleep(500000);
    if (cpu_seconds(cfg.server_pid) - c0 < 0.025) break;
  }
  const double settle_s =
      cfg.settle + std::chrono::duration<double>(Clock::now() - settle_start).count();
  const long rss_after = cfg.server_pid ? rss_kib(cfg.server_pid) : 0;

  // Posting, then receiving until every user has its room's messages (or --drain).
  const double cpu0 = cfg.server_pid ? cpu_seconds(cfg.server_pid) : 0;
  const double client_cpu0 = own_cpu_seconds();
  for (auto& w : workers) w->send_start = Clock::now();
  shared.phase.store(kSending);
  usleep(static_cast<useconds_t>(cfg.seconds * 1e6));
  shared.phase.store(kDraining);
  const auto drain_start = Clock::now();
  // Expected: every message posted (written on a WebSocket, or a post answered 200), times the
  // users of its room. Done when every user has them and no post is still waiting.
  long expected = 0, unposted = 0;
  for (;;) {
    expected = 0;
    unposted = 0;
    for (std::size_t r = 0; r < cfg.room_sizes.size(); ++r) {
      const long posted = shared.room_posted[r].load();
      expected += posted * cfg.room_sizes[r];
      unposted +=
          static_cast<long>(shared.room_sent[r].load()) - posted - shared.room_failed[r].load();
    }
    if (unposted == 0 && shared.received_unique.load() >= expected) break;
    if (std::chrono::duration<double>(Clock::now() - drain_start).count() > cfg.drain) break;
    usleep(20000);
  }
  const double drain_s = std::chrono::duration<double>(Clock::now() - drain_start).count();
  const double cpu1 = cfg.server_pid ? cpu_seconds(cfg.server_pid) : 0;
  const double client_cpu = own_cpu_seconds() - client_cpu0;
  const double run_s = cfg.seconds + drain_s;
  stop(0);

  // Results: totals, then per transport and per room size.
  Stats total;
  long lost = 0, users_without = 0;  // users that got none of their room's messages
  std::map<int, long> lost_by_size;
  long lost_by_transport[3] = {0, 0, 0};
  for (auto& w : workers) {
    Stats& s = w->stats();
    for (int t = 0; t < 3; ++t) {
      total.latency_ms[t].insert(total.latency_ms[t].end(), s.latency_ms[t].begin(),
                                 s.latency_ms[t].end());
    }
    for (auto& [size, v] : s.latency_by_size) {
      auto& dst = total.latency_by_size[size];
      dst.insert(dst.end(), v.begin(), v.end());
    }
    total.received += s.received;
    total.dup += s.dup;
    total.wrong_room += s.wrong_room;
    total.reloads += s.reloads;
    total.dropped += s.dropped;
    total.reconnects += s.reconnects;
    total.post_errors += s.post_errors;
    total.sent += s.sent;
    total.bytes_in += s.bytes_in;
    for (const User& u : w->users()) {
      const long should = static_cast<long>(shared.room_posted[u.room].load());
      const long missing = std::max(0L, should - u.unique);
      lost += missing;
      if (should > 0 && u.unique == 0) ++users_without;
      lost_by_size[cfg.room_sizes[u.room]] += missing;
      lost_by_transport[u.transport] += missing;
    }
  }
  std::vector<float> every;
  for (auto& v : total.latency_ms) every.insert(every.end(), v.begin(), v.end());
  long per_transport_users[3] = {0, 0, 0};
  for (auto& w : workers) {
    for (const User& u : w->users()) ++per_transport_users[u.transport];
  }
  const double cpu = cpu1 - cpu0;
  std::printf(
      "users %ld websocket %ld sse %ld poll %ld rooms %zu login_s %.1f connect_s %.1f settle_s "
      "%.1f "
      "sent %ld "
      "post_errors %ld unposted %ld expected %ld received %ld lost %ld users_without %ld dup %ld "
      "wrong_room %ld reloads %ld "
      "dropped %ld reconnects %ld drain_s %.1f p50_ms %.1f p99_ms %.1f max_ms %.1f "
      "rss_before_kib %ld rss_after_kib %ld kib_per_user %.2f server_cpu_s %.2f "
      "deliveries_per_cpu_s %.0f client_cpu_s %.2f run_s %.1f mib_in %.1f\n",
      users, per_transport_users[0], per_transport_users[1], per_transport_users[2],
      cfg.room_sizes.size(), login_s, connect_s, settle_s, total.sent, total.post_errors, unposted,
      expected, total.received, lost, users_without, total.dup, total.wrong_room, total.reloads,
      total.dropped, total.reconnects, drain_s, percentile(every, 0.5), percentile(every, 0.99),
      percentile(every, 1.0), rss_before, rss_after,
      static_cast<double>(rss_after - rss_before) / static_cast<double>(users), cpu,
      cpu > 0 ? static_cast<double>(total.received) / cpu : 0.0, client_cpu, run_s,
      static_cast<double>(total.bytes_in) / (1 << 20));
  for (int t = 0; t < 3; ++t) {
    if (!per_transport_users[t]) continue;
    std::printf("transport %s users %ld received %zu lost %ld p50_ms %.1f p99_ms %.1f\n",
                kTransportName[t], per_transport_users[t], total.latency_ms[t].size(),
                lost_by_transport[t], percentile(total.latency_ms[t], 0.5),
                percentile(total.latency_ms[t], 0.99));
  }
  std::map<int, int> rooms_of_size;
  for (int s : cfg.room_sizes) ++rooms_of_size[s];
  for (auto& [size, count] : rooms_of_size) {
    auto& v = total.latency_by_size[size];
    std::printf("room_size %d rooms %d received %zu lost %ld p50_ms %.1f p99_ms %.1f\n", size,
                count, v.size(), lost_by_size[size], percentile(v, 0.5), percentile(v, 0.99));
  }
  return 0;
}
