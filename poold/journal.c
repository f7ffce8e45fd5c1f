/*
 * journal.c - see journal.h. Rows are copied when a change is reported
 * (the object may be gone by the flush) and written in report order, so a
 * pool deleted and created again within one batch ends as it should.
 *
 * The rows, the events and their strings live in the journal's two arenas
 * (arena.h): the batch being made in one, the batch committed last in the
 * other until its events are delivered; each is reset when its batch is
 * done (or dropped): a batch allocates nothing at steady state. The
 * ready pools are a flag in each pool and a reused array of pointers; a
 * pool that is freed leaves the array (journal_pool_freed()).
 */
#include "journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "arena.h"
#include "events.h"
#include "invariant.h"
#include "jsonutil.h"
#include "lease.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "poold.h"
#include "store.h"
#include "util.h"

enum row_kind { J_POOL_PUT, J_POOL_DEL, J_RES_PUT, J_RES_DEL, J_LEASE_PUT,
		J_LEASE_DEL, J_ORPHAN_PUT, J_ORPHAN_DEL, J_PURGE, J_PRUNE,
		J_WAITER_PUT, J_WAITER_DEL };

struct jrow {
	enum row_kind kind;
	union {
		struct store_pool_row pool;
		struct store_resource_row res;
		struct store_lease_row lease;
		struct store_orphan_row orphan;
		struct store_waiter_row waiter;
		struct { const char *pool, *name; } key;
		struct { double before; int64_t max_rows; } purge;
		int64_t id;
	} u;
	TAILQ_ENTRY(jrow) link;
};

struct jevent {
	const char *event;        /* a string constant */
	const char *pool;         /* the strings are in the arena */
	double at;
	const char *resource;     /* the resource as it was (JSON), or NULL */
	const char *res_name, *lease, *caller, *owner;
	int64_t token;
	double seconds;           /* for metrics_event: wait or time held */
	bool written;             /* its history row is in the transaction */
	bool committed;           /* and that transaction is committed */
	TAILQ_ENTRY(jevent) link;
};

/* History rows are appended this many at a time (the store's largest
 * multi-row INSERT). */
#define HIST_ROWS 32

struct journal {
	TAILQ_HEAD(, jrow) rows;
	TAILQ_HEAD(, jevent) events;
	size_t nrows, nevents;
	/* The rows, events and their strings: the batch being made in
	 * arena[gen], the batch committed last (whose events may still wait
	 * for an fsync, then delivery) in the other. */
	struct arena arena[2];
	int gen;
	struct store_history_row hist[HIST_ROWS]; /* one append's rows */
	/* Pools marked ready (pool->ready set), and those being taken by
	 * journal_take_ready(); a freed pool's entry becomes NULL. */
	struct pool_set { struct pool **p; size_t len, cap; } ready, taking;
	const char *actor;        /* borrowed; see journal_actor() */
	bool prune_behind;        /* the last prune deleted a full step */
};

/* History is pruned a bounded step per janitor tick. */
#define PRUNE_STEP 500

struct journal *journal_new(void)
{
	struct journal *j = xcalloc(1, sizeof *j);

	TAILQ_INIT(&j->rows);
	TAILQ_INIT(&j->events);
	arena_init(&j->arena[0]);
	arena_init(&j->arena[1]);
	return j;
}

static void ready_clear(struct journal *j)
{
	for (size_t i = 0; i < j->ready.len; i++)
		j->ready.p[i]->ready = false;
	j->ready.len = 0;
}

static void drop_all(struct journal *j);

void journal_free(struct journal *j)
{
	if (!j)
		return;
	drop_all(j);
	ready_clear(j);
	arena_free(&j->arena[0]);
	arena_free(&j->arena[1]);
	free(j->ready.p);
	free(j->taking.p);
	free(j);
}

/* ---- rows -------------------------------------------------------------- */

static const char *own(struct poold *pd, const char *s)
{
	return arena_strdup(&pd->journal->arena[pd->journal->gen], s);
}

static struct jrow *row_add(struct poold *pd, enum row_kind kind)
{
	struct journal *j = pd->journal;
	struct jrow *e = arena_alloc(&j->arena[j->gen], sizeof *e);

	memset(e, 0, sizeof *e);
	e->kind = kind;
	TAILQ_INSERT_TAIL(&j->rows, e, link);
	j->nrows++;
	return e;
}

void journal_pool_saved(struct pool *p)
{
	struct jrow *e = row_add(p->pd, J_POOL_PUT);
	json_t *settings = pool_to_json(p);
	char *text = json_dumps(settings, JSON_COMPACT);

	e->u.pool.name = own(p->pd, p->name);
	e->u.pool.settings = own(p->pd, text);
	e->u.pool.created_at = p->created_at;
	free(text);
	json_decref(settings);
	journal_ready(p); /* a larger max_size, or no longer draining */
}

void journal_pool_gone(struct pool *p)
{
	struct jrow *e = row_add(p->pd, J_POOL_DEL);

	e->u.key.pool = own(p->pd, p->name);
	/* A pool of the same name made later starts with empty histograms. */
	metrics_pool_forget(p->pd, p->name);
}

void journal_resource_saved(struct resource *r)
{
	struct jrow *e = row_add(r->pool->pd, J_RES_PUT);
	struct store_resource_row *row = &e->u.res;

	row->pool = own(r->pool->pd, r->pool->name);
	row->name = own(r->pool->pd, r->name);
	row->state = res_state_name(r->state);
	row->descriptor = own(r->pool->pd, r->descriptor);
	row->version = r->version;
	row->created_at = r->created_at;
	row->last_used_at = r->last_used_at;
	row->lease_count = r->lease_count;
	if (r->state == RS_FREE || r->state == RS_CLEANING)
		journal_ready(r->pool);
}

void journal_resource_gone(struct resource *r)
{
	struct jrow *e = row_add(r->pool->pd, J_RES_DEL);

	e->u.key.pool = own(r->pool->pd, r->pool->name);
	e->u.key.name = own(r->pool->pd, r->name);
	journal_ready(r->pool); /* room to create another */
}

void journal_lease_saved(struct poold *pd, const struct lease *l)
{
	struct jrow *e = row_add(pd, J_LEASE_PUT);
	struct store_lease_row *row = &e->u.lease;

	row->seq = l->seq;
	row->id = own(pd, l->id);
	row->pool = own(pd, l->pool);
	row->resource = own(pd, l->res_name);
	row->mode = l->mode == MODE_POP ? "pop" : "checkout";
	row->token = l->token;
	row->owner = own(pd, l->owner);
	row->caller = own(pd, l->caller);
	row->bind = l->bind_conn ? "connection" : "none";
	row->conn_id = (int64_t)l->conn_id;
	row->ttl = l->ttl;
	row->acquired_at = l->acquired_at;
	/* An ended lease has no resource; its expires_at is when it ended. */
	row->expires_at = l->res ? l->expires_at : 0;
	row->request_id = own(pd, l->request_id);
	row->expired_at = l->res ? 0 : l->expires_at;
}

void journal_lease_gone(struct poold *pd, const struct lease *l)
{
	row_add(pd, J_LEASE_DEL)->u.id = l->seq;
}

void journal_orphan_saved(struct poold *pd, const struct store_orphan_row *o)
{
	struct jrow *e = row_add(pd, J_ORPHAN_PUT);

	e->u.orphan = *o;
	e->u.orphan.pool = own(pd, o->pool);
	e->u.orphan.name = own(pd, o->name);
	e->u.orphan.descriptor = own(pd, o->descriptor);
	e->u.orphan.destroy = own(pd, o->destroy);
}

void journal_orphan_gone(struct poold *pd, int64_t id)
{
	row_add(pd, J_ORPHAN_DEL)->u.id = id;
}

void journal_waiter_saved(struct poold *pd, const struct store_waiter_row *w)
{
	struct jrow *e = row_add(pd, J_WAITER_PUT);

	e->u.waiter = *w;
	e->u.waiter.caller = own(pd, w->caller);
	e->u.waiter.request_id = own(pd, w->request_id);
	e->u.waiter.pool = own(pd, w->pool);
	e->u.waiter.name = own(pd, w->name);
	e->u.waiter.match = own(pd, w->match);
}

void journal_waiter_gone(struct poold *pd, int64_t seq)
{
	row_add(pd, J_WAITER_DEL)->u.id = seq;
}

void journal_leases_purge(struct poold *pd, double before)
{
	row_add(pd, J_PURGE)->u.purge.before = before;
}

bool journal_prune_behind(const struct poold *pd)
{
	return pd->journal->prune_behind;
}

void journal_history_prune(struct poold *pd, double before, int64_t max_rows)
{
	struct jrow *e = row_add(pd, J_PRUNE);

	e->u.purge.before = before;
	e->u.purge.max_rows = max_rows;
}

static int prune(struct journal *j, struct store *st, const struct jrow *e)
{
	int n = st->ops->history_prune(st, e->u.purge.before,
				       e->u.purge.max_rows, PRUNE_STEP);

	j->prune_behind = n >= PRUNE_STEP;
	return n < 0 ? STORE_ERROR : STORE_OK;
}

static int row_write(struct journal *j, struct store *st,
		     const struct jrow *e)
{
	const struct store_ops *ops = st->ops;

	switch (e->kind) {
	case J_POOL_PUT: return ops->pool_put(st, &e->u.pool);
	case J_POOL_DEL: return ops->pool_delete(st, e->u.key.pool);
	case J_RES_PUT: return ops->resource_put(st, &e->u.res);
	case J_RES_DEL:
		return ops->resource_delete(st, e->u.key.pool, e->u.key.name);
	case J_LEASE_PUT: return ops->lease_put(st, &e->u.lease);
	case J_LEASE_DEL: return ops->lease_delete(st, e->u.id);
	case J_ORPHAN_PUT: return ops->orphan_put(st, &e->u.orphan);
	case J_ORPHAN_DEL: return ops->orphan_delete(st, e->u.id);
	case J_PURGE: return ops->leases_purge(st, e->u.purge.before);
	case J_PRUNE: return prune(j, st, e);
	case J_WAITER_PUT: return ops->waiter_put(st, &e->u.waiter);
	case J_WAITER_DEL: return ops->waiter_delete(st, e->u.id);
	}
	return STORE_ERROR;
}

/* ---- events ------------------------------------------------------------ */

void journal_actor(struct poold *pd, const char *caller)
{
	pd->journal->actor = caller;
}

/* The figure metrics_event takes: a grant's wait (request to grant, 0 at
 * once), else how long the lease has been held (for the ends). */
static double event_seconds(const char *event, const struct lease *l,
			    double at)
{
	if (strcmp(event, "leased") == 0 || strcmp(event, "checked_out") == 0)
		return l->waited;
	return at > l->acquired_at ? at - l->acquired_at : 0;
}

/* The resource as the event saw it, as JSON text in the arena. */
static const char *resource_text(struct arena *a, const struct resource *r)
{
	size_t room;
	char *buf = arena_room(a, 256, &room);
	size_t n = (size_t)resource_json_write(r, buf, room);

	if (n >= room) { /* a large descriptor: a room of its size */
		buf = arena_room(a, n + 1, &room);
		resource_json_write(r, buf, room);
	}
	arena_take(a, n + 1);
	return buf;
}

void journal_event(struct poold *pd, const char *event, const struct pool *p,
		   const struct resource *r, const struct lease *l)
{
	struct journal *j = pd->journal;
	struct jevent *ev = arena_alloc(&j->arena[j->gen], sizeof *ev);

	memset(ev, 0, sizeof *ev);
	ev->event = event;
	ev->pool = own(pd, p->name);
	ev->at = now_wall();
	if (r) {
		ev->resource = resource_text(&j->arena[j->gen], r);
		ev->res_name = own(pd, r->name);
	}
	if (l) {
		ev->lease = own(pd, l->id);
		ev->caller = own(pd, l->caller);
		ev->owner = own(pd, l->owner);
		ev->token = l->token;
		ev->seconds = event_seconds(event, l, ev->at);
	} else if (j->actor) {
		ev->caller = own(pd, j->actor);
	}
	TAILQ_INSERT_TAIL(&j->events, ev, link);
	j->nevents++;
}

/* The history rows of the events not yet written, HIST_ROWS per append. */
static void events_write(struct journal *j, struct store *st)
{
	struct jevent *ev;
	size_t n = 0;

	TAILQ_FOREACH(ev, &j->events, link) {
		if (ev->written)
			continue;
		j->hist[n++] = (struct store_history_row){
			.at = ev->at, .event = ev->event, .pool = ev->pool,
			.resource = ev->res_name, .lease = ev->lease,
			.caller = ev->caller, .owner = ev->owner,
			.token = ev->token, .detail = ev->resource,
		};
		ev->written = true;
		if (n == HIST_ROWS) {
			st->ops->history_append(st, j->hist, n);
			n = 0;
		}
	}
	if (n > 0)
		st->ops->history_append(st, j->hist, n);
}

/* The watch line: {"event", "pool", "at", "resource"?} ("lease" is added
 * per watcher). */
static json_t *event_line(const struct jevent *ev)
{
	json_t *o = json_pack("{s:s, s:s, s:o}", "event", ev->event,
			      "pool", ev->pool, "at", json_time(ev->at));

	if (ev->resource)
		json_object_set_new(o, "resource",
				    json_loads(ev->resource, 0, NULL));
	return o;
}

static void event_log(const struct jevent *ev)
{
	char lease[9];

	snprintf(lease, sizeof lease, "%s", ev->lease ? ev->lease : "-");
	log_kv(LOG_INFO, "committed", "event", ev->event, "pool", ev->pool,
	       "resource", ev->res_name, "owner", ev->owner, "caller",
	       ev->caller, "lease", lease, NULL);
}

void journal_deliver(struct poold *pd)
{
	struct journal *j = pd->journal;
	struct jevent *ev;

	/* Only what a commit wrote: an event reported since, or written
	 * into the transaction now open (a list page's journal_write() while
	 * --sync full waits for an fsync), waits for its own commit. */
	while ((ev = TAILQ_FIRST(&j->events)) && ev->committed) {
		TAILQ_REMOVE(&j->events, ev, link);
		j->nevents--;
		event_log(ev);
		metrics_event(pd, ev->pool, ev->event, ev->seconds);
		if (!TAILQ_EMPTY(&pd->watchers)) {
			json_t *line = event_line(ev);

			events_send(pd, ev->pool, line, ev->lease, ev->caller);
			json_decref(line);
		}
	}
	if (TAILQ_EMPTY(&j->events) && TAILQ_EMPTY(&j->rows)) {
		arena_reset(&j->arena[0]);
		arena_reset(&j->arena[1]);
	}
}

/* ---- the transaction --------------------------------------------------- */

bool journal_pending(const struct poold *pd)
{
	return pd->journal->nrows > 0 || pd->journal->nevents > 0 ||
		pd->token_dirty || pd->store->ops->in_tx(pd->store);
}

int journal_write(struct poold *pd, char *err, size_t errlen)
{
	struct journal *j = pd->journal;
	struct store *st = pd->store;
	struct jrow *e;
	int rc = st->ops->begin(st, err, errlen);

	if (rc != STORE_OK)
		return rc;
	while ((e = TAILQ_FIRST(&j->rows))) {
		TAILQ_REMOVE(&j->rows, e, link);
		row_write(j, st, e); /* sticky: commit reports the first error */
	}
	j->nrows = 0;
	/* The events stay until they are delivered after the commit. */
	events_write(j, st);
	return STORE_OK;
}

int journal_commit(struct poold *pd, char *err, size_t errlen)
{
	struct store *st = pd->store;
	int rc;

	if (!journal_pending(pd))
		return STORE_OK;
	rc = journal_write(pd, err, errlen);
	if (rc != STORE_OK)
		return rc;
	if (pd->token_dirty) {
		struct store_meta_row meta = { "next_token", pd->token_limit };

		st->ops->meta_put(st, &meta);
	}
	rc = st->ops->commit(st, err, errlen);
	if (rc == STORE_OK) {
		struct journal *j = pd->journal;
		struct jevent *ev;

		pd->token_dirty = false;
		TAILQ_FOREACH(ev, &j->events, link)
			ev->committed = ev->written;
		/* What this batch left (its events) stays put until delivered;
		 * the batch before it was delivered before this commit, so its
		 * arena takes the next one. At --sync full the lists are
		 * never empty under load (a batch is made while the one
		 * before waits for its fsync), so this is what bounds them. */
		j->gen ^= 1;
		arena_reset(&j->arena[j->gen]);
	}
	return rc;
}

static void drop_all(struct journal *j)
{
	TAILQ_INIT(&j->rows);
	TAILQ_INIT(&j->events);
	j->nrows = j->nevents = 0;
	arena_reset(&j->arena[0]);
	arena_reset(&j->arena[1]);
}

void journal_drop(struct poold *pd)
{
	pd->store->ops->rollback(pd->store);
	drop_all(pd->journal);
	/* The moved limit was not stored: the next grant moves it again. */
	if (pd->token_dirty)
		pd->token_limit = pd->next_token;
	pd->token_dirty = false;
}

/* ---- ready pools ------------------------------------------------------- */

static void set_add(struct pool_set *set, struct pool *p)
{
	if (set->len == set->cap) {
		set->cap = set->cap ? set->cap * 2 : 16;
		set->p = realloc(set->p, set->cap * sizeof *set->p);
		if (!set->p)
			abort();
	}
	set->p[set->len++] = p;
}

void journal_ready(struct pool *p)
{
	if (p->ready)
		return;
	p->ready = true;
	set_add(&p->pd->journal->ready, p);
}

void journal_pool_freed(struct pool *p)
{
	struct journal *j = p->pd->journal;

	/* Rare (a pool deleted): a scan of the marks is cheap enough. */
	for (size_t i = 0; i < j->ready.len; i++)
		if (j->ready.p[i] == p)
			j->ready.p[i] = j->ready.p[--j->ready.len];
	for (size_t i = 0; i < j->taking.len; i++)
		if (j->taking.p[i] == p)
			j->taking.p[i] = NULL;
	p->ready = false;
}

bool journal_has_ready(const struct poold *pd)
{
	return pd->journal->ready.len > 0;
}

bool journal_ready_any(struct poold *pd, bool (*pred)(const struct pool *p))
{
	struct pool_set *set = &pd->journal->ready;

	for (size_t i = 0; i < set->len; i++)
		if (pred(set->p[i]))
			return true;
	return false;
}

void journal_ready_clear(struct poold *pd)
{
	ready_clear(pd->journal);
}

void journal_take_ready(struct poold *pd, void (*fn)(struct pool *p))
{
	struct journal *j = pd->journal;
	struct pool_set taken = j->ready;

	/* The marks are cleared first: fn may mark pools again. The emptied
	 * storage of the last take becomes the new set. */
	INVARIANT(j->taking.len == 0); /* fn does not take them again */
	j->ready = j->taking;
	j->taking = taken;
	for (size_t i = 0; i < taken.len; i++)
		taken.p[i]->ready = false;
	for (size_t i = 0; i < j->taking.len; i++)
		if (j->taking.p[i])
			fn(j->taking.p[i]);
	j->taking.len = 0;
}
