/*
 * test_follow.c - clients given several endpoints go to the leader
 * (docs/ha.md, "What each client does"): libpool and poolctl with
 * "standby,leader" are served by the leader; a client with one endpoint sees
 * not_leader as its own code; reads go on after a SIGKILL of the leader; a
 * `poolctl lease --wait` waiting on the leader keeps waiting across its
 * SIGKILL and gets its lease from the new one; a change whose answer was lost
 * is not sent again. Runs with POOL_TEST_STORE (scripts/pg-test.sh); skipped
 * otherwise.
 */
#include "../h_pgstore.h"
#include "h_cli.h"
#include "h_files.h"
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAILOVER "1" /* --failover-timeout: a takeover after ~0.7 s */

static void need_pg(void)
{
	if (!h_pg_mode())
		skip(); /* run by scripts/test under scripts/pg-test.sh */
}

/* The leader A and a standby B on A's store, with pool p of max_size 1 and
 * its one resource r1. */
static void start_pair(poold_proc **a, poold_proc **b)
{
	pool_client *c;

	*a = poold_start("--failover-timeout", FAILOVER, NULL);
	WAIT_UNTIL(strcmp(poold_role(*a), "leader") == 0, 30);
	*b = poold_start_peer(*a, "--failover-timeout", FAILOVER, NULL);
	assert_string_equal(poold_role(*b), "standby");
	c = h_connect(*a);
	h_pool(c, "p", "{\"max_size\": 1}");
	h_add(c, "p", "r1", NULL);
	pool_close(c);
}

static void stop_pair(poold_proc *a, poold_proc *b)
{
	poold_stop(b);
	poold_stop(a);
}

/* The waiters of p as the leader d counts them. */
static json_int_t waiters(poold_proc *d)
{
	pool_client *c = h_connect(d);
	json_t *p = CALL_OK(c, "pool.get", J("{s:s}", "pool", "p"));
	json_int_t n = JINT(JOBJ(p, "occupancy"), "waiters");

	json_decref(p);
	pool_close(c);
	return n;
}

static void test_libpool_follows_not_leader(void **state)
{
	poold_proc *a, *b;
	char both[700];
	pool_client *c;
	pool_error err;
	pool_lease *l;

	need_pg();
	start_pair(&a, &b);
	/* One endpoint, the standby: not_leader is its own code, not followed. */
	c = pool_connect(b->sock, &err);
	assert_non_null(c);
	assert_int_equal(pool_lease_acquire(c, "p", NULL, &l, &err), -1);
	assert_int_equal(err.code, POOL_E_NOT_LEADER);
	assert_string_equal(pool_code_name(err.code), "not_leader");
	pool_close(c);

	/* Standby first: the lease is granted by the leader it names. */
	snprintf(both, sizeof both, "%s,%s", b->sock, a->sock);
	c = pool_connect(both, &err);
	assert_non_null(c);
	assert_int_equal(pool_lease_acquire(c, "p", NULL, &l, &err), 0);
	assert_string_equal(pool_lease_resource(l), "r1");
	assert_int_equal(pool_return(c, pool_lease_id(l), NULL, 0, &err), 0);
	pool_lease_free(l);
	pool_close(c);
	stop_pair(a, b);
}

/* Reads go on after the leader's SIGKILL, from the standby once it leads. */
static void test_libpool_reads_follow_a_lost_leader(void **state)
{
	poold_proc *a, *b;
	char both[700];
	pool_client *c;
	pool_error err;
	json_t *res, *args;

	need_pg();
	start_pair(&a, &b);
	snprintf(both, sizeof both, "%s,%s", a->sock, b->sock);
	c = pool_connect(both, &err);
	assert_non_null(c);
	pool_set_timeout(c, 60);
	json_decref(CALL_OK(c, "pool.list", NULL));
	poold_kill9(a);
	args = J("{s:s}", "pool", "p");
	assert_int_equal(pool_call(c, "pool.get", args, &res, &err), 0);
	json_decref(args);
	assert_string_equal(JSTR(res, "name"), "p");
	assert_string_equal(poold_role(b), "leader");
	json_decref(res);
	pool_close(c);
	poold_respawn(a);
	stop_pair(a, b);
}

/* A change whose answer was lost is not sent again: the caller is told. */
static void test_libpool_does_not_resend_a_return(void **state)
{
	poold_proc *a, *b;
	char both[700];
	pool_client *c;
	pool_error err;
	pool_lease *l;

	need_pg();
	start_pair(&a, &b);
	snprintf(both, sizeof both, "%s,%s", a->sock, b->sock);
	c = pool_connect(both, &err);
	assert_non_null(c);
	assert_int_equal(pool_lease_acquire(c, "p", NULL, &l, &err), 0);
	poold_kill9(a);
	assert_int_equal(pool_return(c, pool_lease_id(l), NULL, 0, &err), -1);
	assert_int_equal(err.code, POOL_E_UNREACHABLE);
	assert_non_null(strstr(err.message, "may or may not have taken effect"));
	/* The next call connects again, to the new leader: the lease is there. */
	WAIT_UNTIL(strcmp(poold_role(b), "leader") == 0, 30);
	assert_int_equal(pool_return(c, pool_lease_id(l), NULL, 0, &err), 0);
	pool_lease_free(l);
	pool_close(c);
	poold_respawn(a);
	stop_pair(a, b);
}

static void test_poolctl_leases_via_the_leader(void **state)
{
	poold_proc *a, *b;
	json_t *l;

	need_pg();
	start_pair(&a, &b);
	H_SH_OK(NULL, "poolctl --socket '%s,%s' --json lease p", b->sock, a->sock);
	l = json_loads(h_out, 0, NULL);
	assert_non_null(l);
	assert_string_equal(JSTR(JOBJ(l, "resource"), "name"), "r1");
	H_SH_OK(NULL, "POOLD_SOCKET='%s,%s' poolctl return '%s'", b->sock, a->sock,
		JSTR(l, "lease"));
	json_decref(l);
	/* An empty endpoint is a usage error naming the list. */
	H_SH_RC(1, NULL, "poolctl --socket '%s,,%s' ping", b->sock, a->sock);
	H_HAS(h_err, "empty endpoint");
	stop_pair(a, b);
}

/* `poolctl lease --wait` waiting on the leader keeps waiting across its
 * SIGKILL and gets its lease from the new leader. */
static void test_poolctl_wait_survives_failover(void **state)
{
	poold_proc *a, *b;
	pool_client *c;
	json_t *held, *got;
	char dir[128], out[256], ret[64];
	char *text = NULL;

	need_pg();
	start_pair(&a, &b);
	c = h_connect(a);
	held = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	snprintf(ret, sizeof ret, "%s", JSTR(held, "lease"));
	pool_close(c);
	h_tmpdir(dir, sizeof dir);
	snprintf(out, sizeof out, "%s/out", dir);
	H_SH_OK(NULL, "poolctl --socket '%s,%s' --json lease p --wait 300 >'%s' 2>'%s.err' "
		"</dev/null & echo $! >'%s.pid'", a->sock, b->sock, out, out, out);
	WAIT_UNTIL(waiters(a) == 1, 30);

	poold_kill9(a);
	WAIT_UNTIL(strcmp(poold_role(b), "leader") == 0, 30);
	WAIT_UNTIL(waiters(b) == 1, 60); /* it came back, by its request_id */
	c = h_connect(b);
	json_decref(CALL_OK(c, "return", J("{s:s}", "lease", ret)));
	WAIT_UNTIL(h_line_in(out, &text), 60);
	got = json_loads(text, 0, NULL);
	assert_non_null(got);
	assert_string_equal(JSTR(JOBJ(got, "resource"), "name"), "r1");
	assert_true(JINT(got, "token") > JINT(held, "token"));
	json_decref(got);
	json_decref(held);
	free(text);
	pool_close(c);
	h_rmdir(dir);
	poold_respawn(a);
	stop_pair(a, b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_libpool_follows_not_leader),
		FTEST(test_libpool_reads_follow_a_lost_leader),
		FTEST(test_libpool_does_not_resend_a_return),
		FTEST(test_poolctl_leases_via_the_leader),
		FTEST(test_poolctl_wait_survives_failover),
	};

	return RUN_FTESTS(tests);
}
