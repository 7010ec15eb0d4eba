// A handler's response state, recycled per thread: a keep-alive or pipelined connection's
// next request takes the previous one's header block and body buffer instead of allocating
// them again (two blocks for the headers, one for the body, per request before). Bypassed
// under AddressSanitizer like the frame cache.
#include <array>

#include "tornado/frame_alloc.h"
#include "tornado/hot.h"
#include "tornado/web.h"

namespace tornado::web::detail {
namespace {

// Enough for the handlers one loop iteration has in flight at once in the common case; a
// burst beyond it allocates as before.
constexpr std::size_t kSpares = 8;
// A state whose buffers grew past these is freed, not kept: one large page does not pin its
// memory on the thread for good.
constexpr std::size_t kMaxHeaderBytes = 4 * 1024;
constexpr std::size_t kMaxBodyBytes = 64 * 1024;

struct Spares {
  std::array<ResponseState*, kSpares> states{};
  std::size_t count = 0;
  bool closed = false;  // the thread is exiting: states freed later are deleted
  ~Spares() {
    closed = true;
    while (count > 0) delete states[--count];
  }
};
thread_local Spares t_spares;

// A state not kept (out of line and cold: a state is nearly always kept).
[[gnu::cold, gnu::noinline]] void free_state(ResponseState* state) noexcept { delete state; }

[[gnu::cold, gnu::noinline]] void reset_rest(ResponseState& state) noexcept {
  if (state.reason != std::string_view("OK")) state.reason.assign("OK");
  state.transforms.clear();
  state.new_cookies.clear();
  state.raw_xsrf_token.reset();
  state.xsrf_token.clear();
  state.ui_modules.reset();
}

// Every member back to its default, the buffers keeping their capacity, except that the
// headers keep the default Server field when nothing changed the fields but the default
// Content-Type and what finish() appends (the next handler's constructor then has its
// default fields but the pending Content-Type, instead of emptying and refilling them).
// Member by member:
// assigning a fresh state costs as much as the allocations this saves. The size check
// makes whoever adds a member come here and reset it too.
void reset_keeping_buffers(ResponseState& state) noexcept {
#if defined(__GLIBCXX__) && defined(__x86_64__)  // (the size is libstdc++'s on x86-64)
  static_assert(sizeof(ResponseState) == 280,
                "ResponseState changed: reset the new member here");
#endif
  // (the headers: by the caller, HTTPHeaders' friend)
  state.write_buffer.clear();
  // The members most requests leave as they were, reset out of line (reset_rest: cold,
  // so that the common request's code spans fewer cache lines).
  if (state.reason.size() != 2 || state.reason[0] != 'O' || state.reason[1] != 'K' ||
      !state.transforms.empty() || !state.new_cookies.empty() || state.raw_xsrf_token ||
      !state.xsrf_token.empty() || state.ui_modules) {
    reset_rest(state);
  }
  state.content_type_pending = false;
  state.fields_changed = false;
}

}  // namespace

TORNADO_HOT void RecycleResponseState::operator()(ResponseState* state) const noexcept {
  if (!TORNADO_FRAME_CACHE) {  // under AddressSanitizer, as frames: a use after free is seen
    delete state;
    return;
  }
  Spares& spares = t_spares;
  if (spares.closed || spares.count == kSpares || state->headers.capacity_bytes() > kMaxHeaderBytes ||
      state->write_buffer.capacity() > kMaxBodyBytes) {
    free_state(state);
    return;
  }
  // Unchanged fields start with the default Server field, which the next handler keeps.
  if (state->fields_changed) {
    state->headers.clear();
  } else {
    state->headers.keep_only_first();
  }
  reset_keeping_buffers(*state);
  spares.states[spares.count++] = state;
}

TORNADO_HOT ResponseStatePtr make_response_state() {
  Spares& spares = t_spares;
  if (spares.count > 0) return ResponseStatePtr(spares.states[--spares.count]);
  return ResponseStatePtr(new ResponseState);
}

}  // namespace tornado::web::detail
