/*
 * test_backup.c - the backup op and poolctl backup: the daemon copies its
 * committed database while it runs (SQLite's online backup through its own
 * connection); the copy opens as a database with everything committed
 * before it; an existing file is never overwritten; a relative path, a
 * non-admin and a missing field get clear errors.
 */
#include "h_cli.h"
#include "h_sqlite.h"
#include "../h_pgstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static long long count_rows(const char *db, const char *sql)
{
	struct h_sqlite s;
	char err[256];
	long long n = -1;
	sqlite3_stmt *st;

	if (h_sqlite_open(&s, db, err, sizeof err) < 0)
		fail_msg("%s", err);
	if (s.prepare(s.db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (s.step(st) == SQLITE_ROW)
			n = atoll((const char *)s.column_text(st, 0));
		s.finalize(st);
	}
	h_sqlite_close(&s);
	return n;
}

static void test_backup_copies_the_committed_state_while_serving(void **state)
{
	poold_proc *d;
	pool_client *c;
	char dir[128], file[256];
	json_t *l, *res;
	struct stat sb;

	if (h_pg_mode()) /* a SQLite file's copy; PostgreSQL has its own tools */
		skip();
	d = poold_start(NULL);
	c = h_connect(d);

	(void)state;
	h_tmpdir(dir, sizeof dir);
	snprintf(file, sizeof file, "%s/copy.db", dir);
	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", "r2", "r3", NULL);
	l = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	res = CALL_OK(c, "backup", J("{s:s}", "file", file));
	assert_string_equal(JSTR(res, "file"), file);
	assert_true(JINT(res, "bytes") > 0);
	json_decref(res);
	assert_int_equal(stat(file, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	/* the copy holds what was committed before it */
	assert_int_equal(count_rows(file, "SELECT count(*) FROM resources"), 3);
	assert_int_equal(count_rows(file, "SELECT count(*) FROM leases"), 1);
	/* the daemon kept serving */
	json_decref(CALL_OK(c, "return", J("{s:s}", "lease", JSTR(l, "lease"))));
	/* an existing file is never overwritten */
	H_HAS(CALL_ERR(c, "backup", J("{s:s}", "file", file), POOL_E_INTERNAL),
	      "File exists");
	assert_int_equal(count_rows(file, "SELECT count(*) FROM leases"), 1);
	/* a relative path is refused: the daemon's cwd is not the caller's */
	H_HAS(CALL_ERR(c, "backup", J("{s:s}", "file", "x.db"), POOL_E_BAD_REQUEST),
	      "absolute path");
	json_decref(l);
	pool_close(c);
	poold_stop(d);
	h_rmdir(dir);
}

static void test_poolctl_backup_makes_a_copy_of_a_relative_file(void **state)
{
	poold_proc *d;
	pool_client *c;
	char dir[128], file[256];

	if (h_pg_mode()) /* a SQLite file's copy; PostgreSQL has its own tools */
		skip();
	d = poold_start(NULL);
	c = h_connect(d);

	(void)state;
	h_tmpdir(dir, sizeof dir);
	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);
	H_SH_OK(d, "cd %s && poolctl backup copy.db", dir);
	H_HAS(h_out, "backed up to");
	snprintf(file, sizeof file, "%s/copy.db", dir);
	assert_int_equal(count_rows(file, "SELECT count(*) FROM resources"), 1);
	/* again into the same file: refused, and poolctl says so */
	H_SH_RC(1, d, "cd %s && poolctl backup copy.db", dir);
	H_HAS(h_err, "File exists");
	pool_close(c);
	poold_stop(d);
	h_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_backup_copies_the_committed_state_while_serving),
		FTEST(test_poolctl_backup_makes_a_copy_of_a_relative_file),
	};

	return RUN_FTESTS(tests);
}
