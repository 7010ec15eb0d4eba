// Listening sockets, addresses and resolvers (tornado/netutil.h). The accept loop lives in
// internal/accept_handler.cpp.
#include "tornado/netutil.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <stdexcept>
#include <system_error>

#include "tornado/log.h"

namespace tornado {

namespace {

class GaiCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "getaddrinfo"; }
  std::string message(int code) const override { return ::gai_strerror(code); }
};

[[noreturn]] void throw_errno(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

// Closes the fds it holds unless released: bind_sockets gives back all or nothing.
class FdList {
 public:
  ~FdList() {
    for (int fd : fds_) ::close(fd);
  }
  void add(int fd) { fds_.push_back(fd); }
  void close_last() {
    ::close(fds_.back());
    fds_.pop_back();
  }
  std::vector<int> release() { return std::exchange(fds_, {}); }

 private:
  std::vector<int> fds_;
};

struct AddrInfoDeleter {
  void operator()(addrinfo* ai) const noexcept { ::freeaddrinfo(ai); }
};

}  // namespace

const std::error_category& gai_category() noexcept {
  static const GaiCategory category;
  return category;
}

// ---- ResolvedAddress ----------------------------------------------------------------

ResolvedAddress ResolvedAddress::from_sockaddr(const sockaddr* addr, socklen_t length) {
  if (addr == nullptr || length > sizeof(sockaddr_storage)) {
    throw std::invalid_argument("ResolvedAddress: socket address does not fit");
  }
  ResolvedAddress out;
  std::memcpy(&out.storage, addr, length);
  out.length = length;
  out.family = length >= sizeof(sa_family_t) ? addr->sa_family : AF_UNSPEC;
  return out;
}

ResolvedAddress ResolvedAddress::from_ip(const std::string& host, int port) {
  if (!is_valid_ip(host)) {
    throw std::invalid_argument("ResolvedAddress::from_ip: not a numeric IP address: '" + host +
                                "'");
  }
  if (port < 0 || port > 65535) {
    throw std::invalid_argument("ResolvedAddress::from_ip: port out of range: " +
                                std::to_string(port));
  }
  return getaddrinfo_blocking(host, port, AF_UNSPEC).front();
}

std::string ResolvedAddress::host() const {
  if (family == AF_UNIX) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(&storage);
    std::size_t max = length > offsetof(sockaddr_un, sun_path)
                          ? length - offsetof(sockaddr_un, sun_path)
                          : 0;
    return std::string(un->sun_path, ::strnlen(un->sun_path, max));
  }
  if (family != AF_INET && family != AF_INET6) return "";
  char buf[NI_MAXHOST];
  if (::getnameinfo(sockaddr_ptr(), length, buf, sizeof buf, nullptr, 0, NI_NUMERICHOST) != 0) {
    return "";
  }
  return buf;
}

int ResolvedAddress::port() const noexcept {
  if (family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return 0;
}

std::string ResolvedAddress::to_string() const {
  if (family == AF_INET) return host() + ":" + std::to_string(port());
  if (family == AF_INET6) return "[" + host() + "]:" + std::to_string(port());
  return host();
}

bool ResolvedAddress::operator==(const ResolvedAddress& other) const noexcept {
  return family == other.family && length == other.length &&
         std::memcmp(&storage, &other.storage, length) == 0;
}

ResolvedAddress sock_name(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) {
    throw_errno(errno, "getsockname");
  }
  return ResolvedAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

ResolvedAddress peer_name(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) {
    throw_errno(errno, "getpeername");
  }
  return ResolvedAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

// ---- is_valid_ip --------------------------------------------------------------------

bool is_valid_ip(const std::string& ip) {
  if (ip.empty() || ip.find('\0') != std::string::npos) return false;
  unsigned char buf[sizeof(in6_addr)];
  if (::inet_pton(AF_INET, ip.c_str(), buf) == 1) return true;
  // A scoped IPv6 address ("fe80::1%eth0") is valid if the part before '%' is and the
  // scope is not empty; inet_pton itself does not accept scopes.
  std::string::size_type pct = ip.find('%');
  if (pct != std::string::npos) {
    if (pct + 1 == ip.size()) return false;
    return ::inet_pton(AF_INET6, ip.substr(0, pct).c_str(), buf) == 1;
  }
  return ::inet_pton(AF_INET6, ip.c_str(), buf) == 1;
}

// ---- getaddrinfo --------------------------------------------------------------------

namespace {

std::unique_ptr<addrinfo, AddrInfoDeleter> lookup(const char* host, int port, int family,
                                                  int flags) {
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = flags;
  addrinfo* result = nullptr;
  std::string service = std::to_string(port);
  int rc = ::getaddrinfo(host, service.c_str(), &hints, &result);
  if (rc == EAI_SYSTEM) throw_errno(errno, std::string("getaddrinfo ") + (host ? host : "*"));
  if (rc != 0) {
    throw std::system_error(rc, gai_category(),
                            std::string("cannot resolve '") + (host ? host : "*") + "'");
  }
  return std::unique_ptr<addrinfo, AddrInfoDeleter>(result);
}

}  // namespace

std::vector<ResolvedAddress> getaddrinfo_blocking(const std::string& host, int port,
                                                  int family) {
  if (port < 0 || port > 65535) {
    throw std::invalid_argument("resolve: port out of range: " + std::to_string(port));
  }
  auto list = lookup(host.c_str(), port, family, 0);
  std::vector<ResolvedAddress> out;
  for (addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    auto addr = ResolvedAddress::from_sockaddr(ai->ai_addr, ai->ai_addrlen);
    bool seen = false;
    for (const auto& a : out) seen = seen || a == addr;
    if (!seen) out.push_back(addr);
  }
  if (out.empty()) {
    throw std::system_error(EAI_NONAME, gai_category(),
                            "cannot resolve '" + host + "': no IPv4 or IPv6 address");
  }
  return out;
}

// ---- bind_sockets -------------------------------------------------------------------

namespace {

bool has_ipv6() {
  int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

void set_port(ResolvedAddress& addr, int port) {
  if (addr.family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&addr.storage)->sin_port = htons(static_cast<uint16_t>(port));
  } else if (addr.family == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&addr.storage)->sin6_port =
        htons(static_cast<uint16_t>(port));
  }
}

}  // namespace

std::vector<int> bind_sockets(int port, const std::string& address, int family, int backlog,
                              bool reuse_port) {
  if (port < 0 || port > 65535) {
    throw std::invalid_argument("bind_sockets: port out of range: " + std::to_string(port));
  }
  if (backlog < 1) {
    throw std::invalid_argument("bind_sockets: backlog must be positive, got " +
                                std::to_string(backlog));
  }
  if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6) {
    throw std::invalid_argument("bind_sockets: family must be AF_UNSPEC, AF_INET or AF_INET6");
  }
#ifndef SO_REUSEPORT
  if (reuse_port) throw std::invalid_argument("bind_sockets: SO_REUSEPORT is not supported");
#endif
  // On a host without IPv6, "all interfaces" would otherwise fail on the :: address.
  if (address.empty() && family == AF_UNSPEC && !has_ipv6()) family = AF_INET;

  auto list = lookup(address.empty() ? nullptr : address.c_str(), port, family,
                     AI_PASSIVE | AI_ADDRCONFIG);
  FdList fds;
  std::vector<ResolvedAddress> bound;
  int bound_port = 0;  // with port 0, the port the kernel picked for the first socket
  for (addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    auto addr = ResolvedAddress::from_sockaddr(ai->ai_addr, ai->ai_addrlen);
    // A link-local IPv6 address with a scope id cannot be bound portably; Tornado skips it.
    if (addr.family == AF_INET6 &&
        reinterpret_cast<const sockaddr_in6*>(&addr.storage)->sin6_scope_id != 0) {
      continue;
    }
    if (port == 0 && bound_port != 0) set_port(addr, bound_port);
    bool duplicate = false;
    for (const auto& b : bound) duplicate = duplicate || b == addr;
    if (duplicate) continue;

    int fd = ::socket(addr.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      // An address family the kernel lacks (IPv6 disabled) is skipped, as Tornado does.
      if (errno == EAFNOSUPPORT) continue;
      throw_errno(errno, "socket");
    }
    fds.add(fd);
    int one = 1;
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
      throw_errno(errno, "setsockopt(SO_REUSEADDR)");
    }
#ifdef SO_REUSEPORT
    if (reuse_port && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
      throw_errno(errno, "setsockopt(SO_REUSEPORT)");
    }
#endif
    if (addr.family == AF_INET6 &&
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) {
      throw_errno(errno, "setsockopt(IPV6_V6ONLY)");
    }
    if (::bind(fd, addr.sockaddr_ptr(), addr.length) < 0) {
      int err = errno;
      // "localhost" may list ::1 on a host where it cannot be bound; skip it like Tornado.
      if (err == EADDRNOTAVAIL && address == "localhost" && addr.family == AF_INET6) {
        fds.close_last();
        continue;
      }
      throw_errno(err, "bind " + addr.to_string());
    }
    if (::listen(fd, backlog) < 0) throw_errno(errno, "listen " + addr.to_string());
    if (port == 0 && bound_port == 0) bound_port = sock_name(fd).port();
    bound.push_back(addr);
  }
  std::vector<int> out = fds.release();
  if (out.empty()) {
    throw std::system_error(EADDRNOTAVAIL, std::generic_category(),
                            "bind_sockets: no usable address for '" + address + "'");
  }
  return out;
}

// ---- bind_unix_socket ---------------------------------------------------------------

int bind_unix_socket(const std::string& path, mode_t mode, int backlog) {
  sockaddr_un sun{};
  if (path.empty() || path.size() >= sizeof(sun.sun_path)) {
    throw std::invalid_argument("bind_unix_socket: path empty or longer than " +
                                std::to_string(sizeof(sun.sun_path) - 1) + " bytes: " + path);
  }
  if (backlog < 1) throw std::invalid_argument("bind_unix_socket: backlog must be positive");
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      throw std::invalid_argument("bind_unix_socket: file " + path +
                                  " exists and is not a socket");
    }
    if (::unlink(path.c_str()) < 0) throw_errno(errno, "unlink " + path);
  } else if (errno != ENOENT) {
    throw_errno(errno, "stat " + path);
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno(errno, "socket(AF_UNIX)");
  FdList guard;
  guard.add(fd);
  sun.sun_family = AF_UNIX;
  std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) < 0) {
    throw_errno(errno, "bind " + path);
  }
  if (::chmod(path.c_str(), mode) < 0) throw_errno(errno, "chmod " + path);
  if (::listen(fd, backlog) < 0) throw_errno(errno, "listen " + path);
  guard.release();
  return fd;
}

// ---- resolvers ----------------------------------------------------------------------

Task<std::vector<ResolvedAddress>> DefaultExecutorResolver::resolve(std::string host, int port,
                                                                    int family) {
  // Everything the job needs is copied in: the resolver may be gone when it runs. The
  // future is made in a statement of its own: g++ 12 mishandles a lambda temporary with
  // captures inside a co_await expression (it frees the capture twice).
  auto job = [host, port, family] { return getaddrinfo_blocking(host, port, family); };
  Future<std::vector<ResolvedAddress>> fut = IOLoop::current().run_in_executor(std::move(job));
  co_return co_await fut;
}

OverrideResolver::OverrideResolver(std::shared_ptr<Resolver> resolver, Mapping mapping)
    : resolver_(std::move(resolver)), mapping_(std::move(mapping)) {
  if (!resolver_) throw std::invalid_argument("OverrideResolver: resolver is null");
}

Task<std::vector<ResolvedAddress>> OverrideResolver::resolve(std::string host, int port,
                                                             int family) {
  if (auto it = mapping_.host_port_family.find({host, port, family});
      it != mapping_.host_port_family.end()) {
    std::tie(host, port) = it->second;
  } else if (auto it2 = mapping_.host_port.find({host, port}); it2 != mapping_.host_port.end()) {
    std::tie(host, port) = it2->second;
  } else if (auto it3 = mapping_.host.find(host); it3 != mapping_.host.end()) {
    host = it3->second;
  }
  co_return co_await resolver_->resolve(std::move(host), port, family);
}

}  // namespace tornado
