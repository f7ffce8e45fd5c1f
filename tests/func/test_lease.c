/*
 * test_lease.c - leases against the real daemon: the Lease object, versions,
 * create-on-empty, order, return/checkout/replace/checkin/renew, expiry and
 * on_expire, waiting (FIFO, busy, timeout), request_id, bind: connection,
 * fencing tokens, lease.list paging, and libpool's typed wrappers.
 */
#include "harness.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LEASE_ID(l) JSTR(l, "lease")
#define RES_NAME(l) JSTR(JOBJ(l, "resource"), "name")
#define RES_VERSION(l) JINT(JOBJ(l, "resource"), "version")

/* Send a waiting request on its own raw connection and wait until the pool
 * counts `waiters` waiters, so that queue order is the order of these calls. */
static raw_conn *waiter_at(const char *file, int line, poold_proc *d, pool_client *c,
			   const char *pool, const char *req, json_int_t waiters)
{
	raw_conn *w = raw_connect(d->sock);
	double end = h_now() + 5;

	raw_send(w, req);
	raw_send(w, "\n");
	while (h_status_field(c, pool, "waiters") != waiters) {
		if (h_now() > end) {
			print_error("waiter %s never queued\n", req);
			_fail(file, line);
		}
		h_sleep(0.01);
	}
	return w;
}
#define waiter(d, c, pool, req, n) waiter_at(__FILE__, __LINE__, d, c, pool, req, n)

static void ret(pool_client *c, json_t *lease)
{
	json_decref(CALL_OK(c, "return", J("{s:s}", "lease", LEASE_ID(lease))));
}

static void test_lease_object(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *l, *g, *l2, *l3;
	const char *id;
	char owner[64];
	double now = h_wall();

	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", "r2", "r3", NULL);
	l = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	id = LEASE_ID(l);
	assert_int_equal(strlen(id), 32);
	for (const char *p = id; *p; p++)
		assert_true(isdigit((unsigned char)*p) || (*p >= 'a' && *p <= 'f'));
	assert_string_equal(JSTR(l, "pool"), "p");
	assert_string_equal(JSTR(l, "mode"), "pop");
	assert_string_equal(JSTR(JOBJ(l, "resource"), "state"), "leased");
	assert_string_equal(JSTR(JOBJ(l, "resource"), "pool"), "p");
	assert_true(JINT(l, "token") > 0);
	snprintf(owner, sizeof(owner), "uid:%u pid:%d", (unsigned)geteuid(), (int)getpid());
	assert_string_equal(JSTR(l, "owner"), owner);
	assert_string_equal(JSTR(l, "bind"), "none");
	assert_true(fabs(h_parse_time(JSTR(l, "acquired_at")) - now) < 5);
	/* absent ttl: the pool's lease_ttl (3600) */
	assert_true(fabs(h_parse_time(JSTR(l, "expires_at")) - (now + 3600)) < 5);

	g = CALL_OK(c, "lease.get", J("{s:s}", "lease", id));
	assert_string_equal(LEASE_ID(g), id);
	assert_int_equal(JINT(g, "token"), JINT(l, "token"));
	assert_string_equal(RES_NAME(g), RES_NAME(l));
	assert_string_equal(JSTR(g, "mode"), "pop");
	json_decref(g);

	/* ttl 0: no TTL; owner given is kept */
	l2 = CALL_OK(c, "lease", J("{s:s, s:i, s:s}", "pool", "p", "ttl", 0, "owner", "job 42 \xc3\xa9"));
	assert_true(json_is_null(json_object_get(l2, "expires_at")));
	assert_string_equal(JSTR(l2, "owner"), "job 42 \xc3\xa9");
	assert_string_not_equal(LEASE_ID(l2), id);
	assert_string_not_equal(RES_NAME(l2), RES_NAME(l));
	l3 = CALL_OK(c, "checkout", J("{s:s, s:s}", "pool", "p", "bind", "none"));
	assert_string_equal(JSTR(l3, "mode"), "checkout");
	CALL_ERR(c, "lease", J("{s:s}", "pool", "p"), POOL_E_EXHAUSTED);
	CALL_ERR(c, "lease", J("{s:s}", "pool", "nope"), POOL_E_NOT_FOUND);
	CALL_ERR(c, "lease.get", J("{s:s}", "lease", "0123456789abcdef0123456789abcdef"),
		 POOL_E_NOT_FOUND);
	json_decref(l);
	json_decref(l2);
	json_decref(l3);
	pool_close(c);
	poold_stop(d);
}

static void test_versions(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *l, *r, *res, *resp;
	raw_conn *w;

	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);
	r = CALL_OK(c, "resource.get", J("{s:s, s:s}", "pool", "p", "name", "r1"));
	assert_int_equal(JINT(r, "version"), 1);
	json_decref(r);

	l = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	assert_int_equal(RES_VERSION(l), 2);
	res = CALL_OK(c, "replace", J("{s:s, s:{s:i}, s:i}", "lease", LEASE_ID(l), "descriptor", "a", 1, "version", 2));
	assert_int_equal(JINT(res, "version"), 3);
	json_decref(res);
	/* return with a descriptor is one change, and what is given back goes in */
	json_decref(CALL_OK(c, "return", J("{s:s, s:{s:i}}", "lease", LEASE_ID(l), "descriptor", "b", 2)));
	r = CALL_OK(c, "resource.get", J("{s:s, s:s}", "pool", "p", "name", "r1"));
	assert_int_equal(JINT(r, "version"), 4);
	assert_int_equal(JINT(JOBJ(r, "descriptor"), "b"), 2);
	assert_null(json_object_get(JOBJ(r, "descriptor"), "a"));
	assert_string_equal(JSTR(r, "state"), "free");
	json_decref(r);
	json_decref(l);

	l = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	assert_int_equal(RES_VERSION(l), 5);
	assert_int_equal(JINT(JOBJ(JOBJ(l, "resource"), "descriptor"), "b"), 2);
	/* a resource handed straight to a waiter: return +1, lease +1 */
	w = waiter(d, c, "p", "{\"id\":1,\"op\":\"lease\",\"pool\":\"p\",\"wait\":10}", 1);
	ret(c, l);
	resp = raw_recv(w, 5);
	assert_int_equal(JINT(JOBJ(resp_result(resp), "resource"), "version"), 7);
	assert_string_equal(JSTR(JOBJ(resp_result(resp), "resource"), "state"), "leased");
	json_decref(CALL_OK(c, "return", J("{s:s}", "lease", JSTR(resp_result(resp), "lease"))));
	r = CALL_OK(c, "resource.get", J("{s:s, s:s}", "pool", "p", "name", "r1"));
	assert_int_equal(JINT(r, "version"), 8);
	assert_int_equal(JINT(r, "lease_count"), 3);
	json_decref(r);
	json_decref(resp);
	json_decref(l);
	raw_close(w);
	pool_close(c);
	poold_stop(d);
}

static bool builtin_name(const char *pool, const char *name)
{
	size_t n = strlen(pool);

	if (strncmp(name, pool, n) != 0 || name[n] != '-' || strlen(name) != n + 6)
		return false;
	for (size_t i = n + 1; i < n + 6; i++)
		if (name[i] < 'a' || name[i] > 'z')
			return false;
	return true;
}

static void test_create_on_empty(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *l1, *l2, *l3, *r, *st;
	double t0;

	json_decref(CALL_OK(c, "pool.create", J("{s:s, s:i}", "pool", "c", "max_size", 2)));
	l1 = CALL_OK(c, "lease", J("{s:s}", "pool", "c"));
	r = JOBJ(l1, "resource");
	if (!builtin_name("c", JSTR(r, "name")))
		fail_msg("builtin name %s is not c-<5 lowercase letters>", JSTR(r, "name"));
	assert_string_equal(JSTR(JOBJ(r, "descriptor"), "name"), JSTR(r, "name"));
	assert_int_equal(json_object_size(JOBJ(r, "descriptor")), 1);
	assert_int_equal(JINT(r, "version"), 2);
	assert_string_equal(JSTR(r, "state"), "leased");
	l2 = CALL_OK(c, "checkout", J("{s:s}", "pool", "c"));
	assert_true(builtin_name("c", RES_NAME(l2)));
	assert_string_not_equal(RES_NAME(l2), RES_NAME(l1));
	assert_int_equal(RES_VERSION(l2), 2);

	/* at max_size: exhausted without wait, timeout with one */
	CALL_ERR(c, "lease", J("{s:s}", "pool", "c"), POOL_E_EXHAUSTED);
	CALL_ERR(c, "checkout", J("{s:s}", "pool", "c"), POOL_E_EXHAUSTED);
	t0 = h_now();
	CALL_ERR(c, "lease", J("{s:s, s:f}", "pool", "c", "wait", 0.3), POOL_E_TIMEOUT);
	assert_true(h_now() - t0 >= 0.29);
	st = h_status(c, "c");
	assert_int_equal(JINT(st, "total"), 2);
	assert_int_equal(JINT(JOBJ(st, "counters"), "created"), 2);
	assert_int_equal(JINT(JOBJ(st, "counters"), "exhausted"), 2);
	assert_int_equal(JINT(JOBJ(st, "counters"), "wait_timeouts"), 1);
	json_decref(st);

	/* a returned one is reused, not a third created */
	ret(c, l1);
	l3 = CALL_OK(c, "lease", J("{s:s}", "pool", "c"));
	assert_string_equal(RES_NAME(l3), RES_NAME(l1));
	assert_int_equal(h_counter(c, "c", "created"), 2);

	/* create "none": an empty pool is exhausted */
	h_pool(c, "n", NULL);
	CALL_ERR(c, "lease", J("{s:s}", "pool", "n"), POOL_E_EXHAUSTED);
	assert_int_equal(h_status_field(c, "n", "total"), 0);
	assert_int_equal(h_counter(c, "n", "exhausted"), 1);

	/* no max_size: grows as needed */
	json_decref(CALL_OK(c, "pool.create", J("{s:s}", "pool", "g")));
	for (int i = 0; i < 5; i++)
		json_decref(CALL_OK(c, "lease", J("{s:s}", "pool", "g")));
	assert_int_equal(h_status_field(c, "g", "total"), 5);
	assert_int_equal(h_status_field(c, "g", "leased"), 5);
	json_decref(l1);
	json_decref(l2);
	json_decref(l3);
	pool_close(c);
	poold_stop(d);
}

static void test_order(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	static const char *const pools[] = { "lifo", "fifo" };

	h_pool(c, "lifo", NULL);
	h_pool(c, "fifo", "{\"order\": \"fifo\"}");
	for (int i = 0; i < 2; i++) {
		json_t *a, *b, *n;
		const char *p = pools[i];

		h_add(c, p, "r1", "r2", NULL);
		a = CALL_OK(c, "lease", J("{s:s}", "pool", p));
		b = CALL_OK(c, "lease", J("{s:s}", "pool", p));
		ret(c, a);
		h_sleep(0.01);
		ret(c, b);
		n = CALL_OK(c, "lease", J("{s:s}", "pool", p));
		/* lifo: the most recently returned; fifo: the longest free */
		assert_string_equal(RES_NAME(n), RES_NAME(i == 0 ? b : a));
		json_decref(a);
		json_decref(b);
		json_decref(n);
	}
	pool_close(c);
	poold_stop(d);
}

static void test_return(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *l, *res;

	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", "r2", NULL);
	l = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	res = CALL_OK(c, "return", J("{s:s}", "lease", LEASE_ID(l)));
	assert_int_equal(json_object_size(res), 0);
	json_decref(res);
	assert_string_equal(h_res_state(c, "p", RES_NAME(l)), "free");
	/* a lease ends exactly once */
	CALL_ERR(c, "return", J("{s:s}", "lease", LEASE_ID(l)), POOL_E_NOT_FOUND);
	CALL_ERR(c, "renew", J("{s:s}", "lease", LEASE_ID(l)), POOL_E_NOT_FOUND);
	CALL_ERR(c, "checkin", J("{s:s}", "lease", LEASE_ID(l)), POOL_E_NOT_FOUND);
	CALL_ERR(c, "replace", J("{s:s, s:{}, s:i}", "lease", LEASE_ID(l), "descriptor", "version", 3),
		 POOL_E_NOT_FOUND);
	CALL_ERR(c, "lease.get", J("{s:s}", "lease", LEASE_ID(l)), POOL_E_NOT_FOUND);
	CALL_ERR(c, "return", J("{s:s}", "lease", "ffffffffffffffffffffffffffffffff"), POOL_E_NOT_FOUND);
	assert_int_equal(h_counter(c, "p", "returns"), 1);
	json_decref(l);

	/* bad descriptor: nothing happens */
	l = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	CALL_ERR(c, "return", J("{s:s, s:[]}", "lease", LEASE_ID(l), "descriptor"), POOL_E_BAD_REQUEST);
	assert_string_equal(h_res_state(c, "p", RES_NAME(l)), "leased");
	/* discard: the resource is destroyed instead of reused */
	json_decref(CALL_OK(c, "return", J("{s:s, s:b}", "lease", LEASE_ID(l), "discard", 1)));
	WAIT_UNTIL(strcmp(h_res_state(c, "p", RES_NAME(l)), "") == 0, 5);
	assert_int_equal(h_status_field(c, "p", "total"), 1);
	assert_int_equal(h_counter(c, "p", "destroyed"), 1);
	json_decref(l);
	pool_close(c);
	poold_stop(d);
}

static void test_checkout_name_match(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *l, *lt, *lf, *ls;

	h_pool(c, "p", NULL);
	json_decref(CALL_OK(c, "resource.add",
			    J("{s:s, s:[{s:s, s:{s:i, s:s}}, {s:s, s:{s:f, s:s}}, {s:s, s:{s:b}},"
			      " {s:s, s:{s:s}}, {s:s, s:{s:{s:i}}}]}",
			      "pool", "p", "resources",
			      "name", "int", "descriptor", "k", 1, "zone", "a",
			      "name", "real", "descriptor", "k", 1.0, "zone", "b",
			      "name", "bool", "descriptor", "k", 1,
			      "name", "str", "descriptor", "k", "1",
			      "name", "obj", "descriptor", "k", "x", 1)));
	/* match is type-exact: 1, 1.0, true and "1" all differ */
	CALL_ERR(c, "checkout", J("{s:s, s:{s:i, s:s}}", "pool", "p", "match", "k", 1, "zone", "b"),
		 POOL_E_EXHAUSTED);
	lf = CALL_OK(c, "checkout", J("{s:s, s:{s:i}}", "pool", "p", "match", "k", 1));
	assert_string_equal(RES_NAME(lf), "int");
	ret(c, lf);
	json_decref(lf);
	l = CALL_OK(c, "checkout", J("{s:s, s:{s:f}}", "pool", "p", "match", "k", 1.0));
	assert_string_equal(RES_NAME(l), "real");
	assert_string_equal(JSTR(l, "mode"), "checkout");
	lt = CALL_OK(c, "checkout", J("{s:s, s:{s:b}}", "pool", "p", "match", "k", 1));
	assert_string_equal(RES_NAME(lt), "bool");
	ls = CALL_OK(c, "checkout", J("{s:s, s:{s:s}}", "pool", "p", "match", "k", "1"));
	assert_string_equal(RES_NAME(ls), "str");
	lf = CALL_OK(c, "checkout", J("{s:s, s:{s:{s:i}}}", "pool", "p", "match", "k", "x", 1));
	assert_string_equal(RES_NAME(lf), "obj");
	json_decref(lf);
	/* every key must match */
	lf = CALL_OK(c, "checkout", J("{s:s, s:{s:i, s:s}}", "pool", "p", "match", "k", 1, "zone", "a"));
	assert_string_equal(RES_NAME(lf), "int");
	/* all matching ones taken: exhausted (never one of another type) */
	CALL_ERR(c, "checkout", J("{s:s, s:{s:i}}", "pool", "p", "match", "k", 1), POOL_E_EXHAUSTED);
	CALL_ERR(c, "checkout", J("{s:s, s:{s:s}}", "pool", "p", "match", "nokey", "v"),
		 POOL_E_EXHAUSTED);
	ret(c, lf);
	json_decref(lf);
	/* by name */
	lf = CALL_OK(c, "checkout", J("{s:s, s:s}", "pool", "p", "name", "int"));
	assert_string_equal(RES_NAME(lf), "int");
	CALL_ERR(c, "checkout", J("{s:s, s:s}", "pool", "p", "name", "int"), POOL_E_EXHAUSTED);
	CALL_ERR(c, "checkout", J("{s:s, s:s}", "pool", "p", "name", "ghost"), POOL_E_NOT_FOUND);
	CALL_ERR(c, "checkout", J("{s:s, s:s, s:f}", "pool", "p", "name", "ghost", "wait", 1.0),
		 POOL_E_NOT_FOUND);
	assert_int_equal(h_counter(c, "p", "checkouts"), 7);
	json_decref(l);
	json_decref(lt);
	json_decref(ls);
	json_decref(lf);
	pool_close(c);
	poold_stop(d);
}

static void test_checkout_named_wait(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *l, *resp;
	raw_conn *w;

	/* create-on-empty does not apply to a named checkout */
	json_decref(CALL_OK(c, "pool.create", J("{s:s}", "pool", "p")));
	h_add(c, "p", "r1", "r2", NULL);
	l = CALL_OK(c, "checkout", J("{s:s, s:s}", "pool", "p", "name", "r1"));
	w = waiter(d, c, "p", "{\"id\":\"n\",\"op\":\"checkout\",\"pool\":\"p\",\"name\":\"r1\",\"wait\":10}", 1);
	/* r2 being free does not satisfy the named waiter */
	assert_true(raw_silent(w, 0.2));
	assert_string_equal(h_res_state(c, "p", "r2"), "free");
	assert_int_equal(h_status_field(c, "p", "total"), 2);
	json_decref(CALL_OK(c, "checkin", J("{s:s}", "lease", LEASE_ID(l))));
	resp = raw_recv(w, 5);
	assert_string_equal(JSTR(JOBJ(resp_result(resp), "resource"), "name"), "r1");
	assert_string_equal(JSTR(resp_result(resp), "mode"), "checkout");
	assert_string_equal(h_res_state(c, "p", "r1"), "leased");
	json_decref(resp);
	json_decref(l);
	raw_close(w);
	pool_close(c);
	poold_stop(d);
}

static void test_replace_cas(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *l, *res, *r, *g;

	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);
	l = CALL_OK(c, "checkout", J("{s:s, s:s}", "pool", "p", "name", "r1"));
	assert_int_equal(RES_VERSION(l), 2);
	res = CALL_OK(c, "replace", J("{s:s, s:{s:s}, s:i}", "lease", LEASE_ID(l), "descriptor", "s", "one", "version", 2));
	assert_int_equal(JINT(res, "version"), 3);
	json_decref(res);
	/* a stale version loses: conflict, nothing changed */
	CALL_ERR(c, "replace", J("{s:s, s:{s:s}, s:i}", "lease", LEASE_ID(l), "descriptor", "s", "stale", "version", 2),
		 POOL_E_CONFLICT);
	CALL_ERR(c, "replace", J("{s:s, s:{s:s}, s:i}", "lease", LEASE_ID(l), "descriptor", "s", "future", "version", 4),
		 POOL_E_CONFLICT);
	r = CALL_OK(c, "resource.get", J("{s:s, s:s}", "pool", "p", "name", "r1"));
	assert_int_equal(JINT(r, "version"), 3);
	assert_string_equal(JSTR(JOBJ(r, "descriptor"), "s"), "one");
	/* the lease stays held */
	assert_string_equal(JSTR(r, "state"), "leased");
	json_decref(r);
	g = CALL_OK(c, "lease.get", J("{s:s}", "lease", LEASE_ID(l)));
	assert_int_equal(RES_VERSION(g), 3);
	json_decref(g);
	res = CALL_OK(c, "replace", J("{s:s, s:{s:s}, s:i}", "lease", LEASE_ID(l), "descriptor", "s", "two", "version", 3));
	assert_int_equal(JINT(res, "version"), 4);
	json_decref(res);
	CALL_ERR(c, "replace", J("{s:s, s:{s:s}}", "lease", LEASE_ID(l), "descriptor", "s", "x"),
		 POOL_E_BAD_REQUEST);
	CALL_ERR(c, "replace", J("{s:s, s:i}", "lease", LEASE_ID(l), "version", 4), POOL_E_BAD_REQUEST);
	ret(c, l);
	json_decref(l);

	/* replace works on a pop lease too */
	l = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	assert_int_equal(RES_VERSION(l), 6);
	res = CALL_OK(c, "replace", J("{s:s, s:{s:s}, s:i}", "lease", LEASE_ID(l), "descriptor", "s", "pop", "version", 6));
	assert_int_equal(JINT(res, "version"), 7);
	json_decref(res);
	assert_string_equal(h_res_state(c, "p", "r1"), "leased");
	json_decref(l);
	pool_close(c);
	poold_stop(d);
}

static void test_checkin(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *l, *r;

	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", "r2", NULL);
	l = CALL_OK(c, "checkout", J("{s:s, s:s}", "pool", "p", "name", "r1"));
	/* a final descriptor needs its version */
	CALL_ERR(c, "checkin", J("{s:s, s:{s:i}}", "lease", LEASE_ID(l), "descriptor", "f", 1),
		 POOL_E_BAD_REQUEST);
	/* stale: conflict, the lease stays */
	CALL_ERR(c, "checkin", J("{s:s, s:{s:i}, s:i}", "lease", LEASE_ID(l), "descriptor", "f", 1, "version", 1),
		 POOL_E_CONFLICT);
	assert_string_equal(h_res_state(c, "p", "r1"), "leased");
	json_decref(CALL_OK(c, "lease.get", J("{s:s}", "lease", LEASE_ID(l))));
	json_decref(CALL_OK(c, "checkin", J("{s:s, s:{s:i}, s:i}", "lease", LEASE_ID(l), "descriptor", "f", 1, "version", 2)));
	r = CALL_OK(c, "resource.get", J("{s:s, s:s}", "pool", "p", "name", "r1"));
	assert_string_equal(JSTR(r, "state"), "free");
	assert_int_equal(JINT(JOBJ(r, "descriptor"), "f"), 1);
	assert_int_equal(JINT(r, "version"), 3);
	json_decref(r);
	CALL_ERR(c, "checkin", J("{s:s}", "lease", LEASE_ID(l)), POOL_E_NOT_FOUND);
	CALL_ERR(c, "return", J("{s:s}", "lease", LEASE_ID(l)), POOL_E_NOT_FOUND);
	json_decref(l);

	/* checkin ends a pop lease too; return ends a checkout lease */
	l = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	json_decref(CALL_OK(c, "checkin", J("{s:s}", "lease", LEASE_ID(l))));
	assert_string_equal(h_res_state(c, "p", RES_NAME(l)), "free");
	json_decref(l);
	l = CALL_OK(c, "checkout", J("{s:s, s:s}", "pool", "p", "name", "r2"));
	ret(c, l);
	assert_string_equal(h_res_state(c, "p", "r2"), "free");
	json_decref(l);

	/* checkin with discard destroys */
	l = CALL_OK(c, "checkout", J("{s:s, s:s}", "pool", "p", "name", "r2"));
	json_decref(CALL_OK(c, "checkin", J("{s:s, s:b}", "lease", LEASE_ID(l), "discard", 1)));
	WAIT_UNTIL(strcmp(h_res_state(c, "p", "r2"), "") == 0, 5);
	json_decref(l);
	pool_close(c);
	poold_stop(d);
}

static void test_renew(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *l, *res;
	double e0, e1, now;

	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);
	l = CALL_OK(c, "lease", J("{s:s, s:i}", "pool", "p", "ttl", 1));
	e0 = h_parse_time(JSTR(l, "expires_at"));
	/* keep it alive past several TTLs by renewing */
	for (int i = 0; i < 5; i++) {
		h_sleep(0.4);
		res = CALL_OK(c, "renew", J("{s:s}", "lease", LEASE_ID(l)));
		e1 = h_parse_time(JSTR(res, "expires_at"));
		now = h_wall();
		/* default: the lease's TTL again */
		assert_true(e1 > now + 0.5 && e1 < now + 1.5);
		json_decref(res);
	}
	assert_true(e1 > e0 + 1.5);
	assert_string_equal(h_res_state(c, "p", "r1"), "leased");
	json_decref(CALL_OK(c, "lease.get", J("{s:s}", "lease", LEASE_ID(l))));

	/* a ttl given becomes the lease's TTL for later renews */
	res = CALL_OK(c, "renew", J("{s:s, s:i}", "lease", LEASE_ID(l), "ttl", 100));
	now = h_wall();
	assert_true(fabs(h_parse_time(JSTR(res, "expires_at")) - (now + 100)) < 3);
	json_decref(res);
	res = CALL_OK(c, "renew", J("{s:s}", "lease", LEASE_ID(l)));
	assert_true(fabs(h_parse_time(JSTR(res, "expires_at")) - (now + 100)) < 3);
	json_decref(res);
	{
		json_t *g = CALL_OK(c, "lease.get", J("{s:s}", "lease", LEASE_ID(l)));

		assert_true(fabs(h_parse_time(JSTR(g, "expires_at")) - (now + 100)) < 3);
		json_decref(g);
	}
	/* ttl 0: no TTL any more */
	res = CALL_OK(c, "renew", J("{s:s, s:i}", "lease", LEASE_ID(l), "ttl", 0));
	assert_true(json_is_null(json_object_get(res, "expires_at")));
	json_decref(res);
	CALL_ERR(c, "renew", J("{s:s, s:i}", "lease", LEASE_ID(l), "ttl", -1), POOL_E_BAD_REQUEST);
	CALL_ERR(c, "renew", J("{s:s}", "lease", "0123456789abcdef0123456789abcdef"), POOL_E_NOT_FOUND);
	json_decref(l);
	pool_close(c);
	poold_stop(d);
}

static void test_expiry(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *l, *l2;
	double exp, seen;

	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);
	l = CALL_OK(c, "lease", J("{s:s, s:i}", "pool", "p", "ttl", 1));
	exp = h_parse_time(JSTR(l, "expires_at"));
	assert_true(exp > 0);
	WAIT_UNTIL(strcmp(h_res_state(c, "p", "r1"), "free") == 0, 4);
	seen = h_wall();
	/* never before expires_at, and within ~1 s after it */
	assert_true(seen >= exp - 0.05);
	if (seen > exp + 1.5)
		fail_msg("expired %.2fs after expires_at (limit 1 s)", seen - exp);

	CALL_ERR(c, "return", J("{s:s}", "lease", LEASE_ID(l)), POOL_E_EXPIRED);
	CALL_ERR(c, "renew", J("{s:s}", "lease", LEASE_ID(l)), POOL_E_EXPIRED);
	CALL_ERR(c, "checkin", J("{s:s}", "lease", LEASE_ID(l)), POOL_E_EXPIRED);
	CALL_ERR(c, "replace", J("{s:s, s:{}, s:i}", "lease", LEASE_ID(l), "descriptor", "version", 3),
		 POOL_E_EXPIRED);
	assert_int_equal(h_counter(c, "p", "expired"), 1);
	assert_int_equal(h_counter(c, "p", "returns"), 0);

	/* the next holder is not disturbed by the stale one */
	l2 = CALL_OK(c, "lease", J("{s:s, s:i}", "pool", "p", "ttl", 0));
	assert_true(JINT(l2, "token") > JINT(l, "token"));
	CALL_ERR(c, "return", J("{s:s}", "lease", LEASE_ID(l)), POOL_E_EXPIRED);
	assert_string_equal(h_res_state(c, "p", "r1"), "leased");
	ret(c, l2);
	json_decref(l);
	json_decref(l2);

	/* an expiry hands the resource to a waiter */
	l = CALL_OK(c, "lease", J("{s:s, s:f}", "pool", "p", "ttl", 0.5));
	{
		raw_conn *w = waiter(d, c, "p", "{\"id\":1,\"op\":\"lease\",\"pool\":\"p\",\"wait\":5}", 1);
		json_t *resp = raw_recv(w, 4);

		assert_string_equal(JSTR(JOBJ(resp_result(resp), "resource"), "name"), "r1");
		json_decref(resp);
		raw_close(w);
	}
	json_decref(l);
	pool_close(c);
	poold_stop(d);
}

static void test_on_expire_discard(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *l;

	h_pool(c, "p", "{\"on_expire\": \"discard\"}");
	h_add(c, "p", "r1", "r2", NULL);
	l = CALL_OK(c, "checkout", J("{s:s, s:s, s:f}", "pool", "p", "name", "r1", "ttl", 0.5));
	WAIT_UNTIL(strcmp(h_res_state(c, "p", "r1"), "") == 0, 4);
	assert_int_equal(h_status_field(c, "p", "total"), 1);
	assert_int_equal(h_counter(c, "p", "expired"), 1);
	CALL_ERR(c, "return", J("{s:s}", "lease", LEASE_ID(l)), POOL_E_EXPIRED);
	assert_string_equal(h_res_state(c, "p", "r2"), "free");
	json_decref(l);

	/* pool lease_ttl is the default TTL */
	json_decref(CALL_OK(c, "pool.set", J("{s:s, s:f, s:s}", "pool", "p", "lease_ttl", 0.5, "on_expire", "return")));
	l = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	assert_false(json_is_null(json_object_get(l, "expires_at")));
	WAIT_UNTIL(strcmp(h_res_state(c, "p", "r2"), "free") == 0, 4);
	assert_int_equal(h_counter(c, "p", "expired"), 2);
	json_decref(l);
	pool_close(c);
	poold_stop(d);
}

static void test_wait_fifo(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	raw_conn *w[4];
	json_t *l, *resp = NULL;
	char req[128];

	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);
	l = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	for (int i = 0; i < 4; i++) {
		snprintf(req, sizeof(req), "{\"id\":%d,\"op\":\"lease\",\"pool\":\"p\",\"wait\":20}", i);
		w[i] = waiter(d, c, "p", req, i + 1);
	}
	assert_int_equal(h_counter(c, "p", "waited"), 4);
	/* each return goes to the oldest waiter, in order */
	for (int i = 0; i < 4; i++) {
		ret(c, i == 0 ? l : resp_result(resp));
		json_decref(resp);
		resp = raw_recv(w[i], 5);
		assert_int_equal(json_integer_value(json_object_get(resp, "id")), i);
		assert_string_equal(JSTR(JOBJ(resp_result(resp), "resource"), "name"), "r1");
		for (int j = i + 1; j < 4; j++)
			assert_true(raw_silent(w[j], 0.05));
		assert_int_equal(h_status_field(c, "p", "waiters"), 3 - i);
	}
	/* a waiter's lease is a normal lease: return it from another connection */
	ret(c, resp_result(resp));
	json_decref(resp);
	assert_string_equal(h_res_state(c, "p", "r1"), "free");
	assert_int_equal(h_counter(c, "p", "leases"), 5);
	for (int i = 0; i < 4; i++)
		raw_close(w[i]);
	json_decref(l);
	pool_close(c);
	poold_stop(d);
}

static void test_wait_busy_timeout(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	raw_conn *w;
	json_t *l, *resp;
	double t0, dt;

	h_pool(c, "p", "{\"max_waiters\": 1}");
	h_add(c, "p", "r1", NULL);
	l = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	w = waiter(d, c, "p", "{\"id\":1,\"op\":\"lease\",\"pool\":\"p\",\"wait\":20}", 1);
	/* the queue is full: busy (a queued request would have ended with
	 * timeout, not busy) */
	CALL_ERR(c, "lease", J("{s:s, s:i}", "pool", "p", "wait", 5), POOL_E_BUSY);
	CALL_ERR(c, "lease", J("{s:s}", "pool", "p"), POOL_E_EXHAUSTED);
	assert_int_equal(h_counter(c, "p", "busy"), 1);
	assert_int_equal(h_status_field(c, "p", "waiters"), 1);
	ret(c, l);
	resp = raw_recv(w, 5);
	resp_result(resp);
	json_decref(resp);
	json_decref(l);
	raw_close(w);

	/* max_waiters 0: no request may wait */
	h_pool(c, "z", "{\"max_waiters\": 0}");
	CALL_ERR(c, "lease", J("{s:s, s:i}", "pool", "z", "wait", 1), POOL_E_BUSY);
	CALL_ERR(c, "lease", J("{s:s}", "pool", "z"), POOL_E_EXHAUSTED);
	assert_int_equal(h_counter(c, "z", "busy"), 1);

	/* timeout when the wait runs out */
	h_pool(c, "t", NULL);
	t0 = h_now();
	CALL_ERR(c, "lease", J("{s:s, s:f}", "pool", "t", "wait", 0.4), POOL_E_TIMEOUT);
	dt = h_now() - t0;
	assert_true(dt >= 0.39);
	if (dt > 2.0)
		fail_msg("timeout answered after %.2fs for wait 0.4", dt);
	assert_int_equal(h_counter(c, "t", "wait_timeouts"), 1);
	assert_int_equal(h_counter(c, "t", "waited"), 1);
	assert_int_equal(h_status_field(c, "t", "waiters"), 0);
	pool_close(c);
	poold_stop(d);
}

/* A waiter that timed out or whose connection closed leaves the queue: the
 * next return goes to the next live waiter, or makes the resource free. */
static void test_waiters_leave_queue(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	raw_conn *a, *b, *gone;
	json_t *l, *resp;

	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);
	l = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	a = waiter(d, c, "p", "{\"id\":\"a\",\"op\":\"lease\",\"pool\":\"p\",\"wait\":0.3}", 1);
	gone = waiter(d, c, "p", "{\"id\":\"g\",\"op\":\"lease\",\"pool\":\"p\",\"wait\":20}", 2);
	b = waiter(d, c, "p", "{\"id\":\"b\",\"op\":\"lease\",\"pool\":\"p\",\"wait\":20}", 3);
	resp = raw_recv(a, 5);
	resp_expect_err(resp, "timeout");
	assert_string_equal(json_string_value(json_object_get(resp, "id")), "a");
	json_decref(resp);
	raw_close(gone);
	WAIT_UNTIL(h_status_field(c, "p", "waiters") == 1, 5);
	ret(c, l);
	json_decref(l);
	resp = raw_recv(b, 5);
	assert_string_equal(json_string_value(json_object_get(resp, "id")), "b");
	l = json_incref(resp_result(resp));
	json_decref(resp);
	assert_int_equal(h_status_field(c, "p", "leased"), 1);
	json_decref(CALL_OK(c, "lease.get", J("{s:s}", "lease", LEASE_ID(l))));

	/* the only waiter hangs up: the next return makes the resource free */
	gone = waiter(d, c, "p", "{\"id\":\"g2\",\"op\":\"lease\",\"pool\":\"p\",\"wait\":20}", 1);
	raw_close(gone);
	WAIT_UNTIL(h_status_field(c, "p", "waiters") == 0, 5);
	ret(c, l);
	assert_string_equal(h_res_state(c, "p", "r1"), "free");
	assert_int_equal(h_status_field(c, "p", "leased"), 0);
	{
		json_t *list = CALL_OK(c, "lease.list", NULL);

		assert_int_equal(json_array_size(json_object_get(list, "leases")), 0);
		json_decref(list);
	}
	json_decref(l);
	raw_close(a);
	raw_close(b);
	pool_close(c);
	poold_stop(d);
}

/* A checkout waiting with match gets only a matching resource. */
static void test_match_waiter(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	raw_conn *w;
	json_t *la, *lb, *resp;

	h_pool(c, "p", NULL);
	json_decref(CALL_OK(c, "resource.add",
			    J("{s:s, s:[{s:s, s:{s:s}}, {s:s, s:{s:s}}]}", "pool", "p", "resources",
			      "name", "a", "descriptor", "gpu", "no", "name", "b", "descriptor", "gpu", "yes")));
	la = CALL_OK(c, "checkout", J("{s:s, s:s}", "pool", "p", "name", "a"));
	lb = CALL_OK(c, "checkout", J("{s:s, s:s}", "pool", "p", "name", "b"));
	w = waiter(d, c, "p", "{\"id\":1,\"op\":\"checkout\",\"pool\":\"p\",\"match\":{\"gpu\":\"yes\"},\"wait\":10}", 1);
	ret(c, la);
	assert_true(raw_silent(w, 0.2));
	assert_string_equal(h_res_state(c, "p", "a"), "free");
	ret(c, lb);
	resp = raw_recv(w, 5);
	assert_string_equal(JSTR(JOBJ(resp_result(resp), "resource"), "name"), "b");
	json_decref(resp);
	json_decref(la);
	json_decref(lb);
	raw_close(w);
	pool_close(c);
	poold_stop(d);
}

static void test_request_id(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	pool_client *c2 = h_connect(d);
	json_t *a, *b, *n;
	raw_conn *w;
	char rid[140];

	h_pool(c, "p", NULL);
	h_pool(c, "q", NULL);
	h_add(c, "p", "r1", "r2", "r3", NULL);
	h_add(c, "q", "q1", NULL);
	a = CALL_OK(c, "lease", J("{s:s, s:s}", "pool", "p", "request_id", "job-1"));
	/* a retry (here from another connection of the same uid) gets the same lease */
	b = CALL_OK(c2, "lease", J("{s:s, s:s}", "pool", "p", "request_id", "job-1"));
	assert_string_equal(LEASE_ID(b), LEASE_ID(a));
	assert_int_equal(JINT(b, "token"), JINT(a, "token"));
	assert_string_equal(RES_NAME(b), RES_NAME(a));
	assert_int_equal(h_status_field(c, "p", "leased"), 1);
	/* the same request_id for another pool or op: conflict */
	CALL_ERR(c, "lease", J("{s:s, s:s}", "pool", "q", "request_id", "job-1"), POOL_E_CONFLICT);
	CALL_ERR(c, "checkout", J("{s:s, s:s}", "pool", "p", "request_id", "job-1"), POOL_E_CONFLICT);
	assert_int_equal(h_status_field(c, "q", "leased"), 0);
	assert_int_equal(h_status_field(c, "p", "leased"), 1);
	/* once the lease ended, the id may be used again */
	ret(c, a);
	n = CALL_OK(c, "lease", J("{s:s, s:s}", "pool", "q", "request_id", "job-1"));
	assert_string_not_equal(LEASE_ID(n), LEASE_ID(a));
	json_decref(CALL_OK(c, "return", J("{s:s}", "lease", LEASE_ID(n))));
	json_decref(n);

	/* checkout is idempotent too */
	n = CALL_OK(c, "checkout", J("{s:s, s:s, s:s}", "pool", "p", "name", "r2", "request_id", "co"));
	json_decref(b);
	b = CALL_OK(c2, "checkout", J("{s:s, s:s, s:s}", "pool", "p", "name", "r2", "request_id", "co"));
	assert_string_equal(LEASE_ID(b), LEASE_ID(n));
	json_decref(n);

	/* a request waiting with a request_id blocks that id elsewhere */
	n = CALL_OK(c, "lease", J("{s:s}", "pool", "q"));
	w = waiter(d, c, "q", "{\"id\":1,\"op\":\"lease\",\"pool\":\"q\",\"wait\":20,\"request_id\":\"wt\"}", 1);
	CALL_ERR(c, "lease", J("{s:s, s:s}", "pool", "p", "request_id", "wt"), POOL_E_CONFLICT);
	ret(c, n);
	json_decref(n);
	n = raw_recv(w, 5);
	{
		json_t *again = CALL_OK(c, "lease", J("{s:s, s:s}", "pool", "q", "request_id", "wt"));

		assert_string_equal(LEASE_ID(again), JSTR(resp_result(n), "lease"));
		json_decref(again);
	}
	json_decref(n);

	/* 1-128 chars */
	memset(rid, 'r', 128);
	rid[128] = '\0';
	json_decref(CALL_OK(c, "lease", J("{s:s, s:s}", "pool", "p", "request_id", rid)));
	rid[128] = 'r';
	rid[129] = '\0';
	CALL_ERR(c, "lease", J("{s:s, s:s}", "pool", "p", "request_id", rid), POOL_E_BAD_REQUEST);
	CALL_ERR(c, "lease", J("{s:s, s:s}", "pool", "p", "request_id", ""), POOL_E_BAD_REQUEST);
	json_decref(a);
	json_decref(b);
	raw_close(w);
	pool_close(c2);
	pool_close(c);
	poold_stop(d);
}

static void test_bind_connection(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	pool_client *a;
	raw_conn *rc, *w;
	json_t *l, *resp;
	char *id;

	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);

	/* raw connection closes: its lease ends */
	rc = raw_connect(d->sock);
	resp = raw_req(rc, "{\"op\":\"lease\",\"pool\":\"p\",\"bind\":\"connection\"}");
	assert_string_equal(JSTR(resp_result(resp), "bind"), "connection");
	id = strdup(JSTR(resp_result(resp), "lease"));
	json_decref(resp);
	assert_string_equal(h_res_state(c, "p", "r1"), "leased");
	raw_close(rc);
	WAIT_UNTIL(strcmp(h_res_state(c, "p", "r1"), "free") == 0, 5);
	CALL_ERR(c, "lease.get", J("{s:s}", "lease", id), POOL_E_NOT_FOUND);
	CALL_ERR(c, "return", J("{s:s}", "lease", id), POOL_E_NOT_FOUND);
	free(id);

	/* ... and a waiter gets the resource */
	a = h_connect(d);
	l = CALL_OK(a, "lease", J("{s:s, s:s}", "pool", "p", "bind", "connection"));
	w = waiter(d, c, "p", "{\"id\":\"w\",\"op\":\"lease\",\"pool\":\"p\",\"wait\":10}", 1);
	pool_close(a);
	resp = raw_recv(w, 5);
	assert_string_equal(JSTR(JOBJ(resp_result(resp), "resource"), "name"), "r1");
	assert_true(JINT(resp_result(resp), "token") > JINT(l, "token"));
	json_decref(l);

	/* bind none (the default) outlives its connection */
	raw_close(w);
	h_sleep(0.2);
	assert_string_equal(h_res_state(c, "p", "r1"), "leased");
	json_decref(CALL_OK(c, "return", J("{s:s}", "lease", JSTR(resp_result(resp), "lease"))));
	json_decref(resp);
	pool_close(c);
	poold_stop(d);
}

static void test_tokens_increase(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_int_t last = 0;

	h_pool(c, "a", NULL);
	h_pool(c, "b", NULL);
	h_add(c, "a", "a1", NULL);
	h_add(c, "b", "b1", NULL);
	for (int i = 0; i < 30; i++) {
		const char *p = (i % 3) ? "a" : "b";
		json_t *l = CALL_OK(c, (i % 2) ? "checkout" : "lease", J("{s:s}", "pool", p));

		if (JINT(l, "token") <= last)
			fail_msg("token %lld after %lld", (long long)JINT(l, "token"), (long long)last);
		last = JINT(l, "token");
		ret(c, l);
		json_decref(l);
	}
	pool_close(c);
	poold_stop(d);
}

static void test_lease_list(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *ls[4], *page, *e;
	char after[256];
	int seen = 0;
	size_t i;

	h_pool(c, "p", NULL);
	h_pool(c, "q", NULL);
	h_add(c, "p", "r1", "r2", "r3", NULL);
	h_add(c, "q", "q1", NULL);
	for (int k = 0; k < 4; k++) {
		ls[k] = CALL_OK(c, "lease", J("{s:s}", "pool", k == 2 ? "q" : "p"));
		h_sleep(0.01);
	}
	page = CALL_OK(c, "lease.list", NULL);
	assert_int_equal(json_array_size(json_object_get(page, "leases")), 4);
	json_array_foreach(json_object_get(page, "leases"), i, e)
		assert_string_equal(LEASE_ID(e), LEASE_ID(ls[i]));
	assert_true(json_is_null(json_object_get(page, "next")));
	json_decref(page);

	/* paging, one at a time, in acquired_at order */
	after[0] = '\0';
	for (;;) {
		json_t *args = J("{s:i}", "limit", 1);
		json_t *next;

		if (after[0])
			json_object_set_new(args, "after", json_string(after));
		page = CALL_OK(c, "lease.list", args);
		if (json_array_size(json_object_get(page, "leases")) == 0) {
			json_decref(page);
			break;
		}
		assert_int_equal(json_array_size(json_object_get(page, "leases")), 1);
		assert_true(seen < 4);
		e = json_array_get(json_object_get(page, "leases"), 0);
		assert_string_equal(LEASE_ID(e), LEASE_ID(ls[seen]));
		seen++;
		next = json_object_get(page, "next");
		if (json_is_null(next)) {
			json_decref(page);
			break;
		}
		assert_true(json_is_string(next));
		snprintf(after, sizeof(after), "%s", json_string_value(next));
		json_decref(page);
	}
	assert_int_equal(seen, 4);

	/* per pool */
	page = CALL_OK(c, "lease.list", J("{s:s}", "pool", "q"));
	assert_int_equal(json_array_size(json_object_get(page, "leases")), 1);
	assert_string_equal(LEASE_ID(json_array_get(json_object_get(page, "leases"), 0)), LEASE_ID(ls[2]));
	json_decref(page);
	page = CALL_OK(c, "lease.list", J("{s:s, s:i}", "pool", "p", "limit", 2));
	assert_int_equal(json_array_size(json_object_get(page, "leases")), 2);
	assert_string_equal(LEASE_ID(json_array_get(json_object_get(page, "leases"), 1)), LEASE_ID(ls[1]));
	assert_true(json_is_string(json_object_get(page, "next")));
	json_decref(page);
	/* ended leases are not listed */
	ret(c, ls[0]);
	page = CALL_OK(c, "lease.list", J("{s:s}", "pool", "p"));
	assert_int_equal(json_array_size(json_object_get(page, "leases")), 2);
	json_decref(page);
	for (int k = 0; k < 4; k++)
		json_decref(ls[k]);
	pool_close(c);
	poold_stop(d);
}

/* lease.list naming a pool that does not exist: not_found, as status and
 * resource.list answer. */
static void test_lease_list_missing_pool(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);

	CALL_ERR(c, "status", J("{s:s}", "pool", "nope"), POOL_E_NOT_FOUND);
	CALL_ERR(c, "resource.list", J("{s:s}", "pool", "nope"), POOL_E_NOT_FOUND);
	CALL_ERR(c, "lease.list", J("{s:s}", "pool", "nope"), POOL_E_NOT_FOUND);
	pool_close(c);
	poold_stop(d);
}

/* Read watch events until one named `event` arrives; fails after 5 s. Returns
 * it (new ref) after checking the fields every event carries. */
static json_t *next_event_at(const char *file, int line, raw_conn *w, const char *event)
{
	double end = h_now() + 5;

	while (h_now() < end) {
		char *text = raw_read_line(w, end - h_now());
		json_t *m;

		if (!text)
			break;
		m = json_loads(text, 0, NULL);
		free(text);
		if (!json_is_object(m) || !json_is_string(json_object_get(m, "event")) ||
		    !json_is_string(json_object_get(m, "pool")) ||
		    h_parse_time(json_string_value(json_object_get(m, "at"))) < 0) {
			print_error("malformed event\n");
			_fail(file, line);
		}
		if (strcmp(json_string_value(json_object_get(m, "event")), event) == 0)
			return m;
		json_decref(m);
	}
	print_error("no \"%s\" event within 5 s\n", event);
	_fail(file, line);
	return NULL;
}
#define next_event(w, e) next_event_at(__FILE__, __LINE__, w, e)

static void test_watch(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	raw_conn *w = raw_connect(d->sock);
	raw_conn *wq = raw_connect(d->sock);
	json_t *resp, *l, *e;

	json_decref(CALL_OK(c, "pool.create", J("{s:s}", "pool", "p")));
	h_pool(c, "q", NULL);
	resp = raw_req(w, "{\"id\":\"w\",\"op\":\"watch\",\"pool\":\"p\"}");
	assert_string_equal(json_string_value(json_object_get(resp, "id")), "w");
	assert_int_equal(json_object_size(resp_result(resp)), 0);
	json_decref(resp);
	resp = raw_req(wq, "{\"op\":\"watch\",\"pool\":\"q\"}");
	resp_result(resp);
	json_decref(resp);

	/* create-on-empty, then the lease */
	l = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	e = next_event(w, "created");
	assert_string_equal(JSTR(e, "pool"), "p");
	json_decref(e);
	e = next_event(w, "leased");
	assert_string_equal(JSTR(JOBJ(e, "resource"), "name"), RES_NAME(l));
	/* the watcher is admin: it sees the lease id */
	assert_string_equal(JSTR(e, "lease"), LEASE_ID(l));
	json_decref(e);
	json_decref(CALL_OK(c, "replace", J("{s:s, s:{}, s:i}", "lease", LEASE_ID(l), "descriptor", "version", 2)));
	json_decref(next_event(w, "replaced"));
	ret(c, l);
	e = next_event(w, "returned");
	assert_string_equal(JSTR(e, "lease"), LEASE_ID(l));
	json_decref(e);
	json_decref(l);
	l = CALL_OK(c, "checkout", J("{s:s, s:f}", "pool", "p", "ttl", 0.3));
	json_decref(next_event(w, "checked_out"));
	json_decref(next_event(w, "expired"));
	json_decref(l);
	l = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	json_decref(CALL_OK(c, "return", J("{s:s, s:b}", "lease", LEASE_ID(l), "discard", 1)));
	json_decref(next_event(w, "discarded"));
	json_decref(next_event(w, "destroyed"));
	json_decref(l);
	json_decref(CALL_OK(c, "pool.set", J("{s:s, s:i}", "pool", "p", "max_size", 9)));
	json_decref(next_event(w, "pool_changed"));

	/* nothing happened in q, and the watching connection still answers */
	assert_true(raw_silent(wq, 0.1));
	resp = raw_req(wq, "{\"op\":\"ping\",\"id\":5}");
	resp_result(resp);
	json_decref(resp);
	raw_close(w);
	raw_close(wq);
	pool_close(c);
	poold_stop(d);
}

/* Right after expires_at, before any housekeeping ran, the TTL has already run
 * out "before this request": expired, not ok. */
static void test_expired_at_the_edge(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	static const char *const ops[] = { "renew", "return", "checkin" };

	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		json_t *l = CALL_OK(c, "lease", J("{s:s, s:f}", "pool", "p", "ttl", 0.5));
		double exp = h_parse_time(JSTR(l, "expires_at"));

		WAIT_UNTIL(h_wall() > exp + 0.02, 3);
		CALL_ERR(c, ops[i], J("{s:s}", "lease", LEASE_ID(l)), POOL_E_EXPIRED);
		WAIT_UNTIL(strcmp(h_res_state(c, "p", "r1"), "free") == 0, 3);
		json_decref(l);
	}
	pool_close(c);
	poold_stop(d);
}

/* lease is pop-style: checkout's name/match are unknown fields for it. */
static void test_lease_rejects_checkout_fields(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	const char *msg;

	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", "r2", NULL);
	msg = CALL_ERR(c, "lease", J("{s:s, s:s}", "pool", "p", "name", "r2"), POOL_E_BAD_REQUEST);
	assert_non_null(strstr(msg, "name"));
	msg = CALL_ERR(c, "lease", J("{s:s, s:{}}", "pool", "p", "match"), POOL_E_BAD_REQUEST);
	assert_non_null(strstr(msg, "match"));
	assert_int_equal(h_status_field(c, "p", "leased"), 0);
	pool_close(c);
	poold_stop(d);
}

/* A discarded resource makes room: a waiter of a pool that may grow again is
 * served by create-on-empty. */
static void test_discard_lets_waiter_grow(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	raw_conn *w;
	json_t *l, *resp;

	json_decref(CALL_OK(c, "pool.create", J("{s:s, s:i}", "pool", "b", "max_size", 1)));
	l = CALL_OK(c, "lease", J("{s:s}", "pool", "b"));
	w = waiter(d, c, "b", "{\"id\":1,\"op\":\"lease\",\"pool\":\"b\",\"wait\":5}", 1);
	json_decref(CALL_OK(c, "return", J("{s:s, s:b}", "lease", LEASE_ID(l), "discard", 1)));
	resp = raw_recv(w, 5);
	assert_string_not_equal(JSTR(JOBJ(resp_result(resp), "resource"), "name"), RES_NAME(l));
	assert_int_equal(h_status_field(c, "b", "total"), 1);
	assert_int_equal(h_counter(c, "b", "created"), 2);
	json_decref(resp);
	json_decref(l);
	raw_close(w);
	pool_close(c);
	poold_stop(d);
}

/* Durations are any finite non-negative number; a huge one is either refused
 * (bad_request) or honoured, but timestamps stay RFC 3339 and a huge wait
 * still waits. */
static void check_expires(json_t *res, const char *what)
{
	const char *e = JSTR(res, "expires_at");

	if (h_parse_time(e) < h_wall() + 1e6)
		fail_msg("%s: expires_at \"%s\" is not a far-future RFC 3339 time", what, e);
}

static void test_huge_ttl(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	static const double ttls[] = { 1e10, 1e15, 1e300 };
	json_t *l;
	pool_error err;
	json_t *res = NULL;

	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);
	for (size_t i = 0; i < sizeof(ttls) / sizeof(ttls[0]); i++) {
		json_t *args = J("{s:s, s:f}", "pool", "p", "ttl", ttls[i]);
		char what[64];

		snprintf(what, sizeof(what), "lease ttl %g", ttls[i]);
		if (pool_call(c, "lease", args, &res, &err) == 0) {
			check_expires(res, what);
			l = res;
			json_decref(args);
			args = J("{s:s, s:f}", "lease", LEASE_ID(l), "ttl", ttls[i]);
			snprintf(what, sizeof(what), "renew ttl %g", ttls[i]);
			if (pool_call(c, "renew", args, &res, &err) == 0) {
				check_expires(res, what);
				json_decref(res);
			} else {
				assert_int_equal(err.code, POOL_E_BAD_REQUEST);
			}
			ret(c, l);
			json_decref(l);
		} else {
			assert_int_equal(err.code, POOL_E_BAD_REQUEST);
		}
		json_decref(args);
	}
	pool_close(c);
	poold_stop(d);
}

/* A huge wait on an exhausted pool waits (or is refused), never a timeout at once. */
static void test_huge_wait(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *l;

	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);
	l = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	{
		raw_conn *w = raw_connect(d->sock);
		char *line;

		raw_send(w, "{\"id\":1,\"op\":\"lease\",\"pool\":\"p\",\"wait\":1e300}\n");
		line = raw_read_line(w, 0.5);
		if (line) {
			json_t *resp = json_loads(line, 0, NULL);

			if (strcmp(resp_code(resp), "bad_request") != 0)
				fail_msg("lease wait 1e300 answered at once: %s", line);
			json_decref(resp);
			free(line);
		} else {
			assert_int_equal(h_status_field(c, "p", "waiters"), 1);
			ret(c, l);
			json_decref(raw_recv(w, 5));
		}
		raw_close(w);
	}
	json_decref(l);
	pool_close(c);
	poold_stop(d);
}

/* libpool's typed wrappers against the same daemon. */
static void test_typed_wrappers(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	pool_error err;
	pool_lease *l = NULL, *g = NULL;
	pool_lease_opts o;
	json_t *res = NULL, *settings = json_pack("{s:s}", "create", "none");
	json_t *list = json_pack("[{s:s, s:{s:i}}]", "name", "r1", "descriptor", "x", 1);
	json_t *desc = json_pack("{s:i}", "x", 2);
	long long added = 0, v = 0;

	assert_int_equal(pool_pool_create(c, "p", settings, &res, &err), 0);
	json_decref(res);
	assert_int_equal(pool_resource_add(c, "p", list, &added, &err), 0);
	assert_int_equal(added, 1);
	memset(&o, 0, sizeof(o));
	o.ttl_set = 1;
	o.ttl = 30;
	o.owner = "typed";
	assert_int_equal(pool_lease_acquire(c, "p", &o, &l, &err), 0);
	assert_string_equal(pool_lease_resource(l), "r1");
	assert_string_equal(pool_lease_mode(l), "pop");
	assert_string_equal(pool_lease_owner(l), "typed");
	assert_string_equal(pool_lease_bind(l), "none");
	assert_string_equal(pool_lease_pool(l), "p");
	assert_int_equal(pool_lease_version(l), 2);
	assert_true(pool_lease_token(l) > 0);
	assert_non_null(pool_lease_expires_at(l));
	assert_int_equal(json_integer_value(json_object_get(pool_lease_descriptor(l), "x")), 1);
	assert_int_equal(pool_replace(c, pool_lease_id(l), desc, 2, &v, &err), 0);
	assert_int_equal(v, 3);
	assert_int_equal(pool_replace(c, pool_lease_id(l), desc, 2, &v, &err), -1);
	assert_int_equal(err.code, POOL_E_CONFLICT);
	assert_int_equal(pool_lease_get(c, pool_lease_id(l), &g, &err), 0);
	assert_int_equal(pool_lease_version(g), 3);
	assert_string_equal(pool_lease_id(g), pool_lease_id(l));
	pool_lease_free(g);
	g = NULL;
	assert_int_equal(pool_lease_acquire(c, "p", NULL, &g, &err), -1);
	assert_int_equal(err.code, POOL_E_EXHAUSTED);
	assert_null(g);
	assert_int_equal(pool_return(c, pool_lease_id(l), NULL, 0, &err), 0);
	assert_int_equal(pool_return(c, pool_lease_id(l), NULL, 0, &err), -1);
	assert_int_equal(err.code, POOL_E_NOT_FOUND);
	assert_int_equal(pool_resource_get(c, "p", "r1", &res, &err), 0);
	assert_int_equal(json_integer_value(json_object_get(res, "version")), 4);
	json_decref(res);
	pool_lease_free(l);
	json_decref(settings);
	json_decref(list);
	json_decref(desc);
	pool_close(c);
	poold_stop(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_lease_object),
		FTEST(test_versions),
		FTEST(test_create_on_empty),
		FTEST(test_order),
		FTEST(test_return),
		FTEST(test_checkout_name_match),
		FTEST(test_checkout_named_wait),
		FTEST(test_replace_cas),
		FTEST(test_checkin),
		FTEST(test_renew),
		FTEST(test_expiry),
		FTEST(test_on_expire_discard),
		FTEST(test_wait_fifo),
		FTEST(test_wait_busy_timeout),
		FTEST(test_waiters_leave_queue),
		FTEST(test_match_waiter),
		FTEST(test_request_id),
		FTEST(test_bind_connection),
		FTEST(test_tokens_increase),
		FTEST(test_lease_list),
		FTEST(test_lease_list_missing_pool),
		FTEST(test_watch),
		FTEST(test_expired_at_the_edge),
		FTEST(test_lease_rejects_checkout_fields),
		FTEST(test_discard_lets_waiter_grow),
		FTEST(test_huge_ttl),
		FTEST(test_huge_wait),
		FTEST(test_typed_wrappers),
	};

	return RUN_FTESTS(tests);
}
