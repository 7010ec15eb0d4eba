// Coroutine frame cache: the slow paths and the release at thread exit (see frame_alloc.h).
#include "tornado/frame_alloc.h"

namespace tornado::detail {

namespace {

// Releases the thread's cache when the thread exits; frames freed after that (by other
// thread_local destructors, or static destruction on the main thread) go straight to the
// global allocator.
struct FrameCacheReleaser {
  ~FrameCacheReleaser() {
    FrameCache& fc = t_frame_cache;
    fc.open = false;
    fc.closed = true;
    for (std::size_t c = 0; c < kFrameClasses; ++c) {
      while (void* p = fc.head[c]) {
        fc.head[c] = *static_cast<void**>(p);
        ::operator delete(p);
      }
      fc.count[c] = 0;
    }
  }
};
thread_local FrameCacheReleaser t_releaser;

// Registers the releaser (its first use constructs it) and opens the cache.
bool open_cache(FrameCache& fc) noexcept {
  if (fc.closed) return false;
  if (!fc.open) {
    [[maybe_unused]] FrameCacheReleaser* r = &t_releaser;
    fc.open = true;
  }
  return true;
}

}  // namespace

void* allocate_frame_slow(std::size_t c) {
  open_cache(t_frame_cache);
  return ::operator new(frame_class_bytes(c));
}

void free_frame_slow(void* p, std::size_t c) noexcept {
  FrameCache& fc = t_frame_cache;
  if (!fc.open && open_cache(fc) && frame_class_has_room(c, fc.count[c])) {
    *static_cast<void**>(p) = fc.head[c];
    fc.head[c] = p;
    ++fc.count[c];
    return;
  }
  ::operator delete(p);
}

}  // namespace tornado::detail
