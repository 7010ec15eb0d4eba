#include "internal/http_field_scan.h"

#include <atomic>
#include <cstdlib>

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
bool is_ows(unsigned char c) { return c == ' ' || c == '\t'; }

// Byte by byte: the reference the vector ways must agree with, and their tails.
struct Scalar {
  struct Constants {};
  static Constants constants() { return {}; }
  static std::size_t name_run(const Constants&, const unsigned char* p, std::size_t i,
                              std::size_t n) noexcept {
    while (i < n && is_plain_name_byte(p[i])) ++i;
    return i;
  }
  static std::size_t value_run(const Constants&, const unsigned char* p, std::size_t i,
                               std::size_t n) noexcept {
    while (i < n && !is_value_stop(p[i])) ++i;
    return i;
  }
};

#if defined(__SSE2__)

// x <= hi, unsigned, in each byte.
[[gnu::always_inline]] inline __m128i at_most_sse2(__m128i x, __m128i hi) {
  return _mm_cmpeq_epi8(_mm_min_epu8(x, hi), x);
}

// The constants of the sixteen-byte scans, made once per call of the loop.
struct Sse2Constants {
  __m128i fold, minus_a, letters, minus_zero, digits, dash;  // names
  __m128i controls, tab, del;                                 // values
};

// A name's common run sixteen bytes at a time, the tail byte by byte (the SSE2 way, and
// the AVX2 way's too: nearly every name is under sixteen bytes).
[[gnu::always_inline]] inline std::size_t name_run16(const Sse2Constants& c,
                                                     const unsigned char* p, std::size_t i,
                                                     std::size_t n) noexcept {
  for (; n - i >= 16; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i letter =
        at_most_sse2(_mm_add_epi8(_mm_or_si128(v, c.fold), c.minus_a), c.letters);
    const __m128i digit = at_most_sse2(_mm_add_epi8(v, c.minus_zero), c.digits);
    const __m128i plain = _mm_or_si128(_mm_or_si128(letter, digit), _mm_cmpeq_epi8(v, c.dash));
    const auto stops = static_cast<unsigned>(_mm_movemask_epi8(plain)) ^ 0xffffu;
    if (stops != 0) return i + static_cast<std::size_t>(__builtin_ctz(stops));
  }
  return Scalar::name_run({}, p, i, n);
}

// A value's run sixteen bytes at a time, the tail byte by byte.
[[gnu::always_inline]] inline std::size_t value_run16(const Sse2Constants& c,
                                                      const unsigned char* p, std::size_t i,
                                                      std::size_t n) noexcept {
  for (; n - i >= 16; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i control = _mm_andnot_si128(_mm_cmpeq_epi8(v, c.tab), at_most_sse2(v, c.controls));
    const __m128i stop = _mm_or_si128(control, _mm_cmpeq_epi8(v, c.del));
    const auto stops = static_cast<unsigned>(_mm_movemask_epi8(stop));
    if (stops != 0) return i + static_cast<std::size_t>(__builtin_ctz(stops));
  }
  return Scalar::value_run({}, p, i, n);
}

[[gnu::always_inline]] inline Sse2Constants sse2_constants() {
  return {_mm_set1_epi8(0x20), _mm_set1_epi8(static_cast<char>(-'a')), _mm_set1_epi8(25),
          _mm_set1_epi8(static_cast<char>(-'0')), _mm_set1_epi8(9), _mm_set1_epi8('-'),
          _mm_set1_epi8(0x1f), _mm_set1_epi8('\t'), _mm_set1_epi8(0x7f)};
}

struct Sse2 {
  using Constants = Sse2Constants;
  static Constants constants() { return sse2_constants(); }
  static std::size_t name_run(const Constants& c, const unsigned char* p, std::size_t i,
                              std::size_t n) noexcept {
    return name_run16(c, p, i, n);
  }
  static std::size_t value_run(const Constants& c, const unsigned char* p, std::size_t i,
                               std::size_t n) noexcept {
    return value_run16(c, p, i, n);
  }
};

#else
using Sse2 = Scalar;
#endif

#if defined(TORNADO_FIELD_SCAN_X86)

// The AVX2 way's value constants, made once per call of the loop: made where they are
// used, each cost two or three instructions per line (the compiler built them again from
// immediates at every line); the empty asm keeps it from doing that. (Pinning the names'
// sixteen-byte constants as well cost more than it saved: registers ran out.)
struct Avx2Constants {
  Sse2Constants narrow;  // the names' (and a value's last sixteen bytes)
  __m256i controls, tab, del;
};
[[gnu::target("avx2"), gnu::always_inline]] inline __m256i pinned(__m256i v) {
  __asm__("" : "+x"(v));
  return v;
}
[[gnu::target("avx2"), gnu::always_inline]] inline Avx2Constants avx2_constants() {
  return {sse2_constants(), pinned(_mm256_set1_epi8(0x1f)), pinned(_mm256_set1_epi8('\t')),
          pinned(_mm256_set1_epi8(0x7f))};
}

// x <= hi, unsigned, in each byte.
[[gnu::target("avx2"), gnu::always_inline]] inline __m256i at_most_avx2(__m256i x, __m256i hi) {
  return _mm256_cmpeq_epi8(_mm256_min_epu8(x, hi), x);
}

// Thirty-two bytes at a time, then the SSE2 way for the rest (16 to 31 bytes: one more
// step of sixteen, not up to thirty-one bytes one by one).
struct Avx2 {
  using Constants = Avx2Constants;
  // (Not always_inline: that would fail in the loop's template; take_avx2's flatten
  // inlines them there.)
  [[gnu::target("avx2")]] static Constants constants() {
    return avx2_constants();
  }
  // Names sixteen bytes at a time, as SSE2 does: nearly all are shorter than sixteen, and
  // the six constants of a 32-byte name scan would crowd the registers.
  [[gnu::target("avx2")]] static std::size_t name_run(const Constants& c, const unsigned char* p,
                                                      std::size_t i, std::size_t n) noexcept {
    return name_run16(c.narrow, p, i, n);
  }
  [[gnu::target("avx2")]] static std::size_t value_run(
      const Constants& c, const unsigned char* p, std::size_t i, std::size_t n) noexcept {
    for (; n - i >= 32; i += 32) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i));
      const __m256i control =
          _mm256_andnot_si256(_mm256_cmpeq_epi8(v, c.tab), at_most_avx2(v, c.controls));
      const __m256i stop = _mm256_or_si256(control, _mm256_cmpeq_epi8(v, c.del));
      const auto stops = static_cast<unsigned>(_mm256_movemask_epi8(stop));
      if (stops != 0) return i + static_cast<std::size_t>(__builtin_ctz(stops));
    }
    return value_run16(c.narrow, p, i, n);
  }
};

bool avx2_supported() noexcept {
  __builtin_cpu_init();  // (may run before libgcc's own constructor has)
  return __builtin_cpu_supports("avx2");
}

#else
using Avx2 = Sse2;
bool avx2_supported() noexcept { return false; }
#endif

// The plain field lines at the start of `rest`, each in one scan of its name and one of
// its value, appended to the head's fields; the bytes they spanned.
template <class Way, std::size_t kMaxLines = static_cast<std::size_t>(-1)>
[[gnu::always_inline]] inline std::size_t take_with(std::string_view rest, MessageHead& head) {
  const auto* p = reinterpret_cast<const unsigned char*>(rest.data());
  const std::size_t n = rest.size();
  std::size_t pos = 0;
  const typename Way::Constants constants = Way::constants();
  [[maybe_unused]] std::size_t lines = 0;
  // A name cannot start with CR or LF, nor with any byte up to them: the blank line that
  // ends the head is left to the caller without a scan.
  while (pos < n && p[pos] > '\r') {
    std::size_t colon = Way::name_run(constants, p, pos, n);
    if (colon < n && p[colon] != ':') [[unlikely]] {
      // A token byte outside the common run ('_', '.', ...), or not a token byte at all.
      while (colon < n && is_tchar(p[colon])) ++colon;
    }
    if (colon == pos || colon >= n || p[colon] != ':') break;
    std::size_t end = Way::value_run(constants, p, colon + 1, n);
    std::size_t next;
    if (end + 1 < n && p[end] == '\r' && p[end + 1] == '\n') [[likely]] {
      next = end + 2;
    } else if (end < n && p[end] == '\n') {
      next = end + 1;
    } else {
      break;  // the bytes end first, or a bare CR or another control byte: the general path
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
    head.fields.push_back(Field{std::string_view(rest.data() + pos, colon - pos),
                                std::string_view(rest.data() + begin, end - begin)});
    pos = next;
    if constexpr (kMaxLines != static_cast<std::size_t>(-1)) {
      if (++lines == kMaxLines) break;
    }
  }
  return pos;
}

std::size_t take_scalar(std::string_view rest, MessageHead& head) {
  return take_with<Scalar>(rest, head);
}
std::size_t take_sse2(std::string_view rest, MessageHead& head) {
  return take_with<Sse2>(rest, head);
}
#if defined(TORNADO_FIELD_SCAN_X86)
// flatten: the loop and the AVX2 scans inlined into this AVX2 function (an AVX2 function
// cannot be inlined into the loop's template, which is compiled for any x86-64).
[[gnu::target("avx2"), gnu::flatten]] std::size_t take_avx2(std::string_view rest,
                                                            MessageHead& head) {
  return take_with<Avx2>(rest, head);
}
[[gnu::target("avx2")]] std::size_t avx2_name_run(const unsigned char* p, std::size_t from,
                                                   std::size_t n) noexcept {
  return Avx2::name_run(Avx2::constants(), p, from, n);
}
[[gnu::target("avx2")]] std::size_t avx2_value_run(const unsigned char* p, std::size_t from,
                                                    std::size_t n) noexcept {
  return Avx2::value_run(Avx2::constants(), p, from, n);
}
#else
std::size_t take_avx2(std::string_view rest, MessageHead& head) { return take_sse2(rest, head); }
std::size_t avx2_name_run(const unsigned char* p, std::size_t from, std::size_t n) noexcept {
  return Sse2::name_run(Sse2::constants(), p, from, n);
}
std::size_t avx2_value_run(const unsigned char* p, std::size_t from, std::size_t n) noexcept {
  return Sse2::value_run(Sse2::constants(), p, from, n);
}
#endif

// -1 until the first use picks the fastest the CPU has.
std::atomic<int> g_field_scan{-1};

FieldScan pick_field_scan() noexcept {
#if defined(__SSE2__)
  const FieldScan best = getenv("BH_SSE2") ? FieldScan::kSse2 : avx2_supported() ? FieldScan::kAvx2 : FieldScan::kSse2;
#else
  const FieldScan best = FieldScan::kScalar;
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

std::size_t take_plain_fields(std::string_view rest, MessageHead& head) {
  switch (field_scan()) {
    case FieldScan::kAvx2: {
      // The first two lines the SSE2 way: the AVX2 loop's setup (its constants, the
      // registers it saves, vzeroupper) costs more than it saves on a head of one or two
      // short fields (wrk's, curl's), and is paid back from the third line on.
      const std::size_t before = head.fields.size();
      const std::size_t taken = take_with<Sse2, 2>(rest, head);
      if (head.fields.size() - before < 2) return taken;
      return taken + take_avx2(rest.substr(taken), head);
    }
    case FieldScan::kSse2:
      return take_sse2(rest, head);
    case FieldScan::kScalar:
      break;
  }
  return take_scalar(rest, head);
}

std::size_t plain_name_run(FieldScan scan, const char* p, std::size_t from,
                           std::size_t n) noexcept {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  switch (scan) {
    case FieldScan::kAvx2:
      return avx2_supported() ? avx2_name_run(u, from, n) : Scalar::name_run({}, u, from, n);
    case FieldScan::kSse2:
      return Sse2::name_run(Sse2::constants(), u, from, n);
    case FieldScan::kScalar:
      break;
  }
  return Scalar::name_run({}, u, from, n);
}

std::size_t field_value_run(FieldScan scan, const char* p, std::size_t from,
                            std::size_t n) noexcept {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  switch (scan) {
    case FieldScan::kAvx2:
      return avx2_supported() ? avx2_value_run(u, from, n) : Scalar::value_run({}, u, from, n);
    case FieldScan::kSse2:
      return Sse2::value_run(Sse2::constants(), u, from, n);
    case FieldScan::kScalar:
      break;
  }
  return Scalar::value_run({}, u, from, n);
}

}  // namespace tornado::http1::detail
