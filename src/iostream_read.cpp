// IOStream, the read side: read_until/_regex/_bytes/_into/_until_close, the buffer, and
// reading the socket (see iostream.cpp for the control flow).
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "internal/describe_exception.h"
#include "internal/iostream_impl.h"
#include "tornado/hot.h"
#include "tornado/iostream.h"
#include "tornado/log.h"

namespace tornado {

namespace {

// Bytes read from the socket land here first when the stream's buffer is small, so a
// 200-byte request costs a 200-byte buffer, not a read_chunk_size one.
thread_local std::vector<char> t_scratch;

}  // namespace

// ---- reads ------------------------------------------------------------------------------

namespace {

// IOStream::finish_read on the stream's Hot state: inline in ReadAwaiter::await_resume,
// which every awaited read runs (a library's call to its own exported function is not
// inlined under -fPIC).
template <typename Hot>
inline std::size_t finish_read_of(Hot& m) {
  m.kind = decltype(m.kind){};  // ReadKind::kNone
  m.read_done = false;
  m.args.reset();
  if (m.read_error) [[unlikely]] std::rethrow_exception(std::exchange(m.read_error, nullptr));
  return m.read_result;
}

}  // namespace

// A frame destroyed while suspended here (IOLoop::close()) leaves the stream reusable.
TORNADO_HOT IOStream::ReadAwaiter::~ReadAwaiter() {
  disarm();
  if (h && s_->hot_.read_waiter == h) {
    s_->hot_.read_waiter = {};
    s_->abandon_read();
  }
}

// A read satisfied at once completes inline within the loop's budget (see
// IOLoop::set_max_inline_completions); past it, suspend() yields to the loop.
TORNADO_HOT bool IOStream::ReadAwaiter::await_ready() {
  return s_->advance_read() && detail::take_inline_completion();
}

TORNADO_HOT void IOStream::ReadAwaiter::suspend(std::coroutine_handle<> c) {
  h = c;
  s_->hot_.read_waiter = c;
  // Already done: a yield. run_wakeups, from the loop's callback queue, resumes it.
  if (s_->hot_.read_done) s_->schedule_wake();
}

TORNADO_HOT std::size_t IOStream::ReadAwaiter::await_resume() {
  finish();
  return finish_read_of(s_->hot_);
}

// Cancelling a read leaves the bytes it would have taken in the buffer.
bool IOStream::ReadAwaiter::cancel(detail::CancelHook* hook) {
  auto* op = static_cast<ReadAwaiter*>(hook);
  if (op->cancelled) return true;
  Hot& m = op->s_->hot_;
  if (m.read_waiter != op->h || m.read_done) return false;  // its result is on the way
  m.read_waiter = {};
  op->s_->abandon_read();
  op->resume_cancelled();
  return true;
}

namespace {
[[noreturn, gnu::cold, gnu::noinline]] void throw_already_reading() {
  throw std::logic_error("Already reading");
}
}  // namespace

// Inline: fill_buffer, which every request's wait runs, is its hot caller.
TORNADO_HOT inline void IOStream::begin_read(ReadKind kind) {
  Hot& m = hot_;
  if (m.kind != ReadKind::kNone) [[unlikely]] throw_already_reading();
  m.kind = kind;
  m.read_done = false;
  m.read_error = nullptr;
  m.read_result = 0;
  m.partial = false;
}

std::size_t IOStream::finish_read() { return finish_read_of(hot_); }

void IOStream::abandon_read() noexcept {
  hot_.read_error = nullptr;
  finish_read();
}

std::string IOStream::take(std::size_t n) {
  std::string out(hot_.buffer.data(), n);
  hot_.buffer.consume(n);
  return out;
}

Task<std::string> IOStream::read_until(std::string delimiter, std::size_t max_bytes) {
  auto self = shared_from_this();
  if (delimiter.empty()) throw std::invalid_argument("read_until: empty delimiter");
  begin_read(ReadKind::kUntil);
  detail::ReadArgs& args = hot_.read_args();
  args.delimiter = std::move(delimiter);
  args.max_bytes = max_bytes;
  std::size_t n = co_await ReadAwaiter(this);
  co_return take(n);
}

Task<std::string> IOStream::read_until_regex(std::string pattern, std::size_t max_bytes) {
  auto self = shared_from_this();
  detail::CompiledRegex regex(pattern);  // throws std::invalid_argument before the read
  begin_read(ReadKind::kRegex);
  detail::ReadArgs& args = hot_.read_args();
  args.regex = std::move(regex);
  args.max_bytes = max_bytes;
  std::size_t n = co_await ReadAwaiter(this);
  co_return take(n);
}

Task<std::string> IOStream::read_bytes(std::size_t n, bool partial) {
  auto self = shared_from_this();
  begin_read(ReadKind::kBytes);
  hot_.read_target = n;
  hot_.partial = partial;
  std::size_t got = co_await ReadAwaiter(this);
  co_return take(got);
}

Task<std::size_t> IOStream::read_into(std::span<char> buffer, bool partial) {
  auto self = shared_from_this();
  begin_read(ReadKind::kInto);
  detail::ReadArgs& args = hot_.read_args();
  args.into = buffer;
  args.into_filled = 0;
  hot_.partial = partial;
  co_return co_await ReadAwaiter(this);
}

Task<std::string> IOStream::read_until_close() {
  auto self = shared_from_this();
  begin_read(ReadKind::kUntilClose);
  std::size_t n = co_await ReadAwaiter(this);
  co_return take(n);
}

TORNADO_HOT IOStream::ReadAwaiter IOStream::fill_buffer() {
  if (hot_.kind != ReadKind::kNone) [[unlikely]] throw_already_reading();
  if (hot_.buffer.size() >= options_.max_buffer_size) [[unlikely]] {
    throw StreamBufferFullError("fill_buffer: read buffer holds max_buffer_size (" +
                                std::to_string(options_.max_buffer_size) + ") bytes");
  }
  begin_read(ReadKind::kFill);
  hot_.read_target = hot_.buffer.size();
  return ReadAwaiter(this);
}

std::span<char> IOStream::mutable_read_buffer() noexcept {
  auto& b = hot_.buffer;
  return {const_cast<char*>(b.data()), b.size()};  // the buffer's own heap bytes
}

// Where the pending read ends in the buffer, if the buffer already satisfies it.
// Throws UnsatisfiableReadError when max_bytes rules the read out.
std::optional<std::size_t> IOStream::find_read_pos() {
  Hot& m = hot_;
  detail::ReadBuffer& b = m.buffer;
  const std::size_t size = b.size();
  auto check_max = [&](std::size_t needed) {
    if (m.args->max_bytes && needed > m.args->max_bytes) {
      throw UnsatisfiableReadError("delimiter not found within " +
                                   std::to_string(m.args->max_bytes) + " bytes");
    }
  };
  switch (m.kind) {
    case ReadKind::kBytes:
      if (size >= m.read_target) return m.read_target;
      if (m.partial && size > 0) return size;
      return std::nullopt;
    case ReadKind::kUntil: {
      const std::size_t dl = m.args->delimiter.size();
      if (size >= dl + m.args->scan_from) {
        const void* hit = memmem(b.data() + m.args->scan_from, size - m.args->scan_from,
                                 m.args->delimiter.data(), dl);
        if (hit) {
          std::size_t end = static_cast<const char*>(hit) - b.data() + dl;
          check_max(end);
          return end;
        }
        // A delimiter straddling the end may complete later: keep its first dl-1 bytes.
        m.args->scan_from = size - dl + 1;
      }
      check_max(size);
      return std::nullopt;
    }
    case ReadKind::kRegex: {
      std::size_t begin = 0, end = 0;
      switch (m.args->regex.search(b.view(), m.args->scan_from, &begin, &end)) {
        case detail::CompiledRegex::Result::kMatch:
          check_max(end);
          return end;
        case detail::CompiledRegex::Result::kPartial:
          m.args->scan_from = begin;
          break;
        case detail::CompiledRegex::Result::kNone:
          m.args->scan_from = size;
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
TORNADO_HOT bool IOStream::check_satisfied() {
  Hot& m = hot_;
  if (m.read_done) return true;
  // fill_buffer's read (a server's wait for the next request), without find_read_pos.
  if (m.kind == ReadKind::kFill) [[likely]] {
    if (m.buffer.size() <= m.read_target) return false;
    m.read_result = m.buffer.size();
    m.read_done = true;
    return true;
  }
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
TORNADO_HOT bool IOStream::advance_read() {
  Hot& m = hot_;
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
TORNADO_HOT void IOStream::read_loop() {
  Hot& m = hot_;
  while (state_ == State::kOpen && m.readable) {
    if (m.kind == ReadKind::kNone) {
      if (!impl_->close_callback || m.buffer.size() >= options_.read_chunk_size) break;
    } else if (m.read_done) {
      break;
    }
    ssize_t n;
    std::size_t asked = 0;
    try {
      if (m.kind == ReadKind::kInto && m.buffer.empty()) [[unlikely]] {
        // Straight into the caller's memory: no intermediate copy.
        asked = m.args->into.size() - m.args->into_filled;
        n = read_from_fd(m.args->into.data() + m.args->into_filled, asked);
        if (n > 0) m.args->into_filled += static_cast<std::size_t>(n);
      } else {
        std::size_t room = options_.max_buffer_size - m.buffer.size();
        if (room == 0) [[unlikely]] {
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

TORNADO_HOT ssize_t IOStream::read_chunk(std::size_t want) {
  detail::ReadBuffer& b = hot_.buffer;
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
  Hot& m = hot_;
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

TORNADO_HOT ssize_t IOStream::read_from_fd(char* buf, std::size_t len) {
  for (;;) {
    // recv() for a socket: read() takes the file layer's way there (position lock checks,
    // fsnotify) for nothing. A pipe or a file answers ENOTSOCK once, and is read() from
    // then on (not_socket, which the write side learns the same way).
    ssize_t n = hot_.not_socket ? ::read(fd_, buf, len) : ::recv(fd_, buf, len, 0);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == ENOTSOCK && !hot_.not_socket) [[unlikely]] {
      hot_.not_socket = true;
      continue;
    }
    // ENOTCONN: a socket that is not connected yet (connect() is about to be called).
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOTCONN) {
      errno = EAGAIN;
      return -1;
    }
    throw std::system_error(errno, std::system_category(), "read");
  }
}

}  // namespace tornado
