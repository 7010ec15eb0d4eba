#include "tornado/detail/read_buffer.h"

#include <algorithm>

#include "internal/thread_spares.h"
#include "tornado/hot.h"

namespace tornado::detail {

namespace {

// Emptied buffers of up to kMaxSpareCapacity bytes, kept for the thread's next read. Few:
// a loop handles one stream's events at a time, and each empties its buffer before the
// next stream reads, so one or two serve a whole loop.
constexpr std::size_t kMaxSpareCapacity = 64 * 1024;
struct Spare {
  char* data;
  std::size_t capacity;
};
void free_spare(Spare& spare) noexcept { delete[] spare.data; }
using Spares = internal::ThreadSpares<Spare, 4, free_spare>;

}  // namespace

TORNADO_HOT void ReadBuffer::release() noexcept {
  if (data_ && capacity_ <= kMaxSpareCapacity) {
    Spare spare{data_.get(), capacity_};
    if (Spares::keep(spare)) (void)data_.release();
  }
  data_.reset();
  begin_ = end_ = capacity_ = 0;
}

TORNADO_HOT char* ReadBuffer::prepare(std::size_t room) {
  if (capacity_ - end_ >= room) return data_.get() + end_;
  if (capacity_ == 0 && !Spares::empty() && Spares::top().capacity >= room) {
    const Spare spare = Spares::take();
    data_.reset(spare.data);
    capacity_ = spare.capacity;
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
