// internal::ThreadSpares, the per-thread spare stacks of the parsed heads and read buffers:
// the bound (past it keep() refuses and the caller keeps the object), last in first out, one
// stack per thread, and the spares freed when their thread exits.
#include "internal/thread_spares.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "tornado/detail/read_buffer.h"

namespace thread_spares_test {

namespace {

std::atomic<int> freed{0};
void count_free(int*& item) noexcept {
  freed.fetch_add(1);
  delete item;
}
using Spares = tornado::internal::ThreadSpares<int*, 4, count_free>;

}  // namespace

TEST(ThreadSpares, KeepsUpToItsBoundAndRefusesPastIt) {
  std::thread([] {
    int* items[5];
    for (int i = 0; i < 5; ++i) items[i] = new int(i);
    for (int i = 0; i < 4; ++i) EXPECT_TRUE(Spares::keep(items[i])) << i;
    EXPECT_FALSE(Spares::keep(items[4]));  // full: the caller still owns it
    delete items[4];
    for (int i = 3; i >= 0; --i) {  // last in, first out
      ASSERT_FALSE(Spares::empty());
      EXPECT_EQ(*Spares::top(), i);
      int* taken = Spares::take();
      EXPECT_EQ(*taken, i);
      delete taken;
    }
    EXPECT_TRUE(Spares::empty());
  }).join();
}

TEST(ThreadSpares, EachThreadHasItsOwnAndItsSparesAreFreedWhenItExits) {
  freed = 0;
  std::thread([] {
    for (int i = 0; i < 3; ++i) {
      int* item = new int(i);
      ASSERT_TRUE(Spares::keep(item));
    }
    std::thread([] { EXPECT_TRUE(Spares::empty()); }).join();  // another thread: none
    EXPECT_EQ(freed.load(), 0);
  }).join();
  EXPECT_EQ(freed.load(), 3);  // the exiting thread's releaser freed all three
}

// One loop iteration's reads: every ready stream holds a buffer until its reader runs, then
// all are emptied. The next iteration's reads take the same memory back, up to 1 MiB a
// thread; with 4 spares the rest went back to the heap each time, which glibc trimmed with
// brk and the next iteration faulted in again.
using tornado::detail::ReadBuffer;
void fill_all(std::vector<ReadBuffer>& buffers, std::size_t n) {
  for (auto& b : buffers) {
    std::memset(b.prepare(n), 'x', n);
    b.commit(n);
  }
}
void empty_all(std::vector<ReadBuffer>& buffers) {
  for (auto& b : buffers) b.consume(b.size());
}

TEST(ReadBufferSpares, OneIterationsBuffersAreKeptForTheNext) {
  std::thread([] {
    std::vector<ReadBuffer> streams(64);  // 64 pipelined batches of browser heads
    for (int iteration = 0; iteration < 3; ++iteration) {
      fill_all(streams, 9600);
      EXPECT_EQ(ReadBuffer::thread_spare_bytes(), 0u);  // all taken back
      empty_all(streams);
      EXPECT_EQ(ReadBuffer::thread_spare_bytes(), 64u * 9600);
    }
  }).join();
}

TEST(ReadBufferSpares, AThreadKeepsAtMostOneMiB) {
  std::thread([] {
    std::vector<ReadBuffer> streams(64);
    fill_all(streams, 32 * 1024);  // 2 MiB
    empty_all(streams);
    EXPECT_EQ(ReadBuffer::thread_spare_bytes(), 1024u * 1024);  // 32 kept, 32 freed
    std::vector<ReadBuffer> large(1);
    fill_all(large, 65 * 1024);  // past 64 KiB: never kept
    empty_all(large);
    EXPECT_EQ(ReadBuffer::thread_spare_bytes(), 1024u * 1024);
  }).join();
}

}  // namespace thread_spares_test
