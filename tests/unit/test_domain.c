/*
 * test_domain.c - unit tests of the journal and the flush: pool and lease logic driven
 * directly (no socket, no client) against a temporary SQLite store, and a
 * store whose commit fails or whose lock is held, put in through the store
 * interface.
 *  - the domain writes nothing itself: rows and history appear at the
 *    commit, all at once;
 *  - a failed commit leaves memory as the database, with no history;
 *  - a busy store keeps the batch and commits it once the lock is free;
 *  - a returned resource marks its pool ready for the flush;
 *  - the janitor prunes history by rows and by age.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "janitor.h"
#include "journal.h"
#include "lease.h"
#include "log.h"
#include "options.h"
#include "pool.h"
#include "poold.h"
#include "reply.h"
#include "req.h"
#include "store.h"
#include "util.h"

#include "engine.h"

/* ---- counting what the store holds ----------------------------------------- */

struct counts {
	int pools, resources, leases;
};

static int count_pool(void *arg, const struct store_pool_row *row, char *err,
		      size_t errlen)
{
	((struct counts *)arg)->pools++;
	return 0;
}

static int count_resource(void *arg, const struct store_resource_row *row,
			  char *err, size_t errlen)
{
	((struct counts *)arg)->resources++;
	return 0;
}

static int count_lease(void *arg, const struct store_lease_row *row, char *err,
		       size_t errlen)
{
	((struct counts *)arg)->leases += row->expired_at == 0;
	return 0;
}

static int count_other(void *arg, const void *row, char *err, size_t errlen)
{
	return 0;
}

static struct counts stored(struct engine *e)
{
	struct counts c = { 0 };
	struct store_loader ld = {
		.arg = &c, .pool = count_pool, .resource = count_resource,
		.lease = count_lease,
		.meta = (int (*)(void *, const struct store_meta_row *, char *,
				 size_t))count_other,
		.orphan = (int (*)(void *, const struct store_orphan_row *,
				   char *, size_t))count_other,
	};
	char err[256];

	assert_int_equal(e->pd.store->ops->load(e->pd.store, &ld, err,
						sizeof err), 0);
	return c;
}

struct hist {
	char events[32][24];
	char callers[32][48];
	int n;
};

static int add_hist(void *arg, const struct store_history_row *row)
{
	struct hist *h = arg;

	if (h->n < 32) {
		snprintf(h->events[h->n], sizeof h->events[0], "%s", row->event);
		snprintf(h->callers[h->n], sizeof h->callers[0], "%s",
			 row->caller ? row->caller : "");
		h->n++;
	}
	return 0;
}

static struct hist history(struct engine *e)
{
	struct store_history_filter f = { .limit = 100 };
	struct hist h = { .n = 0 };
	char err[256];

	assert_true(e->pd.store->ops->history_query(e->pd.store, &f, add_hist,
						    &h, err, sizeof err) >= 0);
	return h;
}

/* ---- the domain, as a handler would drive it ------------------------------- */

static const struct caller alice = { .name = "uid:1001", .uid = 1001,
				     .pid = 42 };

static struct pool *make_pool(struct engine *e, const char *name,
			      int64_t max_size)
{
	struct pool_settings s;
	struct pool *p;

	pool_settings_init(&s);
	s.max_size = max_size;
	p = pool_new(&e->pd, name, &s, now_wall());
	pool_settings_clear(&s);
	return p;
}

static struct lease *take(struct engine *e, struct resource *r)
{
	struct want w = { .mode = MODE_POP };

	return lease_grant(&e->pd, r, &w, &alice, now_wall());
}

/* ---- a store that fails on demand ----------------------------------------- */

static struct store_ops flaky;
static int busy_left, fail_commits;

static int flaky_begin(struct store *st, char *err, size_t errlen)
{
	if (busy_left > 0) {
		busy_left--;
		snprintf(err, errlen, "locked");
		return STORE_BUSY;
	}
	return store_sqlite_ops.begin(st, err, errlen);
}

static int flaky_commit(struct store *st, char *err, size_t errlen)
{
	if (fail_commits > 0) {
		fail_commits--;
		store_sqlite_ops.rollback(st);
		snprintf(err, errlen, "disk I/O error (injected)");
		return STORE_ERROR;
	}
	return store_sqlite_ops.commit(st, err, errlen);
}

static void make_flaky(struct engine *e)
{
	flaky = store_sqlite_ops;
	flaky.begin = flaky_begin;
	flaky.commit = flaky_commit;
	busy_left = fail_commits = 0;
	e->pd.store->ops = &flaky;
}

/* ---- tests ----------------------------------------------------------------- */

static void test_rows_and_history_at_the_commit(void **state)
{
	struct engine *e = engine_open();
	struct pool *p = make_pool(e, "p", 0);
	struct resource *r;
	struct counts c;
	struct hist h;
	char err[256];

	resource_new(p, "a", json_object(), RS_FREE, now_wall());
	r = resource_new(p, "b", json_object(), RS_FREE, now_wall());
	journal_actor(&e->pd, alice.name);
	take(e, r);
	journal_actor(&e->pd, NULL);
	/* Nothing is in the store before the commit. */
	c = stored(e);
	assert_int_equal(c.pools + c.resources + c.leases, 0);
	assert_int_equal(history(e).n, 0);
	assert_true(journal_pending(&e->pd));
	assert_int_equal(journal_commit(&e->pd, err, sizeof err), STORE_OK);
	journal_deliver(&e->pd);
	c = stored(e);
	assert_int_equal(c.pools, 1);
	assert_int_equal(c.resources, 2);
	assert_int_equal(c.leases, 1);
	h = history(e);
	assert_int_equal(h.n, 4);
	assert_string_equal(h.events[0], "pool_changed");
	assert_string_equal(h.events[1], "created");
	assert_string_equal(h.events[3], "leased");
	assert_string_equal(h.callers[3], "uid:1001");
	assert_false(journal_pending(&e->pd));
	engine_close(e);
}

static void test_failed_commit_leaves_the_database(void **state)
{
	struct engine *e = engine_open();
	struct pool *p = make_pool(e, "p", 0);
	struct resource *r;

	r = resource_new(p, "a", json_object(), RS_FREE, now_wall());
	reply_flush(&e->pd);
	make_flaky(e);
	take(e, r);
	assert_int_equal(e->pd.leases.len, 1);
	fail_commits = 1;
	reply_flush(&e->pd);
	/* Memory is the database again: no lease, the resource free. */
	assert_int_equal(e->pd.leases.len, 0);
	p = pool_find(&e->pd, "p");
	assert_int_equal(p->count[RS_FREE], 1);
	assert_int_equal(stored(e).leases, 0);
	assert_int_equal(history(e).n, 2); /* pool_changed, created */
	assert_false(journal_pending(&e->pd));
	engine_close(e);
}

static void test_busy_store_keeps_the_batch(void **state)
{
	struct engine *e = engine_open();
	struct pool *p = make_pool(e, "p", 0);
	struct resource *r = resource_new(p, "a", json_object(), RS_FREE,
					  now_wall());

	reply_flush(&e->pd);
	make_flaky(e);
	take(e, r);
	busy_left = 3;
	reply_flush(&e->pd);
	/* Not committed, not lost: the flush tries again from a timer. */
	assert_true(journal_pending(&e->pd));
	assert_int_equal(stored(e).leases, 0);
	while (journal_pending(&e->pd))
		reply_turn(&e->pd, EVLOOP_ONCE);
	assert_int_equal(busy_left, 0);
	assert_int_equal(stored(e).leases, 1);
	assert_int_equal(e->pd.leases.len, 1);
	engine_close(e);
}

/* A returned resource is marked ready; the flush serves ready pools only
 * after the commit of the return. */
static void test_return_marks_ready(void **state)
{
	struct engine *e = engine_open();
	struct pool *p = make_pool(e, "p", 1);
	struct resource *r = resource_new(p, "a", json_object(), RS_FREE,
					  now_wall());
	struct lease *l;

	l = take(e, r);
	reply_flush(&e->pd);
	assert_false(journal_has_ready(&e->pd));
	lease_end(&e->pd, l, END_RETURN, NULL, false, now_wall());
	assert_true(journal_has_ready(&e->pd));
	assert_int_equal(p->count[RS_FREE], 1);
	reply_flush(&e->pd);
	assert_false(journal_has_ready(&e->pd));
	assert_int_equal(stored(e).leases, 0);
	engine_close(e);
}

/* The janitor prunes history to --history-max-rows, a bounded step per
 * tick, never the newest row; and by age. */
static void test_history_pruned(void **state)
{
	struct engine *e = engine_open();
	struct pool *p = make_pool(e, "p", 0);
	char name[16];
	double now = now_wall();
	struct hist h;

	for (int i = 0; i < 30; i++) {
		snprintf(name, sizeof name, "r%d", i);
		resource_new(p, name, json_object(), RS_FREE, now);
	}
	reply_flush(&e->pd);
	assert_int_equal(history(e).n, 31);
	e->pd.cfg.history_max_rows = 10;
	janitor_run(&e->pd, now + 2);
	reply_flush(&e->pd);
	h = history(e);
	assert_int_equal(h.n, 10);
	assert_string_equal(h.events[9], "created");
	/* All older than max_age: everything but the newest goes. */
	e->pd.cfg.history_max_age = 60;
	janitor_run(&e->pd, now + 120);
	reply_flush(&e->pd);
	assert_int_equal(history(e).n, 1);
	engine_close(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_and_history_at_the_commit),
		cmocka_unit_test(test_failed_commit_leaves_the_database),
		cmocka_unit_test(test_busy_store_keeps_the_batch),
		cmocka_unit_test(test_return_marks_ready),
		cmocka_unit_test(test_history_pruned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
