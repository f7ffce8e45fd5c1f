/*
 * test_tokens.c - fencing tokens are reserved in blocks (lease.c,
 * lease_next_token()): meta's next_token is the limit of the block and is
 * written only by the batch whose grant reaches it. Tokens still strictly
 * increase across a clean restart and a kill -9, since a restart starts at
 * the stored limit.
 */
#include "../h_pgstore.h"
#include "harness.h"
#include "h_sqlite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 1024 /* TOKEN_BLOCK of lease.h */

/* Leases and returns once on pool p: the token granted. */
static long long cycle(pool_client *c)
{
	json_t *l = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	long long token = JINT(l, "token");

	json_decref(CALL_OK(c, "return", J("{s:s}", "lease", JSTR(l, "lease"))));
	json_decref(l);
	return token;
}

/* n cycles, each token above the last; returns the last. */
static long long rising(pool_client *c, long long last, int n)
{
	for (int i = 0; i < n; i++) {
		long long t = cycle(c);

		if (t <= last)
			fail_msg("token %lld after %lld", t, last);
		last = t;
	}
	return last;
}

/* meta's next_token as stored (the live database, read-only). */
static long long stored_limit(poold_proc *d)
{
	struct h_sqlite s;
	char err[512], out[64];

	if (h_pg_mode()) {
		assert_int_equal(h_pg_sql(d->dir, "SELECT value FROM meta WHERE key = "
					  "'next_token'", out, sizeof out), 0);
		return atoll(out);
	}
	if (h_sqlite_open(&s, d->db, err, sizeof err) < 0 ||
	    h_sqlite_scalar(&s, "SELECT value FROM meta WHERE key = 'next_token'", out,
			    sizeof out, err, sizeof err) < 0)
		fail_msg("%s", err);
	h_sqlite_close(&s);
	return atoll(out);
}

static void test_tokens_rise_across_restart_and_kill9(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	long long last;

	(void)state;
	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", "r2", NULL);
	last = rising(c, 0, 5);
	pool_close(c);
	poold_term_restart(d);
	c = h_connect(d);
	last = rising(c, last, 5);
	pool_close(c);
	poold_kill9_restart(d);
	c = h_connect(d);
	/* across a block's end, then killed within the next block */
	last = rising(c, last, BLOCK + 10);
	pool_close(c);
	poold_kill9_restart(d);
	c = h_connect(d);
	rising(c, last, 5);
	pool_close(c);
	poold_stop(d);
}

static void test_meta_written_once_per_block(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	long long first, limit, t;

	(void)state;
	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);
	first = cycle(c);
	limit = stored_limit(d);
	/* the first grant reserved a block above it */
	assert_true(limit > first);
	assert_int_equal(limit, first + BLOCK);
	/* grants below the limit leave the stored value alone (looked at
	 * every 64 grants: a read per grant would be slow on PostgreSQL) */
	for (t = first; t < limit - 1; t = cycle(c))
		if (t % 64 == 0)
			assert_int_equal(stored_limit(d), limit);
	assert_int_equal(stored_limit(d), limit);
	assert_int_equal(t, limit - 1);
	/* the grant of the limit itself moves it a block up */
	assert_int_equal(cycle(c), limit);
	assert_int_equal(stored_limit(d), limit + BLOCK);
	pool_close(c);
	poold_stop(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_tokens_rise_across_restart_and_kill9),
		FTEST(test_meta_written_once_per_block),
	};

	return RUN_FTESTS(tests);
}
