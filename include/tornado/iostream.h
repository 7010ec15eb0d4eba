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
// when they are consumed.
//
// Thread rule: loop thread only (the loop current when the stream was made).
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

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
  // Everything until the peer closes. Does not raise on a clean close.
  Task<std::string> read_until_close();

  // ---- in-place access, for parsers that work on the read buffer ----
  // The buffered, unconsumed bytes. Valid until the next read, consume or fill.
  std::string_view read_buffer() const noexcept;
  // Drops the first n buffered bytes (n <= read_buffer().size()).
  void consume(std::size_t n) noexcept;
  // Waits until more bytes than are buffered now have arrived. Raises StreamClosedError
  // (with the real cause) when the stream closes first, and StreamBufferFullError past
  // max_buffer_size.
  Task<void> fill_buffer();

  // ---- writes ----
  class WriteAwaiter;
  // Queues `data` and starts writing at once. Many small writes made in one loop
  // iteration go out in one writev. Raises StreamClosedError if closed, and
  // StreamBufferFullError past max_write_buffer_size.
  WriteAwaiter write(std::string data);
  WriteAwaiter write(std::string_view data);
  WriteAwaiter write(const char* data);

  // ---- connection ----
  // Connects the (non-blocking) socket to `address`. Raises StreamClosedError whose
  // real_error is a std::system_error (ECONNREFUSED...).
  Task<void> connect(const sockaddr* address, socklen_t length);
  // Upgrades this plain stream to TLS. Only with empty read and write buffers; this
  // stream is detached (closed without closing the fd) and must not be used again.
  // The close callback moves to the new stream.
  Task<std::shared_ptr<SSLIOStream>> start_tls(bool server_side,
                                               std::shared_ptr<SSLContext> context,
                                               std::string server_hostname = {});

  // Closes the fd; pending operations fail with StreamClosedError(`error`); the close
  // callback runs on the next loop iteration. Idempotent.
  void close(std::exception_ptr error = nullptr);
  bool closed() const noexcept { return state_ == State::kClosed; }
  // What closed the stream (or nullptr).
  std::exception_ptr error() const noexcept { return error_; }
  // Runs once, after the stream closed (by either side).
  void set_close_callback(std::function<void()> callback);

  bool reading() const noexcept;
  bool writing() const noexcept;
  void set_nodelay(bool value);
  int fd() const noexcept { return fd_; }
  const IOStreamOptions& options() const noexcept { return options_; }

  // FdHandler
  void on_events(int fd, uint32_t events) override;

 protected:
  enum class State : uint8_t { kOpen, kConnecting, kClosed };
  IOStream(int fd, IOStreamOptions options);

  // Transport hooks: a plain socket here, TLS in SSLIOStream. Return bytes moved, 0 on
  // EOF (read), -1 with errno EAGAIN when it would block; throw on a hard error.
  virtual ssize_t read_from_fd(char* buf, std::size_t len);
  virtual ssize_t write_to_fd(const struct iovec* iov, int count);

  // Implementation state is private to iostream.cpp; see src/iostream.cpp for layout.
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int fd_;
  State state_ = State::kOpen;
  IOStreamOptions options_;
  std::exception_ptr error_;
};

// Awaitable result of IOStream::write: completes when this write's bytes left the
// user-space buffer. Awaiting is optional.
class IOStream::WriteAwaiter {
 public:
  WriteAwaiter(std::shared_ptr<IOStream> stream, uint64_t end_position)
      : stream_(std::move(stream)), end_(end_position) {}
  bool await_ready() const noexcept;
  void await_suspend(std::coroutine_handle<> h);
  void await_resume() const;

 private:
  std::shared_ptr<IOStream> stream_;
  uint64_t end_;  // total bytes written by the stream once this write is flushed
};

inline IOStream::WriteAwaiter IOStream::write(std::string_view data) {
  return write(std::string(data));
}
inline IOStream::WriteAwaiter IOStream::write(const char* data) { return write(std::string(data)); }

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

 protected:
  SSLIOStream(int fd, IOStreamOptions options);
  ssize_t read_from_fd(char* buf, std::size_t len) override;
  ssize_t write_to_fd(const struct iovec* iov, int count) override;
};

}  // namespace tornado
