/*
 * Black-box tests that the histograms and command counters of /metrics are
 * fed by what a client does: a waiting lease served after a return is a
 * non-zero poold_wait_seconds observation (an immediate grant is 0), ended
 * leases are poold_lease_held_seconds observations, create commands count
 * (and reset and destroy commands) in poold_commands_total by result (ok,
 * failed, timeout) and time in
 * poold_command_seconds, commits in poold_commit_seconds and
 * poold_commit_batch_size, and poold_oldest_waiter_seconds grows while a
 * request waits. The latest events of /api/dashboard come from the history
 * (they survive a restart) and never show a lease id; its longest_wait
 * follows the waiters. Every scrape passes
 * promtool.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "h_http.h"
#include "harness.h"

static int port;

static poold_proc *start_http(void)
{
	char arg[64];

	port = h_free_port();
	snprintf(arg, sizeof arg, "127.0.0.1:%d", port);
	return poold_start("--http", arg, NULL);
}

/* A scrape, checked by promtool (its output is printed on failure). */
static char *scrape(const poold_proc *d)
{
	struct h_http_resp r = h_http_get(port, "/metrics");
	char path[320], cmd[700], out[4096];
	FILE *f, *p;
	size_t n;

	assert_int_equal(r.status, 200);
	snprintf(path, sizeof path, "%s/scrape.txt", d->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(r.body, f);
	fclose(f);
	snprintf(cmd, sizeof cmd, "promtool check metrics < %s 2>&1", path);
	p = popen(cmd, "r");
	n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	if (WEXITSTATUS(pclose(p)) != 0)
		fail_msg("promtool check metrics:\n%s", out);
	free(r.head);
	return r.body;
}

static double metric(const poold_proc *d, const char *series)
{
	char *body = scrape(d);
	double v = h_metric(body, series);

	free(body);
	if (v < 0)
		fail_msg("no series %s", series);
	return v;
}

struct until_metric {
	const poold_proc *d;
	const char *series;
	double above;
};

static bool metric_above(void *arg)
{
	struct until_metric *u = arg;

	return metric(u->d, u->series) > u->above;
}

/* Waits (generously) until series exceeds above. */
static void wait_metric_above(const poold_proc *d, const char *series,
			      double above)
{
	struct until_metric u = { d, series, above };

	if (!wait_until(metric_above, &u, h_now() + 60))
		fail_msg("%s stayed at or below %g", series, above);
}

static void test_wait_and_held(void **state)
{
	poold_proc *d = start_http();
	pool_client *c = h_connect(d);
	raw_conn *waiter;
	json_t *l, *resp;
	char req[300];

	h_pool(c, "w", "{\"max_size\": 1, \"create\": \"builtin\"}");
	/* An immediate grant (the builtin creator makes the resource): 0. */
	l = CALL_OK(c, "lease", J("{s:s, s:s}", "pool", "w", "owner", "first"));
	assert_true(metric(d, "poold_wait_seconds_count{pool=\"w\"}") == 1);
	assert_true(metric(d, "poold_wait_seconds_bucket{pool=\"w\",le=\"0.001\"}") == 1);
	assert_true(metric(d, "poold_wait_seconds_sum{pool=\"w\"}") == 0);
	assert_true(metric(d, "poold_oldest_waiter_seconds{pool=\"w\"}") == 0);

	/* A second request waits until the first lease comes back. */
	waiter = raw_connect(d->sock);
	raw_send(waiter, "{\"id\":7,\"op\":\"lease\",\"pool\":\"w\",\"wait\":120,"
		 "\"owner\":\"second\"}\n");
	wait_metric_above(d, "poold_waiters{pool=\"w\"}", 0);
	wait_metric_above(d, "poold_oldest_waiter_seconds{pool=\"w\"}", 0);
	json_decref(CALL_OK(c, "return", J("{s:O}", "lease",
					   json_object_get(l, "lease"))));
	json_decref(l);
	resp = raw_recv(waiter, 60);
	l = resp_result(resp);
	/* Its wait is the second observation, and not 0. */
	assert_true(metric(d, "poold_wait_seconds_count{pool=\"w\"}") == 2);
	assert_true(metric(d, "poold_wait_seconds_sum{pool=\"w\"}") > 0);
	assert_true(metric(d, "poold_oldest_waiter_seconds{pool=\"w\"}") == 0);
	/* The first lease's end is the first lease-held observation. */
	assert_true(metric(d, "poold_lease_held_seconds_count{pool=\"w\"}") == 1);
	snprintf(req, sizeof req, "{\"op\":\"return\",\"lease\":\"%s\"}",
		 json_string_value(json_object_get(l, "lease")));
	json_decref(resp);
	resp = raw_req(waiter, req);
	resp_result(resp);
	json_decref(resp);
	assert_true(metric(d, "poold_lease_held_seconds_count{pool=\"w\"}") == 2);
	assert_true(metric(d, "poold_lease_held_seconds_bucket{pool=\"w\",le=\"+Inf\"}") == 2);
	raw_close(waiter);
	pool_close(c);
	poold_stop(d);
}

static void test_commits_counted(void **state)
{
	poold_proc *d = start_http();
	pool_client *c = h_connect(d);
	double commits, batches;

	h_pool(c, "p", "{\"max_size\": 4, \"create\": \"builtin\"}");
	commits = metric(d, "poold_commit_seconds_count");
	batches = metric(d, "poold_commit_batch_size_count");
	assert_true(commits >= 1); /* pool.create's own */
	json_decref(CALL_OK(c, "lease", J("{s:s}", "pool", "p")));
	assert_true(metric(d, "poold_commit_seconds_count") > commits);
	assert_true(metric(d, "poold_commit_batch_size_count") > batches);
	/* A read commits nothing. */
	commits = metric(d, "poold_commit_seconds_count");
	json_decref(CALL_OK(c, "status", J("{}")));
	assert_true(metric(d, "poold_commit_seconds_count") == commits);
	pool_close(c);
	poold_stop(d);
}

/* Creates a pool whose create command is argv (JSON), with a timeout. */
static void command_pool(pool_client *c, const char *name, const char *argv,
			 int timeout)
{
	char settings[400];

	snprintf(settings, sizeof settings, "{\"max_size\": 2, \"create\": "
		 "{\"cmd\": %s, \"timeout\": %d}}", argv, timeout);
	h_pool(c, name, settings);
}

static void test_command_results(void **state)
{
	poold_proc *d = start_http();
	pool_client *c = h_connect(d);

	command_pool(c, "good", "[\"/bin/echo\", \"{}\"]", 60);
	command_pool(c, "bad", "[\"/bin/false\"]", 60);
	command_pool(c, "slow", "[\"/bin/sleep\", \"30\"]", 1);
	command_pool(c, "junk", "[\"/bin/echo\", \"not json\"]", 60);
	json_decref(CALL_OK(c, "lease", J("{s:s, s:i}", "pool", "good",
					  "wait", 60)));
	CALL_ERR(c, "lease", J("{s:s, s:i}", "pool", "bad", "wait", 60),
		 POOL_E_CREATE_FAILED);
	CALL_ERR(c, "lease", J("{s:s, s:i}", "pool", "slow", "wait", 60),
		 POOL_E_CREATE_FAILED);
	CALL_ERR(c, "lease", J("{s:s, s:i}", "pool", "junk", "wait", 60),
		 POOL_E_CREATE_FAILED);
	assert_true(metric(d, "poold_commands_total{pool=\"good\",kind=\"create\",result=\"ok\"}") == 1);
	assert_true(metric(d, "poold_commands_total{pool=\"good\",kind=\"create\",result=\"failed\"}") == 0);
	assert_true(metric(d, "poold_command_seconds_count{pool=\"good\",kind=\"create\"}") == 1);
	assert_true(metric(d, "poold_commands_total{pool=\"bad\",kind=\"create\",result=\"failed\"}") == 1);
	assert_true(metric(d, "poold_commands_total{pool=\"bad\",kind=\"create\",result=\"ok\"}") == 0);
	assert_true(metric(d, "poold_commands_total{pool=\"slow\",kind=\"create\",result=\"timeout\"}") == 1);
	/* The timeout is 1 s: the command ran at least that long. */
	assert_true(metric(d, "poold_command_seconds_sum{pool=\"slow\",kind=\"create\"}") >= 1);
	/* Exit 0 without a descriptor is a failure too. */
	assert_true(metric(d, "poold_commands_total{pool=\"junk\",kind=\"create\",result=\"failed\"}") == 1);
	assert_true(metric(d, "poold_command_seconds_count{pool=\"junk\",kind=\"create\"}") == 1);
	pool_close(c);
	poold_stop(d);
}

/* Reset and destroy commands count too: a return is reset, a discard is
 * destroyed; one that fails is "failed". */
static void test_reset_and_destroy_counted(void **state)
{
	poold_proc *d = start_http();
	pool_client *c = h_connect(d);
	json_t *l;

	h_pool(c, "rd", "{\"max_size\": 2, \"create\": \"builtin\", "
	       "\"reset\": {\"cmd\": [\"/bin/true\"]}, "
	       "\"destroy\": {\"cmd\": [\"/bin/true\"]}}");
	h_pool(c, "rf", "{\"max_size\": 2, \"create\": \"builtin\", "
	       "\"reset\": {\"cmd\": [\"/bin/false\"]}}");
	l = CALL_OK(c, "lease", J("{s:s}", "pool", "rd"));
	json_decref(CALL_OK(c, "return", J("{s:O}", "lease",
					   json_object_get(l, "lease"))));
	json_decref(l);
	wait_metric_above(d, "poold_commands_total{pool=\"rd\",kind=\"reset\",result=\"ok\"}", 0);
	l = CALL_OK(c, "lease", J("{s:s}", "pool", "rd"));
	json_decref(CALL_OK(c, "return", J("{s:O, s:b}", "lease",
					   json_object_get(l, "lease"),
					   "discard", 1)));
	json_decref(l);
	wait_metric_above(d, "poold_commands_total{pool=\"rd\",kind=\"destroy\",result=\"ok\"}", 0);
	assert_true(metric(d, "poold_command_seconds_count{pool=\"rd\",kind=\"destroy\"}") == 1);
	l = CALL_OK(c, "lease", J("{s:s}", "pool", "rf"));
	json_decref(CALL_OK(c, "return", J("{s:O}", "lease",
					   json_object_get(l, "lease"))));
	json_decref(l);
	wait_metric_above(d, "poold_commands_total{pool=\"rf\",kind=\"reset\",result=\"failed\"}", 0);
	assert_true(metric(d, "poold_commands_total{pool=\"rf\",kind=\"reset\",result=\"ok\"}") == 0);
	pool_close(c);
	poold_stop(d);
}

static json_t *dashboard(void)
{
	struct h_http_resp r = h_http_get(port, "/api/dashboard");
	json_t *j;

	assert_int_equal(r.status, 200);
	j = json_loads(r.body, 0, NULL);
	assert_non_null(j);
	h_http_free(&r);
	return j;
}

/* The index of the newest event of this kind and owner, or -1. */
static int find_event(json_t *events, const char *event, const char *owner)
{
	json_t *e;
	size_t i;

	json_array_foreach(events, i, e)
		if (strcmp(json_string_value(json_object_get(e, "event")),
			   event) == 0 &&
		    json_is_string(json_object_get(e, "owner")) &&
		    strcmp(json_string_value(json_object_get(e, "owner")),
			   owner) == 0)
			return (int)i;
	return -1;
}

static void test_dashboard_events_from_history(void **state)
{
	poold_proc *d = start_http();
	pool_client *c = h_connect(d);
	json_t *l, *db, *events;
	char *text;

	h_pool(c, "h", "{\"max_size\": 3, \"create\": \"builtin\"}");
	l = CALL_OK(c, "lease", J("{s:s, s:s}", "pool", "h", "owner",
				  "history-owner"));
	json_decref(CALL_OK(c, "return", J("{s:O}", "lease",
					   json_object_get(l, "lease"))));
	pool_close(c);
	poold_term_restart(d);

	/* After the restart: from the history, newest first. */
	db = dashboard();
	events = json_object_get(db, "events");
	assert_true(json_array_size(events) >= 3);
	assert_true(find_event(events, "returned", "history-owner") >= 0);
	assert_true(find_event(events, "leased", "history-owner") >
		    find_event(events, "returned", "history-owner"));
	assert_string_equal(json_string_value(json_object_get(
		json_array_get(events, (size_t)find_event(events, "leased",
			"history-owner")), "pool")), "h");
	text = json_dumps(db, 0);
	assert_null(strstr(text, json_string_value(json_object_get(l,
								  "lease"))));
	free(text);
	json_decref(db);
	json_decref(l);
	poold_stop(d);
}

/* The pool's entry of /api/dashboard. */
static json_t *dashboard_pool(json_t *db, const char *pool)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(db, "pools"), i, e)
		if (strcmp(json_string_value(json_object_get(e, "pool")),
			   pool) == 0)
			return e;
	fail_msg("pool %s is not on the dashboard", pool);
	return NULL;
}

static void test_dashboard_longest_wait(void **state)
{
	poold_proc *d = start_http();
	pool_client *c = h_connect(d);
	raw_conn *waiter = raw_connect(d->sock);
	json_t *l, *db, *resp;

	h_pool(c, "q", "{\"max_size\": 1, \"create\": \"builtin\"}");
	l = CALL_OK(c, "lease", J("{s:s}", "pool", "q"));
	db = dashboard();
	assert_true(json_is_null(json_object_get(dashboard_pool(db, "q"),
						 "longest_wait")));
	json_decref(db);
	raw_send(waiter, "{\"op\":\"lease\",\"pool\":\"q\",\"wait\":120}\n");
	wait_metric_above(d, "poold_waiters{pool=\"q\"}", 0);
	db = dashboard();
	assert_true(json_is_number(json_object_get(dashboard_pool(db, "q"),
						   "longest_wait")));
	json_decref(db);
	json_decref(CALL_OK(c, "return", J("{s:O}", "lease",
					   json_object_get(l, "lease"))));
	json_decref(l);
	resp = raw_recv(waiter, 60);
	resp_result(resp);
	json_decref(resp);
	db = dashboard();
	assert_true(json_is_null(json_object_get(dashboard_pool(db, "q"),
						 "longest_wait")));
	json_decref(db);
	raw_close(waiter);
	pool_close(c);
	poold_stop(d);
}

/* The dashboard shows at most 30 events, the newest. */
static void test_dashboard_events_bounded(void **state)
{
	poold_proc *d = start_http();
	pool_client *c = h_connect(d);
	json_t *db, *events, *l;
	char owner[32];

	h_pool(c, "b", "{\"max_size\": 1, \"create\": \"builtin\"}");
	for (int i = 0; i < 20; i++) {
		snprintf(owner, sizeof owner, "owner-%d", i);
		l = CALL_OK(c, "lease", J("{s:s, s:s}", "pool", "b", "owner",
					  owner));
		json_decref(CALL_OK(c, "return", J("{s:O}", "lease",
						   json_object_get(l, "lease"))));
		json_decref(l);
	}
	db = dashboard();
	events = json_object_get(db, "events");
	assert_int_equal(json_array_size(events), 30);
	assert_int_equal(find_event(events, "returned", "owner-19"), 0);
	assert_int_equal(find_event(events, "leased", "owner-19"), 1);
	assert_int_equal(find_event(events, "leased", "owner-5"), 29);
	assert_int_equal(find_event(events, "returned", "owner-4"), -1);
	json_decref(db);
	pool_close(c);
	poold_stop(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_wait_and_held),
		FTEST(test_commits_counted),
		FTEST(test_command_results),
		FTEST(test_reset_and_destroy_counted),
		FTEST(test_dashboard_events_from_history),
		FTEST(test_dashboard_events_bounded),
		FTEST(test_dashboard_longest_wait),
	};

	return RUN_FTESTS(tests);
}
