/* Unit tests of hmap: growth, replacement, and deletion that keeps every
 * other key reachable (backward shift instead of tombstones). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "hmap.h"

#define N 5000

static char keys[N][16];

static void test_put_get_replace(void **state)
{
	struct hmap m;
	int a = 1, b = 2;

	hmap_init(&m);
	assert_null(hmap_get(&m, "x"));
	hmap_put(&m, "x", &a);
	assert_ptr_equal(hmap_get(&m, "x"), &a);
	hmap_put(&m, "x", &b);
	assert_ptr_equal(hmap_get(&m, "x"), &b);
	assert_int_equal(m.len, 1);
	assert_ptr_equal(hmap_del(&m, "x"), &b);
	assert_null(hmap_del(&m, "x"));
	assert_int_equal(m.len, 0);
	hmap_free(&m);
}

static void test_many_with_deletes(void **state)
{
	struct hmap m;
	size_t pos = 0, seen = 0;

	hmap_init(&m);
	for (int i = 0; i < N; i++) {
		snprintf(keys[i], sizeof keys[i], "k%d", i);
		hmap_put(&m, keys[i], keys[i]);
	}
	assert_int_equal(m.len, N);
	/* Delete every third key; all others must still be found. */
	for (int i = 0; i < N; i += 3)
		assert_ptr_equal(hmap_del(&m, keys[i]), keys[i]);
	for (int i = 0; i < N; i++) {
		if (i % 3 == 0)
			assert_null(hmap_get(&m, keys[i]));
		else
			assert_ptr_equal(hmap_get(&m, keys[i]), keys[i]);
	}
	while (hmap_next(&m, &pos))
		seen++;
	assert_int_equal(seen, m.len);
	hmap_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_replace),
		cmocka_unit_test(test_many_with_deletes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
