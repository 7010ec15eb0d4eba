// IOStream, the write side: the write queue, coalescing, writev/sendmsg and the write
// awaiter (see iostream.cpp for the control flow).
#include <pthread.h>
#include <signal.h>
#include <sys/uio.h>
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

constexpr int kMaxIov = 64;  // iovecs per writev; more chunks go out in the next call

}  // namespace

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

TORNADO_HOT ssize_t IOStream::write_to_fd(const struct iovec* iov, int count) {
  for (;;) {
    ssize_t n;
    if (!hot_.not_socket) {
      // sendmsg is writev with flags: MSG_NOSIGNAL turns SIGPIPE into EPIPE, per call,
      // without touching the process's signal disposition.
      if (count == 1) {
        // One buffer (a fan-out's frame, a coalesced batch): send() skips the kernel's copy
        // of the msghdr and the iovec import, ~3 % of a broadcast's server CPU.
        n = ::send(fd_, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
      } else {
        msghdr msg{};
        msg.msg_iov = const_cast<struct iovec*>(iov);
        msg.msg_iovlen = static_cast<std::size_t>(count);
        n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
      }
      if (n < 0 && errno == ENOTSOCK) {
        hot_.not_socket = true;  // a pipe: writev, with SIGPIPE held off by hand
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
// next write, so steady small writes allocate nothing; an idle stream keeps none. The bound
// is on their bytes (1 MiB a thread, as for the read buffers), not only their number: an
// iteration answering 256 pipelined connections fills 256 chunks (about 3.5 KiB each from
// web::Application), and with 64 kept the other 192 went back to malloc together, glibc
// trimmed the heap with brk and the next iteration faulted it in again (12,000 page faults a
// second; docs/performance.md, "The write chunks of a burst").
thread_local std::vector<std::string> t_spare_chunks;
thread_local std::size_t t_spare_chunk_bytes = 0;
constexpr std::size_t kMaxSpareChunks = 1024;
constexpr std::size_t kSpareChunkBytes = 1024 * 1024;

// Emptied write queues' storage, kept per thread the same way: a connection answering one
// request at a time empties its queue after each answer, and made a new one for the next;
// an iteration answering many connections empties as many (at most 512 B each: 128 KiB).
thread_local std::vector<std::vector<std::string>> t_spare_queues;
constexpr std::size_t kMaxSpareQueues = 256;
constexpr std::size_t kMaxSpareQueueCapacity = 16;

// Storage for an empty write queue about to take its first chunk.
void take_spare_queue(std::vector<std::string>& queue) {
  if (queue.capacity() != 0 || t_spare_queues.empty()) return;
  queue = std::move(t_spare_queues.back());
  t_spare_queues.pop_back();
}

std::string take_spare_chunk() {
  if (t_spare_chunks.empty()) return {};
  std::string s = std::move(t_spare_chunks.back());
  t_spare_chunks.pop_back();
  t_spare_chunk_bytes -= s.capacity();
  return s;
}

void give_back_chunk(std::string& chunk) {
  const std::size_t bytes = chunk.capacity();
  if (bytes > 15 && bytes <= kCoalesceLimit && t_spare_chunks.size() < kMaxSpareChunks &&
      t_spare_chunk_bytes + bytes <= kSpareChunkBytes) {
    chunk.clear();
    t_spare_chunks.push_back(std::move(chunk));
    t_spare_chunk_bytes += bytes;
  }
  std::string().swap(chunk);  // give the chunk's memory back now
}

// The thread's arena for writes sent at the end of a loop iteration's events (reserve_later):
// the responses to an iteration's requests are assembled side by side here and sent from
// here, each with one send, instead of each in a queue chunk of its own. Reset when the
// last stream holding a slice of it has sent (or dropped) it.
struct LaterArena {
  std::unique_ptr<char[]> data;
  std::size_t used = 0;
  unsigned slices = 0;  // streams holding bytes here
};
thread_local LaterArena t_later;
constexpr std::size_t kLaterArenaSize = 64 * 1024;

}  // namespace

std::size_t detail::thread_spare_write_bytes() noexcept { return t_spare_chunk_bytes; }

TORNADO_HOT char* IOStream::reserve_later(std::size_t size) {
  Hot& m = hot_;
  if (!m.after_events || m.whead < m.wqueue.size() || m.tls) return nullptr;
  check_write(size);
  LaterArena& a = t_later;
  if (!a.data) a.data = std::make_unique<char[]>(kLaterArenaSize);
  // A second write of this stream extends its slice only where the arena ends.
  if (m.later_size != 0 && m.later_data + m.later_size != a.data.get() + a.used) return nullptr;
  if (kLaterArenaSize - a.used < size) return nullptr;
  return a.data.get() + a.used;
}

TORNADO_HOT void IOStream::commit_later(std::size_t used) noexcept {
  if (used == 0) return;
  Hot& m = hot_;
  LaterArena& a = t_later;
  if (m.later_size == 0) {
    m.later_data = a.data.get() + a.used;
    ++a.slices;
  }
  a.used += used;
  m.later_size += static_cast<uint32_t>(used);
  m.queued += used;
}

TORNADO_HOT void IOStream::release_later() noexcept {
  Hot& m = hot_;
  m.later_data = nullptr;
  m.later_size = 0;
  if (--t_later.slices == 0) t_later.used = 0;
}

void IOStream::settle_later() {
  Hot& m = hot_;
  const std::string_view bytes(m.later_data, m.later_size);
  m.queued -= bytes.size();  // write() counts them again
  release_later();  // the arena's bytes stay as they are until the next reserve_later
  (void)write(bytes);
}

// The chunk a small write may be appended to: the last queued one, while it is small.
// Appending is safe even to the chunk being sent: only offsets are kept between sends.
TORNADO_HOT std::string* IOStream::coalescing_tail(std::size_t adding) noexcept {
  Hot& m = hot_;
  if (m.whead >= m.wqueue.size()) return nullptr;
  std::string& tail = m.wqueue.back();
  return tail.size() + adding <= kCoalesceLimit ? &tail : nullptr;
}

TORNADO_HOT void IOStream::check_write(std::size_t size) {
  if (state_ == State::kClosed) throw StreamClosedError(error_);
  // Bytes queued behind an open room would be cut by a shorter commit_write.
  if (hot_.reserved_at != Hot::kNoRoom) {
    throw std::logic_error("IOStream: a write while a reserve_write room is open");
  }
  const uint64_t pending = hot_.queued - hot_.flushed;
  if (options_.max_write_buffer_size && pending + size > options_.max_write_buffer_size) {
    throw StreamBufferFullError("Reached maximum write buffer size (" +
                                std::to_string(options_.max_write_buffer_size) + " bytes)");
  }
}

IOStream::WriteAwaiter IOStream::write(std::string data) {
  check_write(data.size());
  Hot& m = hot_;
  if (!data.empty()) {
    if (m.later_size != 0) [[unlikely]] settle_later();
    m.queued += data.size();
    if (std::string* tail = coalescing_tail(data.size())) {
      tail->append(data);
    } else {
      take_spare_queue(m.wqueue);
      m.wqueue.push_back(std::move(data));
    }
    schedule_flush();
  }
  return WriteAwaiter(*this, m.queued);
}

TORNADO_HOT IOStream::WriteAwaiter IOStream::write(std::string_view data) {
  check_write(data.size());
  Hot& m = hot_;
  if (!data.empty()) {
    if (m.later_size != 0) [[unlikely]] settle_later();
    if (std::string* tail = coalescing_tail(data.size())) {
      tail->append(data);
    } else {
      std::string chunk = data.size() <= kCoalesceLimit ? take_spare_chunk() : std::string();
      chunk.assign(data);
      take_spare_queue(m.wqueue);
      m.wqueue.push_back(std::move(chunk));
    }
    m.queued += data.size();
    schedule_flush();
  }
  return WriteAwaiter(*this, m.queued);
}

TORNADO_HOT char* IOStream::reserve_write(std::size_t size) {
  check_write(size);
  Hot& m = hot_;
  if (m.later_size != 0) [[unlikely]] settle_later();
  std::string* tail = coalescing_tail(size);
  if (tail == nullptr) {
    take_spare_queue(m.wqueue);
    m.wqueue.push_back(size <= kCoalesceLimit ? take_spare_chunk() : std::string());
    tail = &m.wqueue.back();
  }
  m.reserved_at = tail->size();
  tail->resize(m.reserved_at + size);
  return tail->data() + m.reserved_at;
}

// Ends the open room at its first `used` bytes; a chunk made for the room and left empty
// leaves the queue (an empty chunk would stall the flush loop).
TORNADO_HOT void IOStream::close_room(std::size_t used) noexcept {
  Hot& m = hot_;
  std::string& tail = m.wqueue.back();
  tail.resize(std::exchange(m.reserved_at, Hot::kNoRoom) + used);
  if (tail.empty()) {
    give_back_chunk(tail);
    m.wqueue.pop_back();
  }
}

TORNADO_HOT IOStream::WriteAwaiter IOStream::commit_write(std::size_t used) {
  Hot& m = hot_;
  // Closed since the room was given: close() took it back; the awaiter fails.
  if (state_ == State::kClosed) return WriteAwaiter(*this, m.queued + used);
  commit_room(used);
  return WriteAwaiter(*this, m.queued);
}

TORNADO_HOT void IOStream::commit_write_unawaited(std::size_t used) {
  if (state_ != State::kClosed) commit_room(used);
}

TORNADO_HOT void IOStream::commit_room(std::size_t used) {
  Hot& m = hot_;
  if (m.reserved_at == Hot::kNoRoom) {
    throw std::logic_error("IOStream::commit_write without an open reserve_write room");
  }
  std::string& tail = m.wqueue.back();
  if (used > tail.size() - m.reserved_at) {
    throw std::logic_error("IOStream::commit_write: more bytes than the room holds");
  }
  close_room(used);
  if (used != 0) {
    m.queued += used;
    schedule_flush();
  }
}

TORNADO_HOT void IOStream::write_now(std::initializer_list<std::string_view> parts) {
  Hot& m = hot_;
  constexpr std::size_t kMaxParts = 8;
  std::size_t total = 0;
  for (std::string_view p : parts) total += p.size();
  check_write(total);
  if (m.later_size != 0 && total != 0) [[unlikely]] settle_later();
  // A TLS stream encrypts through its own path, and bytes already queued must go first.
  // (Not typeid: every stream is a subclass made by create(), so that test sent nothing at
  // once.)
  if (state_ != State::kOpen || m.whead < m.wqueue.size() || parts.size() > kMaxParts ||
      m.tls || total == 0 || m.after_events) {
    for (std::string_view p : parts) (void)write(p);
    return;
  }
  iovec iov[kMaxParts];
  int count = 0;
  for (std::string_view p : parts) {
    iov[count].iov_base = const_cast<char*>(p.data());
    iov[count++].iov_len = p.size();
  }
  ssize_t n;
  try {
    n = write_to_fd(iov, count);
  } catch (const std::system_error&) {
    n = 0;  // queued below: the next attempt meets the error and closes the stream as usual
  }
  const std::size_t sent = n > 0 ? static_cast<std::size_t>(n) : 0;
  m.queued += sent;
  m.flushed += sent;
  if (sent == total) return;
  std::size_t skip = sent;
  for (std::string_view p : parts) {
    if (skip >= p.size()) {
      skip -= p.size();
      continue;
    }
    (void)write(p.substr(skip));
    skip = 0;
  }
}

// Corking: writes made in one loop iteration and not awaited go out together, in one
// writev, from a callback at the end of the iteration. Awaiting a write flushes at once.
TORNADO_HOT void IOStream::schedule_flush() {
  Hot& m = hot_;
  if (m.flush_scheduled || state_ != State::kOpen) return;
  if (m.in_events) {  // on_events sends it at its end
    m.flush_scheduled = true;
    return;
  }
  IOLoop* loop = live_loop();
  if (!loop) return;
  m.flush_scheduled = true;
  loop->add_callback([self = shared_from_this()] {
    self->hot_.flush_scheduled = false;
    if (self->state_ == State::kOpen) self->handle_write();
    self->run_wakeups();
  });
}

void IOStream::handle_write() noexcept {
  Hot& m = hot_;
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
      // An idle stream keeps no queue storage: it goes back to the thread's spares.
      m.wqueue.clear();
      if (m.wqueue.capacity() <= kMaxSpareQueueCapacity &&
          t_spare_queues.size() < kMaxSpareQueues) {
        t_spare_queues.push_back(std::move(m.wqueue));
      }
      std::vector<std::string>().swap(m.wqueue);
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
  if (m.flushed != before && m.write_waiter_storage && !impl_->write_waiters.empty() &&
      !m.dispatching) {
    schedule_wake();
  }
}

TORNADO_HOT IOStream::WriteAwaiter::WriteAwaiter(IOStream& stream, uint64_t end_position) noexcept
    : Cancellable(&cancel), stream_(&stream), end_(end_position) {
  WriteAwaiter*& first = stream.hot_.write_awaiters;
  next_ = first;
  if (first) first->prev_ = this;
  first = this;
}

IOStream::WriteAwaiter::WriteAwaiter(WriteAwaiter&& other) noexcept
    : Cancellable(&cancel),
      stream_(std::exchange(other.stream_, nullptr)),
      prev_(std::exchange(other.prev_, nullptr)),
      next_(std::exchange(other.next_, nullptr)),
      end_(other.end_),
      flushed_when_gone_(other.flushed_when_gone_),
      gone_error_(std::move(other.gone_error_)) {
  // Takes the other's place in the stream's list.
  if (prev_) {
    prev_->next_ = this;
  } else if (stream_) {
    stream_->hot_.write_awaiters = this;
  }
  if (next_) next_->prev_ = this;
}

// Leaves it unlinked with no stream, so that a second destruction (g++ 12 destroys some
// co_await operands twice: docs/task.md) does not unlink the list's head again.
TORNADO_HOT void IOStream::WriteAwaiter::unlink() noexcept {
  if (!stream_) return;
  if (prev_) {
    prev_->next_ = next_;
  } else {
    stream_->hot_.write_awaiters = next_;
  }
  if (next_) next_->prev_ = prev_;
  prev_ = next_ = nullptr;
  stream_ = nullptr;
}

// The stream is being destroyed: its awaiters keep only whether their bytes were sent, and
// if not, what had closed the stream (the real_error a live stream's awaiter would raise).
void IOStream::release_write_awaiters() noexcept {
  Hot& m = hot_;
  for (WriteAwaiter* a = m.write_awaiters; a != nullptr;) {
    WriteAwaiter* next = a->next_;
    a->flushed_when_gone_ = m.flushed >= a->end_;
    if (!a->flushed_when_gone_) a->gone_error_ = error_;
    a->stream_ = nullptr;
    a->prev_ = a->next_ = nullptr;
    a = next;
  }
  m.write_awaiters = nullptr;
}

// Done: the bytes were handed over, or the stream closed (await_resume raises).
bool IOStream::WriteAwaiter::settled() const noexcept {
  if (!stream_) return true;
  return stream_->hot_.flushed >= end_ || stream_->state_ == State::kClosed;
}

bool IOStream::WriteAwaiter::await_ready() const noexcept {
  // The immediate attempt: usually the kernel takes everything and nothing suspends
  // (nor allocates).
  if (!settled() && stream_->state_ == State::kOpen) stream_->handle_write();
  // Done at once: inline, unless this coroutine has done so often enough since the loop
  // last resumed it (a producer whose socket drains as fast as it writes would otherwise
  // never let the loop run); then suspend() yields.
  return settled() && detail::take_inline_completion();
}

void IOStream::WriteAwaiter::suspend(std::coroutine_handle<> h) {
  h_ = h;
  if (!stream_) {  // the stream is gone and this write was settled with it: a yield
    detail::post([h] { h.resume(); });
    return;
  }
  // The stream stays alive until this write is flushed.
  keep_ = stream_->shared_from_this();
  stream_->impl_->write_waiters.emplace_back(end_, h);
  stream_->hot_.write_waiter_storage = true;
  // Already settled: a yield. run_wakeups, from the loop's callback queue, resumes it.
  if (settled()) stream_->schedule_wake();
}

// Removes this awaiter's entry from the stream's waiters; false if it is not there (its
// resumption has started).
TORNADO_HOT bool IOStream::WriteAwaiter::unregister() noexcept {
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

TORNADO_HOT IOStream::WriteAwaiter::~WriteAwaiter() {
  disarm();
  unregister();  // a frame destroyed while suspended here
  unlink();
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
  const std::shared_ptr<IOStream> keep = std::move(keep_);  // released on return
  disarm();
  if (cancelled_) throw CancelledError();
  if (!stream_) {
    if (!flushed_when_gone_) throw StreamClosedError(std::move(gone_error_));
    return;
  }
  if (stream_->hot_.flushed < end_) throw StreamClosedError(stream_->error_);
}

}  // namespace tornado
