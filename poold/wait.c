/*
 * wait.c - see wait.h. A waiter owns its request until it is answered (a
 * stored place, below, has none until its client takes it back). The
 * queue is strictly FIFO per pool, except that a waiter whose checkout names
 * or matches a resource is passed over by resources it cannot take. A
 * request for which a create command runs leaves the queue: it waits for
 * that resource alone, bounded by the command's timeout, not by its wait.
 */
#include "wait.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "journal.h"
#include "leader.h"
#include "log.h"
#include "pool.h"
#include "pool_protocol.h"
#include "poold.h"
#include "provision.h"
#include "reply.h"
#include "store.h"
#include "util.h"

/* A stored waiter not yet taken back by its client (see place_claim). */
struct place {
	char *pool, *caller, *request_id, *name;
	json_t *match;              /* owned, or NULL */
};

struct waiter {
	struct req *req;          /* owned; answered when served or failed */
	struct pool *pool;
	struct want want;         /* strings borrowed from req */
	char *rid_key;            /* owned; key in pd->waiting_ids, or NULL */
	struct event *timer;      /* owned; the wait, while queued */
	double since;             /* now_mono() at arrival (metrics) */
	char *creating;           /* owned; the resource created for it, if
				   * it is in pool->creators */
	int64_t seq;              /* its row in the store's waiters, or 0 */
	struct place *place;      /* owned; set while it is a stored place
				   * no client has taken back (req NULL) */
	TAILQ_ENTRY(waiter) link; /* in pool->waiters or pool->creators */
};

static void place_free(struct poold *pd, struct place *pl);
static void waiter_store(struct waiter *w, const char *pool);
static bool place_claim(struct req *r, struct pool *p, const struct want *w);
static bool places_hold(const struct pool *p);

/* The lease answer, written directly (see answer.h). */
static void answer_lease_ok(struct req *r, const struct lease *l)
{
	static struct jtext b; /* reused between answers */

	b.len = 0;
	answer_lease(&b, l, true);
	req_ok_text(r, b.p, b.len);
}

static void grant_and_answer(struct req *r, struct resource *res,
			     const struct want *w)
{
	struct lease *l = lease_grant(r->pd, res, w, &r->who, r->now);

	answer_lease_ok(r, l);
}

/* The builtin creator: a resource made at once. */
static struct resource *create_builtin(struct pool *p, double now)
{
	char name[POOL_RESOURCE_NAME_MAX + 1];

	resource_name_generate(p, name, sizeof name);
	p->stats.created++;
	return resource_new(p, name, json_pack("{s:s}", "name", name),
			    RS_CREATING, now);
}

static bool may_create(const struct pool *p, const struct want *w)
{
	return !w->name && !w->match && pool_can_grow(p);
}

/* How many requests each caller has waiting, across all pools. */
struct caller_count {
	char name[sizeof ((struct caller *)0)->name]; /* the key */
	size_t n;
};

static size_t caller_waiting(struct poold *pd, const char *name)
{
	struct caller_count *cc = hmap_get(&pd->waiting_callers, name);

	return cc ? cc->n : 0;
}

static void caller_count_add(struct poold *pd, const char *name, int delta)
{
	struct caller_count *cc = hmap_get(&pd->waiting_callers, name);

	if (!cc) {
		cc = xcalloc(1, sizeof *cc);
		snprintf(cc->name, sizeof cc->name, "%s", name);
		hmap_put(&pd->waiting_callers, cc->name, cc);
	}
	cc->n += (size_t)delta;
	if (cc->n == 0) {
		hmap_del(&pd->waiting_callers, cc->name);
		free(cc);
	}
}

static struct waiter *waiter_new(struct req *r, struct pool *p,
				 const struct want *want)
{
	struct waiter *w = xcalloc(1, sizeof *w);

	caller_count_add(r->pd, r->who.name, 1);
	w->req = r;
	w->pool = p;
	w->want = *want;
	w->since = now_mono();
	if (want->request_id) {
		w->rid_key = request_id_key(r->who.name, want->request_id);
		hmap_put(&r->pd->waiting_ids, w->rid_key, w);
		if (want->wait > 0)
			waiter_store(w, p->name);
	}
	return w;
}

/* Frees a waiter that is in no list. */
static void waiter_destroy(struct poold *pd, struct waiter *w)
{
	if (w->rid_key) {
		hmap_del(&pd->waiting_ids, w->rid_key);
		free(w->rid_key);
	}
	if (w->timer)
		event_free(w->timer);
	free(w->creating);
	place_free(pd, w->place);
	if (w->req) /* a place not taken back has none */
		caller_count_add(pd, w->req->who.name, -1);
	req_free(w->req);
	free(w);
}

static void waiter_unlink(struct waiter *w)
{
	if (w->creating) {
		TAILQ_REMOVE(&w->pool->creators, w, link);
	} else {
		TAILQ_REMOVE(&w->pool->waiters, w, link);
		w->pool->nwaiters--;
	}
}

/* Frees a waiter that is done waiting: its stored row goes with it
 * (but stays when poold stops: its client may come back after the
 * restart). */
static void waiter_free(struct waiter *w)
{
	if (w->seq && !w->pool->pd->stopping && leader_active(w->pool->pd))
		journal_waiter_gone(w->pool->pd, w->seq);
	waiter_unlink(w);
	waiter_destroy(w->pool->pd, w);
}

static void waiter_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *w = arg;
	struct poold *pd = w->pool->pd;

	w->pool->stats.wait_timeouts++;
	req_fail(w->req, POOL_ERR_TIMEOUT, "waited %g s and no resource of "
		 "pool %s came free; wait longer or raise max_size",
		 w->want.wait, w->pool->name);
	waiter_free(w);
	reply_later(pd);
}

static void queue(struct waiter *w)
{
	struct timeval tv;
	double wait = w->want.wait;

	/* libevent's timers run on the monotonic clock: a step of the wall
	 * clock neither times a waiter out nor keeps it longer. */
	w->timer = evtimer_new(w->req->pd->base, waiter_timeout, w);
	tv.tv_sec = (time_t)wait;
	tv.tv_usec = (suseconds_t)((wait - (double)tv.tv_sec) * 1e6);
	evtimer_add(w->timer, &tv);
	TAILQ_INSERT_TAIL(&w->pool->waiters, w, link);
	w->pool->nwaiters++;
}

/* Starts a create command for w, which then waits for that resource. */
static void attach_create(struct waiter *w, double now)
{
	struct resource *r = provision_create(w->pool, now);

	if (w->timer) {
		event_free(w->timer);
		w->timer = NULL;
	}
	w->creating = xstrdup(r->name);
	TAILQ_INSERT_TAIL(&w->pool->creators, w, link);
}

/* An idempotent retry: the live lease taken with this request_id is the
 * answer. Returns true if r was answered. */
static bool answer_retry(struct req *r, struct pool *p, const struct want *w)
{
	struct lease *l;
	char *key;
	bool waiting;

	if (!w->request_id)
		return false;
	l = lease_by_request_id(r->pd, r->who.name, w->request_id);
	if (l && strcmp(l->pool, p->name) == 0 && l->mode == w->mode) {
		answer_lease_ok(r, l);
		return true;
	}
	if (l) {
		req_fail(r, POOL_ERR_CONFLICT, "request_id \"%s\" belongs to "
			 "live lease %s of pool %s (%s); use a new request_id",
			 w->request_id, l->id, l->pool,
			 l->mode == MODE_POP ? "lease" : "checkout");
		return true;
	}
	key = request_id_key(r->who.name, w->request_id);
	waiting = hmap_get(&r->pd->waiting_ids, key) != NULL;
	free(key);
	if (waiting) {
		req_fail(r, POOL_ERR_CONFLICT, "a request with request_id "
			 "\"%s\" is still waiting; wait for its answer",
			 w->request_id);
		return true;
	}
	return false;
}

/* Answers r at once if it can be answered at once; false if it must wait
 * (or be refused for not waiting). */
static bool answer_now(struct req *r, struct pool *p, const struct want *w)
{
	struct resource *res;

	if (answer_retry(r, p, w))
		return true;
	if (p->draining) {
		req_fail(r, POOL_ERR_DRAINING, "pool %s is draining: it hands "
			 "out no new leases (pool.set state active ends it)",
			 p->name);
		return true;
	}
	if (w->name && !resource_find(p, w->name)) {
		req_fail(r, POOL_ERR_NOT_FOUND, "pool %s has no resource %s",
			 p->name, w->name);
		return true;
	}
	/* Stored places not yet taken back come first (see place_claim). */
	if (places_hold(p))
		return false;
	res = pool_take_free(p, w->name, w->match);
	if (!res && may_create(p, w) && !pool_command(p, "create"))
		res = create_builtin(p, r->now);
	if (res)
		grant_and_answer(r, res, w);
	return res != NULL;
}

enum req_status lease_request(struct req *r, struct pool *p,
			      const struct want *w)
{
	if (place_claim(r, p, w))
		return REQ_KEPT;
	if (answer_now(r, p, w))
		return REQ_DONE;
	if ((w->wait > 0 || may_create(p, w)) &&
	    caller_waiting(r->pd, r->who.name) >= (size_t)r->pd->cfg.max_waiting) {
		p->stats.busy++;
		req_fail(r, POOL_ERR_BUSY, "%s already has %zu requests "
			 "waiting (--max-waiting); wait for their answers or "
			 "retry later", r->who.name,
			 caller_waiting(r->pd, r->who.name));
		return REQ_DONE;
	}
	if (may_create(p, w) && provision_can_create(p) && !places_hold(p)) {
		attach_create(waiter_new(r, p, w), r->now);
		return REQ_KEPT;
	}
	if (w->wait <= 0) {
		p->stats.exhausted++;
		req_fail(r, POOL_ERR_EXHAUSTED, "no free resource %sin pool %s "
			 "(%zu held, max_size %lld); pass wait to queue for one",
			 w->name || w->match ? "that fits " : "", p->name,
			 p->total, (long long)p->set.max_size);
		return REQ_DONE;
	}
	if ((int64_t)p->nwaiters >= p->set.max_waiters) {
		p->stats.busy++;
		req_fail(r, POOL_ERR_BUSY, "pool %s already has %zu waiters "
			 "(max_waiters %lld); retry later", p->name,
			 p->nwaiters, (long long)p->set.max_waiters);
		return REQ_DONE;
	}
	p->stats.waited++;
	queue(waiter_new(r, p, w));
	return REQ_KEPT;
}

/* Serves w with res and frees it. */
static void serve(struct waiter *w, struct resource *res, double now)
{
	w->req->now = now;
	w->want.waited = now_mono() - w->since;
	grant_and_answer(w->req, res, &w->want);
	waiter_free(w);
}

void wait_kick(struct pool *p, double now)
{
	struct waiter *w, *next;

	for (w = TAILQ_FIRST(&p->waiters); w; w = next) {
		struct resource *res;

		if (p->count[RS_FREE] == 0 && !pool_can_grow(p))
			break;
		if (w->place) /* held for its client until the grace ends */
			break;
		next = TAILQ_NEXT(w, link);
		res = pool_take_free(p, w->want.name, w->want.match);
		if (res) {
			serve(w, res, now);
		} else if (may_create(p, &w->want)) {
			if (!pool_command(p, "create")) {
				serve(w, create_builtin(p, now), now);
			} else if (provision_can_create(p)) {
				waiter_unlink(w);
				attach_create(w, now);
			}
		}
	}
}

void wait_create_done(struct pool *p, const char *name, struct resource *r,
		      const char *msg)
{
	struct waiter *w;

	TAILQ_FOREACH(w, &p->creators, link)
		if (strcmp(w->creating, name) == 0)
			break;
	if (w && r) {
		serve(w, r, now_wall());
	} else if (w) {
		req_fail(w->req, p->draining ? POOL_ERR_DRAINING :
			 POOL_ERR_CREATE_FAILED, "%s", msg);
		waiter_free(w);
	}
}

void wait_serve(struct pool *p)
{
	provision_pump(p);
	wait_kick(p, now_wall());
}

bool wait_pending(const struct pool *p)
{
	return p->nwaiters > 0 || (int64_t)p->count[RS_CLEANING] >
		provision_running(p, "reset");
}

double wait_oldest_age(const struct pool *p)
{
	const struct waiter *w = TAILQ_FIRST(&p->waiters);
	double now = now_mono(), oldest = w ? w->since : now;

	/* The queue is in arrival order; a request joins the creators when its
	 * command starts, so those (at most max_concurrent) are all looked at. */
	TAILQ_FOREACH(w, &p->creators, link)
		if (w->since < oldest)
			oldest = w->since;
	return now - oldest;
}

void wait_fail_all(struct pool *p, const char *code, const char *msg)
{
	struct waiter *w;

	while ((w = TAILQ_FIRST(&p->waiters)) ||
	       (w = TAILQ_FIRST(&p->creators))) {
		if (w->req)
			req_fail(w->req, code, "%s", msg);
		waiter_free(w);
	}
}

static bool list_has_conn(struct waiter_list *list, const struct conn *c)
{
	struct waiter *w;

	TAILQ_FOREACH(w, list, link)
		if (w->req && w->req->conn == c)
			return true;
	return false;
}

bool wait_has_conn(struct poold *pd, const struct conn *c)
{
	struct pool *p;
	size_t pos = 0;

	while ((p = hmap_next(&pd->pools, &pos)))
		if (list_has_conn(&p->waiters, c) ||
		    list_has_conn(&p->creators, c))
			return true;
	return false;
}

static void drop_from(struct waiter_list *list, const struct conn *c)
{
	struct waiter *w, *next;

	for (w = TAILQ_FIRST(list); w; w = next) {
		next = TAILQ_NEXT(w, link);
		if (w->req && w->req->conn == c)
			waiter_free(w);
	}
}

void wait_drop_conn(struct poold *pd, const struct conn *c)
{
	struct pool *p;
	size_t pos = 0;

	while ((p = hmap_next(&pd->pools, &pos))) {
		drop_from(&p->waiters, c);
		drop_from(&p->creators, c);
	}
}

void wait_detach(struct pool *p, struct waiter_list *into)
{
	struct waiter *w;

	while ((w = TAILQ_FIRST(&p->waiters)) ||
	       (w = TAILQ_FIRST(&p->creators))) {
		waiter_unlink(w);
		w->pool = NULL;
		TAILQ_INSERT_TAIL(into, w, link);
	}
}

void wait_rehome(struct poold *pd, struct waiter_list *from)
{
	struct waiter *w;

	while ((w = TAILQ_FIRST(from))) {
		const char *name = w->req ? req_str(w->req, "pool") :
			w->place->pool;
		struct pool *p = pool_find(pd, name);

		TAILQ_REMOVE(from, w, link);
		w->pool = p;
		if (p && w->creating) {
			TAILQ_INSERT_TAIL(&p->creators, w, link);
		} else if (p) {
			TAILQ_INSERT_TAIL(&p->waiters, w, link);
			p->nwaiters++;
		} else {
			/* Its pool is gone from the rolled-back state: the
			 * pool was created in the failed batch. */
			if (w->req)
				req_fail(w->req, POOL_ERR_NOT_FOUND, "pool %s "
					 "no longer exists", name);
			waiter_destroy(pd, w);
		}
	}
}

void wait_free_all(struct poold *pd)
{
	struct pool *p;
	size_t pos = 0;

	struct waiter *w;

	/* Without a word to the store: the rows stay for the next start
	 * (shutdown) or the next leader (stepping down). */
	while ((p = hmap_next(&pd->pools, &pos)))
		while ((w = TAILQ_FIRST(&p->waiters)) ||
		       (w = TAILQ_FIRST(&p->creators))) {
			waiter_unlink(w);
			waiter_destroy(pd, w);
		}
}

/* ---- places kept across a restart or a failover ------------------------
 *
 * A waiter with a request_id (and a wait) is a row of the store's waiters
 * while it waits. A start (or a takeover) makes each row a place: a waiter
 * without a request, at its old position in its pool's FIFO. Its client,
 * retrying with the same request_id, takes it back (place_claim); until
 * then it holds the queue behind it, for at most --reattach-grace seconds
 * and never past its own wait, after which it is dropped and the pool
 * served. */

static void place_free(struct poold *pd, struct place *pl)
{
	if (!pl)
		return;
	pd->nplaces--;
	free(pl->pool);
	free(pl->caller);
	free(pl->request_id);
	free(pl->name);
	json_decref(pl->match);
	free(pl);
}

static void waiter_put_row(struct poold *pd, const struct waiter *w,
			   const char *pool, const char *caller,
			   double ends_at)
{
	char *match = w->want.match ? json_dumps(w->want.match, JSON_COMPACT |
						 JSON_SORT_KEYS) : NULL;
	struct store_waiter_row row = {
		.seq = w->seq, .caller = caller,
		.request_id = w->want.request_id, .pool = pool,
		.mode = w->want.mode == MODE_POP ? "pop" : "checkout",
		.name = w->want.name, .match = match, .ends_at = ends_at,
	};

	journal_waiter_saved(pd, &row);
	free(match);
}

/* A new waiter with a request_id: written to the store, last in order. */
static void waiter_store(struct waiter *w, const char *pool)
{
	struct poold *pd = w->req->pd;

	if (pd->next_wait_seq < 1)
		pd->next_wait_seq = 1;
	w->seq = pd->next_wait_seq++;
	waiter_put_row(pd, w, pool, w->req->who.name,
		       now_wall() + w->want.wait);
}

static bool places_hold(const struct pool *p)
{
	const struct waiter *w;

	if (p->pd->nplaces == 0)
		return false;
	TAILQ_FOREACH(w, &p->waiters, link)
		if (w->place)
			return true;
	return false;
}

static void waiter_arm(struct waiter *w, event_callback_fn fn, double secs)
{
	struct timeval tv;

	if (secs < 0)
		secs = 0;
	if (w->timer)
		event_free(w->timer);
	w->timer = evtimer_new(w->pool->pd->base, fn, w);
	tv.tv_sec = (time_t)secs;
	tv.tv_usec = (suseconds_t)((secs - (double)tv.tv_sec) * 1e6);
	evtimer_add(w->timer, &tv);
}

/* No client took the place back in time: the queue moves on. */
static void place_lapse(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *w = arg;
	struct pool *p = w->pool;
	struct poold *pd = p->pd;

	log_info("pool %s: the place of request_id \"%s\" of %s lapsed "
		 "(not sent again within --reattach-grace or its wait)",
		 p->name, w->place->request_id, w->place->caller);
	waiter_free(w);
	journal_ready(p);
	reply_later(pd);
}

/* The same want as the place's: the client's retry, not a new request
 * that reuses the id. */
static bool place_fits(const struct waiter *pw, const struct pool *p,
		       const struct want *w)
{
	const struct place *pl = pw->place;

	return pw->pool == p && pw->want.mode == w->mode &&
		(pl->name ? w->name && strcmp(pl->name, w->name) == 0 :
		 !w->name) &&
		(pl->match ? w->match && json_equal(pl->match, w->match) :
		 !w->match);
}

/* r, retried with the request_id of a stored place, takes it back; its
 * wait now runs from now. False if r is not such a retry (a retry that
 * asks for something else, or for no wait, drops the place and goes on
 * as a new request). */
static bool place_claim(struct req *r, struct pool *p, const struct want *w)
{
	struct waiter *pw;
	char *key;

	if (!w->request_id || r->pd->nplaces == 0)
		return false;
	key = request_id_key(r->who.name, w->request_id);
	pw = hmap_get(&r->pd->waiting_ids, key);
	free(key);
	if (!pw || !pw->place)
		return false;
	if (w->wait <= 0 || !place_fits(pw, p, w)) {
		struct pool *was = pw->pool;

		waiter_free(pw);
		journal_ready(was);
		return false;
	}
	place_free(r->pd, pw->place);
	pw->place = NULL;
	pw->req = r;
	caller_count_add(r->pd, r->who.name, 1);
	pw->want = *w;
	waiter_arm(pw, waiter_timeout, w->wait);
	waiter_put_row(r->pd, pw, p->name, r->who.name, now_wall() + w->wait);
	journal_ready(p); /* it may be at the head now */
	return true;
}

static struct place *place_new(const struct store_waiter_row *row)
{
	struct place *pl = xcalloc(1, sizeof *pl);

	pl->pool = xstrdup(row->pool);
	pl->caller = xstrdup(row->caller);
	pl->request_id = xstrdup(row->request_id);
	pl->name = row->name ? xstrdup(row->name) : NULL;
	pl->match = row->match ? json_loads(row->match, 0, NULL) : NULL;
	return pl;
}

int wait_place_load(struct poold *pd, const struct store_waiter_row *row)
{
	struct pool *p = pool_find(pd, row->pool);
	double left = row->ends_at - now_wall();
	struct place *pl;
	struct waiter *w;
	char *key;

	if (row->seq >= pd->next_wait_seq)
		pd->next_wait_seq = row->seq + 1;
	key = request_id_key(row->caller, row->request_id);
	pl = place_new(row);
	if (!p || p->draining || left <= 0 || hmap_get(&pd->waiting_ids, key) ||
	    lease_by_request_id(pd, row->caller, row->request_id) ||
	    (row->match && !json_is_object(pl->match))) {
		/* Its pool is gone or draining, its wait is over, or it
		 * was served. */
		free(key);
		pd->nplaces++; /* place_free counts it down */
		place_free(pd, pl);
		journal_waiter_gone(pd, row->seq);
		return 0;
	}
	w = xcalloc(1, sizeof *w);
	w->pool = p;
	w->seq = row->seq;
	w->since = now_mono();
	w->place = pl;
	pd->nplaces++;
	w->rid_key = key;
	hmap_put(&pd->waiting_ids, key, w);
	w->want.mode = strcmp(row->mode, "pop") == 0 ? MODE_POP : MODE_CHECKOUT;
	w->want.name = w->place->name;
	w->want.match = w->place->match;
	w->want.request_id = w->place->request_id;
	w->want.wait = left;
	TAILQ_INSERT_TAIL(&p->waiters, w, link);
	p->nwaiters++;
	waiter_arm(w, place_lapse, left < pd->cfg.reattach_grace ? left :
		   pd->cfg.reattach_grace);
	return 0;
}
