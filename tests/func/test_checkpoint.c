/*
 * test_checkpoint.c - the WAL is checkpointed while poold serves (the
 * janitor, once a second, between batches): the pages committed into
 * poold.db-wal reach poold.db (the database file grows), and what was
 * committed is all there after a SIGKILL and after a clean stop.
 * SQLite only: PostgreSQL checkpoints itself.
 */
#include "harness.h"
#include "../h_pgstore.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define BATCHES 20
#define PER_BATCH 200

static off_t file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? sb.st_size : -1;
}

struct grown {
	const char *path;
	off_t from;
};

static bool has_grown(void *arg)
{
	struct grown *g = arg;

	return file_size(g->path) > g->from;
}

/* BATCHES resource.add requests of PER_BATCH resources with padded
 * descriptors: enough pages that a checkpoint must grow the file. */
static void add_many(pool_client *c)
{
	char name[32];

	for (int b = 0; b < BATCHES; b++) {
		json_t *items = json_array();

		for (int i = 0; i < PER_BATCH; i++) {
			snprintf(name, sizeof name, "r%d-%d", b, i);
			json_array_append_new(items, json_pack(
				"{s:s, s:{s:s, s:s}}", "name", name,
				"descriptor", "n", name, "pad",
				"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
				"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
		}
		json_decref(CALL_OK(c, "resource.add",
				    J("{s:s, s:o}", "pool", "p", "resources",
				      items)));
	}
}

static void test_wal_reaches_the_database_while_serving(void **state)
{
	poold_proc *d;
	pool_client *c;
	struct grown g;

	(void)state;
	if (h_pg_mode())
		skip();
	d = poold_start(NULL);
	c = h_connect(d);
	h_pool(c, "p", NULL);
	g.path = d->db;
	g.from = file_size(d->db);
	assert_true(g.from > 0);
	add_many(c);
	/* wal_autocheckpoint is off: only the janitor's checkpoints move
	 * pages into the database file. */
	if (!wait_until(has_grown, &g, h_now() + 60))
		fail_msg("poold.db stayed at %lld bytes: no checkpoint ran",
			 (long long)g.from);
	assert_int_equal(h_status_field(c, "p", "free"), BATCHES * PER_BATCH);
	pool_close(c);

	poold_kill9_restart(d);
	c = h_connect(d);
	assert_int_equal(h_status_field(c, "p", "free"), BATCHES * PER_BATCH);
	pool_close(c);
	poold_stop(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_wal_reaches_the_database_while_serving),
	};

	return RUN_FTESTS(tests);
}
