/*
 * Unit tests of the places of stored waiters (wait.c, the waiters table):
 * a waiter with a request_id left by a stopping poold is a place after the
 * next start; while it is not taken back, a returned resource stays free
 * and a new request does not get it; its request_id takes it back and is
 * served; a retry asking for something else drops the place. Runs on the
 * PostgreSQL store too with POOL_TEST_STORE.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fixture.h"

static json_t *ok(struct fixture *fx, const char *line)
{
	json_t *a = fx_call(fx, "%s", line);

	assert_non_null(a);
	if (strcmp(fx_code(a), "ok") != 0)
		fail_msg("%s -> %s", line, json_dumps(a, 0));
	return a;
}

static json_int_t waiters(struct fixture *fx)
{
	json_t *a = ok(fx, "{\"op\":\"status\",\"pool\":\"p\"}");
	json_int_t v = json_integer_value(json_object_get(json_array_get(
		json_object_get(fx_result(a), "pools"), 0), "waiters"));

	json_decref(a);
	return v;
}

static void expect(struct fixture *fx, const char *line, const char *code)
{
	json_t *a = fx_call(fx, "%s", line);

	assert_non_null(a);
	assert_string_equal(fx_code(a), code);
	json_decref(a);
}

/* p with r1 leased; two waiters "a" (pop) and "b" (checkout of r1) queued,
 * then poold stops (their rows stay). The lease id goes to held. */
static struct fixture *two_places(char *held, size_t len)
{
	struct fixture *fx = fx_open();
	char dir[64];
	json_t *a;
	static const char wa[] = "{\"id\":1,\"op\":\"lease\",\"pool\":\"p\","
		"\"wait\":60,\"request_id\":\"a\"}\n";
	static const char wb[] = "{\"id\":2,\"op\":\"checkout\",\"pool\":\"p\","
		"\"name\":\"r1\",\"wait\":60,\"request_id\":\"b\"}\n";

	json_decref(ok(fx, "{\"op\":\"pool.create\",\"pool\":\"p\","
		       "\"max_size\":1}"));
	json_decref(ok(fx, "{\"op\":\"resource.add\",\"pool\":\"p\","
		       "\"resources\":[{\"name\":\"r1\",\"descriptor\":{}}]}"));
	a = ok(fx, "{\"op\":\"lease\",\"pool\":\"p\"}");
	snprintf(held, len, "%s", json_string_value(json_object_get(
		fx_result(a), "lease")));
	json_decref(a);
	fx_send(fx, wa, sizeof wa - 1);
	fx_send(fx, wb, sizeof wb - 1);
	assert_int_equal(waiters(fx), 2);
	snprintf(dir, sizeof dir, "%s", fx->dir);
	fx->pd.stopping = true; /* as at SIGTERM: the rows stay */
	fx_shutdown(fx);
	free(fx);
	return fx_open_at(dir);
}

static void test_place_holds_until_taken_back(void **state)
{
	char held[64], line[256];
	struct fixture *fx = two_places(held, sizeof held);
	json_t *a;

	assert_int_equal(waiters(fx), 2);
	snprintf(line, sizeof line, "{\"op\":\"return\",\"lease\":\"%s\"}",
		 held);
	json_decref(ok(fx, line));
	/* r1 is kept for "a": neither a new request nor "b" behind it gets it */
	expect(fx, "{\"op\":\"lease\",\"pool\":\"p\"}", "exhausted");
	a = ok(fx, "{\"op\":\"resource.get\",\"pool\":\"p\",\"name\":\"r1\"}");
	assert_string_equal(json_string_value(json_object_get(fx_result(a),
							      "state")), "free");
	json_decref(a);
	/* "a" takes its place back and is served at once */
	a = ok(fx, "{\"op\":\"lease\",\"pool\":\"p\",\"wait\":30,"
	       "\"request_id\":\"a\"}");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
		fx_result(a), "resource"), "name")), "r1");
	json_decref(a);
	assert_int_equal(waiters(fx), 1);
	fx_close(fx);
}

static void test_other_want_drops_the_place(void **state)
{
	char held[64];
	struct fixture *fx = two_places(held, sizeof held);

	/* the same request_id asking for something else, or without wait, is
	 * a new request: the place goes */
	expect(fx, "{\"op\":\"checkout\",\"pool\":\"p\",\"name\":\"r1\","
	       "\"request_id\":\"a\"}", "exhausted");
	assert_int_equal(waiters(fx), 1);
	expect(fx, "{\"op\":\"checkout\",\"pool\":\"p\",\"name\":\"r1\","
	       "\"request_id\":\"b\"}", "exhausted");
	assert_int_equal(waiters(fx), 0);
	fx_close(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_place_holds_until_taken_back),
		cmocka_unit_test(test_other_want_drops_the_place),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
