/*
 * Unit tests of the store: migrations from schema/, refusing a newer schema
 * or a second daemon, persistence across a restart, start-up recovery, and
 * a failed commit that leaves memory exactly as the database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "fixture.h"
#include "janitor.h"
#include "store.h"

static void test_migrate_and_refuse_newer(void **state)
{
	char dir[] = "/tmp/poold-unit-XXXXXX", path[128], err[256];
	struct store_config cfg = { path, false, 0 };
	struct store *st;
	sqlite3 *db;

	if (h_pg_mode())
		skip(); /* SQLite's own; test_store_pg has PostgreSQL's */
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/x.db", dir);
	st = store_open(&cfg, err, sizeof err);
	assert_non_null(st);
	/* A second opener of the same database is refused. */
	assert_null(store_open(&cfg, err, sizeof err));
	assert_non_null(strstr(err, "in use by another poold"));
	store_close(st);
	/* Reopening applies nothing twice. */
	st = store_open(&cfg, err, sizeof err);
	assert_non_null(st);
	store_close(st);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 999", NULL,
				      NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_null(store_open(&cfg, err, sizeof err));
	assert_non_null(strstr(err, "newer"));
	unlink(path);
	rmdir(dir);
	assert_true(store_schema_version() >= 1);
}

static void test_restart_keeps_everything(void **state)
{
	struct fixture *fx = fx_open();
	char dir[64], lease[40];
	json_t *a, *res;
	json_int_t token, version;

	snprintf(dir, sizeof dir, "%s", fx->dir);
	json_decref(fx_ok(fx, "{\"op\":\"pool.create\",\"pool\":\"p\","
		       "\"max_size\":3,\"order\":\"fifo\",\"lease_ttl\":100}"));
	json_decref(fx_ok(fx, "{\"op\":\"resource.add\",\"pool\":\"p\","
		       "\"resources\":[{\"name\":\"a\",\"descriptor\":{\"k\":1}},"
		       "{\"name\":\"b\",\"descriptor\":{}}]}"));
	a = fx_ok(fx, "{\"op\":\"lease\",\"pool\":\"p\",\"request_id\":\"r1\"}");
	snprintf(lease, sizeof lease, "%s", json_string_value(
		json_object_get(fx_result(a), "lease")));
	token = json_integer_value(json_object_get(fx_result(a), "token"));
	json_decref(a);
	a = fx_ok(fx, "{\"op\":\"lease\",\"pool\":\"p\",\"bind\":\"connection\"}");
	json_decref(a);
	fx_shutdown(fx);
	free(fx);

	fx = fx_open_at(dir);
	a = fx_ok(fx, "{\"op\":\"pool.get\",\"pool\":\"p\"}");
	assert_string_equal(json_string_value(json_object_get(fx_result(a),
			    "order")), "fifo");
	assert_int_equal(json_integer_value(json_object_get(fx_result(a),
			 "max_size")), 3);
	json_decref(a);
	/* The plain lease is live; the connection-bound one ended. */
	a = fx_call(fx, "{\"op\":\"lease.get\",\"lease\":\"%s\"}", lease);
	assert_string_equal(fx_code(a), "ok");
	res = json_object_get(fx_result(a), "resource");
	assert_string_equal(json_string_value(json_object_get(res, "name")), "a");
	version = json_integer_value(json_object_get(res, "version"));
	assert_int_equal(version, 2);
	json_decref(a);
	a = fx_ok(fx, "{\"op\":\"status\",\"pool\":\"p\"}");
	res = json_array_get(json_object_get(fx_result(a), "pools"), 0);
	assert_int_equal(json_integer_value(json_object_get(res, "leased")), 1);
	assert_int_equal(json_integer_value(json_object_get(res, "free")), 1);
	json_decref(a);
	/* The same request_id answers the same lease after the restart. */
	a = fx_ok(fx, "{\"op\":\"lease\",\"pool\":\"p\",\"request_id\":\"r1\"}");
	assert_string_equal(json_string_value(json_object_get(fx_result(a),
			    "lease")), lease);
	json_decref(a);
	/* Fencing tokens continue upward. */
	a = fx_ok(fx, "{\"op\":\"lease\",\"pool\":\"p\"}");
	assert_true(json_integer_value(json_object_get(fx_result(a), "token")) >
		    token + 1);
	json_decref(a);
	fx_close(fx);
}

static void test_expired_while_down(void **state)
{
	struct fixture *fx = fx_open();
	char dir[64], lease[40];
	json_t *a;

	snprintf(dir, sizeof dir, "%s", fx->dir);
	json_decref(fx_ok(fx, "{\"op\":\"pool.create\",\"pool\":\"p\"}"));
	a = fx_ok(fx, "{\"op\":\"lease\",\"pool\":\"p\",\"ttl\":0.2}");
	snprintf(lease, sizeof lease, "%s", json_string_value(
		json_object_get(fx_result(a), "lease")));
	json_decref(a);
	fx_shutdown(fx);
	free(fx);
	usleep(300000);
	fx = fx_open_at(dir);
	a = fx_call(fx, "{\"op\":\"renew\",\"lease\":\"%s\"}", lease);
	assert_string_equal(fx_code(a), "expired");
	json_decref(a);
	fx_close(fx);
}

/* A database that cannot grow (--max-db-size, like a full disk) fails the
 * whole batch: every answer in it is internal, nothing of it stays in
 * memory (not even the change that would have fitted), and writes work
 * again as soon as there is room, without a restart. */
static void test_failed_commit_changes_nothing(void **state)
{
	char dir[] = "/tmp/poold-unit-XXXXXX", add[4096], big[2001];
	struct fixture *fx;
	json_t *a, *before, *after;
	int added = 0, n;

	if (h_pg_mode())
		skip(); /* --max-db-size is SQLite's; see test_store_pg */
	assert_non_null(mkdtemp(dir));
	fx = fx_open_sized(dir, 100 * 1024); /* 25 pages: the schema, then rows */
	json_decref(fx_ok(fx, "{\"op\":\"pool.create\",\"pool\":\"p\"}"));
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	snprintf(add, sizeof add, "{\"op\":\"resource.add\",\"pool\":\"p\","
		 "\"resources\":[{\"descriptor\":{\"b\":\"%s\"}}]}\n", big);
	for (;;) { /* fill it up */
		a = fx_call(fx, "%s", add);
		assert_non_null(a);
		if (strcmp(fx_code(a), "ok") != 0)
			break;
		added++;
		json_decref(a);
	}
	assert_string_equal(fx_code(a), "internal");
	assert_non_null(strstr(json_string_value(json_object_get(
		json_object_get(a, "error"), "message")), "full"));
	json_decref(a);
	assert_true(added > 3);
	assert_int_equal(fx_status_of(fx, "total"), added);

	/* One batch: a lease (which alone would fit) and an add (which does
	 * not). Both fail; the lease is not left behind in memory. */
	before = fx_ok(fx, "{\"op\":\"resource.list\",\"pool\":\"p\"}");
	n = snprintf(add, sizeof add, "{\"id\":1,\"op\":\"lease\",\"pool\":"
		     "\"p\"}\n{\"id\":2,\"op\":\"resource.add\",\"pool\":\"p\","
		     "\"resources\":[{\"descriptor\":{\"b\":\"%s\"}}]}\n", big);
	fx_send(fx, add, (size_t)n);
	for (int i = 0; i < 2; i++) {
		a = fx_recv(fx);
		assert_string_equal(fx_code(a), "internal");
		json_decref(a);
	}
	after = fx_ok(fx, "{\"op\":\"resource.list\",\"pool\":\"p\"}");
	assert_true(json_equal(before, after));
	assert_int_equal(fx_status_of(fx, "leased"), 0);
	json_decref(before);
	json_decref(after);

	/* Room again (removing frees pages): writes work, no restart. */
	a = fx_ok(fx, "{\"op\":\"resource.list\",\"pool\":\"p\",\"limit\":3}");
	for (int i = 0; i < 3; i++) {
		json_t *r = json_array_get(json_object_get(fx_result(a),
							   "resources"), (size_t)i);
		char rm[300];

		snprintf(rm, sizeof rm, "{\"op\":\"resource.remove\",\"pool\":"
			 "\"p\",\"name\":\"%s\"}",
			 json_string_value(json_object_get(r, "name")));
		json_decref(fx_ok(fx, rm));
	}
	json_decref(a);
	json_decref(fx_ok(fx, "{\"op\":\"lease\",\"pool\":\"p\"}"));
	fx_close(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_migrate_and_refuse_newer),
		cmocka_unit_test(test_restart_keeps_everything),
		cmocka_unit_test(test_expired_while_down),
		cmocka_unit_test(test_failed_commit_changes_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
