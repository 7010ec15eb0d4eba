// SSLIOStream: IOStream over OpenSSL, and IOStream::start_tls.
//
// OpenSSL talks to the socket through a small BIO of our own (not SSL_set_fd, not memory
// BIOs): recv/send with MSG_NOSIGNAL, so a peer reset is EPIPE, never SIGPIPE, without
// changing the process's signal handling; no extra copy of the ciphertext; and the BIO
// reports EAGAIN as "retry", which maps one-to-one onto the edge-triggered bookkeeping of
// the plain stream. The BIO can also replay bytes the plain stream had already buffered
// when start_tls was called. Details in docs/iostream.md.
#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "internal/iostream_impl.h"
#include "internal/openssl_errors.h"
#include "tornado/iostream.h"
#include "tornado/log.h"

namespace tornado {

namespace {

// What the BIO needs: the fd, the errno of its last failed call (OpenSSL's error queue
// does not keep it), and bytes to hand out before reading the socket.
struct SocketBio {
  int fd = -1;
  int last_errno = 0;
  std::string preread;
  std::size_t preread_offset = 0;
};

int bio_write(BIO* bio, const char* data, int len) {
  auto* s = static_cast<SocketBio*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  for (;;) {
    ssize_t n = ::send(s->fd, data, static_cast<std::size_t>(len), MSG_NOSIGNAL);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EINTR) continue;
    s->last_errno = errno;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(bio);
    return -1;
  }
}

int bio_read(BIO* bio, char* buf, int len) {
  auto* s = static_cast<SocketBio*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (s->preread_offset < s->preread.size()) {
    std::size_t n = std::min(static_cast<std::size_t>(len), s->preread.size() - s->preread_offset);
    std::memcpy(buf, s->preread.data() + s->preread_offset, n);
    s->preread_offset += n;
    if (s->preread_offset == s->preread.size()) {
      std::string().swap(s->preread);
      s->preread_offset = 0;
    }
    return static_cast<int>(n);
  }
  for (;;) {
    ssize_t n = ::recv(s->fd, buf, static_cast<std::size_t>(len), 0);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EINTR) continue;
    s->last_errno = errno;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(bio);
    return -1;
  }
}

long bio_ctrl(BIO*, int cmd, long, void*) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;  // send() does not buffer
}

int bio_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

BIO_METHOD* socket_bio_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tornado socket");
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_create(m, bio_create);
    return m;
  }();
  return method;
}

bool is_ip_literal(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

struct MakeSharedSSL : SSLIOStream {
  MakeSharedSSL(int fd, IOStreamOptions o) : SSLIOStream(fd, o) {}
};

}  // namespace

struct SSLIOStream::TLS {
  std::shared_ptr<SSLContext> context;
  SSL* ssl = nullptr;
  SocketBio bio;
  bool server_side = false;
  bool fatal = false;  // OpenSSL reported a fatal error: no close_notify
  std::string hostname;
  ~TLS() {
    if (ssl) SSL_free(ssl);
  }
};

SSLIOStream::SSLIOStream(int fd, IOStreamOptions options)
    : IOStream(fd, options), tls_(std::make_unique<TLS>()) {
  hot_.tls = true;
}

SSLIOStream::~SSLIOStream() = default;

std::shared_ptr<SSLIOStream> SSLIOStream::create(int fd, bool server_side,
                                                 std::shared_ptr<SSLContext> context,
                                                 std::string server_hostname,
                                                 IOStreamOptions options) {
  auto stream = std::make_shared<MakeSharedSSL>(fd, options);
  stream->init_tls(server_side, std::move(context), std::move(server_hostname), {});
  return stream;
}

void SSLIOStream::init_tls(bool server_side, std::shared_ptr<SSLContext> context,
                           std::string hostname, std::string preread) {
  if (!context) throw std::invalid_argument("SSLIOStream: no SSLContext");
  if (context->is_server() != server_side) {
    throw std::invalid_argument(server_side ? "SSLIOStream: a server stream needs a server context"
                                            : "SSLIOStream: a client stream needs a client context");
  }
  if (!server_side && context->verifies_peer() && hostname.empty()) {
    throw std::invalid_argument(
        "SSLIOStream: a verifying client needs server_hostname (or use a context with "
        "verify = false)");
  }
  TLS& t = *tls_;
  t.context = std::move(context);
  t.server_side = server_side;
  t.hostname = std::move(hostname);
  t.bio.fd = fd_;
  t.bio.preread = std::move(preread);
  ERR_clear_error();
  t.ssl = SSL_new(t.context->native_handle());
  if (!t.ssl) throw SSLError("SSL_new: " + detail::take_openssl_errors());
  // Partial writes and a moving buffer let the write queue retry from wherever its head
  // lives now; RELEASE_BUFFERS gives OpenSSL's record buffers back while idle.
  SSL_set_mode(t.ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                          SSL_MODE_RELEASE_BUFFERS);
  BIO* bio = BIO_new(socket_bio_method());
  if (!bio) throw SSLError("BIO_new: " + detail::take_openssl_errors());
  BIO_set_data(bio, &t.bio);
  SSL_set_bio(t.ssl, bio, bio);
  if (server_side) {
    SSL_set_accept_state(t.ssl);
  } else {
    SSL_set_connect_state(t.ssl);
    const bool ip = is_ip_literal(t.hostname);
    if (!t.hostname.empty() && !ip) {
      SSL_set_tlsext_host_name(t.ssl, t.hostname.c_str());  // SNI (RFC 6066 3: not for IPs)
    }
    if (t.context->verifies_peer()) {
      int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t.ssl), t.hostname.c_str())
                  : SSL_set1_host(t.ssl, t.hostname.c_str());
      if (ok != 1) throw SSLError("cannot set the host name to verify: " + t.hostname);
    }
  }
}

// Raises the failure of an SSL_* call as the exception the stream closes with.
void SSLIOStream::raise_ssl_error(int ssl_error, const char* operation) {
  TLS& t = *tls_;
  t.fatal = true;
  if (ssl_error == SSL_ERROR_SYSCALL && t.bio.last_errno != 0 && t.bio.last_errno != EAGAIN) {
    ERR_clear_error();
    throw std::system_error(t.bio.last_errno, std::system_category(), operation);
  }
  unsigned long first = ERR_peek_error();
  if (ssl_error == SSL_ERROR_SYSCALL ||
      (first && ERR_GET_REASON(first) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
    ERR_clear_error();
    throw SSLError(std::string(operation) +
                   ": peer closed the connection without close_notify (possible truncation)");
  }
  std::string reason = detail::take_openssl_errors();
  long verify = SSL_get_verify_result(t.ssl);
  if (verify != X509_V_OK) {
    reason += " (" + std::string(X509_verify_cert_error_string(verify)) + ")";
  }
  throw SSLError(std::string(operation) + ": " + reason);
}

// One step of the handshake. True once it is complete; false while it waits for the
// socket or after it failed (the stream is then closed with the SSLError).
bool SSLIOStream::drive_handshake() {
  Hot& m = hot_;
  if (m.handshake_done) return true;
  if (state_ != State::kOpen) return false;
  TLS& t = *tls_;
  ERR_clear_error();
  t.bio.last_errno = 0;
  int rc = SSL_do_handshake(t.ssl);
  if (rc == 1) {
    m.handshake_done = true;
    m.readable = true;  // application data may have come with the last flight
    if (!m.dispatching) schedule_wake();
    return true;
  }
  int err = SSL_get_error(t.ssl, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return false;
  try {
    raise_ssl_error(err, "handshake");
  } catch (const std::exception& e) {
    gen_log().warn("SSL Error on fd {}: {}", fd_, e.what());
    close(std::current_exception());
  }
  return false;
}

void SSLIOStream::on_events(int fd, uint32_t events) {
  auto self = shared_from_this();
  Hot& m = hot_;
  if (state_ == State::kOpen && !m.handshake_done) {
    m.dispatching = true;
    bool done = drive_handshake();
    m.dispatching = false;
    if (!done) {
      run_wakeups();
      return;
    }
  }
  // TLS reads can wait on the socket becoming writable (and the reverse), so any event
  // may unblock a read.
  if (state_ == State::kOpen) m.readable = true;
  IOStream::on_events(fd, events);
}

ssize_t SSLIOStream::read_from_fd(char* buf, std::size_t len) {
  if (!drive_handshake()) {
    errno = EAGAIN;
    return -1;
  }
  TLS& t = *tls_;
  ERR_clear_error();
  t.bio.last_errno = 0;
  std::size_t got = 0;
  if (SSL_read_ex(t.ssl, buf, len, &got) == 1) return static_cast<ssize_t>(got);
  int err = SSL_get_error(t.ssl, 0);
  switch (err) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_ZERO_RETURN:
      // The peer's close_notify: answer with ours (RFC 8446 6.1), then report EOF.
      ERR_clear_error();
      SSL_shutdown(t.ssl);
      ERR_clear_error();
      return 0;
    default:
      raise_ssl_error(err, "read");
  }
}

ssize_t SSLIOStream::write_to_fd(const struct iovec* iov, int count) {
  if (!drive_handshake()) {
    errno = EAGAIN;
    return -1;
  }
  TLS& t = *tls_;
  // Many small chunks become one TLS record (and one send) instead of one each. After a
  // WANT_WRITE the same queue head produces the same bytes again, as OpenSSL requires.
  constexpr std::size_t kRecord = 16 * 1024;
  thread_local std::string staging;
  const char* data = static_cast<const char*>(iov[0].iov_base);
  std::size_t len = iov[0].iov_len;
  if (count > 1 && len < kRecord) {
    staging.clear();
    for (int i = 0; i < count && staging.size() < kRecord; ++i) {
      std::size_t take = std::min(iov[i].iov_len, kRecord - staging.size());
      staging.append(static_cast<const char*>(iov[i].iov_base), take);
    }
    data = staging.data();
    len = staging.size();
  }
  ERR_clear_error();
  t.bio.last_errno = 0;
  std::size_t written = 0;
  if (SSL_write_ex(t.ssl, data, len, &written) == 1) return static_cast<ssize_t>(written);
  int err = SSL_get_error(t.ssl, 0);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    errno = EAGAIN;
    return -1;
  }
  raise_ssl_error(err, "write");
}

namespace {
// Closing a socket with unread input makes the kernel answer with a RST instead of a FIN,
// and the RST discards whatever of ours is still queued: under load, the close_notify just
// written and even the last data, so the peer sees a reset instead of an orderly close. A TLS
// peer sends bytes nobody asked for (TLS 1.3 session tickets reach the client after its
// handshake completed; a stream that never reads again leaves them in the socket): they are
// read off before the close, up to kMaxDiscard bytes (more is input the application chose
// not to read, and the RST then says so).
void discard_unread_input(int fd) noexcept {
  constexpr std::size_t kMaxDiscard = 64 * 1024;
  char buf[4096];
  for (std::size_t total = 0; total < kMaxDiscard;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) break;
    total += static_cast<std::size_t>(n);
  }
}
}  // namespace

void SSLIOStream::before_close() noexcept {
  TLS& t = *tls_;
  if (!t.ssl || t.fatal || !hot_.handshake_done) return;
  if (SSL_get_shutdown(t.ssl) & SSL_SENT_SHUTDOWN) return;
  // close_notify, best effort: the socket is non-blocking and about to close; a full
  // send buffer or a reset peer just means the alert is lost.
  ERR_clear_error();
  SSL_shutdown(t.ssl);
  ERR_clear_error();
  discard_unread_input(fd_);
}

struct SSLIOStream::HandshakeOp : detail::StreamOp {
  SSLIOStream* s;
  explicit HandshakeOp(SSLIOStream* stream) noexcept : StreamOp(&cancel), s(stream) {}
  HandshakeOp(const HandshakeOp&) = delete;
  HandshakeOp& operator=(const HandshakeOp&) = delete;
  ~HandshakeOp() {
    disarm();
    if (h && s->impl_->handshake_waiter == h) s->impl_->handshake_waiter = {};
  }
  bool await_ready() {
    if (s->hot_.handshake_done || s->state_ == State::kClosed) return true;
    return s->drive_handshake() || s->state_ == State::kClosed;
  }
  template <typename P>
  void await_suspend(std::coroutine_handle<P> c) {
    h = c;
    s->impl_->handshake_waiter = c;
    s->hot_.setup_waiters = true;
    arm(detail::cancel_state_of(c));
  }
  void await_resume() { finish(); }
  // A cancelled handshake closes the stream.
  static bool cancel(detail::CancelHook* hook) {
    auto* op = static_cast<HandshakeOp*>(hook);
    if (op->cancelled) return true;
    if (op->s->impl_->handshake_waiter != op->h) return false;
    op->s->impl_->handshake_waiter = {};
    op->s->close(std::make_exception_ptr(CancelledError("TLS handshake cancelled")));
    op->resume_cancelled();
    return true;
  }
};

Task<void> SSLIOStream::wait_for_handshake() {
  auto self = shared_from_this();
  if (impl_->handshake_waiter) throw std::logic_error("Already waiting for the handshake");
  co_await HandshakeOp(this);
  if (!hot_.handshake_done) throw StreamClosedError(error_);
}

Task<void> SSLIOStream::finish_connect() { co_await wait_for_handshake(); }

bool SSLIOStream::handshake_done() const noexcept { return hot_.handshake_done; }

std::string SSLIOStream::selected_alpn_protocol() const {
  const unsigned char* proto = nullptr;
  unsigned int len = 0;
  if (tls_->ssl) SSL_get0_alpn_selected(tls_->ssl, &proto, &len);
  return proto ? std::string(reinterpret_cast<const char*>(proto), len) : std::string();
}

std::string SSLIOStream::server_hostname() const {
  if (!tls_->server_side) return tls_->hostname;
  const char* name = tls_->ssl ? SSL_get_servername(tls_->ssl, TLSEXT_NAMETYPE_host_name) : nullptr;
  return name ? name : "";
}

// ---- start_tls --------------------------------------------------------------------------

Task<std::shared_ptr<SSLIOStream>> IOStream::start_tls(bool server_side,
                                                       std::shared_ptr<SSLContext> context,
                                                       std::string server_hostname) {
  auto self = shared_from_this();
  if (state_ != State::kOpen) throw StreamClosedError(error_);
  if (reading() || writing()) {
    throw std::logic_error("start_tls: the stream has a read or write pending");
  }
  if (!context) {
    if (server_side) throw std::invalid_argument("start_tls: a server needs an SSLContext");
    context = SSLContext::client();
  }
  // Detach: the fd and the close callback move to the TLS stream; this one is closed
  // without closing the fd and without running its close callback.
  Hot& m = hot_;
  std::string preread(m.buffer.view());
  m.buffer.release();
  auto close_callback = impl_->close_callback.take();
  const int fd = fd_;
  if (IOLoop* loop = live_loop()) loop->remove_handler(fd);
  fd_ = -1;
  state_ = State::kClosed;

  auto tls = std::make_shared<MakeSharedSSL>(fd, options_);
  tls->init_tls(server_side, std::move(context), std::move(server_hostname), std::move(preread));
  if (close_callback) tls->set_close_callback(std::move(close_callback));
  std::shared_ptr<SSLIOStream> result = tls;
  co_await result->wait_for_handshake();
  co_return result;
}

}  // namespace tornado
