/*
 * internal.h - what libpool's own files share and callers must not see:
 * hidden from the shared library's symbol table, so it is not API.
 */
#ifndef POOL_INTERNAL_H
#define POOL_INTERNAL_H

#include "pool.h"

#define POOL_HIDDEN __attribute__((visibility("hidden")))

/* Fills err (if not NULL) with code and a printf-formatted message. */
POOL_HIDDEN void pool__seterr(pool_error *err, pool_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Marks err (if not NULL) as success, so that stale messages never linger. */
POOL_HIDDEN void pool__clearerr(pool_error *err);

#endif
