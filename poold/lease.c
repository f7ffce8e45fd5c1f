/*
 * lease.c - granting, ending and renewing leases, and the expiry heap.
 *
 * A lease ends exactly once, in lease_end(): it is unlinked from every index
 * before the resource moves on, so no later request can reach it. A lease that
 * ended by TTL is kept (without its resource) in pd->expired for a while so
 * that its holder is told "expired" rather than "not_found".
 */
#include "lease.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asan.h"
#include "invariant.h"
#include "journal.h"
#include "jsonutil.h"
#include "pool.h"
#include "poold.h"
#include "provision.h"
#include "req.h"
#include "util.h"

/* ---- the expiry heap: a binary min-heap on the monotonic deadline ------ */

static void heap_set(struct poold *pd, size_t i, struct lease *l)
{
	pd->heap[i] = l;
	l->heap_idx = i;
}

static void heap_up(struct poold *pd, size_t i)
{
	struct lease *l = pd->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (pd->heap[parent]->deadline <= l->deadline)
			break;
		heap_set(pd, i, pd->heap[parent]);
		i = parent;
	}
	heap_set(pd, i, l);
}

static void heap_down(struct poold *pd, size_t i)
{
	struct lease *l = pd->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= pd->heap_len)
			break;
		if (c + 1 < pd->heap_len &&
		    pd->heap[c + 1]->deadline < pd->heap[c]->deadline)
			c++;
		if (l->deadline <= pd->heap[c]->deadline)
			break;
		heap_set(pd, i, pd->heap[c]);
		i = c;
	}
	heap_set(pd, i, l);
}

static void heap_push(struct poold *pd, struct lease *l)
{
	if (pd->heap_len == pd->heap_cap) {
		pd->heap_cap = pd->heap_cap ? pd->heap_cap * 2 : 64;
		pd->heap = realloc(pd->heap, pd->heap_cap * sizeof *pd->heap);
		if (!pd->heap)
			abort();
	}
	pd->heap[pd->heap_len++] = l;
	heap_up(pd, pd->heap_len - 1);
}

static void heap_remove(struct poold *pd, struct lease *l)
{
	size_t i = l->heap_idx;

	if (i == SIZE_MAX)
		return;
	l->heap_idx = SIZE_MAX;
	if (--pd->heap_len == i)
		return;
	heap_set(pd, i, pd->heap[pd->heap_len]);
	heap_up(pd, i);
	heap_down(pd, pd->heap[i]->heap_idx);
}

/* ---- indexes ----------------------------------------------------------- */

char *request_id_key(const char *caller, const char *request_id)
{
	size_t n = strlen(caller) + strlen(request_id) + 2;
	char *key = malloc(n);

	if (!key)
		abort();
	snprintf(key, n, "%s\x1f%s", caller, request_id);
	return key;
}

/* Puts a live lease into every index: by id, by request_id, the expiry
 * heap and its pool's grant-ordered list. */
static void lease_link(struct poold *pd, struct lease *l, struct resource *r)
{
	l->res = r;
	r->lease = l;
	hmap_put(&pd->leases, l->id, l);
	if (l->rid_key)
		hmap_put(&pd->request_ids, l->rid_key, l);
	l->heap_idx = SIZE_MAX;
	if (l->expires_at > 0)
		heap_push(pd, l);
	TAILQ_INSERT_TAIL(&r->pool->leases, l, pool_link);
	if (l->bind_conn)
		pd->nbound++;
}

static void lease_unlink(struct poold *pd, struct lease *l)
{
	struct resource *r = l->res;

	hmap_del(&pd->leases, l->id);
	if (l->rid_key)
		hmap_del(&pd->request_ids, l->rid_key);
	heap_remove(pd, l);
	TAILQ_REMOVE(&r->pool->leases, l, pool_link);
	if (l->bind_conn)
		pd->nbound--;
	r->lease = NULL;
	l->res = NULL;
}

void lease_attach(struct poold *pd, struct lease *l, struct resource *r)
{
	lease_link(pd, l, r);
	if (l->seq >= pd->next_seq)
		pd->next_seq = l->seq + 1;
}

void lease_attach_expired(struct poold *pd, struct lease *l)
{
	l->heap_idx = SIZE_MAX;
	hmap_put(&pd->expired, l->id, l);
	if (l->seq >= pd->next_seq)
		pd->next_seq = l->seq + 1;
}

/* ---- lease objects: kept for reuse ------------------------------------ */

/* Freed leases kept for lease_new(), with their text: a grant then costs
 * no malloc. Process-wide, like malloc's own free lists: they are memory,
 * not state. Bounded: more than SPARE_MAX ended at once go back to libc. */
#define SPARE_MAX 1024
static struct lease *spares[SPARE_MAX];
static size_t nspares;


static char *put_text(char **at, const char *s)
{
	char *start = *at;
	size_t n = strlen(s) + 1;

	memcpy(start, s, n);
	*at += n;
	return start;
}

struct lease *lease_new(const char *pool, const char *res_name,
			const char *owner, const char *caller,
			const char *request_id)
{
	size_t need = strlen(pool) + strlen(res_name) + strlen(owner) +
		strlen(caller) + 4 +
		(request_id ? 2 * strlen(request_id) + strlen(caller) + 3 : 0);
	struct lease *l;
	char *text = NULL, *at;
	size_t cap = 0;

	if (nspares > 0) {
		l = spares[--nspares];
		UNPOISON(l, sizeof *l);
		text = l->text;
		cap = l->text_cap;
		UNPOISON(text, cap);
	} else {
		l = xcalloc(1, sizeof *l);
	}
	if (need > cap) {
		cap = need < 128 ? 128 : need;
		free(text);
		text = xcalloc(1, cap);
	}
	memset(l, 0, sizeof *l);
	l->text = at = text;
	l->text_cap = cap;
	l->pool = put_text(&at, pool);
	l->res_name = put_text(&at, res_name);
	l->owner = put_text(&at, owner);
	l->caller = put_text(&at, caller);
	if (request_id) {
		l->request_id = put_text(&at, request_id);
		l->rid_key = at;
		at += sprintf(at, "%s\x1f%s", caller, request_id) + 1;
	}
	return l;
}

void lease_free(struct lease *l)
{
	if (!l)
		return;
	if (nspares == SPARE_MAX) {
		free(l->text);
		free(l);
		return;
	}
	POISON(l->text, l->text_cap);
	POISON(l, sizeof *l);
	spares[nspares++] = l;
}

void lease_spares_free(void)
{
	while (nspares > 0) {
		struct lease *l = spares[--nspares];

		UNPOISON(l, sizeof *l);
		free(l->text);
		free(l);
	}
}

/* ---- grant, end, renew ------------------------------------------------- */

int64_t lease_next_token(struct poold *pd)
{
	/* The counter is stored as the limit of a reserved block, moved up
	 * (in the batch of the grant that reaches it) once per TOKEN_BLOCK
	 * grants: a restart or a new leader starts at the stored limit, above
	 * every token given, and most commits write no meta row. */
	if (pd->next_token >= pd->token_limit) {
		pd->token_limit = pd->next_token + TOKEN_BLOCK;
		pd->token_dirty = true;
	}
	return pd->next_token++;
}

struct lease *lease_grant(struct poold *pd, struct resource *r,
			  const struct want *w, const struct caller *who,
			  double now)
{
	struct pool *p = r->pool;
	char owner[96];
	struct lease *l;

	INVARIANT(r->lease == NULL && (r->state == RS_FREE ||
				    r->state == RS_CREATING));
	if (who->uid == (uid_t)-1) /* a TCP caller: its token's name */
		snprintf(owner, sizeof owner, "%s", who->name);
	else
		snprintf(owner, sizeof owner, "uid:%u pid:%d",
			 (unsigned)who->uid, (int)who->pid);
	l = lease_new(p->name, r->name, w->owner ? w->owner : owner,
		      who->name, w->request_id);
	random_hex(l->id, 16);
	l->seq = pd->next_seq++;
	l->mode = w->mode;
	l->token = lease_next_token(pd);
	l->bind_conn = w->bind_conn;
	l->conn_id = who->conn_id;
	l->ttl = w->ttl;
	l->acquired_at = now;
	l->waited = w->waited;
	l->expires_at = w->ttl > 0 ? now + w->ttl : 0;
	l->deadline = now_mono() + w->ttl;
	lease_link(pd, l, r);
	r->last_used_at = now;
	r->lease_count++;
	resource_change(r, RS_LEASED, NULL);
	if (w->mode == MODE_POP)
		p->stats.leases++;
	else
		p->stats.checkouts++;
	journal_lease_saved(pd, l);
	journal_event(pd, w->mode == MODE_POP ? "leased" : "checked_out", p, r,
		      l);
	return l;
}

void lease_end(struct poold *pd, struct lease *l, enum lease_end how,
	       json_t *descriptor, bool discard, double now)
{
	struct resource *r = l->res;
	struct pool *p = r->pool;
	bool expired = how == END_EXPIRE;
	const char *event = expired ? "expired" : "returned";

	lease_unlink(pd, l);
	r->last_used_at = now;
	if (expired) {
		p->stats.expired++;
		discard = discard || p->set.on_expire == EXPIRE_DISCARD;
		l->expires_at = now;
		journal_lease_saved(pd, l); /* kept, with expired_at set */
	} else {
		if (how != END_REMOVED)
			p->stats.returns++;
		journal_lease_gone(pd, l);
	}
	if (how == END_REMOVED) {
		/* The caller takes the resource away itself. */
		json_decref(descriptor);
	} else if (discard || p->draining) {
		json_decref(descriptor);
		journal_event(pd, event, p, r, l);
		if (discard)
			journal_event(pd, "discarded", p, r, l);
		resource_destroy(r);
	} else if (pool_command(p, "reset")) {
		/* Clean before anyone else gets it (the flush starts the
		 * reset); then it is free. */
		resource_change(r, RS_CLEANING, descriptor);
		journal_event(pd, event, p, r, l);
	} else {
		resource_change(r, RS_FREE, descriptor);
		journal_event(pd, event, p, r, l);
	}
	if (expired)
		hmap_put(&pd->expired, l->id, l);
	else
		lease_free(l);
}

void lease_renew(struct poold *pd, struct lease *l, double ttl, double now)
{
	heap_remove(pd, l);
	l->ttl = ttl;
	l->expires_at = ttl > 0 ? now + ttl : 0;
	l->deadline = now_mono() + ttl;
	if (l->expires_at > 0)
		heap_push(pd, l);
	journal_lease_saved(pd, l);
	journal_event(pd, "renewed", l->res->pool, l->res, l);
}

bool lease_due(const struct lease *l)
{
	return l->expires_at > 0 && l->deadline <= now_mono();
}

void lease_expire_due(struct poold *pd, size_t max)
{
	for (; max > 0 && pd->heap_len > 0 && lease_due(pd->heap[0]); max--) {
		struct lease *l = pd->heap[0];

		lease_end(pd, l, END_EXPIRE, NULL, false, l->expires_at);
	}
}

void lease_end_conn(struct poold *pd, uint64_t conn_id, double now)
{
	struct lease **ends, *l;
	size_t n = 0, pos = 0;

	if (pd->nbound == 0)
		return;
	ends = xcalloc(pd->leases.len, sizeof *ends);
	while ((l = hmap_next(&pd->leases, &pos)))
		if (l->bind_conn && l->conn_id == conn_id)
			ends[n++] = l;
	for (size_t i = 0; i < n; i++)
		lease_end(pd, ends[i], END_CONN_CLOSED, NULL, false, now);
	free(ends);
}

struct lease *lease_by_request_id(struct poold *pd, const char *caller,
				  const char *request_id)
{
	char *key = request_id_key(caller, request_id);
	struct lease *l = hmap_get(&pd->request_ids, key);

	free(key);
	return l;
}

json_t *lease_to_json(const struct lease *l, bool show_id)
{
	char at[40];

	return json_pack("{s:o, s:s, s:s, s:o, s:I, s:s, s:s, s:s, s:o, s:o}",
			 "lease", show_id ? json_string(l->id) : json_null(),
			 "pool", l->pool,
			 "mode", l->mode == MODE_POP ? "pop" : "checkout",
			 "resource", resource_to_json(l->res),
			 "token", (json_int_t)l->token,
			 "owner", l->owner,
			 "bind", l->bind_conn ? "connection" : "none",
			 "acquired_at", time_rfc3339(l->acquired_at, at, sizeof at),
			 "expires_at", json_time(l->expires_at),
			 "ttl", json_seconds(l->ttl));
}
