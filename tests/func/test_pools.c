/*
 * test_pools.c - pool.* and resource.* ops and status against the real daemon:
 * defaults, names, create/get/list/set/drain/delete, resource add (all or
 * nothing, max_size, exists), list paging, get/update (CAS)/remove, status.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_pool_create_defaults(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *p = CALL_OK(c, "pool.create", J("{s:s}", "pool", "p"));

	assert_string_equal(JSTR(p, "name"), "p");
	assert_string_equal(JSTR(p, "state"), "active");
	assert_int_equal(JINT(p, "max_size"), 0);
	assert_int_equal(JINT(p, "min_idle"), 0);
	assert_int_equal(JINT(p, "max_idle"), 0);
	assert_true(json_is_number(json_object_get(p, "idle_ttl")));
	assert_true(json_number_value(json_object_get(p, "idle_ttl")) == 0);
	assert_true(json_is_number(json_object_get(p, "lease_ttl")));
	assert_true(json_number_value(json_object_get(p, "lease_ttl")) == 3600);
	assert_int_equal(JINT(p, "max_waiters"), 1024);
	assert_string_equal(JSTR(p, "order"), "lifo");
	assert_string_equal(JSTR(p, "on_expire"), "return");
	assert_string_equal(JSTR(p, "create"), "builtin");
	assert_true(json_is_null(json_object_get(p, "destroy")));
	assert_true(json_is_null(json_object_get(p, "reset")));
	json_decref(p);

	/* settings given are kept */
	p = CALL_OK(c, "pool.create",
		    J("{s:s, s:i, s:i, s:i, s:f, s:i, s:s, s:s, s:s}", "pool", "q", "max_size", 7,
		      "max_waiters", 3, "max_idle", 5, "lease_ttl", 1.5, "min_idle", 0, "order",
		      "fifo", "on_expire", "discard", "create", "none"));
	assert_int_equal(JINT(p, "max_size"), 7);
	assert_int_equal(JINT(p, "max_waiters"), 3);
	assert_int_equal(JINT(p, "max_idle"), 5);
	assert_true(json_number_value(json_object_get(p, "lease_ttl")) == 1.5);
	assert_string_equal(JSTR(p, "order"), "fifo");
	assert_string_equal(JSTR(p, "on_expire"), "discard");
	assert_string_equal(JSTR(p, "create"), "none");
	json_decref(p);

	/* the name is taken */
	CALL_ERR(c, "pool.create", J("{s:s}", "pool", "p"), POOL_E_EXISTS);
	CALL_ERR(c, "pool.create", J("{s:s, s:i}", "pool", "q", "max_size", 1), POOL_E_EXISTS);
	p = CALL_OK(c, "pool.get", J("{s:s}", "pool", "q"));
	assert_int_equal(JINT(p, "max_size"), 7);
	json_decref(p);
	pool_close(c);
	poold_stop(d);
}

static void test_pool_names(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	char name[80];
	static const char *const bad[] = { "", "a/b", "a b", "caf\xc3\xa9", "a:b", "a\nb",
					   "../x" };

	memset(name, 'n', 64);
	name[64] = '\0';
	name[0] = 'A';
	name[1] = '9';
	name[2] = '.';
	name[3] = '_';
	name[4] = '-';
	json_decref(CALL_OK(c, "pool.create", J("{s:s}", "pool", name)));
	json_decref(CALL_OK(c, "pool.get", J("{s:s}", "pool", name)));
	json_decref(CALL_OK(c, "pool.create", J("{s:s}", "pool", "x")));
	name[64] = 'n';
	name[65] = '\0';
	CALL_ERR(c, "pool.create", J("{s:s}", "pool", name), POOL_E_BAD_REQUEST);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CALL_ERR(c, "pool.create", J("{s:s}", "pool", bad[i]), POOL_E_BAD_REQUEST);
	{
		json_t *l = CALL_OK(c, "pool.list", NULL);

		assert_int_equal(json_array_size(json_object_get(l, "pools")), 2);
		json_decref(l);
	}
	pool_close(c);
	poold_stop(d);
}

static void test_pool_command_settings(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *p;

	/* A bad command is refused whole, and nothing is created. */
	CALL_ERR(c, "pool.create",
		 J("{s:s, s:{s:[s]}}", "pool", "c", "create", "cmd", "bin/true"),
		 POOL_E_BAD_REQUEST);
	CALL_ERR(c, "pool.create",
		 J("{s:s, s:{s:[s], s:i}}", "pool", "c", "create", "cmd", "/bin/true",
		   "retries", 3),
		 POOL_E_BAD_REQUEST);
	CALL_ERR(c, "pool.create",
		 J("{s:s, s:{s:[s], s:i}}", "pool", "c", "reset", "cmd", "/bin/true",
		   "max_concurrent", 0),
		 POOL_E_BAD_REQUEST);
	CALL_ERR(c, "pool.get", J("{s:s}", "pool", "c"), POOL_E_NOT_FOUND);
	/* A good one is stored with its defaults filled in. */
	p = CALL_OK(c, "pool.create",
		    J("{s:s, s:{s:[s,s]}, s:{s:[s], s:i}}", "pool", "c", "create", "cmd",
		      "/bin/echo", "{}", "destroy", "cmd", "/bin/true", "timeout", 5));
	assert_int_equal(JINT(json_object_get(p, "create"), "timeout"), 600);
	assert_int_equal(JINT(json_object_get(p, "create"), "max_concurrent"), 4);
	assert_int_equal(JINT(json_object_get(p, "destroy"), "timeout"), 5);
	assert_null(json_object_get(json_object_get(p, "destroy"), "max_concurrent"));
	assert_true(json_is_null(json_object_get(p, "reset")));
	json_decref(p);
	pool_close(c);
	poold_stop(d);
}

static void test_pool_get_list_set(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *p, *l, *pools, *e;
	size_t i;
	int seen = 0;

	h_pool(c, "a", NULL);
	h_pool(c, "b", "{\"max_size\": 2}");
	h_add(c, "a", "r1", "r2", NULL);

	p = CALL_OK(c, "pool.get", J("{s:s}", "pool", "a"));
	assert_string_equal(JSTR(p, "name"), "a");
	assert_true(json_is_object(json_object_get(p, "occupancy")));
	json_decref(p);
	CALL_ERR(c, "pool.get", J("{s:s}", "pool", "zz"), POOL_E_NOT_FOUND);

	l = CALL_OK(c, "pool.list", NULL);
	pools = json_object_get(l, "pools");
	assert_int_equal(json_array_size(pools), 2);
	json_array_foreach(pools, i, e)
	{
		const char *n = JSTR(e, "name");

		if (strcmp(n, "a") == 0)
			seen |= 1;
		if (strcmp(n, "b") == 0) {
			seen |= 2;
			assert_int_equal(JINT(e, "max_size"), 2);
		}
	}
	assert_int_equal(seen, 3);
	json_decref(l);

	p = CALL_OK(c, "pool.set",
		    J("{s:s, s:i, s:i, s:s, s:i}", "pool", "a", "max_size", 5, "lease_ttl", 60,
		      "order", "fifo", "max_waiters", 0));
	assert_int_equal(JINT(p, "max_size"), 5);
	assert_true(json_number_value(json_object_get(p, "lease_ttl")) == 60);
	assert_string_equal(JSTR(p, "order"), "fifo");
	assert_int_equal(JINT(p, "max_waiters"), 0);
	json_decref(p);
	p = CALL_OK(c, "pool.get", J("{s:s}", "pool", "a"));
	assert_int_equal(JINT(p, "max_size"), 5);
	assert_string_equal(JSTR(p, "order"), "fifo");
	/* pool.set leaves the rest alone */
	assert_string_equal(JSTR(p, "on_expire"), "return");
	json_decref(p);
	/* the new lease_ttl applies to later leases */
	p = CALL_OK(c, "lease", J("{s:s}", "pool", "a"));
	{
		double exp = h_parse_time(JSTR(p, "expires_at"));
		double now = h_wall();

		assert_true(exp > now + 50 && exp < now + 70);
	}
	json_decref(p);

	CALL_ERR(c, "pool.set", J("{s:s, s:i}", "pool", "zz", "max_size", 1), POOL_E_NOT_FOUND);
	CALL_ERR(c, "pool.set", J("{s:s, s:i}", "pool", "a", "max_sizee", 1),
		 POOL_E_BAD_REQUEST);
	CALL_ERR(c, "pool.set", J("{s:s, s:s}", "pool", "a", "state", "sleepy"),
		 POOL_E_BAD_REQUEST);
	CALL_ERR(c, "pool.set", J("{s:s, s:f}", "pool", "a", "max_size", 3.0),
		 POOL_E_BAD_REQUEST);
	p = CALL_OK(c, "pool.get", J("{s:s}", "pool", "a"));
	assert_int_equal(JINT(p, "max_size"), 5);
	json_decref(p);
	pool_close(c);
	poold_stop(d);
}

static void test_pool_drain(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *p, *lease;
	json_int_t destroyed0;

	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", "r2", "r3", NULL);
	lease = CALL_OK(c, "checkout", J("{s:s, s:s}", "pool", "p", "name", "r1"));
	destroyed0 = h_counter(c, "p", "destroyed");

	p = CALL_OK(c, "pool.drain", J("{s:s}", "pool", "p"));
	assert_string_equal(JSTR(p, "state"), "draining");
	json_decref(p);
	p = CALL_OK(c, "pool.get", J("{s:s}", "pool", "p"));
	assert_string_equal(JSTR(p, "state"), "draining");
	json_decref(p);

	/* no new leases of any kind */
	CALL_ERR(c, "lease", J("{s:s}", "pool", "p"), POOL_E_DRAINING);
	CALL_ERR(c, "lease", J("{s:s, s:f}", "pool", "p", "wait", 0.5), POOL_E_DRAINING);
	CALL_ERR(c, "checkout", J("{s:s, s:s}", "pool", "p", "name", "r2"), POOL_E_DRAINING);
	CALL_ERR(c, "resource.add",
		 J("{s:s, s:[{s:s, s:{}}]}", "pool", "p", "resources", "name", "r9", "descriptor"),
		 POOL_E_DRAINING);

	/* free resources are destroyed; the leased one stays until returned */
	WAIT_UNTIL(strcmp(h_res_state(c, "p", "r2"), "") == 0 &&
			   strcmp(h_res_state(c, "p", "r3"), "") == 0,
		   5);
	assert_string_equal(h_res_state(c, "p", "r1"), "leased");
	json_decref(CALL_OK(c, "renew", J("{s:s}", "lease", JSTR(lease, "lease"))));
	json_decref(CALL_OK(c, "return", J("{s:s}", "lease", JSTR(lease, "lease"))));
	WAIT_UNTIL(strcmp(h_res_state(c, "p", "r1"), "") == 0, 5);
	assert_int_equal(h_status_field(c, "p", "total"), 0);
	assert_int_equal(h_counter(c, "p", "destroyed"), destroyed0 + 3);
	json_decref(lease);

	/* pool.set state active ends the drain */
	p = CALL_OK(c, "pool.set", J("{s:s, s:s}", "pool", "p", "state", "active"));
	assert_string_equal(JSTR(p, "state"), "active");
	json_decref(p);
	h_add(c, "p", "r4", NULL);
	lease = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	assert_string_equal(JSTR(JOBJ(lease, "resource"), "name"), "r4");
	json_decref(CALL_OK(c, "return", J("{s:s}", "lease", JSTR(lease, "lease"))));
	assert_string_equal(h_res_state(c, "p", "r4"), "free");
	json_decref(lease);
	CALL_ERR(c, "pool.drain", J("{s:s}", "pool", "nope"), POOL_E_NOT_FOUND);
	pool_close(c);
	poold_stop(d);
}

static void test_drain_wakes_waiters(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	raw_conn *w = raw_connect(d->sock);
	json_t *lease, *resp;

	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);
	lease = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	raw_send(w, "{\"id\":1,\"op\":\"lease\",\"pool\":\"p\",\"wait\":20}\n");
	WAIT_UNTIL(h_status_field(c, "p", "waiters") == 1, 5);
	json_decref(CALL_OK(c, "pool.drain", J("{s:s}", "pool", "p")));
	resp = raw_recv(w, 5);
	resp_expect_err(resp, "draining");
	json_decref(resp);
	assert_int_equal(h_status_field(c, "p", "waiters"), 0);
	/* the returned resource is destroyed, not handed to anyone */
	json_decref(CALL_OK(c, "return", J("{s:s}", "lease", JSTR(lease, "lease"))));
	WAIT_UNTIL(h_status_field(c, "p", "total") == 0, 5);
	json_decref(lease);
	raw_close(w);
	pool_close(c);
	poold_stop(d);
}

static void test_pool_delete(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	raw_conn *w = raw_connect(d->sock);
	json_t *lease, *resp, *lease2;
	json_int_t token;

	CALL_ERR(c, "pool.delete", J("{s:s}", "pool", "nope"), POOL_E_NOT_FOUND);

	/* empty pool: deleted */
	h_pool(c, "e", NULL);
	json_decref(CALL_OK(c, "pool.delete", J("{s:s}", "pool", "e")));
	CALL_ERR(c, "pool.get", J("{s:s}", "pool", "e"), POOL_E_NOT_FOUND);

	/* a pool with resources: conflict without force, nothing changes */
	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);
	lease = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	token = JINT(lease, "token");
	CALL_ERR(c, "pool.delete", J("{s:s}", "pool", "p"), POOL_E_CONFLICT);
	CALL_ERR(c, "pool.delete", J("{s:s, s:b}", "pool", "p", "force", 0), POOL_E_CONFLICT);
	assert_string_equal(h_res_state(c, "p", "r1"), "leased");

	/* a waiter of the pool gets not_found when it is deleted */
	raw_send(w, "{\"id\":1,\"op\":\"lease\",\"pool\":\"p\",\"wait\":20}\n");
	WAIT_UNTIL(h_status_field(c, "p", "waiters") == 1, 5);

	/* with force: answered at once, leases end */
	json_decref(CALL_OK(c, "pool.delete", J("{s:s, s:b}", "pool", "p", "force", 1)));
	CALL_ERR(c, "pool.get", J("{s:s}", "pool", "p"), POOL_E_NOT_FOUND);
	resp = raw_recv(w, 5);
	resp_expect_err(resp, "not_found");
	json_decref(resp);
	CALL_ERR(c, "lease.get", J("{s:s}", "lease", JSTR(lease, "lease")), POOL_E_NOT_FOUND);
	CALL_ERR(c, "return", J("{s:s}", "lease", JSTR(lease, "lease")), POOL_E_NOT_FOUND);
	CALL_ERR(c, "renew", J("{s:s}", "lease", JSTR(lease, "lease")), POOL_E_NOT_FOUND);
	CALL_ERR(c, "lease", J("{s:s}", "pool", "p"), POOL_E_NOT_FOUND);
	CALL_ERR(c, "resource.get", J("{s:s, s:s}", "pool", "p", "name", "r1"), POOL_E_NOT_FOUND);
	{
		json_t *l = CALL_OK(c, "lease.list", NULL);

		assert_int_equal(json_array_size(json_object_get(l, "leases")), 0);
		json_decref(l);
	}

	/* the same name again: a fresh pool, and tokens are never reused */
	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);
	lease2 = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	assert_true(JINT(lease2, "token") > token);
	assert_int_equal(JINT(JOBJ(lease2, "resource"), "version"), 2);
	json_decref(lease2);
	json_decref(lease);
	raw_close(w);
	pool_close(c);
	poold_stop(d);
}

static void test_resource_add(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *res, *l;
	char name[140];

	h_pool(c, "p", "{\"max_size\": 4}");
	res = CALL_OK(c, "resource.add",
		      J("{s:s, s:[{s:s, s:{s:s}}, {s:s, s:{}}]}", "pool", "p", "resources", "name",
			"a", "descriptor", "url", "http://a", "name", "b", "descriptor"));
	assert_int_equal(JINT(res, "added"), 2);
	json_decref(res);
	res = CALL_OK(c, "resource.get", J("{s:s, s:s}", "pool", "p", "name", "a"));
	assert_string_equal(JSTR(JOBJ(res, "descriptor"), "url"), "http://a");
	json_decref(res);

	/* all or nothing: one bad entry and the good one is not added either */
	CALL_ERR(c, "resource.add",
		 J("{s:s, s:[{s:s, s:{}}, {s:s, s:{}}]}", "pool", "p", "resources", "name", "c",
		   "descriptor", "name", "bad name", "descriptor"),
		 POOL_E_BAD_REQUEST);
	assert_string_equal(h_res_state(c, "p", "c"), "");
	CALL_ERR(c, "resource.add",
		 J("{s:s, s:[{s:s, s:{}}, {s:s, s:{}}]}", "pool", "p", "resources", "name", "c",
		   "descriptor", "name", "a", "descriptor"),
		 POOL_E_EXISTS);
	assert_string_equal(h_res_state(c, "p", "c"), "");
	CALL_ERR(c, "resource.add",
		 J("{s:s, s:[{s:s}]}", "pool", "p", "resources", "name", "c"),
		 POOL_E_BAD_REQUEST);
	assert_string_equal(h_res_state(c, "p", "c"), "");

	/* past max_size: conflict, none added */
	CALL_ERR(c, "resource.add",
		 J("{s:s, s:[{s:s, s:{}}, {s:s, s:{}}, {s:s, s:{}}]}", "pool", "p", "resources",
		   "name", "c", "descriptor", "name", "d", "descriptor", "name", "e", "descriptor"),
		 POOL_E_CONFLICT);
	assert_string_equal(h_res_state(c, "p", "c"), "");
	assert_int_equal(h_status_field(c, "p", "total"), 2);
	h_add(c, "p", "c", "d", NULL);
	CALL_ERR(c, "resource.add",
		 J("{s:s, s:[{s:s, s:{}}]}", "pool", "p", "resources", "name", "e", "descriptor"),
		 POOL_E_CONFLICT);
	assert_int_equal(h_status_field(c, "p", "total"), 4);

	/* names: 1-128 chars of [A-Za-z0-9._:-]; a missing name is chosen */
	h_pool(c, "q", NULL);
	memset(name, 'x', 128);
	memcpy(name, "Az9._:-", 7);
	name[128] = '\0';
	h_add(c, "q", name, NULL);
	assert_string_equal(h_res_state(c, "q", name), "free");
	name[128] = 'x';
	name[129] = '\0';
	CALL_ERR(c, "resource.add",
		 J("{s:s, s:[{s:s, s:{}}]}", "pool", "q", "resources", "name", name, "descriptor"),
		 POOL_E_BAD_REQUEST);
	CALL_ERR(c, "resource.add",
		 J("{s:s, s:[{s:s, s:{}}]}", "pool", "q", "resources", "name", "", "descriptor"),
		 POOL_E_BAD_REQUEST);
	CALL_ERR(c, "resource.add",
		 J("{s:s, s:[{s:s, s:{}}]}", "pool", "q", "resources", "name", "a/b", "descriptor"),
		 POOL_E_BAD_REQUEST);
	res = CALL_OK(c, "resource.add",
		      J("{s:s, s:[{s:{s:i}}]}", "pool", "q", "resources", "descriptor", "k", 1));
	assert_int_equal(JINT(res, "added"), 1);
	json_decref(res);
	l = CALL_OK(c, "resource.list", J("{s:s}", "pool", "q"));
	assert_int_equal(json_array_size(json_object_get(l, "resources")), 2);
	json_decref(l);
	assert_int_equal(h_status_field(c, "q", "total"), 2);

	CALL_ERR(c, "resource.add",
		 J("{s:s, s:[{s:s, s:{}}]}", "pool", "nope", "resources", "name", "a", "descriptor"),
		 POOL_E_NOT_FOUND);
	pool_close(c);
	poold_stop(d);
}

/* The names of a resource.list page, comma-separated, into buf. */
static const char *page_names(json_t *page, char *buf, size_t len)
{
	json_t *e;
	size_t i;

	buf[0] = '\0';
	json_array_foreach(json_object_get(page, "resources"), i, e)
	{
		size_t n = strlen(buf);

		snprintf(buf + n, len - n, "%s%s", i ? "," : "", JSTR(e, "name"));
	}
	return buf;
}

static void test_resource_list_paging(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *page, *lease;
	char buf[256];

	h_pool(c, "p", NULL);
	h_add(c, "p", "r05", "r02", "r07", "r01", NULL);
	h_add(c, "p", "r04", "r06", "r03", NULL);

	page = CALL_OK(c, "resource.list", J("{s:s}", "pool", "p"));
	assert_string_equal(page_names(page, buf, sizeof(buf)), "r01,r02,r03,r04,r05,r06,r07");
	assert_true(json_is_null(json_object_get(page, "next")));
	json_decref(page);

	page = CALL_OK(c, "resource.list", J("{s:s, s:i}", "pool", "p", "limit", 3));
	assert_string_equal(page_names(page, buf, sizeof(buf)), "r01,r02,r03");
	assert_string_equal(JSTR(page, "next"), "r03");
	json_decref(page);
	page = CALL_OK(c, "resource.list", J("{s:s, s:i, s:s}", "pool", "p", "limit", 3, "after", "r03"));
	assert_string_equal(page_names(page, buf, sizeof(buf)), "r04,r05,r06");
	assert_string_equal(JSTR(page, "next"), "r06");
	json_decref(page);
	page = CALL_OK(c, "resource.list", J("{s:s, s:i, s:s}", "pool", "p", "limit", 3, "after", "r06"));
	assert_string_equal(page_names(page, buf, sizeof(buf)), "r07");
	assert_true(json_is_null(json_object_get(page, "next")));
	json_decref(page);

	/* state filter */
	lease = CALL_OK(c, "checkout", J("{s:s, s:s}", "pool", "p", "name", "r04"));
	page = CALL_OK(c, "resource.list", J("{s:s, s:s}", "pool", "p", "state", "leased"));
	assert_string_equal(page_names(page, buf, sizeof(buf)), "r04");
	assert_string_equal(JSTR(json_array_get(json_object_get(page, "resources"), 0), "state"),
			    "leased");
	json_decref(page);
	page = CALL_OK(c, "resource.list", J("{s:s, s:s, s:i}", "pool", "p", "state", "free", "limit", 4));
	assert_string_equal(page_names(page, buf, sizeof(buf)), "r01,r02,r03,r05");
	assert_string_equal(JSTR(page, "next"), "r05");
	json_decref(page);
	page = CALL_OK(c, "resource.list",
		       J("{s:s, s:s, s:i, s:s}", "pool", "p", "state", "free", "limit", 4, "after", "r05"));
	assert_string_equal(page_names(page, buf, sizeof(buf)), "r06,r07");
	assert_true(json_is_null(json_object_get(page, "next")));
	json_decref(page);
	json_decref(lease);
	CALL_ERR(c, "resource.list", J("{s:s}", "pool", "nope"), POOL_E_NOT_FOUND);
	pool_close(c);
	poold_stop(d);
}

static void test_resource_get_update(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *r, *lease;

	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);
	r = CALL_OK(c, "resource.get", J("{s:s, s:s}", "pool", "p", "name", "r1"));
	assert_string_equal(JSTR(r, "pool"), "p");
	assert_string_equal(JSTR(r, "name"), "r1");
	assert_string_equal(JSTR(r, "state"), "free");
	assert_string_equal(JSTR(JOBJ(r, "descriptor"), "n"), "r1");
	assert_int_equal(JINT(r, "version"), 1);
	assert_int_equal(JINT(r, "lease_count"), 0);
	assert_true(h_parse_time(JSTR(r, "created_at")) > h_wall() - 60);
	assert_true(json_object_get(r, "last_used_at") != NULL);
	json_decref(r);
	CALL_ERR(c, "resource.get", J("{s:s, s:s}", "pool", "p", "name", "nope"), POOL_E_NOT_FOUND);
	CALL_ERR(c, "resource.get", J("{s:s, s:s}", "pool", "nope", "name", "r1"), POOL_E_NOT_FOUND);

	/* update: CAS on the version of a free resource */
	r = CALL_OK(c, "resource.update",
		    J("{s:s, s:s, s:{s:i}, s:i}", "pool", "p", "name", "r1", "descriptor", "v", 2,
		      "version", 1));
	assert_int_equal(JINT(r, "version"), 2);
	assert_int_equal(JINT(JOBJ(r, "descriptor"), "v"), 2);
	/* the descriptor is replaced, not merged */
	assert_null(json_object_get(JOBJ(r, "descriptor"), "n"));
	json_decref(r);
	CALL_ERR(c, "resource.update",
		 J("{s:s, s:s, s:{s:i}, s:i}", "pool", "p", "name", "r1", "descriptor", "v", 3,
		   "version", 1),
		 POOL_E_CONFLICT);
	CALL_ERR(c, "resource.update",
		 J("{s:s, s:s, s:{s:i}, s:i}", "pool", "p", "name", "r1", "descriptor", "v", 3,
		   "version", 3),
		 POOL_E_CONFLICT);
	r = CALL_OK(c, "resource.get", J("{s:s, s:s}", "pool", "p", "name", "r1"));
	assert_int_equal(JINT(r, "version"), 2);
	assert_int_equal(JINT(JOBJ(r, "descriptor"), "v"), 2);
	json_decref(r);
	CALL_ERR(c, "resource.update",
		 J("{s:s, s:s, s:{}, s:i}", "pool", "p", "name", "nope", "descriptor", "version", 1),
		 POOL_E_NOT_FOUND);
	CALL_ERR(c, "resource.update", J("{s:s, s:s, s:{}}", "pool", "p", "name", "r1", "descriptor"),
		 POOL_E_BAD_REQUEST);

	/* only a free resource: a leased one is conflict even with the right version */
	lease = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	assert_int_equal(JINT(JOBJ(lease, "resource"), "version"), 3);
	CALL_ERR(c, "resource.update",
		 J("{s:s, s:s, s:{s:i}, s:i}", "pool", "p", "name", "r1", "descriptor", "v", 9,
		   "version", 3),
		 POOL_E_CONFLICT);
	json_decref(CALL_OK(c, "return", J("{s:s}", "lease", JSTR(lease, "lease"))));
	r = CALL_OK(c, "resource.get", J("{s:s, s:s}", "pool", "p", "name", "r1"));
	assert_int_equal(JINT(r, "version"), 4);
	assert_int_equal(JINT(r, "lease_count"), 1);
	assert_int_equal(JINT(JOBJ(r, "descriptor"), "v"), 2);
	assert_true(json_is_string(json_object_get(r, "last_used_at")));
	json_decref(r);
	json_decref(lease);
	pool_close(c);
	poold_stop(d);
}

static void test_resource_remove(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *lease;

	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", "r2", NULL);
	json_decref(CALL_OK(c, "resource.remove", J("{s:s, s:s}", "pool", "p", "name", "r1")));
	WAIT_UNTIL(strcmp(h_res_state(c, "p", "r1"), "") == 0, 5);
	CALL_ERR(c, "resource.remove", J("{s:s, s:s}", "pool", "p", "name", "r1"), POOL_E_NOT_FOUND);
	CALL_ERR(c, "resource.remove", J("{s:s, s:s}", "pool", "nope", "name", "r2"),
		 POOL_E_NOT_FOUND);

	/* a leased resource needs force, and then its lease ends */
	lease = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	assert_string_equal(JSTR(JOBJ(lease, "resource"), "name"), "r2");
	CALL_ERR(c, "resource.remove", J("{s:s, s:s}", "pool", "p", "name", "r2"), POOL_E_CONFLICT);
	assert_string_equal(h_res_state(c, "p", "r2"), "leased");
	json_decref(CALL_OK(c, "renew", J("{s:s}", "lease", JSTR(lease, "lease"))));
	json_decref(CALL_OK(c, "resource.remove",
			    J("{s:s, s:s, s:b}", "pool", "p", "name", "r2", "force", 1)));
	WAIT_UNTIL(strcmp(h_res_state(c, "p", "r2"), "") == 0, 5);
	CALL_ERR(c, "return", J("{s:s}", "lease", JSTR(lease, "lease")), POOL_E_NOT_FOUND);
	CALL_ERR(c, "lease.get", J("{s:s}", "lease", JSTR(lease, "lease")), POOL_E_NOT_FOUND);
	assert_int_equal(h_status_field(c, "p", "total"), 0);
	assert_int_equal(h_status_field(c, "p", "leased"), 0);
	json_decref(lease);
	pool_close(c);
	poold_stop(d);
}

static void test_status(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	static const char *const counters[] = { "leases", "checkouts", "returns", "expired",
						"created", "create_failed", "destroyed", "waited",
						"wait_timeouts", "busy", "exhausted" };
	static const char *const fields[] = { "total", "free", "leased", "creating",
					      "cleaning", "destroying", "waiters", "max_size" };
	json_t *st, *all, *lease1, *lease2;

	h_pool(c, "p", "{\"max_size\": 5}");
	h_pool(c, "q", NULL);
	h_add(c, "p", "r1", "r2", "r3", NULL);
	st = h_status(c, "p");
	assert_string_equal(JSTR(st, "state"), "active");
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		JINT(st, fields[i]);
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		assert_int_equal(JINT(JOBJ(st, "counters"), counters[i]), 0);
	assert_int_equal(JINT(st, "total"), 3);
	assert_int_equal(JINT(st, "free"), 3);
	assert_int_equal(JINT(st, "max_size"), 5);
	json_decref(st);

	lease1 = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	lease2 = CALL_OK(c, "checkout", J("{s:s}", "pool", "p"));
	h_sleep(0.2);
	st = h_status(c, "p");
	assert_int_equal(JINT(st, "free"), 1);
	assert_int_equal(JINT(st, "leased"), 2);
	assert_int_equal(JINT(st, "total"), 3);
	assert_true(json_is_number(json_object_get(st, "oldest_lease_age")));
	assert_true(json_number_value(json_object_get(st, "oldest_lease_age")) >= 0.1);
	assert_int_equal(JINT(JOBJ(st, "counters"), "leases"), 1);
	assert_int_equal(JINT(JOBJ(st, "counters"), "checkouts"), 1);
	json_decref(st);
	json_decref(CALL_OK(c, "return", J("{s:s}", "lease", JSTR(lease1, "lease"))));
	json_decref(CALL_OK(c, "return", J("{s:s}", "lease", JSTR(lease2, "lease"))));
	st = h_status(c, "p");
	assert_int_equal(JINT(st, "free"), 3);
	assert_int_equal(JINT(st, "leased"), 0);
	assert_int_equal(JINT(JOBJ(st, "counters"), "returns"), 2);
	json_decref(st);

	/* without a pool: every pool */
	all = CALL_OK(c, "status", NULL);
	assert_int_equal(json_array_size(json_object_get(all, "pools")), 2);
	json_decref(all);
	CALL_ERR(c, "status", J("{s:s}", "pool", "nope"), POOL_E_NOT_FOUND);
	json_decref(lease1);
	json_decref(lease2);
	pool_close(c);
	poold_stop(d);
}

/* min_idle: the daemon creates (builtin) resources in the background, within
 * max_size, until free + creating >= min_idle. */
static void test_min_idle(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *l1, *l2;

	json_decref(CALL_OK(c, "pool.create", J("{s:s, s:i, s:i}", "pool", "m", "min_idle", 2, "max_size", 3)));
	WAIT_UNTIL(h_status_field(c, "m", "free") == 2, 5);
	l1 = CALL_OK(c, "lease", J("{s:s}", "pool", "m"));
	/* refilled to two free, which makes three in all */
	WAIT_UNTIL(h_status_field(c, "m", "free") == 2 && h_status_field(c, "m", "total") == 3, 5);
	l2 = CALL_OK(c, "lease", J("{s:s}", "pool", "m"));
	/* max_size caps it */
	h_sleep(0.3);
	assert_int_equal(h_status_field(c, "m", "total"), 3);
	assert_int_equal(h_status_field(c, "m", "free"), 1);
	assert_int_equal(h_counter(c, "m", "created"), 3);
	/* create "none" never creates, whatever min_idle says */
	h_pool(c, "n", "{\"min_idle\": 2}");
	h_sleep(0.3);
	assert_int_equal(h_status_field(c, "n", "total"), 0);
	json_decref(l1);
	json_decref(l2);
	pool_close(c);
	poold_stop(d);
}

/* max_idle destroys free resources above it, longest idle first; idle_ttl
 * destroys those unused that long, never below min_idle. */
static void test_max_idle_idle_ttl(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *l[3];

	h_pool(c, "x", "{\"max_idle\": 1}");
	h_add(c, "x", "r1", "r2", "r3", NULL);
	for (int i = 0; i < 3; i++)
		l[i] = CALL_OK(c, "checkout", J("{s:s, s:s}", "pool", "x", "name", i == 0 ? "r1" : i == 1 ? "r2" : "r3"));
	for (int i = 0; i < 3; i++) {
		json_decref(CALL_OK(c, "return", J("{s:s}", "lease", JSTR(l[i], "lease"))));
		json_decref(l[i]);
		h_sleep(0.02);
	}
	WAIT_UNTIL(h_status_field(c, "x", "total") == 1, 5);
	/* the most recently used one stays */
	assert_string_equal(h_res_state(c, "x", "r3"), "free");

	json_decref(CALL_OK(c, "pool.create", J("{s:s, s:f, s:i}", "pool", "t", "idle_ttl", 0.5, "min_idle", 1)));
	WAIT_UNTIL(h_status_field(c, "t", "free") == 1, 5);
	for (int i = 0; i < 3; i++)
		l[i] = CALL_OK(c, "lease", J("{s:s}", "pool", "t"));
	for (int i = 0; i < 3; i++) {
		json_decref(CALL_OK(c, "return", J("{s:s}", "lease", JSTR(l[i], "lease"))));
		json_decref(l[i]);
	}
	assert_true(h_status_field(c, "t", "free") >= 3);
	WAIT_UNTIL(h_status_field(c, "t", "total") == 1, 5);
	h_sleep(0.7);
	assert_int_equal(h_status_field(c, "t", "total"), 1);
	assert_int_equal(h_status_field(c, "t", "free"), 1);
	pool_close(c);
	poold_stop(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_pool_create_defaults),
		FTEST(test_pool_names),
		FTEST(test_pool_command_settings),
		FTEST(test_pool_get_list_set),
		FTEST(test_pool_drain),
		FTEST(test_drain_wakes_waiters),
		FTEST(test_pool_delete),
		FTEST(test_resource_add),
		FTEST(test_resource_list_paging),
		FTEST(test_resource_get_update),
		FTEST(test_resource_remove),
		FTEST(test_status),
		FTEST(test_min_idle),
		FTEST(test_max_idle_idle_ttl),
	};

	return RUN_FTESTS(tests);
}
