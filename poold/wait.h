/*
 * wait.h - taking a resource for a lease or checkout request: a free one, a
 * newly created one (create-on-empty), or a place in the pool's FIFO queue of
 * waiters, bounded by max_waiters. Whatever frees capacity marks the pool
 * ready in the journal; the flush then serves its waiters (wait_serve).
 * A waiter with a request_id is also a row of the store's waiters, loaded
 * back after a restart or failover as a place its client takes back.
 */
#ifndef POOLD_WAIT_H
#define POOLD_WAIT_H

#include "lease.h"
#include "pool.h"
#include "req.h"

struct pool;
struct conn;
struct store_waiter_row;

/* Answers r with a lease, an error, or keeps it waiting (REQ_KEPT). */
enum req_status lease_request(struct req *r, struct pool *p,
			      const struct want *w);

/* Serves the oldest waiters that can now be served. */
void wait_kick(struct pool *p, double now);
/* The flush, after a commit, for a pool the journal marked ready: starts
 * the resets of its cleaning resources and serves its waiters. */
void wait_serve(struct pool *p);
/* True if serving p could change anything (waiters or resets). */
bool wait_pending(const struct pool *p);
/* How long p's longest-waiting request has waited, queued or for its
 * create command (seconds; 0 if none waits). */
double wait_oldest_age(const struct pool *p);

/* The create command for resource name ended: r is the new free resource,
 * or NULL if it failed (msg says why). The request it was made for gets
 * it, or create_failed. */
void wait_create_done(struct pool *p, const char *name, struct resource *r,
		      const char *msg);

/* Answers and drops every waiter of p (drain, delete). */
void wait_fail_all(struct pool *p, const char *code, const char *msg);

/* True if a request of c is waiting. */
bool wait_has_conn(struct poold *pd, const struct conn *c);
/* Drops the waiters of a closing connection without an answer. */
void wait_drop_conn(struct poold *pd, const struct conn *c);

/* Waiters of a pool being freed by a reload: detached, then re-homed. */
void wait_detach(struct pool *p, struct waiter_list *into);
void wait_rehome(struct poold *pd, struct waiter_list *from);

/* A stored waiter, at load: a place in its pool's queue for its client
 * to take back by sending its request again (--reattach-grace); one that
 * can no longer wait is deleted from the store. Rows come in seq order. */
int wait_place_load(struct poold *pd, const struct store_waiter_row *row);

/* Frees every waiter without answering (shutdown). */
void wait_free_all(struct poold *pd);

#endif
