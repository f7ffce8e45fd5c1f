/*
 * Black-box tests of pools as configuration: --check-pools, --pools at
 * start-up, SIGHUP applying changes, and a bad file refused whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static char file_dir[] = "/tmp/poold-poolfile-XXXXXX";

static const char *write_file(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", file_dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* Runs poold with args; returns its exit status, its output in out. */
static int run_poold(const char *args, char *out, size_t outlen)
{
	char cmd[1024];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof cmd, "%s %s 2>&1", POOLD_BIN, args);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, outlen - 1, p);
	out[n] = '\0';
	return WEXITSTATUS(pclose(p));
}

static void test_check_pools(void **state)
{
	char args[512], out[1024];
	const char *good = write_file("good.jsonl",
		"# two pools\n{\"pool\": \"a\", \"max_size\": 2}\n\n"
		"{\"pool\": \"b\", \"create\": \"none\"}\n");

	snprintf(args, sizeof args, "--check-pools %s", good);
	assert_int_equal(run_poold(args, out, sizeof out), 0);
	assert_non_null(strstr(out, "2 pools"));
	snprintf(args, sizeof args, "--check-pools %s", write_file("bad.jsonl",
		 "{\"pool\": \"a\"}\n{\"pool\": \"b\", \"max_sise\": 3}\n"));
	assert_int_equal(run_poold(args, out, sizeof out), 1);
	assert_non_null(strstr(out, "bad.jsonl:2:"));
	assert_non_null(strstr(out, "max_sise"));
	snprintf(args, sizeof args, "--check-pools %s", write_file("dup.jsonl",
		 "{\"pool\": \"a\"}\n{\"pool\": \"a\"}\n"));
	assert_int_equal(run_poold(args, out, sizeof out), 1);
	assert_non_null(strstr(out, "twice"));
	snprintf(args, sizeof args, "--check-pools %s/missing", file_dir);
	assert_int_equal(run_poold(args, out, sizeof out), 1);
}

static void test_bad_file_refuses_start(void **state)
{
	char args[512], out[1024];
	const char *bad = write_file("bad-start.jsonl", "{\"pool\": \"a b\"}\n");

	snprintf(args, sizeof args, "--pools %s --socket %s/x.sock --db %s/x.db",
		 bad, file_dir, file_dir);
	assert_int_equal(run_poold(args, out, sizeof out), 1);
	assert_non_null(strstr(out, "bad-start.jsonl:1:"));
}

static bool pool_state_is(pool_client *c, const char *pool, const char *st)
{
	pool_error err;
	json_t *args = json_pack("{s:s}", "pool", pool), *res = NULL;
	bool ok = pool_call(c, "pool.get", args, &res, &err) == 0 &&
		  strcmp(json_string_value(json_object_get(res, "state")), st) == 0;

	json_decref(args);
	json_decref(res);
	return ok;
}

static bool log_has(const poold_proc *d, const char *text)
{
	char buf[65536];
	FILE *f = fopen(d->log, "r");
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	return strstr(buf, text) != NULL;
}

static void test_sighup_applies(void **state)
{
	const char *path = write_file("live.jsonl",
		"{\"pool\": \"spark\", \"max_size\": 4, \"lease_ttl\": 600}\n"
		"{\"pool\": \"gpu\", \"create\": \"none\"}\n");
	poold_proc *d = poold_start("--pools", path, NULL);
	pool_client *c = h_connect(d);
	json_t *p;

	p = CALL_OK(c, "pool.get", J("{s:s}", "pool", "spark"));
	assert_int_equal(JINT(p, "max_size"), 4);
	assert_int_equal(JINT(p, "lease_ttl"), 600);
	assert_true(json_is_true(json_object_get(p, "declared")));
	json_decref(p);
	/* A pool made at run time is not the file's to drain. */
	h_pool(c, "adhoc", NULL);

	/* spark changes (lease_ttl back to its default), gpu goes. */
	write_file("live.jsonl", "{\"pool\": \"spark\", \"max_size\": 8}\n"
		   "{\"pool\": \"new\", \"order\": \"fifo\"}\n");
	assert_int_equal(kill(d->pid, SIGHUP), 0);
	WAIT_UNTIL(pool_state_is(c, "gpu", "draining"), 5);
	p = CALL_OK(c, "pool.get", J("{s:s}", "pool", "spark"));
	assert_int_equal(JINT(p, "max_size"), 8);
	assert_int_equal(JINT(p, "lease_ttl"), 3600);
	json_decref(p);
	p = CALL_OK(c, "pool.get", J("{s:s}", "pool", "new"));
	assert_string_equal(JSTR(p, "order"), "fifo");
	json_decref(p);
	assert_true(pool_state_is(c, "adhoc", "active"));

	/* A bad file changes nothing. */
	write_file("live.jsonl", "{\"pool\": \"spark\", \"max_size\": -1}\n");
	assert_int_equal(kill(d->pid, SIGHUP), 0);
	WAIT_UNTIL(log_has(d, "pools file refused"), 5);
	p = CALL_OK(c, "pool.get", J("{s:s}", "pool", "spark"));
	assert_int_equal(JINT(p, "max_size"), 8);
	json_decref(p);
	assert_true(pool_state_is(c, "new", "active"));
	pool_close(c);
	poold_stop(d);
}

static int group_setup(void **state)
{
	return mkdtemp(file_dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof cmd, "rm -rf %s", file_dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_check_pools),
		FTEST(test_bad_file_refuses_start),
		FTEST(test_sighup_applies),
	};

	harness_init();
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
