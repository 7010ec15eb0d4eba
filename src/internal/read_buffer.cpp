#include "internal/read_buffer.h"

#include <algorithm>

namespace tornado::detail {

char* ReadBuffer::prepare(std::size_t room) {
  if (capacity_ - end_ >= room) return data_.get() + end_;
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
