/*
 * reply.h - replies wait in a batch until the changes behind them are
 * committed; then they go out in the order they were made. A failed commit
 * turns every reply of the batch into an "internal" error (nothing of the
 * batch happened), after memory is reloaded from the rolled-back database.
 */
#ifndef POOLD_REPLY_H
#define POOLD_REPLY_H

#include <jansson.h>
#include <sys/queue.h>

struct poold;
struct conn;

struct reply {
	struct conn *conn;       /* reference held until sent */
	json_t *id;              /* owned; NULL = the request had no id */
	char *line;              /* owned; the JSON line with '\n' */
	size_t len;
	TAILQ_ENTRY(reply) link;
};

struct reply_batch {
	TAILQ_HEAD(, reply) q;
	size_t len;
};

json_t *reply_ok_json(json_t *id, json_t *result);        /* both borrowed */
json_t *reply_err_json(json_t *id, const char *code, const char *msg);

/* Queues a reply (body stolen) for conn; conn NULL drops it. */
void reply_queue(struct poold *pd, struct conn *conn, json_t *id, json_t *body);

/* Queues {"id":..,"ok":true,"result":RESULT} for conn, the result given
 * as JSON text (see answer.h); conn NULL drops it. */
void reply_queue_text(struct poold *pd, struct conn *conn, json_t *id,
		      const char *result, size_t len);

/* Commits the store's transaction, then sends every queued reply. */
void reply_flush(struct poold *pd);

/* Group commit: the loop (reply_run()) handles every event that is ready
 * in a turn, then commits their changes once and writes the answers, so
 * the requests of many connections share one commit without a loop pass
 * of its own. Called at the end of every event callback that may have
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
