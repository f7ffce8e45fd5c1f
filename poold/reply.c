/*
 * reply.c - the reply batch: nothing is sent before the changes it reports
 * are committed (see reply.h).
 */
#include "reply.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "jsonutil.h"
#include "log.h"
#include "pool_protocol.h"
#include "poold.h"
#include "state.h"
#include "store.h"
#include "jobs.h"
#include "provision.h"
#include "util.h"

/* Builds {"id": ..., "ok": ..., X: body}; an absent id stays absent. */
static json_t *envelope(json_t *id, bool ok, const char *key, json_t *body)
{
	json_t *o = json_object();

	if (id)
		json_object_set(o, "id", id);
	json_object_set_new(o, "ok", json_boolean(ok));
	json_object_set_new(o, key, body);
	return o;
}

json_t *reply_ok_json(json_t *id, json_t *result)
{
	return envelope(id, true, "result", json_incref(result));
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
	return envelope(id, false, "error",
			json_pack("{s:s, s:o}", "code", code,
				  "message", message_string(msg)));
}

static void reply_set_line(struct reply *rp, json_t *body)
{
	free(rp->line);
	rp->line = json_dumps_exact(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!rp->line)
		abort();
	rp->len = strlen(rp->line);
	rp->line = realloc(rp->line, rp->len + 2);
	if (!rp->line)
		abort();
	rp->line[rp->len++] = '\n';
	rp->line[rp->len] = '\0';
}

void reply_queue(struct poold *pd, struct conn *conn, json_t *id, json_t *body)
{
	struct reply *rp;

	if (!conn) {
		json_decref(body);
		return;
	}
	rp = xcalloc(1, sizeof *rp);
	rp->conn = conn_ref(conn);
	rp->id = json_incref(id);
	reply_set_line(rp, body);
	json_decref(body);
	TAILQ_INSERT_TAIL(&pd->batch.q, rp, link);
	pd->batch.len++;
}

/* The batch's changes were rolled back: none of its answers stands. */
static void batch_fail(struct poold *pd, const char *why)
{
	char msg[512];
	struct reply *rp;

	snprintf(msg, sizeof msg, "could not commit to the database (%s); "
		 "nothing was changed: retry, and check the daemon's disk", why);
	TAILQ_FOREACH(rp, &pd->batch.q, link) {
		json_t *body = reply_err_json(rp->id, POOL_ERR_INTERNAL, msg);

		reply_set_line(rp, body);
		json_decref(body);
	}
}

#define BATCH_MAX 256 /* replies that force a flush without waiting */

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	reply_flush(arg);
}

void reply_init(struct poold *pd)
{
	pd->flush_ev = event_new(pd->base, -1, 0, on_flush, pd);
	event_priority_set(pd->flush_ev, PRIO_FLUSH);
}

void reply_free(struct poold *pd)
{
	if (pd->flush_ev)
		event_free(pd->flush_ev);
	pd->flush_ev = NULL;
}

void reply_later(struct poold *pd)
{
	if (pd->batch.len == 0 && !store_in_tx(pd->store) && !jobs_pending(pd))
		return;
	/* Nothing else is ready in this turn of the loop (a lone client):
	 * waiting would only cost another turn. Otherwise the others' changes
	 * join this commit. */
	if (pd->batch.len >= BATCH_MAX ||
	    event_base_get_num_events(pd->base, EVENT_BASE_COUNT_ACTIVE) == 0)
		reply_flush(pd);
	else
		event_active(pd->flush_ev, EV_TIMEOUT, 0);
}

void reply_flush(struct poold *pd)
{
	struct reply *rp;
	char err[256];

	if (pd->token_dirty) {
		store_token_put(pd->store, pd->next_token);
		pd->token_dirty = false;
	}
	if (store_in_tx(pd->store) &&
	    store_commit(pd->store, err, sizeof err) < 0) {
		log_error("commit failed, %zu replies fail with it: %s",
			  pd->batch.len, err);
		state_reload(pd);
		provision_abort_pending(pd);
		batch_fail(pd, err);
	}
	jobs_launch(pd);
	while ((rp = TAILQ_FIRST(&pd->batch.q))) {
		TAILQ_REMOVE(&pd->batch.q, rp, link);
		conn_send(rp->conn, rp->line, rp->len);
		conn_unref(rp->conn);
		json_decref(rp->id);
		free(rp->line);
		free(rp);
	}
	pd->batch.len = 0;
}
