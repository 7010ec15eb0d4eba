// TORNADO_TEST_ASAN: 1 in a build with AddressSanitizer (g++ defines __SANITIZE_ADDRESS__,
// clang answers __has_feature), 0 otherwise. For the tests whose measurements (RSS, mallinfo)
// or exit paths (LeakSanitizer's check) differ under it.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define TORNADO_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TORNADO_TEST_ASAN 1
#endif
#endif
#ifndef TORNADO_TEST_ASAN
#define TORNADO_TEST_ASAN 0
#endif
