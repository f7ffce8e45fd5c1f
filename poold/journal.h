/*
 * journal.h - what a batch changed. The domain (pool.c, lease.c,
 * provision.c, wait.c) reports each change here and does nothing else: a
 * pool, resource, lease or orphan saved or gone, an event, a pool whose
 * waiters may now be served. The journal keeps the rows (copied at the time
 * of the change) and the events until the flush (reply_flush), which writes
 * them in one transaction with their history and commits; only after the
 * commit are answers sent, events delivered, waiters of ready pools served
 * and commands started. A failed commit drops the batch's rows and events
 * here, in one place.
 */
#ifndef POOLD_JOURNAL_H
#define POOLD_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct poold;
struct pool;
struct resource;
struct lease;
struct store_orphan_row;
struct store_waiter_row;

struct journal *journal_new(void);
void journal_free(struct journal *j);

/* ---- reported by the domain -------------------------------------------- */

void journal_pool_saved(struct pool *p);
void journal_pool_gone(struct pool *p);      /* with its resources, leases */
void journal_resource_saved(struct resource *r);
void journal_resource_gone(struct resource *r);
void journal_lease_saved(struct poold *pd, const struct lease *l);
void journal_lease_gone(struct poold *pd, const struct lease *l);
void journal_orphan_saved(struct poold *pd, const struct store_orphan_row *o);
void journal_orphan_gone(struct poold *pd, int64_t id);
/* A waiting request that keeps its place across a restart (wait.c). */
void journal_waiter_saved(struct poold *pd, const struct store_waiter_row *w);
void journal_waiter_gone(struct poold *pd, int64_t seq);
/* Housekeeping writes of the janitor. */
void journal_leases_purge(struct poold *pd, double before);
/* Deletes a bounded step of history older than before, or beyond the
 * newest max_rows (0 = no limit); behind: the last step was full. */
void journal_history_prune(struct poold *pd, double before, int64_t max_rows);
bool journal_prune_behind(const struct poold *pd);
/* An event (watch line and history row); r and l may be NULL. */
void journal_event(struct poold *pd, const char *event, const struct pool *p,
		   const struct resource *r, const struct lease *l);
/* p may have a resource or capacity for its waiters, or resources to
 * reset: the flush serves it once the batch is committed. */
void journal_ready(struct pool *p);
/* Whose request the following changes are for (history's caller of the
 * events without a lease); NULL = poold itself. Borrowed until reset. */
void journal_actor(struct poold *pd, const char *caller);

/* ---- used by the flush ------------------------------------------------- */

/* Rows or events waiting for a commit. */
bool journal_pending(const struct poold *pd);
/* Opens the transaction and writes the rows so far into it, so that a
 * query sees them (the list pages). STORE_OK, STORE_BUSY or STORE_ERROR. */
int journal_write(struct poold *pd, char *err, size_t errlen);
/* Writes the rest, the history and the token counter, and commits:
 * STORE_OK, STORE_BUSY (nothing written or lost: call again later) or
 * STORE_ERROR (rolled back; call journal_drop). */
int journal_commit(struct poold *pd, char *err, size_t errlen);
/* After a commit: the events go to the metrics, watchers and the log, in
 * commit order. */
void journal_deliver(struct poold *pd);
/* After a failure: the transaction is rolled back, rows and events of the
 * batch are dropped. Ready marks are kept. */
void journal_drop(struct poold *pd);
/* True if any pool is marked ready (needs serving after the commit). */
bool journal_has_ready(const struct poold *pd);
/* True if pred holds for a pool marked ready (which then needs serving);
 * journal_ready_clear() drops the marks when none does. */
bool journal_ready_any(struct poold *pd, bool (*pred)(const struct pool *p));
void journal_ready_clear(struct poold *pd);
/* Calls fn for each pool marked ready since the last call, clearing the
 * marks first (fn may mark pools again); a pool freed meanwhile is
 * skipped. */
void journal_take_ready(struct poold *pd, void (*fn)(struct pool *p));
/* p is being freed: it leaves the ready marks (pool_free()). */
void journal_pool_freed(struct pool *p);

#endif
