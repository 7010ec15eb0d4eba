#include "internal/read_buffer.h"

#include <algorithm>

namespace tornado::detail {

namespace {

// Emptied buffers of up to kMaxSpareCapacity bytes, kept for the thread's next read. Few:
// a loop handles one stream's events at a time, and each empties its buffer before the
// next stream reads, so one or two serve a whole loop. Trivially destructible (as the
// parsed heads' pool in http1connection.cpp), so that a buffer released during thread
// exit or static destruction finds it usable; the releaser frees the spares at thread
// exit and closes the pool.
constexpr std::size_t kMaxSpares = 4;
constexpr std::size_t kMaxSpareCapacity = 64 * 1024;
struct Spares {
  char* data[kMaxSpares];
  std::size_t capacity[kMaxSpares];
  std::size_t count;
  bool open;    // the releaser is registered
  bool closed;  // the thread is exiting: buffers are freed, not kept
};
thread_local constinit Spares t_spares{};

struct SparesReleaser {
  ~SparesReleaser() {
    Spares& pool = t_spares;
    pool.closed = true;
    while (pool.count > 0) delete[] pool.data[--pool.count];
  }
};
thread_local SparesReleaser t_spares_releaser;

}  // namespace

void ReadBuffer::release() noexcept {
  Spares& pool = t_spares;
  if (data_ && capacity_ <= kMaxSpareCapacity && !pool.closed && pool.count < kMaxSpares) {
    if (!pool.open) {
      [[maybe_unused]] SparesReleaser* registered = &t_spares_releaser;
      pool.open = true;
    }
    pool.capacity[pool.count] = capacity_;
    pool.data[pool.count++] = data_.release();
  }
  data_.reset();
  begin_ = end_ = capacity_ = 0;
}

char* ReadBuffer::prepare(std::size_t room) {
  if (capacity_ - end_ >= room) return data_.get() + end_;
  Spares& pool = t_spares;
  if (capacity_ == 0 && pool.count > 0 && pool.capacity[pool.count - 1] >= room) {
    --pool.count;
    data_.reset(pool.data[pool.count]);
    capacity_ = pool.capacity[pool.count];
    begin_ = end_ = 0;
    return data_.get();
  }
  const std::size_t live = size();
  if (capacity_ - live >= room && begin_ >= live) {
    // Enough space once the consumed prefix is dropped, and the move is no bigger than
    // what was consumed: compact in place.
    std::memmove(data_.get(), data_.get() + begin_, live);
  } else {
    // Grow geometrically so a large transfer costs O(log n) reallocations; the first
    // allocation is exact, so a small message keeps a small buffer.
    std::size_t want = live + room;
    std::size_t cap = capacity_ == 0 ? want : std::max(want, capacity_ * 2);
    std::unique_ptr<char[]> fresh(new char[cap]);
    if (live) std::memcpy(fresh.get(), data_.get() + begin_, live);
    data_ = std::move(fresh);
    capacity_ = cap;
  }
  begin_ = 0;
  end_ = live;
  return data_.get() + end_;
}

}  // namespace tornado::detail
