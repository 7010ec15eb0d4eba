#include "internal/http_field_scan.h"

#include <atomic>

#include "tornado/hot.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace tornado::http1::detail {
namespace {

bool is_plain_name_byte(unsigned char c) {
  return static_cast<unsigned char>((c | 0x20) - 'a') < 26 ||
         static_cast<unsigned char>(c - '0') < 10 || c == '-';
}
bool is_value_stop(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

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

// The constants of the sixteen-byte scans, made once per call of the loop (for all its
// lines, not once per line).
struct Sse2Constants {
  __m128i fold, minus_a, letters, minus_zero, digits, dash;  // names
  __m128i controls, tab, del;                                 // values
};

// The bytes of p[0..16) that end a name's common run, one bit each.
[[gnu::always_inline]] inline unsigned name_stops(const Sse2Constants& c, const unsigned char* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i letter = at_most_sse2(_mm_add_epi8(_mm_or_si128(v, c.fold), c.minus_a), c.letters);
  const __m128i digit = at_most_sse2(_mm_add_epi8(v, c.minus_zero), c.digits);
  const __m128i plain = _mm_or_si128(_mm_or_si128(letter, digit), _mm_cmpeq_epi8(v, c.dash));
  return static_cast<unsigned>(_mm_movemask_epi8(plain)) ^ 0xffffu;
}

// The bytes of p[0..16) that end a field value (controls but HTAB, DEL), one bit each.
[[gnu::always_inline]] inline unsigned value_stops(const Sse2Constants& c, const unsigned char* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i control = _mm_andnot_si128(_mm_cmpeq_epi8(v, c.tab), at_most_sse2(v, c.controls));
  return static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(control, _mm_cmpeq_epi8(v, c.del))));
}

// The tail of a run shorter than sixteen bytes, from the stops of the view's last sixteen
// bytes [n - 16, n): one step instead of a byte loop (a head's last value ends the bytes read
// when nothing is pipelined behind it), reading nothing outside the view. The bits of the
// bytes before i, scanned already, are dropped.
[[gnu::always_inline]] inline std::size_t tail16(unsigned stops, std::size_t i, std::size_t n) {
  stops &= 0xffffu << (i - (n - 16));  // n - 16 < i < n: a shift of 1 to 15
  return stops != 0 ? n - 16 + static_cast<std::size_t>(__builtin_ctz(stops)) : n;
}

// A name's common run sixteen bytes at a time, the tail in one overlapping step (nearly every
// name is under sixteen bytes: one step).
[[gnu::always_inline]] inline std::size_t name_run16(const Sse2Constants& c,
                                                     const unsigned char* p, std::size_t i,
                                                     std::size_t n) noexcept {
  for (; n - i >= 16; i += 16) {
    const unsigned stops = name_stops(c, p + i);
    if (stops != 0) return i + static_cast<std::size_t>(__builtin_ctz(stops));
  }
  return i < n && n >= 16 ? tail16(name_stops(c, p + n - 16), i, n)
                          : Scalar::name_run({}, p, i, n);
}

// A value's run sixteen bytes at a time, the tail in one overlapping step.
[[gnu::always_inline]] inline std::size_t value_run16(const Sse2Constants& c,
                                                      const unsigned char* p, std::size_t i,
                                                      std::size_t n) noexcept {
  for (; n - i >= 16; i += 16) {
    const unsigned stops = value_stops(c, p + i);
    if (stops != 0) return i + static_cast<std::size_t>(__builtin_ctz(stops));
  }
  return i < n && n >= 16 ? tail16(value_stops(c, p + n - 16), i, n)
                          : Scalar::value_run({}, p, i, n);
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

// The plain field lines at the start of `rest`, each in one scan of its name and one of
// its value, appended to the head's fields; the bytes they spanned.
template <class Way>
[[gnu::always_inline]] inline std::size_t take_with(std::string_view rest, MessageHead& head) {
  const auto* p = reinterpret_cast<const unsigned char*>(rest.data());
  const std::size_t n = rest.size();
  std::size_t pos = 0;
  const typename Way::Constants constants = Way::constants();
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
  }
  return pos;
}

// Not inlined into take_plain_fields where SSE2 is the way: there the scalar way is the
// tests' only, and inlined beside the other it split the hot code into scattered lines.
#if defined(__SSE2__)
[[gnu::noinline, gnu::cold]]
#endif
std::size_t take_scalar(std::string_view rest, MessageHead& head) {
  return take_with<Scalar>(rest, head);
}
std::size_t take_sse2(std::string_view rest, MessageHead& head) {
  return take_with<Sse2>(rest, head);
}

// -1 until the first use picks the SSE2 way where there is one.
std::atomic<int> g_field_scan{-1};

}  // namespace

FieldScan field_scan() noexcept {
  const int scan = g_field_scan.load(std::memory_order_relaxed);
  if (scan >= 0) return static_cast<FieldScan>(scan);
#if defined(__SSE2__)
  return FieldScan::kSse2;
#else
  return FieldScan::kScalar;
#endif
}

bool use_field_scan(FieldScan scan) noexcept {
#if !defined(__SSE2__)
  if (scan == FieldScan::kSse2) return false;
#endif
  g_field_scan.store(static_cast<int>(scan), std::memory_order_relaxed);
  return true;
}

TORNADO_HOT std::size_t take_plain_fields(std::string_view rest, MessageHead& head) {
#if defined(__SSE2__)
  // field_scan() read in place: SSE2 unless a test chose the scalar way.
  if (g_field_scan.load(std::memory_order_relaxed) != static_cast<int>(FieldScan::kScalar))
      [[likely]] {
    return take_sse2(rest, head);
  }
  return take_scalar(rest, head);
#else
  return take_scalar(rest, head);
#endif
}

std::size_t plain_name_run(FieldScan scan, const char* p, std::size_t from,
                           std::size_t n) noexcept {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return scan == FieldScan::kSse2 ? Sse2::name_run(Sse2::constants(), u, from, n)
                                  : Scalar::name_run({}, u, from, n);
}

std::size_t field_value_run(FieldScan scan, const char* p, std::size_t from,
                            std::size_t n) noexcept {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return scan == FieldScan::kSse2 ? Sse2::value_run(Sse2::constants(), u, from, n)
                                  : Scalar::value_run({}, u, from, n);
}

}  // namespace tornado::http1::detail
