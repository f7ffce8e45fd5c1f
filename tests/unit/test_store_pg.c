/*
 * Unit tests of the PostgreSQL store (store-pg.c) that have no SQLite
 * twin: several daemons may open one database (leadership decides who
 * writes), a newer schema is refused, a failed commit changes nothing, a
 * batch longer than the pipeline commits whole, and a lost connection is
 * opened again; and (without a server) URLs are logged without passwords. They run when POOL_TEST_STORE names a server
 * (scripts/pg-test.sh) and are skipped otherwise; test_store and the other
 * unit tests run on PostgreSQL too in that mode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fixture.h"
#include "store.h"

static int setup(void **state)
{
	char dir[] = "/tmp/poold-unit-XXXXXX";

	if (!h_pg_mode()) {
		*state = NULL;
		return 0;
	}
	assert_non_null(mkdtemp(dir));
	assert_int_equal(h_pg_create(dir), 0);
	*state = strdup(dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	if (!*state)
		return 0;
	h_pg_drop(*state);
	snprintf(cmd, sizeof cmd, "rm -rf %s", (char *)*state);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", (char *)*state);
	free(*state);
	return 0;
}

#define NEED_PG(state)                                                        \
	do {                                                                  \
		if (!*(state))                                                \
			skip(); /* no POOL_TEST_STORE: see pg-test.sh */       \
	} while (0)

static void test_migrate_and_refuse_newer(void **state)
{
	char url[1024], err[512], out[64];
	struct store_config cfg = { url, false, 0 };
	struct store *a, *b;

	NEED_PG(state);
	h_pg_url(*state, url, sizeof url);
	a = store_open(&cfg, err, sizeof err);
	assert_non_null(a);
	/* A second front end opens the same database: leadership, not a
	 * lock on the database, decides which one writes. */
	b = store_open(&cfg, err, sizeof err);
	assert_non_null(b);
	store_close(b);
	store_close(a);
	assert_int_equal(h_pg_sql(*state, "SELECT version FROM poold_schema",
				  out, sizeof out), 0);
	assert_int_equal(atoi(out), store_pg_schema_version());
	assert_int_equal(h_pg_sql(*state, "UPDATE poold_schema SET version = "
				  "999", NULL, 0), 0);
	assert_null(store_open(&cfg, err, sizeof err));
	assert_non_null(strstr(err, "newer"));
	/* --max-db-size and --sync full are SQLite's: refused with a reason. */
	assert_int_equal(h_pg_sql(*state, "UPDATE poold_schema SET version = "
				  "1", NULL, 0), 0);
	cfg.max_bytes = 1 << 20;
	assert_null(store_open(&cfg, err, sizeof err));
	assert_non_null(strstr(err, "--max-db-size"));
	cfg.max_bytes = 0;
	cfg.sync_full = true;
	assert_null(store_open(&cfg, err, sizeof err));
	assert_non_null(strstr(err, "synchronous_commit"));
}

/* A commit the server refuses (here a CHECK a test adds; on a real server
 * a full disk or a lost connection) fails the whole batch: every answer
 * internal, nothing of it left in memory, and writes work again after. */
static void test_failed_commit_changes_nothing(void **state)
{
	struct fixture *fx;
	json_t *a, *before, *after;
	char big[701], line[2048];
	int n;

	NEED_PG(state);
	fx = fx_open_at(*state);
	json_decref(fx_ok(fx, "{\"op\":\"pool.create\",\"pool\":\"p\"}"));
	json_decref(fx_ok(fx, "{\"op\":\"resource.add\",\"pool\":\"p\","
		       "\"resources\":[{\"name\":\"a\",\"descriptor\":{}}]}"));
	assert_int_equal(h_pg_sql(*state, "ALTER TABLE resources ADD "
				  "CONSTRAINT small CHECK (length(descriptor) "
				  "< 500)", NULL, 0), 0);
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	before = fx_ok(fx, "{\"op\":\"resource.list\",\"pool\":\"p\"}");
	n = snprintf(line, sizeof line, "{\"id\":1,\"op\":\"lease\",\"pool\":"
		     "\"p\"}\n{\"id\":2,\"op\":\"resource.add\",\"pool\":\"p\","
		     "\"resources\":[{\"descriptor\":{\"b\":\"%s\"}}]}\n", big);
	fx_send(fx, line, (size_t)n);
	for (int i = 0; i < 2; i++) {
		a = fx_recv(fx);
		assert_non_null(a);
		assert_string_equal(fx_code(a), "internal");
		json_decref(a);
	}
	after = fx_ok(fx, "{\"op\":\"resource.list\",\"pool\":\"p\"}");
	assert_true(json_equal(before, after));
	assert_int_equal(fx_status_of(fx, "leased"), 0);
	assert_int_equal(fx_status_of(fx, "total"), 1);
	json_decref(before);
	json_decref(after);
	assert_int_equal(h_pg_sql(*state, "ALTER TABLE resources DROP "
				  "CONSTRAINT small", NULL, 0), 0);
	json_decref(fx_ok(fx, "{\"op\":\"lease\",\"pool\":\"p\"}"));
	assert_int_equal(fx_status_of(fx, "leased"), 1);
	fx_close(fx);
	free(*state);
	*state = NULL; /* fx_close dropped the schema */
}

/* Batches of more rows than the pipeline holds (store-pg.c PIPE_MAX):
 * requests sent in one write share a commit; every row arrives, and a
 * restart loads them all in the same order. */
static void test_long_batch_and_restart(void **state)
{
	enum { REQS = 50, PER = 60 };
	struct fixture *fx;
	json_t *a, *list;
	char *lines, out[32];
	size_t used = 0;

	NEED_PG(state);
	lines = malloc(REQS * 4096);
	fx = fx_open_at(*state);
	json_decref(fx_ok(fx, "{\"op\":\"pool.create\",\"pool\":\"p\"}"));
	for (int k = 0; k < REQS; k++) {
		used += (size_t)sprintf(lines + used, "{\"op\":\"resource.add\","
					"\"pool\":\"p\",\"resources\":[");
		for (int i = k * PER; i < (k + 1) * PER; i++)
			used += (size_t)sprintf(lines + used, "%s{\"name\":"
						"\"r%05d\",\"descriptor\":{}}",
						i % PER ? "," : "", i);
		used += (size_t)sprintf(lines + used, "]}\n");
	}
	fx_send(fx, lines, used);
	free(lines);
	for (int k = 0; k < REQS; k++) {
		a = fx_recv(fx);
		assert_non_null(a);
		assert_string_equal(fx_code(a), "ok");
		json_decref(a);
	}
	assert_int_equal(h_pg_sql(*state, "SELECT count(*) FROM resources",
				  out, sizeof out), 0);
	assert_int_equal(atoi(out), REQS * PER);
	fx_shutdown(fx);
	free(fx);
	fx = fx_open_at(*state);
	assert_int_equal(fx_status_of(fx, "total"), REQS * PER);
	a = fx_ok(fx, "{\"op\":\"resource.list\",\"pool\":\"p\",\"limit\":2,"
	       "\"after\":\"r02997\"}");
	list = json_object_get(fx_result(a), "resources");
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(json_string_value(json_object_get(
		json_array_get(list, 1), "name")), "r02999");
	json_decref(a);
	fx_shutdown(fx);
	free(fx);
}

/* The server ends poold's connection (a restart of PostgreSQL, a
 * failover of its own): the next batch connects again and commits. */
static void test_connection_lost(void **state)
{
	struct fixture *fx;
	json_t *a;

	char schema[80], sql[256];

	NEED_PG(state);
	fx = fx_open_at(*state);
	json_decref(fx_ok(fx, "{\"op\":\"pool.create\",\"pool\":\"p\"}"));
	h_pg_schema(*state, schema, sizeof schema);
	snprintf(sql, sizeof sql, "SELECT count(pg_terminate_backend(pid)) "
		 "FROM pg_stat_activity WHERE application_name = '%s'", schema);
	assert_int_equal(h_pg_sql(NULL, sql, sql, sizeof sql), 0);
	assert_string_equal(sql, "1");
	/* The batch that meets the dead connection may fail (internal,
	 * nothing changed); the next one connects again. */
	a = fx_call(fx, "{\"op\":\"lease\",\"pool\":\"p\"}");
	assert_non_null(a);
	if (strcmp(fx_code(a), "ok") != 0) {
		assert_string_equal(fx_code(a), "internal");
		json_decref(a);
		a = fx_ok(fx, "{\"op\":\"lease\",\"pool\":\"p\"}");
	}
	json_decref(a);
	assert_int_equal(fx_status_of(fx, "leased"), 1);
	fx_shutdown(fx);
	free(fx);
}

/* Store URLs are logged without their passwords (no server needed). */
static void test_redact(void **state)
{
	static const char *const cases[][2] = {
		{ "postgresql://poold:s3cret@db1/poold",
		  "postgresql://poold:***@db1/poold" },
		{ "postgresql:///poold?host=/run&password=s3cret&user=p",
		  "postgresql:///poold?host=/run&password=***&user=p" },
		{ "postgresql://poold@db1/poold", "postgresql://poold@db1/poold" },
		{ "sqlite:/var/lib/poold/poold.db", "sqlite:/var/lib/poold/poold.db" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char *r = store_redact(cases[i][0]);

		assert_string_equal(r, cases[i][1]);
		free(r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_redact),
		cmocka_unit_test_setup_teardown(test_migrate_and_refuse_newer,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_failed_commit_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_batch_and_restart,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_lost, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
