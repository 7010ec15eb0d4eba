// The coroutine frame cache (include/tornado/frame_alloc.h): frames are reused per thread,
// each size class is bounded, big frames bypass it, and a frame freed on another thread
// joins that thread's cache (ThreadSanitizer runs this file: the lists must never be shared).
// Under AddressSanitizer the cache is compiled out, and these tests are skipped.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "tornado/task.h"

namespace frame_alloc_test {

using namespace tornado;
using namespace tornado::detail;

namespace {

Task<int> small_coroutine(int v) { co_return v; }
// Not inlined: clang elides the heap allocation of a coroutine created and destroyed in one
// scope (the frame then lives on the caller's stack), which would bypass the cache.
[[gnu::noinline]] Task<int> small_task(int v) { return small_coroutine(v); }

// A frame of about 2 KiB: a buffer live across a suspension point.
Task<int> big_coroutine(int v) {
  char buf[2048];
  buf[0] = static_cast<char>(v);
  // The buffer's address escapes on both sides of the suspension, so no compiler can
  // shrink it out of the frame.
  asm volatile("" : : "r"(buf) : "memory");
  co_await moment();
  asm volatile("" : : "r"(buf) : "memory");
  co_return buf[0];
}
[[gnu::noinline]] Task<int> big_task(int v) { return big_coroutine(v); }

// The address of a task's frame (the promise lives in it). Task has no accessor for its
// handle: its only member is the handle, whose only member is the frame's address.
template <typename T>
const void* frame_of(const Task<T>& t) {
  static_assert(sizeof(Task<T>) == sizeof(void*));
  const void* frame;
  std::memcpy(&frame, static_cast<const void*>(&t), sizeof frame);
  return frame;
}

std::size_t cached_frames() {
  std::size_t n = 0;
  for (std::size_t c = 0; c < kFrameClasses; ++c) n += t_frame_cache.count[c];
  return n;
}

std::size_t cached_bytes_in_largest_class() {
  std::size_t most = 0;
  for (std::size_t c = 0; c < kFrameClasses; ++c) {
    most = std::max<std::size_t>(most, t_frame_cache.count[c] * frame_class_bytes(c));
  }
  return most;
}

class FrameCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!TORNADO_FRAME_CACHE) GTEST_SKIP() << "the frame cache is off under AddressSanitizer";
  }
};

TEST_F(FrameCacheTest, AFreedFrameIsReusedByTheNextTaskOfItsSize) {
  const void* first;
  {
    Task<int> t = small_task(1);
    first = frame_of(t);
  }
  Task<int> again = small_task(2);
  EXPECT_EQ(frame_of(again), first);
}

TEST_F(FrameCacheTest, EachSizeClassKeepsAtMost64KiB) {
  {
    std::vector<Task<int>> burst;
    for (int i = 0; i < 10000; ++i) burst.push_back(small_task(i));
  }  // 10,000 frames freed at once: most go back to malloc
  EXPECT_GT(cached_frames(), 0u);
  EXPECT_LE(cached_bytes_in_largest_class(), kFrameCacheBytes);
}

// The bound is exact: after a burst of one class, its free list holds as many frames as fit
// in 64 KiB, not one less (16-byte frames: 4,096; 2 KiB frames: 32).
TEST_F(FrameCacheTest, ABurstFillsItsClassToExactly64KiB) {
  for (const std::size_t c : {std::size_t{0}, std::size_t{5}, kFrameClasses - 1}) {
    const std::size_t fit = kFrameCacheBytes / frame_class_bytes(c);
    std::vector<void*> burst;
    for (std::size_t i = 0; i < fit + 10; ++i) {
      burst.push_back(allocate_frame(frame_class_bytes(c)));
    }
    for (void* p : burst) free_frame(p, frame_class_bytes(c));
    EXPECT_EQ(t_frame_cache.count[c], fit) << "class " << c;
  }
}

TEST_F(FrameCacheTest, FramesOverOneKiBBypassTheCache) {
  const std::size_t before = cached_frames();
  { Task<int> t = big_task(1); }
  EXPECT_EQ(cached_frames(), before);
}

TEST_F(FrameCacheTest, AFrameFreedOnAnotherThreadJoinsThatThreadsCache) {
  std::vector<Task<int>> made_here;
  for (int i = 0; i < 100; ++i) made_here.push_back(small_task(i));
  std::vector<const void*> frames;
  for (const auto& t : made_here) frames.push_back(frame_of(t));
  const std::size_t here_before = cached_frames();
  bool reused_there = false;
  std::size_t cached_there = 0;
  std::thread other([&] {
    made_here.clear();  // freed on this thread
    cached_there = cached_frames();
    Task<int> t = small_task(0);
    for (const void* f : frames) reused_there |= f == frame_of(t);
  });
  other.join();
  EXPECT_EQ(cached_there, 100u);
  EXPECT_TRUE(reused_there) << "the other thread allocates from the frames it freed";
  EXPECT_EQ(cached_frames(), here_before) << "this thread's cache is untouched";
}

// Tasks made on one thread and destroyed on another while both keep allocating: under
// ThreadSanitizer any sharing of a free list between the threads is a reported race. The
// consumer's cache stays within its bound however many frames it is handed.
TEST_F(FrameCacheTest, FramesHandedToAnotherThreadWhileBothAllocate) {
  constexpr int kTasks = 20000;
  std::mutex mu;
  std::deque<Task<int>> handed;
  bool done = false;
  std::size_t consumer_largest_class = 0;
  int destroyed = 0;
  std::thread consumer([&] {
    for (;;) {
      std::deque<Task<int>> batch;
      {
        std::lock_guard<std::mutex> lock(mu);
        batch.swap(handed);
        if (batch.empty() && done) break;
      }
      destroyed += static_cast<int>(batch.size());
      batch.clear();                  // freed here, made on the producer
      Task<int> own = small_task(0);  // and this thread allocates meanwhile
      consumer_largest_class = std::max(consumer_largest_class, cached_bytes_in_largest_class());
    }
  });
  for (int i = 0; i < kTasks; ++i) {
    Task<int> t = small_task(i);
    std::lock_guard<std::mutex> lock(mu);
    handed.push_back(std::move(t));
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  consumer.join();
  EXPECT_EQ(destroyed, kTasks);
  EXPECT_LE(consumer_largest_class, kFrameCacheBytes);
}

}  // namespace

}  // namespace frame_alloc_test
