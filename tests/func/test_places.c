/*
 * test_places.c - waiting requests keep their place in their pool's queue
 * across a restart (kill -9) and a failover: each becomes a reserved place
 * that its client takes back by sending the same request_id; a place not
 * taken back holds the pool (a free resource does not go to a later waiter)
 * until --reattach-grace runs out, and then the next waiter is served. A
 * waiter whose client goes away from a live poold leaves no place. The
 * failover tests (one with raw requests, one with poolctl following the
 * leader as it does by itself) need PostgreSQL (POOL_TEST_STORE); the
 * others run on either store.
 */
#include "../h_pgstore.h"
#include "h_cli.h"
#include "h_files.h"
#include "harness.h"

#include <stdlib.h>
#include <string.h>

/* A pool p of one resource r1, leased by c; returns that lease's id. */
static char *exhaust(poold_proc *d, pool_client **c)
{
	json_t *held;
	char *id;

	*c = h_connect(d);
	h_pool(*c, "p", "{\"max_size\": 1}");
	h_add(*c, "p", "r1", NULL);
	held = CALL_OK(*c, "lease", J("{s:s}", "pool", "p"));
	id = strdup(JSTR(held, "lease"));
	json_decref(held);
	return id;
}

/* Sends a waiting lease with request_id rid on a new connection to d. */
static raw_conn *send_lease(poold_proc *d, const char *rid)
{
	raw_conn *w = raw_connect(d->sock);
	char req[200];

	snprintf(req, sizeof req, "{\"id\":\"%s\",\"op\":\"lease\",\"pool\":\"p\","
		 "\"wait\":120,\"request_id\":\"%s\"}\n", rid, rid);
	raw_send(w, req);
	return w;
}

/* The same, for a lease that must wait: makes sure d has read it (a ping
 * after it on the same connection is answered while the lease waits). */
static raw_conn *wait_as(poold_proc *d, const char *rid)
{
	raw_conn *w = send_lease(d, rid);
	json_t *pong;

	pong = raw_req(w, "{\"id\":\"ping\",\"op\":\"ping\"}");
	assert_string_equal(JSTR(pong, "id"), "ping");
	json_decref(pong);
	return w;
}

/* The lease answer on w: asserts it is r1 and returns its lease id. */
static char *served(raw_conn *w, const char *rid)
{
	json_t *res = raw_recv(w, 30);
	char *id;

	assert_string_equal(JSTR(res, "id"), rid);
	assert_string_equal(JSTR(JOBJ(resp_result(res), "resource"), "name"), "r1");
	id = strdup(JSTR(resp_result(res), "lease"));
	json_decref(res);
	return id;
}

static void give_back(pool_client *c, char *lease)
{
	json_decref(CALL_OK(c, "return", J("{s:s}", "lease", lease)));
	free(lease);
}

/* A then B wait; poold is killed and started again; B comes back first,
 * then A. A returned resource waits for A while A's place is not taken
 * back; then A is served first, and B after A's return. */
static void test_restart_keeps_places(void **state)
{
	poold_proc *d = poold_start("--reattach-grace", "600", NULL);
	pool_client *c;
	raw_conn *a, *b;
	char *held = exhaust(d, &c);

	a = wait_as(d, "A");
	WAIT_UNTIL(h_status_field(c, "p", "waiters") == 1, 30);
	b = wait_as(d, "B");
	WAIT_UNTIL(h_status_field(c, "p", "waiters") == 2, 30);
	pool_close(c);

	poold_kill9(d);
	assert_true(raw_wait_eof(a, 10));
	assert_true(raw_wait_eof(b, 10));
	raw_close(a);
	raw_close(b);
	poold_respawn(d);
	c = h_connect(d);
	/* both places are there before anyone comes back */
	assert_int_equal(h_status_field(c, "p", "waiters"), 2);

	b = wait_as(d, "B");
	give_back(c, held);
	/* r1 is kept for A, whose place is before B's */
	assert_string_equal(h_res_state(c, "p", "r1"), "free");
	assert_true(raw_silent(b, 0.3));
	assert_string_equal(h_res_state(c, "p", "r1"), "free");
	a = send_lease(d, "A");
	held = served(a, "A");
	assert_true(raw_silent(b, 0.1));
	give_back(c, held);
	free(served(b, "B"));
	assert_int_equal(h_status_field(c, "p", "waiters"), 0);
	raw_close(a);
	raw_close(b);
	pool_close(c);
	poold_stop(d);
}

/* A's place is never taken back: after --reattach-grace it lapses and B,
 * behind it, is served. */
static void test_unclaimed_place_lapses(void **state)
{
	poold_proc *d = poold_start("--reattach-grace", "2", NULL);
	pool_client *c;
	raw_conn *a, *b;
	char *held = exhaust(d, &c);

	a = wait_as(d, "A");
	WAIT_UNTIL(h_status_field(c, "p", "waiters") == 1, 30);
	b = wait_as(d, "B");
	WAIT_UNTIL(h_status_field(c, "p", "waiters") == 2, 30);
	pool_close(c);
	poold_kill9(d);
	raw_close(a);
	raw_close(b);
	poold_respawn(d);
	c = h_connect(d);
	b = wait_as(d, "B");
	give_back(c, held);
	free(served(b, "B"));
	assert_int_equal(h_status_field(c, "p", "waiters"), 0);
	raw_close(b);
	pool_close(c);
	poold_stop(d);
}

/* A waiter whose client hangs up on a live poold leaves no place behind. */
static void test_hangup_leaves_no_place(void **state)
{
	poold_proc *d = poold_start("--reattach-grace", "600", NULL);
	pool_client *c;
	raw_conn *a;
	char *held = exhaust(d, &c);

	a = wait_as(d, "A");
	WAIT_UNTIL(h_status_field(c, "p", "waiters") == 1, 30);
	raw_close(a);
	WAIT_UNTIL(h_status_field(c, "p", "waiters") == 0, 30);
	pool_close(c);
	poold_kill9(d);
	poold_respawn(d);
	c = h_connect(d);
	assert_int_equal(h_status_field(c, "p", "waiters"), 0);
	/* nothing holds r1 once it is back */
	give_back(c, held);
	json_decref(CALL_OK(c, "lease", J("{s:s}", "pool", "p")));
	pool_close(c);
	poold_stop(d);
}

/* The same across a failover: A then B wait on the leader, which dies;
 * on the new leader B comes back first, then A; A is served first. */
static void test_failover_keeps_places(void **state)
{
	poold_proc *l, *s;
	pool_client *c;
	raw_conn *a, *b;
	char *held;

	if (!h_pg_mode())
		skip(); /* run by scripts/test under scripts/pg-test.sh */
	l = poold_start("--failover-timeout", "1", NULL);
	WAIT_UNTIL(strcmp(poold_role(l), "leader") == 0, 30);
	s = poold_start_peer(l, "--failover-timeout", "1", "--reattach-grace", "600",
			     NULL);
	held = exhaust(l, &c);
	a = wait_as(l, "A");
	WAIT_UNTIL(h_status_field(c, "p", "waiters") == 1, 30);
	b = wait_as(l, "B");
	WAIT_UNTIL(h_status_field(c, "p", "waiters") == 2, 30);
	pool_close(c);

	poold_kill9(l);
	raw_close(a);
	raw_close(b);
	WAIT_UNTIL(strcmp(poold_role(s), "leader") == 0, 30);
	c = h_connect(s);
	assert_int_equal(h_status_field(c, "p", "waiters"), 2);
	b = wait_as(s, "B");
	give_back(c, held);
	assert_true(raw_silent(b, 0.3));
	assert_string_equal(h_res_state(c, "p", "r1"), "free");
	a = send_lease(s, "A");
	held = served(a, "A");
	give_back(c, held);
	free(served(b, "B"));
	raw_close(a);
	raw_close(b);
	pool_close(c);
	poold_respawn(l);
	poold_stop(l);
	poold_stop(s);
}

/* Starts `poolctl lease p --wait 300` on both front ends in the background,
 * its answer (JSON) into DIR/NAME. */
static void poolctl_wait(const poold_proc *l, const poold_proc *s,
			 const char *dir, const char *name)
{
	H_SH_OK(NULL, "poolctl --socket '%s,%s' --json lease p --wait 300 "
		">'%s/%s' 2>'%s/%s.err' </dev/null &", l->sock, s->sock, dir, name,
		dir, name);
}

/* The lease id in the line of DIR/NAME (r1), waited for. */
static char *poolctl_lease(const char *dir, const char *name)
{
	char path[256], *text = NULL, *id;
	json_t *got;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	WAIT_UNTIL(h_line_in(path, &text), 60);
	got = json_loads(text, 0, NULL);
	assert_non_null(got);
	assert_string_equal(JSTR(JOBJ(got, "resource"), "name"), "r1");
	id = strdup(JSTR(got, "lease"));
	json_decref(got);
	free(text);
	return id;
}

/* Real clients: two `poolctl lease --wait` (given both front ends) wait
 * in the order A, B; the leader dies; whichever comes back first, A is
 * served first, then B. */
static void test_poolctl_waiters_keep_order(void **state)
{
	poold_proc *l, *s;
	pool_client *c;
	char dir[128], path[256], *held, *text = NULL;

	if (!h_pg_mode())
		skip();
	l = poold_start("--failover-timeout", "1", NULL);
	WAIT_UNTIL(strcmp(poold_role(l), "leader") == 0, 30);
	s = poold_start_peer(l, "--failover-timeout", "1", "--reattach-grace", "600",
			     NULL);
	held = exhaust(l, &c);
	h_tmpdir(dir, sizeof dir);
	poolctl_wait(l, s, dir, "A");
	WAIT_UNTIL(h_status_field(c, "p", "waiters") == 1, 30);
	poolctl_wait(l, s, dir, "B");
	WAIT_UNTIL(h_status_field(c, "p", "waiters") == 2, 30);
	pool_close(c);

	poold_kill9(l);
	WAIT_UNTIL(strcmp(poold_role(s), "leader") == 0, 30);
	c = h_connect(s);
	give_back(c, held);
	held = poolctl_lease(dir, "A");
	snprintf(path, sizeof path, "%s/B", dir);
	assert_false(h_line_in(path, &text)); /* r1 is A's */
	free(text);
	give_back(c, held);
	free(poolctl_lease(dir, "B"));
	pool_close(c);
	h_rmdir(dir);
	poold_respawn(l);
	poold_stop(l);
	poold_stop(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_restart_keeps_places),
		FTEST(test_unclaimed_place_lapses),
		FTEST(test_hangup_leaves_no_place),
		FTEST(test_failover_keeps_places),
		FTEST(test_poolctl_waiters_keep_order),
	};

	return RUN_FTESTS(tests);
}
