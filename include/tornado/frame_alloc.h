// tornado/frame_alloc.h — where coroutine frames live (an implementation detail of task.h).
//
// Every Task and spawn frame is allocated through PooledFrame: a per-thread cache of
// freed frames in size classes of kFrameGranule bytes up to kFrameClasses * kFrameGranule
// (2 KiB: a web::RequestHandler, about 1.1 KiB, and the user's fields fit); bigger frames go
// to the global allocator. The granule is malloc's own (16 bytes), so a class rounds a
// frame up no further than malloc would: what a connection keeps for its life (a WebSocket's
// handler and read loop frame) costs its size, not the next multiple of 64. Each class
// keeps at most
// kFrameCacheBytes of free frames per thread, so a burst does not hoard memory; the rest
// go back to the global allocator. A frame freed on another thread joins that thread's
// cache (no locks: each cache is touched by its own thread only). A thread's cache is
// released when the thread exits.
//
// Under AddressSanitizer the cache is bypassed, so a use of a freed frame is still reported.
#pragma once

#include <cstddef>
#include <memory>
#include <new>

#include "tornado/hot.h"

#if defined(__SANITIZE_ADDRESS__)
#define TORNADO_FRAME_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TORNADO_FRAME_CACHE 0
#endif
#endif
#ifndef TORNADO_FRAME_CACHE
#define TORNADO_FRAME_CACHE 1
#endif

namespace tornado::detail {

inline constexpr std::size_t kFrameGranule = 16;
inline constexpr std::size_t kFrameClasses = 128;  // 16 B .. 2 KiB
// Per class, as with 64-byte classes (a burst of one handler's requests reuses as many
// frames as before). A program fills a handful of classes (one per coroutine function and
// handler class in use): 8 MiB per thread only if all 128 were full.
inline constexpr std::size_t kFrameCacheBytes = 64 * 1024;

// One thread's free lists. Constant-initialised and trivially destructible, so the fast
// path is a plain TLS access; the exit hook (frame_alloc.cpp) is registered on first use.
struct FrameCache {
  void* head[kFrameClasses] = {};  // singly linked through each free frame's first word
  unsigned short count[kFrameClasses] = {};
  bool open = false;    // the exit hook is registered and has not run
  bool closed = false;  // the thread is exiting: frames go to the global allocator
};
inline thread_local constinit FrameCache t_frame_cache{};

constexpr std::size_t frame_class(std::size_t n) noexcept { return (n - 1) / kFrameGranule; }
constexpr std::size_t frame_class_bytes(std::size_t c) noexcept { return (c + 1) * kFrameGranule; }
// Room in class `c`'s free list for one more frame: (count + 1) frames within
// kFrameCacheBytes. Multiplied, not divided: count < kFrameCacheBytes / bytes is the same
// bound, but a 64-bit division on every free costs tens of cycles.
constexpr bool frame_class_has_room(std::size_t c, unsigned count) noexcept {
  return (std::size_t{count} + 1) * frame_class_bytes(c) <= kFrameCacheBytes;
}

// The slow paths (frame_alloc.cpp): a fresh block of class `c`; keeping `p` on a thread
// whose cache is not open yet.
void* allocate_frame_slow(std::size_t c);
void free_frame_slow(void* p, std::size_t c) noexcept;

TORNADO_HOT inline void* allocate_frame(std::size_t n) {
  const std::size_t c = frame_class(n);
  if (c >= kFrameClasses) return ::operator new(n);
  FrameCache& fc = t_frame_cache;
  if (void* p = fc.head[c]) {
    fc.head[c] = *static_cast<void**>(p);
    --fc.count[c];
    return p;
  }
  return allocate_frame_slow(c);
}

TORNADO_HOT inline void free_frame(void* p, std::size_t n) noexcept {
  const std::size_t c = frame_class(n);
  if (c >= kFrameClasses) {
    ::operator delete(p);
    return;
  }
  FrameCache& fc = t_frame_cache;
  if (fc.open && frame_class_has_room(c, fc.count[c])) {
    *static_cast<void**>(p) = fc.head[c];
    fc.head[c] = p;
    ++fc.count[c];
    return;
  }
  free_frame_slow(p, c);
}

// An allocator for the same cache, for buffers made and dropped per request (HTTPHeaders'
// storage): a warm server then reuses them instead of reaching malloc. Stateless, so
// containers using it move by stealing their buffer.
template <typename T>
struct PooledAllocator {
  using value_type = T;
  static_assert(alignof(T) <= kFrameGranule);
  PooledAllocator() noexcept = default;
  template <typename U>
  PooledAllocator(const PooledAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
#if TORNADO_FRAME_CACHE
    if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(allocate_frame(n * sizeof(T)));
#else
    return std::allocator<T>().allocate(n);
#endif
  }
  void deallocate(T* p, std::size_t n) noexcept {
#if TORNADO_FRAME_CACHE
    free_frame(p, n * sizeof(T));
#else
    std::allocator<T>().deallocate(p, n);
#endif
  }
  template <typename U>
  bool operator==(const PooledAllocator<U>&) const noexcept {
    return true;
  }
};

// Base of the promise types: their frames come from the cache.
struct PooledFrame {
#if TORNADO_FRAME_CACHE
  static void* operator new(std::size_t n) { return allocate_frame(n); }
  static void operator delete(void* p, std::size_t n) noexcept { free_frame(p, n); }
#endif
};

}  // namespace tornado::detail
