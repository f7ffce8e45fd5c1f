/*
 * reply.c - the reply batch and the flush, the one place where the effects
 * of a batch are applied, after its commit (see reply.h).
 */
#include "reply.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "freelist.h"
#include "jsonutil.h"
#include "log.h"
#include "pool_protocol.h"
#include "poold.h"
#include "jobs.h"
#include "journal.h"
#include "metrics.h"
#include "provision.h"
#include "state.h"
#include "store.h"
#include "util.h"
#include "wait.h"

/* Builds {"id": ..., "ok": false, "error": body}; an absent id stays
 * absent. */
static json_t *envelope(json_t *id, json_t *body)
{
	json_t *o = json_object();

	if (id)
		json_object_set(o, "id", id);
	json_object_set_new(o, "ok", json_false());
	json_object_set_new(o, "error", body);
	return o;
}

/* A message may quote the client's bytes (a JSON parse error does), which
 * need not be UTF-8: those bytes become '?' rather than lose the answer. */
static json_t *message_string(const char *msg)
{
	json_t *s = json_string(msg);
	char *copy;

	if (s)
		return s;
	copy = xstrdup(msg);
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
			*p = '?';
	s = json_string(copy);
	free(copy);
	return s;
}

json_t *reply_err_json(json_t *id, const char *code, const char *msg)
{
	return envelope(id, json_pack("{s:s, s:o}", "code", code,
				      "message", message_string(msg)));
}

/* Spare replies, each with its line buffer: no malloc per answer at
 * steady state. A process-wide cache of memory, as in req.c. */
static struct freelist spares = FREELIST_INIT(struct reply, 1024);
#define LINE_KEEP 4096 /* a spare keeps a line buffer up to this size */

static struct reply *reply_new(struct conn *conn)
{
	struct reply *rp = freelist_get(&spares);
	struct jtext line = rp->line; /* a spare's buffer, or none */

	memset(rp, 0, sizeof *rp);
	rp->line = line;
	rp->line.len = 0;
	rp->conn = conn_ref(conn);
	return rp;
}

static void reply_release(struct reply *rp)
{
	conn_unref(rp->conn);
	if (rp->id != rp->id_inline)
		free(rp->id);
	if (rp->line.cap > LINE_KEEP)
		jtext_free(&rp->line);
	if (!freelist_keep(&spares, rp)) {
		jtext_free(&rp->line);
		free(rp);
	}
}

/* Copies the id's JSON text into rp (NULL: the request had none). */
static void reply_set_id(struct reply *rp, const char *id, size_t len)
{
	if (!id)
		return;
	if (len < sizeof rp->id_inline) {
		rp->id = rp->id_inline;
	} else if (!(rp->id = malloc(len + 1))) {
		abort();
	}
	memcpy(rp->id, id, len);
	rp->id[len] = '\0';
	rp->id_len = len;
}

/* The id back as a value, for an error answer built as a tree (cold). */
static json_t *reply_id_json(const struct reply *rp)
{
	json_t *id;

	if (!rp->id)
		return NULL;
	id = json_loadb(rp->id, rp->id_len, JSON_DECODE_ANY, NULL);
	if (!id)
		abort(); /* it was dumped by jansson or scanned as valid */
	return id;
}

static void reply_set_line(struct reply *rp, json_t *body)
{
	char *text = json_dumps_exact(body, JSON_COMPACT | JSON_PRESERVE_ORDER);

	if (!text)
		abort();
	rp->line.len = 0;
	jtext_lit(&rp->line, text);
	jtext_raw(&rp->line, "\n", 1);
	free(text);
}

/* The line of an error answer replacing whatever rp held. */
static void reply_set_error(struct reply *rp, const char *code,
			    const char *msg)
{
	json_t *id = reply_id_json(rp);
	json_t *body = reply_err_json(id, code, msg);

	reply_set_line(rp, body);
	json_decref(body);
	json_decref(id);
}

/* An answer that could never fit the caller's --max-output would close
 * the connection as a slow reader: it becomes an error saying to ask for
 * less instead. */
static void fit(struct poold *pd, struct reply *rp)
{
	char msg[300];

	if (rp->line.len <= pd->cfg.max_output)
		return;
	pd->refused.too_large++;
	snprintf(msg, sizeof msg, "the answer is %zu bytes, more than the "
		 "daemon sends to one client at once (--max-output %zu); ask "
		 "for less: a smaller limit, and after to page", rp->line.len,
		 pd->cfg.max_output);
	reply_set_error(rp, POOL_ERR_TOO_LARGE, msg);
}

static void enqueue(struct poold *pd, struct reply *rp)
{
	fit(pd, rp);
	TAILQ_INSERT_TAIL(&pd->batch.q, rp, link);
	pd->batch.len++;
}

void reply_queue(struct poold *pd, struct conn *conn, json_t *id, json_t *body)
{
	struct jtext idtext = { NULL, 0, 0 };
	struct reply *rp;

	if (!conn) {
		json_decref(body);
		return;
	}
	rp = reply_new(conn);
	if (id) {
		jtext_json(&idtext, id);
		reply_set_id(rp, idtext.p, idtext.len);
		jtext_free(&idtext);
	}
	reply_set_line(rp, body);
	json_decref(body);
	enqueue(pd, rp);
}

void reply_queue_text(struct poold *pd, struct conn *conn, const char *id,
		      size_t id_len, const char *result, size_t len)
{
	struct reply *rp;

	if (!conn)
		return;
	rp = reply_new(conn);
	reply_set_id(rp, id, id_len);
	if (id) {
		jtext_lit(&rp->line, "{\"id\":");
		jtext_raw(&rp->line, id, id_len);
		jtext_lit(&rp->line, ",\"ok\":true,\"result\":");
	} else {
		jtext_lit(&rp->line, "{\"ok\":true,\"result\":");
	}
	jtext_raw(&rp->line, result, len);
	jtext_raw(&rp->line, "}\n", 2);
	enqueue(pd, rp);
}

/* The batch's changes were rolled back: none of its answers stands. */
static void batch_fail(struct poold *pd, const char *why)
{
	char msg[512];
	struct reply *rp;

	snprintf(msg, sizeof msg, "could not commit to the database (%s); "
		 "nothing was changed: retry the request", why);
	TAILQ_FOREACH(rp, &pd->batch.q, link)
		reply_set_error(rp, POOL_ERR_INTERNAL, msg);
}

#define BATCH_MAX 256 /* replies that force a flush without waiting */
/* While another process holds the database's write lock, the flush tries
 * again this often, and gives the batch up after BLOCKED_MAX seconds. */
#define RETRY_EVERY 0.02
#define BLOCKED_MAX 2.0

static void flush_rounds(struct poold *pd, bool wait);
static void on_synced(evutil_socket_t fd, short what, void *arg);

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	reply_flush(arg);
}

void reply_init(struct poold *pd)
{
	const struct store_ops *ops = pd->store->ops;
	int fd = ops->sync_fd ? ops->sync_fd(pd->store) : -1;

	pd->retry_ev = evtimer_new(pd->base, on_retry, pd);
	if (fd >= 0) {
		pd->batch.sync_ev = event_new(pd->base, fd, EV_READ | EV_PERSIST,
					      on_synced, pd);
		event_add(pd->batch.sync_ev, NULL);
	}
}

void reply_free(struct poold *pd)
{
	if (pd->retry_ev)
		event_free(pd->retry_ev);
	pd->retry_ev = NULL;
	if (pd->batch.sync_ev)
		event_free(pd->batch.sync_ev);
	pd->batch.sync_ev = NULL;
}

/* Something is left to commit, send, serve or start. */
static bool flush_needed(const struct poold *pd)
{
	return pd->batch.len > 0 || journal_pending(pd) || jobs_pending(pd) ||
		journal_has_ready(pd);
}

void reply_later(struct poold *pd)
{
	if (pd->batch.len >= BATCH_MAX && !evtimer_pending(pd->retry_ev, NULL))
		reply_flush(pd);
}

/* The end of a turn of the loop: every ready event has been handled. */
static void turn_end(struct poold *pd)
{
	if (flush_needed(pd) && !evtimer_pending(pd->retry_ev, NULL))
		flush_rounds(pd, false);
	conn_write_all(pd);
}

int reply_turn(struct poold *pd, int flags)
{
	int rc = event_base_loop(pd->base, flags);

	turn_end(pd);
	return rc;
}

void reply_run(struct poold *pd)
{
	log_buffer(true);
	for (;;) {
		int rc;

		log_flush();
		rc = reply_turn(pd, EVLOOP_ONCE);
		if (rc != 0 || event_base_got_break(pd->base) ||
		    event_base_got_exit(pd->base))
			break;
	}
	log_buffer(false);
}

static void retry_later(struct poold *pd)
{
	struct timeval tv = { 0, (suseconds_t)(RETRY_EVERY * 1e6) };

	evtimer_add(pd->retry_ev, &tv);
}

static void send_held(struct poold *pd)
{
	struct reply *rp;

	while ((rp = TAILQ_FIRST(&pd->batch.held))) {
		TAILQ_REMOVE(&pd->batch.held, rp, link);
		conn_send(rp->conn, rp->line.p, rp->line.len);
		reply_release(rp);
	}
}

/* The batch is committed: its replies, events and commands wait in one
 * place until release() lets them out, at once, or at --sync full once
 * the fsync that covers the commit has ended. */
static void seal(struct poold *pd)
{
	TAILQ_CONCAT(&pd->batch.held, &pd->batch.q, link);
	pd->batch.len = 0;
	jobs_seal(pd);
}

static void release(struct poold *pd)
{
	send_held(pd);
	journal_deliver(pd);
	jobs_launch(pd);
}

/* The commit failed: nothing of the batch happened, and nothing of it may
 * happen later. Memory is made equal to the database again, every answer
 * becomes internal, the batch's events and command starts are dropped;
 * waiters keep waiting and are served after a later commit. */
static void fail(struct poold *pd, const char *err)
{
	log_error("commit failed, %zu replies fail with it: %s",
		  pd->batch.len, err);
	journal_drop(pd);
	provision_abort_pending(pd);
	state_reload(pd);
	batch_fail(pd, err);
	TAILQ_CONCAT(&pd->batch.held, &pd->batch.q, link);
	pd->batch.len = 0;
	send_held(pd);
	if (journal_has_ready(pd) || journal_pending(pd))
		retry_later(pd);
}

/* Commits; STORE_BUSY leaves everything for a retry unless the lock has
 * been held too long. */
static int commit(struct poold *pd, char *err, size_t errlen)
{
	int rc = journal_commit(pd, err, errlen);

	if (rc != STORE_BUSY) {
		pd->blocked_since = 0;
		return rc;
	}
	if (pd->blocked_since == 0)
		pd->blocked_since = now_mono();
	if (now_mono() - pd->blocked_since < BLOCKED_MAX)
		return STORE_BUSY;
	pd->blocked_since = 0;
	snprintf(err, errlen, "another process held the database's write "
		 "lock for over %g s", BLOCKED_MAX);
	return STORE_ERROR;
}

static void serve_pool(struct pool *p)
{
	if (wait_pending(p))
		wait_serve(p);
}

/* Waiters are served only once the write lock is ours (the transaction is
 * open), so a grant is never lost to a busy database. */
static int serve_ready(struct poold *pd)
{
	char err[256];
	int rc;

	if (!journal_has_ready(pd))
		return STORE_OK;
	/* Most returns leave no one waiting: no transaction for them. */
	if (!journal_ready_any(pd, wait_pending)) {
		journal_ready_clear(pd);
		return STORE_OK;
	}
	rc = journal_write(pd, err, sizeof err);
	if (rc == STORE_OK)
		journal_take_ready(pd, serve_pool);
	return rc;
}

/* ---- --sync full: the fsync behind the commit ------------------------ */

/* The fsync goes behind, to the store's thread, only for a batch this
 * large: for a few requests the handing over and back (two thread wake-ups)
 * costs more than the loop gains meanwhile. Measured in performance.md. */
#define SYNC_BEHIND_MIN 16

static void sync_start(struct poold *pd, double t0, size_t replies,
		       bool behind)
{
	pd->batch.syncing = true;
	pd->batch.sync_t0 = t0;
	pd->batch.sync_len = replies;
	pd->store->ops->sync_ask(pd->store, behind);
}

/* A failed fsync cannot be retried (the kernel may have dropped the pages
 * it could not write), so what was committed may never reach the disk:
 * the held answers are not sent, and poold stops. Started again, the
 * database recovers to what is on disk. */
static void sync_failed(struct poold *pd, const char *err)
{
	log_error("%s; poold stops without answering the last %zu requests, "
		  "whose changes may not be on disk: check the disk, then "
		  "start poold again (the database recovers what was synced)",
		  err, pd->batch.sync_len);
	log_flush();
	exit(EXIT_FAILURE);
}

/* Whether the fsync has ended (wait: once it has); then its batch is
 * durable and let out. */
static bool sync_finish(struct poold *pd, bool wait)
{
	char err[256];
	int rc = pd->store->ops->sync_end(pd->store, wait, err, sizeof err);

	if (rc == 0)
		return false;
	if (rc < 0)
		sync_failed(pd, err);
	pd->batch.syncing = false;
	metrics_commit_observe(pd, now_mono() - pd->batch.sync_t0,
			       pd->batch.sync_len);
	release(pd);
	return true;
}

static void on_synced(evutil_socket_t fd, short what, void *arg)
{
	struct poold *pd = arg;

	if (!pd->batch.syncing || !sync_finish(pd, false))
		return;
	if (serve_ready(pd) != STORE_OK)
		retry_later(pd); /* the ready marks are kept */
	else
		flush_rounds(pd, false);
	conn_write_all(pd);
}

/* ---- the flush --------------------------------------------------------- */

/* Commits, lets the batch's effects out, serves the pools it made ready,
 * and again while that made changes. At --sync full the effects wait for
 * the fsync: with wait, here; without, the loop goes on and on_synced()
 * continues, and nothing else is committed until then. */
static void flush_rounds(struct poold *pd, bool wait)
{
	char err[256];
	int rc;

	if (pd->batch.syncing) {
		if (!wait)
			return;
		sync_finish(pd, true);
		if (serve_ready(pd) != STORE_OK) {
			retry_later(pd);
			return;
		}
	}
	if (evtimer_pending(pd->retry_ev, NULL))
		evtimer_del(pd->retry_ev);
	while (flush_needed(pd)) {
		bool tx = journal_pending(pd);
		size_t replies = pd->batch.len;
		double t0 = now_mono();

		rc = commit(pd, err, sizeof err);
		if (rc == STORE_BUSY) {
			retry_later(pd);
			return;
		}
		if (rc != STORE_OK) {
			fail(pd, err);
			return;
		}
		/* Committed: now, and only now, its effects. */
		seal(pd);
		if (tx && pd->batch.sync_ev) {
			bool behind = !wait && replies >= SYNC_BEHIND_MIN;

			sync_start(pd, t0, replies, behind);
			if (behind)
				return;
			sync_finish(pd, true);
		} else {
			if (tx)
				metrics_commit_observe(pd, now_mono() - t0,
						       replies);
			release(pd);
		}
		/* Serving makes changes of its own: the next round commits
		 * them before their answers leave. */
		if (serve_ready(pd) != STORE_OK) {
			retry_later(pd); /* the ready marks are kept */
			return;
		}
	}
}

void reply_flush(struct poold *pd)
{
	flush_rounds(pd, true);
	conn_write_all(pd);
}

void reply_commit(struct poold *pd)
{
	flush_rounds(pd, false);
	conn_write_all(pd);
}
