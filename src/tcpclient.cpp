// TCPClient (tornado/tcpclient.h): resolve, race the addresses, optionally start TLS.
#include "tornado/tcpclient.h"

#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace tornado {

namespace {

using StreamConnector = detail::Connector<IOStream, ResolvedAddress>;

Task<std::shared_ptr<IOStream>> connect_stream(std::shared_ptr<IOStream> stream,
                                               ResolvedAddress address) {
  co_await stream->connect(address.sockaddr_ptr(), address.length);
  co_return stream;
}

// The local address for source_ip/source_port, in the target's family.
ResolvedAddress source_address(int family, const ConnectOptions& options) {
  if (!options.source_ip.empty()) return ResolvedAddress::from_ip(options.source_ip,
                                                                  options.source_port);
  return ResolvedAddress::from_ip(family == AF_INET6 ? "::" : "0.0.0.0", options.source_port);
}

// One attempt: a socket (bound to the source address if asked) and its connect task.
// Failures before the connect starts become a failed Future, so the connector moves on
// to the next address and reports the error if every address fails.
StreamConnector::Attempt start_attempt(int family, const ResolvedAddress& address,
                                       const ConnectOptions& options) {
  IOStreamOptions stream_options;
  stream_options.max_buffer_size = options.max_buffer_size;
  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    Future<std::shared_ptr<IOStream>> failed;
    failed.set_exception(std::make_exception_ptr(
        std::system_error(errno, std::generic_category(), "socket")));
    return {nullptr, failed};
  }
  std::exception_ptr bind_error;
  if (!options.source_ip.empty() || options.source_port != 0) {
    try {
      ResolvedAddress local = source_address(family, options);
      if (local.family != family) {
        throw std::invalid_argument("source_ip " + options.source_ip +
                                    " is not of the target's address family");
      }
      if (options.source_port != 0) {
        int one = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      }
      if (::bind(fd, local.sockaddr_ptr(), local.length) < 0) {
        throw std::system_error(errno, std::generic_category(),
                                "bind to source address " + local.to_string());
      }
    } catch (...) {
      bind_error = std::current_exception();
    }
  }
  auto stream = IOStream::create(fd, stream_options);
  if (bind_error) {
    stream->close(bind_error);
    Future<std::shared_ptr<IOStream>> failed;
    failed.set_exception(std::make_exception_ptr(StreamClosedError(bind_error)));
    return {stream, failed};
  }
  return {stream, spawn(connect_stream(stream, address))};
}

}  // namespace

TCPClient::TCPClient(std::shared_ptr<Resolver> resolver)
    : resolver_(std::move(resolver)), own_resolver_(!resolver_) {
  if (!resolver_) resolver_ = std::make_shared<DefaultExecutorResolver>();
}

TCPClient::~TCPClient() { close(); }

void TCPClient::close() {
  if (own_resolver_ && resolver_) resolver_->close();
  own_resolver_ = false;
}

Task<std::shared_ptr<IOStream>> TCPClient::do_connect(std::shared_ptr<Resolver> resolver,
                                                      std::shared_ptr<Request> request) {
  const std::string& host = request->host;
  const int port = request->port;
  const ConnectOptions& options = request->options;
  if (port <= 0 || port > 65535) {
    throw std::invalid_argument("TCPClient::connect: port out of range: " +
                                std::to_string(port));
  }
  if (options.af != AF_UNSPEC && options.af != AF_INET && options.af != AF_INET6) {
    throw std::invalid_argument("TCPClient::connect: af must be AF_UNSPEC, AF_INET or AF_INET6");
  }
  if (options.ssl_options && options.ssl_options->is_server()) {
    throw std::invalid_argument("TCPClient::connect: ssl_options must be a client context");
  }
  IOLoop& loop = IOLoop::current();
  std::optional<double> deadline;
  if (options.timeout) deadline = loop.time() + options.timeout->count();
  auto remaining = [&]() { return Duration(std::max(0.0, *deadline - loop.time())); };

  std::vector<ResolvedAddress> addresses;
  if (deadline) {
    addresses = co_await with_timeout(remaining(), resolver->resolve(host, port, options.af));
  } else {
    addresses = co_await resolver->resolve(host, port, options.af);
  }
  std::vector<StreamConnector::Entry> addrinfo;
  for (auto& a : addresses) addrinfo.emplace_back(a.family, a);

  auto connector = StreamConnector::create(
      std::move(addrinfo), [options](int family, const ResolvedAddress& address) {
        return start_attempt(family, address, options);
      });
  auto result = co_await connector->start(detail::kInitialConnectTimeout, deadline);
  std::shared_ptr<IOStream> stream = result.stream;

  if (options.ssl_options) {
    // SNI and the certificate's host name check both use the name the caller asked for.
    if (deadline) {
      co_return co_await with_timeout(remaining(), stream->start_tls(false, options.ssl_options,
                                                                     host));
    }
    co_return co_await stream->start_tls(false, options.ssl_options, host);
  }
  co_return stream;
}

}  // namespace tornado
