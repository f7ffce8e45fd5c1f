/* state.c - see state.h. */
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs.h"
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
	free(pd->heap);
	pd->heap = NULL;
	pd->heap_cap = 0;
	hmap_free(&pd->waiting_ids);
}

/* What the previous run left half done; see state.h. */
static void recover(struct poold *pd, double now)
{
	struct lease **live = xcalloc(pd->leases.len + 1, sizeof *live);
	struct resource *r, *next;
	struct lease *l;
	struct pool *p;
	size_t n = 0, pos = 0;

	while ((l = hmap_next(&pd->leases, &pos)))
		live[n++] = l;
	for (size_t i = 0; i < n; i++) {
		l = live[i];
		if (l->bind_conn) {
			log_info("lease %s ends: its connection is gone",
				 l->id);
			lease_end(pd, l, END_CONN_CLOSED, NULL, false, now);
		} else if (l->expires_at > 0 && l->expires_at <= now) {
			log_info("lease %s expired while poold was down", l->id);
			lease_end(pd, l, END_EXPIRE, NULL, false, l->expires_at);
		}
	}
	free(live);
	pos = 0;
	while ((p = hmap_next(&pd->pools, &pos))) {
		for (r = TAILQ_FIRST(&p->lists[RS_CREATING]); r; r = next) {
			next = TAILQ_NEXT(r, link);
			log_warn("resource %s/%s was being created when poold "
				 "stopped: destroying it (its command may have "
				 "half-provisioned it)", p->name, r->name);
			resource_destroy(r);
		}
		TAILQ_FOREACH(r, &p->lists[RS_DESTROYING], link)
			log_warn("resource %s/%s was being destroyed when "
				 "poold stopped: destroying it again", p->name,
				 r->name);
		for (r = TAILQ_FIRST(&p->lists[RS_DESTROYING]); r; r = next) {
			next = TAILQ_NEXT(r, link);
			resource_destroy(r);
		}
		TAILQ_FOREACH(r, &p->lists[RS_CLEANING], link)
			log_warn("resource %s/%s was being reset when poold "
				 "stopped: resetting it again", p->name,
				 r->name);
		provision_pump(p);
	}
}

int state_load(struct poold *pd, char *err, size_t errlen)
{
	pd->next_seq = 1;
	if (store_load(pd->store, pd, err, errlen) < 0 ||
	    store_load_orphans(pd->store, pd, err, errlen) < 0)
		return -1;
	recover(pd, now_wall());
	if (store_commit(pd->store, err, errlen) < 0)
		return -1;
	jobs_launch(pd);
	log_info("loaded %zu pools and %zu live leases", pd->pools.len,
		 pd->leases.len);
	return 0;
}

void state_reload(struct poold *pd)
{
	struct waiter_list parked = TAILQ_HEAD_INITIALIZER(parked);
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
	pd->next_seq = 1;
	if (store_load(pd->store, pd, err, sizeof err) < 0) {
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
	log_warn("state reloaded from the database after a failed commit");
}
