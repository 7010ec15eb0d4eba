// What assembles an outgoing HTTP/1.x head in place, shared by HTTP1Connection's
// write_headers and the view responder (http1connection_view.cpp): the status line, the
// cached Date line and the room at the end of the stream's write queue.
#pragma once

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

#include "internal/small_copy.h"
#include "tornado/hot.h"
#include "tornado/iostream.h"

namespace tornado::internal {

// "Date: <IMF-fixdate>\r\n", rebuilt at most once a second per thread.
const std::string& cached_date_line();

// "Date: Wed, 02 Dec 2026 10:25:22 GMT\r\n" is always this long: copied as one constant-size
// move (a few instructions, no call) instead of put_small's memcpy for pieces past 32 bytes.
inline constexpr std::size_t kDateLineSize = 37;

inline char* put_date_line(char* p, std::string_view line) noexcept {
  if (line.size() != kDateLineSize) [[unlikely]] return put_small(p, line);
  std::memcpy(p, line.data(), kDateLineSize);
  return p + kDateLineSize;
}

inline constexpr std::string_view kStatus200 = "HTTP/1.1 200 OK\r\n";  // most responses: one copy

// "HTTP/1.1 404 Not Found\r\n": its size, then the line. `reason` is the one to send.
inline std::size_t status_line_size(int code, std::string_view reason) noexcept {
  if (code == 200 && reason == "OK") return kStatus200.size();
  return 9 + 3 + 1 + reason.size() + 2;
}

// `code` is 100..999 (the callers check).
inline char* put_status_line(char* p, int code, std::string_view reason) noexcept {
  if (code == 200 && reason == "OK") return put_small(p, kStatus200);
  p = put_small(p, "HTTP/1.1 ");
  *p++ = static_cast<char>('0' + code / 100);
  *p++ = static_cast<char>('0' + code / 10 % 10);
  *p++ = static_cast<char>('0' + code % 10);
  *p++ = ' ';
  p = put_small(p, reason);
  *p++ = '\r';
  *p++ = '\n';
  return p;
}

// A first body piece up to this size is sent with the head, in the same write.
inline constexpr std::size_t kBodyWithHead = 2048;

// Up to this size a response sent at once is assembled in the thread's scratch buffer.
inline constexpr std::size_t kSendAtOnceLimit = 16 * 1024;

// The thread's scratch buffer for a response sent at once, at least `size` bytes (at most
// kSendAtOnceLimit). Valid until the next call on this thread.
char* send_at_once_scratch(std::size_t size);

// Where a head is assembled: in place at the end of the stream's write queue, so that it is
// written once, where it is sent. Taken back unless committed (a field refused halfway).
// On a closed stream (the peer left) it is assembled in a string and dropped, so that the
// checks still run and the write fails when awaited, as a write to a closed stream does.
class HeadRoom {
 public:
  // With `at_once`, for a response that nothing follows in this loop iteration (no request
  // is buffered behind it) and a stream with nothing queued: the head is assembled in the
  // thread's scratch and committing hands it to the kernel at once (IOStream::write_now)
  // instead of through a queued chunk flushed at the end of the events. The same one send
  // either way, without the queue's chunk and storage taken and given back.
  TORNADO_HOT HeadRoom(IOStream& stream, std::size_t size, bool at_once = false)
      : stream_(stream), open_(!stream.closed()) {
    if (at_once && open_ && !stream.writing() && size <= kSendAtOnceLimit) {
      // After the iteration's events (IOLoop::finish_after_events) the same, from the
      // thread's arena of writes sent at their end (IOStream::reserve_later).
      if (stream.sends_after_events()) {
        data_ = stream.reserve_later(size);
        later_ = data_ != nullptr;
      } else {
        at_once_ = true;
        data_ = send_at_once_scratch(size);
      }
    }
    if (at_once_ || later_) return;
    if (open_) {
      data_ = stream.reserve_write(size);
    } else {
      dropped_.resize(size);
      data_ = dropped_.data();
    }
  }
  HeadRoom(const HeadRoom&) = delete;
  HeadRoom& operator=(const HeadRoom&) = delete;
  ~HeadRoom() { discard(); }
  char* data() const noexcept { return data_; }
  void discard() {
    if (open_ && !at_once_ && !later_ && !committed_) (void)stream_.commit_write(0);
    committed_ = true;
  }
  // commit(), when nothing will await the write.
  void commit_unawaited(const char* end) {
    committed_ = true;
    const auto used = static_cast<std::size_t>(end - data_);
    if (at_once_) {
      stream_.write_now({std::string_view(data_, used)});
    } else if (later_) {
      stream_.commit_later(used);
    } else if (open_) {
      stream_.commit_write_unawaited(used);
    }
  }
  IOStream::WriteAwaiter commit(const char* end) {
    committed_ = true;
    if (at_once_) {
      stream_.write_now({std::string_view(data_, static_cast<std::size_t>(end - data_))});
      return stream_.write(std::string_view());  // done when those bytes are
    }
    if (later_) {
      stream_.commit_later(static_cast<std::size_t>(end - data_));
      return stream_.write(std::string_view());  // done when those bytes are
    }
    if (!open_) return IOStream::WriteAwaiter(stream_, UINT64_MAX);
    return stream_.commit_write(static_cast<std::size_t>(end - data_));
  }

 private:
  IOStream& stream_;
  bool open_;
  bool at_once_ = false;
  bool later_ = false;  // in the stream's arena of writes sent after the events
  bool committed_ = false;
  char* data_;
  std::string dropped_;
};

}  // namespace tornado::internal
