/* state.c - see state.h. */
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "jobs.h"
#include "journal.h"
#include "jsonutil.h"
#include "lease.h"
#include "log.h"
#include "pool.h"
#include "provision.h"
#include "poold.h"
#include "store.h"
#include "util.h"
#include "wait.h"

static void free_leases(struct poold *pd)
{
	struct lease *l;
	struct pool *p;
	size_t pos = 0;

	while ((p = hmap_next(&pd->pools, &pos)))
		TAILQ_INIT(&p->leases);
	pos = 0;
	while ((l = hmap_next(&pd->leases, &pos))) {
		l->res->lease = NULL;
		lease_free(l);
	}
	pos = 0;
	while ((l = hmap_next(&pd->expired, &pos)))
		lease_free(l);
	hmap_free(&pd->leases);
	hmap_free(&pd->expired);
	hmap_free(&pd->request_ids);
	pd->heap_len = 0;
	pd->nbound = 0;
}

static void free_pools(struct poold *pd)
{
	struct pool *p;
	size_t pos = 0;

	/* pool_free() unlinks from pd->pools: restart the walk each time. */
	while ((p = hmap_next(&pd->pools, &pos))) {
		pool_free(p);
		pos = 0;
	}
	hmap_free(&pd->pools);
}

void state_free(struct poold *pd)
{
	wait_free_all(pd);
	free_leases(pd);
	free_pools(pd);
	lease_spares_free();
	free(pd->heap);
	pd->heap = NULL;
	pd->heap_cap = 0;
	hmap_free(&pd->waiting_ids);
	hmap_free(&pd->waiting_callers);
}

/* Ends the live leases for which end() is true. */
static void end_leases(struct poold *pd, double now,
		       bool (*end)(struct poold *, const struct lease *, double))
{
	struct lease **live = xcalloc(pd->leases.len + 1, sizeof *live);
	struct lease *l;
	size_t n = 0, pos = 0;

	while ((l = hmap_next(&pd->leases, &pos)))
		if (end(pd, l, now))
			live[n++] = l;
	for (size_t i = 0; i < n; i++) {
		l = live[i];
		if (lease_due(l)) {
			log_info("lease %s expired while it could not end",
				 l->id);
			lease_end(pd, l, END_EXPIRE, NULL, false, l->expires_at);
		} else {
			log_info("lease %s ends: its connection is gone",
				 l->id);
			lease_end(pd, l, END_CONN_CLOSED, NULL, false, now);
		}
	}
	free(live);
}

static bool ends_at_start(struct poold *pd, const struct lease *l, double now)
{
	return l->bind_conn || lease_due(l);
}

static bool conn_gone(struct poold *pd, const struct lease *l, double now)
{
	return l->bind_conn && !conn_id_open(pd, l->conn_id);
}

/* What the previous run left half done; see state.h. */
static void recover(struct poold *pd, double now)
{
	struct pool *p;
	size_t pos = 0;

	end_leases(pd, now, ends_at_start);
	while ((p = hmap_next(&pd->pools, &pos)))
		provision_repair(p, "when poold stopped");
}

/* ---- rows into objects ------------------------------------------------- */

/* What a load collects besides the objects: the orphans, resumed once
 * every row is in (never inside the row loop). */
struct loading {
	struct poold *pd;
	bool reload;              /* after a failed commit: tasks still run */
	json_t *orphans;          /* array of [id, pool, name, desc, cmd] */
};

static int load_meta(void *arg, const struct store_meta_row *row, char *err,
		     size_t errlen)
{
	struct loading *ld = arg;

	/* The stored value is the limit of the last block of tokens
	 * reserved (lease_next_token(); in a database of an older poold,
	 * the exact next token): every token committed is below it, so
	 * granting starts there. Gaps are allowed. */
	if (strcmp(row->key, "next_token") == 0)
		ld->pd->next_token = ld->pd->token_limit = row->value;
	return 0;
}

static int load_pool(void *arg, const struct store_pool_row *row, char *err,
		     size_t errlen)
{
	struct loading *ld = arg;
	json_t *o = json_loads(row->settings, 0, NULL);
	const char *state = json_string_value(json_object_get(o, "state"));
	struct pool_settings set;
	int rc;

	pool_settings_init(&set);
	rc = state ? pool_settings_apply(&set, o, err, errlen) : -1;
	if (rc == 0)
		pool_settings_clamp(&set, &ld->pd->cfg, row->name);
	if (rc == 0)
		pool_attach(ld->pd, row->name, &set,
			    strcmp(state, "draining") == 0,
			    json_is_true(json_object_get(o, "declared")),
			    row->created_at);
	else
		snprintf(err, errlen, "pool %s: stored settings unreadable",
			 row->name);
	pool_settings_clear(&set);
	json_decref(o);
	return rc;
}

static int load_resource(void *arg, const struct store_resource_row *row,
			 char *err, size_t errlen)
{
	struct loading *ld = arg;
	struct pool *p = pool_find(ld->pd, row->pool);
	enum res_state state;

	/* Only its shape is checked: parsing a million descriptors would
	 * slow every start; resource_descriptor() copes with a bad one. */
	if (!p || !row->descriptor || row->descriptor[0] != '{' ||
	    !row->state || res_state_parse(row->state, &state)) {
		snprintf(err, errlen, "resource %s/%s: stored row unreadable",
			 row->pool, row->name);
		return -1;
	}
	resource_attach(p, row->name, json_text_exact(row->descriptor), state,
			row->version, row->created_at, row->last_used_at,
			row->lease_count);
	return 0;
}

static int load_lease(void *arg, const struct store_lease_row *row,
		      char *err, size_t errlen)
{
	struct loading *ld = arg;
	struct lease *l = lease_new(row->pool, row->resource, row->owner,
				    row->caller, row->request_id);
	struct pool *p;
	struct resource *r;

	l->seq = row->seq;
	snprintf(l->id, sizeof l->id, "%s", row->id);
	l->mode = strcmp(row->mode, "pop") == 0 ? MODE_POP : MODE_CHECKOUT;
	l->token = row->token;
	l->bind_conn = strcmp(row->bind, "connection") == 0;
	l->conn_id = (uint64_t)row->conn_id;
	l->ttl = row->ttl;
	l->acquired_at = row->acquired_at;
	l->expires_at = row->expires_at;
	/* Stored wall-clock expiry -> a monotonic deadline, once: later
	 * steps of the wall clock move neither. */
	l->deadline = mono_deadline(l->expires_at);
	if (row->expired_at > 0) {
		l->expires_at = row->expired_at;
		lease_attach_expired(ld->pd, l);
		return 0;
	}
	p = pool_find(ld->pd, l->pool);
	r = p ? resource_find(p, l->res_name) : NULL;
	if (!r || r->state != RS_LEASED || r->lease) {
		snprintf(err, errlen, "lease %s: its resource %s/%s is not "
			 "leased to it", l->id, l->pool, l->res_name);
		lease_free(l);
		return -1;
	}
	lease_attach(ld->pd, l, r);
	return 0;
}

static int load_orphan(void *arg, const struct store_orphan_row *row,
		       char *err, size_t errlen)
{
	struct loading *ld = arg;
	json_t *cmd = json_loads(row->destroy, 0, NULL);

	if (!json_is_object(cmd)) {
		snprintf(err, errlen, "orphan %lld: its destroy command is "
			 "unreadable", (long long)row->id);
		json_decref(cmd);
		return -1;
	}
	if (!ld->reload)
		json_array_append_new(ld->orphans, json_pack("[I, s, s, s, o]",
			(json_int_t)row->id, row->pool, row->name,
			row->descriptor, cmd));
	else
		json_decref(cmd);
	return 0;
}

static int load_waiter(void *arg, const struct store_waiter_row *row,
		       char *err, size_t errlen)
{
	struct loading *ld = arg;

	/* After a failed commit the waiters in memory are kept as they are
	 * (wait_rehome): the rows are theirs. */
	return ld->reload ? 0 : wait_place_load(ld->pd, row);
}

static int load_rows(struct poold *pd, struct loading *ld, char *err,
		     size_t errlen)
{
	const struct store_loader loader = {
		.arg = ld, .meta = load_meta, .pool = load_pool,
		.resource = load_resource, .lease = load_lease,
		.orphan = load_orphan, .waiter = load_waiter,
	};

	ld->pd = pd;
	pd->next_seq = 1;
	return pd->store->ops->load(pd->store, &loader, err, errlen);
}

static void resume_orphans(struct poold *pd, json_t *orphans)
{
	size_t i;
	json_t *o;

	json_array_foreach(orphans, i, o)
		provision_orphan_resume(pd,
			json_integer_value(json_array_get(o, 0)),
			json_string_value(json_array_get(o, 1)),
			json_string_value(json_array_get(o, 2)),
			json_string_value(json_array_get(o, 3)),
			json_array_get(o, 4));
}

/* At start-up, another process may hold the database's lock a while. */
static int commit_waiting(struct poold *pd, char *err, size_t errlen)
{
	double deadline = now_mono() + 10;
	int rc;

	while ((rc = journal_commit(pd, err, errlen)) == STORE_BUSY &&
	       now_mono() < deadline)
		usleep(20000);
	if (rc != STORE_OK)
		journal_drop(pd);
	return rc == STORE_OK ? 0 : -1;
}

int state_load(struct poold *pd, char *err, size_t errlen)
{
	struct loading ld = { .orphans = json_array() };

	if (load_rows(pd, &ld, err, errlen) < 0) {
		json_decref(ld.orphans);
		return -1;
	}
	resume_orphans(pd, ld.orphans);
	json_decref(ld.orphans);
	recover(pd, now_wall());
	if (commit_waiting(pd, err, errlen) < 0)
		return -1;
	journal_deliver(pd);
	jobs_seal(pd);
	jobs_launch(pd);
	log_info("loaded %zu pools and %zu live leases", pd->pools.len,
		 pd->leases.len);
	return 0;
}

void state_reload(struct poold *pd)
{
	struct waiter_list parked = TAILQ_HEAD_INITIALIZER(parked);
	struct loading ld = { .reload = true };
	struct hmap saved;
	struct pool *p;
	struct counters *c;
	char err[256];
	size_t pos = 0;

	/* Waiters and counters are memory-only: park them by pool name. */
	hmap_init(&saved);
	while ((p = hmap_next(&pd->pools, &pos))) {
		c = xcalloc(1, sizeof *c + strlen(p->name) + 1);
		*c = p->stats;
		strcpy((char *)(c + 1), p->name);
		hmap_put(&saved, (char *)(c + 1), c);
		wait_detach(p, &parked);
	}
	free_leases(pd);
	free_pools(pd);
	if (load_rows(pd, &ld, err, sizeof err) < 0) {
		log_error("cannot reload the state after a failed commit: %s; "
			  "exiting (a restart recovers from the database)", err);
		exit(1);
	}
	pos = 0;
	while ((c = hmap_next(&saved, &pos))) {
		p = pool_find(pd, (char *)(c + 1));
		if (p)
			p->stats = *c;
		free(c);
	}
	hmap_free(&saved);
	wait_rehome(pd, &parked);
	/* What the failed batch did outside the database happened anyway:
	 * connections closed, commands ended. */
	end_leases(pd, now_wall(), conn_gone);
	pos = 0;
	while ((p = hmap_next(&pd->pools, &pos))) {
		provision_repair(p, "when a commit failed");
		journal_ready(p);
	}
	log_warn("state reloaded from the database after a failed commit");
}
