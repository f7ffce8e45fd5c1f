/*
 * test_sync_full.c - --sync full: an answer or a watch event leaves only
 * after the fsync that covers its commit has ended, whether the loop makes
 * it (a small batch) or a thread does (a large one), and while a thread
 * waits for the disk the daemon goes on serving. tests/shim/fsync_gate.c, preloaded into poold, holds every fsync
 * of the WAL while a gate file is missing and counts those that ended.
 */
#include "h_cli.h"
#include "h_http.h"
#include "../h_pgstore.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The gates of the loop's fsyncs and of the thread's. */
struct gate {
	char dir[128], loop[256], thread[256], count[256];
};

static void gate_open(const char *file)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	close(fd);
}

static void gate_close(const char *file)
{
	assert_int_equal(unlink(file), 0);
}

/* WAL fsyncs ended so far. */
static long fsyncs(const struct gate *g)
{
	struct stat sb;

	return stat(g->count, &sb) == 0 ? (long)sb.st_size : 0;
}

static poold_proc *start_gated(struct gate *g, int port)
{
	char http[64], asan[512];
	const char *old = getenv("ASAN_OPTIONS");
	poold_proc *d;

	h_tmpdir(g->dir, sizeof g->dir);
	snprintf(g->loop, sizeof g->loop, "%s/gate-loop", g->dir);
	snprintf(g->thread, sizeof g->thread, "%s/gate-thread", g->dir);
	snprintf(g->count, sizeof g->count, "%s/fsyncs", g->dir);
	gate_open(g->loop);
	gate_open(g->thread);
	snprintf(http, sizeof http, "127.0.0.1:%d", port);
	/* A sanitized poold must let the shim be loaded before its runtime. */
	snprintf(asan, sizeof asan, "%s%sverify_asan_link_order=0",
		 old ? old : "", old && *old ? ":" : "");
	setenv("POOL_TEST_FSYNC_GATE", g->loop, 1);
	setenv("POOL_TEST_FSYNC_GATE_THREAD", g->thread, 1);
	setenv("POOL_TEST_FSYNC_COUNT", g->count, 1);
	setenv("LD_PRELOAD", FSYNC_GATE_LIB, 1);
	setenv("ASAN_OPTIONS", asan, 1);
	d = poold_start("--sync", "full", "--http", http, NULL);
	unsetenv("LD_PRELOAD");
	unsetenv("POOL_TEST_FSYNC_GATE");
	unsetenv("POOL_TEST_FSYNC_GATE_THREAD");
	unsetenv("POOL_TEST_FSYNC_COUNT");
	if (old)
		setenv("ASAN_OPTIONS", old, 1);
	else
		unsetenv("ASAN_OPTIONS");
	return d;
}

/* BIG leases on as many connections at once: one batch, large enough for
 * the fsync to go behind (reply.c's SYNC_BEHIND_MIN). */
#define BIG 20

static void add_resources(pool_client *c, int n)
{
	json_t *items = json_array();
	char name[16];

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof name, "r%d", i);
		json_array_append_new(items, J("{s:s, s:{s:s}}", "name", name,
					       "descriptor", "n", name));
	}
	json_decref(CALL_OK(c, "resource.add",
			    J("{s:s, s:o}", "pool", "p", "resources", items)));
}

static void test_answers_wait_for_the_fsync_and_the_loop_does_not(void **state)
{
	struct gate g;
	poold_proc *d;
	pool_client *c;
	raw_conn *r, *w, *many[BIG];
	struct h_http_resp hz;
	json_t *resp;
	char line[64];
	long before;
	int port;

	(void)state;
	if (h_pg_mode()) /* PostgreSQL makes its own fsyncs */
		skip();
	port = h_free_port();
	d = start_gated(&g, port);
	c = h_connect(d);
	h_pool(c, "p", NULL);
	add_resources(c, BIG + 1);
	w = raw_connect(d->sock);
	json_decref(raw_req(w, "{\"op\":\"watch\",\"pool\":\"p\"}"));
	r = raw_connect(d->sock);

	for (int i = 0; i < BIG; i++) { /* accepted and read from */
		many[i] = raw_connect(d->sock);
		json_decref(raw_req(many[i], "{\"op\":\"ping\"}"));
	}

	/* One lease: the loop itself waits for its fsync, and nothing of it
	 * leaves meanwhile. */
	gate_close(g.loop);
	gate_close(g.thread);
	before = fsyncs(&g);
	raw_send(r, "{\"op\":\"lease\",\"pool\":\"p\",\"id\":7}\n");
	assert_true(raw_silent(r, 1.0));
	assert_true(raw_silent(w, 0.2));
	/* While the loop waits, BIG leases arrive: they are read together
	 * once it is back, and make a batch whose fsync goes to the thread. */
	for (int i = 0; i < BIG; i++) {
		snprintf(line, sizeof line, "{\"op\":\"lease\",\"pool\":\"p\","
			 "\"id\":%d}\n", 100 + i);
		raw_send(many[i], line);
	}
	gate_open(g.loop);
	resp = raw_recv(r, 30);
	assert_int_equal(JINT(resp, "id"), 7);
	json_decref(resp);
	json_decref(raw_recv(w, 30)); /* its "leased" */
	assert_true(fsyncs(&g) > before);

	/* The batch is in the WAL, not yet on disk: nothing of it leaves... */
	before = fsyncs(&g);
	for (int i = 0; i < BIG; i++)
		assert_true(raw_silent(many[i], i == 0 ? 1.0 : 0.01));
	assert_true(raw_silent(w, 0.2));
	/* ...and the daemon goes on serving meanwhile (the janitor's
	 * checkpoint may sync the WAL too: the answers still wait for the
	 * batch's own fsync). */
	hz = h_http_get(port, "/healthz");
	assert_int_equal(hz.status, 200);
	h_http_free(&hz);

	gate_open(g.thread);
	for (int i = 0; i < BIG; i++) {
		resp = raw_recv(many[i], 30);
		assert_int_equal(JINT(resp, "id"), 100 + i);
		resp_result(resp);
		json_decref(resp);
		resp = raw_recv(w, 30);
		assert_string_equal(JSTR(resp, "event"), "leased");
		json_decref(resp);
		raw_close(many[i]);
	}
	assert_true(fsyncs(&g) > before);
	raw_close(r);
	raw_close(w);
	pool_close(c);
	poold_stop(d);
	h_rmdir(g.dir);
}

/* poold's resident memory in kB (field "VmRSS" or, its peak, "VmHWM"), or
 * -1. */
static long rss_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, field, strlen(field)) == 0 &&
		    sscanf(line + strlen(field), ": %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Under a steady pipelined load a batch is always being made while the one
 * before waits for its fsync, so the journal is never empty: its memory must
 * still be reused batch after batch, not grow with the load's length. */
static void test_memory_stays_bounded_under_steady_load(void **state)
{
	poold_proc *d;
	long start, peak;

	(void)state;
#ifdef H_SANITIZED /* ASan's quarantine holds freed memory */
	skip();
#endif
	if (h_pg_mode())
		skip();
	d = poold_start("--sync", "full", NULL);
	H_SH_OK(d, "%s --socket %s --resources 200 --seconds 0.2 --warmup 0",
		POOLBENCH_BIN, d->sock);
	start = rss_kb(d->pid, "VmRSS");
	H_SH_OK(d, "%s --socket %s --mode pipelined --pipeline 16 --clients 8 "
		"--seconds 6 --warmup 0", POOLBENCH_BIN, d->sock);
	peak = rss_kb(d->pid, "VmHWM");
	print_message("RSS %ld kB before the load, at most %ld kB during it\n",
		      start, peak);
	if (start < 0 || peak - start > 16 * 1024)
		fail_msg("poold grew from %ld to %ld kB under a steady load at "
			 "--sync full", start, peak);
	poold_stop(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_answers_wait_for_the_fsync_and_the_loop_does_not),
		FTEST(test_memory_stays_bounded_under_steady_load),
	};

	return RUN_FTESTS(tests);
}
