// IOStream's state (shared by iostream.cpp and ssl_iostream.cpp). Not a public header.
#pragma once

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <coroutine>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "tornado/detail/read_buffer.h"
#include "tornado/iostream.h"

namespace tornado {

namespace detail {

// The bytes of flushed write chunks this thread keeps for its next writes (at most 1 MiB;
// iostream_write.cpp); for tests.
std::size_t thread_spare_write_bytes() noexcept;

// A compiled read_until_regex pattern (JIT when available) and its match data; one per
// call, so the pattern is compiled once however many chunks arrive.
class CompiledRegex {
 public:
  CompiledRegex() = default;
  explicit CompiledRegex(const std::string& pattern);
  CompiledRegex(CompiledRegex&& o) noexcept
      : code_(std::exchange(o.code_, nullptr)), match_(std::exchange(o.match_, nullptr)) {}
  CompiledRegex& operator=(CompiledRegex&& o) noexcept {
    std::swap(code_, o.code_);
    std::swap(match_, o.match_);
    return *this;
  }
  ~CompiledRegex();
  explicit operator bool() const noexcept { return code_ != nullptr; }

  enum class Result { kMatch, kPartial, kNone };
  // Searches `subject` from `start`. kMatch: [*begin, *end) matched. kPartial: a match
  // may start at *begin once more bytes arrive. kNone: no match can start before the end.
  Result search(std::string_view subject, std::size_t start, std::size_t* begin,
                std::size_t* end) const;

 private:
  pcre2_code* code_ = nullptr;
  pcre2_match_data* match_ = nullptr;
};

// The arguments of a read_until / read_until_regex / read_into, allocated for that read
// only: most streams (every server connection) never make one, and an idle stream keeps
// none.
struct ReadArgs {
  std::string delimiter;
  CompiledRegex regex;
  std::size_t max_bytes = 0;  // read_until/_regex's limit (0 = none)
  std::size_t scan_from = 0;  // read_until/_regex: where the next search starts
  std::span<char> into;
  std::size_t into_filled = 0;
};

// The close callback, kept out of line (from the frame cache): most of the time a stream
// has none (an idle WebSocket's never does), and a std::function inline would cost every
// stream 32 bytes instead of 8.
class BoxedCallback {
 public:
  explicit operator bool() const noexcept { return box_ != nullptr; }
  BoxedCallback& operator=(std::function<void()> callback) {
    if (!callback) {
      box_.reset();
    } else if (box_) {
      box_->callback = std::move(callback);
    } else {
      box_.reset(new Box{{}, std::move(callback)});
    }
    return *this;
  }
  // Moves the callback out (empty when there is none); the box is freed.
  std::function<void()> take() noexcept {
    std::function<void()> callback;
    if (box_) callback = std::move(box_->callback);
    box_.reset();
    return callback;
  }

 private:
  struct Box : PooledFrame {
    std::function<void()> callback;
  };
  std::unique_ptr<Box> box_;
};

}  // namespace detail

// What IOStream::Hot leaves out: what a connect, a handshake, an awaited write or a close
// callback needs, never a request's ordinary read and write.
struct IOStream::Impl {
  LoopRef loop;  // the loop the fd is registered with
  // Hot::write_waiter_storage says whether this has storage.
  std::vector<std::pair<uint64_t, std::coroutine_handle<>>> write_waiters;
  // Hot::setup_waiters is set whenever one of these is.
  std::coroutine_handle<> connect_waiter;
  std::coroutine_handle<> handshake_waiter;  // SSLIOStream::wait_for_handshake
  detail::BoxedCallback close_callback;
};

inline detail::ReadArgs& IOStream::Hot::read_args() {
  if (!args) args = std::make_unique<detail::ReadArgs>();
  return *args;
}

}  // namespace tornado
