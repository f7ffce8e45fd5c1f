/*
 * asan.h - for the caches that keep freed memory for reuse (arena.c,
 * freelist.c, lease.c, sqlite-mem.c): under AddressSanitizer a kept block
 * is poisoned, so that a use after free is still reported as one.
 */
#ifndef POOLD_ASAN_H
#define POOLD_ASAN_H

#if defined(__SANITIZE_ADDRESS__)
#define POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_ASAN 1
#endif
#endif

#ifdef POOL_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POOL_ASAN 0
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#endif
