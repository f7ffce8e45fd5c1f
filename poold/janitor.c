/* janitor.c - see janitor.h. Each task is a small function; none scans
 * more than it trims or creates, so a tick costs little on large pools. */
#include "janitor.h"

#include <event2/event.h>
#include <stdlib.h>

#include "lease.h"
#include "log.h"
#include "pool.h"
#include "pool_protocol.h"
#include "poold.h"
#include "journal.h"
#include "provision.h"
#include "reply.h"
#include "store.h"
#include "util.h"
#include "wait.h"

#define PURGE_EVERY 60.0 /* seconds between sweeps of old expired ids */
#define PRUNE_EVERY 1.0 /* seconds between steps of history pruning */
#define CHECKPOINT_EVERY 1.0 /* seconds between WAL checkpoints */
/* The most of each kind of work one tick does, in all pools together: what
 * is left waits for the next tick (0.1 s later), so that the loop answers
 * requests and signals between ticks however much work is due. */
#define TICK_CREATES 256   /* builtin resources made or create commands started */
#define TICK_TRIMS 256     /* idle resources destroyed */
#define TICK_EXPIRIES 4096 /* leases expired */

static double idle_since(const struct resource *r)
{
	return r->last_used_at > 0 ? r->last_used_at : r->created_at;
}

/* Free resources above max_idle, and those idle longer than idle_ttl while
 * more than min_idle are free, are destroyed, longest idle first. The free
 * list is in the order resources became free, so its head is the oldest. */
static void trim_idle(struct pool *p, double now, int *budget)
{
	struct resource *r;

	while (*budget > 0 && (r = TAILQ_FIRST(&p->lists[RS_FREE]))) {
		int64_t nfree = (int64_t)p->count[RS_FREE];
		bool over = p->set.max_idle > 0 && nfree > p->set.max_idle;
		bool stale = p->set.idle_ttl > 0 && nfree > p->set.min_idle &&
			     now - idle_since(r) >= p->set.idle_ttl;

		if (!over && !stale)
			break;
		log_info("pool %s: destroying idle resource %s", p->name,
			 r->name);
		resource_destroy(r);
		--*budget;
	}
}

/* Creates until free + creating >= min_idle: at once with the builtin
 * creator, by starting create commands (within max_concurrent) otherwise. */
static void fill_min_idle(struct pool *p, double now, int *budget)
{
	char name[POOL_RESOURCE_NAME_MAX + 1];

	for (; *budget > 0 && (int64_t)(p->count[RS_FREE] +
					p->count[RS_CREATING]) <
	       p->set.min_idle && pool_can_grow(p); --*budget) {
		if (pool_command(p, "create")) {
			if (!provision_can_create(p))
				break;
			provision_create(p, now);
			continue;
		}
		resource_name_generate(p, name, sizeof name);
		resource_new(p, name, json_pack("{s:s}", "name", name),
			     RS_FREE, now);
		p->stats.created++;
	}
}

static int by_expiry(const void *a, const void *b)
{
	double x = (*(struct lease *const *)a)->expires_at;
	double y = (*(struct lease *const *)b)->expires_at;

	return (x > y) - (x < y);
}

/* Expired lease ids are remembered (to answer "expired", not "not_found")
 * for expired_keep seconds, and never more than expired_max of them: under
 * a storm of expiries the oldest are forgotten first. */
static void purge_expired(struct poold *pd, double now)
{
	double before = now - pd->cfg.expired_keep;
	struct lease **all = xcalloc(pd->expired.len + 1, sizeof *all), *l;
	size_t pos = 0, n = 0, gone = 0, max = pd->cfg.expired_max;

	while ((l = hmap_next(&pd->expired, &pos)))
		all[n++] = l;
	if (n > max) {
		qsort(all, n, sizeof *all, by_expiry);
		if (all[n - max]->expires_at > before)
			before = all[n - max]->expires_at;
	}
	for (size_t i = 0; i < n; i++) {
		if (all[i]->expires_at >= before)
			continue;
		hmap_del(&pd->expired, all[i]->id);
		lease_free(all[i]);
		gone++;
	}
	free(all);
	if (gone > 0)
		journal_leases_purge(pd, before);
}

/* History goes a bounded step at a time, so that no tick stalls the loop:
 * once a second, or at every tick while a backlog remains. */
static void prune_history(struct poold *pd, double now)
{
	const struct config *cfg = &pd->cfg;

	if ((cfg->history_max_age == 0 && cfg->history_max_rows == 0) ||
	    (!journal_prune_behind(pd) && now - pd->last_prune < PRUNE_EVERY))
		return;
	pd->last_prune = now;
	journal_history_prune(pd, cfg->history_max_age > 0 ?
			      now - cfg->history_max_age : 0,
			      cfg->history_max_rows);
}

/* The next pool after *pos, round the table. */
static struct pool *next_pool(struct poold *pd, size_t *pos)
{
	struct pool *p = hmap_next(&pd->pools, pos);

	if (!p) {
		*pos = 0;
		p = hmap_next(&pd->pools, pos);
	}
	return p;
}

void janitor_run(struct poold *pd, double now)
{
	size_t pos = pd->janitor_pos, n = pd->pools.len;
	int creates = TICK_CREATES, trims = TICK_TRIMS;

	lease_expire_due(pd, TICK_EXPIRIES);
	/* Each pool once, starting where the last tick's budget ran out: a
	 * pool filling a large min_idle does not starve the others. */
	for (size_t i = 0; i < n; i++) {
		struct pool *p = next_pool(pd, &pos);

		if (p->draining)
			continue;
		trim_idle(p, now, &trims);
		fill_min_idle(p, now, &creates);
		if (creates == 0 || trims == 0) {
			pd->janitor_pos = pos;
			break;
		}
	}
	provision_destroy_pump(pd); /* slots a cancelled destroy freed */
	if (now - pd->last_purge >= PURGE_EVERY) {
		purge_expired(pd, now);
		pd->last_purge = now;
	}
	prune_history(pd, now);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct poold *pd = arg;

	double now = now_wall();

	janitor_run(pd, now);
	if (now - pd->last_checkpoint < CHECKPOINT_EVERY) {
		reply_later(pd);
		return;
	}
	/* Between batches: a checkpoint that meets no writer backfills the
	 * whole WAL, so the next commit starts it over from the beginning
	 * (one made beside a busy writer never catches up, and the WAL grows
	 * for as long as the load lasts). An fsync of --sync full under way
	 * is not waited for: the checkpoint syncs the WAL first itself. */
	reply_commit(pd);
	pd->store->ops->checkpoint(pd->store);
	pd->last_checkpoint = now;
}

void janitor_start(struct poold *pd)
{
	struct timeval tv = { 0, (suseconds_t)(pd->cfg.tick * 1e6) };

	pd->tick_ev = event_new(pd->base, -1, EV_PERSIST, on_tick, pd);
	event_add(pd->tick_ev, &tv);
}

void janitor_stop(struct poold *pd)
{
	if (pd->tick_ev)
		event_free(pd->tick_ev);
	pd->tick_ev = NULL;
}
