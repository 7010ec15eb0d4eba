// tornado/detail/read_buffer.h — the read buffer of an IOStream (an implementation detail of
// tornado/iostream.h, public only because the stream holds it by value: its accessors inline).
// One contiguous byte range, given back when empty.
//
//   data_                                                  data_ + capacity_
//   |  consumed  |      readable bytes       |    free tail    |
//   0          begin_                      end_            capacity_
//
// Why contiguous: parsers (HTTP headers, read_until's memmem, PCRE2) need the unread bytes
// as one string_view. Consumed bytes are skipped by moving begin_; they are compacted
// away (one memmove) only when the tail is too small for the next read, so the cost is
// amortised O(1) per byte. When everything is consumed the memory is given back (to a
// per-thread spare or freed): an idle stream holds no buffer at all.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

namespace tornado::detail {

class ReadBuffer {
 public:
  ReadBuffer() = default;
  ReadBuffer(const ReadBuffer&) = delete;
  ReadBuffer& operator=(const ReadBuffer&) = delete;

  std::string_view view() const noexcept { return {data_.get() + begin_, end_ - begin_}; }
  const char* data() const noexcept { return data_.get() + begin_; }
  std::size_t size() const noexcept { return end_ - begin_; }
  bool empty() const noexcept { return begin_ == end_; }
  std::size_t capacity() const noexcept { return capacity_; }
  // Bytes held in memory (0 for an idle stream).
  std::size_t allocated() const noexcept { return data_ ? capacity_ : 0; }

  // Drops the first n readable bytes; frees the memory when none remain.
  void consume(std::size_t n) noexcept {
    begin_ += n;
    if (begin_ >= end_) release();
  }
  // The memory goes back to the thread's few spares (a connection answering one request
  // at a time empties its buffer after every request and needed a new one for the next).
  void release() noexcept;
  // Bytes of emptied buffers this thread keeps for its next reads (at most 1 MiB).
  static std::size_t thread_spare_bytes() noexcept;

  // A writable tail of at least `room` bytes (compacting or growing as needed); call
  // commit() with how many were written.
  char* prepare(std::size_t room);
  void commit(std::size_t n) noexcept { end_ += n; }
  void append(const char* bytes, std::size_t n) {
    std::memcpy(prepare(n), bytes, n);
    commit(n);
  }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace tornado::detail
