/*
 * test_fulldisk.c - the database on a full filesystem (root only: the test
 * mounts a 3 MiB tmpfs and puts poold's --db there, with a 1 MiB filler file
 * beside it; the socket stays in the harness's own directory). resource.add
 * with big descriptors fills it until writes fail. Then:
 *  - a write that cannot be committed answers `internal`, saying the disk is
 *    full, and nothing of it happened;
 *  - reads (ping, status, pool.get, resource.get, resource.list, lease.get,
 *    lease.list) still work, and see exactly the acknowledged writes;
 *  - the database passes PRAGMA integrity_check (read-only, the daemon
 *    still running) and holds every acknowledged write;
 *  - once the filler is deleted, writes work again in the same daemon
 *    process; after a clean stop the database is checked once more.
 * The tmpfs is unmounted by the teardown, also when the test fails.
 */
#include "harness.h"
#include "h_sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FS_SIZE "size=3m"
#define FILLER_BYTES (1 << 20)
#define DESC_BYTES 16384   /* per resource */
#define PER_ADD 8          /* resources per resource.add */
#define MAX_ADDS 400

static char mnt[64];       /* the tmpfs; "" when not mounted */

/* Teardown: stop a daemon the test left (it keeps the mount busy), then
 * unmount and remove the mount point. */
static int fulldisk_teardown(void **state)
{
	int rc = harness_teardown(state);

	if (mnt[0]) {
		if (umount2(mnt, 0) < 0 && umount2(mnt, MNT_DETACH) < 0)
			fprintf(stderr, "fulldisk: cannot unmount %s: %s\n", mnt, strerror(errno));
		rmdir(mnt);
		mnt[0] = '\0';
	}
	return rc;
}

static void write_filler(const char *path)
{
	static char block[65536];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	memset(block, 'f', sizeof block);
	for (int i = 0; i < FILLER_BYTES / (int)sizeof block; i++)
		assert_int_equal(write(fd, block, sizeof block), (ssize_t)sizeof block);
	assert_int_equal(fsync(fd), 0);
	close(fd);
}

/* resource.add of PER_ADD resources named fill-<batch>-<i>; returns the
 * answer code and the message in msg. */
static pool_code add_batch(pool_client *c, int batch, char *msg, size_t msglen)
{
	static char text[DESC_BYTES + 1];
	json_t *items = json_array();
	pool_error err;
	int rc;

	memset(text, 'x', DESC_BYTES);
	text[DESC_BYTES] = '\0';
	for (int i = 0; i < PER_ADD; i++) {
		char name[64];

		snprintf(name, sizeof name, "fill-%d-%d", batch, i);
		text[0] = (char)('a' + (batch + i) % 26); /* no two pages alike */
		json_array_append_new(items, json_pack("{s:s, s:{s:s, s:i}}", "name", name,
						       "descriptor", "blob", text, "batch", batch));
	}
	rc = pool_resource_add(c, "disk", items, NULL, &err);
	json_decref(items);
	snprintf(msg, msglen, "%s", rc == 0 ? "" : err.message);
	return rc == 0 ? POOL_OK : err.code;
}

static void expect_full(pool_code code, const char *msg, const char *what)
{
	if (code != POOL_E_INTERNAL)
		fail_msg("%s on a full disk answered %s (%s), not internal", what,
			 pool_code_name(code), msg);
	if (!strstr(msg, "full"))
		fail_msg("%s on a full disk: the message does not say the disk is full: %s",
			 what, msg);
}

/* The reads that must keep working, and they see exactly the acknowledged
 * resources: base, acked_batches full batches and `extra` small ones. */
static void check_reads(pool_client *c, const char *lease_id, int acked_batches, int extra)
{
	json_t *r, *l;
	json_int_t total;

	json_decref(CALL_OK(c, "ping", NULL));
	total = h_status_field(c, "disk", "total");
	assert_int_equal(total, 1 + (json_int_t)acked_batches * PER_ADD + extra);
	r = CALL_OK(c, "pool.get", J("{s:s}", "pool", "disk"));
	json_decref(r);
	r = CALL_OK(c, "resource.get", J("{s:s, s:s}", "pool", "disk", "name", "base"));
	assert_string_equal(JSTR(r, "state"), "leased");
	assert_int_equal(JINT(JOBJ(r, "descriptor"), "replaced"), 1);
	json_decref(r);
	if (acked_batches > 0) {
		char name[64];

		snprintf(name, sizeof name, "fill-%d-%d", acked_batches - 1, PER_ADD - 1);
		r = CALL_OK(c, "resource.get", J("{s:s, s:s}", "pool", "disk", "name", name));
		assert_int_equal(strlen(JSTR(JOBJ(r, "descriptor"), "blob")), DESC_BYTES);
		json_decref(r);
	}
	r = CALL_OK(c, "resource.list", J("{s:s, s:i}", "pool", "disk", "limit", 100000));
	assert_int_equal(json_array_size(json_object_get(r, "resources")), total);
	json_decref(r);
	l = CALL_OK(c, "lease.get", J("{s:s}", "lease", lease_id));
	assert_string_equal(JSTR(JOBJ(l, "resource"), "name"), "base");
	json_decref(l);
	l = CALL_OK(c, "lease.list", J("{s:s}", "pool", "disk"));
	assert_int_equal(json_array_size(json_object_get(l, "leases")), 1);
	json_decref(l);
}

struct names {
	int batches; /* acknowledged batches: fill-0-* .. fill-(batches-1)-* */
	long rows, unexpected;
	bool base;
};

static void db_row(void *arg, int n, const char **v)
{
	struct names *nm = arg;
	int b, i;

	nm->rows++;
	if (strcmp(v[0], "base") == 0)
		nm->base = true;
	else if (sscanf(v[0], "fill-%d-%d", &b, &i) != 2 || b >= nm->batches || i >= PER_ADD)
		if (strncmp(v[0], "after-", 6) != 0)
			nm->unexpected++;
}

/* integrity_check, and exactly the acknowledged resources (plus `after`
 * ones added once space was freed). */
static void check_db(const char *path, int acked_batches, long after)
{
	struct h_sqlite s;
	struct names nm = { acked_batches, 0, 0, false };
	char err[512], out[256];

	if (h_sqlite_open(&s, path, err, sizeof err) < 0)
		fail_msg("%s", err);
	if (h_sqlite_scalar(&s, "PRAGMA integrity_check", out, sizeof out, err, sizeof err) < 0)
		fail_msg("%s", err);
	if (strcmp(out, "ok") != 0)
		fail_msg("PRAGMA integrity_check: %s", out);
	if (h_sqlite_query(&s, "SELECT name FROM resources WHERE pool = 'disk'", db_row, &nm,
			   err, sizeof err) < 0)
		fail_msg("%s", err);
	assert_true(nm.base);
	assert_int_equal(nm.unexpected, 0);
	assert_int_equal(nm.rows, 1 + (long)acked_batches * PER_ADD + after);
	if (h_sqlite_scalar(&s,
			    "SELECT count(*) FROM resources WHERE pool = 'disk' AND "
			    "length(json_extract(descriptor, '$.blob')) = 16384",
			    out, sizeof out, err, sizeof err) < 0)
		fail_msg("%s", err);
	assert_int_equal(atol(out), (long)acked_batches * PER_ADD);
	h_sqlite_close(&s);
}

static void test_full_disk(void **state)
{
	char db[128], filler[128], msg[1024];
	poold_proc *d;
	pool_client *c;
	json_t *l, *r;
	const char *lease_id;
	int acked = 0, failed_adds = 0, status;
	pool_code code = POOL_OK;
	pid_t pid;
	double uptime;

	if (geteuid() != 0) {
		print_message("SKIPPED: the full-disk test mounts a tmpfs and needs root\n");
		skip();
	}
	snprintf(mnt, sizeof mnt, "/tmp/poold-fulldisk-XXXXXX");
	assert_non_null(mkdtemp(mnt));
	if (mount("tmpfs", mnt, "tmpfs", 0, FS_SIZE) < 0) {
		int e = errno;

		rmdir(mnt);
		mnt[0] = '\0';
		print_message("SKIPPED: cannot mount a tmpfs (%s): needs CAP_SYS_ADMIN\n",
			      strerror(e));
		skip();
	}
	snprintf(db, sizeof db, "%s/poold.db", mnt);
	snprintf(filler, sizeof filler, "%s/filler", mnt);
	write_filler(filler);

	d = poold_start("--db", db, NULL);
	pid = d->pid;
	c = h_connect(d);
	pool_set_timeout(c, 30.0);
	h_pool(c, "disk", NULL);
	h_add(c, "disk", "base", NULL);
	l = CALL_OK(c, "checkout", J("{s:s, s:s, s:i}", "pool", "disk", "name", "base", "ttl", 0));
	lease_id = JSTR(l, "lease");
	r = CALL_OK(c, "replace", J("{s:s, s:{s:i}, s:I}", "lease", lease_id, "descriptor",
				    "replaced", 1, "version", JINT(JOBJ(l, "resource"), "version")));
	json_decref(r);

	/* Fill the disk. */
	while (acked + failed_adds < MAX_ADDS) {
		code = add_batch(c, acked, msg, sizeof msg);
		if (code != POOL_OK)
			break;
		acked++;
	}
	if (code == POOL_OK)
		fail_msg("%d resource.add of %d x %d bytes never filled a %s tmpfs", acked, PER_ADD,
			 DESC_BYTES, FS_SIZE);
	expect_full(code, msg, "resource.add");
	print_message("fulldisk: %d resource.add (%d KiB each) acknowledged before the disk "
		      "was full: %s\n",
		      acked, PER_ADD * DESC_BYTES / 1024, msg);

	/* Still full: the same write fails the same way, and reads work. */
	for (int i = 0; i < 3; i++) {
		code = add_batch(c, acked, msg, sizeof msg);
		expect_full(code, msg, "resource.add (again)");
	}
	check_reads(c, lease_id, acked, 0);
	/* The database is whole while the daemon keeps running. */
	check_db(db, acked, 0);

	/* Free the space: the same process takes writes again. */
	assert_int_equal(unlink(filler), 0);
	for (int i = 0; i < 2; i++) {
		char name[32];

		snprintf(name, sizeof name, "after-%d", i);
		h_add(c, "disk", name, NULL);
	}
	code = add_batch(c, acked, msg, sizeof msg);
	if (code != POOL_OK)
		fail_msg("resource.add after the space was freed: %s %s", pool_code_name(code),
			 msg);
	acked++;
	r = CALL_OK(c, "lease", J("{s:s, s:i}", "pool", "disk", "ttl", 0));
	assert_int_equal(pool_return(c, JSTR(r, "lease"), NULL, 0, NULL), 0);
	json_decref(r);
	r = CALL_OK(c, "ping", NULL);
	uptime = json_real_value(json_object_get(r, "uptime")) +
		 (double)json_integer_value(json_object_get(r, "uptime"));
	json_decref(r);
	assert_int_equal(d->pid, pid); /* not restarted */
	assert_int_equal(waitpid(pid, &status, WNOHANG), 0);
	assert_true(uptime > 0);
	check_reads(c, lease_id, acked, 2);
	json_decref(l);
	pool_close(c);

	/* A clean stop, then the database once more. */
	kill(d->pid, SIGTERM);
	assert_int_equal(waitpid(d->pid, &status, 0), d->pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	d->pid = 0;
	check_db(db, acked, 2);
	poold_respawn(d);
	poold_stop(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_full_disk, fulldisk_teardown),
	};

	return RUN_FTESTS(tests);
}
