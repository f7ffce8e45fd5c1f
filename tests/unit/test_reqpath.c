/*
 * test_reqpath.c - a request read without a tree (reqparse.c) is answered
 * byte for byte as the same request read by jansson: each pair below
 * differs only by an escape (\u0065 is "e"), which sends the second line
 * down jansson's path. Also: a flat request that waits keeps its strings
 * until it is served, and the spare lists (freelist.c) are bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fixture.h"
#include "freelist.h"


static void assert_same_answer(struct fixture *fx, const char *flat,
			       const char *tree)
{
	char *a = fx_call_raw(fx, flat), *b = fx_call_raw(fx, tree);

	assert_non_null(a);
	assert_non_null(b);
	assert_string_equal(a, b);
	free(a);
	free(b);
}

static void test_both_forms_answer_alike(void **state)
{
	struct fixture *fx = *state;

	json_decref(fx_ok(fx, "{\"op\":\"pool.create\",\"pool\":\"p\","
			  "\"create\":\"none\"}"));
	assert_same_answer(fx, "{\"id\":12,\"op\":\"pool.get\",\"pool\":\"p\"}",
			   "{\"id\":12,\"op\":\"pool.g\\u0065t\",\"pool\":\"p\"}");
	assert_same_answer(fx, "{\"id\":-7,\"op\":\"pool.get\",\"pool\":\"p\"}",
			   "{\"id\":-7,\"op\":\"pool.g\\u0065t\",\"pool\":\"p\"}");
	assert_same_answer(fx, "{\"id\":\"a b/c\",\"op\":\"pool.get\",\"pool\":\"p\"}",
			   "{\"id\":\"a b/c\",\"op\":\"pool.g\\u0065t\",\"pool\":\"p\"}");
	assert_same_answer(fx, "{\"id\":null,\"op\":\"pool.get\",\"pool\":\"p\"}",
			   "{\"id\":null,\"op\":\"pool.g\\u0065t\",\"pool\":\"p\"}");
	assert_same_answer(fx, "{\"op\":\"pool.get\",\"pool\":\"p\"}",
			   "{\"op\":\"pool.g\\u0065t\",\"pool\":\"p\"}");
	/* refusals: every one in the same words */
	assert_same_answer(fx, "{\"id\":1,\"op\":\"nope\"}",
			   "{\"id\":1,\"op\":\"nop\\u0065\"}");
	assert_same_answer(fx, "{\"id\":\"x\",\"op\":\"pool.get\",\"pool\":\"q\"}",
			   "{\"id\":\"x\",\"op\":\"pool.g\\u0065t\",\"pool\":\"q\"}");
	assert_same_answer(fx, "{\"id\":2,\"op\":\"lease\",\"pool\":\"p\",\"tll\":5}",
			   "{\"id\":2,\"op\":\"l\\u0065ase\",\"pool\":\"p\",\"tll\":5}");
	assert_same_answer(fx, "{\"id\":3,\"op\":\"lease\",\"pool\":\"p\",\"ttl\":\"5\"}",
			   "{\"id\":3,\"op\":\"l\\u0065ase\",\"pool\":\"p\",\"ttl\":\"5\"}");
	assert_same_answer(fx, "{\"id\":4,\"op\":\"lease\",\"pool\":\"p\",\"wait\":true}",
			   "{\"id\":4,\"op\":\"l\\u0065ase\",\"pool\":\"p\",\"wait\":true}");
	assert_same_answer(fx, "{\"id\":5,\"op\":\"lease\"}",
			   "{\"id\":5,\"op\":\"l\\u0065ase\"}");
	assert_same_answer(fx, "{\"id\":6,\"op\":\"lease\",\"pool\":\"p\"}",
			   "{\"id\":6,\"op\":\"l\\u0065ase\",\"pool\":\"p\"}");
	/* an envelope the scanner leaves to proto.c's checks */
	assert_same_answer(fx, "{\"id\":true,\"op\":\"ping\"}",
			   "{\"id\":true,\"op\":\"p\\u0069ng\"}");
	assert_same_answer(fx, "{\"id\":7}", "{\"id\":7,\"x\":\"\\u0065\"}");
}

static void test_a_flat_waiter_keeps_its_strings(void **state)
{
	struct fixture *fx = *state;
	json_t *a, *b;
	char line[200], *grant;

	json_decref(fx_ok(fx, "{\"op\":\"pool.create\",\"pool\":\"p\","
			  "\"create\":\"none\"}"));
	json_decref(fx_ok(fx, "{\"op\":\"resource.add\",\"pool\":\"p\","
			  "\"resources\":[{\"name\":\"r1\",\"descriptor\":{}}]}"));
	a = fx_ok(fx, "{\"id\":1,\"op\":\"lease\",\"pool\":\"p\"}");
	/* the second waits; its answer comes after the return's */
	fx_send(fx, "{\"id\":\"w\",\"op\":\"lease\",\"pool\":\"p\",\"wait\":30,"
		"\"owner\":\"bob\",\"request_id\":\"rq-1\"}\n", 79);
	snprintf(line, sizeof line, "{\"id\":2,\"op\":\"return\",\"lease\":\"%s\"}",
		 json_string_value(json_object_get(fx_result(a), "lease")));
	b = fx_ok(fx, line);
	assert_int_equal(json_integer_value(json_object_get(b, "id")), 2);
	grant = fx_read_line(fx, 30.0);
	assert_non_null(grant);
	assert_int_equal(strncmp(grant, "{\"id\":\"w\",\"ok\":true,", 20), 0);
	assert_non_null(strstr(grant, "\"owner\":\"bob\""));
	free(grant);
	json_decref(a);
	json_decref(b);
}

static void test_spares_are_bounded(void **state)
{
	struct freelist fl = FREELIST_INIT(long[4], 2);
	void *p[3];
	bool kept[3];

	(void)state;
	for (int i = 0; i < 3; i++)
		p[i] = freelist_get(&fl);
	for (int i = 0; i < 3; i++)
		if (!(kept[i] = freelist_keep(&fl, p[i])))
			free(p[i]);
	assert_false(kept[2]);          /* at most 2 spares */
	assert_true(fl.n <= 2);
	if (kept[1])                    /* not under ASan: reused, last first */
		assert_ptr_equal(freelist_get(&fl), p[1]);
	while (fl.n > 0)
		free(freelist_get(&fl));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_both_forms_answer_alike,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_a_flat_waiter_keeps_its_strings,
						fx_setup, fx_teardown),
		cmocka_unit_test(test_spares_are_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
