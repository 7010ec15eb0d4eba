// TCPServer (tornado/tcpserver.h).
#include "tornado/tcpserver.h"

#include <linux/filter.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "internal/describe_exception.h"
#include "tornado/ioloop.h"
#include "tornado/log.h"
#include "tornado/process.h"

namespace tornado {

TCPServer::TCPServer(TCPServerOptions options) : options_(std::move(options)) {
  if (options_.ssl_options && !options_.ssl_options->is_server()) {
    throw std::invalid_argument(
        "TCPServer: ssl_options must be a server context "
        "(SSLContext::server)");
  }
  if (options_.max_buffer_size == 0 || options_.read_chunk_size == 0) {
    throw std::invalid_argument("TCPServer: max_buffer_size and read_chunk_size must be > 0");
  }
}

TCPServer::~TCPServer() {
  stop();
  for (int fd : pending_fds_) ::close(fd);
}

void TCPServer::listen(int port, const std::string& address, int family, int backlog,
                       bool reuse_port) {
  add_sockets(bind_sockets(port, address, family, backlog, reuse_port));
}

void TCPServer::add_sockets(const std::vector<int>& fds) {
  for (int fd : fds) {
    // Register first: if the loop refuses this fd, the caller still owns it and the
    // ones already registered stay with the server.
    auto remove = add_accept_handler(
        fd, [this](int conn, const ResolvedAddress& peer) { handle_connection(conn, peer); },
        options_.accept);
    listeners_.push_back({fd, std::move(remove)});
  }
}

void TCPServer::bind(int port, const std::string& address, int family, int backlog,
                     bool reuse_port) {
  auto fds = bind_sockets(port, address, family, backlog, reuse_port);
  pending_fds_.insert(pending_fds_.end(), fds.begin(), fds.end());
}

void TCPServer::start(int num_processes, int max_restarts) {
  if (started_) throw std::logic_error("TCPServer::start called twice");
  // Tornado's pre-fork pattern: the sockets were bound before the fork, each worker
  // accepts on its inherited copies.
  if (num_processes != 1) process::fork_processes(num_processes, max_restarts);
  started_ = true;
  auto fds = std::exchange(pending_fds_, {});
  add_sockets(fds);
}

void TCPServer::stop() {
  // Swap first so a re-entrant stop() (from a callback) sees nothing left to close.
  auto listeners = std::exchange(listeners_, {});
  for (auto& l : listeners) {
    l.remove();
    ::close(l.fd);
  }
}

namespace {

// A classic BPF socket filter that drops TCP segments with SYN set and ACK clear (a new
// connection's first segment) and passes everything else: the handshakes already under way
// complete, nothing new joins the backlog. For a TCP socket the filter sees the packet
// from the TCP header on: byte 13 holds the flags (SYN 0x02, ACK 0x10).
// A Unix socket has no SYN to drop (kNotTcp: stop_gracefully is stop() after the settle).
enum class SynFilter { kAttached, kNotTcp, kFailed };
SynFilter attach_syn_filter(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return SynFilter::kFailed;
  if (addr.ss_family != AF_INET && addr.ss_family != AF_INET6) return SynFilter::kNotTcp;
  static sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 13),
      BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x12),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x02, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, 0),            // a new connection's SYN: dropped
      BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),  // the rest: whole
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
  return ::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) == 0
             ? SynFilter::kAttached
             : SynFilter::kFailed;
}

bool any_pending_connection(const std::vector<int>& fds) {
  std::vector<pollfd> polled;
  for (int fd : fds) polled.push_back({fd, POLLIN, 0});
  return ::poll(polled.data(), polled.size(), 0) > 0;
}

}  // namespace

Task<> TCPServer::stop_gracefully(Duration settle, bool drop_new_syns) {
  if (listeners_.empty()) co_return;
  std::vector<int> fds;
  for (const auto& l : listeners_) fds.push_back(l.fd);
  bool filtered = drop_new_syns;
  for (int fd : fds) {
    if (!drop_new_syns) break;
    const SynFilter attached = attach_syn_filter(fd);
    if (attached == SynFilter::kFailed) {
      gen_log().warn("stop_gracefully: no SYN filter on listening socket {}: {}", fd,
                     std::strerror(errno));
    }
    filtered = filtered && attached == SynFilter::kAttached;
  }
  try {
    co_await sleep(settle);
    // The accept handlers take the backlog as the loop runs; wait until it is empty (nothing
    // new joins it while filtered), bounded.
    const double give_up = IOLoop::current().time() + 10 * settle.count();
    while (filtered && !listeners_.empty() && any_pending_connection(fds) &&
           IOLoop::current().time() < give_up) {
      co_await sleep(std::chrono::milliseconds(1));
    }
  } catch (...) {
    // Cut short (cancelled, a with_timeout): never leave the sockets listening behind the
    // filter, where every new connection would go unanswered. The abrupt stop instead.
    stop();
    throw;
  }
  stop();
}

std::vector<ResolvedAddress> TCPServer::listening_addresses() const {
  std::vector<ResolvedAddress> out;
  for (const auto& l : listeners_) out.push_back(sock_name(l.fd));
  for (int fd : pending_fds_) out.push_back(sock_name(fd));
  return out;
}

Task<> TCPServer::handle_stream(std::shared_ptr<IOStream> /*stream*/, std::string /*address*/) {
  throw std::logic_error("TCPServer::handle_stream is not overridden");
  co_return;
}

std::shared_ptr<IOStream> TCPServer::make_stream(int fd) {
  IOStreamOptions stream_options;
  stream_options.max_buffer_size = options_.max_buffer_size;
  stream_options.read_chunk_size = options_.read_chunk_size;
  std::shared_ptr<IOStream> stream;
  if (options_.ssl_options) {
    stream =
        SSLIOStream::create(fd, /*server_side=*/true, options_.ssl_options, {}, stream_options);
  } else {
    stream = IOStream::create(fd, stream_options);
  }
  return stream;
}

std::string TCPServer::peer_address(const ResolvedAddress& peer) {
  return peer.family == AF_UNIX ? std::string() : peer.host();
}

void TCPServer::handle_connection(int fd, const ResolvedAddress& peer) {
  std::shared_ptr<IOStream> stream = make_stream(fd);
  std::string address = peer_address(peer);
  Task<> serving = handle_stream(std::move(stream), address);
  // As in Tornado, every escaping exception is an application error, StreamClosedError
  // included: a handler that expects clients to leave catches it.
  spawn_detached(std::move(serving), [address = std::move(address)](std::exception_ptr e) {
    app_log().error("Exception in callback handle_stream for {}: {}", address,
                    detail::describe_exception(e));
  });
}

}  // namespace tornado
