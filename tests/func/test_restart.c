/*
 * test_restart.c - durability: every acknowledged change survives kill -9 of
 * the daemon and a restart on the same socket and database; at start-up
 * leases past expires_at expire and bind: connection leases end; tokens keep
 * increasing; no resource ever has two holders.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEASE_ID(l) JSTR(l, "lease")
#define RES_NAME(l) JSTR(JOBJ(l, "resource"), "name")

/* Every lease in lease.list (all pools) holds a distinct, leased resource and
 * each pool's leased count equals its number of leases. Returns the number of
 * live leases. */
static int check_single_holders(pool_client *c)
{
	json_t *list = CALL_OK(c, "lease.list", NULL);
	json_t *seen = json_object();
	json_t *per_pool = json_object();
	json_t *e;
	const char *key;
	json_t *v;
	size_t i;
	int n = 0;

	assert_true(json_is_null(json_object_get(list, "next")) ||
		    json_array_size(json_object_get(list, "leases")) < 1000);
	json_array_foreach(json_object_get(list, "leases"), i, e)
	{
		char k[256];
		const char *pool = JSTR(e, "pool");

		snprintf(k, sizeof(k), "%s/%s", pool, RES_NAME(e));
		if (json_object_get(seen, k))
			fail_msg("resource %s has two live leases", k);
		json_object_set_new(seen, k, json_true());
		assert_string_equal(h_res_state(c, pool, RES_NAME(e)), "leased");
		json_object_set_new(per_pool, pool,
				    json_integer(json_integer_value(json_object_get(per_pool, pool)) + 1));
		n++;
	}
	json_object_foreach(per_pool, key, v)
		assert_int_equal(h_status_field(c, key, "leased"), json_integer_value(v));
	json_decref(list);
	json_decref(seen);
	json_decref(per_pool);
	return n;
}

static void test_kill9_keeps_acknowledged_state(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	raw_conn *bound, *w;
	json_t *l1, *l2, *l3, *l4, *lq, *r, *resp, *p, *g;
	json_int_t max_token;
	double exp3;

	h_pool(c, "p", "{\"max_size\": 10, \"order\": \"fifo\", \"lease_ttl\": 100, \"max_waiters\": 7}");
	h_pool(c, "q", NULL);
	h_add(c, "p", "r1", "r2", "r3", "r4", "r5", NULL);
	h_add(c, "q", "q1", NULL);
	r = CALL_OK(c, "resource.update",
		    J("{s:s, s:s, s:{s:s}, s:i}", "pool", "p", "name", "r5", "descriptor", "u", "v2", "version", 1));
	json_decref(r);

	l1 = CALL_OK(c, "checkout", J("{s:s, s:s, s:i, s:s}", "pool", "p", "name", "r1", "ttl", 0, "owner", "o1"));
	l2 = CALL_OK(c, "checkout", J("{s:s, s:s}", "pool", "p", "name", "r2"));
	json_decref(CALL_OK(c, "replace", J("{s:s, s:{s:s}, s:i}", "lease", LEASE_ID(l2), "descriptor", "d", "x", "version", 2)));
	l3 = CALL_OK(c, "checkout", J("{s:s, s:s, s:i}", "pool", "p", "name", "r3", "ttl", 1));
	exp3 = h_parse_time(JSTR(l3, "expires_at"));
	bound = raw_connect(d->sock);
	resp = raw_req(bound, "{\"op\":\"checkout\",\"pool\":\"p\",\"name\":\"r4\",\"bind\":\"connection\"}");
	l4 = json_incref(resp_result(resp));
	json_decref(resp);
	lq = CALL_OK(c, "lease", J("{s:s, s:i, s:s}", "pool", "q", "ttl", 0, "request_id", "rq"));
	w = raw_connect(d->sock);
	raw_send(w, "{\"id\":1,\"op\":\"lease\",\"pool\":\"q\",\"wait\":30,\"request_id\":\"rw\"}\n");
	WAIT_UNTIL(h_status_field(c, "q", "waiters") == 1, 5);
	max_token = JINT(lq, "token");

	pool_close(c);
	/* let r3's TTL run out while the daemon is down */
	poold_kill9(d);
	WAIT_UNTIL(h_wall() > exp3 + 0.2, 5);
	poold_respawn(d);
	c = h_connect(d);

	/* the old connections are gone; the waiter got nothing */
	assert_true(raw_wait_eof(bound, 5));
	assert_true(raw_wait_eof(w, 5));
	raw_close(bound);
	raw_close(w);

	/* pools and their settings */
	p = CALL_OK(c, "pool.get", J("{s:s}", "pool", "p"));
	assert_int_equal(JINT(p, "max_size"), 10);
	assert_string_equal(JSTR(p, "order"), "fifo");
	assert_int_equal(JINT(p, "max_waiters"), 7);
	assert_true(json_number_value(json_object_get(p, "lease_ttl")) == 100);
	assert_string_equal(JSTR(p, "create"), "none");
	json_decref(p);
	json_decref(CALL_OK(c, "pool.get", J("{s:s}", "pool", "q")));

	/* resources, versions, descriptors */
	r = CALL_OK(c, "resource.get", J("{s:s, s:s}", "pool", "p", "name", "r5"));
	assert_int_equal(JINT(r, "version"), 2);
	assert_string_equal(JSTR(JOBJ(r, "descriptor"), "u"), "v2");
	assert_string_equal(JSTR(r, "state"), "free");
	json_decref(r);
	r = CALL_OK(c, "resource.get", J("{s:s, s:s}", "pool", "p", "name", "r2"));
	assert_int_equal(JINT(r, "version"), 3);
	assert_string_equal(JSTR(JOBJ(r, "descriptor"), "d"), "x");
	assert_string_equal(JSTR(r, "state"), "leased");
	json_decref(r);

	/* live leases survive with their token, owner and TTL */
	g = CALL_OK(c, "lease.get", J("{s:s}", "lease", LEASE_ID(l1)));
	assert_int_equal(JINT(g, "token"), JINT(l1, "token"));
	assert_string_equal(JSTR(g, "owner"), "o1");
	assert_string_equal(JSTR(g, "mode"), "checkout");
	assert_true(json_is_null(json_object_get(g, "expires_at")));
	assert_string_equal(JSTR(g, "acquired_at"), JSTR(l1, "acquired_at"));
	json_decref(g);
	g = CALL_OK(c, "lease.get", J("{s:s}", "lease", LEASE_ID(l2)));
	assert_int_equal(JINT(g, "token"), JINT(l2, "token"));
	assert_string_equal(JSTR(g, "expires_at"), JSTR(l2, "expires_at"));
	json_decref(g);
	assert_string_equal(h_res_state(c, "p", "r1"), "leased");

	/* the TTL ran out while down: expired at start-up */
	assert_string_equal(h_res_state(c, "p", "r3"), "free");
	CALL_ERR(c, "return", J("{s:s}", "lease", LEASE_ID(l3)), POOL_E_EXPIRED);
	/* bind: connection leases end at start-up */
	assert_string_equal(h_res_state(c, "p", "r4"), "free");
	CALL_ERR(c, "lease.get", J("{s:s}", "lease", LEASE_ID(l4)), POOL_E_NOT_FOUND);
	CALL_ERR(c, "return", J("{s:s}", "lease", LEASE_ID(l4)), POOL_E_NOT_FOUND);
	/* the waiter left no lease behind, only its place in the queue,
	 * kept for its request_id (tests/func/test_places.c) */
	assert_string_equal(h_res_state(c, "q", "q1"), "leased");
	assert_int_equal(h_status_field(c, "q", "waiters"), 1);
	assert_int_equal(h_status_field(c, "q", "leased"), 1);
	/* request_id of the live lease still answers the same lease */
	g = CALL_OK(c, "lease", J("{s:s, s:s}", "pool", "q", "request_id", "rq"));
	assert_string_equal(LEASE_ID(g), LEASE_ID(lq));
	json_decref(g);
	assert_int_equal(check_single_holders(c), 3);

	/* tokens continue increasing */
	if (JINT(l4, "token") > max_token)
		max_token = JINT(l4, "token");
	g = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	assert_true(JINT(g, "token") > max_token);
	json_decref(g);

	/* the restored leases work */
	json_decref(CALL_OK(c, "return", J("{s:s}", "lease", LEASE_ID(l1))));
	json_decref(CALL_OK(c, "replace", J("{s:s, s:{s:s}, s:i}", "lease", LEASE_ID(l2), "descriptor", "d", "y", "version", 3)));
	json_decref(CALL_OK(c, "checkin", J("{s:s}", "lease", LEASE_ID(l2))));
	assert_string_equal(h_res_state(c, "p", "r2"), "free");
	json_decref(l1);
	json_decref(l2);
	json_decref(l3);
	json_decref(l4);
	json_decref(lq);
	pool_close(c);
	poold_stop(d);
}

/* Leases whose answers were read before kill -9 are all there afterwards,
 * whatever was in flight. */
static void test_kill9_mid_stream(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	raw_conn *r;
	json_t *acked = json_array();
	json_t *args = json_array();
	char *batch;
	size_t off = 0;
	size_t i;
	json_t *e;
	json_int_t max_token = 0;

	h_pool(c, "p", NULL);
	for (int k = 0; k < 400; k++) {
		char name[16];

		snprintf(name, sizeof(name), "r%03d", k);
		json_array_append_new(args, J("{s:s, s:{}}", "name", name, "descriptor"));
	}
	json_decref(CALL_OK(c, "resource.add", J("{s:s, s:o}", "pool", "p", "resources", args)));

	r = raw_connect(d->sock);
	batch = malloc(300 * 80);
	assert_non_null(batch);
	for (int k = 0; k < 300; k++)
		off += (size_t)sprintf(batch + off, "{\"id\":%d,\"op\":\"lease\",\"pool\":\"p\",\"ttl\":0}\n", k);
	assert_int_equal(raw_write(r, batch, off), 0);
	free(batch);
	for (int k = 0; k < 20; k++) {
		json_t *resp = raw_recv(r, 10);

		json_array_append(acked, resp_result(resp));
		json_decref(resp);
	}
	pool_close(c);
	poold_kill9_restart(d);
	/* read whatever else arrived before the kill: acknowledged too */
	for (;;) {
		char *line = raw_read_line(r, 0.5);
		json_t *resp;

		if (!line)
			break;
		resp = json_loads(line, 0, NULL);
		free(line);
		if (resp && json_is_true(json_object_get(resp, "ok")))
			json_array_append(acked, json_object_get(resp, "result"));
		json_decref(resp);
	}
	raw_close(r);

	c = h_connect(d);
	json_array_foreach(acked, i, e)
	{
		json_t *g = CALL_OK(c, "lease.get", J("{s:s}", "lease", LEASE_ID(e)));

		assert_string_equal(RES_NAME(g), RES_NAME(e));
		assert_int_equal(JINT(g, "token"), JINT(e, "token"));
		if (JINT(e, "token") > max_token)
			max_token = JINT(e, "token");
		json_decref(g);
	}
	assert_true(check_single_holders(c) >= (int)json_array_size(acked));
	e = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	assert_true(JINT(e, "token") > max_token);
	json_decref(e);
	json_decref(acked);
	pool_close(c);
	poold_stop(d);
}

/* Several crash/restart rounds with work in between, then a clean restart. */
static void test_restart_rounds(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *held = json_array();
	json_int_t last = 0;
	size_t i;
	json_t *e;

	h_pool(c, "p", NULL);
	h_add(c, "p", "a", "b", "c", "d", "e", "f", NULL);
	for (int round = 0; round < 4; round++) {
		json_t *l = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
		json_t *tmp = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));

		assert_true(JINT(l, "token") > last);
		assert_true(JINT(tmp, "token") > JINT(l, "token"));
		last = JINT(tmp, "token");
		json_decref(CALL_OK(c, "return", J("{s:s, s:{s:i}}", "lease", LEASE_ID(tmp), "descriptor", "round", round)));
		json_array_append_new(held, l);
		pool_close(c);
		if (round == 3)
			poold_term_restart(d);
		else
			poold_kill9_restart(d);
		c = h_connect(d);
		json_array_foreach(held, i, e)
			json_decref(CALL_OK(c, "lease.get", J("{s:s}", "lease", LEASE_ID(e))));
		assert_int_equal(check_single_holders(c), (int)json_array_size(held));
		{
			json_t *r = CALL_OK(c, "resource.get", J("{s:s, s:s}", "pool", "p", "name", RES_NAME(tmp)));

			assert_int_equal(JINT(JOBJ(r, "descriptor"), "round"), round);
			assert_string_equal(JSTR(r, "state"), "free");
			json_decref(r);
		}
		json_decref(tmp);
	}
	assert_int_equal(h_status_field(c, "p", "leased"), 4);
	assert_int_equal(h_status_field(c, "p", "free"), 2);
	json_decref(held);
	pool_close(c);
	poold_stop(d);
}

/* A deleted pool stays deleted (and its tokens are never reused); a drained
 * pool stays draining and destroys what comes back; on_expire discard applies
 * to a lease that ran out while the daemon was down. */
static void test_restart_pool_states(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *p, *l, *ldr, *ldc, *n;
	json_int_t top = 0;
	double exp;

	h_pool(c, "gone", NULL);
	h_add(c, "gone", "x", NULL);
	for (int i = 0; i < 3; i++) {
		l = CALL_OK(c, "lease", J("{s:s}", "pool", "gone"));
		json_decref(CALL_OK(c, "return", J("{s:s}", "lease", LEASE_ID(l))));
		json_decref(l);
	}
	l = CALL_OK(c, "lease", J("{s:s}", "pool", "gone"));
	top = JINT(l, "token");
	json_decref(CALL_OK(c, "pool.delete", J("{s:s, s:b}", "pool", "gone", "force", 1)));
	h_pool(c, "dr", NULL);
	h_add(c, "dr", "y", "z", NULL);
	ldr = CALL_OK(c, "checkout", J("{s:s, s:s}", "pool", "dr", "name", "y"));
	json_decref(CALL_OK(c, "pool.drain", J("{s:s}", "pool", "dr")));
	h_pool(c, "dc", "{\"on_expire\": \"discard\"}");
	h_add(c, "dc", "a", "b", NULL);
	ldc = CALL_OK(c, "checkout", J("{s:s, s:s, s:f}", "pool", "dc", "name", "b", "ttl", 0.5));
	exp = h_parse_time(JSTR(ldc, "expires_at"));
	pool_close(c);
	poold_kill9(d);
	WAIT_UNTIL(h_wall() > exp + 0.2, 5);
	poold_respawn(d);
	c = h_connect(d);

	assert_string_equal(h_res_state(c, "dc", "b"), "");
	assert_string_equal(h_res_state(c, "dc", "a"), "free");
	CALL_ERR(c, "return", J("{s:s}", "lease", LEASE_ID(ldc)), POOL_E_EXPIRED);
	CALL_ERR(c, "pool.get", J("{s:s}", "pool", "gone"), POOL_E_NOT_FOUND);
	CALL_ERR(c, "lease.get", J("{s:s}", "lease", LEASE_ID(l)), POOL_E_NOT_FOUND);
	p = CALL_OK(c, "pool.get", J("{s:s}", "pool", "dr"));
	assert_string_equal(JSTR(p, "state"), "draining");
	json_decref(p);
	CALL_ERR(c, "lease", J("{s:s}", "pool", "dr"), POOL_E_DRAINING);
	/* the free one of the draining pool is destroyed, the returned one too */
	WAIT_UNTIL(strcmp(h_res_state(c, "dr", "z"), "") == 0, 5);
	json_decref(CALL_OK(c, "return", J("{s:s}", "lease", LEASE_ID(ldr))));
	WAIT_UNTIL(strcmp(h_res_state(c, "dr", "y"), "") == 0, 5);

	/* tokens of the deleted pool are not reused */
	h_pool(c, "new", NULL);
	h_add(c, "new", "n1", NULL);
	n = CALL_OK(c, "lease", J("{s:s}", "pool", "new"));
	assert_true(JINT(n, "token") > top);
	json_decref(n);
	json_decref(l);
	json_decref(ldr);
	json_decref(ldc);
	pool_close(c);
	poold_stop(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_kill9_keeps_acknowledged_state),
		FTEST(test_kill9_mid_stream),
		FTEST(test_restart_rounds),
		FTEST(test_restart_pool_states),
	};

	return RUN_FTESTS(tests);
}
