/*
 * reply.h - replies wait in a batch until the changes behind them are
 * committed; then they go out in the order they were made. A failed commit
 * turns every reply of the batch into an "internal" error (nothing of the
 * batch happened), after memory is reloaded from the rolled-back database.
 */
#ifndef POOLD_REPLY_H
#define POOLD_REPLY_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/queue.h>

#include "jsonutil.h"

struct poold;
struct conn;

#define REPLY_ID_INLINE 64 /* ids up to this long need no malloc */

struct reply {
	struct conn *conn;       /* reference held until sent */
	char *id;                /* the request's id as JSON text, in
				  * id_inline or owned; NULL: it had none */
	size_t id_len;
	char id_inline[REPLY_ID_INLINE];
	struct jtext line;       /* the JSON line with '\n'; its buffer is
				  * kept with the spare reply for reuse */
	TAILQ_ENTRY(reply) link;
};

struct reply_batch {
	TAILQ_HEAD(, reply) q;      /* waiting for the commit */
	size_t len;
	/* --sync full (store.h's sync_ask): committed, waiting for the fsync
	 * that covers the commit, with the commit's events and commands. */
	TAILQ_HEAD(, reply) held;
	bool syncing;               /* that fsync is under way */
	struct event *sync_ev;      /* the store's sync_fd is readable */
	double sync_t0;             /* monotonic: when its commit began */
	size_t sync_len;            /* its replies, for the metrics */
};

json_t *reply_err_json(json_t *id, const char *code, const char *msg);

/* Queues a reply (body stolen) for conn; conn NULL drops it. */
void reply_queue(struct poold *pd, struct conn *conn, json_t *id, json_t *body);

/* Queues {"id":ID,"ok":true,"result":RESULT} for conn, the id (NULL:
 * none) and the result given as JSON text (see answer.h), written straight
 * into the reply's line; conn NULL drops it. */
void reply_queue_text(struct poold *pd, struct conn *conn, const char *id,
		      size_t id_len, const char *result, size_t len);

/* Commits the store's transaction, then sends every queued reply (at
 * --sync full, after the fsync: it waits for it). */
void reply_flush(struct poold *pd);
/* The same without waiting for an fsync under way: what it holds is sent
 * when it ends, and what is new is committed then. */
void reply_commit(struct poold *pd);

/* Group commit: the loop (reply_run()) handles every event that is ready
 * in a turn, then commits their changes once and writes the answers, so
 * the requests of many connections share one commit without a loop pass
 * of its own. At --sync full the answers wait for the fsync, which a
 * thread makes while the loop goes on reading the next batch. Called at the end of every event callback that may have
 * handled a request: a large batch is flushed at once, so a client that
 * pipelines without pause cannot hold the others back. */
void reply_later(struct poold *pd);
/* One event_base_loop(flags), then the turn's commit and writes. */
int reply_turn(struct poold *pd, int flags);
/* Runs the event loop until it is broken or exited. */
void reply_run(struct poold *pd);
void reply_init(struct poold *pd);   /* after the event base exists */
void reply_free(struct poold *pd);

#endif
