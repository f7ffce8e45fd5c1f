/*
 * test_arena.c - the journal's arena (arena.c): what is allocated stays
 * intact until the reset, whatever the sizes; a reset keeps a bounded
 * amount of memory; and the history event's detail written without
 * jansson (resource_json_write) is byte for byte the json_t form's text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "jsonutil.h"
#include "pool.h"

static void test_allocations_stay_until_reset(void **state)
{
	struct arena a;
	char *s[2000];
	char want[64];

	(void)state;
	arena_init(&a);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 2000; i++) {
			snprintf(want, sizeof want, "row %d of round %d", i, round);
			s[i] = arena_strdup(&a, want);
			/* aligned for any row struct */
			assert_int_equal((uintptr_t)s[i] % _Alignof(max_align_t), 0);
		}
		for (int i = 0; i < 2000; i++) {
			snprintf(want, sizeof want, "row %d of round %d", i, round);
			assert_string_equal(s[i], want);
		}
		arena_reset(&a);
	}
	assert_null(arena_strdup(&a, NULL));
	arena_free(&a);
}

static void test_large_and_room(void **state)
{
	struct arena a;
	size_t room, big = 200 * 1024;
	char *p, *q, *r;

	(void)state;
	arena_init(&a);
	p = arena_strdup(&a, "before");
	q = arena_alloc(&a, big); /* larger than a chunk */
	memset(q, 'x', big);
	r = arena_room(&a, 100, &room);
	assert_true(room >= 100);
	assert_int_equal(snprintf(r, room, "written"), 7);
	arena_take(&a, 8);
	assert_string_equal(arena_strdup(&a, "after"), "after");
	assert_string_equal(p, "before");
	assert_string_equal(r, "written");
	assert_int_equal(q[big - 1], 'x');
	arena_free(&a);
}

static void test_reset_keeps_a_bounded_amount(void **state)
{
	struct arena a;

	(void)state;
	arena_init(&a);
	/* one huge batch */
	for (int i = 0; i < 100000; i++)
		arena_alloc(&a, 100);
	assert_true(arena_held(&a) > ARENA_KEEP);
	arena_reset(&a);
	assert_true(arena_held(&a) <= ARENA_KEEP);
	assert_true(arena_held(&a) > 0); /* the next batch mallocs nothing */
	/* an oversized chunk is not kept */
	arena_reset(&a);
	{
		size_t held = arena_held(&a);

		arena_alloc(&a, 1024 * 1024);
		arena_reset(&a);
		assert_int_equal(arena_held(&a), held);
	}
	arena_free(&a);
	assert_int_equal(arena_held(&a), 0);
}

/* The json_t form's text, reals in their exact form as stored. */
static char *json_form(const struct resource *r)
{
	json_t *o = resource_to_json(r);
	char *text = json_dumps_exact(o, JSON_COMPACT);

	json_decref(o);
	return text;
}

static void check_same(const struct resource *r)
{
	char *want = json_form(r), small[16], *buf;
	int n = resource_json_write(r, small, sizeof small);

	assert_int_equal(n, (int)strlen(want));
	buf = malloc((size_t)n + 1);
	assert_int_equal(resource_json_write(r, buf, (size_t)n + 1), n);
	assert_string_equal(buf, want);
	free(buf);
	free(want);
}

static void test_event_detail_equals_the_json_form(void **state)
{
	static const char *const descriptors[] = {
		"{}",
		"{\"host\":\"db1\",\"port\":5432}",
		/* reals, escapes, nesting */
		("{\"x\":6.666,\"big\":1e300,\"neg\":-0.1,\"s\":\"\\u00e9\\\"\\\\\\n"
		 "\\u0001\\u001f/\",\"n\":[1,2.5,null,true],\"o\":{\"a\":{}}}"),
	};
	struct pool p = { .name = "pool-1.x:y" };
	struct resource *r = calloc(1, sizeof *r + 16);

	(void)state;
	r->pool = &p;
	strcpy(r->name, "r_1-2.3:4");
	for (size_t i = 0; i < sizeof descriptors / sizeof *descriptors; i++) {
		json_t *d = json_loads(descriptors[i], 0, NULL);

		assert_non_null(d);
		r->descriptor = json_dumps_exact(d, JSON_COMPACT);
		json_decref(d);
		r->state = i == 0 ? RS_FREE : RS_LEASED;
		r->version = (int64_t)i * 1000000007;
		r->created_at = 1700000000.123456;
		r->last_used_at = i == 0 ? 0 : 1700000123.5;
		r->lease_count = (int64_t)i * 3;
		check_same(r);
		free(r->descriptor);
	}
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allocations_stay_until_reset),
		cmocka_unit_test(test_large_and_room),
		cmocka_unit_test(test_reset_keeps_a_bounded_amount),
		cmocka_unit_test(test_event_detail_equals_the_json_form),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
