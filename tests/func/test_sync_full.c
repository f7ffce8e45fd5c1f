/*
 * test_sync_full.c - --sync full: an answer, a watch event or a command
 * leaves only after the fsync that covers its commit has ended, and the
 * daemon does not stop while it waits for the disk (a thread makes the
 * fsync). tests/shim/fsync_gate.c, preloaded into poold, holds every fsync
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

struct gate {
	char dir[128], file[256], count[256];
};

static void gate_open(const struct gate *g)
{
	int fd = open(g->file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	close(fd);
}

static void gate_close(const struct gate *g)
{
	assert_int_equal(unlink(g->file), 0);
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
	snprintf(g->file, sizeof g->file, "%s/gate", g->dir);
	snprintf(g->count, sizeof g->count, "%s/fsyncs", g->dir);
	gate_open(g);
	snprintf(http, sizeof http, "127.0.0.1:%d", port);
	/* A sanitized poold must let the shim be loaded before its runtime. */
	snprintf(asan, sizeof asan, "%s%sverify_asan_link_order=0",
		 old ? old : "", old && *old ? ":" : "");
	setenv("POOL_TEST_FSYNC_GATE", g->file, 1);
	setenv("POOL_TEST_FSYNC_COUNT", g->count, 1);
	setenv("LD_PRELOAD", FSYNC_GATE_LIB, 1);
	setenv("ASAN_OPTIONS", asan, 1);
	d = poold_start("--sync", "full", "--http", http, NULL);
	unsetenv("LD_PRELOAD");
	unsetenv("POOL_TEST_FSYNC_GATE");
	unsetenv("POOL_TEST_FSYNC_COUNT");
	if (old)
		setenv("ASAN_OPTIONS", old, 1);
	else
		unsetenv("ASAN_OPTIONS");
	return d;
}

static void test_answers_wait_for_the_fsync_and_the_loop_does_not(void **state)
{
	struct gate g;
	poold_proc *d;
	pool_client *c;
	raw_conn *r, *w;
	struct h_http_resp hz;
	json_t *resp;
	long before;
	int port;

	(void)state;
	if (h_pg_mode()) /* PostgreSQL makes its own fsyncs */
		skip();
	port = h_free_port();
	d = start_gated(&g, port);
	c = h_connect(d);
	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);
	w = raw_connect(d->sock);
	json_decref(raw_req(w, "{\"op\":\"watch\",\"pool\":\"p\"}"));

	gate_close(&g);
	before = fsyncs(&g);
	r = raw_connect(d->sock);
	raw_send(r, "{\"op\":\"lease\",\"pool\":\"p\",\"id\":7}\n");
	/* Committed to the WAL, not yet on disk: nothing of it leaves... */
	assert_true(raw_silent(r, 1.0));
	assert_true(raw_silent(w, 0.2));
	/* ...while the daemon goes on serving. */
	hz = h_http_get(port, "/healthz");
	assert_int_equal(hz.status, 200);
	h_http_free(&hz);
	assert_int_equal(fsyncs(&g), before);

	gate_open(&g);
	resp = raw_recv(r, 30);
	assert_string_equal(JSTR(JOBJ(resp_result(resp), "resource"), "name"),
			    "r1");
	assert_int_equal(JINT(resp, "id"), 7);
	json_decref(resp);
	resp = raw_recv(w, 30);
	assert_string_equal(JSTR(resp, "event"), "leased");
	json_decref(resp);
	assert_true(fsyncs(&g) > before);
	raw_close(r);
	raw_close(w);
	pool_close(c);
	poold_stop(d);
	h_rmdir(g.dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_answers_wait_for_the_fsync_and_the_loop_does_not),
	};

	return RUN_FTESTS(tests);
}
