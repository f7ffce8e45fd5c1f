/*
 * state.h - the daemon's whole in-memory state as a unit: loading it from
 * the store at start-up (with crash recovery), reloading it after a failed
 * commit, and freeing it at shutdown.
 */
#ifndef POOLD_STATE_H
#define POOLD_STATE_H

#include <stddef.h>

struct poold;

/* Loads the store and applies start-up recovery: bind:connection leases
 * end, overdue leases expire, interrupted creations are destroyed,
 * cleaning resources become free, destroying ones are removed. Commits.
 * 0, or -1 with a message in err. */
int state_load(struct poold *pd, char *err, size_t errlen);

/* After a rolled-back commit: memory again equals the database. Waiters and
 * counters are kept. Exits if the database cannot be read. */
void state_reload(struct poold *pd);

/* Frees pools, resources, leases and waiters (no store writes). */
void state_free(struct poold *pd);

#endif
