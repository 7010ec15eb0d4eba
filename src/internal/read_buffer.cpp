#include "tornado/detail/read_buffer.h"

#include <algorithm>

#include "internal/thread_spares.h"
#include "tornado/hot.h"

namespace tornado::detail {

namespace {

// Emptied buffers of up to kMaxSpareCapacity bytes, kept for the thread's next reads, at
// most kMaxSpareBytes in all. Since the loop runs an iteration's readers after all its reads
// (IOLoop::finish_after_events), every ready stream holds a buffer at once: 64 pipelined
// batches of browser heads are ~600 KiB, freed at once past glibc's 128 KiB trim threshold,
// so that each iteration shrank the heap with brk and faulted the pages in again.
constexpr std::size_t kMaxSpareCapacity = 64 * 1024;
constexpr std::size_t kMaxSpareBytes = 1024 * 1024;
struct Spare {
  char* data;
  std::size_t capacity;
};
thread_local std::size_t t_spare_bytes = 0;
void free_spare(Spare& spare) noexcept { delete[] spare.data; }
using Spares = internal::ThreadSpares<Spare, 64, free_spare>;

}  // namespace

TORNADO_HOT void ReadBuffer::release() noexcept {
  if (data_ && capacity_ <= kMaxSpareCapacity && t_spare_bytes + capacity_ <= kMaxSpareBytes) {
    Spare spare{data_.get(), capacity_};
    if (Spares::keep(spare)) {
      (void)data_.release();
      t_spare_bytes += capacity_;
    }
  }
  data_.reset();
  begin_ = end_ = capacity_ = 0;
}

std::size_t ReadBuffer::thread_spare_bytes() noexcept { return t_spare_bytes; }

TORNADO_HOT char* ReadBuffer::prepare(std::size_t room) {
  if (capacity_ - end_ >= room) return data_.get() + end_;
  if (capacity_ == 0 && !Spares::empty() && Spares::top().capacity >= room) {
    const Spare spare = Spares::take();
    t_spare_bytes -= spare.capacity;
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
