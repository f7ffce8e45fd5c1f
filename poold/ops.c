/* ops.c - helpers shared by several op-*.c handlers. */
#include "ops.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"

#include "journal.h"
#include "pool.h"
#include "pool_protocol.h"
#include "poold.h"
#include "provision.h"
#include "store.h"
#include "util.h"
#include "wait.h"

struct pool *op_pool(struct req *r)
{
	const char *name = req_str(r, "pool");
	struct pool *p = pool_find(r->pd, name);

	if (!p)
		req_fail(r, POOL_ERR_NOT_FOUND, "no pool %s (pool.list shows "
			 "the pools; an admin creates one with pool.create)",
			 name);
	return p;
}

struct resource *op_resource(struct req *r, struct pool *p)
{
	const char *name = req_str(r, "name");
	struct resource *res = resource_find(p, name);

	if (!res)
		req_fail(r, POOL_ERR_NOT_FOUND, "pool %s has no resource %s",
			 p->name, name);
	return res;
}

/* A match is bounded in keys and bytes: every waiter that holds one is
 * tested against every resource that comes free. */
static int match_check(struct req *r, json_t *match)
{
	const struct config *cfg = &r->pd->cfg;
	size_t keys = json_object_size(match);
	size_t bytes = json_dumpb(match, NULL, 0, JSON_COMPACT);

	if (keys > (size_t)cfg->max_match_keys) {
		req_fail(r, POOL_ERR_BAD_REQUEST, "match has %zu keys; the "
			 "limit is %d (--max-match-keys): select on fewer",
			 keys, cfg->max_match_keys);
		return -1;
	}
	if (bytes > cfg->max_match_bytes) {
		req_fail(r, POOL_ERR_BAD_REQUEST, "match is %zu bytes as "
			 "compact JSON; the limit is %zu (--max-match-bytes)",
			 bytes, cfg->max_match_bytes);
		return -1;
	}
	return 0;
}

/* Fills w from a lease or checkout request. 0, or -1 after answering. */
static int op_want(struct req *r, const struct pool *p, enum lease_mode mode,
		   struct want *w)
{
	const char *bind = req_str(r, "bind");
	const char *rid = req_str(r, "request_id");
	const char *owner = req_str(r, "owner");
	char why[200];

	memset(w, 0, sizeof *w);
	w->mode = mode;
	w->name = req_str(r, "name");
	w->match = req_get(r, "match");
	w->ttl = req_num(r, "ttl", p->set.lease_ttl);
	w->wait = req_num(r, "wait", 0);
	w->owner = owner;
	w->request_id = rid;
	if (bind && strcmp(bind, "none") != 0 &&
	    strcmp(bind, "connection") != 0) {
		req_fail(r, POOL_ERR_BAD_REQUEST, "field \"bind\" must be "
			 "\"none\" or \"connection\"");
		return -1;
	}
	w->bind_conn = bind && strcmp(bind, "connection") == 0;
	if (rid && (strlen(rid) < 1 || strlen(rid) > POOL_REQUEST_ID_MAX)) {
		req_fail(r, POOL_ERR_BAD_REQUEST, "field \"request_id\" must "
			 "be 1-%d characters", POOL_REQUEST_ID_MAX);
		return -1;
	}
	if (owner && strlen(owner) > 256) {
		req_fail(r, POOL_ERR_BAD_REQUEST, "field \"owner\" must be at "
			 "most 256 characters");
		return -1;
	}
	if (pool_ttl_check(&p->set, w->ttl, "ttl", why, sizeof why) < 0) {
		req_fail(r, POOL_ERR_BAD_REQUEST, "%s", why);
		return -1;
	}
	if (w->match && match_check(r, w->match) < 0)
		return -1;
	if (w->name && w->match) {
		req_fail(r, POOL_ERR_BAD_REQUEST, "give \"name\" or \"match\", "
			 "not both");
		return -1;
	}
	return 0;
}

enum req_status op_take(struct req *r, enum lease_mode mode)
{
	struct pool *p = op_pool(r);
	struct want w;

	if (!p || op_want(r, p, mode, &w) < 0)
		return REQ_DONE;
	return lease_request(r, p, &w);
}

enum req_status op_give_back(struct req *r, struct lease *l)
{
	lease_end(r->pd, l, END_RETURN, json_incref(req_get(r, "descriptor")),
		  req_bool(r, "discard", false), r->now);
	req_ok_text(r, "{}", 2);
	return REQ_DONE;
}

int op_limit(struct req *r)
{
	int64_t limit = req_int(r, "limit", POOL_DEFAULT_LIST_LIMIT);

	if (limit < 1 || limit > 100000) {
		req_fail(r, POOL_ERR_BAD_REQUEST, "field \"limit\" must be "
			 "1-100000");
		return -1;
	}
	return (int)limit;
}

int op_after_seq(struct req *r, int64_t *after)
{
	json_t *v = req_get(r, "after");
	const char *s;
	char *end;

	*after = 0;
	if (!v || json_is_null(v))
		return 0;
	s = json_string_value(v);
	if (s && *s >= '0' && *s <= '9') {
		errno = 0;
		*after = strtoll(s, &end, 10);
		/* strtoll saturates an overflowing cursor at INT64_MAX: that
		 * is no cursor this daemon gave out. */
		if (*end == '\0' && errno == 0)
			return 0;
	}
	req_fail(r, POOL_ERR_BAD_REQUEST, "field \"after\" must be the "
		 "\"next\" cursor of the previous page");
	return -1;
}

size_t op_page_bytes(const struct req *r)
{
	return r->pd->cfg.max_output / 2;
}

static int by_name(const void *a, const void *b)
{
	const struct pool *pa = *(struct pool *const *)a;
	const struct pool *pb = *(struct pool *const *)b;

	return strcmp(pa->name, pb->name);
}

struct pool **op_pools_sorted(struct poold *pd, size_t *n)
{
	struct pool **all = xcalloc(pd->pools.len + 1, sizeof *all);
	struct pool *p;
	size_t pos = 0;

	*n = 0;
	while ((p = hmap_next(&pd->pools, &pos)))
		all[(*n)++] = p;
	qsort(all, *n, sizeof *all, by_name);
	return all;
}

void op_pool_start_drain(struct pool *p)
{
	struct resource *r;

	p->draining = true;
	pool_save(p);
	wait_fail_all(p, POOL_ERR_DRAINING, "the pool is draining: it hands "
		      "out no new leases");
	while ((r = TAILQ_FIRST(&p->lists[RS_FREE])))
		resource_destroy(r);
}

int op_check_version(struct req *r, const struct resource *res)
{
	int64_t v = req_int(r, "version", 0);

	if (v == res->version)
		return 0;
	req_fail(r, POOL_ERR_CONFLICT, "version %lld is not the current "
		 "version %lld of resource %s; read it again and retry",
		 (long long)v, (long long)res->version, res->name);
	return -1;
}

struct lease *lease_for_request(struct req *r, const char *id)
{
	struct poold *pd = r->pd;
	struct lease *l = hmap_get(&pd->leases, id);
	char when[40];

	if (l && l->res && lease_due(l))
		lease_end(pd, l, END_EXPIRE, NULL, false, l->expires_at);
	if (!l || !l->res) {
		l = hmap_get(&pd->expired, id);
		if (l)
			req_fail(r, POOL_ERR_EXPIRED, "lease %s expired at %s "
				 "(its TTL ran out); take a new lease", id,
				 time_rfc3339(l->expires_at, when, sizeof when));
		else
			req_fail(r, POOL_ERR_NOT_FOUND, "no lease %s: it was "
				 "returned, its pool or resource was removed, "
				 "or it never existed", id);
		return NULL;
	}
	if (strcmp(l->caller, r->who.name) != 0 && !r->who.admin) {
		req_fail(r, POOL_ERR_FORBIDDEN, "lease %s belongs to %s; only "
			 "its holder or an admin may act on it", id, l->caller);
		return NULL;
	}
	return l;
}

int op_page_sync(struct req *r)
{
	char err[256];
	int rc;

	/* With nothing of the batch unwritten, the committed rows are all
	 * there is: read them outside a transaction, so that a page needs no
	 * write lock (another process may hold it) and costs no commit. */
	if (!journal_pending(r->pd))
		return 0;
	rc = journal_write(r->pd, err, sizeof err);

	if (rc == STORE_OK)
		return 0;
	req_fail(r, POOL_ERR_INTERNAL, "could not read the database (%s); "
		 "retry", rc == STORE_BUSY ? "another process holds its lock" :
		 err);
	return -1;
}
