/*
 * The dashboard in a real browser: poold with --http, pools and leases made
 * through libpool, the page loaded in headless Chromium; the rendered DOM
 * must show each pool with its counts and lease owners, the latest events
 * (from the history) with the leases just made, and never a lease id. A screenshot is saved beside the build (BUILD/dashboard.png).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "h_http.h"
#include "harness.h"

#define CHROMIUM "timeout 120 chromium --headless --no-sandbox --disable-gpu " \
	"--disable-quic --no-first-run --disable-background-networking "      \
	"--disable-component-update --disable-sync --hide-scrollbars "        \
	"--virtual-time-budget=5000"

/* Runs Chromium on the page with the given action flags; its stdout (the
 * DOM for --dump-dom), malloc'd. */
static char *chromium(int port, const char *dir, const char *flags)
{
	char cmd[1024];
	char *out = malloc(1 << 20);
	size_t n;
	FILE *p;

	snprintf(cmd, sizeof cmd, "%s --user-data-dir=%s/chromium %s "
		 "http://127.0.0.1:%d/ 2>/dev/null", CHROMIUM, dir, flags, port);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, (1 << 20) - 1, p);
	out[n] = '\0';
	if (WEXITSTATUS(pclose(p)) != 0)
		fail_msg("chromium failed (is Debian's chromium installed? "
			 "scripts/deps.sh test): %s", cmd);
	return out;
}

/* The part of the DOM that is pool's card. */
static char *card(const char *dom, const char *pool)
{
	char key[128];
	const char *start, *end;

	snprintf(key, sizeof key, "data-pool=\"%s\"", pool);
	start = strstr(dom, key);
	if (!start)
		fail_msg("pool %s is not on the page", pool);
	end = strstr(start + 1, "data-pool=");
	return strndup(start, end ? (size_t)(end - start) : strlen(start));
}

static json_t *lease(pool_client *c, const char *pool, const char *owner,
		     int ttl)
{
	return CALL_OK(c, "lease", J("{s:s, s:s, s:i}", "pool", pool, "owner",
				     owner, "ttl", ttl));
}

static void test_dashboard_in_chromium(void **state)
{
	int port = h_free_port();
	char arg[64], shot[512], flags[700], bin[] = POOLD_BIN;
	poold_proc *d;
	pool_client *c;
	json_t *l[5];
	char *dom, *ci, *gpu, *pg, *ev;

	snprintf(arg, sizeof arg, "127.0.0.1:%d", port);
	d = poold_start("--http", arg, NULL);
	c = h_connect(d);
	h_pool(c, "ci-runners", "{\"max_size\": 8}");
	h_add(c, "ci-runners", "runner-1", "runner-2", "runner-3", "runner-4",
	      "runner-5", "runner-6", NULL);
	h_pool(c, "gpu", "{\"max_size\": 4, \"create\": \"builtin\"}");
	h_pool(c, "postgres", "{\"max_size\": 12}");
	h_add(c, "postgres", "pg-1", "pg-2", "pg-3", "pg-4", "pg-5", NULL);
	l[0] = lease(c, "ci-runners", "alice@build-17", 1800);
	l[1] = lease(c, "ci-runners", "bob@deploy", 7200);
	l[2] = lease(c, "ci-runners", "ci job 4412", 3600);
	l[3] = lease(c, "gpu", "trainer-3", 600);
	l[4] = lease(c, "postgres", "test-suite #81", 900);

	dom = chromium(port, d->dir, "--dump-dom");
	ci = card(dom, "ci-runners");
	assert_non_null(strstr(ci, "leased <b>3</b>"));
	assert_non_null(strstr(ci, "free <b>3</b>"));
	assert_non_null(strstr(ci, "6 / 8"));
	assert_non_null(strstr(ci, "alice@build-17"));
	assert_non_null(strstr(ci, "bob@deploy"));
	assert_non_null(strstr(ci, "data-state=\"leased\""));
	gpu = card(dom, "gpu");
	assert_non_null(strstr(gpu, "leased <b>1</b>"));
	assert_non_null(strstr(gpu, "trainer-3"));
	pg = card(dom, "postgres");
	assert_non_null(strstr(pg, "test-suite #81"));
	/* The latest events, from the history: the test's own leases. */
	ev = strstr(dom, "id=\"events\"");
	assert_non_null(ev);
	assert_non_null(strstr(ev, "data-event=\"leased\""));
	assert_non_null(strstr(ev, "· trainer-3"));
	assert_non_null(strstr(ev, "· test-suite #81"));
	for (int i = 0; i < 5; i++) {
		assert_null(strstr(dom, JSTR(l[i], "lease")));
		json_decref(l[i]);
	}
	free(ci);
	free(gpu);
	free(pg);
	free(dom);

	/* BUILD/poold/poold -> BUILD/dashboard.png */
	snprintf(shot, sizeof shot, "%s/dashboard.png", dirname(dirname(bin)));
	unlink(shot);
	snprintf(flags, sizeof flags, "--window-size=1280,900 --screenshot=%s",
		 shot);
	free(chromium(port, d->dir, flags));
	assert_int_equal(access(shot, R_OK), 0);
	pool_close(c);
	poold_stop(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_dashboard_in_chromium),
	};

	return RUN_FTESTS(tests);
}
