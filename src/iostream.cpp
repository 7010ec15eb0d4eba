// IOStream: buffered reads and queued writes on a non-blocking fd, driven by the
// edge-triggered IOLoop. See docs/iostream.md for the design.
//
// Control flow in one picture:
//   read_*()  -> begin_read -> ReadAwaiter::await_ready -> advance_read (buffer, then socket)
//   on_events -> handle_write, then advance_read / idle read_loop -> run_wakeups (resume)
//   close()   -> settle the pending read, schedule wake-ups and the close callback
// Waiters are resumed only at the end of on_events or from a loop callback, never in the
// middle of a state change, so a resumed coroutine may close or drop the stream safely.
#include "tornado/iostream.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <system_error>

#include "internal/describe_exception.h"
#include "internal/iostream_impl.h"
#include "tornado/hot.h"
#include "tornado/log.h"

namespace tornado {

namespace {

std::string closed_message(const std::exception_ptr& e) {
  if (!e) return "Stream is closed";
  return "Stream is closed: " + detail::describe_exception(e);
}

struct MakeShared : IOStream {
  MakeShared(int fd, IOStreamOptions o) : IOStream(fd, o) {}
};

}  // namespace

StreamClosedError::StreamClosedError(std::exception_ptr real_error)
    : std::runtime_error(closed_message(real_error)), real_error_(std::move(real_error)) {}

// ---- regex ------------------------------------------------------------------------------

namespace detail {

CompiledRegex::CompiledRegex(const std::string& pattern) {
  int err = 0;
  PCRE2_SIZE offset = 0;
  code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), 0, &err,
                        &offset, nullptr);
  if (!code_) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    throw std::invalid_argument("read_until_regex: bad pattern at offset " +
                                std::to_string(offset) + ": " + reinterpret_cast<char*>(msg));
  }
  // JIT is an optimisation: when unavailable, pcre2_match interprets.
  pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE | PCRE2_JIT_PARTIAL_SOFT);
  match_ = pcre2_match_data_create_from_pattern(code_, nullptr);
  if (!match_) {
    pcre2_code_free(code_);
    throw std::bad_alloc();
  }
}

CompiledRegex::~CompiledRegex() {
  if (match_) pcre2_match_data_free(match_);
  if (code_) pcre2_code_free(code_);
}

CompiledRegex::Result CompiledRegex::search(std::string_view subject, std::size_t start,
                                            std::size_t* begin, std::size_t* end) const {
  // Soft partial matching: a complete match wins (like Python's re.search on the buffer);
  // otherwise PCRE2 reports where a match could still begin, so the next search resumes
  // there instead of rescanning the whole buffer (linear, not quadratic, in the input).
  int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), start,
                       PCRE2_PARTIAL_SOFT, match_, nullptr);
  PCRE2_SIZE* ov = pcre2_get_ovector_pointer(match_);
  if (rc >= 0) {
    *begin = ov[0];
    *end = ov[1];
    return Result::kMatch;
  }
  if (rc == PCRE2_ERROR_PARTIAL) {
    *begin = ov[0];
    return Result::kPartial;
  }
  if (rc == PCRE2_ERROR_NOMATCH) return Result::kNone;
  PCRE2_UCHAR msg[256];
  pcre2_get_error_message(rc, msg, sizeof msg);
  throw std::runtime_error(std::string("read_until_regex: match failed: ") +
                           reinterpret_cast<char*>(msg));
}

}  // namespace detail

// ---- construction -----------------------------------------------------------------------

std::shared_ptr<IOStream> IOStream::create(int fd, IOStreamOptions options) {
  return std::make_shared<MakeShared>(fd, options);
}

IOStream::IOStream(int fd, IOStreamOptions options)
    : fd_(fd), options_(options), impl_(std::make_unique<Impl>()) {
  try {
    if (fd < 0) throw std::invalid_argument("IOStream: negative fd");
    if (options_.max_buffer_size == 0) throw std::invalid_argument("IOStream: max_buffer_size 0");
    if (options_.read_chunk_size == 0) throw std::invalid_argument("IOStream: read_chunk_size 0");
    // A chunk may not exceed half the buffer, so one read never overshoots the limit.
    options_.read_chunk_size =
        std::min(options_.read_chunk_size, std::max<std::size_t>(1, options_.max_buffer_size / 2));
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
      throw std::system_error(errno, std::system_category(), "IOStream: fcntl");
    }
    IOLoop& loop = IOLoop::current();
    impl_->loop = loop.ref();
    // Registered once for both directions (edge-triggered): no epoll_ctl per operation.
    loop.add_handler(fd, this, IOLoop::READ | IOLoop::WRITE);
  } catch (...) {
    if (fd >= 0) ::close(fd);  // the stream owned it
    fd_ = -1;
    throw;
  }
}

IOStream::~IOStream() {
  release_write_awaiters();
  if (fd_ >= 0) {
    if (IOLoop* loop = live_loop()) loop->remove_handler(fd_);
    ::close(fd_);
  }
}

// The loop the stream registered with, while it is open: a stream may outlive its IOLoop
// (tests destroy the loop with streams open), and then the fd left epoll with the loop's
// epoll fd. Whichever loop is current, it is the registering loop that is unregistered.
IOLoop* IOStream::live_loop() const noexcept { return impl_->loop.get(); }

// ---- wake-ups ---------------------------------------------------------------------------

void IOStream::schedule_wake() {
  Hot& m = hot_;
  if (m.wake_scheduled) return;
  if (!m.read_waiter && !impl_->connect_waiter && !impl_->handshake_waiter &&
      impl_->write_waiters.empty()) {
    return;
  }
  IOLoop* loop = live_loop();
  auto self = weak_from_this().lock();
  if (!loop || !self) return;
  m.wake_scheduled = true;
  loop->add_callback([self = std::move(self)] {
    self->hot_.wake_scheduled = false;
    self->run_wakeups();
  });
}

// Resumes every waiter whose operation finished. Re-checks state after each resume: the
// resumed coroutine may have closed the stream or started new operations.
TORNADO_HOT void IOStream::run_wakeups() {
  Hot& m = hot_;
  if (m.setup_waiters) [[unlikely]] wake_setup_waiters();
  if (m.read_waiter && m.read_done) std::exchange(m.read_waiter, {}).resume();
  // No capacity: no write waiter now nor storage to give back (a server's usual case).
  if (m.write_waiter_storage) wake_writers();
}

void IOStream::wake_setup_waiters() {
  Hot& m = hot_;
  if (impl_->connect_waiter && state_ != State::kConnecting) {
    std::exchange(impl_->connect_waiter, {}).resume();
  }
  if (impl_->handshake_waiter && (m.handshake_done || state_ == State::kClosed)) {
    std::exchange(impl_->handshake_waiter, {}).resume();
  }
  // (A waiter resumed above may have set a new one.)
  if (!impl_->connect_waiter && !impl_->handshake_waiter) m.setup_waiters = false;
}

void IOStream::wake_writers() {
  Hot& m = hot_;
  // While a wake-up callback is queued (a yield scheduled one, or a close), writers are left
  // to it: resuming a yielded writer here would let it run again before the loop's other
  // work. (Only that callback clears wake_scheduled, so there is at most one queued.)
  while (!impl_->write_waiters.empty() && !m.wake_scheduled) {
    auto [end, h] = impl_->write_waiters.front();
    if (end > m.flushed && state_ != State::kClosed) break;
    impl_->write_waiters.erase(impl_->write_waiters.begin());
    h.resume();
  }
  if (impl_->write_waiters.empty() && impl_->write_waiters.capacity() > 0) {
    std::vector<std::pair<uint64_t, std::coroutine_handle<>>>().swap(impl_->write_waiters);
  }
  if (impl_->write_waiters.capacity() == 0) m.write_waiter_storage = false;
}

// ---- events -----------------------------------------------------------------------------

TORNADO_HOT void IOStream::on_events(int /*fd*/, uint32_t events) {
  // Callbacks below may drop the owner's last reference: keep the object alive.
  auto self = shared_from_this();
  Hot& m = hot_;
  // Writes made while these events are handled (the answers to what was just read) are
  // sent together at the end, here, instead of from a loop callback: no callback object
  // per flush. Should anything throw, the flush goes through the loop as usual.
  struct EndOfEvents {
    IOStream& s;
    ~EndOfEvents() {
      if (!s.hot_.in_events || s.hot_.after_events) return;  // ended normally
      s.hot_.in_events = false;
      if (s.hot_.flush_scheduled) {
        s.hot_.flush_scheduled = false;
        s.schedule_flush();
      }
    }
  } end_of_events{*this};
  m.in_events = true;
  m.dispatching = true;
  if (state_ == State::kConnecting) {
    handle_connect_event(events);
  } else if (state_ == State::kOpen) {
    if (events & (IOLoop::READ | IOLoop::ERROR)) m.readable = true;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) m.eof_pending = true;
    if (writing()) handle_write();
    if (state_ == State::kOpen) {
      if (m.kind == ReadKind::kNone) {
        read_loop();
      } else if (!m.read_done) {
        advance_read();
      }
    }
  }
  m.dispatching = false;
  // A read finished: its waiter's work, and the writes it makes, wait until every fd of
  // this iteration was read (IOLoop::finish_after_events; `in_events` stays set, so the
  // writes are corked till then).
  if (m.after_events) return;  // already waiting for the end of this iteration's events
  if (m.read_waiter && m.read_done) [[likely]] {
    IOLoop* loop = live_loop();
    if (loop && loop->finish_after_events(this, std::move(self))) {
      m.after_events = true;
      return;
    }
  }
  run_wakeups();
  m.in_events = false;
  if (m.flush_scheduled) {
    m.flush_scheduled = false;
    if (state_ == State::kOpen) handle_write();
    run_wakeups();  // the writes it completed
  }
}

TORNADO_HOT void IOStream::resume_after_events() noexcept {
  try {
    run_wakeups();
  } catch (...) {
    app_log().error("Exception resuming the reader of fd {}: {}", fd_,
                    detail::describe_exception(std::current_exception()));
  }
}

TORNADO_HOT void IOStream::flush_after_events() noexcept {
  Hot& m = hot_;
  m.after_events = false;
  m.in_events = false;
  bool wrote = false;
  if (m.later_size != 0) {
    const std::string_view bytes(m.later_data, m.later_size);
    m.queued -= bytes.size();  // write_now counts them again
    release_later();  // (the arena's bytes stay as they are until the next reserve_later)
    if (state_ == State::kOpen) {
      try {
        write_now({bytes});  // what the socket does not take now is queued
      } catch (...) {
        close(std::current_exception());
      }
      wrote = true;
    }
  }
  if (m.flush_scheduled) {
    m.flush_scheduled = false;
    if (state_ == State::kOpen) handle_write();
    wrote = true;
  }
  if (!wrote) return;
  try {
    run_wakeups();  // the writes it completed
  } catch (...) {
    app_log().error("Exception resuming a writer of fd {}: {}", fd_,
                    detail::describe_exception(std::current_exception()));
  }
}

// ---- connect ----------------------------------------------------------------------------

struct IOStream::ConnectOp : detail::StreamOp {
  IOStream* s;
  explicit ConnectOp(IOStream* stream) noexcept : StreamOp(&cancel), s(stream) {}
  ConnectOp(const ConnectOp&) = delete;
  ConnectOp& operator=(const ConnectOp&) = delete;
  ~ConnectOp() {
    disarm();
    if (h && s->impl_->connect_waiter == h) s->impl_->connect_waiter = {};
  }
  bool await_ready() const noexcept { return s->state_ != State::kConnecting; }
  template <typename P>
  void await_suspend(std::coroutine_handle<P> c) {
    h = c;
    s->impl_->connect_waiter = c;
    s->hot_.setup_waiters = true;
    arm(detail::cancel_state_of(c));
  }
  void await_resume() { finish(); }
  // A cancelled connect closes the stream: a half-open socket is of no use.
  static bool cancel(detail::CancelHook* hook) {
    auto* op = static_cast<ConnectOp*>(hook);
    if (op->cancelled) return true;
    if (op->s->impl_->connect_waiter != op->h) return false;
    op->s->impl_->connect_waiter = {};
    op->s->close(std::make_exception_ptr(CancelledError("connect cancelled")));
    op->resume_cancelled();
    return true;
  }
};

void IOStream::handle_connect_event(uint32_t events) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  if (err != 0) {
    gen_log().debug("Connect error on fd {}: {}", fd_, std::strerror(err));
    state_ = State::kOpen;  // so close() runs its full path
    close(std::make_exception_ptr(std::system_error(err, std::system_category(), "connect")));
    return;
  }
  if (events & IOLoop::WRITE) {
    state_ = State::kOpen;
    hot_.readable = true;
  }
}

Task<void> IOStream::connect(const sockaddr* address, socklen_t length) {
  // Not a coroutine: the address is copied now, so the task may be stored and awaited
  // after the caller's sockaddr is gone.
  sockaddr_storage copy{};
  if (address == nullptr || length > sizeof copy) {
    throw std::invalid_argument("IOStream::connect: bad address length");
  }
  std::memcpy(&copy, address, length);
  return connect_to(copy, length);
}

Task<void> IOStream::connect_to(sockaddr_storage address_copy, socklen_t length) {
  auto self = shared_from_this();
  const sockaddr* address = reinterpret_cast<const sockaddr*>(&address_copy);
  if (state_ == State::kClosed) throw StreamClosedError(error_);
  if (state_ == State::kConnecting) throw std::logic_error("Already connecting");
  int rc;
  do {
    rc = ::connect(fd_, address, length);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0 && errno != EINPROGRESS) {
    close(std::make_exception_ptr(std::system_error(errno, std::system_category(), "connect")));
    throw StreamClosedError(error_);
  }
  if (rc < 0) {
    state_ = State::kConnecting;
    co_await ConnectOp(this);
  }
  if (state_ == State::kClosed) throw StreamClosedError(error_);
  if (writing()) handle_write();  // writes queued while connecting
  if (state_ == State::kClosed) throw StreamClosedError(error_);
  co_await finish_connect();
}

Task<void> IOStream::finish_connect() { co_return; }

// ---- close ------------------------------------------------------------------------------

void IOStream::close(std::exception_ptr error) {
  if (state_ == State::kClosed) return;
  Hot& m = hot_;
  // A reserve_write room still open holds no written bytes: it is not sent (and a chunk
  // made for it leaves the queue: an empty one would stall the flush below).
  if (m.reserved_at != Hot::kNoRoom) close_room(0);
  if (!error && state_ == State::kOpen && writing()) {
    // `write(x); close();` must send x: writes are corked until the end of the iteration,
    // so give them their (non-blocking) attempt now. A failure closes with its cause.
    handle_write();
    if (state_ == State::kClosed) return;
  }
  if (!error_) error_ = std::move(error);
  if (state_ == State::kOpen && fd_ >= 0) before_close();
  state_ = State::kClosed;
  if (fd_ >= 0) {
    if (IOLoop* loop = live_loop()) loop->remove_handler(fd_);
    ::close(fd_);
    fd_ = -1;
  }
  settle_read_on_close();
  std::vector<std::string>().swap(m.wqueue);
  m.whead = m.woffset = 0;
  if (m.later_size != 0) release_later();
  if (!m.dispatching) schedule_wake();
  if (impl_->close_callback) {
    auto self = weak_from_this().lock();
    IOLoop* loop = live_loop();
    if (self && loop) {
      loop->add_callback([self = std::move(self), cb = impl_->close_callback.take()] { cb(); });
    }
    impl_->close_callback = nullptr;
  }
}

void IOStream::set_close_callback(std::function<void()> callback) {
  impl_->close_callback = std::move(callback);
  if (state_ == State::kClosed && impl_->close_callback) {
    if (IOLoop* loop = live_loop()) {
      loop->add_callback(
          [self = shared_from_this(), cb = impl_->close_callback.take()] { cb(); });
    }
    impl_->close_callback = nullptr;
  }
}

void IOStream::set_nodelay(bool value) {
  if (state_ == State::kClosed || fd_ < 0) return;
  int v = value ? 1 : 0;
  if (setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) < 0) {
    // Not TCP (a Unix socket, a pipe): nothing to tune.
    if (errno == EOPNOTSUPP || errno == ENOPROTOOPT || errno == ENOTSOCK || errno == EINVAL) {
      return;
    }
    throw std::system_error(errno, std::system_category(), "set_nodelay");
  }
}

}  // namespace tornado