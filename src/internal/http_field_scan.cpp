#include "internal/http_field_scan.h"

#include <atomic>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TORNADO_FIELD_SCAN_X86 1
#endif

namespace tornado::http1::detail {

namespace {

bool is_plain_name_byte(unsigned char c) {
  return static_cast<unsigned char>((c | 0x20) - 'a') < 26 ||
         static_cast<unsigned char>(c - '0') < 10 || c == '-';
}
bool is_value_stop(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

}  // namespace

std::uint64_t value_stops_scalar(const char* p) noexcept {
  std::uint64_t bits = 0;
  for (unsigned i = 0; i < 64; ++i) {
    bits |= static_cast<std::uint64_t>(is_value_stop(static_cast<unsigned char>(p[i]))) << i;
  }
  return bits;
}

std::size_t plain_run_scalar(const char* p, std::size_t from, std::size_t n) noexcept {
  while (from < n && is_plain_name_byte(static_cast<unsigned char>(p[from]))) ++from;
  return from;
}

#if defined(__SSE2__)

namespace {

// x <= hi, unsigned, per byte.
[[gnu::always_inline]] inline __m128i at_most_sse2(__m128i x, char hi) {
  return _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(hi)), x);
}

// Bit i set for each of sixteen bytes that is a value stop.
[[gnu::always_inline]] inline std::uint32_t value_lanes_sse2(const char* p) noexcept {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i control = _mm_andnot_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\t')), at_most_sse2(v, 0x1f));
  const __m128i stop = _mm_or_si128(control, _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)));
  return static_cast<std::uint32_t>(_mm_movemask_epi8(stop));
}

// Bit i set for each of sixteen bytes that is not a letter, a digit or '-'.
[[gnu::always_inline]] inline std::uint32_t name_lanes_sse2(const char* p) noexcept {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i letter =
      at_most_sse2(_mm_sub_epi8(_mm_or_si128(v, _mm_set1_epi8(0x20)), _mm_set1_epi8('a')), 25);
  const __m128i digit = at_most_sse2(_mm_sub_epi8(v, _mm_set1_epi8('0')), 9);
  const __m128i dash = _mm_cmpeq_epi8(v, _mm_set1_epi8('-'));
  const __m128i plain = _mm_or_si128(_mm_or_si128(letter, digit), dash);
  return static_cast<std::uint32_t>(_mm_movemask_epi8(plain)) ^ 0xffffu;
}

// plain_run_sse2, inline in the loop.
[[gnu::always_inline]] inline std::size_t plain_run_inline(const char* p, std::size_t from,
                                                           std::size_t n) noexcept {
  while (n - from >= 16) {
    if (const std::uint32_t stops = name_lanes_sse2(p + from)) {
      return from + static_cast<std::size_t>(__builtin_ctz(stops));
    }
    from += 16;
  }
  return plain_run_scalar(p, from, n);
}

}  // namespace

std::uint64_t value_stops_sse2(const char* p) noexcept {
  std::uint64_t bits = 0;
  for (unsigned k = 0; k < 4; ++k) {
    bits |= static_cast<std::uint64_t>(value_lanes_sse2(p + 16 * k)) << (16 * k);
  }
  return bits;
}

std::size_t plain_run_sse2(const char* p, std::size_t from, std::size_t n) noexcept {
  return plain_run_inline(p, from, n);
}

#else

std::uint64_t value_stops_sse2(const char* p) noexcept { return value_stops_scalar(p); }
std::size_t plain_run_sse2(const char* p, std::size_t from, std::size_t n) noexcept {
  return plain_run_scalar(p, from, n);
}

#endif

#if defined(TORNADO_FIELD_SCAN_X86)

namespace {

// Bit i set for each of thirty-two bytes that is a value stop.
[[gnu::target("avx2"), gnu::always_inline]] inline std::uint32_t value_lanes_avx2(
    const char* p) noexcept {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  const __m256i low = _mm256_cmpeq_epi8(_mm256_min_epu8(v, _mm256_set1_epi8(0x1f)), v);
  const __m256i control = _mm256_andnot_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\t')), low);
  const __m256i stop = _mm256_or_si256(control, _mm256_cmpeq_epi8(v, _mm256_set1_epi8(0x7f)));
  return static_cast<std::uint32_t>(_mm256_movemask_epi8(stop));
}

}  // namespace

[[gnu::target("avx2")]] std::uint64_t value_stops_avx2(const char* p) noexcept {
  return value_lanes_avx2(p) | static_cast<std::uint64_t>(value_lanes_avx2(p + 32)) << 32;
}

bool avx2_supported() noexcept {
  __builtin_cpu_init();  // (may run before libgcc's own constructor has)
  return __builtin_cpu_supports("avx2");
}

#else

std::uint64_t value_stops_avx2(const char* p) noexcept { return value_stops_scalar(p); }
bool avx2_supported() noexcept { return false; }

#endif

namespace {

bool is_ows(unsigned char c) { return c == ' ' || c == '\t'; }

// The value stops of the block of p[0..n) at `at` (a multiple of 64): the last block,
// shorter than 64 bytes, from a copy padded with NUL (a stop), so that every search ends at
// or before n. Out of line, one per way: the loop keeps its registers for itself (inlined,
// the classification's constants crowded out the loop's variables), and an AVX2 function
// can be called from code compiled for any x86-64.
using BlockFn = std::uint64_t (*)(const char* p, std::size_t n, std::size_t at) noexcept;

template <std::uint64_t (*kStops)(const char*) noexcept>
[[gnu::noinline]] std::uint64_t block(const char* p, std::size_t n, std::size_t at) noexcept {
  if (n - at >= 64) [[likely]] return kStops(p + at);
  alignas(64) char tail[64] = {};
  std::memcpy(tail, p + at, n - at);
  return kStops(tail);
}

#if defined(TORNADO_FIELD_SCAN_X86)
[[gnu::noinline, gnu::target("avx2")]] std::uint64_t block_avx2(const char* p, std::size_t n,
                                                                std::size_t at) noexcept {
  if (n - at >= 64) [[likely]] {
    return value_lanes_avx2(p + at) | static_cast<std::uint64_t>(value_lanes_avx2(p + at + 32)) << 32;
  }
  alignas(64) char tail[64] = {};
  std::memcpy(tail, p + at, n - at);
  return value_stops_avx2(tail);
}
#else
constexpr BlockFn block_avx2 = block<value_stops_scalar>;
#endif

// A head's value stops, one 64-byte block at a time as the scan moves forward through it
// (blocks start at multiples of 64 from the first field line).
template <BlockFn kBlock>
class ValueStops {
 public:
  ValueStops(const char* p, std::size_t n) noexcept : p_(p), n_(n), bits_(kBlock(p, n, 0)) {}

  // The first value stop at or after `from`, at most n. `from` never goes back.
  [[gnu::always_inline]] std::size_t next(std::size_t from) noexcept {
    for (;;) {
      if (from - base_ >= 64) [[unlikely]] {
        base_ = from & ~std::size_t{63};
        bits_ = kBlock(p_, n_, base_);
      }
      const std::uint64_t later = bits_ >> (from - base_);
      if (later != 0) return from + static_cast<std::size_t>(__builtin_ctzll(later));
      from = base_ + 64;
    }
  }

 private:
  const char* p_;
  std::size_t n_;
  std::size_t base_ = 0;
  std::uint64_t bits_;
};

template <BlockFn kBlock, bool kSimdNames, bool kRequest>
std::size_t take_with(std::string_view rest, MessageHead& head) {
  const char* const s = rest.data();
  const auto* p = reinterpret_cast<const unsigned char*>(s);
  const std::size_t n = rest.size();
  // A name cannot start with CR or LF, nor with any byte up to them: the blank line that
  // ends the head (and an empty buffer) is left to the caller without a block classified.
  if (n == 0 || p[0] <= '\r') return 0;
  ValueStops<kBlock> stops(s, n);
  std::size_t pos = 0;
  while (pos < n && p[pos] > '\r') {
    std::size_t colon;
#if defined(__SSE2__)
    if constexpr (kSimdNames) {
      colon = plain_run_inline(s, pos, n);
    } else {
      colon = plain_run_scalar(s, pos, n);
    }
#else
    colon = plain_run_scalar(s, pos, n);
#endif
    if (colon < n && p[colon] != ':') [[unlikely]] {
      // A token byte outside the common run ('_', '.', ...), or not a token byte at all.
      while (colon < n && is_tchar(p[colon])) ++colon;
    }
    if (colon == pos || colon >= n || p[colon] != ':') break;
    // The value's run ends at its first control byte other than HTAB, or DEL: the line end
    // if the line is plain.
    std::size_t end = stops.next(colon + 1);
    std::size_t next;
    if (end < n && p[end] == '\r' && end + 1 < n && p[end + 1] == '\n') [[likely]] {
      next = end + 2;
    } else if (end < n && p[end] == '\n') {
      next = end + 1;
    } else {
      break;  // the bytes end first, or another control byte or a bare CR: the general path
    }
    // The value without the whitespace around it (a value is usually one space after the
    // colon and none after it, so that case is tested first).
    std::size_t begin = colon + 1;
    if (begin < end && p[begin] == ' ') ++begin;
    if (begin < end && is_ows(p[begin])) [[unlikely]] {
      while (begin < end && is_ows(p[begin])) ++begin;
    }
    if (end > begin && is_ows(p[end - 1])) [[unlikely]] {
      while (end > begin && is_ows(p[end - 1])) --end;
    }
    const std::string_view name(s + pos, colon - pos);
    if constexpr (kRequest) {
      note_request_field(head.noted_, name, static_cast<std::uint32_t>(head.fields.size()));
    }
    head.fields.push_back(Field{name, std::string_view(s + begin, end - begin)});
    pos = next;
  }
  return pos;
}

template <BlockFn kBlock, bool kSimdNames>
std::size_t take_either(std::string_view rest, MessageHead& head, bool request) {
  return request ? take_with<kBlock, kSimdNames, true>(rest, head)
                 : take_with<kBlock, kSimdNames, false>(rest, head);
}

// -1 until the first use picks the fastest the CPU has.
std::atomic<int> g_field_scan{-1};

FieldScan pick_field_scan() noexcept {
  const FieldScan best = avx2_supported() ? FieldScan::kAvx2
#if defined(__SSE2__)
                                          : FieldScan::kSse2;
#else
                                          : FieldScan::kScalar;
#endif
  int unset = -1;
  g_field_scan.compare_exchange_strong(unset, static_cast<int>(best), std::memory_order_relaxed);
  return static_cast<FieldScan>(g_field_scan.load(std::memory_order_relaxed));
}

}  // namespace

FieldScan field_scan() noexcept {
  const int scan = g_field_scan.load(std::memory_order_relaxed);
  return scan < 0 ? pick_field_scan() : static_cast<FieldScan>(scan);
}

bool use_field_scan(FieldScan scan) noexcept {
  if (scan == FieldScan::kAvx2 && !avx2_supported()) return false;
#if !defined(__SSE2__)
  if (scan == FieldScan::kSse2) return false;
#endif
  g_field_scan.store(static_cast<int>(scan), std::memory_order_relaxed);
  return true;
}

std::size_t take_plain_fields(std::string_view rest, MessageHead& head, bool request) {
  switch (field_scan()) {
    case FieldScan::kAvx2:
      return take_either<block_avx2, true>(rest, head, request);
    case FieldScan::kSse2:
      return take_either<block<value_stops_sse2>, true>(rest, head, request);
    case FieldScan::kScalar:
      break;
  }
  return take_either<block<value_stops_scalar>, false>(rest, head, request);
}

}  // namespace tornado::http1::detail
