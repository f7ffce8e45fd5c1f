/*
 * Unit tests of the lease engine's state rules, in-process: versions, pool
 * order, match semantics, create-on-empty up to max_size, expiry and the
 * warm-pool upkeep of the janitor (driven with a chosen clock).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fixture.h"
#include "janitor.h"
#include "pool.h"

static int setup(void **state)
{
	struct fixture *fx = fx_open();
	json_t *a = fx_call(fx, "{\"op\":\"pool.create\",\"pool\":\"p\"}");

	assert_string_equal(fx_code(a), "ok");
	json_decref(a);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	fx_close(*state);
	clock_real(); /* a test that stepped the clock and failed */
	return 0;
}

/* Calls and asserts the code; returns the result (caller decrefs the
 * answer through *answer). */
static json_t *call(struct fixture *fx, const char *code, json_t **answer,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static json_t *call(struct fixture *fx, const char *code, json_t **answer,
		    const char *fmt, ...)
{
	char line[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	*answer = fx_call(fx, "%s", line);
	assert_non_null(*answer);
	if (strcmp(fx_code(*answer), code) != 0)
		fail_msg("%s -> %s", line, json_dumps(*answer, 0));
	return fx_result(*answer);
}

static json_int_t jint(json_t *o, const char *path1, const char *path2)
{
	json_t *v = json_object_get(o, path1);

	return json_integer_value(path2 ? json_object_get(v, path2) : v);
}

static const char *jstr(json_t *o, const char *k1, const char *k2)
{
	json_t *v = json_object_get(o, k1);

	return json_string_value(k2 ? json_object_get(v, k2) : v);
}

static void add(struct fixture *fx, const char *name, const char *desc)
{
	json_t *a;

	call(fx, "ok", &a, "{\"op\":\"resource.add\",\"pool\":\"p\","
	     "\"resources\":[{\"name\":\"%s\",\"descriptor\":%s}]}", name, desc);
	json_decref(a);
}

static void test_versions(void **state)
{
	struct fixture *fx = *state;
	json_t *a, *b, *r;
	char lease[40];

	add(fx, "x", "{\"v\":0}");
	r = call(fx, "ok", &a, "{\"op\":\"lease\",\"pool\":\"p\"}");
	assert_int_equal(jint(r, "resource", "version"), 2);
	snprintf(lease, sizeof lease, "%s", jstr(r, "lease", NULL));
	json_decref(a);
	r = call(fx, "ok", &a, "{\"op\":\"replace\",\"lease\":\"%s\","
		 "\"descriptor\":{\"v\":1},\"version\":2}", lease);
	assert_int_equal(jint(r, "version", NULL), 3);
	json_decref(a);
	/* A stale version loses and changes nothing. */
	call(fx, "conflict", &a, "{\"op\":\"replace\",\"lease\":\"%s\","
	     "\"descriptor\":{\"v\":9},\"version\":2}", lease);
	json_decref(a);
	/* A return with a descriptor is one change. */
	call(fx, "ok", &a, "{\"op\":\"return\",\"lease\":\"%s\","
	     "\"descriptor\":{\"v\":2}}", lease);
	json_decref(a);
	r = call(fx, "ok", &b, "{\"op\":\"resource.get\",\"pool\":\"p\","
		 "\"name\":\"x\"}");
	assert_int_equal(jint(r, "version", NULL), 4);
	assert_int_equal(jint(r, "descriptor", "v"), 2);
	assert_string_equal(jstr(r, "state", NULL), "free");
	assert_int_equal(jint(r, "lease_count", NULL), 1);
	json_decref(b);
	/* The ended lease is gone for good. */
	call(fx, "not_found", &a, "{\"op\":\"return\",\"lease\":\"%s\"}", lease);
	json_decref(a);
}

static void test_order(void **state)
{
	struct fixture *fx = *state;
	json_t *a, *r;
	char l1[40], l2[40];

	add(fx, "first", "{}");
	add(fx, "second", "{}");
	/* lifo (default): the most recently freed first. */
	r = call(fx, "ok", &a, "{\"op\":\"lease\",\"pool\":\"p\"}");
	assert_string_equal(jstr(r, "resource", "name"), "second");
	snprintf(l1, sizeof l1, "%s", jstr(r, "lease", NULL));
	json_decref(a);
	call(fx, "ok", &a, "{\"op\":\"return\",\"lease\":\"%s\"}", l1);
	json_decref(a);
	call(fx, "ok", &a, "{\"op\":\"pool.set\",\"pool\":\"p\",\"order\":"
	     "\"fifo\"}");
	json_decref(a);
	/* fifo: the longest free first ("first", free since it was added). */
	r = call(fx, "ok", &a, "{\"op\":\"lease\",\"pool\":\"p\"}");
	assert_string_equal(jstr(r, "resource", "name"), "first");
	snprintf(l2, sizeof l2, "%s", jstr(r, "lease", NULL));
	json_decref(a);
	call(fx, "ok", &a, "{\"op\":\"return\",\"lease\":\"%s\"}", l2);
	json_decref(a);
}

static void test_match_types(void **state)
{
	struct fixture *fx = *state;
	json_t *a, *r;

	add(fx, "int", "{\"n\":1,\"tag\":\"x\"}");
	add(fx, "real", "{\"n\":1.0}");
	add(fx, "bool", "{\"n\":true}");
	r = call(fx, "ok", &a, "{\"op\":\"checkout\",\"pool\":\"p\","
		 "\"match\":{\"n\":1.0}}");
	assert_string_equal(jstr(r, "resource", "name"), "real");
	assert_string_equal(jstr(r, "mode", NULL), "checkout");
	json_decref(a);
	r = call(fx, "ok", &a, "{\"op\":\"checkout\",\"pool\":\"p\","
		 "\"match\":{\"n\":1,\"tag\":\"x\"}}");
	assert_string_equal(jstr(r, "resource", "name"), "int");
	json_decref(a);
	r = call(fx, "ok", &a, "{\"op\":\"checkout\",\"pool\":\"p\","
		 "\"match\":{\"n\":true}}");
	assert_string_equal(jstr(r, "resource", "name"), "bool");
	json_decref(a);
	/* Keys that need escaping, and a key that only appears nested. */
	add(fx, "odd", "{\"we\\\"ird/k\":[1,{\"n\":2}],\"inner\":{\"deep\":1}}");
	r = call(fx, "ok", &a, "{\"op\":\"checkout\",\"pool\":\"p\","
		 "\"match\":{\"we\\\"ird/k\":[1,{\"n\":2}]}}");
	assert_string_equal(jstr(r, "resource", "name"), "odd");
	json_decref(a);
	call(fx, "exhausted", &a, "{\"op\":\"checkout\",\"pool\":\"p\","
	     "\"match\":{\"deep\":1}}");
	json_decref(a);
	/* No match: exhausted, and never create-on-empty. */
	call(fx, "exhausted", &a, "{\"op\":\"checkout\",\"pool\":\"p\","
	     "\"match\":{\"n\":2}}");
	json_decref(a);
	call(fx, "not_found", &a, "{\"op\":\"checkout\",\"pool\":\"p\","
	     "\"name\":\"ghost\"}");
	json_decref(a);
	call(fx, "exhausted", &a, "{\"op\":\"checkout\",\"pool\":\"p\","
	     "\"name\":\"int\"}");
	json_decref(a);
}

static void test_create_on_empty_cap(void **state)
{
	struct fixture *fx = *state;
	json_t *a, *r;

	call(fx, "ok", &a, "{\"op\":\"pool.set\",\"pool\":\"p\",\"max_size\":2}");
	json_decref(a);
	for (int i = 0; i < 2; i++) {
		r = call(fx, "ok", &a, "{\"op\":\"lease\",\"pool\":\"p\"}");
		assert_int_equal(strncmp(jstr(r, "resource", "name"), "p-", 2), 0);
		assert_int_equal(strlen(jstr(r, "resource", "name")), 7);
		json_decref(a);
	}
	call(fx, "exhausted", &a, "{\"op\":\"lease\",\"pool\":\"p\"}");
	json_decref(a);
	r = call(fx, "ok", &a, "{\"op\":\"status\"}");
	r = json_array_get(json_object_get(r, "pools"), 0);
	assert_int_equal(jint(r, "counters", "created"), 2);
	assert_int_equal(jint(r, "counters", "exhausted"), 1);
	assert_int_equal(jint(r, "total", NULL), 2);
	json_decref(a);
	call(fx, "ok", &a, "{\"op\":\"pool.set\",\"pool\":\"p\",\"create\":"
	     "\"none\",\"max_size\":0}");
	json_decref(a);
	call(fx, "exhausted", &a, "{\"op\":\"lease\",\"pool\":\"p\"}");
	json_decref(a);
}

static void test_expiry_by_janitor(void **state)
{
	struct fixture *fx = *state;
	json_t *a, *r;
	char lease[40];

	double w = now_wall(), m = now_mono();

	add(fx, "x", "{}");
	clock_fake(w, m);
	r = call(fx, "ok", &a, "{\"op\":\"lease\",\"pool\":\"p\",\"ttl\":30}");
	snprintf(lease, sizeof lease, "%s", jstr(r, "lease", NULL));
	json_decref(a);
	clock_fake(w + 29, m + 29);
	janitor_run(&fx->pd, now_wall());
	call(fx, "ok", &a, "{\"op\":\"lease.get\",\"lease\":\"%s\"}", lease);
	json_decref(a);
	clock_fake(w + 31, m + 31);
	janitor_run(&fx->pd, now_wall());
	call(fx, "expired", &a, "{\"op\":\"return\",\"lease\":\"%s\"}", lease);
	json_decref(a);
	r = call(fx, "ok", &a, "{\"op\":\"resource.get\",\"pool\":\"p\","
		 "\"name\":\"x\"}");
	assert_string_equal(jstr(r, "state", NULL), "free");
	assert_int_equal(jint(r, "version", NULL), 3);
	json_decref(a);
	clock_real();
}

/* Expired ids are forgotten after expired_keep, and beyond expired_max the
 * oldest first; a forgotten one answers not_found. */
static void test_expired_ids_bounded(void **state)
{
	struct fixture *fx = *state;
	char ids[6][40];
	json_t *a, *r;
	double t0 = now_wall(), m0 = now_mono();

	fx->pd.cfg.expired_max = 3;
	add(fx, "x", "{}");
	for (int i = 0; i < 6; i++) {
		clock_fake(t0, m0);
		r = call(fx, "ok", &a, "{\"op\":\"lease\",\"pool\":\"p\",\"ttl\":%d}",
			 10 + i);
		snprintf(ids[i], sizeof ids[i], "%s", jstr(r, "lease", NULL));
		json_decref(a);
		/* each expires in turn, at t0 + 10 + i */
		clock_fake(t0 + 10 + i + 0.5, m0 + 10 + i + 0.5);
		janitor_run(&fx->pd, now_wall());
	}
	clock_real();
	assert_int_equal(fx->pd.expired.len, 6);
	janitor_run(&fx->pd, t0 + 100); /* the sweep keeps the newest 3 */
	assert_int_equal(fx->pd.expired.len, 3);
	for (int i = 0; i < 6; i++) {
		call(fx, i < 3 ? "not_found" : "expired", &a,
		     "{\"op\":\"renew\",\"lease\":\"%s\"}", ids[i]);
		json_decref(a);
	}
}

static void test_warm_pool(void **state)
{
	struct fixture *fx = *state;
	struct pool *p = pool_find(&fx->pd, "p");
	json_t *a;

	call(fx, "ok", &a, "{\"op\":\"pool.set\",\"pool\":\"p\",\"min_idle\":3,"
	     "\"max_size\":5,\"idle_ttl\":60}");
	json_decref(a);
	janitor_run(&fx->pd, now_wall());
	assert_int_equal(p->count[RS_FREE], 3);
	/* idle_ttl never trims below min_idle. */
	janitor_run(&fx->pd, now_wall() + 120);
	assert_int_equal(p->count[RS_FREE], 3);
	call(fx, "ok", &a, "{\"op\":\"pool.set\",\"pool\":\"p\",\"min_idle\":1}");
	json_decref(a);
	janitor_run(&fx->pd, now_wall() + 120);
	assert_int_equal(p->count[RS_FREE], 1);
	call(fx, "ok", &a, "{\"op\":\"pool.set\",\"pool\":\"p\",\"min_idle\":0,"
	     "\"idle_ttl\":0,\"max_idle\":0}");
	json_decref(a);
	add(fx, "a", "{}");
	add(fx, "b", "{}");
	call(fx, "ok", &a, "{\"op\":\"pool.set\",\"pool\":\"p\",\"max_idle\":1}");
	json_decref(a);
	janitor_run(&fx->pd, now_wall());
	assert_int_equal(p->count[RS_FREE], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_match_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_on_empty_cap, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_expiry_by_janitor, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_warm_pool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expired_ids_bounded, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
