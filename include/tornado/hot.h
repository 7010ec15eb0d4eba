// TORNADO_HOT marks a function on the per-request path (the loop, the stream, the HTTP/1.1
// connection, the parser, the request and the handler). GCC and Clang place such functions
// together (the .text.hot section, which the linkers' default scripts gather), so that a
// request runs through a few pages of code instead of pages spread over the whole library:
// after each system call the kernel has taken the instruction cache and TLB, and every
// page and line the next request touches is fetched again. docs/performance.md, "Code
// layout". Mark only what every request runs: what is marked and rarely run dilutes it.
#pragma once

#define TORNADO_HOT [[gnu::hot]]
