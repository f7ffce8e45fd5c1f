/*
 * invariant.h - checks of the daemon's own invariants that stay in every
 * build: unlike assert(), INVARIANT() is not compiled out by -DNDEBUG (the
 * default and Release builds), because a violated invariant (a resource
 * held by two leases) must stop poold loudly, never go on silently. Each
 * check is one predictable branch; docs/performance.md has its cost.
 */
#ifndef POOLD_INVARIANT_H
#define POOLD_INVARIANT_H

/* Logs "Assertion failed: invariant COND at FILE:LINE (FUNC)" as an error
 * and aborts (a core dump, if enabled, keeps the state). */
_Noreturn void invariant_failed(const char *cond, const char *file, int line,
				const char *func);

#define INVARIANT(cond)                                                      \
	do {                                                                 \
		if (__builtin_expect(!(cond), 0))                            \
			invariant_failed(#cond, __FILE__, __LINE__,          \
					 __func__);                          \
	} while (0)

#endif
