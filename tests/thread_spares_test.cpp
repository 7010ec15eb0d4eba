// internal::ThreadSpares, the per-thread spare stacks of the parsed heads and read buffers:
// the bound (past it keep() refuses and the caller keeps the object), last in first out, one
// stack per thread, and the spares freed when their thread exits.
#include "internal/thread_spares.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

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

}  // namespace thread_spares_test
