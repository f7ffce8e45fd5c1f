/*
 * test_failover.c - several front ends on one PostgreSQL store (docs/ha.md):
 * a standby answers ping, hello and status and refuses the rest with
 * not_leader naming the leader; after a SIGKILL of the leader the standby
 * takes over with every acknowledged lease, a request_id retry there answers
 * the same lease, a waiter that retries with its request_id is served, and
 * the old leader comes back as a standby; a deposed leader (its epoch taken
 * by another) commits nothing and closes its waiters' connections. Runs with POOL_TEST_STORE
 * (scripts/pg-test.sh); skipped otherwise. The crash loop under failover is
 * in test_crashloop.c.
 */
#include "../h_pgstore.h"
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#define FAILOVER "1" /* --failover-timeout: a takeover after ~0.7 s */

static void need_pg(void)
{
	if (!h_pg_mode())
		skip(); /* run by scripts/test under scripts/pg-test.sh */
}

/* The leader A and a standby B on A's store. */
static void start_pair(poold_proc **a, poold_proc **b)
{
	*a = poold_start("--failover-timeout", FAILOVER, NULL);
	WAIT_UNTIL(strcmp(poold_role(*a), "leader") == 0, 30);
	*b = poold_start_peer(*a, "--failover-timeout", FAILOVER, NULL);
	assert_string_equal(poold_role(*b), "standby");
}

/* Asserts that d answers op with not_leader naming leader's socket. */
static void expect_not_leader(poold_proc *d, const char *req, const poold_proc *leader)
{
	raw_conn *r = raw_connect(d->sock);
	json_t *a = raw_req(r, req), *err = json_object_get(a, "error");
	char want[320];

	snprintf(want, sizeof want, "unix:%s", leader->sock);
	resp_expect_err(a, "not_leader");
	assert_string_equal(json_string_value(json_object_get(err, "leader")), want);
	assert_non_null(strstr(json_string_value(json_object_get(err, "message")), want));
	json_decref(a);
	raw_close(r);
}

static void test_standby_refuses_with_the_leader(void **state)
{
	poold_proc *a, *b;
	raw_conn *r;
	json_t *res;

	need_pg();
	start_pair(&a, &b);
	r = raw_connect(b->sock);
	res = raw_req(r, "{\"op\":\"ping\"}");
	resp_result(res);
	json_decref(res);
	res = raw_req(r, "{\"op\":\"hello\"}");
	resp_result(res);
	json_decref(res);
	res = raw_req(r, "{\"op\":\"status\"}");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
		resp_result(res), "ha"), "role")), "standby");
	json_decref(res);
	res = raw_req(r, "{\"op\":\"nope\"}");
	resp_expect_err(res, "unknown_op");
	json_decref(res);
	raw_close(r);
	expect_not_leader(b, "{\"op\":\"pool.list\"}", a);
	expect_not_leader(b, "{\"op\":\"lease\",\"pool\":\"p\"}", a);
	poold_stop(b);
	poold_stop(a);
}

/* SIGKILL of the leader: the standby takes over with every acknowledged
 * lease; the same request_id answers the same lease there; tokens go on
 * rising; the old leader comes back as a standby naming the new one. */
static json_int_t epoch_of(pool_client *c)
{
	json_t *st = CALL_OK(c, "status", NULL);
	json_int_t e = JINT(JOBJ(st, "ha"), "epoch");

	json_decref(st);
	return e;
}

static void test_takeover_keeps_leases(void **state)
{
	poold_proc *a, *b;
	pool_client *c;
	json_t *first, *again, *next;
	json_int_t epoch;

	need_pg();
	start_pair(&a, &b);
	c = h_connect(a);
	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", "r2", NULL);
	first = CALL_OK(c, "lease", J("{s:s, s:s}", "pool", "p", "request_id", "job-1"));
	epoch = epoch_of(c);
	pool_close(c);

	poold_kill9(a);
	WAIT_UNTIL(strcmp(poold_role(b), "leader") == 0, 30);
	c = h_connect(b);
	again = CALL_OK(c, "lease", J("{s:s, s:s}", "pool", "p", "request_id", "job-1"));
	assert_string_equal(JSTR(again, "lease"), JSTR(first, "lease"));
	assert_int_equal(JINT(again, "token"), JINT(first, "token"));
	next = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	assert_true(JINT(next, "token") > JINT(first, "token"));
	assert_true(epoch_of(c) > epoch);
	pool_close(c);

	poold_respawn(a);
	assert_string_equal(poold_role(a), "standby");
	expect_not_leader(a, "{\"op\":\"lease\",\"pool\":\"p\"}", b);
	json_decref(first);
	json_decref(again);
	json_decref(next);
	poold_stop(a);
	poold_stop(b);
}

/* A waiter whose leader dies sees its connection close; retried on the new
 * leader with the same request_id it waits again and is served when the
 * resource comes back. */
static void test_waiter_retries_on_new_leader(void **state)
{
	poold_proc *a, *b;
	pool_client *c;
	raw_conn *w;
	json_t *held, *res;
	char ret[200];

	need_pg();
	start_pair(&a, &b);
	c = h_connect(a);
	h_pool(c, "p", "{\"max_size\": 1}");
	h_add(c, "p", "r1", NULL);
	held = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	pool_close(c);
	w = raw_connect(a->sock);
	raw_send(w, "{\"id\":1,\"op\":\"lease\",\"pool\":\"p\",\"wait\":60,\"request_id\":\"w-1\"}\n");
	assert_true(raw_silent(w, 0.2)); /* it waits */

	poold_kill9(a);
	assert_true(raw_wait_eof(w, 10));
	raw_close(w);
	WAIT_UNTIL(strcmp(poold_role(b), "leader") == 0, 30);
	w = raw_connect(b->sock);
	raw_send(w, "{\"id\":2,\"op\":\"lease\",\"pool\":\"p\",\"wait\":60,\"request_id\":\"w-1\"}\n");
	assert_true(raw_silent(w, 0.2));
	c = h_connect(b);
	snprintf(ret, sizeof ret, "%s", JSTR(held, "lease"));
	json_decref(CALL_OK(c, "return", J("{s:s}", "lease", ret)));
	res = raw_recv(w, 10);
	assert_string_equal(JSTR(JOBJ(resp_result(res), "resource"), "name"), "r1");
	json_decref(res);
	raw_close(w);
	pool_close(c);
	json_decref(held);
	poold_respawn(a);
	poold_stop(a);
	poold_stop(b);
}

/* A split brain: another front end takes the epoch while A still runs (as
 * after a partition). The first batch of A after that is refused by the
 * fence, nothing of it in the database: if it held the lease, the lease is
 * answered internal; if it was a batch of A's own housekeeping, A stands
 * down before the lease is handled, and the lease meets a closed connection
 * or not_leader. Either way no lease exists, and A names the other front
 * end. */
static void test_deposed_leader_commits_nothing(void **state)
{
	poold_proc *a;
	pool_client *c;
	raw_conn *r;
	json_t *res;
	char out[64], *line;

	need_pg();
	a = poold_start("--failover-timeout", "30", NULL);
	c = h_connect(a);
	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);
	pool_close(c);
	r = raw_connect(a->sock);
	assert_int_equal(h_pg_sql(a->dir, "UPDATE leader SET epoch = epoch + 1, "
				  "advertise = 'other:7411', renewed_at = now()", NULL, 0), 0);
	raw_send(r, "{\"op\":\"lease\",\"pool\":\"p\"}\n");
	line = raw_read_line(r, 10); /* NULL: the connection was closed */
	if (line) {
		res = json_loads(line, 0, NULL);
		free(line);
		if (strcmp(resp_code(res), "internal") == 0)
			assert_non_null(strstr(JSTR(JOBJ(res, "error"), "message"),
					       "no longer the leader"));
		else
			resp_expect_err(res, "not_leader");
		json_decref(res);
	}
	raw_close(r);
	assert_int_equal(h_pg_sql(a->dir, "SELECT count(*) FROM leases", out, sizeof out), 0);
	assert_string_equal(out, "0");
	WAIT_UNTIL(strcmp(poold_role(a), "standby") == 0, 30);
	r = raw_connect(a->sock);
	res = raw_req(r, "{\"op\":\"lease\",\"pool\":\"p\"}");

	resp_expect_err(res, "not_leader");
	assert_string_equal(JSTR(JOBJ(res, "error"), "leader"), "other:7411");
	json_decref(res);
	raw_close(r);
	poold_stop(a);
}

/* A waiter on a leader that is deposed while alive sees its connection
 * closed, as at the leader's death; asking again gets not_leader naming
 * the new leader. */
static void test_deposed_leader_closes_its_waiters(void **state)
{
	poold_proc *a;
	pool_client *c;
	raw_conn *w;
	json_t *held, *res;

	need_pg();
	a = poold_start("--failover-timeout", "10", NULL);
	c = h_connect(a);
	h_pool(c, "p", "{\"max_size\": 1}");
	h_add(c, "p", "r1", NULL);
	held = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	w = raw_connect(a->sock);
	raw_send(w, "{\"id\":1,\"op\":\"lease\",\"pool\":\"p\",\"wait\":60,\"request_id\":\"w-1\"}\n");
	assert_true(raw_silent(w, 0.2));
	assert_int_equal(h_pg_sql(a->dir, "UPDATE leader SET epoch = epoch + 1, "
				  "advertise = 'other:7411', renewed_at = now()", NULL, 0), 0);
	assert_true(raw_wait_eof(w, 30)); /* A's next renewal: within T/10 */
	raw_close(w);
	w = raw_connect(a->sock);
	res = raw_req(w, "{\"id\":2,\"op\":\"lease\",\"pool\":\"p\",\"wait\":60,"
		      "\"request_id\":\"w-1\"}");
	resp_expect_err(res, "not_leader");
	assert_string_equal(JSTR(JOBJ(res, "error"), "leader"), "other:7411");
	json_decref(res);
	raw_close(w);
	pool_close(c);
	json_decref(held);
	poold_stop(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_standby_refuses_with_the_leader),
		FTEST(test_takeover_keeps_leases),
		FTEST(test_waiter_retries_on_new_leader),
		FTEST(test_deposed_leader_commits_nothing),
		FTEST(test_deposed_leader_closes_its_waiters),
	};

	return RUN_FTESTS(tests);
}
