/*
 * test_commands.c - the create, reset and destroy commands of a pool, and
 * min_idle, max_idle and idle_ttl, against the real daemon. The commands are
 * small sh scripts written into the daemon's temp dir at run time (each
 * starts with D=<that dir>); they leave their traces (counters, pids, what
 * they read on stdin) in files there, which the tests poll with deadlines.
 * The last test drives a pool backed by examples/cluster-* end to end.
 */
#include "harness.h"
#include "h_files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* sh: wait (at most ~30 s, so a failed test leaves nothing behind for long)
 * until the file $D/F exists. */
#define WAIT_GO(f)                                                            \
	"i=0; while [ ! -e \"$D/" f "\" ] && [ $i -lt 1000 ]; do sleep 0.03; " \
	"i=$((i + 1)); done\n"

/* sh: records concurrency under tag $1: $D/$1.peaks gets the number running
 * (itself included) each time one starts; each run lasts 0.25 s. */
#define COUNT_SH                                                               \
	"tag=$1\n"                                                             \
	"exec 9>>\"$D/$tag.lock\"\n"                                           \
	"flock 9\n"                                                            \
	"n=$(cat \"$D/$tag.running\" 2>/dev/null || echo 0)\n"                 \
	"n=$((n + 1))\n"                                                       \
	"echo $n >\"$D/$tag.running\"\n"                                       \
	"echo $n >>\"$D/$tag.peaks\"\n"                                        \
	"flock -u 9\n"                                                         \
	"sleep 0.25\n"                                                         \
	"flock 9\n"                                                            \
	"n=$(cat \"$D/$tag.running\")\n"                                       \
	"echo $((n - 1)) >\"$D/$tag.running\"\n"                               \
	"flock -u 9\n"                                                         \
	"exec 9>&-\n"                                                          \
	"cat >/dev/null\n"                                                     \
	"printf '{\"made\": \"%s\"}\\n' \"$POOL_RESOURCE\"\n"

/* sh: a destroy command that records "POOL RESOURCE DESCRIPTOR" lines. */
#define REC_DESTROY_SH                                                         \
	"in=$(cat)\n"                                                          \
	"echo \"$POOL_NAME $POOL_RESOURCE $in\" >>\"$D/destroyed\"\n"

/* sh: a create command that answers at once. */
#define QUICK_CREATE_SH "printf '{\"n\": \"%s\"}\\n' \"$POOL_RESOURCE\"\n"

/* ---- files in the daemon's dir ------------------------------------------ */

static bool file_has(const char *path, const char *needle)
{
	char *s = h_slurp(path);
	bool found = s && strstr(s, needle);

	free(s);
	return found;
}

static int file_lines(const char *path)
{
	char *s = h_slurp(path);
	int n = 0;

	for (char *p = s; p && *p; p++)
		n += *p == '\n';
	free(s);
	return n;
}

/* The first number in the file, or -1 if it does not exist (yet). */
static long file_long(const char *path)
{
	char *s = h_slurp(path);
	long v = s && *s ? strtol(s, NULL, 10) : -1;

	free(s);
	return v;
}

/* The largest number on any line of the file (0 if none). */
static long file_max(const char *path)
{
	char *s = h_slurp(path), *p = s;
	long best = 0;

	while (p && *p) {
		long v = strtol(p, &p, 10);

		if (v > best)
			best = v;
		while (*p == '\n' || *p == ' ')
			p++;
	}
	free(s);
	return best;
}

static void touch(const char *path)
{
	FILE *f = fopen(path, "a");

	assert_non_null(f);
	fclose(f);
}

static bool log_has(const poold_proc *d, const char *needle)
{
	return file_has(d->log, needle);
}

/* True when pid is gone: no such process, or a zombie that nobody reaped
 * (an orphan's reaper may be slow, or may not reap at all in a container). */
static bool proc_gone(pid_t pid)
{
	char path[64], buf[512];
	FILE *f;
	size_t n;
	char *paren;

	assert_true(pid > 0);
	if (kill(pid, 0) != 0)
		return errno == ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return true;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

/* SIGKILLs the process groups listed (one a line) in the file: commands a
 * test left hanging on purpose. */
static void kill_groups(const char *path)
{
	char *s = h_slurp(path), *p = s;

	while (p && *p) {
		long g = strtol(p, &p, 10);

		if (g > 1)
			kill(-(pid_t)g, SIGKILL);
		while (*p == '\n' || *p == ' ')
			p++;
	}
	free(s);
}

/* ---- requests -------------------------------------------------------------- */

/* h_connect with 10 s instead of 30 for a hung daemon: the file stays
 * within its time budget when poold stops answering. */
static pool_client *connect_at(const char *file, int line, poold_proc *d)
{
	pool_client *c = h_connect_at(file, line, d);

	pool_set_timeout(c, 10);
	return c;
}
#define connect_to(d) connect_at(__FILE__, __LINE__, d)

/* {"cmd": [path, args...], "timeout"?, "max_concurrent"?}; a timeout < 0 or
 * a max_concurrent <= 0 is left out. The args end with NULL. */
static json_t *cmdv(double timeout, int maxc, const char *path, ...)
{
	json_t *argv = json_array(), *o;
	va_list ap;

	json_array_append_new(argv, json_string(path));
	va_start(ap, path);
	for (const char *a = va_arg(ap, const char *); a; a = va_arg(ap, const char *))
		json_array_append_new(argv, json_string(a));
	va_end(ap);
	o = json_pack("{s:o}", "cmd", argv);
	if (timeout >= 0)
		json_object_set_new(o, "timeout", json_real(timeout));
	if (maxc > 0)
		json_object_set_new(o, "max_concurrent", json_integer(maxc));
	return o;
}

/* pool.create name with these settings (stolen); "create" defaults to none. */
static json_t *mkpool(pool_client *c, const char *name, json_t *settings)
{
	json_object_set_new(settings, "pool", json_string(name));
	if (!json_object_get(settings, "create"))
		json_object_set_new(settings, "create", json_string("none"));
	return CALL_OK(c, "pool.create", settings);
}

static json_t *lease(pool_client *c, const char *pool)
{
	return CALL_OK(c, "lease", J("{s:s, s:i}", "pool", pool, "ttl", 0));
}

static void give_back(pool_client *c, json_t *l, json_t *descriptor)
{
	json_t *args = J("{s:s}", "lease", JSTR(l, "lease"));

	if (descriptor)
		json_object_set_new(args, "descriptor", descriptor);
	json_decref(CALL_OK(c, "return", args));
}

static json_t *res_get(pool_client *c, const char *pool, const char *name)
{
	return CALL_OK(c, "resource.get", J("{s:s, s:s}", "pool", pool, "name", name));
}

static json_int_t st(pool_client *c, const char *pool, const char *field)
{
	return h_status_field(c, pool, field);
}

#define RES(l) JOBJ(l, "resource")
#define RES_NAME(l) JSTR(RES(l), "name")

/* A name the daemon chose for a created resource: <pool>-<5 lowercase>. */
static void assert_generated_name(const char *pool, const char *name)
{
	size_t n = strlen(pool);

	assert_int_equal(strlen(name), n + 6);
	assert_memory_equal(name, pool, n);
	assert_int_equal(name[n], '-');
	for (size_t i = n + 1; i < n + 6; i++)
		assert_true(name[i] >= 'a' && name[i] <= 'z');
}

/* A raw lease request (async: the answer is read later with raw_recv). */
static raw_conn *raw_lease(const poold_proc *d, const char *pool, double wait)
{
	raw_conn *r = raw_connect(d->sock);
	char line[256];

	snprintf(line, sizeof(line),
		 "{\"op\":\"lease\",\"pool\":\"%s\",\"ttl\":0,\"wait\":%g}\n", pool, wait);
	raw_send(r, line);
	return r;
}

/* The error message of a raw response with this code. */
static const char *resp_msg(json_t *resp, const char *code)
{
	resp_expect_err(resp, code);
	return JSTR(JOBJ(resp, "error"), "message");
}

#define ASSERT_HAS(hay, needle)                                                \
	do {                                                                   \
		if (!strstr((hay), (needle)))                                  \
			fail_msg("\"%s\" not in \"%s\"", (needle), (hay));     \
	} while (0)

/* ---- settings ------------------------------------------------------------- */

static void test_command_settings(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = connect_to(d);
	json_t *p, *want;

	p = mkpool(c, "p", J("{s:{s:[s,s]}, s:{s:[s], s:i}, s:{s:[s]}}", "create", "cmd", "/bin/echo",
			     "{}", "reset", "cmd", "/bin/true", "timeout", 5, "destroy", "cmd",
			     "/bin/true"));
	/* Stored with the defaults filled in: timeout 600, max_concurrent 4,
	 * and no max_concurrent for destroy. */
	want = J("{s:[s,s], s:i, s:i}", "cmd", "/bin/echo", "{}", "timeout", 600, "max_concurrent", 4);
	assert_true(json_equal(json_object_get(p, "create"), want));
	json_decref(want);
	want = J("{s:[s], s:i, s:i}", "cmd", "/bin/true", "timeout", 5, "max_concurrent", 4);
	assert_true(json_equal(json_object_get(p, "reset"), want));
	json_decref(want);
	want = J("{s:[s], s:i}", "cmd", "/bin/true", "timeout", 600);
	assert_true(json_equal(json_object_get(p, "destroy"), want));
	json_decref(want);
	json_decref(p);
	p = CALL_OK(c, "pool.get", J("{s:s}", "pool", "p"));
	assert_int_equal(JINT(JOBJ(p, "create"), "max_concurrent"), 4);
	json_decref(p);

	/* reset and destroy back to null; create to builtin. */
	p = CALL_OK(c, "pool.set", J("{s:s, s:n, s:n, s:s}", "pool", "p", "reset", "destroy",
				     "create", "builtin"));
	assert_true(json_is_null(json_object_get(p, "reset")));
	assert_true(json_is_null(json_object_get(p, "destroy")));
	assert_string_equal(JSTR(p, "create"), "builtin");
	json_decref(p);

	/* Refused: cmd[0] must be absolute; an empty or non-string cmd;
	 * unknown keys; bad timeout/max_concurrent/env. */
	static const char *const bad[] = {
		"{\"destroy\": {\"cmd\": [\"/bin/true\"], \"max_concurrent\": 0}}",
		"{\"create\": {\"cmd\": [\"/bin/true\"], \"x\": 1}}",
		"{\"create\": {\"cmd\": [\"true\"]}}",
		"{\"create\": {\"cmd\": []}}",
		"{\"create\": {\"cmd\": [\"/bin/true\", 1]}}",
		"{\"create\": {\"cmd\": \"/bin/true\"}}",
		"{\"create\": {\"timeout\": 5}}",
		"{\"create\": {\"cmd\": [\"/bin/true\"], \"env\": {\"1X\": \"v\"}}}",
		"{\"create\": {\"cmd\": [\"/bin/true\"], \"env\": {\"X\": 1}}}",
		"{\"create\": {\"cmd\": [\"/bin/true\"], \"env\": [\"X=1\"]}}",
		"{\"create\": {\"cmd\": [\"/bin/true\"], \"timeout\": -1}}",
		"{\"create\": {\"cmd\": [\"/bin/true\"], \"max_concurrent\": 0}}",
		"{\"create\": {\"cmd\": [\"/bin/true\"], \"max_concurrent\": 1.5}}",
		"{\"reset\": {\"cmd\": [\"/bin/true\"], \"timeout\": \"5\"}}",
		"{\"create\": \"shell\"}",
		"{\"reset\": \"builtin\"}",
		"{\"destroy\": \"none\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *args = json_loads(bad[i], 0, NULL);

		assert_non_null(args);
		json_object_set_new(args, "pool", json_string("q"));
		CALL_ERR(c, "pool.create", json_deep_copy(args), POOL_E_BAD_REQUEST);
		json_object_set_new(args, "pool", json_string("p"));
		CALL_ERR(c, "pool.set", args, POOL_E_BAD_REQUEST);
	}
	CALL_ERR(c, "pool.get", J("{s:s}", "pool", "q"), POOL_E_NOT_FOUND);
	pool_close(c);
	poold_stop(d);
}

/* ---- create ---------------------------------------------------------------- */

static void test_create_success(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = connect_to(d);
	raw_conn *r;
	json_t *list, *res, *resp, *l, *desc;
	char name[64], want[256];

	h_script(d, "create.sh",
	       "echo \"making $POOL_RESOURCE for $POOL_NAME\" >&2\n" WAIT_GO("go")
	       "printf '{\"host\": \"h-%s\", \"pool\": \"%s\"}\\n' \"$POOL_RESOURCE\" "
	       "\"$POOL_NAME\"\n");
	json_decref(mkpool(c, "p", J("{s:o}", "create", cmdv(-1, 0, h_at(d, "create.sh"), NULL))));

	/* Its wait (0.1 s) does not bound the create. */
	r = raw_lease(d, "p", 0.1);
	WAIT_UNTIL(st(c, "p", "creating") == 1, 5);
	assert_int_equal(st(c, "p", "total"), 1);
	list = CALL_OK(c, "resource.list", J("{s:s}", "pool", "p"));
	assert_int_equal(json_array_size(json_object_get(list, "resources")), 1);
	res = json_array_get(json_object_get(list, "resources"), 0);
	assert_string_equal(JSTR(res, "state"), "creating");
	assert_int_equal(JINT(res, "version"), 1);
	assert_int_equal(json_object_size(JOBJ(res, "descriptor")), 0);
	snprintf(name, sizeof(name), "%s", JSTR(res, "name"));
	assert_generated_name("p", name);
	json_decref(list);
	/* A creating resource is neither free nor leasable by name. */
	CALL_ERR(c, "checkout", J("{s:s, s:s}", "pool", "p", "name", name), POOL_E_EXHAUSTED);
	assert_true(raw_silent(r, 0.3));

	touch(h_at(d, "go"));
	resp = raw_recv(r, 10);
	l = resp_result(resp);
	assert_string_equal(RES_NAME(l), name);
	assert_string_equal(JSTR(RES(l), "state"), "leased");
	assert_int_equal(JINT(RES(l), "version"), 3); /* creating, free, leased */
	desc = JOBJ(RES(l), "descriptor");
	snprintf(want, sizeof(want), "h-%s", name);
	assert_string_equal(JSTR(desc, "host"), want); /* POOL_RESOURCE */
	assert_string_equal(JSTR(desc, "pool"), "p");  /* POOL_NAME */
	json_decref(resp);
	raw_close(r);
	assert_int_equal(h_counter(c, "p", "created"), 1);
	assert_int_equal(h_counter(c, "p", "leases"), 1);
	assert_int_equal(h_counter(c, "p", "create_failed"), 0);
	res = res_get(c, "p", name);
	assert_string_equal(JSTR(res, "state"), "leased");
	assert_int_equal(JINT(res, "version"), 3);
	json_decref(res);
	/* Its stderr is in the log, tagged with pool and resource. */
	snprintf(want, sizeof(want), "create p/%s: making %s for p", name, name);
	WAIT_UNTIL(log_has(d, want), 5);

	/* The requester goes away while its resource is made: it just
	 * becomes free. */
	assert_int_equal(unlink(h_at(d, "go")), 0);
	r = raw_lease(d, "p", 0);
	WAIT_UNTIL(st(c, "p", "creating") == 1, 5);
	raw_close(r);
	touch(h_at(d, "go"));
	WAIT_UNTIL(st(c, "p", "free") == 1 && st(c, "p", "creating") == 0, 10);
	assert_int_equal(st(c, "p", "total"), 2);
	assert_int_equal(h_counter(c, "p", "created"), 2);
	list = CALL_OK(c, "resource.list", J("{s:s, s:s}", "pool", "p", "state", "free"));
	res = json_array_get(json_object_get(list, "resources"), 0);
	assert_non_null(res);
	assert_int_equal(JINT(res, "version"), 2);
	snprintf(want, sizeof(want), "h-%s", JSTR(res, "name"));
	assert_string_equal(JSTR(JOBJ(res, "descriptor"), "host"), want);
	json_decref(list);

	/* A free one is there now: no command runs for the next lease. */
	l = lease(c, "p");
	assert_int_equal(JINT(RES(l), "version"), 3);
	json_decref(l);
	assert_int_equal(h_counter(c, "p", "created"), 2);
	pool_close(c);
	poold_stop(d);
}

/* A resource being created counts toward max_size. */
static void test_creating_counts_toward_max_size(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = connect_to(d);
	raw_conn *r;
	json_t *resp;

	json_decref(mkpool(c, "p", J("{s:o, s:i}", "create",
				     cmdv(30, 0, h_script(d, "create.sh", WAIT_GO("go") "echo '{}'\n"), NULL),
				     "max_size", 1)));
	r = raw_lease(d, "p", 30);
	WAIT_UNTIL(st(c, "p", "creating") == 1, 5);
	CALL_ERR(c, "lease", J("{s:s}", "pool", "p"), POOL_E_EXHAUSTED);
	CALL_ERR(c, "resource.add", J("{s:s, s:[{s:s, s:{}}]}", "pool", "p", "resources", "name", "extra",
				      "descriptor"), POOL_E_CONFLICT);
	assert_int_equal(st(c, "p", "total"), 1);
	touch(h_at(d, "go"));
	resp = raw_recv(r, 10);
	resp_result(resp);
	json_decref(resp);
	raw_close(r);
	assert_int_equal(st(c, "p", "leased"), 1);
	assert_int_equal(h_counter(c, "p", "created"), 1);
	pool_close(c);
	poold_stop(d);
}

/* A short stderr, and a long one (past the 1 KiB the daemon keeps) whose
 * last line says what went wrong. */
#define FAILING_CREATE_SH                                                      \
	"echo \"line one\" >&2\n"                                              \
	"echo \"quota exceeded for $POOL_RESOURCE\" >&2\n"                     \
	"exit 3\n"
#define FAILING_CREATE_LONG_SH                                                 \
	"echo \"line one\" >&2\n"                                              \
	"i=0; while [ $i -lt 40 ]; do echo \"filler line $i "                  \
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\" >&2; "            \
	"i=$((i + 1)); done\n"                                                 \
	"echo \"quota exceeded for $POOL_RESOURCE\" >&2\n"                     \
	"exit 3\n"

static void test_create_failure(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = connect_to(d);
	raw_conn *w = raw_connect(d->sock), *r;
	json_t *resp, *ev, *list;
	const char *msg;
	char name[64] = "", want[256];
	bool failed_event = false;

	json_decref(mkpool(c, "p", J("{s:o, s:i}", "create",
				     cmdv(10, 0, h_script(d, "fail.sh", FAILING_CREATE_SH), NULL),
				     "max_size", 5)));
	raw_send(w, "{\"op\":\"watch\",\"pool\":\"p\"}\n");
	json_decref(raw_recv(w, 5));

	/* Answered create_failed at once, although it asked to wait. */
	r = raw_lease(d, "p", 30);
	resp = raw_recv(r, 10);
	msg = resp_msg(resp, "create_failed");
	ASSERT_HAS(msg, "exit status 3");
	ASSERT_HAS(msg, "line one\nquota exceeded for p-"); /* its stderr */
	json_decref(resp);

	/* Events: created (creating), then create_failed. */
	while (!failed_event) {
		ev = raw_recv(w, 5);
		if (strcmp(JSTR(ev, "event"), "created") == 0) {
			assert_string_equal(JSTR(RES(ev), "state"), "creating");
			snprintf(name, sizeof(name), "%s", RES_NAME(ev));
		} else if (strcmp(JSTR(ev, "event"), "create_failed") == 0) {
			assert_string_equal(RES_NAME(ev), name);
			failed_event = true;
		}
		json_decref(ev);
	}
	assert_generated_name("p", name);
	snprintf(want, sizeof(want), "create p/%s: quota exceeded for %s", name, name);
	WAIT_UNTIL(log_has(d, want), 5);

	/* The resource is gone; the failure is counted. */
	assert_string_equal(h_res_state(c, "p", name), "");
	list = CALL_OK(c, "resource.list", J("{s:s}", "pool", "p"));
	assert_int_equal(json_array_size(json_object_get(list, "resources")), 0);
	json_decref(list);
	assert_int_equal(st(c, "p", "total"), 0);
	assert_int_equal(h_counter(c, "p", "create_failed"), 1);
	assert_int_equal(h_counter(c, "p", "created"), 0);

	/* Again, the same connection stays usable. */
	raw_send(r, "{\"op\":\"lease\",\"pool\":\"p\",\"id\":2}\n");
	resp = raw_recv(r, 10);
	resp_expect_err(resp, "create_failed");
	assert_int_equal(json_integer_value(json_object_get(resp, "id")), 2);
	json_decref(resp);
	assert_int_equal(h_counter(c, "p", "create_failed"), 2);
	raw_close(r);
	raw_close(w);
	pool_close(c);
	poold_stop(d);
}

/* A long stderr: the message carries its tail, the last line included (the
 * one that usually says what went wrong), both on the wire and as a libpool
 * (so poolctl) user sees it. */
static void test_create_failure_long_stderr(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = connect_to(d);
	raw_conn *r;
	json_t *resp;
	const char *msg;

	json_decref(mkpool(c, "p", J("{s:o}", "create",
				     cmdv(10, 0, h_script(d, "fail.sh", FAILING_CREATE_LONG_SH), NULL))));
	r = raw_lease(d, "p", 0);
	resp = raw_recv(r, 10);
	msg = resp_msg(resp, "create_failed");
	assert_null(strstr(msg, "line one")); /* only its tail */
	ASSERT_HAS(msg, "filler line 39");
	ASSERT_HAS(msg, "quota exceeded for p-");
	json_decref(resp);
	raw_close(r);
	msg = CALL_ERR(c, "lease", J("{s:s}", "pool", "p"), POOL_E_CREATE_FAILED);
	ASSERT_HAS(msg, "quota exceeded for p-");
	pool_close(c);
	poold_stop(d);
}

static void test_create_bad_output(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = connect_to(d);
	static const char *const variants[] = { "notjson", "array", "two", "empty", "cut", "string" };
	const char *path = h_script(d, "bad.sh",
				  "case $1 in\n"
				  "notjson) echo 'not json' ;;\n"
				  "array) echo '[1, 2]' ;;\n"
				  "two) echo '{\"a\": 1} {\"b\": 2}' ;;\n"
				  "empty) : ;;\n"
				  "cut) printf '{\"a\": 1' ;;\n"
				  "string) echo '\"x\"' ;;\n"
				  "esac\n");
	char pool[32];

	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		snprintf(pool, sizeof(pool), "b-%s", variants[i]);
		json_decref(mkpool(c, pool, J("{s:o}", "create", cmdv(10, 0, path, variants[i], NULL))));
	}
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		const char *msg;

		snprintf(pool, sizeof(pool), "b-%s", variants[i]);
		msg = CALL_ERR(c, "lease", J("{s:s, s:i}", "pool", pool, "wait", 5),
			       POOL_E_CREATE_FAILED);
		ASSERT_HAS(msg, "JSON object");
		assert_int_equal(st(c, pool, "total"), 0);
		assert_int_equal(h_counter(c, pool, "create_failed"), 1);
		assert_int_equal(h_counter(c, pool, "created"), 0);
	}
	pool_close(c);
	poold_stop(d);
}

/* Timeouts kill the whole process group: "term" dies of SIGTERM but its
 * child ignores it (so it is the SIGKILL after the leader's exit that ends
 * it); in "stuck" both ignore SIGTERM (the SIGKILL after the grace period). */
static void test_create_timeout_kills_group(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = connect_to(d);
	raw_conn *r1, *r2;
	json_t *resp;
	const char *msg;
	long child1, child2, leader2;
	double t0;

	h_script(d, "term.sh",
	       "(trap '' TERM; exec sleep 100) &\n"
	       "echo $! >\"$D/term.child\"\n"
	       "echo \"still provisioning\" >&2\n"
	       "sleep 100\n");
	h_script(d, "stuck.sh",
	       "trap '' TERM\n"
	       "sleep 100 &\n"
	       "echo $! >\"$D/stuck.child\"\n"
	       "echo $$ >\"$D/stuck.leader\"\n"
	       "echo \"stuck\" >&2\n"
	       "i=0; while [ $i -lt 100 ]; do sleep 1; i=$((i + 1)); done\n");
	json_decref(mkpool(c, "term", J("{s:o}", "create", cmdv(0.5, 0, h_at(d, "term.sh"), NULL))));
	json_decref(mkpool(c, "stuck", J("{s:o}", "create", cmdv(0.5, 0, h_at(d, "stuck.sh"), NULL))));

	t0 = h_now();
	r1 = raw_lease(d, "term", 60);
	r2 = raw_lease(d, "stuck", 60);
	WAIT_UNTIL(file_long(h_at(d, "term.child")) > 0 && file_long(h_at(d, "stuck.child")) > 0, 5);
	child1 = file_long(h_at(d, "term.child"));
	child2 = file_long(h_at(d, "stuck.child"));
	WAIT_UNTIL(file_long(h_at(d, "stuck.leader")) > 0, 5);
	leader2 = file_long(h_at(d, "stuck.leader"));

	resp = raw_recv(r1, 10);
	msg = resp_msg(resp, "create_failed");
	ASSERT_HAS(msg, "timed out");
	ASSERT_HAS(msg, "still provisioning");
	json_decref(resp);
	assert_true(h_now() - t0 >= 0.5);
	WAIT_UNTIL(proc_gone((pid_t)child1), 5);

	resp = raw_recv(r2, 15);
	msg = resp_msg(resp, "create_failed");
	ASSERT_HAS(msg, "timed out");
	ASSERT_HAS(msg, "stuck");
	json_decref(resp);
	WAIT_UNTIL(proc_gone((pid_t)child2) && proc_gone((pid_t)leader2), 5);

	assert_int_equal(st(c, "term", "total"), 0);
	assert_int_equal(st(c, "stuck", "total"), 0);
	assert_int_equal(h_counter(c, "term", "create_failed"), 1);
	assert_int_equal(h_counter(c, "stuck", "create_failed"), 1);
	assert_true(log_has(d, "timed out after 0.5 s"));
	raw_close(r1);
	raw_close(r2);
	pool_close(c);
	poold_stop(d);
}

#define NCLIENTS 20
#define MAXC 3

static void test_create_max_concurrent(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = connect_to(d);
	raw_conn *r[NCLIENTS];
	json_t *seen = json_object();

	json_decref(mkpool(c, "m", J("{s:o}", "create", cmdv(30, MAXC, h_script(d, "count.sh", COUNT_SH),
								"create", NULL))));
	for (int i = 0; i < NCLIENTS; i++)
		r[i] = raw_lease(d, "m", 60);
	WAIT_UNTIL(st(c, "m", "creating") == MAXC, 5);
	/* No create slot: one that does not wait is exhausted. */
	CALL_ERR(c, "lease", J("{s:s}", "pool", "m"), POOL_E_EXHAUSTED);
	assert_int_equal(h_counter(c, "m", "exhausted"), 1);

	for (int i = 0; i < NCLIENTS; i++) {
		json_t *resp, *l;

		assert_true(st(c, "m", "creating") <= MAXC);
		resp = raw_recv(r[i], 30);
		l = resp_result(resp);
		if (json_object_get(seen, RES_NAME(l)))
			fail_msg("resource %s leased twice", RES_NAME(l));
		json_object_set_new(seen, RES_NAME(l), json_true());
		assert_string_equal(JSTR(JOBJ(RES(l), "descriptor"), "made"), RES_NAME(l));
		json_decref(resp);
		raw_close(r[i]);
	}
	assert_int_equal(json_object_size(seen), NCLIENTS);
	json_decref(seen);
	/* At most MAXC ran at once, and MAXC did. */
	assert_int_equal(file_lines(h_at(d, "create.peaks")), NCLIENTS);
	assert_int_equal(file_max(h_at(d, "create.peaks")), MAXC);
	assert_int_equal(h_counter(c, "m", "created"), NCLIENTS);
	assert_int_equal(st(c, "m", "leased"), NCLIENTS);
	assert_int_equal(st(c, "m", "creating"), 0);
	pool_close(c);
	poold_stop(d);
}

/* ---- min_idle, max_idle, idle_ttl ------------------------------------------ */

static bool warm_within(pool_client *c, const char *pool, json_int_t min_idle)
{
	json_t *s = h_status(c, pool);
	json_int_t n = JINT(s, "free") + JINT(s, "creating");

	json_decref(s);
	if (n > min_idle)
		fail_msg("pool %s: free + creating = %lld > min_idle %lld", pool, (long long)n,
			 (long long)min_idle);
	return n == min_idle;
}

static void test_min_idle_refill(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = connect_to(d);
	json_t *l1, *l2, *l3;

	json_decref(mkpool(c, "w", J("{s:o, s:i, s:i}", "create",
				     cmdv(10, 2, h_script(d, "quick.sh", QUICK_CREATE_SH), NULL),
				     "min_idle", 2, "max_size", 3)));
	/* Made ahead of demand (never more than min_idle)... */
	WAIT_UNTIL(warm_within(c, "w", 2) && st(c, "w", "free") == 2, 5);
	assert_int_equal(h_counter(c, "w", "created"), 2);

	/* ... and made again after leases, within max_size. */
	l1 = lease(c, "w");
	l2 = lease(c, "w");
	assert_int_equal(JINT(RES(l1), "version"), 3);
	WAIT_UNTIL(st(c, "w", "total") == 3 && st(c, "w", "free") == 1 &&
		   st(c, "w", "creating") == 0, 5);
	assert_int_equal(h_counter(c, "w", "created"), 3);
	assert_int_equal(h_counter(c, "w", "create_failed"), 0);

	/* Without the bound it fills up to min_idle again. */
	json_decref(CALL_OK(c, "pool.set", J("{s:s, s:i}", "pool", "w", "max_size", 0)));
	WAIT_UNTIL(warm_within(c, "w", 2) && st(c, "w", "free") == 2, 5);
	assert_int_equal(st(c, "w", "total"), 4);
	l3 = lease(c, "w");
	WAIT_UNTIL(st(c, "w", "free") == 2, 5);
	assert_int_equal(h_counter(c, "w", "created"), 5);

	/* Returned ones count: no more are made (no max_idle). */
	give_back(c, l1, NULL);
	give_back(c, l2, NULL);
	give_back(c, l3, NULL);
	assert_int_equal(st(c, "w", "free"), 5);
	assert_int_equal(h_counter(c, "w", "created"), 5);
	json_decref(l1);
	json_decref(l2);
	json_decref(l3);
	pool_close(c);
	poold_stop(d);
}

/* "POOL NAME DESCRIPTOR" in the destroy trace. */
static bool destroyed(const poold_proc *d, const char *pool, const char *name, const char *desc)
{
	char line[1024];

	snprintf(line, sizeof(line), "%s %s %s\n", pool, name, desc);
	return file_has(h_at(d, "destroyed"), line);
}

static void test_idle_trimming_through_destroy(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = connect_to(d);
	json_t *l[3], *keep;
	char names[3][64], desc[256];
	json_int_t made;

	h_script(d, "quick.sh", QUICK_CREATE_SH);
	h_script(d, "destroy.sh", REC_DESTROY_SH);
	json_decref(mkpool(c, "t", J("{s:o, s:o, s:f, s:i}", "create", cmdv(10, 0, h_at(d, "quick.sh"), NULL),
				     "destroy", cmdv(10, 0, h_at(d, "destroy.sh"), NULL), "idle_ttl", 0.5,
				     "min_idle", 1)));
	json_decref(mkpool(c, "x", J("{s:o, s:o, s:i}", "create", cmdv(10, 0, h_at(d, "quick.sh"), NULL),
				     "destroy", cmdv(10, 0, h_at(d, "destroy.sh"), NULL), "max_idle", 1)));

	/* idle_ttl: after the three are returned, two go through destroy; the
	 * last one returned stays for min_idle. */
	WAIT_UNTIL(st(c, "t", "free") == 1, 5);
	for (int i = 0; i < 3; i++) {
		l[i] = lease(c, "t");
		snprintf(names[i], sizeof(names[i]), "%s", RES_NAME(l[i]));
	}
	/* min_idle's refill is free before the three come back, so these
	 * are the last to become free. */
	WAIT_UNTIL(st(c, "t", "free") == 1 && st(c, "t", "creating") == 0, 5);
	for (int i = 0; i < 3; i++) {
		give_back(c, l[i], NULL);
		json_decref(l[i]);
	}
	WAIT_UNTIL(st(c, "t", "total") == 1 && st(c, "t", "destroying") == 0, 5);
	for (int i = 0; i < 2; i++) {
		snprintf(desc, sizeof(desc), "{\"n\":\"%s\"}", names[i]);
		assert_true(destroyed(d, "t", names[i], desc));
	}
	assert_string_equal(h_res_state(c, "t", names[2]), "free");
	/* All others went, min_idle's refill included if it made one while
	 * the three were out. */
	made = h_counter(c, "t", "created");
	assert_true(made >= 3);
	assert_int_equal(h_counter(c, "t", "destroyed"), made - 1);
	assert_int_equal(file_lines(h_at(d, "destroyed")), made - 1);
	/* Never below min_idle, however long it idles. */
	h_sleep(0.7);
	assert_string_equal(h_res_state(c, "t", names[2]), "free");
	assert_int_equal(file_lines(h_at(d, "destroyed")), made - 1);

	/* max_idle: the longest idle go first. */
	for (int i = 0; i < 3; i++) {
		l[i] = lease(c, "x");
		snprintf(names[i], sizeof(names[i]), "%s", RES_NAME(l[i]));
	}
	for (int i = 0; i < 3; i++) {
		give_back(c, l[i], NULL);
		json_decref(l[i]);
	}
	WAIT_UNTIL(st(c, "x", "total") == 1 && st(c, "x", "destroying") == 0, 5);
	keep = res_get(c, "x", names[2]);
	assert_string_equal(JSTR(keep, "state"), "free");
	json_decref(keep);
	for (int i = 0; i < 2; i++) {
		snprintf(desc, sizeof(desc), "{\"n\":\"%s\"}", names[i]);
		assert_true(destroyed(d, "x", names[i], desc));
	}
	pool_close(c);
	poold_stop(d);
}

/* ---- reset ------------------------------------------------------------------ */

static void test_reset_replaces_descriptor(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = connect_to(d);
	raw_conn *w, *b;
	json_t *l, *res, *resp, *in, *want;
	char *text;

	h_script(d, "reset.sh",
	       "in=$(cat)\n"
	       "echo \"$in\" >\"$D/reset-in-$POOL_RESOURCE\"\n" WAIT_GO("go-reset")
	       "printf '{\"cleaned\": true, \"was\": %s}\\n' \"$in\"\n");
	h_script(d, "quiet.sh", "cat >/dev/null\n");
	h_script(d, "mark.sh",
	       "cat >/dev/null\n"
	       "echo \"$POOL_RESOURCE\" >>\"$D/marked\"\n"
	       "echo '{\"fresh\": true}'\n");
	json_decref(mkpool(c, "r", J("{s:o}", "reset", cmdv(10, 0, h_at(d, "reset.sh"), NULL))));
	json_decref(mkpool(c, "q", J("{s:o}", "reset", cmdv(10, 0, h_at(d, "quiet.sh"), NULL))));
	json_decref(mkpool(c, "e", J("{s:o}", "reset", cmdv(10, 0, h_at(d, "mark.sh"), NULL))));
	h_add(c, "r", "r1", NULL);
	h_add(c, "q", "q1", NULL);
	h_add(c, "e", "e1", NULL);

	/* Returned with a descriptor: reset gets that one on stdin. */
	l = lease(c, "r");
	assert_int_equal(JINT(RES(l), "version"), 2);
	give_back(c, l, J("{s:i}", "dirty", 1));
	json_decref(l);
	res = res_get(c, "r", "r1");
	assert_string_equal(JSTR(res, "state"), "cleaning");
	assert_int_equal(JINT(res, "version"), 3);
	json_decref(res);
	assert_int_equal(st(c, "r", "cleaning"), 1);
	assert_int_equal(st(c, "r", "free"), 0);
	/* Waiters get clean resources only. */
	CALL_ERR(c, "lease", J("{s:s}", "pool", "r"), POOL_E_EXHAUSTED);
	w = raw_lease(d, "r", 20);
	WAIT_UNTIL(file_long(h_at(d, "reset-in-r1")) != -1, 5);
	text = h_slurp(h_at(d, "reset-in-r1"));
	in = json_loads(text, 0, NULL);
	free(text);
	want = J("{s:i}", "dirty", 1);
	assert_true(json_equal(in, want));
	json_decref(in);
	json_decref(want);
	assert_true(raw_silent(w, 0.2));
	assert_int_equal(st(c, "r", "waiters"), 1);

	touch(h_at(d, "go-reset"));
	resp = raw_recv(w, 10);
	l = resp_result(resp);
	assert_string_equal(RES_NAME(l), "r1");
	assert_int_equal(JINT(RES(l), "version"), 5); /* cleaning, free, leased */
	want = J("{s:b, s:{s:i}}", "cleaned", 1, "was", "dirty", 1);
	assert_true(json_equal(JOBJ(RES(l), "descriptor"), want));
	json_decref(want);
	json_decref(resp);
	raw_close(w);

	/* An empty stdout keeps the descriptor given back. */
	l = lease(c, "q");
	give_back(c, l, J("{s:i}", "k", 2));
	json_decref(l);
	WAIT_UNTIL(strcmp(h_res_state(c, "q", "q1"), "free") == 0, 5);
	res = res_get(c, "q", "q1");
	assert_int_equal(JINT(res, "version"), 4);
	assert_int_equal(JINT(JOBJ(res, "descriptor"), "k"), 2);
	json_decref(res);

	/* An expired lease, and a bind:connection lease whose connection
	 * closes, are reset too. */
	json_decref(CALL_OK(c, "lease", J("{s:s, s:f}", "pool", "e", "ttl", 0.3)));
	WAIT_UNTIL(file_lines(h_at(d, "marked")) == 1 && strcmp(h_res_state(c, "e", "e1"), "free") == 0, 5);
	assert_int_equal(h_counter(c, "e", "expired"), 1);
	res = res_get(c, "e", "e1");
	assert_true(json_is_true(json_object_get(JOBJ(res, "descriptor"), "fresh")));
	json_decref(res);
	b = raw_connect(d->sock);
	resp = raw_req(b, "{\"op\":\"lease\",\"pool\":\"e\",\"bind\":\"connection\"}");
	resp_result(resp);
	json_decref(resp);
	raw_close(b);
	WAIT_UNTIL(file_lines(h_at(d, "marked")) == 2 && strcmp(h_res_state(c, "e", "e1"), "free") == 0, 5);
	assert_int_equal(h_counter(c, "e", "reset_failed"), 0);
	pool_close(c);
	poold_stop(d);
}

static void test_reset_failure_discards(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = connect_to(d);
	json_t *l;
	char pool[8];

	h_script(d, "destroy.sh", REC_DESTROY_SH);
	h_script(d, "fail.sh", "cat >/dev/null\necho \"wipe failed on $POOL_RESOURCE\" >&2\nexit 1\n");
	h_script(d, "slow.sh", "cat >/dev/null\nsleep 100\n");
	h_script(d, "garbage.sh", "cat >/dev/null\necho 'all clean!'\n");
	/* f: fails, with a destroy command; g: times out; h: bad stdout. */
	json_decref(mkpool(c, "f", J("{s:o, s:o}", "reset", cmdv(10, 0, h_at(d, "fail.sh"), NULL), "destroy",
				     cmdv(10, 0, h_at(d, "destroy.sh"), NULL))));
	json_decref(mkpool(c, "g", J("{s:o}", "reset", cmdv(0.3, 0, h_at(d, "slow.sh"), NULL))));
	json_decref(mkpool(c, "h", J("{s:o}", "reset", cmdv(10, 0, h_at(d, "garbage.sh"), NULL))));
	h_add(c, "f", "f1", "f2", NULL);
	h_add(c, "g", "g1", NULL);
	h_add(c, "h", "h1", NULL);

	for (int i = 0; i < 3; i++) {
		snprintf(pool, sizeof(pool), "%c", "fgh"[i]);
		l = CALL_OK(c, "checkout", J("{s:s, s:s+}", "pool", pool, "name", pool, "1"));
		give_back(c, l, NULL);
		json_decref(l);
	}
	WAIT_UNTIL(strcmp(h_res_state(c, "f", "f1"), "") == 0, 5);
	assert_true(destroyed(d, "f", "f1", "{\"n\":\"f1\"}"));
	assert_int_equal(h_counter(c, "f", "reset_failed"), 1);
	assert_int_equal(h_counter(c, "f", "destroyed"), 1);
	assert_string_equal(h_res_state(c, "f", "f2"), "free");
	WAIT_UNTIL(log_has(d, "reset f/f1: wipe failed on f1"), 5);
	assert_true(log_has(d, "reset of f/f1 failed, discarding it"));

	WAIT_UNTIL(strcmp(h_res_state(c, "g", "g1"), "") == 0, 10);
	assert_int_equal(h_counter(c, "g", "reset_failed"), 1);
	WAIT_UNTIL(strcmp(h_res_state(c, "h", "h1"), "") == 0, 5);
	assert_int_equal(h_counter(c, "h", "reset_failed"), 1);
	assert_int_equal(st(c, "g", "total"), 0);
	assert_int_equal(st(c, "h", "total"), 0);
	pool_close(c);
	poold_stop(d);
}

static void test_reset_max_concurrent(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = connect_to(d);
	json_t *l[5];

	json_decref(mkpool(c, "k", J("{s:o}", "reset", cmdv(10, 2, h_script(d, "count.sh", COUNT_SH),
							     "reset", NULL))));
	h_add(c, "k", "k1", "k2", "k3", "k4", "k5", NULL);
	for (int i = 0; i < 5; i++)
		l[i] = lease(c, "k");
	for (int i = 0; i < 5; i++) {
		give_back(c, l[i], NULL);
		json_decref(l[i]);
	}
	/* Two run; the others stay cleaning until a slot frees. */
	assert_true(st(c, "k", "cleaning") >= 3);
	WAIT_UNTIL(st(c, "k", "free") == 5, 10);
	assert_int_equal(file_lines(h_at(d, "reset.peaks")), 5);
	assert_int_equal(file_max(h_at(d, "reset.peaks")), 2);
	assert_int_equal(h_counter(c, "k", "reset_failed"), 0);
	pool_close(c);
	poold_stop(d);
}

/* ---- destroy ---------------------------------------------------------------- */

static void test_destroy_retried(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = connect_to(d);
	json_t *res, *list;
	double t0, t_stuck;

	h_script(d, "flaky.sh",
	       "cat >/dev/null\n"
	       "f=\"$D/count-$POOL_RESOURCE\"\n"
	       "n=$(cat \"$f\" 2>/dev/null || echo 0); n=$((n + 1)); echo $n >\"$f\"\n"
	       "if [ \"$POOL_RESOURCE\" = stuck ] || [ $n -eq 1 ]; then\n"
	       "  echo \"backend unreachable (try $n)\" >&2; exit 1\n"
	       "fi\n");
	json_decref(mkpool(c, "d", J("{s:o}", "destroy", cmdv(10, 0, h_at(d, "flaky.sh"), NULL))));
	h_add(c, "d", "r1", "stuck", NULL);

	t0 = h_now();
	json_decref(CALL_OK(c, "resource.remove", J("{s:s, s:s}", "pool", "d", "name", "r1")));
	WAIT_UNTIL(h_counter(c, "d", "destroy_failed") == 1, 5);
	assert_int_equal(file_long(h_at(d, "count-r1")), 1);
	/* Still there, and said so, while it waits for its retry. */
	res = res_get(c, "d", "r1");
	assert_string_equal(JSTR(res, "state"), "destroying");
	json_decref(res);
	list = CALL_OK(c, "resource.list", J("{s:s, s:s}", "pool", "d", "state", "destroying"));
	assert_int_equal(json_array_size(json_object_get(list, "resources")), 1);
	json_decref(list);
	assert_int_equal(st(c, "d", "destroying"), 1);
	assert_int_equal(st(c, "d", "total"), 2);
	WAIT_UNTIL(log_has(d, "destroy of d/r1 failed (1 times), retrying in 2 s"), 5);
	assert_true(log_has(d, "destroy d/r1: backend unreachable (try 1)"));
	/* A destroying resource is removed only with force. */
	CALL_ERR(c, "resource.remove", J("{s:s, s:s}", "pool", "d", "name", "r1"), POOL_E_CONFLICT);

	/* "stuck" always fails; force takes it away (and ends its retries). */
	json_decref(CALL_OK(c, "resource.remove", J("{s:s, s:s}", "pool", "d", "name", "stuck")));
	WAIT_UNTIL(file_long(h_at(d, "count-stuck")) == 1 && h_counter(c, "d", "destroy_failed") == 2, 5);
	t_stuck = h_now();
	json_decref(CALL_OK(c, "resource.remove",
			    J("{s:s, s:s, s:b}", "pool", "d", "name", "stuck", "force", 1)));
	assert_string_equal(h_res_state(c, "d", "stuck"), "");

	/* The second try of r1 succeeds, after the backoff. */
	WAIT_UNTIL(strcmp(h_res_state(c, "d", "r1"), "") == 0, 8);
	assert_true(h_now() - t0 >= 1.5);
	assert_int_equal(file_long(h_at(d, "count-r1")), 2);
	assert_int_equal(st(c, "d", "total"), 0);
	assert_int_equal(st(c, "d", "destroying"), 0);
	assert_int_equal(h_counter(c, "d", "destroy_failed"), 2);
	h_sleep(t_stuck + 2.5 - h_now());
	assert_int_equal(file_long(h_at(d, "count-stuck")), 1);
	pool_close(c);
	poold_stop(d);
}

static void test_pool_delete_force_destroys_in_background(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = connect_to(d);

	h_script(d, "gated.sh",
	       "cat >/dev/null\n"
	       "echo \"$POOL_NAME $POOL_RESOURCE\" >>\"$D/started\"\n" WAIT_GO("go")
	       "echo \"$POOL_NAME $POOL_RESOURCE\" >>\"$D/done\"\n");
	json_decref(mkpool(c, "o", J("{s:o}", "destroy", cmdv(10, 0, h_at(d, "gated.sh"), NULL))));
	h_add(c, "o", "o1", "o2", NULL);
	json_decref(lease(c, "o"));

	json_decref(CALL_OK(c, "pool.delete", J("{s:s, s:b}", "pool", "o", "force", 1)));
	CALL_ERR(c, "pool.get", J("{s:s}", "pool", "o"), POOL_E_NOT_FOUND);
	WAIT_UNTIL(file_lines(h_at(d, "started")) == 2, 5);
	assert_true(file_has(h_at(d, "started"), "o o1\n"));
	assert_true(file_has(h_at(d, "started"), "o o2\n"));
	/* A new pool of that name is not disturbed by them. */
	json_decref(mkpool(c, "o", J("{}")));
	touch(h_at(d, "go"));
	WAIT_UNTIL(file_lines(h_at(d, "done")) == 2, 5);
	assert_int_equal(st(c, "o", "total"), 0);
	pool_close(c);
	poold_stop(d);
}

/* A drain while a create and a reset run: when they finish, their resources
 * are destroyed instead of being handed out, and the request that waited
 * for the create is answered draining at once. */
static void test_drain_while_commands_run(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = connect_to(d);
	raw_conn *r;
	json_t *l, *resp;

	h_script(d, "create.sh", WAIT_GO("go-create") "echo '{}'\n");
	h_script(d, "reset.sh", "cat >/dev/null\n" WAIT_GO("go-reset"));
	json_decref(mkpool(c, "dr", J("{s:o, s:o}", "create", cmdv(30, 0, h_at(d, "create.sh"), NULL),
				      "reset", cmdv(30, 0, h_at(d, "reset.sh"), NULL))));
	json_decref(mkpool(c, "ds", J("{s:o, s:o, s:o}", "create", cmdv(30, 0, h_at(d, "create.sh"), NULL),
				      "reset", cmdv(30, 0, h_at(d, "reset.sh"), NULL), "destroy",
				      cmdv(30, 0, h_script(d, "destroy.sh", REC_DESTROY_SH), NULL))));
	h_add(c, "dr", "a1", NULL);
	h_add(c, "ds", "b1", NULL);
	for (int i = 0; i < 2; i++) {
		const char *pool = i ? "ds" : "dr";

		l = lease(c, pool);
		give_back(c, l, NULL);
		json_decref(l);
		r = raw_lease(d, pool, 30);
		WAIT_UNTIL(st(c, pool, "creating") == 1 && st(c, pool, "cleaning") == 1, 5);
		json_decref(CALL_OK(c, "pool.drain", J("{s:s}", "pool", pool)));
		resp = raw_recv(r, 5);
		resp_expect_err(resp, "draining");
		json_decref(resp);
		raw_close(r);
	}
	touch(h_at(d, "go-create"));
	touch(h_at(d, "go-reset"));
	WAIT_UNTIL(st(c, "dr", "total") == 0, 5);
	WAIT_UNTIL(st(c, "ds", "total") == 0, 5);
	assert_true(destroyed(d, "ds", "b1", "{\"n\":\"b1\"}"));
	assert_int_equal(file_lines(h_at(d, "destroyed")), 2);
	json_decref(CALL_OK(c, "ping", NULL));
	pool_close(c);
	poold_stop(d);
}

/* The contract: "resource.remove runs the destroy command if the pool has
 * one", and a create that was interrupted may have half-provisioned
 * something. A forced remove of a creating or cleaning resource, and a
 * forced pool.delete of a pool with a creating one, stop its command but
 * must still run destroy for it (in the background), or a real cluster
 * leaks. */
static void test_forced_removal_still_destroys(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = connect_to(d);
	raw_conn *r;
	json_t *l, *resp;
	char name[64];

	h_script(d, "create.sh",
	       "echo $$ >>\"$D/pgids\"\n"
	       "echo \"$POOL_RESOURCE\" >\"$D/creating-$POOL_NAME\"\n" WAIT_GO("never")
	       "echo '{}'\n");
	h_script(d, "reset.sh", "cat >/dev/null\necho $$ >>\"$D/pgids\"\n" WAIT_GO("never"));
	h_script(d, "destroy.sh", REC_DESTROY_SH);
	json_decref(mkpool(c, "z", J("{s:o, s:o, s:o}", "create", cmdv(30, 0, h_at(d, "create.sh"), NULL),
				     "reset", cmdv(30, 0, h_at(d, "reset.sh"), NULL), "destroy",
				     cmdv(30, 0, h_at(d, "destroy.sh"), NULL))));
	json_decref(mkpool(c, "y", J("{s:o, s:o}", "create", cmdv(30, 0, h_at(d, "create.sh"), NULL),
				     "destroy", cmdv(30, 0, h_at(d, "destroy.sh"), NULL))));
	h_add(c, "z", "z1", NULL);

	/* cleaning */
	l = lease(c, "z");
	give_back(c, l, NULL);
	json_decref(l);
	assert_string_equal(h_res_state(c, "z", "z1"), "cleaning");
	CALL_ERR(c, "resource.remove", J("{s:s, s:s}", "pool", "z", "name", "z1"), POOL_E_CONFLICT);
	json_decref(CALL_OK(c, "resource.remove", J("{s:s, s:s, s:b}", "pool", "z", "name", "z1", "force", 1)));
	assert_string_equal(h_res_state(c, "z", "z1"), "");

	/* creating: the request that waits for it is answered. */
	r = raw_lease(d, "z", 30);
	WAIT_UNTIL(file_long(h_at(d, "creating-z")) != -1, 5);
	{
		char *s = h_slurp(h_at(d, "creating-z"));

		snprintf(name, sizeof(name), "%.*s", (int)strcspn(s, "\n"), s);
		free(s);
	}
	CALL_ERR(c, "resource.remove", J("{s:s, s:s}", "pool", "z", "name", name), POOL_E_CONFLICT);
	json_decref(CALL_OK(c, "resource.remove", J("{s:s, s:s, s:b}", "pool", "z", "name", name, "force", 1)));
	resp = raw_recv(r, 5);
	assert_false(json_is_true(json_object_get(resp, "ok")));
	json_decref(resp);
	raw_close(r);
	assert_int_equal(st(c, "z", "total"), 0);

	/* pool.delete force with a creating resource. */
	r = raw_lease(d, "y", 30);
	WAIT_UNTIL(file_long(h_at(d, "creating-y")) != -1, 5);
	json_decref(CALL_OK(c, "pool.delete", J("{s:s, s:b}", "pool", "y", "force", 1)));
	json_decref(raw_recv(r, 5));
	raw_close(r);

	/* Each of the three went through destroy. */
	{
		char *s = h_slurp(h_at(d, "creating-y")), yname[64];
		bool z1 = false, zc = false, yc = false;
		double end = h_now() + 5;

		snprintf(yname, sizeof(yname), "%.*s", (int)strcspn(s, "\n"), s);
		free(s);
		while (!(z1 && zc && yc) && h_now() < end) {
			z1 = destroyed(d, "z", "z1", "{\"n\":\"z1\"}");
			zc = file_has(h_at(d, "destroyed"), name);
			yc = file_has(h_at(d, "destroyed"), yname);
			h_sleep(0.05);
		}
		kill_groups(h_at(d, "pgids"));
		if (!z1 || !zc || !yc)
			fail_msg("destroy did not run for: %s%s%s", z1 ? "" : "z1 (was cleaning) ",
				 zc ? "" : "the creating one of z (resource.remove force) ",
				 yc ? "" : "the creating one of y (pool.delete force)");
	}
	kill_groups(h_at(d, "pgids"));
	pool_close(c);
	poold_stop(d);
}

/* ---- the daemon keeps serving ------------------------------------------------- */

/* pool.delete with force: the destroy commands of its resources outlive
 * the pool, and a restart of poold in the middle runs them again rather
 * than forgetting them. */
static void test_orphan_destroy_survives_restart(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = connect_to(d);

	/* The first run of each destroy hangs (poold is killed meanwhile);
	 * the run after the restart records it. */
	h_script(d, "slow-destroy.sh",
	       "in=$(cat)\n"
	       "if [ ! -e \"$D/restarted\" ]; then sleep 100; fi\n"
	       "echo \"$POOL_NAME $POOL_RESOURCE $in\" >>\"$D/destroyed\"\n");
	json_decref(mkpool(c, "o", J("{s:o}", "destroy",
				     cmdv(60, 0, h_at(d, "slow-destroy.sh"), NULL))));
	h_add(c, "o", "o1", "o2", NULL);
	json_decref(CALL_OK(c, "pool.delete", J("{s:s, s:b}", "pool", "o", "force", 1)));
	CALL_ERR(c, "pool.get", J("{s:s}", "pool", "o"), POOL_E_NOT_FOUND);
	WAIT_UNTIL(log_has(d, "destroy o/o1: started pid") &&
		   log_has(d, "destroy o/o2: started pid"), 5);
	pool_close(c);
	poold_kill9(d);
	fclose(fopen(h_at(d, "restarted"), "w"));
	poold_respawn(d);
	WAIT_UNTIL(destroyed(d, "o", "o1", "{\"n\":\"o1\"}") &&
		   destroyed(d, "o", "o2", "{\"n\":\"o2\"}"), 10);
	assert_true(log_has(d, "destroy of o/o1 (its pool was deleted) runs"));
	poold_stop(d);
}

static void test_ping_while_commands_run(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = connect_to(d);
	raw_conn *r[4];

	/* The commands run until the test lets them go: every ping below is
	 * answered while all four still run (behaviour, not a figure: how
	 * fast is poolbench's business). */
	json_decref(mkpool(c, "s", J("{s:o}", "create",
				     cmdv(60, 4, h_script(d, "slow.sh", WAIT_GO("go") "echo '{}'\n"), NULL))));
	json_decref(mkpool(c, "b", J("{s:s}", "create", "builtin")));
	for (int i = 0; i < 4; i++)
		r[i] = raw_lease(d, "s", 30);
	WAIT_UNTIL(st(c, "s", "creating") == 4, 10);
	for (int i = 0; i < 30; i++) {
		json_t *res = NULL;
		pool_error err;

		assert_int_equal(pool_ping(c, &res, &err), 0);
		json_decref(res);
	}
	/* Other work goes on too. */
	json_decref(lease(c, "b"));
	assert_int_equal(st(c, "s", "creating"), 4);
	assert_int_equal(close(open(h_at(d, "go"), O_CREAT | O_WRONLY, 0644)), 0);
	for (int i = 0; i < 4; i++) {
		json_t *resp = raw_recv(r[i], 10);

		resp_result(resp);
		json_decref(resp);
		raw_close(r[i]);
	}
	assert_int_equal(st(c, "s", "leased"), 4);
	pool_close(c);
	poold_stop(d);
}

/* ---- crash recovery ------------------------------------------------------------ */

static void test_kill9_during_commands(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = connect_to(d);
	raw_conn *r;
	json_t *l;
	char name[64], want[256], *s;

	/* The first run of each hangs; later runs succeed. */
	h_script(d, "create.sh",
	       "echo $$ >>\"$D/pgids\"\n"
	       "echo \"$POOL_RESOURCE\" >\"$D/creating\"\n" WAIT_GO("never")
	       "echo '{}'\n");
	h_script(d, "destroy.sh", REC_DESTROY_SH);
	h_script(d, "reset.sh",
	       "cat >/dev/null\n"
	       "echo $$ >>\"$D/pgids\"\n"
	       "n=$(cat \"$D/r-count\" 2>/dev/null || echo 0); n=$((n + 1)); echo $n >\"$D/r-count\"\n"
	       "if [ $n -eq 1 ]; then\n" WAIT_GO("never") "fi\n");
	h_script(d, "x-destroy.sh",
	       "in=$(cat)\n"
	       "echo $$ >>\"$D/pgids\"\n"
	       "n=$(cat \"$D/x-count\" 2>/dev/null || echo 0); n=$((n + 1)); echo $n >\"$D/x-count\"\n"
	       "echo \"$in\" >>\"$D/x-in\"\n"
	       "if [ $n -eq 1 ]; then\n" WAIT_GO("never") "fi\n");
	json_decref(mkpool(c, "c", J("{s:o, s:o}", "create", cmdv(60, 0, h_at(d, "create.sh"), NULL),
				     "destroy", cmdv(60, 0, h_at(d, "destroy.sh"), NULL))));
	json_decref(mkpool(c, "r", J("{s:o}", "reset", cmdv(60, 0, h_at(d, "reset.sh"), NULL))));
	json_decref(mkpool(c, "x", J("{s:o}", "destroy", cmdv(60, 0, h_at(d, "x-destroy.sh"), NULL))));
	h_add(c, "r", "r1", NULL);
	h_add(c, "x", "x1", NULL);

	r = raw_lease(d, "c", 60);
	WAIT_UNTIL(file_long(h_at(d, "creating")) != -1, 5);
	s = h_slurp(h_at(d, "creating"));
	snprintf(name, sizeof(name), "%.*s", (int)strcspn(s, "\n"), s);
	free(s);
	l = lease(c, "r");
	give_back(c, l, J("{s:s}", "job", "left this"));
	json_decref(l);
	json_decref(CALL_OK(c, "resource.remove", J("{s:s, s:s}", "pool", "x", "name", "x1")));
	WAIT_UNTIL(file_long(h_at(d, "r-count")) == 1 && file_long(h_at(d, "x-count")) == 1, 5);
	assert_int_equal(st(c, "c", "creating"), 1);
	assert_int_equal(st(c, "r", "cleaning"), 1);
	assert_int_equal(st(c, "x", "destroying"), 1);

	pool_close(c);
	poold_kill9_restart(d);
	raw_close(r);
	c = connect_to(d);

	/* creating -> destroyed (with the descriptor it had: {}). */
	WAIT_UNTIL(strcmp(h_res_state(c, "c", name), "") == 0, 5);
	assert_true(destroyed(d, "c", name, "{}"));
	snprintf(want, sizeof(want), "resource c/%s was being created when poold stopped", name);
	assert_true(log_has(d, want));
	/* cleaning -> reset again, then free, with what the job gave back. */
	WAIT_UNTIL(file_long(h_at(d, "r-count")) == 2 && strcmp(h_res_state(c, "r", "r1"), "free") == 0, 5);
	l = res_get(c, "r", "r1");
	assert_string_equal(JSTR(JOBJ(l, "descriptor"), "job"), "left this");
	json_decref(l);
	assert_true(log_has(d, "resource r/r1 was being reset when poold stopped"));
	/* destroying -> destroy again, then gone. */
	WAIT_UNTIL(file_long(h_at(d, "x-count")) == 2 && strcmp(h_res_state(c, "x", "x1"), "") == 0, 5);
	assert_int_equal(file_lines(h_at(d, "x-in")), 2);
	assert_true(file_has(h_at(d, "x-in"), "{\"n\":\"x1\"}\n{\"n\":\"x1\"}\n"));
	assert_true(log_has(d, "resource x/x1 was being destroyed when poold stopped"));
	assert_int_equal(st(c, "c", "total"), 0);
	assert_int_equal(st(c, "r", "total"), 1);
	assert_int_equal(st(c, "x", "total"), 0);

	kill_groups(h_at(d, "pgids"));
	pool_close(c);
	poold_stop(d);
}

/* ---- examples/ ---------------------------------------------------------------- */

/* examples/ of the source tree, found from this file's path. */
static void examples_dir(char *out, size_t len)
{
	char src[PATH_MAX], joined[PATH_MAX + 32];
	char *slash;

	snprintf(src, sizeof(src), "%s", __FILE__);
	slash = strrchr(src, '/');
	if (src[0] != '/' || !slash)
		fail_msg("__FILE__ is not an absolute path (%s): cannot find examples/", __FILE__);
	*slash = '\0';
	snprintf(joined, sizeof(joined), "%s/../../examples", src);
	if (!realpath(joined, out) || strlen(out) >= len)
		fail_msg("no examples directory at %s", joined);
}

static void test_examples_end_to_end(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = connect_to(d);
	char ex[PATH_MAX], create[PATH_MAX + 32], reset[PATH_MAX + 32], destroy[PATH_MAX + 32];
	char root[320], path[700], n1[64], n2[64], want[256], *left;
	json_t *l1, *l2, *res, *desc;
	pid_t pid1, pid2;

	examples_dir(ex, sizeof(ex));
	snprintf(create, sizeof(create), "%s/cluster-create", ex);
	snprintf(reset, sizeof(reset), "%s/cluster-reset", ex);
	snprintf(destroy, sizeof(destroy), "%s/cluster-destroy", ex);
	assert_int_equal(access(create, X_OK), 0);
	assert_int_equal(access(reset, X_OK), 0);
	assert_int_equal(access(destroy, X_OK), 0);
	snprintf(root, sizeof(root), "%s/clusters", d->dir);

	json_decref(mkpool(c, "demo", J("{s:o, s:o, s:o, s:i}",
		"create", cmdv(30, 2, create, "--root", root, "--delay", "0.2", "--lifetime", "120", NULL),
		"reset", cmdv(30, 2, reset, "--root", root, NULL),
		"destroy", cmdv(30, 0, destroy, "--root", root, NULL),
		"min_idle", 1)));
	WAIT_UNTIL(st(c, "demo", "free") == 1, 10);

	/* A warm cluster, then one made on demand. */
	l1 = lease(c, "demo");
	l2 = lease(c, "demo");
	snprintf(n1, sizeof(n1), "%s", RES_NAME(l1));
	snprintf(n2, sizeof(n2), "%s", RES_NAME(l2));
	assert_string_not_equal(n1, n2);
	desc = JOBJ(RES(l1), "descriptor");
	assert_string_equal(JSTR(desc, "name"), n1);
	snprintf(path, sizeof(path), "%s/%s", root, n1);
	assert_string_equal(JSTR(desc, "dir"), path);
	assert_int_equal(strncmp(JSTR(desc, "endpoint"), "127.0.0.1:", 10), 0);
	assert_int_equal(JINT(desc, "resets"), 0);
	pid1 = (pid_t)JINT(desc, "pid");
	pid2 = (pid_t)JINT(JOBJ(RES(l2), "descriptor"), "pid");
	assert_false(proc_gone(pid1));
	assert_false(proc_gone(pid2));
	snprintf(want, sizeof(want), "create demo/%s: cluster %s is up", n1, n1);
	WAIT_UNTIL(log_has(d, want), 5);

	/* The job leaves scratch files; reset drops them. */
	snprintf(path, sizeof(path), "%s/%s/scratch/job.out", root, n1);
	touch(path);
	give_back(c, l1, NULL);
	json_decref(l1);
	WAIT_UNTIL(strcmp(h_res_state(c, "demo", n1), "free") == 0, 10);
	res = res_get(c, "demo", n1);
	assert_int_equal(JINT(JOBJ(res, "descriptor"), "resets"), 1);
	assert_int_equal(JINT(JOBJ(res, "descriptor"), "pid"), pid1);
	json_decref(res);
	assert_int_not_equal(access(path, F_OK), 0);
	assert_false(proc_gone(pid1));

	/* Discarded: destroyed, process and directory gone. */
	json_decref(CALL_OK(c, "return", J("{s:s, s:b}", "lease", JSTR(l2, "lease"), "discard", 1)));
	json_decref(l2);
	WAIT_UNTIL(strcmp(h_res_state(c, "demo", n2), "") == 0, 10);
	WAIT_UNTIL(proc_gone(pid2), 5);
	snprintf(path, sizeof(path), "%s/%s", root, n2);
	assert_int_not_equal(access(path, F_OK), 0);

	/* Drained: every cluster is taken apart. */
	json_decref(CALL_OK(c, "pool.drain", J("{s:s}", "pool", "demo")));
	WAIT_UNTIL(st(c, "demo", "total") == 0, 10);
	snprintf(path, sizeof(path), "ls -A '%s'", root);
	{
		FILE *p = popen(path, "r");
		char buf[256] = "";

		assert_non_null(p);
		left = fgets(buf, sizeof(buf), p);
		pclose(p);
		if (left)
			fail_msg("left in %s: %s", root, buf);
	}
	assert_int_equal(h_counter(c, "demo", "create_failed"), 0);

	/* A cluster that died while idle fails its reset: discarded. */
	json_decref(mkpool(c, "demo2", J("{s:o, s:o, s:o}",
		"create", cmdv(30, 2, create, "--root", root, "--lifetime", "120", NULL),
		"reset", cmdv(30, 2, reset, "--root", root, NULL),
		"destroy", cmdv(30, 0, destroy, "--root", root, NULL))));
	l1 = lease(c, "demo2");
	snprintf(n1, sizeof(n1), "%s", RES_NAME(l1));
	pid1 = (pid_t)JINT(JOBJ(RES(l1), "descriptor"), "pid");
	kill(pid1, SIGKILL);
	WAIT_UNTIL(proc_gone(pid1), 5);
	give_back(c, l1, NULL);
	json_decref(l1);
	WAIT_UNTIL(strcmp(h_res_state(c, "demo2", n1), "") == 0, 10);
	assert_int_equal(h_counter(c, "demo2", "reset_failed"), 1);
	snprintf(want, sizeof(want), "reset demo2/%s: cluster-reset: cluster %s is down", n1, n1);
	assert_true(log_has(d, want));
	snprintf(path, sizeof(path), "%s/%s", root, n1);
	assert_int_not_equal(access(path, F_OK), 0);
	pool_close(c);
	poold_stop(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_command_settings),
		FTEST(test_create_success),
		FTEST(test_creating_counts_toward_max_size),
		FTEST(test_create_failure),
		FTEST(test_create_failure_long_stderr),
		FTEST(test_create_bad_output),
		FTEST(test_create_timeout_kills_group),
		FTEST(test_create_max_concurrent),
		FTEST(test_min_idle_refill),
		FTEST(test_idle_trimming_through_destroy),
		FTEST(test_reset_replaces_descriptor),
		FTEST(test_reset_failure_discards),
		FTEST(test_reset_max_concurrent),
		FTEST(test_destroy_retried),
		FTEST(test_pool_delete_force_destroys_in_background),
		FTEST(test_drain_while_commands_run),
		FTEST(test_forced_removal_still_destroys),
		FTEST(test_ping_while_commands_run),
		FTEST(test_kill9_during_commands),
		FTEST(test_orphan_destroy_survives_restart),
		FTEST(test_examples_end_to_end),
	};

	return RUN_FTESTS(tests);
}
