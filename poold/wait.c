/*
 * wait.c - see wait.h. A waiter owns its request until it is answered; the
 * queue is strictly FIFO per pool, except that a waiter whose checkout names
 * or matches a resource is passed over by resources it cannot take.
 */
#include "wait.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "pool_protocol.h"
#include "poold.h"
#include "reply.h"
#include "util.h"

struct waiter {
	struct req *req;          /* owned; answered when served or timed out */
	struct pool *pool;
	struct want want;         /* strings borrowed from req->msg */
	char *rid_key;            /* owned; key in pd->waiting_ids, or NULL */
	struct event *timer;      /* owned */
	TAILQ_ENTRY(waiter) link; /* in pool->waiters */
};

/* A free resource the request may take, or a new one when the pool may grow
 * (create-on-empty applies only to requests that name no resource). */
static struct resource *acquire(struct pool *p, const struct want *w,
				double now)
{
	struct resource *r = pool_take_free(p, w->name, w->match);
	char name[POOL_RESOURCE_NAME_MAX + 1];

	if (r || w->name || w->match || !pool_can_grow(p))
		return r;
	resource_name_generate(p, name, sizeof name);
	p->stats.created++;
	return resource_new(p, name, json_pack("{s:s}", "name", name),
			    RS_CREATING, now);
}

static void grant_and_answer(struct req *r, struct resource *res,
			     const struct want *w)
{
	struct lease *l = lease_grant(r->pd, res, w, &r->who, r->now);

	req_ok(r, lease_to_json(l, true));
}

/* Frees a waiter that is in no queue. */
static void waiter_destroy(struct poold *pd, struct waiter *w)
{
	if (w->rid_key) {
		hmap_del(&pd->waiting_ids, w->rid_key);
		free(w->rid_key);
	}
	event_free(w->timer);
	req_free(w->req);
	free(w);
}

static void waiter_free(struct waiter *w)
{
	TAILQ_REMOVE(&w->pool->waiters, w, link);
	w->pool->nwaiters--;
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
	reply_flush(pd);
}

static enum req_status wait_add(struct req *r, struct pool *p,
				const struct want *want)
{
	struct waiter *w = xcalloc(1, sizeof *w);
	struct timeval tv;

	w->req = r;
	w->pool = p;
	w->want = *want;
	if (want->request_id) {
		w->rid_key = request_id_key(r->who.name, want->request_id);
		hmap_put(&r->pd->waiting_ids, w->rid_key, w);
	}
	w->timer = evtimer_new(r->pd->base, waiter_timeout, w);
	tv.tv_sec = (time_t)want->wait;
	tv.tv_usec = (suseconds_t)((want->wait - (double)tv.tv_sec) * 1e6);
	evtimer_add(w->timer, &tv);
	TAILQ_INSERT_TAIL(&p->waiters, w, link);
	p->nwaiters++;
	p->stats.waited++;
	return REQ_KEPT;
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
		req_ok(r, lease_to_json(l, true));
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

enum req_status lease_request(struct req *r, struct pool *p,
			      const struct want *w)
{
	struct resource *res;

	if (answer_retry(r, p, w))
		return REQ_DONE;
	if (p->draining) {
		req_fail(r, POOL_ERR_DRAINING, "pool %s is draining: it hands "
			 "out no new leases (pool.set state active ends it)",
			 p->name);
		return REQ_DONE;
	}
	if (w->name && !resource_find(p, w->name)) {
		req_fail(r, POOL_ERR_NOT_FOUND, "pool %s has no resource %s",
			 p->name, w->name);
		return REQ_DONE;
	}
	res = acquire(p, w, r->now);
	if (res) {
		grant_and_answer(r, res, w);
		return REQ_DONE;
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
	return wait_add(r, p, w);
}

void wait_kick(struct pool *p, double now)
{
	struct waiter *w, *next;

	for (w = TAILQ_FIRST(&p->waiters); w; w = next) {
		struct resource *res;

		if (p->count[RS_FREE] == 0 && !pool_can_grow(p))
			break;
		next = TAILQ_NEXT(w, link);
		res = acquire(p, &w->want, now);
		if (!res)
			continue;
		w->req->now = now;
		grant_and_answer(w->req, res, &w->want);
		waiter_free(w);
	}
}

void wait_fail_all(struct pool *p, const char *code, const char *msg)
{
	struct waiter *w;

	while ((w = TAILQ_FIRST(&p->waiters))) {
		req_fail(w->req, code, "%s", msg);
		waiter_free(w);
	}
}

void wait_drop_conn(struct poold *pd, const struct conn *c)
{
	struct pool *p;
	size_t pos = 0;

	while ((p = hmap_next(&pd->pools, &pos))) {
		struct waiter *w, *next;

		for (w = TAILQ_FIRST(&p->waiters); w; w = next) {
			next = TAILQ_NEXT(w, link);
			if (w->req->conn == c)
				waiter_free(w);
		}
	}
}

void wait_detach(struct pool *p, struct waiter_list *into)
{
	struct waiter *w;

	while ((w = TAILQ_FIRST(&p->waiters))) {
		TAILQ_REMOVE(&p->waiters, w, link);
		p->nwaiters--;
		w->pool = NULL;
		TAILQ_INSERT_TAIL(into, w, link);
	}
}

void wait_rehome(struct poold *pd, struct waiter_list *from)
{
	struct waiter *w;

	while ((w = TAILQ_FIRST(from))) {
		struct pool *p = pool_find(pd, req_str(w->req, "pool"));

		TAILQ_REMOVE(from, w, link);
		w->pool = p;
		if (p) {
			TAILQ_INSERT_TAIL(&p->waiters, w, link);
			p->nwaiters++;
			continue;
		}
		/* Its pool is gone from the rolled-back state: the pool was
		 * created in the failed batch. */
		req_fail(w->req, POOL_ERR_NOT_FOUND, "pool %s no longer exists",
			 req_str(w->req, "pool"));
		waiter_destroy(pd, w);
	}
}

void wait_free_all(struct poold *pd)
{
	struct pool *p;
	size_t pos = 0;

	while ((p = hmap_next(&pd->pools, &pos)))
		while (!TAILQ_EMPTY(&p->waiters))
			waiter_free(TAILQ_FIRST(&p->waiters));
}
