// tornado/iostream.h — buffered non-blocking streams (Tornado's `iostream`).
//
//   auto stream = co_await TCPClient().connect("example.com", 80);
//   co_await stream->write("GET / HTTP/1.0\r\nHost: example.com\r\n\r\n");
//   std::string head = co_await stream->read_until("\r\n\r\n");
//   std::string body = co_await stream->read_until_close();
//
// Streams are shared objects (std::shared_ptr<IOStream>): the loop, pending operations
// and the owner each hold a reference, so a stream is never freed under a pending read.
// One read may be pending at a time (a second is std::logic_error "Already reading").
// Reads are lazy Tasks; write() queues its bytes at once and returns an awaitable that
// completes when they have been handed to the kernel (not awaiting it is fine).
// When the stream closes, a pending read fails with StreamClosedError carrying the real
// cause (ECONNRESET, UnsatisfiableReadError, StreamBufferFullError, TLS errors...),
// except that a read the buffered bytes can still satisfy completes first.
// An idle stream holds no read buffer: memory is taken when bytes arrive and given back
// when they are consumed. With no read pending the stream reads from the socket only to
// notice a close (when a close callback is set), and at most read_chunk_size bytes: the
// rest stays in the kernel, which pushes back on the peer.
// Writes never raise SIGPIPE: sockets are written with sendmsg(MSG_NOSIGNAL), pipes with
// SIGPIPE blocked for the writing thread (a raised one is consumed); both fail with EPIPE.
// See docs/iostream.md for the buffer layout, defaults and error semantics.
//
// Thread rule: loop thread only (the loop current when the stream was made).
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tornado/detail/read_buffer.h"
#include "tornado/hot.h"
#include "tornado/ioloop.h"
#include "tornado/ssl.h"
#include "tornado/task.h"

namespace tornado {

// The stream is closed, or closed while the operation was pending. real_error() is
// what closed it (nullptr for an orderly close by either side).
class StreamClosedError : public std::runtime_error {
 public:
  explicit StreamClosedError(std::exception_ptr real_error = nullptr);
  const std::exception_ptr& real_error() const noexcept { return real_error_; }

 private:
  std::exception_ptr real_error_;
};

// read_until/read_until_regex found no delimiter within max_bytes.
class UnsatisfiableReadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// More than max_buffer_size bytes would have to be buffered (or max_write_buffer_size
// queued for writing).
class StreamBufferFullError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct IOStreamOptions {
  std::size_t max_buffer_size = 100 * 1024 * 1024;  // Tornado's default, 100 MiB
  std::size_t read_chunk_size = 64 * 1024;          // capped at max_buffer_size / 2
  std::size_t max_write_buffer_size = 0;            // 0 = unlimited, as in Tornado
};

class SSLIOStream;

namespace detail {

struct ReadArgs;  // src/internal/iostream_impl.h

// A suspended stream operation that a task's cancellation can abandon: the hook clears the
// stream's waiter slot and undoes the operation's state, then the coroutine resumes on the
// next loop iteration and finish() raises CancelledError.
struct StreamOp : Cancellable {
  std::coroutine_handle<> h;  // set while suspended
  bool cancelled = false;
  using Cancellable::Cancellable;
  void resume_cancelled() {
    cancelled = true;
    post([h = h] { h.resume(); });
  }
  // In await_resume: throws CancelledError if the operation was abandoned.
  void finish() {
    h = {};
    disarm();
    if (cancelled) throw CancelledError();
  }
};

}  // namespace detail

class IOStream : public FdHandler, public std::enable_shared_from_this<IOStream> {
 public:
  // Takes ownership of `fd` (made non-blocking here). Use create() to get the shared_ptr.
  static std::shared_ptr<IOStream> create(int fd, IOStreamOptions options = {});
  ~IOStream() override;
  IOStream(const IOStream&) = delete;
  IOStream& operator=(const IOStream&) = delete;

  // ---- reads (one at a time) ----
  // Bytes up to and including `delimiter`. With max_bytes > 0, if that many bytes are
  // buffered without a match the stream closes with UnsatisfiableReadError.
  Task<std::string> read_until(std::string delimiter, std::size_t max_bytes = 0);
  // Bytes up to and including the first match of the PCRE2 `pattern`; max_bytes as above.
  // Throws std::invalid_argument for a pattern that does not compile.
  Task<std::string> read_until_regex(std::string pattern, std::size_t max_bytes = 0);
  // Exactly n bytes; with partial, 1..n bytes as soon as any are available. n == 0 -> "".
  Task<std::string> read_bytes(std::size_t n, bool partial = false);
  // Fills `buffer` (or, with partial, as much as is available, at least one byte) without
  // an intermediate copy when the buffer is empty; returns the count. The span must stay
  // valid until the task completes.
  Task<std::size_t> read_into(std::span<char> buffer, bool partial = false);
  // Everything until the stream closes. As in Tornado it completes with the buffered
  // bytes whatever closed the stream; error() tells whether the close was clean. Past
  // max_buffer_size it raises StreamClosedError whose real_error is StreamBufferFullError
  // (the stream is closed) instead of returning a truncated result.
  Task<std::string> read_until_close();

  // ---- in-place access, for parsers that work on the read buffer ----
  // The buffered, unconsumed bytes. Valid until the next read, consume or fill.
  std::string_view read_buffer() const noexcept { return hot_.buffer.view(); }
  // The same bytes, writable: a parser may rewrite them in place (WebSocket unmasking).
  std::span<char> mutable_read_buffer() noexcept;
  // Drops the first n buffered bytes (n <= read_buffer().size()).
  void consume(std::size_t n) noexcept {
    hot_.buffer.consume(n < hot_.buffer.size() ? n : hot_.buffer.size());
  }
  // Waits until more bytes than are buffered now have arrived. Raises StreamClosedError
  // (with the real cause) when the stream closes first, and StreamBufferFullError (the
  // stream stays open, raised at the call) when max_buffer_size bytes are already
  // buffered. Counts as a read. Not a coroutine (a server waiting on ten thousand idle
  // connections holds no frame for it): the caller keeps the stream alive until the
  // await completes, and awaits the result at once.
  class ReadAwaiter;
  ReadAwaiter fill_buffer();

  // The loop the stream is registered with, or nullptr once that loop closed.
  IOLoop* io_loop() const noexcept { return live_loop(); }

  // ---- writes ----
  class WriteAwaiter;
  // Queues `data` and starts writing at once. Many small writes made in one loop
  // iteration go out in one writev. Raises StreamClosedError if closed, and
  // StreamBufferFullError past max_write_buffer_size.
  WriteAwaiter write(std::string data);
  WriteAwaiter write(std::string_view data);
  WriteAwaiter write(const char* data);
  // For fan-out (one message to thousands of sockets in one iteration): when nothing is
  // queued, the parts go to the kernel at once, in one call, straight from the caller's
  // memory (no copy, no cork); only what the kernel did not take is queued. Otherwise, and
  // on a TLS stream, the same as write() of each part. Same exceptions as write().
  void write_now(std::initializer_list<std::string_view> parts);
  // Room for up to `size` bytes at the end of the write queue, filled in place (a response
  // head assembled where it will be sent, not in a scratch string and copied). The first
  // `used` bytes are queued by commit_write(used), which must come next, before anything
  // else touches the stream (nothing may await or run the loop between them: the room would
  // be sent unfilled); commit_write(0) takes the room back. Same exceptions as write(),
  // checked against `size`. std::logic_error: reserve_write or write while a room is open,
  // commit_write with none open or of more than the room. A room open when the stream
  // closes is not sent; its commit_write returns an awaiter that fails.
  char* reserve_write(std::size_t size);
  WriteAwaiter commit_write(std::size_t used);
  // commit_write for a caller that never awaits this write (no awaiter is made: a response
  // whose end nobody waits for). A closed stream drops the room, as commit_write does.
  void commit_write_unawaited(std::size_t used);

  // ---- connection ----
  // Connects the (non-blocking) socket to `address`; writes made meanwhile are queued.
  // Raises StreamClosedError whose real_error is a std::system_error (ECONNREFUSED...).
  // Call it right after create(): an unconnected socket must not sit in the loop.
  // On an SSLIOStream it also completes the TLS handshake. The address is copied at once
  // (the task may be awaited later). Cancelling the task closes the stream.
  Task<void> connect(const sockaddr* address, socklen_t length);
  // Upgrades this plain stream to TLS. Only with no read or write pending (else
  // std::logic_error); bytes already buffered are handed to the TLS layer (a peer may
  // send its ClientHello early). This stream is detached (closed without closing the fd)
  // and must not be used again. The close callback moves to the new stream. Raises
  // StreamClosedError (real_error: SSLError...) if the handshake fails. A client context
  // defaults to SSLContext::client() (verifying) when `context` is null.
  Task<std::shared_ptr<SSLIOStream>> start_tls(bool server_side,
                                               std::shared_ptr<SSLContext> context,
                                               std::string server_hostname = {});

  // Closes the fd; pending operations fail with StreamClosedError(`error`) (a pending read
  // the buffered bytes satisfy completes instead); they resume, and the close callback
  // runs, on a later loop iteration. Idempotent: the first cause is kept.
  void close(std::exception_ptr error = nullptr);
  bool closed() const noexcept { return state_ == State::kClosed; }
  // What closed the stream (or nullptr).
  std::exception_ptr error() const noexcept { return error_; }
  // Runs once, on the loop, after the stream closed (by either side); at once (next
  // iteration) if it is already closed. Replaces any previous callback.
  void set_close_callback(std::function<void()> callback);

  // A read is pending.
  bool reading() const noexcept { return hot_.kind != ReadKind::kNone; }
  // Bytes are queued and not yet handed to the kernel.
  bool writing() const noexcept { return hot_.whead < hot_.wqueue.size(); }
  // Bytes queued and not yet handed to the kernel (or to TLS).
  std::size_t write_buffer_size() const noexcept {
    return static_cast<std::size_t>(hot_.queued - hot_.flushed);
  }
  // TCP_NODELAY; a no-op on a closed stream or a non-TCP socket. Throws std::system_error.
  void set_nodelay(bool value);
  // Bytes of read buffer memory held now (0 when idle), for tests and metrics.
  std::size_t read_buffer_capacity() const noexcept { return hot_.buffer.allocated(); }
  int fd() const noexcept { return fd_; }
  const IOStreamOptions& options() const noexcept { return options_; }

  // Writes made now go out after the loop iteration's other work (the stream's read
  // completed in this iteration's events and its waiter was resumed after them).
  bool sends_after_events() const noexcept { return hot_.after_events; }
  // While sends_after_events() and nothing is queued: room for `size` bytes in the thread's
  // arena of writes sent at the end of this iteration's events (flush_after_events), or
  // nullptr (then use reserve_write). commit_later(used) writes the first `used` of them,
  // unawaited. Nothing else may be written between the two calls. The same checks as
  // reserve_write (StreamClosedError, StreamBufferFullError).
  char* reserve_later(std::size_t size);
  void commit_later(std::size_t used) noexcept;

  // FdHandler
  void on_events(int fd, uint32_t events) override;
  void resume_after_events() noexcept override;
  void flush_after_events() noexcept override;

 protected:
  enum class State : uint8_t { kOpen, kConnecting, kClosed };
  IOStream(int fd, IOStreamOptions options);

  // Transport hooks: a plain socket here, TLS in SSLIOStream. Return bytes moved, 0 on
  // EOF (read), -1 with errno EAGAIN when it would block; throw on a hard error (the
  // stream then closes with that exception as its error). A test may override them
  // (e.g. to count writev calls).
  virtual ssize_t read_from_fd(char* buf, std::size_t len);
  // True if a read_from_fd that returned fewer bytes than asked left nothing readable
  // (a plain socket); TLS may hold bytes back, so it says false.
  TORNADO_HOT virtual bool short_read_drains() const noexcept { return true; }
  virtual ssize_t write_to_fd(const struct iovec* iov, int count);
  // Runs once connect() has connected the socket (TLS: the handshake).
  virtual Task<void> finish_connect();
  // Runs at the start of close() while the fd is still open (TLS: close_notify).
  virtual void before_close() noexcept {}

  enum class ReadKind : uint8_t { kNone, kBytes, kUntil, kRegex, kInto, kUntilClose, kFill };
  // The state a request's reads and writes touch, held here, first, so that it shares the
  // object's first cache lines with its header and reference count (a server at depth 1
  // touches every connection's stream once a request, from another connection's in between),
  // and the small accessors above inline. The rest, rarely used, is in Impl.
  struct Hot {
    detail::ReadBuffer buffer;
    // ---- the pending read (one at a time) ----
    ReadKind kind = ReadKind::kNone;
    bool read_done = false;  // finished: result or error is ready for await_resume
    bool partial = false;
    bool readable = true;      // no EAGAIN seen since the last read edge (edge-triggered)
    bool eof_pending = false;  // the peer's FIN (or an error) was reported: read to EOF
    bool dispatching = false;  // inside on_events: wake-ups run at its end
    bool wake_scheduled = false;
    bool flush_scheduled = false;
    bool in_events = false;  // inside on_events (wake-ups included): writes flush at its end
    bool after_events = false;  // between on_events and flush_after_events (writes corked)
    bool not_socket = false;  // a pipe (learnt from ENOTSOCK): writev and read, not send, recv
    bool handshake_done = false;  // SSLIOStream
    bool tls = false;             // an SSLIOStream: its bytes go through its own write_to_fd
    // Impl's connect or handshake waiter may be set; Impl's write_waiters has storage.
    // (Over-approximations, cleared by run_wakeups' helpers: run_wakeups reads no Impl.)
    bool setup_waiters = false;
    bool write_waiter_storage = false;
    uint32_t whead = 0;           // the write queue's first chunk not fully sent
    uint32_t later_size = 0;      // bytes of later_data not sent yet (commit_later)
    std::size_t read_target = 0;  // kBytes: n; kFill: size to exceed
    std::size_t read_result = 0;
    std::exception_ptr read_error;
    std::unique_ptr<detail::ReadArgs> args;  // while a read that needs them is pending
    std::coroutine_handle<> read_waiter;
    // ---- writes: a queue of owned chunks; whead/woffset mark what was sent ----
    std::vector<std::string> wqueue;
    std::size_t woffset = 0;
    // reserve_write: where the open room starts in the last chunk (kNoRoom: none is open).
    static constexpr std::size_t kNoRoom = SIZE_MAX;
    std::size_t reserved_at = kNoRoom;
    uint64_t queued = 0;   // bytes ever queued
    uint64_t flushed = 0;  // bytes ever handed to the kernel (or to TLS)
    IOStream::WriteAwaiter* write_awaiters = nullptr;  // every live awaiter, told of our end
    // commit_later's bytes, in the thread's later arena: sent by flush_after_events, or
    // moved into the queue first when anything is written behind them (settle_later).
    const char* later_data = nullptr;
    detail::ReadArgs& read_args();                     // made on first use
  };
  // Wakes suspended readers/writers/connectors on a later iteration (or at the end of the
  // current on_events). Used by SSLIOStream too.
  void schedule_wake();
  void run_wakeups();
  void wake_setup_waiters();  // run_wakeups' connect and handshake waiters (rare)
  void wake_writers();        // and its write waiters

  // In the order of use: fd_, state_, hot_ and options_ are read on every request.
  int fd_;
  State state_ = State::kOpen;
  Hot hot_;
  IOStreamOptions options_;
  // The rest of the state, defined in src/internal/iostream_impl.h.
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::exception_ptr error_;

 private:
  struct ConnectOp;
  void begin_read(ReadKind kind);
  void abandon_read() noexcept;
  Task<void> connect_to(sockaddr_storage address, socklen_t length);
  std::string take(std::size_t n);
  bool advance_read();
  bool check_satisfied();
  std::optional<std::size_t> find_read_pos();
  void read_loop();
  ssize_t read_chunk(std::size_t want);
  void settle_read_on_close();
  std::size_t finish_read();
  void handle_write() noexcept;
  void handle_connect_event(uint32_t events);
  void schedule_flush();
  void check_write(std::size_t size);
  void release_write_awaiters() noexcept;
  void close_room(std::size_t used) noexcept;  // reserve_write's room, ended at `used`
  void settle_later();                // commit_later's bytes into the queue, in order
  void release_later() noexcept;      // forgets them (sent, moved, or the stream closed)
  void commit_room(std::size_t used);          // commit_write's checks and queueing
  std::string* coalescing_tail(std::size_t adding) noexcept;
  IOLoop* live_loop() const noexcept;
};

// Awaitable result of IOStream::write: completes when this write's bytes left the
// user-space buffer. Awaiting is optional.
// Cancelling the awaiting task stops the wait with CancelledError; the bytes stay queued.
// Until awaited it holds no reference on the stream (a write nobody awaits, the common case,
// costs no atomic operation): the stream keeps a list of its awaiters and tells them when it
// is destroyed. Awaiting one whose stream is gone completes if its bytes had been handed to
// the kernel, and raises StreamClosedError otherwise (with the error that had closed it).
// While suspended it keeps the stream alive until its bytes are sent. Loop thread only,
// like the stream.
class IOStream::WriteAwaiter : detail::Cancellable {
 public:
  WriteAwaiter(IOStream& stream, uint64_t end_position) noexcept;
  WriteAwaiter(WriteAwaiter&& other) noexcept;  // before it is awaited
  WriteAwaiter& operator=(WriteAwaiter&&) = delete;
  ~WriteAwaiter();
  bool await_ready() const noexcept;
  template <typename P>
  void await_suspend(std::coroutine_handle<P> h) {
    suspend(h);
    arm(detail::cancel_state_of(h));
  }
  void await_resume();

 private:
  friend class IOStream;
  void suspend(std::coroutine_handle<> h);
  bool settled() const noexcept;
  bool unregister() noexcept;
  void unlink() noexcept;
  static bool cancel(detail::CancelHook* hook);
  IOStream* stream_;             // null once the stream was destroyed
  WriteAwaiter* prev_ = nullptr;  // the stream's list of live awaiters
  WriteAwaiter* next_ = nullptr;
  uint64_t end_;               // total bytes written by the stream once this write is flushed
  std::coroutine_handle<> h_;  // set while suspended
  std::shared_ptr<IOStream> keep_;  // while suspended
  bool cancelled_ = false;
  bool flushed_when_gone_ = false;  // the stream was destroyed with these bytes sent
  std::exception_ptr gone_error_;   // or without them: what had closed it (await_resume)
};

// Awaits the stream's current read (fill_buffer, and every read_* inside): the result is
// the read's byte count. A frame destroyed while suspended here leaves the stream usable;
// cancelling leaves the bytes in the buffer.
class IOStream::ReadAwaiter : public detail::StreamOp {
 public:
  explicit ReadAwaiter(IOStream* stream) noexcept : StreamOp(&cancel), s_(stream) {}
  ReadAwaiter(const ReadAwaiter&) = delete;
  ReadAwaiter& operator=(const ReadAwaiter&) = delete;
  ~ReadAwaiter();
  bool await_ready();
  template <typename P>
  void await_suspend(std::coroutine_handle<P> c) {
    suspend(c);
    arm(detail::cancel_state_of(c));
  }
  std::size_t await_resume();

 private:
  void suspend(std::coroutine_handle<> c);
  static bool cancel(detail::CancelHook* hook);
  IOStream* s_;
};

inline IOStream::WriteAwaiter IOStream::write(const char* data) {
  return write(std::string_view(data));
}

// A TLS stream (OpenSSL). Server side: handshake on first use; client side: SNI and,
// with a verifying context (the default for clients), certificate and hostname checks.
// A handshake failure closes this stream only, with the OpenSSL error as real_error.
class SSLIOStream : public IOStream {
 public:
  static std::shared_ptr<SSLIOStream> create(int fd, bool server_side,
                                             std::shared_ptr<SSLContext> context,
                                             std::string server_hostname = {},
                                             IOStreamOptions options = {});
  // Completes once the handshake has; raises StreamClosedError on failure.
  Task<void> wait_for_handshake();
  // The protocol ALPN selected ("" if none).
  std::string selected_alpn_protocol() const;
  // Client: the name given to create(). Server: the name the client sent by SNI ("" if
  // none), known once the handshake completed.
  std::string server_hostname() const;
  // The handshake has completed.
  bool handshake_done() const noexcept;
  ~SSLIOStream() override;

  void on_events(int fd, uint32_t events) override;

 protected:
  SSLIOStream(int fd, IOStreamOptions options);
  ssize_t read_from_fd(char* buf, std::size_t len) override;
  bool short_read_drains() const noexcept override { return false; }
  ssize_t write_to_fd(const struct iovec* iov, int count) override;
  Task<void> finish_connect() override;
  void before_close() noexcept override;

 private:
  friend class IOStream;  // start_tls hands over buffered bytes
  struct TLS;
  struct HandshakeOp;
  void init_tls(bool server_side, std::shared_ptr<SSLContext> context, std::string hostname,
                std::string preread);
  bool drive_handshake();
  [[noreturn]] void raise_ssl_error(int ssl_error, const char* operation);
  std::unique_ptr<TLS> tls_;
};

}  // namespace tornado
