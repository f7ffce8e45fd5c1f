/*
 * test_match.c - checkout's match and waiting requests are bounded, so a
 * socket user cannot exhaust the daemon's memory or CPU with them (issue
 * 11 item 2): a match is bounded in keys and bytes (--max-match-keys,
 * --max-match-bytes), one caller's waiting requests across all pools by
 * --max-waiting, and the refusal names the flag.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A checkout line whose match has n keys k0..kn-1 of value v. */
static char *match_line(int n, const char *pool, const char *extra)
{
	size_t cap = (size_t)n * 32 + 256, len = 0;
	char *s = malloc(cap);

	assert_non_null(s);
	len += (size_t)snprintf(s, cap, "{\"op\":\"checkout\",\"pool\":\"%s\"%s,"
				"\"match\":{", pool, extra);
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s\"k%d\":1",
					i ? "," : "", i);
	snprintf(s + len, cap - len, "}}");
	return s;
}

static void expect_refused(raw_conn *r, const char *line, const char *code,
			   const char *flag)
{
	json_t *a = raw_req(r, line);
	json_t *e = json_object_get(a, "error");

	assert_false(json_is_true(json_object_get(a, "ok")));
	assert_string_equal(JSTR(e, "code"), code);
	if (!strstr(JSTR(e, "message"), flag))
		fail_msg("message \"%s\" does not name %s",
			 JSTR(e, "message"), flag);
	json_decref(a);
}

static void test_huge_match_is_refused_naming_the_flag(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	raw_conn *r = raw_connect(d->sock);
	char *line;
	json_t *a;

	(void)state;
	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);
	/* 85,000 keys (the review's attack) and just over the default 32 */
	line = match_line(85000, "p", ",\"wait\":60");
	expect_refused(r, line, "bad_request", "--max-match-keys");
	free(line);
	line = match_line(33, "p", "");
	expect_refused(r, line, "bad_request", "--max-match-keys");
	free(line);
	/* few keys but a long value: the byte bound */
	{
		char big[6000];

		memset(big, 'x', sizeof big);
		big[sizeof big - 1] = '\0';
		line = malloc(sizeof big + 100);
		snprintf(line, sizeof big + 100, "{\"op\":\"checkout\",\"pool\":"
			 "\"p\",\"match\":{\"k\":\"%s\"}}", big);
		expect_refused(r, line, "bad_request", "--max-match-bytes");
		free(line);
	}
	/* within the bounds a match still works, and nothing was queued */
	assert_int_equal(h_status_field(c, "p", "waiters"), 0);
	a = raw_req(r, "{\"op\":\"checkout\",\"pool\":\"p\",\"match\":{\"n\":\"r1\"}}");
	assert_true(json_is_true(json_object_get(a, "ok")));
	json_decref(a);
	raw_close(r);
	pool_close(c);
	poold_stop(d);
}

static void test_match_bounds_follow_their_flags(void **state)
{
	poold_proc *d = poold_start("--max-match-keys", "100", NULL);
	pool_client *c = h_connect(d);
	raw_conn *r = raw_connect(d->sock);
	char *line = match_line(50, "p", "");
	json_t *a;

	(void)state;
	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);
	/* 50 keys pass the raised bound: the answer is "no fit", not a refusal */
	a = raw_req(r, line);
	assert_string_equal(JSTR(json_object_get(a, "error"), "code"), "exhausted");
	json_decref(a);
	free(line);
	raw_close(r);
	pool_close(c);
	poold_stop(d);
}

static void test_one_caller_cannot_queue_unbounded_waiters(void **state)
{
	poold_proc *d = poold_start("--max-waiting", "3", NULL);
	pool_client *c = h_connect(d);
	raw_conn *r = raw_connect(d->sock), *other = raw_connect(d->sock);
	json_t *a;

	(void)state;
	h_pool(c, "p", NULL);
	h_pool(c, "q", NULL);
	/* three waiting requests, in two pools, on two connections */
	raw_send(r, "{\"id\":1,\"op\":\"lease\",\"pool\":\"p\",\"wait\":60}\n");
	raw_send(r, "{\"id\":2,\"op\":\"lease\",\"pool\":\"q\",\"wait\":60}\n");
	raw_send(other, "{\"id\":3,\"op\":\"checkout\",\"pool\":\"q\",\"wait\":60,"
		 "\"match\":{\"n\":\"x\"}}\n");
	WAIT_UNTIL(h_status_field(c, "p", "waiters") == 1 &&
		   h_status_field(c, "q", "waiters") == 2, 10);
	/* the fourth of the same caller, in any pool: busy, naming the flag */
	expect_refused(other, "{\"id\":4,\"op\":\"lease\",\"pool\":\"p\",\"wait\":60}",
		       "busy", "--max-waiting");
	/* a request that does not wait is still answered as usual */
	a = raw_req(other, "{\"op\":\"lease\",\"pool\":\"p\"}");
	assert_string_equal(JSTR(json_object_get(a, "error"), "code"), "exhausted");
	json_decref(a);
	/* an answered waiter frees its place */
	h_add(c, "p", "r1", NULL);
	a = raw_recv(r, 10);
	assert_int_equal(JINT(a, "id"), 1);
	json_decref(a);
	raw_send(other, "{\"id\":5,\"op\":\"lease\",\"pool\":\"p\",\"wait\":60}\n");
	WAIT_UNTIL(h_status_field(c, "p", "waiters") == 1, 10);
	/* so does a closed connection's */
	raw_close(r);
	WAIT_UNTIL(h_status_field(c, "q", "waiters") == 1, 10);
	raw_send(other, "{\"id\":6,\"op\":\"lease\",\"pool\":\"q\",\"wait\":60}\n");
	WAIT_UNTIL(h_status_field(c, "q", "waiters") == 2, 10);
	raw_close(other);
	pool_close(c);
	poold_stop(d);
}

/* The name of the resource a checkout with match got ("" if none). */
static const char *got(raw_conn *r, const char *match, json_t **keep)
{
	char line[300];
	json_t *a;

	snprintf(line, sizeof line, "{\"op\":\"checkout\",\"pool\":\"p\","
		 "\"match\":%s}", match);
	a = raw_req(r, line);
	*keep = a;
	if (!json_is_true(json_object_get(a, "ok")))
		return "";
	return JSTR(JOBJ(JOBJ(a, "result"), "resource"), "name");
}

static void checkin(raw_conn *r, json_t *answer)
{
	char line[200];

	snprintf(line, sizeof line, "{\"op\":\"checkin\",\"lease\":\"%s\"}",
		 JSTR(JOBJ(answer, "result"), "lease"));
	json_decref(raw_req(r, line));
}

/* The index behind match keeps what the scan gave: pool order among the
 * fits, descriptors changed while free, resources gone, many keys. */
static void test_match_index_keeps_pool_order_and_sees_changes(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	raw_conn *r = raw_connect(d->sock);
	json_t *a, *b;

	(void)state;
	h_pool(c, "p", "{\"order\":\"fifo\"}");
	json_decref(raw_req(r, "{\"op\":\"resource.add\",\"pool\":\"p\",\"resources\":["
		"{\"name\":\"r1\",\"descriptor\":{\"gpu\":\"a\",\"n\":1}},"
		"{\"name\":\"r2\",\"descriptor\":{\"gpu\":\"b\",\"n\":2}},"
		"{\"name\":\"r3\",\"descriptor\":{\"gpu\":\"a\",\"n\":3}}]}"));
	/* fifo: the first free fit, then back at the end of the free list */
	assert_string_equal(got(r, "{\"gpu\":\"a\"}", &a), "r1");
	checkin(r, a);
	json_decref(a);
	assert_string_equal(got(r, "{\"gpu\":\"a\"}", &a), "r3");
	/* two keys; a value no free resource has */
	assert_string_equal(got(r, "{\"gpu\":\"a\",\"n\":1}", &b), "r1");
	checkin(r, b);
	json_decref(b);
	assert_string_equal(got(r, "{\"gpu\":\"c\"}", &b), "");
	json_decref(b);
	checkin(r, a);
	json_decref(a);
	/* r2 changed while free: it fits now, in its old place (first) */
	a = raw_req(r, "{\"op\":\"resource.update\",\"pool\":\"p\",\"name\":"
		    "\"r2\",\"version\":1,\"descriptor\":{\"gpu\":\"a\",\"n\":2}}");
	assert_true(json_is_true(json_object_get(a, "ok")));
	json_decref(a);
	assert_string_equal(got(r, "{\"gpu\":\"a\"}", &a), "r2");
	checkin(r, a);
	json_decref(a);
	/* a removed resource is never handed out */
	json_decref(raw_req(r, "{\"op\":\"resource.remove\",\"pool\":\"p\",\"name\":\"r1\"}"));
	WAIT_UNTIL(strcmp(h_res_state(c, "p", "r1"), "") == 0, 10);
	assert_string_equal(got(r, "{\"n\":1}", &a), "");
	json_decref(a);
	/* more keys than the index keeps, and a real: still right */
	assert_string_equal(got(r, "{\"k1\":1}", &a), "");
	json_decref(a);
	for (int i = 0; i < 12; i++) {
		char m[40];

		snprintf(m, sizeof m, "{\"x%d\":%d}", i, i);
		assert_string_equal(got(r, m, &a), "");
		json_decref(a);
	}
	assert_string_equal(got(r, "{\"n\":3,\"gpu\":\"a\"}", &a), "r3");
	checkin(r, a);
	json_decref(a);
	assert_string_equal(got(r, "{\"n\":3.0}", &a), "");
	json_decref(a);
	raw_close(r);
	pool_close(c);
	poold_stop(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_huge_match_is_refused_naming_the_flag),
		FTEST(test_match_bounds_follow_their_flags),
		FTEST(test_one_caller_cannot_queue_unbounded_waiters),
		FTEST(test_match_index_keeps_pool_order_and_sees_changes),
	};

	return RUN_FTESTS(tests);
}
