/*
 * test_journal.c - every effect of a batch happens once, after its commit
 * (issue 10), and the history op:
 *  - another process holds SQLite's write lock while one connection
 *    pipelines lease, lease (create-on-empty) and lease with wait: the
 *    daemon stays live, exactly the leases clients were told they got
 *    exist, no event of a failed batch reaches a watcher or the history,
 *    and the waiter is served once the lock clears (repeated with holds
 *    shorter and longer than the daemon's patience);
 *  - a destroy that frees capacity serves a waiter;
 *  - history pages oldest first, filters, and survives kill -9.
 */
#include "../h_pgstore.h"
#include "h_lock.h"
#include "harness.h"
#include "h_files.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------- */

/* The ids of pool's live leases (lease.list; the test runs as their
 * caller, so the ids are shown), as a JSON object used as a set. */
static json_t *live_leases(pool_client *c, const char *pool)
{
	json_t *res = CALL_OK(c, "lease.list", J("{s:s}", "pool", pool));
	json_t *set = json_object(), *l;
	size_t i;

	json_array_foreach(json_object_get(res, "leases"), i, l)
		json_object_set_new(set, JSTR(l, "lease"), json_true());
	json_decref(res);
	return set;
}

/* Every history event that filter (stolen) selects, following next, as an
 * array. */
static json_t *history_all(pool_client *c, json_t *filter, int limit)
{
	json_t *all = json_array(), *page, *next = json_null();

	do {
		json_t *args = json_deep_copy(filter);

		json_object_set_new(args, "limit", json_integer(limit));
		json_object_set(args, "after", next);
		page = CALL_OK(c, "history", args);
		json_array_extend(all, json_object_get(page, "events"));
		json_decref(next);
		next = json_incref(json_object_get(page, "next"));
		json_decref(page);
	} while (!json_is_null(next));
	json_decref(next);
	json_decref(filter);
	return all;
}

/* The lease ids of the events of one kind in a list of event lines. */
static json_t *event_leases(json_t *events, const char *kind)
{
	json_t *set = json_object(), *ev;
	size_t i;

	json_array_foreach(events, i, ev)
		if (strcmp(JSTR(ev, "event"), kind) == 0)
			json_object_set_new(set, JSTR(ev, "lease"), json_true());
	return set;
}

/* Lines a watcher has received so far (waits a little for stragglers). */
static void drain_watcher(raw_conn *w, json_t *into)
{
	char *line;

	while ((line = raw_read_line(w, 0.3))) {
		json_t *ev = json_loads(line, 0, NULL);

		assert_non_null(ev);
		/* A watcher never sees an answer that is not its own. */
		assert_non_null(json_object_get(ev, "event"));
		json_array_append_new(into, ev);
		free(line);
	}
}

/* ---- the locked database ------------------------------------------------- */

/* A lease id an answer told its client, or NULL after an internal error
 * (nothing happened). */
static const char *told_lease(json_t *resp)
{
	if (strcmp(resp_code(resp), "") == 0)
		return JSTR(resp_result(resp), "lease");
	assert_string_equal(resp_code(resp), "internal");
	return NULL;
}

/* One round: the lock is held for hold seconds while lease, lease
 * (create-on-empty) and lease with wait arrive in one write. Every lease
 * id a client is told goes into granted; those still live into live. */
static void locked_round(poold_proc *d, pool_client *c, json_t *granted,
			 json_t *live, double hold)
{
	raw_conn *r = raw_connect(d->sock), *other;
	pid_t holder = h_hold_write_lock(d->db, hold);
	const char *ids[3];
	json_t *resp[3], *ping;

	raw_send(r, "{\"id\":1,\"op\":\"lease\",\"pool\":\"p\"}\n"
		    "{\"id\":2,\"op\":\"lease\",\"pool\":\"p\"}\n"
		    "{\"id\":3,\"op\":\"lease\",\"pool\":\"p\",\"wait\":20}\n");
	/* The daemon stays live: another client gets its answer once the
	 * batch it joined commits, or is given up (then every answer of the
	 * batch is internal). */
	other = raw_connect(d->sock);
	ping = raw_req(other, "{\"op\":\"ping\"}");
	if (strcmp(resp_code(ping), "") != 0)
		assert_string_equal(resp_code(ping), "internal");
	json_decref(ping);
	raw_close(other);
	for (int i = 0; i < 2; i++) {
		resp[i] = raw_recv(r, 30);
		ids[i] = told_lease(resp[i]);
		if (ids[i]) {
			json_object_set_new(granted, ids[i], json_true());
			json_object_set_new(live, ids[i], json_true());
		}
	}
	assert_int_equal(h_wait_child(holder), 0);
	/* Both taken (the pool is full): the waiter needs one back. */
	if (ids[0] && ids[1]) {
		json_decref(CALL_OK(c, "return", J("{s:s}", "lease", ids[0])));
		json_object_del(live, ids[0]);
	}
	/* The waiter is served once the lock clears. */
	resp[2] = raw_recv(r, 30);
	ids[2] = JSTR(resp_result(resp[2]), "lease");
	json_object_set_new(granted, ids[2], json_true());
	json_object_set_new(live, ids[2], json_true());
	for (int i = 0; i < 3; i++)
		json_decref(resp[i]);
	raw_close(r);
}

/* Returns every lease in live, so that the next round starts empty. */
static void return_all(pool_client *c, json_t *live)
{
	const char *id;
	json_t *v;
	void *tmp;

	json_object_foreach_safe(live, tmp, id, v) {
		json_decref(CALL_OK(c, "return", J("{s:s}", "lease", id)));
		json_object_del(live, id);
	}
}

static void test_locked_database(void **state)
{
	static const double holds[] = { 0.3, 3.0, 1.0, 2.6, 0.05, 3.5 };
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	raw_conn *w = raw_connect(d->sock);
	json_t *seen = json_array(), *granted = json_object(), *res, *hist;
	json_t *leased;

	if (h_pg_mode()) { /* it holds SQLite's lock: test_store_pg fails
			    * PostgreSQL commits instead */
		pool_close(c);
		raw_close(w);
		json_decref(seen);
		json_decref(granted);
		poold_stop(d);
		skip();
	}
	res = CALL_OK(c, "pool.create", J("{s:s, s:i, s:s}", "pool", "p",
					  "max_size", 2, "create", "builtin"));
	json_decref(res);
	h_add(c, "p", "r1", NULL);
	json_decref(raw_req(w, "{\"op\":\"watch\",\"pool\":\"p\"}"));
	for (size_t i = 0; i < sizeof holds / sizeof *holds; i++) {
		json_t *live = json_object(), *now;

		locked_round(d, c, granted, live, holds[i]);
		/* Exactly the leases the clients were told of exist. */
		now = live_leases(c, "p");
		assert_true(json_equal(now, live));
		json_decref(now);
		return_all(c, live);
		json_decref(live);
	}
	/* The leases clients were told of, and no other, were leased: on
	 * the watcher and in the history. */
	drain_watcher(w, seen);
	leased = event_leases(seen, "leased");
	assert_true(json_equal(leased, granted));
	json_decref(leased);
	hist = history_all(c, J("{s:s}", "pool", "p"), 7);
	leased = event_leases(hist, "leased");
	assert_true(json_equal(leased, granted));
	json_decref(leased);
	json_decref(hist);
	json_decref(seen);
	json_decref(granted);
	raw_close(w);
	pool_close(c);
	poold_stop(d);
}

/* What a failed batch did outside the database still happened: a
 * bind:connection lease whose client left ends, a reset command that ended
 * does not leave its resource cleaning forever. */
static void test_failed_batch_outside_effects(void **state)
{
	poold_proc *d;
	pool_client *c;
	raw_conn *b;
	json_t *bound, *l, *live;
	pid_t holder;

	if (h_pg_mode()) /* it holds SQLite's lock */
		skip();
	d = poold_start(NULL);
	c = h_connect(d);
	b = raw_connect(d->sock);

	json_decref(CALL_OK(c, "pool.create", J("{s:s, s:s, s:{s:[s,s]}}",
		"pool", "p", "create", "none", "reset", "cmd", "/bin/sleep", "1")));
	h_add(c, "p", "r1", "r2", NULL);
	bound = raw_req(b, "{\"op\":\"lease\",\"pool\":\"p\",\"bind\":\"connection\"}");
	resp_result(bound);
	l = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	json_decref(CALL_OK(c, "return", J("{s:s}", "lease", JSTR(l, "lease"))));
	assert_string_equal(h_res_state(c, "p", JSTR(JOBJ(l, "resource"), "name")),
			    "cleaning");
	/* While the lock is held past the daemon's patience, the reset ends
	 * and the bound lease's connection closes: that batch fails. */
	holder = h_hold_write_lock(d->db, 3.5);
	raw_close(b);
	assert_int_equal(h_wait_child(holder), 0);
	WAIT_UNTIL(h_status_field(c, "p", "free") == 2, 20);
	live = live_leases(c, "p");
	assert_int_equal(json_object_size(live), 0);
	json_decref(live);
	json_decref(bound);
	json_decref(l);
	pool_close(c);
	poold_stop(d);
}

/* ---- a destroy that frees capacity ---------------------------------------- */

static void test_destroy_wakes_waiter(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	raw_conn *b = raw_connect(d->sock);
	json_t *a, *got;

	json_decref(CALL_OK(c, "pool.create", J("{s:s, s:i, s:s, s:{s:[s,s]}}",
		"pool", "p", "max_size", 1, "create", "builtin", "destroy",
		"cmd", "/bin/sleep", "0.5")));
	a = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	raw_send(b, "{\"op\":\"lease\",\"pool\":\"p\",\"wait\":20}\n");
	WAIT_UNTIL(h_status_field(c, "p", "waiters") == 1, 10);
	json_decref(CALL_OK(c, "return", J("{s:s, s:b}", "lease",
					   JSTR(a, "lease"), "discard", 1)));
	/* Once the destroy command ends the pool has room: B gets a new
	 * resource well before its wait runs out. */
	got = raw_recv(b, 15);
	assert_string_equal(JSTR(JOBJ(resp_result(got), "resource"), "pool"), "p");
	assert_int_equal(h_counter(c, "p", "destroyed"), 1);
	json_decref(got);
	json_decref(a);
	raw_close(b);
	pool_close(c);
	poold_stop(d);
}

/* ---- history ------------------------------------------------------------- */

/* t as RFC 3339 UTC with milliseconds (static buffer). */
static const char *iso(double t)
{
	static char buf[40];
	time_t s = (time_t)t;
	struct tm tm;
	size_t n;

	gmtime_r(&s, &tm);
	n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof buf - n, ".%03dZ", (int)((t - (double)s) * 1000));
	return buf;
}

static void test_history_pages_and_survives_kill9(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *before, *after, *page, *ev, *one;
	json_int_t last = 0;
	char first_lease[40] = "", when[40];
	double since;
	size_t i;

	h_pool(c, "p", NULL);
	h_pool(c, "q", NULL);
	h_add(c, "p", "r1", NULL);
	h_add(c, "q", "s1", NULL);
	for (int k = 0; k < 12; k++) {
		json_t *l = CALL_OK(c, "lease", J("{s:s}", "pool", k % 3 ? "p" : "q"));

		if (!first_lease[0] && k % 3)
			snprintf(first_lease, sizeof first_lease, "%s", JSTR(l, "lease"));
		json_decref(CALL_OK(c, "return", J("{s:s}", "lease", JSTR(l, "lease"))));
		json_decref(l);
	}
	/* p: pool_changed, created, then 8 leased + 8 returned. */
	before = history_all(c, J("{s:s}", "pool", "p"), 3);
	assert_int_equal(json_array_size(before), 18);
	json_array_foreach(before, i, ev) {
		assert_string_equal(JSTR(ev, "pool"), "p");
		assert_true(JINT(ev, "seq") > last); /* oldest first */
		last = JINT(ev, "seq");
		assert_true(h_parse_time(JSTR(ev, "at")) > 0);
	}
	assert_string_equal(JSTR(json_array_get(before, 0), "event"), "pool_changed");
	ev = json_array_get(before, 2);
	assert_string_equal(JSTR(ev, "event"), "leased");
	assert_string_equal(JSTR(JOBJ(ev, "resource"), "name"), "r1");
	assert_true(JINT(ev, "token") > 0);
	assert_non_null(json_object_get(ev, "owner"));
	/* One lease's events: leased then returned. */
	one = history_all(c, J("{s:s}", "lease", first_lease), 100);
	assert_int_equal(json_array_size(one), 2);
	assert_string_equal(JSTR(json_array_get(one, 1), "event"), "returned");
	json_decref(one);
	/* A page of 1 says where to go on. */
	page = CALL_OK(c, "history", J("{s:s, s:i}", "pool", "q", "limit", 1));
	assert_int_equal(json_array_size(json_object_get(page, "events")), 1);
	assert_true(json_is_string(json_object_get(page, "next")));
	json_decref(page);
	CALL_ERR(c, "history", J("{s:s}", "since", "yesterday"), POOL_E_BAD_REQUEST);
	CALL_ERR(c, "history", J("{s:i}", "limit", 1001), POOL_E_BAD_REQUEST);
	/* since: nothing is in the future. */
	page = CALL_OK(c, "history", J("{s:s}", "since", "2999-01-01T00:00:00Z"));
	assert_int_equal(json_array_size(json_object_get(page, "events")), 0);
	json_decref(page);
	pool_close(c);

	poold_kill9_restart(d);
	c = h_connect(d);
	after = history_all(c, J("{s:s}", "pool", "p"), 1000);
	assert_true(json_equal(before, after));
	json_decref(before);
	json_decref(after);
	/* since: only what came after it. */
	h_sleep(0.05); /* pacing: the events after `since` are later */
	since = h_wall();
	h_sleep(0.05);
	for (int k = 0; k < 2; k++) {
		json_t *l = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));

		json_decref(CALL_OK(c, "return", J("{s:s}", "lease", JSTR(l, "lease"))));
		json_decref(l);
	}
	snprintf(when, sizeof when, "%s", iso(since));
	after = history_all(c, J("{s:s, s:s}", "pool", "p", "since", when), 1);
	assert_int_equal(json_array_size(after), 4);
	json_array_foreach(after, i, ev)
		assert_true(h_parse_time(JSTR(ev, "at")) >= since - 0.001);
	json_decref(after);
	pool_close(c);
	poold_stop(d);
}

/* ---- poolctl history ------------------------------------------------------- */

static void test_poolctl_history(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	char cmd[1024], out[16384], *line;
	int lines = 0;

	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);
	for (int k = 0; k < 3; k++) {
		json_t *l = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));

		json_decref(CALL_OK(c, "return", J("{s:s}", "lease", JSTR(l, "lease"))));
		json_decref(l);
	}
	/* --json: one event per line, following the pages (the daemon's
	 * pages are of at most 1000; --limit asks for fewer in all). */
	snprintf(cmd, sizeof cmd, "%s --socket %s history --pool p --json",
		 POOLCTL_BIN, d->sock);
	assert_int_equal(h_run(cmd, out, sizeof out), 0);
	for (line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		json_t *ev = json_loads(line, 0, NULL);

		assert_non_null(ev);
		assert_int_equal(JINT(ev, "seq"), lines + 1);
		json_decref(ev);
		lines++;
	}
	assert_int_equal(lines, 8); /* pool_changed, created, 3 x 2 */
	snprintf(cmd, sizeof cmd, "%s --socket %s history --limit 3 --since 1h",
		 POOLCTL_BIN, d->sock);
	assert_int_equal(h_run(cmd, out, sizeof out), 0);
	assert_non_null(strstr(out, "SEQ"));
	assert_non_null(strstr(out, "leased"));
	assert_null(strstr(out, "returned")); /* the 4th event on */
	/* A time that is neither RFC 3339 nor a duration: refused, saying
	 * what a time looks like. */
	snprintf(cmd, sizeof cmd, "%s --socket %s history --since soon 2>&1",
		 POOLCTL_BIN, d->sock);
	assert_int_not_equal(h_run(cmd, out, sizeof out), 0);
	assert_non_null(strstr(out, "RFC 3339"));
	pool_close(c);
	poold_stop(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_locked_database),
		FTEST(test_failed_batch_outside_effects),
		FTEST(test_destroy_wakes_waiter),
		FTEST(test_history_pages_and_survives_kill9),
		FTEST(test_poolctl_history),
	};

	return RUN_FTESTS(tests);
}
