/*
 * test_clock.c - a step of the wall clock moves no lease deadline: the
 * domain is driven with a fake clock (clock_fake() in util.c), whose wall
 * and monotonic readings a test steps apart, as NTP or an admin's `date`
 * would. Deadlines run on the monotonic clock; expires_at (wall) is only
 * stored and shown.
 *  - +1 h on the wall clock expires nothing early;
 *  - -1 h on the wall clock extends nothing;
 *  - a stored (wall-clock) expiry becomes the same time left at load.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "janitor.h"
#include "lease.h"
#include "log.h"
#include "options.h"
#include "pool.h"
#include "poold.h"
#include "reply.h"
#include "req.h"
#include "util.h"

#include "engine.h"

#define W0 1.8e9   /* the fake wall clock at the start (2027) */
#define M0 5000.0  /* the fake monotonic clock at the start */

static const struct caller alice = { .name = "uid:1001", .uid = 1001,
				     .pid = 42 };

/* A lease of ttl seconds on a new resource of a new pool, granted at the
 * fake clock's present; its id in id. */
static void grant(struct engine *e, double ttl, char *id, size_t idlen)
{
	struct pool_settings s;
	struct pool *p;
	struct resource *r;
	struct want w = { .mode = MODE_POP, .ttl = ttl };

	pool_settings_init(&s);
	p = pool_new(&e->pd, "p", &s, now_wall());
	pool_settings_clear(&s);
	r = resource_new(p, "a", json_object(), RS_FREE, now_wall());
	snprintf(id, idlen, "%s", lease_grant(&e->pd, r, &w, &alice,
					      now_wall())->id);
	reply_flush(&e->pd);
}

/* Sets both clocks to a step of the wall clock plus elapsed seconds, and
 * runs a janitor tick there. */
static void tick_at(struct engine *e, double wall_step, double elapsed)
{
	clock_fake(W0 + wall_step + elapsed, M0 + elapsed);
	janitor_run(&e->pd, now_wall());
	reply_flush(&e->pd);
}

static bool live(struct engine *e, const char *id)
{
	struct lease *l = hmap_get(&e->pd.leases, id);

	return l && l->res;
}

static void test_wall_clock_forward_step_expires_nothing_early(void **state)
{
	struct engine *e;
	char id[40];

	(void)state;
	clock_fake(W0, M0);
	e = engine_open();
	grant(e, 7200, id, sizeof id);
	tick_at(e, 3600, 1);       /* wall +1 h: 1 s of the 2 h have passed */
	assert_true(live(e, id));
	tick_at(e, 3600, 7199);    /* still within its 2 h */
	assert_true(live(e, id));
	tick_at(e, 3600, 7201);
	assert_false(live(e, id));
	assert_non_null(hmap_get(&e->pd.expired, id));
	engine_close(e);
	clock_real();
}

static void test_wall_clock_backward_step_extends_nothing(void **state)
{
	struct engine *e;
	char id[40];

	(void)state;
	clock_fake(W0, M0);
	e = engine_open();
	grant(e, 600, id, sizeof id);
	tick_at(e, -3600, 599);    /* wall -1 h */
	assert_true(live(e, id));
	tick_at(e, -3600, 601);    /* its 10 min are up, whatever the wall says */
	assert_false(live(e, id));
	engine_close(e);
	clock_real();
}

/* Across a restart the wall clock is all there is: a stored expiry 10 min
 * ahead is 10 min of monotonic time after the load. */
static void test_stored_expiry_becomes_a_monotonic_deadline(void **state)
{
	struct engine *e;
	char id[40], err[256];

	(void)state;
	clock_fake(W0, M0);
	e = engine_open();
	grant(e, 600, id, sizeof id);
	poold_close(&e->pd);
	clock_fake(W0 + 60, 100);  /* a reboot: the monotonic clock restarts */
	if (poold_open(&e->pd, err, sizeof err) < 0)
		fail_msg("%s", err);
	assert_true(live(e, id));
	clock_fake(W0 + 60 + 3600, 100 + 539); /* wall +1 h while running */
	janitor_run(&e->pd, now_wall());
	assert_true(live(e, id));
	clock_fake(W0 + 60 + 3600, 100 + 541);
	janitor_run(&e->pd, now_wall());
	reply_flush(&e->pd);
	assert_false(live(e, id));
	engine_close(e);
	clock_real();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wall_clock_forward_step_expires_nothing_early),
		cmocka_unit_test(test_wall_clock_backward_step_extends_nothing),
		cmocka_unit_test(test_stored_expiry_becomes_a_monotonic_deadline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
