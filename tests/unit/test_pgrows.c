/*
 * Unit tests of pgrows (the PostgreSQL store's held rows): the last change
 * of a key wins, puts and deletes come out as separate sets, history keeps
 * its order, and values become array literals PostgreSQL reads back as
 * they were (quotes, backslashes, NULL).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pgrows.h"

struct emitted {
	int n;
	struct { int table; bool del; int ncols; char *arrays[PGR_MAX_COLS]; } e[16];
};

static void record_emit(void *arg, enum pgr_table t, bool del, int n,
			const char *const *arrays)
{
	struct emitted *em = arg;

	assert_true(em->n < 16);
	em->e[em->n].table = t;
	em->e[em->n].del = del;
	em->e[em->n].ncols = n;
	for (int i = 0; i < n; i++)
		em->e[em->n].arrays[i] = strdup(arrays[i]);
	em->n++;
}

static void emitted_free(struct emitted *em)
{
	for (int k = 0; k < em->n; k++)
		for (int i = 0; i < em->e[k].ncols; i++)
			free(em->e[k].arrays[i]);
	em->n = 0;
}

static void put_resource(struct pgrows *b, const char *pool, const char *name,
			 const char *state)
{
	const char *v[8] = { pool, name, state, "{}", "1", "1.5", NULL, "0" };

	pgrows_put(b, PGR_RESOURCES, v);
}

static void test_last_change_wins(void **state)
{
	struct pgrows *b = pgrows_new();
	struct emitted em = { 0 };
	const char *key_a[2] = { "p", "a" };

	put_resource(b, "p", "a", "free");
	put_resource(b, "p", "b", "free");
	put_resource(b, "p", "a", "leased"); /* replaces the first */
	pgrows_del(b, PGR_RESOURCES, key_a); /* and then a is gone */
	put_resource(b, "q", "a", "free");   /* another pool's a */
	assert_true(pgrows_bytes(b) > 0);
	pgrows_flush(b, record_emit, &em);
	assert_int_equal(em.n, 2);
	/* deletes first, then puts, of the one table */
	assert_int_equal(em.e[0].table, PGR_RESOURCES);
	assert_true(em.e[0].del);
	assert_int_equal(em.e[0].ncols, 2);
	assert_string_equal(em.e[0].arrays[0], "{\"p\"}");
	assert_string_equal(em.e[0].arrays[1], "{\"a\"}");
	assert_false(em.e[1].del);
	assert_int_equal(em.e[1].ncols, 8);
	assert_string_equal(em.e[1].arrays[0], "{\"p\",\"q\"}");
	assert_string_equal(em.e[1].arrays[1], "{\"b\",\"a\"}");
	assert_string_equal(em.e[1].arrays[6], "{NULL,NULL}");
	emitted_free(&em);
	/* Flushed: nothing left. */
	pgrows_flush(b, record_emit, &em);
	assert_int_equal(em.n, 0);
	assert_int_equal(pgrows_bytes(b), 0);
	pgrows_free(b);
}

static void test_history_order_and_escaping(void **state)
{
	struct pgrows *b = pgrows_new();
	struct emitted em = { 0 };
	const char *h1[9] = { "1", "leased", "p", "r", NULL, NULL, NULL, NULL,
			      "{\"name\":\"r\\\\1\"}" };
	const char *h2[9] = { "2", "returned", "p", "r", NULL, NULL, NULL, "7",
			      NULL };
	const char *h3[9] = { "3", "leased", "p", "r", NULL, NULL, NULL, NULL,
			      "NULL" };

	pgrows_put(b, PGR_HISTORY, h1);
	pgrows_put(b, PGR_HISTORY, h2);
	pgrows_put(b, PGR_HISTORY, h3); /* no key: all three kept, in order */
	pgrows_flush(b, record_emit, &em);
	assert_int_equal(em.n, 1);
	assert_int_equal(em.e[0].table, PGR_HISTORY);
	assert_string_equal(em.e[0].arrays[0], "{\"1\",\"2\",\"3\"}");
	assert_string_equal(em.e[0].arrays[7], "{NULL,\"7\",NULL}");
	/* " and \ are escaped; the text NULL is quoted, SQL NULL is not. */
	assert_string_equal(em.e[0].arrays[8],
			    "{\"{\\\"name\\\":\\\"r\\\\\\\\1\\\"}\",NULL,\"NULL\"}");
	emitted_free(&em);
	pgrows_free(b);
}

static void test_clear_forgets(void **state)
{
	struct pgrows *b = pgrows_new();
	struct emitted em = { 0 };
	const char *pool[3] = { "p", "{}", "1" };

	pgrows_put(b, PGR_POOLS, pool);
	pgrows_clear(b);
	pgrows_flush(b, record_emit, &em);
	assert_int_equal(em.n, 0);
	pgrows_put(b, PGR_POOLS, pool); /* usable after a clear */
	pgrows_flush(b, record_emit, &em);
	assert_int_equal(em.n, 1);
	emitted_free(&em);
	pgrows_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_last_change_wins),
		cmocka_unit_test(test_history_order_and_escaping),
		cmocka_unit_test(test_clear_forgets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
