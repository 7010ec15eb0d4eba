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
#include <pthread.h>
#include <signal.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <system_error>

#include "internal/describe_exception.h"
#include "internal/iostream_impl.h"
#include "tornado/log.h"

namespace tornado {

namespace {

constexpr int kMaxIov = 64;  // iovecs per writev; more chunks go out in the next call

// Bytes read from the socket land here first when the stream's buffer is small, so a
// 200-byte request costs a 200-byte buffer, not a read_chunk_size one.
thread_local std::vector<char> t_scratch;

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
    : impl_(std::make_unique<Impl>()), fd_(fd), options_(options) {
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
  if (fd_ >= 0) {
    if (IOLoop* loop = live_loop()) loop->remove_handler(fd_);
    ::close(fd_);
  }
}

// The loop the stream registered with, while it is open: a stream may outlive its IOLoop
// (tests destroy the loop with streams open), and then the fd left epoll with the loop's
// epoll fd. Whichever loop is current, it is the registering loop that is unregistered.
IOLoop* IOStream::live_loop() const noexcept { return impl_->loop.get(); }

// ---- reads ------------------------------------------------------------------------------

// A frame destroyed while suspended here (IOLoop::close()) leaves the stream reusable.
IOStream::ReadAwaiter::~ReadAwaiter() {
  disarm();
  if (h && s_->impl_->read_waiter == h) {
    s_->impl_->read_waiter = {};
    s_->abandon_read();
  }
}

bool IOStream::ReadAwaiter::await_ready() { return s_->advance_read(); }

void IOStream::ReadAwaiter::suspend(std::coroutine_handle<> c) noexcept {
  h = c;
  s_->impl_->read_waiter = c;
}

std::size_t IOStream::ReadAwaiter::await_resume() {
  finish();
  return s_->finish_read();
}

// Cancelling a read leaves the bytes it would have taken in the buffer.
bool IOStream::ReadAwaiter::cancel(detail::CancelHook* hook) {
  auto* op = static_cast<ReadAwaiter*>(hook);
  if (op->cancelled) return true;
  Impl& m = *op->s_->impl_;
  if (m.read_waiter != op->h || m.read_done) return false;  // its result is on the way
  m.read_waiter = {};
  op->s_->abandon_read();
  op->resume_cancelled();
  return true;
}

void IOStream::begin_read(ReadKind kind) {
  Impl& m = *impl_;
  if (m.kind != ReadKind::kNone) throw std::logic_error("Already reading");
  m.kind = kind;
  m.read_done = false;
  m.read_error = nullptr;
  m.read_result = 0;
  m.scan_from = 0;
  m.max_bytes = 0;
  m.partial = false;
}

std::size_t IOStream::finish_read() {
  Impl& m = *impl_;
  m.kind = ReadKind::kNone;
  m.read_done = false;
  m.args.reset();
  if (m.read_error) std::rethrow_exception(std::exchange(m.read_error, nullptr));
  return m.read_result;
}

void IOStream::abandon_read() noexcept {
  impl_->read_error = nullptr;
  finish_read();
}

std::string IOStream::take(std::size_t n) {
  std::string out(impl_->buffer.data(), n);
  impl_->buffer.consume(n);
  return out;
}

Task<std::string> IOStream::read_until(std::string delimiter, std::size_t max_bytes) {
  auto self = shared_from_this();
  if (delimiter.empty()) throw std::invalid_argument("read_until: empty delimiter");
  begin_read(ReadKind::kUntil);
  impl_->read_args().delimiter = std::move(delimiter);
  impl_->max_bytes = max_bytes;
  std::size_t n = co_await ReadAwaiter(this);
  co_return take(n);
}

Task<std::string> IOStream::read_until_regex(std::string pattern, std::size_t max_bytes) {
  auto self = shared_from_this();
  detail::CompiledRegex regex(pattern);  // throws std::invalid_argument before the read
  begin_read(ReadKind::kRegex);
  impl_->read_args().regex = std::move(regex);
  impl_->max_bytes = max_bytes;
  std::size_t n = co_await ReadAwaiter(this);
  co_return take(n);
}

Task<std::string> IOStream::read_bytes(std::size_t n, bool partial) {
  auto self = shared_from_this();
  begin_read(ReadKind::kBytes);
  impl_->read_target = n;
  impl_->partial = partial;
  std::size_t got = co_await ReadAwaiter(this);
  co_return take(got);
}

Task<std::size_t> IOStream::read_into(std::span<char> buffer, bool partial) {
  auto self = shared_from_this();
  begin_read(ReadKind::kInto);
  detail::ReadArgs& args = impl_->read_args();
  args.into = buffer;
  args.into_filled = 0;
  impl_->partial = partial;
  co_return co_await ReadAwaiter(this);
}

Task<std::string> IOStream::read_until_close() {
  auto self = shared_from_this();
  begin_read(ReadKind::kUntilClose);
  std::size_t n = co_await ReadAwaiter(this);
  co_return take(n);
}

IOStream::ReadAwaiter IOStream::fill_buffer() {
  if (impl_->kind != ReadKind::kNone) throw std::logic_error("Already reading");
  if (impl_->buffer.size() >= options_.max_buffer_size) {
    throw StreamBufferFullError("fill_buffer: read buffer holds max_buffer_size (" +
                                std::to_string(options_.max_buffer_size) + ") bytes");
  }
  begin_read(ReadKind::kFill);
  impl_->read_target = impl_->buffer.size();
  return ReadAwaiter(this);
}

std::string_view IOStream::read_buffer() const noexcept { return impl_->buffer.view(); }

std::span<char> IOStream::mutable_read_buffer() noexcept {
  auto& b = impl_->buffer;
  return {const_cast<char*>(b.data()), b.size()};  // the buffer's own heap bytes
}

void IOStream::consume(std::size_t n) noexcept {
  impl_->buffer.consume(std::min(n, impl_->buffer.size()));
}

std::size_t IOStream::read_buffer_capacity() const noexcept { return impl_->buffer.allocated(); }

bool IOStream::reading() const noexcept { return impl_->kind != ReadKind::kNone; }

bool IOStream::writing() const noexcept { return impl_->whead < impl_->wqueue.size(); }

std::size_t IOStream::write_buffer_size() const noexcept {
  return static_cast<std::size_t>(impl_->queued - impl_->flushed);
}

// Where the pending read ends in the buffer, if the buffer already satisfies it.
// Throws UnsatisfiableReadError when max_bytes rules the read out.
std::optional<std::size_t> IOStream::find_read_pos() {
  Impl& m = *impl_;
  detail::ReadBuffer& b = m.buffer;
  const std::size_t size = b.size();
  auto check_max = [&](std::size_t needed) {
    if (m.max_bytes && needed > m.max_bytes) {
      throw UnsatisfiableReadError("delimiter not found within " + std::to_string(m.max_bytes) +
                                   " bytes");
    }
  };
  switch (m.kind) {
    case ReadKind::kBytes:
      if (size >= m.read_target) return m.read_target;
      if (m.partial && size > 0) return size;
      return std::nullopt;
    case ReadKind::kUntil: {
      const std::size_t dl = m.args->delimiter.size();
      if (size >= dl + m.scan_from) {
        const void* hit =
            memmem(b.data() + m.scan_from, size - m.scan_from, m.args->delimiter.data(), dl);
        if (hit) {
          std::size_t end = static_cast<const char*>(hit) - b.data() + dl;
          check_max(end);
          return end;
        }
        // A delimiter straddling the end may complete later: keep its first dl-1 bytes.
        m.scan_from = size - dl + 1;
      }
      check_max(size);
      return std::nullopt;
    }
    case ReadKind::kRegex: {
      std::size_t begin = 0, end = 0;
      switch (m.args->regex.search(b.view(), m.scan_from, &begin, &end)) {
        case detail::CompiledRegex::Result::kMatch:
          check_max(end);
          return end;
        case detail::CompiledRegex::Result::kPartial:
          m.scan_from = begin;
          break;
        case detail::CompiledRegex::Result::kNone:
          m.scan_from = size;
          break;
      }
      check_max(size);
      return std::nullopt;
    }
    case ReadKind::kFill:
      if (size > m.read_target) return size;
      return std::nullopt;
    case ReadKind::kInto: {
      std::size_t n = std::min(size, m.args->into.size() - m.args->into_filled);
      if (n) {
        std::memcpy(m.args->into.data() + m.args->into_filled, b.data(), n);
        b.consume(n);
        m.args->into_filled += n;
      }
      if (m.args->into_filled == m.args->into.size() || (m.partial && m.args->into_filled > 0)) {
        return m.args->into_filled;
      }
      return std::nullopt;
    }
    case ReadKind::kUntilClose:
    case ReadKind::kNone:
      return std::nullopt;
  }
  return std::nullopt;
}

// Completes the pending read from the buffer if it can. True when the read is finished
// (with a result, or failed because the stream closed).
bool IOStream::check_satisfied() {
  Impl& m = *impl_;
  if (m.read_done) return true;
  try {
    if (auto pos = find_read_pos()) {
      m.read_result = *pos;
      m.read_done = true;
      return true;
    }
  } catch (const UnsatisfiableReadError& e) {
    // Tornado's rule: the connection is unusable (its framing is lost), so close it; the
    // read fails with StreamClosedError whose real_error is this exception.
    gen_log().info("Unsatisfiable read, closing connection: {}", e.what());
    close(std::current_exception());
  } catch (...) {
    close(std::current_exception());
  }
  return m.read_done;
}

// The pending read's next step: from the buffer, then from the socket.
bool IOStream::advance_read() {
  Impl& m = *impl_;
  if (check_satisfied()) return true;
  if (state_ == State::kClosed) {
    settle_read_on_close();
    return true;
  }
  if (state_ == State::kOpen) read_loop();
  return m.read_done;
}

// Reads until the pending read is satisfied or the socket would block. With no read
// pending it reads only while a close callback wants to hear about a close, and no more
// than read_chunk_size: past that the kernel's buffer holds the data (backpressure).
// An edge-triggered fd reports readiness once, so `readable` remembers that we stopped
// before EAGAIN; the next read resumes from the socket without waiting for an edge.
void IOStream::read_loop() {
  Impl& m = *impl_;
  while (state_ == State::kOpen && m.readable) {
    if (m.kind == ReadKind::kNone) {
      if (!m.close_callback || m.buffer.size() >= options_.read_chunk_size) break;
    } else if (m.read_done) {
      break;
    }
    ssize_t n;
    std::size_t asked = 0;
    try {
      if (m.kind == ReadKind::kInto && m.buffer.empty()) {
        // Straight into the caller's memory: no intermediate copy.
        asked = m.args->into.size() - m.args->into_filled;
        n = read_from_fd(m.args->into.data() + m.args->into_filled, asked);
        if (n > 0) m.args->into_filled += static_cast<std::size_t>(n);
      } else {
        std::size_t room = options_.max_buffer_size - m.buffer.size();
        if (room == 0) {
          gen_log().error("Reached maximum read buffer size on fd {}", fd_);
          close(std::make_exception_ptr(
              StreamBufferFullError("Reached maximum read buffer size (" +
                                    std::to_string(options_.max_buffer_size) + " bytes)")));
          break;
        }
        asked = std::min(room, options_.read_chunk_size);
        n = read_chunk(asked);
      }
    } catch (const std::system_error& e) {
      const int code = e.code().value();
      if (code != ECONNRESET && code != EPIPE && code != ETIMEDOUT) {
        gen_log().warn("Read error on fd {}: {}", fd_, e.what());
      }
      close(std::current_exception());
      break;
    } catch (...) {
      close(std::current_exception());
      break;
    }
    if (n < 0) {
      if (state_ == State::kOpen) m.readable = false;
      break;
    }
    if (n == 0) {
      close();  // orderly EOF
      break;
    }
    // A short read emptied the socket: the next bytes raise a new edge, so do not spend a
    // recv() on the EAGAIN (nginx does the same with EPOLLET). Not for TLS, whose library
    // may hold decrypted bytes back.
    // Unless the peer's FIN came with this edge: then the read that sees EOF is still due.
    if (static_cast<std::size_t>(n) < asked && !m.eof_pending && short_read_drains()) {
      m.readable = false;
    }
    if (m.kind != ReadKind::kNone) check_satisfied();
  }
}

ssize_t IOStream::read_chunk(std::size_t want) {
  detail::ReadBuffer& b = impl_->buffer;
  if (b.capacity() >= options_.read_chunk_size) {
    // A large transfer: read in place, no copy.
    ssize_t n = read_from_fd(b.prepare(want), want);
    if (n > 0) b.commit(static_cast<std::size_t>(n));
    return n;
  }
  if (t_scratch.size() < want) t_scratch.resize(want);
  ssize_t n = read_from_fd(t_scratch.data(), want);
  if (n > 0) b.append(t_scratch.data(), static_cast<std::size_t>(n));
  return n;
}

namespace {
bool is_buffer_full(const std::exception_ptr& error) {
  if (!error) return false;
  try {
    std::rethrow_exception(error);
  } catch (const StreamBufferFullError&) {
    return true;
  } catch (...) {
    return false;
  }
}
}  // namespace

// The stream closed with a read pending: the buffered bytes may still satisfy it.
void IOStream::settle_read_on_close() {
  Impl& m = *impl_;
  if (m.kind == ReadKind::kNone || m.read_done) return;
  m.read_done = true;
  if (m.kind == ReadKind::kUntilClose) {
    // Closed because the buffer filled up: the bytes held are not the whole stream, so
    // returning them as if they were would hide the truncation.
    if (is_buffer_full(error_)) {
      m.read_error = std::make_exception_ptr(StreamClosedError(error_));
      return;
    }
    m.read_result = m.buffer.size();
    return;
  }
  try {
    if (auto pos = find_read_pos()) {
      m.read_result = *pos;
      return;
    }
  } catch (...) {
    // Unsatisfiable after close is still "closed" (Tornado raises StreamClosedError).
  }
  m.read_error = std::make_exception_ptr(StreamClosedError(error_));
}

ssize_t IOStream::read_from_fd(char* buf, std::size_t len) {
  for (;;) {
    ssize_t n = ::read(fd_, buf, len);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    // ENOTCONN: a socket that is not connected yet (connect() is about to be called).
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOTCONN) {
      errno = EAGAIN;
      return -1;
    }
    throw std::system_error(errno, std::system_category(), "read");
  }
}

// ---- writes -----------------------------------------------------------------------------

namespace {

// writev(2) on a non-socket (a pipe) whose reader may be gone. There is no MSG_NOSIGNAL for
// pipes, and ignoring SIGPIPE process-wide would change the application's signal setup, so
// SIGPIPE is blocked for this thread around the call and, if the write raised one (EPIPE),
// that pending signal is taken back with a zero-timeout sigtimedwait before the old mask
// returns. The kernel sends a write's SIGPIPE to the writing thread, so no other thread
// sees it; one that was already pending before the write is left alone.
ssize_t writev_without_sigpipe(int fd, const struct iovec* iov, int count) {
  sigset_t sigpipe, old_mask, pending;
  sigemptyset(&sigpipe);
  sigaddset(&sigpipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &sigpipe, &old_mask);
  sigpending(&pending);
  const bool already_pending = sigismember(&pending, SIGPIPE) == 1;
  ssize_t n = ::writev(fd, iov, count);
  const int err = errno;
  if (n < 0 && err == EPIPE && !already_pending) {
    const timespec zero{};
    while (sigtimedwait(&sigpipe, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  errno = err;
  return n;
}

}  // namespace

ssize_t IOStream::write_to_fd(const struct iovec* iov, int count) {
  for (;;) {
    ssize_t n;
    if (!impl_->use_writev) {
      // sendmsg is writev with flags: MSG_NOSIGNAL turns SIGPIPE into EPIPE, per call,
      // without touching the process's signal disposition.
      msghdr msg{};
      msg.msg_iov = const_cast<struct iovec*>(iov);
      msg.msg_iovlen = static_cast<std::size_t>(count);
      n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
      if (n < 0 && errno == ENOTSOCK) {
        impl_->use_writev = true;  // a pipe: writev, with SIGPIPE held off by hand
        continue;
      }
    } else {
      n = writev_without_sigpipe(fd_, iov, count);
    }
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
    throw std::system_error(errno, std::system_category(), "write");
  }
}

namespace {

// Small writes are copied onto the last queued chunk instead of queued on their own (a
// pipelined batch of responses becomes one chunk, one iovec), up to this chunk size.
constexpr std::size_t kCoalesceLimit = 16 * 1024;

// Flushed chunks of at most kCoalesceLimit bytes of capacity are kept per thread for the
// next write, so steady small writes allocate nothing; an idle stream keeps none.
thread_local std::vector<std::string> t_spare_chunks;
constexpr std::size_t kMaxSpareChunks = 64;

std::string take_spare_chunk() {
  if (t_spare_chunks.empty()) return {};
  std::string s = std::move(t_spare_chunks.back());
  t_spare_chunks.pop_back();
  return s;
}

void give_back_chunk(std::string& chunk) {
  if (chunk.capacity() > 15 && chunk.capacity() <= kCoalesceLimit &&
      t_spare_chunks.size() < kMaxSpareChunks) {
    chunk.clear();
    t_spare_chunks.push_back(std::move(chunk));
  }
  std::string().swap(chunk);  // give the chunk's memory back now
}

}  // namespace

// The chunk a small write may be appended to: the last queued one, while it is small.
// Appending is safe even to the chunk being sent: only offsets are kept between sends.
std::string* IOStream::coalescing_tail(std::size_t adding) noexcept {
  Impl& m = *impl_;
  if (m.whead >= m.wqueue.size()) return nullptr;
  std::string& tail = m.wqueue.back();
  return tail.size() + adding <= kCoalesceLimit ? &tail : nullptr;
}

void IOStream::check_write(std::size_t size) {
  if (state_ == State::kClosed) throw StreamClosedError(error_);
  const uint64_t pending = impl_->queued - impl_->flushed;
  if (options_.max_write_buffer_size && pending + size > options_.max_write_buffer_size) {
    throw StreamBufferFullError("Reached maximum write buffer size (" +
                                std::to_string(options_.max_write_buffer_size) + " bytes)");
  }
}

IOStream::WriteAwaiter IOStream::write(std::string data) {
  check_write(data.size());
  Impl& m = *impl_;
  if (!data.empty()) {
    m.queued += data.size();
    if (std::string* tail = coalescing_tail(data.size())) {
      tail->append(data);
    } else {
      m.wqueue.push_back(std::move(data));
    }
    schedule_flush();
  }
  return WriteAwaiter(shared_from_this(), m.queued);
}

IOStream::WriteAwaiter IOStream::write(std::string_view data) {
  check_write(data.size());
  Impl& m = *impl_;
  if (!data.empty()) {
    if (std::string* tail = coalescing_tail(data.size())) {
      tail->append(data);
    } else {
      std::string chunk = data.size() <= kCoalesceLimit ? take_spare_chunk() : std::string();
      chunk.assign(data);
      m.wqueue.push_back(std::move(chunk));
    }
    m.queued += data.size();
    schedule_flush();
  }
  return WriteAwaiter(shared_from_this(), m.queued);
}

// Corking: writes made in one loop iteration and not awaited go out together, in one
// writev, from a callback at the end of the iteration. Awaiting a write flushes at once.
void IOStream::schedule_flush() {
  Impl& m = *impl_;
  if (m.flush_scheduled || state_ != State::kOpen) return;
  IOLoop* loop = live_loop();
  if (!loop) return;
  m.flush_scheduled = true;
  loop->add_callback([self = shared_from_this()] {
    self->impl_->flush_scheduled = false;
    if (self->state_ == State::kOpen) self->handle_write();
    self->run_wakeups();
  });
}

void IOStream::handle_write() noexcept {
  Impl& m = *impl_;
  const uint64_t before = m.flushed;
  try {
    while (state_ == State::kOpen && m.whead < m.wqueue.size()) {
      iovec iov[kMaxIov];
      int count = 0;
      for (std::size_t i = m.whead; i < m.wqueue.size() && count < kMaxIov; ++i, ++count) {
        const std::size_t skip = i == m.whead ? m.woffset : 0;
        iov[count].iov_base = m.wqueue[i].data() + skip;
        iov[count].iov_len = m.wqueue[i].size() - skip;
      }
      ssize_t n = write_to_fd(iov, count);
      if (n < 0) break;  // EAGAIN: the next EPOLLOUT edge resumes
      m.flushed += static_cast<uint64_t>(n);
      auto left = static_cast<std::size_t>(n);
      while (left > 0) {
        std::string& head = m.wqueue[m.whead];
        const std::size_t rest = head.size() - m.woffset;
        if (left < rest) {
          m.woffset += left;
          break;
        }
        left -= rest;
        give_back_chunk(head);
        ++m.whead;
        m.woffset = 0;
      }
    }
    if (m.whead == m.wqueue.size()) {
      std::vector<std::string>().swap(m.wqueue);  // an idle stream keeps no queue storage
      m.whead = m.woffset = 0;
    } else if (m.whead > 32 && m.whead * 2 > m.wqueue.size()) {
      m.wqueue.erase(m.wqueue.begin(), m.wqueue.begin() + static_cast<std::ptrdiff_t>(m.whead));
      m.whead = 0;
    }
  } catch (const std::system_error& e) {
    const int code = e.code().value();
    if (code != ECONNRESET && code != EPIPE && code != ETIMEDOUT) {
      gen_log().warn("Write error on fd {}: {}", fd_, e.what());
    }
    close(std::current_exception());
  } catch (...) {
    close(std::current_exception());
  }
  if (m.flushed != before && !m.write_waiters.empty() && !m.dispatching) schedule_wake();
}

bool IOStream::WriteAwaiter::await_ready() const noexcept {
  IOStream& s = *stream_;
  if (s.impl_->flushed >= end_ || s.state_ == State::kClosed) return true;
  // The immediate attempt: usually the kernel takes everything and nothing suspends
  // (nor allocates).
  if (s.state_ == State::kOpen) s.handle_write();
  return s.impl_->flushed >= end_ || s.state_ == State::kClosed;
}

void IOStream::WriteAwaiter::suspend(std::coroutine_handle<> h) {
  h_ = h;
  stream_->impl_->write_waiters.emplace_back(end_, h);
}

// Removes this awaiter's entry from the stream's waiters; false if it is not there (its
// resumption has started).
bool IOStream::WriteAwaiter::unregister() noexcept {
  if (!h_ || !stream_) return false;
  auto& waiters = stream_->impl_->write_waiters;
  for (auto it = waiters.begin(); it != waiters.end(); ++it) {
    if (it->second == h_) {
      waiters.erase(it);
      return true;
    }
  }
  return false;
}

IOStream::WriteAwaiter::~WriteAwaiter() {
  disarm();
  unregister();  // a frame destroyed while suspended here
}

// Cancelling stops the wait only: the bytes stay queued and are still sent.
bool IOStream::WriteAwaiter::cancel(detail::CancelHook* hook) {
  auto* self = static_cast<WriteAwaiter*>(hook);
  if (self->cancelled_) return true;
  if (!self->unregister()) return false;
  self->cancelled_ = true;
  detail::post([h = self->h_] { h.resume(); });
  return true;
}

void IOStream::WriteAwaiter::await_resume() {
  h_ = {};
  disarm();
  if (cancelled_) throw CancelledError();
  if (stream_->impl_->flushed < end_) throw StreamClosedError(stream_->error_);
}

// ---- wake-ups ---------------------------------------------------------------------------

void IOStream::schedule_wake() {
  Impl& m = *impl_;
  if (m.wake_scheduled) return;
  if (!m.read_waiter && !m.connect_waiter && !m.handshake_waiter && m.write_waiters.empty()) {
    return;
  }
  IOLoop* loop = live_loop();
  auto self = weak_from_this().lock();
  if (!loop || !self) return;
  m.wake_scheduled = true;
  loop->add_callback([self = std::move(self)] { self->run_wakeups(); });
}

// Resumes every waiter whose operation finished. Re-checks state after each resume: the
// resumed coroutine may have closed the stream or started new operations.
void IOStream::run_wakeups() {
  Impl& m = *impl_;
  m.wake_scheduled = false;
  if (m.connect_waiter && state_ != State::kConnecting) {
    std::exchange(m.connect_waiter, {}).resume();
  }
  if (m.handshake_waiter && (m.handshake_done || state_ == State::kClosed)) {
    std::exchange(m.handshake_waiter, {}).resume();
  }
  if (m.read_waiter && m.read_done) std::exchange(m.read_waiter, {}).resume();
  while (!m.write_waiters.empty()) {
    auto [end, h] = m.write_waiters.front();
    if (end > m.flushed && state_ != State::kClosed) break;
    m.write_waiters.erase(m.write_waiters.begin());
    h.resume();
  }
  if (m.write_waiters.empty() && m.write_waiters.capacity() > 0) {
    std::vector<std::pair<uint64_t, std::coroutine_handle<>>>().swap(m.write_waiters);
  }
}

// ---- events -----------------------------------------------------------------------------

void IOStream::on_events(int /*fd*/, uint32_t events) {
  // Callbacks below may drop the owner's last reference: keep the object alive.
  auto self = shared_from_this();
  Impl& m = *impl_;
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
  run_wakeups();
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
    impl_->readable = true;
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
  Impl& m = *impl_;
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
  if (!m.dispatching) schedule_wake();
  if (m.close_callback) {
    auto self = weak_from_this().lock();
    IOLoop* loop = live_loop();
    if (self && loop) {
      loop->add_callback([self = std::move(self), cb = std::move(m.close_callback)] { cb(); });
    }
    m.close_callback = nullptr;
  }
}

void IOStream::set_close_callback(std::function<void()> callback) {
  impl_->close_callback = std::move(callback);
  if (state_ == State::kClosed && impl_->close_callback) {
    if (IOLoop* loop = live_loop()) {
      loop->add_callback(
          [self = shared_from_this(), cb = std::move(impl_->close_callback)] { cb(); });
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
