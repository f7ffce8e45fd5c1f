/*
 * test_review_fixes.c - defects a review found, each pinned by a test:
 *  - lease.list, resource.list and history answer while another process
 *    holds SQLite's write lock and nothing of the daemon is pending;
 *  - an "after" cursor that overflows, and a "since" with an exponent, are
 *    bad_request (history and lease.list);
 *  - renew is an event: watch and history show "renewed";
 *  - a SIGHUP that takes admin from a token takes it from that session's
 *    watch stream too;
 *  - a lease owner cannot forge log fields or lines, in text or JSON;
 *  - a filtered history page reads a bounded number of rows: with 25,000
 *    events before the one asked for, the first pages are short (empty)
 *    with a "next", and following "next" finds the event in a few pages.
 */
#include "../h_pgstore.h"
#include "h_lock.h"
#include "harness.h"
#include "h_net.h"
#include "h_files.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Stops d and skips the test when it runs on PostgreSQL (it is about
 * SQLite's lock). */
static void skip_on_pg(poold_proc *d)
{
	if (h_pg_mode()) {
		poold_stop(d);
		skip();
	}
}

/* ---- 1. pages need no write lock ----------------------------------------- */

static void test_lists_read_while_another_process_writes(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c;
	json_t *res;
	pid_t holder;

	skip_on_pg(d);
	c = h_connect(d);
	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", "r2", NULL);
	json_decref(CALL_OK(c, "lease", J("{s:s}", "pool", "p")));
	holder = h_hold_write_lock(d->db, 60);
	res = CALL_OK(c, "lease.list", J("{s:s}", "pool", "p"));
	assert_int_equal(json_array_size(json_object_get(res, "leases")), 1);
	json_decref(res);
	res = CALL_OK(c, "resource.list", J("{s:s}", "pool", "p"));
	assert_int_equal(json_array_size(json_object_get(res, "resources")),
			 2);
	json_decref(res);
	res = CALL_OK(c, "history", J("{s:s}", "pool", "p"));
	assert_true(json_array_size(json_object_get(res, "events")) >= 3);
	json_decref(res);
	kill(holder, SIGKILL);
	h_wait_child(holder);
	pool_close(c);
	poold_stop(d);
}

/* ---- 4. cursors and times are checked, not saturated --------------------- */

static void test_bad_cursors_and_times_are_refused(void **state)
{
	static const char *const cursors[] = {
		"99999999999999999999", "9223372036854775808", "-1", "+5",
		" 5", "5 ", "", "0x10",
	};
	static const char *const times[] = {
		"2026-01-01T00:00:00.5e10Z", "2026-01-01T00:00:00.Z",
		"2026-01-01T00:00:00.5 Z", "2026-01-01T00:00:00.-5Z",
	};
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *res;

	h_pool(c, "p", NULL);
	for (size_t i = 0; i < sizeof cursors / sizeof *cursors; i++) {
		CALL_ERR(c, "history", J("{s:s}", "after", cursors[i]),
			 POOL_E_BAD_REQUEST);
		CALL_ERR(c, "lease.list", J("{s:s}", "after", cursors[i]),
			 POOL_E_BAD_REQUEST);
	}
	for (size_t i = 0; i < sizeof times / sizeof *times; i++)
		CALL_ERR(c, "history", J("{s:s}", "since", times[i]),
			 POOL_E_BAD_REQUEST);
	/* the largest cursor and a fraction of digits are still taken */
	res = CALL_OK(c, "history", J("{s:s}", "after",
				      "9223372036854775807"));
	assert_int_equal(json_array_size(json_object_get(res, "events")), 0);
	json_decref(res);
	res = CALL_OK(c, "history", J("{s:s}", "since",
				      "2000-01-01T00:00:00.25Z"));
	assert_int_equal(json_array_size(json_object_get(res, "events")), 1);
	json_decref(res);
	pool_close(c);
	poold_stop(d);
}

/* ---- 5. renewed is an event ---------------------------------------------- */

/* Reads w's lines until an event of kind arrives; fails after 10 s. */
static json_t *next_event(raw_conn *w, const char *kind)
{
	for (;;) {
		json_t *ev = raw_recv(w, 10);

		if (strcmp(JSTR(ev, "event"), kind) == 0)
			return ev;
		json_decref(ev);
	}
}

static void test_renew_is_in_watch_and_history(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	raw_conn *w = raw_connect(d->sock);
	json_t *res, *ev;
	char *id;

	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);
	json_decref(raw_req(w, "{\"op\":\"watch\",\"pool\":\"p\"}"));
	res = CALL_OK(c, "lease", J("{s:s, s:i}", "pool", "p", "ttl", 60));
	id = strdup(JSTR(res, "lease"));
	json_decref(res);
	json_decref(CALL_OK(c, "renew", J("{s:s, s:i}", "lease", id, "ttl",
					   120)));
	ev = next_event(w, "renewed");
	assert_string_equal(JSTR(ev, "lease"), id);
	assert_string_equal(JSTR(JOBJ(ev, "resource"), "name"), "r1");
	json_decref(ev);
	res = CALL_OK(c, "history", J("{s:s}", "lease", id));
	ev = json_array_get(json_object_get(res, "events"), 1);
	assert_non_null(ev);
	assert_string_equal(JSTR(ev, "event"), "renewed");
	assert_string_equal(JSTR(ev, "lease"), id);
	json_decref(res);
	free(id);
	raw_close(w);
	pool_close(c);
	poold_stop(d);
}

/* The "lease" of the next "leased" event on w, after c leases from p and
 * returns (JSON null for a hidden id). */
static bool leased_id_shown(pool_client *c, raw_conn *w)
{
	json_t *res = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	json_t *ev = next_event(w, "leased");
	bool shown = json_is_string(json_object_get(ev, "lease"));

	json_decref(CALL_OK(c, "return", J("{s:s}", "lease",
					    JSTR(res, "lease"))));
	json_decref(ev);
	json_decref(next_event(w, "returned"));
	json_decref(res);
	return shown;
}

/* What a hello without a token on w says of the session's admin right. */
static bool session_admin(raw_conn *w)
{
	json_t *a = raw_req(w, "{\"op\":\"hello\"}");
	bool admin = json_is_true(json_object_get(resp_result(a), "admin"));

	json_decref(a);
	return admin;
}

static void test_sighup_takes_admin_from_a_watch_stream(void **state)
{
	char dir[] = "/tmp/poold-review-XXXXXX", tokens[64], listen[64];
	int port = h_free_port();
	poold_proc *d;
	pool_client *c;
	raw_conn *w;

	assert_non_null(mkdtemp(dir));
	snprintf(tokens, sizeof tokens, "%s/tokens", dir);
	snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
	h_write_file(tokens, "alice alice-secret-token-0001 admin\n", 0600);
	d = poold_start("--listen", listen, "--tokens", tokens, NULL);
	c = h_connect(d);
	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);
	w = raw_connect_tcp(port);
	json_decref(raw_req(w, "{\"op\":\"hello\",\"token\":"
			    "\"alice-secret-token-0001\"}"));
	json_decref(raw_req(w, "{\"op\":\"watch\",\"pool\":\"p\"}"));
	assert_true(leased_id_shown(c, w));
	h_write_file(tokens, "alice alice-secret-token-0001\n", 0600);
	kill(d->pid, SIGHUP);
	/* the session itself says when the reload has reached it */
	WAIT_UNTIL(!session_admin(w), 10);
	assert_false(leased_id_shown(c, w));
	raw_close(w);
	pool_close(c);
	poold_stop(d);
	unlink(tokens);
	rmdir(dir);
}

/* ---- 3. an owner label cannot forge the log ----------------------------- */

#define FORGED_FIELDS "x caller=uid:12345 lease=00000000 pool=q"
#define FORGED_LINE "y\n2026-01-01T00:00:00.000Z info forged"

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* Leases from p with each owner (and returns), then waits for the log to
 * show the leased events; the log's text (caller frees). */
static char *lease_as(poold_proc *d, const char *const *owners, int n)
{
	pool_client *c = h_connect(d);
	char *log = NULL;

	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);
	for (int i = 0; i < n; i++) {
		json_t *res = CALL_OK(c, "lease", J("{s:s, s:s}", "pool", "p",
						    "owner", owners[i]));

		json_decref(CALL_OK(c, "return", J("{s:s}", "lease",
						    JSTR(res, "lease"))));
		json_decref(res);
	}
	pool_close(c);
	for (double end = h_now() + 10;; h_sleep(0.05)) {
		free(log);
		log = h_read_file(d->log);
		if (count(log, "event=returned") >= n || h_now() > end)
			return log;
	}
}

static void test_owner_cannot_forge_text_log(void **state)
{
	static const char *const owners[] = { FORGED_FIELDS, FORGED_LINE };
	poold_proc *d = poold_start(NULL);
	char *log = lease_as(d, owners, 2);

	/* one field each, the rest inside quotes; no line of its own */
	assert_int_equal(count(log, " owner=\"" FORGED_FIELDS "\""), 2);
	/* the forged caller only inside them, each quote followed by the
	 * real caller */
	assert_int_equal(count(log, "caller=uid:12345"), 2);
	assert_int_equal(count(log, "\" caller=uid:"), 4);
	assert_int_equal(count(log, "owner=\"y\\n2026-01-01T00:00:00.000Z "
			       "info forged\""), 2);
	assert_int_equal(count(log, "\n2026-01-01T00:00:00.000Z info"), 0);
	free(log);
	poold_stop(d);
}

static void test_owner_cannot_forge_json_log(void **state)
{
	static const char *const owners[] = { FORGED_FIELDS, FORGED_LINE };
	poold_proc *d = poold_start("--log-format", "json", NULL);
	char *log = lease_as(d, owners, 2), *line, *save = NULL;
	int events = 0;

	for (line = strtok_r(log, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		json_t *o = json_loads(line, 0, NULL);
		const char *owner;

		if (!o)
			fail_msg("log line is not JSON: %s", line);
		owner = json_string_value(json_object_get(o, "owner"));
		if (owner) {
			assert_true(strcmp(owner, FORGED_FIELDS) == 0 ||
				    strcmp(owner, FORGED_LINE) == 0);
			assert_string_equal(JSTR(o, "pool"), "p");
			assert_string_not_equal(JSTR(o, "caller"),
						"uid:12345");
			assert_string_not_equal(JSTR(o, "lease"), "00000000");
			events++;
		}
		json_decref(o);
	}
	assert_int_equal(events, 4); /* leased and returned, twice */
	free(log);
	poold_stop(d);
}

/* ---- 2. a history page reads a bounded number of rows -------------------- */

/* Adds n resources (n "created" events) to pool p, 5000 per request. */
static void add_many(pool_client *c, int n)
{
	for (int done = 0; done < n;) {
		json_t *items = json_array();

		for (int i = 0; i < 5000 && done < n; i++, done++)
			json_array_append_new(items, J("{s:{s:i}}",
						       "descriptor", "n",
						       done));
		json_decref(CALL_OK(c, "resource.add",
				    J("{s:s, s:o}", "pool", "p", "resources",
				      items)));
	}
}

static void test_filtered_history_page_reads_bounded_rows(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *res, *next = json_null(), *events = json_array();
	char *id;
	int pages = 0;

	h_pool(c, "p", NULL);
	add_many(c, 25000);
	res = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));
	id = strdup(JSTR(res, "lease"));
	json_decref(res);
	do {
		res = CALL_OK(c, "history", J("{s:s, s:O}", "lease", id,
					      "after", next));
		if (pages++ == 0) { /* 25,000 rows before: not all read */
			assert_int_equal(json_array_size(
				json_object_get(res, "events")), 0);
			assert_true(json_is_string(json_object_get(res,
								   "next")));
		}
		json_array_extend(events, json_object_get(res, "events"));
		json_decref(next);
		next = json_incref(json_object_get(res, "next"));
		json_decref(res);
	} while (!json_is_null(next));
	assert_in_range(pages, 3, 5);
	assert_int_equal(json_array_size(events), 1);
	assert_string_equal(JSTR(json_array_get(events, 0), "lease"), id);
	/* unfiltered, pages stay full */
	res = CALL_OK(c, "history", J("{s:i}", "limit", 1000));
	assert_int_equal(json_array_size(json_object_get(res, "events")),
			 1000);
	json_decref(res);
	json_decref(events);
	json_decref(next);
	free(id);
	pool_close(c);
	poold_stop(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_lists_read_while_another_process_writes),
		FTEST(test_bad_cursors_and_times_are_refused),
		FTEST(test_renew_is_in_watch_and_history),
		FTEST(test_sighup_takes_admin_from_a_watch_stream),
		FTEST(test_owner_cannot_forge_text_log),
		FTEST(test_owner_cannot_forge_json_log),
		FTEST(test_filtered_history_page_reads_bounded_rows),
	};

	return RUN_FTESTS(tests);
}
