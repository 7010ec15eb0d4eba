// tornado/netutil.h — listening sockets, the accept loop and name resolution
// (Tornado's `netutil`).
//
//   bind_sockets    one non-blocking listening socket per address a host name resolves to
//                   (IPv4 and IPv6, IPV6_V6ONLY, SO_REUSEADDR, optional SO_REUSEPORT).
//   bind_unix_socket  a listening AF_UNIX socket at a path (a stale socket file is replaced).
//   add_accept_handler  accepts connections on a listening socket from the IOLoop.
//   is_valid_ip     true for a numeric IPv4 or IPv6 address.
//   Resolver        async name resolution: DefaultExecutorResolver (getaddrinfo on the
//                   IOLoop's executor, the default), OverrideResolver (fixed mappings).
//
//   std::vector<int> fds = bind_sockets(8888, "localhost");     // 127.0.0.1 (and ::1)
//   auto remove = add_accept_handler(fds[0], [](int conn, const ResolvedAddress& peer) {
//     /* own `conn` from here on */
//   });
//   auto addrs = co_await DefaultExecutorResolver().resolve("localhost", 80);
//
// Thread rule: bind_* and is_valid_ip are plain functions, safe on any thread.
// add_accept_handler, its remover and Resolver::resolve belong to the current IOLoop's thread.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "tornado/ioloop.h"
#include "tornado/task.h"

namespace tornado {

// One socket address (IPv4, IPv6 or AF_UNIX) with its family, as getaddrinfo returns it.
struct ResolvedAddress {
  int family = AF_UNSPEC;
  sockaddr_storage storage{};
  socklen_t length = 0;

  // Builds an address from a numeric host ("127.0.0.1", "::1", "fe80::1%lo") and a port.
  // Throws std::invalid_argument if `host` is not a numeric IP address.
  static ResolvedAddress from_ip(const std::string& host, int port);
  // Copies `length` bytes of `addr`. Throws std::invalid_argument if it does not fit.
  static ResolvedAddress from_sockaddr(const sockaddr* addr, socklen_t length);

  const sockaddr* sockaddr_ptr() const noexcept {
    return reinterpret_cast<const sockaddr*>(&storage);
  }
  // The numeric host ("127.0.0.1", "::1"); the path for AF_UNIX; "" if empty.
  std::string host() const;
  // The port (0 for AF_UNIX or empty).
  int port() const noexcept;
  // "127.0.0.1:80", "[::1]:80", or the AF_UNIX path.
  std::string to_string() const;

  bool operator==(const ResolvedAddress& other) const noexcept;
};

// The local or peer address of a socket. Throws std::system_error on failure.
ResolvedAddress sock_name(int fd);
ResolvedAddress peer_name(int fd);

// Creates listening sockets bound to `port` on every address `address` resolves to.
// `address` "" means all interfaces (0.0.0.0 and ::); a host name binds every address it
// resolves to (duplicates skipped). `family` restricts to AF_INET or AF_INET6. Port 0
// picks a free port, and the same port is then used for every address, so one port
// number serves all of them. Each socket: SOCK_NONBLOCK|SOCK_CLOEXEC, SO_REUSEADDR,
// IPV6_V6ONLY on IPv6 (so the v4 and v6 sockets do not collide), SO_REUSEPORT if
// `reuse_port`. `backlog` goes to listen(2) (the kernel caps it at
// /proc/sys/net/core/somaxconn). The caller owns the returned fds.
// Throws std::system_error (getaddrinfo, bind: EADDRINUSE ...) after closing any socket
// already made, std::invalid_argument for a bad port or backlog.
std::vector<int> bind_sockets(int port, const std::string& address = "", int family = AF_UNSPEC,
                              int backlog = 128, bool reuse_port = false);

// Creates a listening AF_UNIX stream socket at `path`, chmod'ed to `mode` (default 0600).
// A socket file already at `path` is removed first (a stale server's); any other kind of
// file there is refused with std::invalid_argument, as is a path too long for sun_path.
// Throws std::system_error if bind/listen fail. The caller owns the fd.
int bind_unix_socket(const std::string& path, mode_t mode = 0600, int backlog = 128);

// Called with each accepted connection: a non-blocking, close-on-exec fd the callee now
// owns, and the peer address (family AF_UNIX with an empty path for unix sockets).
using AcceptCallback = std::function<void(int fd, const ResolvedAddress& peer)>;

struct AcceptOptions {
  // Connections accepted per readiness event before yielding to the loop (the rest are
  // accepted on the next iteration), so one busy listener cannot starve the loop.
  int max_per_event = 128;
  // After EMFILE/ENFILE/ENOBUFS/ENOMEM (out of descriptors or memory), accepting pauses
  // this long, doubling up to max_backoff while it persists; one line is logged on
  // tornado.general per episode instead of a busy loop.
  Duration backoff = 100ms;
  Duration max_backoff = 2s;
};

// Watches the listening socket `fd` on the current IOLoop and calls `callback` for every
// connection. Returns a remover that stops watching (idempotent; it does not close `fd`).
// It is safe to call the remover, and even close `fd`, from inside `callback`.
// An exception thrown by `callback` is logged on tornado.application; accepting goes on.
// Loop thread only. Throws std::system_error if the loop refuses the fd.
std::function<void()> add_accept_handler(int fd, AcceptCallback callback,
                                         AcceptOptions options = {});

// True if `ip` is a numeric IPv4 or IPv6 address (with optional %scope for IPv6).
// False for host names, surrounding spaces, NULs and the empty string. Never throws.
bool is_valid_ip(const std::string& ip);

// Async name resolution. resolve() never blocks the loop.
class Resolver {
 public:
  virtual ~Resolver() = default;
  // The addresses `host` has for `port`, restricted to `family` unless AF_UNSPEC, in the
  // order the system prefers (the order happy eyeballs tries them).
  // Raises std::system_error (category: getaddrinfo's) if the name does not resolve.
  virtual Task<std::vector<ResolvedAddress>> resolve(std::string host, int port,
                                                     int family = AF_UNSPEC) = 0;
  // Releases resources (threads, channels). Default: nothing to release.
  virtual void close() {}
};

// getaddrinfo(3) run on the IOLoop's executor (run_in_executor). The default: it honours
// /etc/hosts, nsswitch and the system's address ordering exactly like every other program
// on the machine (see docs/netutil.md for why this and not c-ares).
class DefaultExecutorResolver : public Resolver {
 public:
  Task<std::vector<ResolvedAddress>> resolve(std::string host, int port,
                                             int family = AF_UNSPEC) override;
};

// The blocking lookup behind DefaultExecutorResolver, usable on any thread.
// Throws std::system_error (getaddrinfo's category) when the name does not resolve.
std::vector<ResolvedAddress> getaddrinfo_blocking(const std::string& host, int port,
                                                  int family = AF_UNSPEC);

// The error category of getaddrinfo's EAI_* codes (messages from gai_strerror).
const std::error_category& gai_category() noexcept;

// Wraps another resolver with fixed answers, for tests and for pinning a host to an
// address (Tornado's OverrideResolver). Keys, most specific first:
//   {host, port, family} -> {host', port'}   (family AF_INET / AF_INET6)
//   {host, port}         -> {host', port'}
//   host                 -> host'            (port kept)
// The replacement is then resolved by the wrapped resolver (so it may be a name or an IP).
class OverrideResolver : public Resolver {
 public:
  struct Mapping {
    std::map<std::tuple<std::string, int, int>, std::pair<std::string, int>> host_port_family;
    std::map<std::pair<std::string, int>, std::pair<std::string, int>> host_port;
    std::map<std::string, std::string> host;
  };
  OverrideResolver(std::shared_ptr<Resolver> resolver, Mapping mapping);
  Task<std::vector<ResolvedAddress>> resolve(std::string host, int port,
                                             int family = AF_UNSPEC) override;
  void close() override { resolver_->close(); }

 private:
  std::shared_ptr<Resolver> resolver_;
  Mapping mapping_;
};

}  // namespace tornado
