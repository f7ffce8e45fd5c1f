/*
 * test_basic.c - the envelope and framing of the wire contract against the real
 * daemon: ping/hello, id echo, malformed lines, empty lines, duplicate keys,
 * unknown fields, wrong types, too_large, unknown_op, pipelining, max-conns.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Send one raw line and assert the answer is an error with this code; the id
 * must be absent (the request lines here carry none). Returns the message. */
static void expect_raw_err_at(const char *file, int line, raw_conn *r, const char *req,
			      const char *code)
{
	json_t *resp = raw_req_at(file, line, r, req);
	const char *got = resp_code(resp);

	if (strcmp(got, code) != 0 || !json_is_string(json_object_get(
					      json_object_get(resp, "error"), "message"))) {
		char *s = json_dumps(resp, JSON_COMPACT);

		print_error("request %.200s: expected %s, got %s\n", req, code, s);
		free(s);
		_fail(file, line);
	}
	json_decref(resp);
}
#define expect_raw_err(r, req, code) expect_raw_err_at(__FILE__, __LINE__, r, req, code)

/* A ping on the raw connection answers ok (the connection is still usable). */
static void expect_usable_at(const char *file, int line, raw_conn *r)
{
	json_t *resp = raw_req_at(file, line, r, "{\"op\":\"ping\",\"id\":\"alive\"}");

	if (!json_is_true(json_object_get(resp, "ok")) ||
	    !json_is_string(json_object_get(resp, "id")) ||
	    strcmp(json_string_value(json_object_get(resp, "id")), "alive") != 0) {
		char *s = json_dumps(resp, JSON_COMPACT);

		print_error("connection not usable: %s\n", s);
		free(s);
		_fail(file, line);
	}
	json_decref(resp);
}
#define expect_usable(r) expect_usable_at(__FILE__, __LINE__, r)

static void test_ping(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *res = CALL_OK(c, "ping", NULL);
	json_t *res2;

	assert_true(strlen(JSTR(res, "version")) > 0);
	assert_true(json_is_number(json_object_get(res, "uptime")));
	assert_true(json_number_value(json_object_get(res, "uptime")) >= 0);
	h_sleep(0.3);
	res2 = CALL_OK(c, "ping", NULL);
	/* uptime is seconds since start: it moves forward */
	assert_true(json_number_value(json_object_get(res2, "uptime")) >=
		    json_number_value(json_object_get(res, "uptime")));
	json_decref(res);
	json_decref(res2);
	pool_close(c);
	poold_stop(d);
}

static void test_hello(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	json_t *res = CALL_OK(c, "hello", NULL);
	char want[64];

	snprintf(want, sizeof(want), "uid:%u", (unsigned)geteuid());
	assert_string_equal(JSTR(res, "caller"), want);
	assert_true(strlen(JSTR(res, "version")) > 0);
	/* the daemon's own uid (and root) is admin */
	assert_true(json_is_true(json_object_get(res, "admin")));
	json_decref(res);
	/* hello is optional on the Unix socket and may be repeated */
	json_decref(CALL_OK(c, "hello", NULL));
	json_decref(CALL_OK(c, "ping", NULL));
	pool_close(c);
	poold_stop(d);
}

static void test_id_echo(void **state)
{
	poold_proc *d = poold_start(NULL);
	raw_conn *r = raw_connect(d->sock);
	static const char *const ids[] = { "\"abc\"", "42", "-7", "0", "null", "\"\"",
					   "\"\\u00e9t\\u00e9 \\\"q\\\"\"" };
	static const char *const bad_ids[] = { "1.5", "true", "[1]", "{\"a\":1}", "1e2" };
	char req[256];
	json_t *resp;

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		json_t *want = json_loads(ids[i], JSON_DECODE_ANY, NULL);

		snprintf(req, sizeof(req), "{\"op\":\"ping\",\"id\":%s}", ids[i]);
		resp = raw_req(r, req);
		resp_result(resp);
		assert_non_null(want);
		if (!json_object_get(resp, "id") || !json_equal(json_object_get(resp, "id"), want))
			fail_msg("id %s not echoed verbatim", ids[i]);
		json_decref(want);
		json_decref(resp);

		/* errors echo the id too */
		snprintf(req, sizeof(req), "{\"op\":\"no.such.op\",\"id\":%s}", ids[i]);
		resp = raw_req(r, req);
		resp_expect_err(resp, "unknown_op");
		want = json_loads(ids[i], JSON_DECODE_ANY, NULL);
		if (!json_object_get(resp, "id") || !json_equal(json_object_get(resp, "id"), want))
			fail_msg("id %s not echoed on error", ids[i]);
		json_decref(want);
		json_decref(resp);
	}

	/* integers beyond 2^53 come back exactly */
	resp = raw_req(r, "{\"op\":\"ping\",\"id\":9007199254740993}");
	assert_true(json_integer_value(json_object_get(resp, "id")) == 9007199254740993LL);
	json_decref(resp);
	resp = raw_req(r, "{\"op\":\"ping\",\"id\":-9223372036854775808}");
	assert_true(json_integer_value(json_object_get(resp, "id")) == INT64_MIN);
	json_decref(resp);

	/* absent id -> absent in the answer */
	resp = raw_req(r, "{\"op\":\"ping\"}");
	resp_result(resp);
	assert_null(json_object_get(resp, "id"));
	json_decref(resp);
	resp = raw_req(r, "{\"op\":\"no.such.op\"}");
	resp_expect_err(resp, "unknown_op");
	assert_null(json_object_get(resp, "id"));
	json_decref(resp);

	/* id of another type: bad_request, with that id echoed back anyway */
	for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		json_t *want = json_loads(bad_ids[i], JSON_DECODE_ANY, NULL);

		snprintf(req, sizeof(req), "{\"op\":\"ping\",\"id\":%s}", bad_ids[i]);
		resp = raw_req(r, req);
		resp_expect_err(resp, "bad_request");
		if (!json_equal(json_object_get(resp, "id"), want)) {
			char *s = json_dumps(resp, JSON_COMPACT);

			fail_msg("id %s not echoed with bad_request: %s", bad_ids[i], s);
		}
		json_decref(want);
		json_decref(resp);
	}
	expect_usable(r);
	raw_close(r);
	poold_stop(d);
}

static void test_bad_lines_keep_connection(void **state)
{
	poold_proc *d = poold_start(NULL);
	raw_conn *r = raw_connect(d->sock);
	static const char *const lines[] = {
		"not json",
		"{\"op\":",
		"{\"op\":\"ping\"",
		"[1,2]",
		"[{\"op\":\"ping\"}]",
		"\"ping\"",
		"42",
		"null",
		"true",
		"{}",
		"{\"id\":1}",
		"{\"op\":5}",
		"{\"op\":null}",
		"{\"op\":[\"ping\"]}",
		"{\"op\":\"ping\"} trailing",
		"{\"op\":\"ping\"}{\"op\":\"ping\"}",
		"{'op':'ping'}",
		"{\"op\":\"ping\",}",
		"\xff\xfe{\"op\":\"ping\"}",
		"{\"op\":\"pi\xc3\"}",
	};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		expect_raw_err(r, lines[i], "bad_request");
		expect_usable(r);
	}
	raw_close(r);
	poold_stop(d);
}

static void test_empty_lines_ignored(void **state)
{
	poold_proc *d = poold_start(NULL);
	raw_conn *r = raw_connect(d->sock);
	json_t *resp;

	raw_send(r, "\n\n{\"op\":\"ping\",\"id\":1}\n\n\n{\"op\":\"ping\",\"id\":2}\n\n");
	/* a CRLF line end is whitespace after the object */
	raw_send(r, "{\"op\":\"ping\",\"id\":3}\r\n");
	for (int i = 1; i <= 3; i++) {
		resp = raw_recv(r, 5);
		resp_result(resp);
		/* exactly one answer per request: the empty lines got none */
		assert_int_equal(json_integer_value(json_object_get(resp, "id")), i);
		json_decref(resp);
	}
	assert_true(raw_silent(r, 0.2));
	raw_close(r);
	poold_stop(d);
}

static void test_duplicate_keys(void **state)
{
	poold_proc *d = poold_start(NULL);
	raw_conn *r = raw_connect(d->sock);
	pool_client *c = h_connect(d);
	json_t *res;

	h_pool(c, "p", NULL);
	expect_raw_err(r, "{\"op\":\"ping\",\"op\":\"ping\"}", "bad_request");
	/* the same key spelled with an escape is still a duplicate */
	expect_raw_err(r, "{\"op\":\"ping\",\"o\\u0070\":\"ping\"}", "bad_request");
	expect_raw_err(r, "{\"op\":\"pool.get\",\"pool\":\"p\",\"pool\":\"p\"}", "bad_request");
	/* a duplicate inside a descriptor is a duplicate too; nothing is added */
	expect_raw_err(r,
		       "{\"op\":\"resource.add\",\"pool\":\"p\",\"resources\":[{\"name\":\"a\","
		       "\"descriptor\":{\"k\":1,\"k\":2}}]}",
		       "bad_request");
	expect_raw_err(r,
		       "{\"op\":\"resource.add\",\"pool\":\"p\",\"resources\":[{\"name\":\"a\","
		       "\"descriptor\":{\"x\":{\"k\":1,\"k\":1}}}]}",
		       "bad_request");
	expect_usable(r);
	res = CALL_OK(c, "resource.list", J("{s:s}", "pool", "p"));
	assert_int_equal(json_array_size(json_object_get(res, "resources")), 0);
	json_decref(res);
	pool_close(c);
	raw_close(r);
	poold_stop(d);
}

static void test_unknown_field_named(void **state)
{
	poold_proc *d = poold_start(NULL);
	raw_conn *r = raw_connect(d->sock);
	pool_client *c = h_connect(d);
	json_t *resp;
	const char *msg;

	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);

	resp = raw_req(r, "{\"op\":\"lease\",\"pool\":\"p\",\"tll\":600,\"id\":9}");
	resp_expect_err(resp, "bad_request");
	msg = json_string_value(json_object_get(json_object_get(resp, "error"), "message"));
	if (!strstr(msg, "tll"))
		fail_msg("message does not name the field \"tll\": %s", msg);
	assert_int_equal(json_integer_value(json_object_get(resp, "id")), 9);
	json_decref(resp);
	/* the typo did not take a lease with a default TTL */
	assert_int_equal(h_status_field(c, "p", "leased"), 0);
	assert_int_equal(h_counter(c, "p", "leases"), 0);

	resp = raw_req(r, "{\"op\":\"ping\",\"zork\":1}");
	resp_expect_err(resp, "bad_request");
	msg = json_string_value(json_object_get(json_object_get(resp, "error"), "message"));
	if (!strstr(msg, "zork"))
		fail_msg("message does not name the field \"zork\": %s", msg);
	json_decref(resp);

	/* through libpool too */
	msg = CALL_ERR(c, "pool.create", J("{s:s, s:i}", "pool", "q", "max_sise", 3),
		       POOL_E_BAD_REQUEST);
	if (!strstr(msg, "max_sise"))
		fail_msg("message does not name the field \"max_sise\": %s", msg);
	CALL_ERR(c, "pool.get", J("{s:s}", "pool", "q"), POOL_E_NOT_FOUND);

	/* a resource entry with an unknown field */
	msg = CALL_ERR(c, "resource.add",
		       J("{s:s, s:[{s:s, s:{}, s:i}]}", "pool", "p", "resources", "name", "r2",
			 "descriptor", "colour", 1),
		       POOL_E_BAD_REQUEST);
	if (!strstr(msg, "colour"))
		fail_msg("message does not name the field \"colour\": %s", msg);
	assert_string_equal(h_res_state(c, "p", "r2"), "");

	/* inside descriptor and match any key is fine */
	json_decref(CALL_OK(c, "resource.add",
			    J("{s:s, s:[{s:s, s:{s:i, s:n}}]}", "pool", "p", "resources", "name",
			      "r3", "descriptor", "tll", 1, "op", "xyz")));
	json_decref(CALL_OK(c, "checkout",
			    J("{s:s, s:{s:i}}", "pool", "p", "match", "tll", 1)));
	pool_close(c);
	raw_close(r);
	poold_stop(d);
}

static void test_wrong_types(void **state)
{
	poold_proc *d = poold_start(NULL);
	raw_conn *r = raw_connect(d->sock);
	pool_client *c = h_connect(d);
	static const char *const bad[] = {
		/* lease */
		"{\"op\":\"lease\"}",
		"{\"op\":\"lease\",\"pool\":5}",
		"{\"op\":\"lease\",\"pool\":null}",
		"{\"op\":\"lease\",\"pool\":\"p\",\"ttl\":\"10\"}",
		"{\"op\":\"lease\",\"pool\":\"p\",\"ttl\":-1}",
		"{\"op\":\"lease\",\"pool\":\"p\",\"ttl\":true}",
		"{\"op\":\"lease\",\"pool\":\"p\",\"wait\":\"1\"}",
		"{\"op\":\"lease\",\"pool\":\"p\",\"wait\":-0.5}",
		"{\"op\":\"lease\",\"pool\":\"p\",\"owner\":5}",
		"{\"op\":\"lease\",\"pool\":\"p\",\"bind\":\"forever\"}",
		"{\"op\":\"lease\",\"pool\":\"p\",\"bind\":true}",
		"{\"op\":\"lease\",\"pool\":\"p\",\"request_id\":5}",
		"{\"op\":\"lease\",\"pool\":\"p\",\"request_id\":\"\"}",
		/* pool settings: integers take integers only */
		"{\"op\":\"pool.create\",\"pool\":\"q\",\"max_size\":1.0}",
		"{\"op\":\"pool.create\",\"pool\":\"q\",\"max_size\":1e2}",
		"{\"op\":\"pool.create\",\"pool\":\"q\",\"max_size\":\"3\"}",
		"{\"op\":\"pool.create\",\"pool\":\"q\",\"max_size\":-1}",
		"{\"op\":\"pool.create\",\"pool\":\"q\",\"max_waiters\":2.5}",
		"{\"op\":\"pool.create\",\"pool\":\"q\",\"min_idle\":1E1}",
		"{\"op\":\"pool.create\",\"pool\":\"q\",\"lease_ttl\":-3}",
		"{\"op\":\"pool.create\",\"pool\":\"q\",\"lease_ttl\":\"60\"}",
		"{\"op\":\"pool.create\",\"pool\":\"q\",\"order\":\"random\"}",
		"{\"op\":\"pool.create\",\"pool\":\"q\",\"on_expire\":\"explode\"}",
		"{\"op\":\"pool.create\",\"pool\":\"q\",\"create\":\"magic\"}",
		"{\"op\":\"pool.create\",\"pool\":\"q\",\"create\":5}",
		"{\"op\":\"pool.create\",\"pool\":7}",
		"{\"op\":\"pool.create\"}",
		"{\"op\":\"pool.delete\",\"pool\":\"p\",\"force\":\"yes\"}",
		/* resources */
		"{\"op\":\"resource.add\",\"pool\":\"p\",\"resources\":{}}",
		"{\"op\":\"resource.add\",\"pool\":\"p\",\"resources\":[5]}",
		"{\"op\":\"resource.add\",\"pool\":\"p\",\"resources\":[{\"name\":\"x\","
		"\"descriptor\":[1]}]}",
		"{\"op\":\"resource.add\",\"pool\":\"p\",\"resources\":[{\"name\":\"x\","
		"\"descriptor\":\"d\"}]}",
		"{\"op\":\"resource.add\",\"pool\":\"p\",\"resources\":[{\"name\":5,"
		"\"descriptor\":{}}]}",
		"{\"op\":\"resource.list\",\"pool\":\"p\",\"limit\":1.0}",
		"{\"op\":\"resource.list\",\"pool\":\"p\",\"limit\":1e2}",
		"{\"op\":\"resource.list\",\"pool\":\"p\",\"limit\":\"5\"}",
		"{\"op\":\"resource.list\",\"pool\":\"p\",\"state\":\"sleeping\"}",
		"{\"op\":\"resource.update\",\"pool\":\"p\",\"name\":\"r1\",\"descriptor\":{},"
		"\"version\":1.0}",
		"{\"op\":\"resource.update\",\"pool\":\"p\",\"name\":\"r1\",\"descriptor\":{},"
		"\"version\":\"1\"}",
		"{\"op\":\"resource.remove\",\"pool\":\"p\",\"name\":\"r1\",\"force\":1}",
		/* lease ops */
		"{\"op\":\"return\"}",
		"{\"op\":\"return\",\"lease\":5}",
		"{\"op\":\"renew\",\"lease\":\"00000000000000000000000000000000\",\"ttl\":\"x\"}",
		"{\"op\":\"checkout\",\"pool\":\"p\",\"match\":[1]}",
		"{\"op\":\"checkout\",\"pool\":\"p\",\"name\":5}",
		"{\"op\":\"status\",\"pool\":5}",
		"{\"op\":\"lease.list\",\"limit\":2.0}",
	};

	h_pool(c, "p", NULL);
	h_add(c, "p", "r1", NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_raw_err(r, bad[i], "bad_request");
	expect_usable(r);
	/* none of them changed anything */
	CALL_ERR(c, "pool.get", J("{s:s}", "pool", "q"), POOL_E_NOT_FOUND);
	assert_int_equal(h_status_field(c, "p", "total"), 1);
	assert_int_equal(h_status_field(c, "p", "leased"), 0);
	assert_string_equal(h_res_state(c, "p", "x"), "");

	/* durations take any finite non-negative number, fractions and exponents */
	{
		json_t *resp = raw_req(r, "{\"op\":\"lease\",\"pool\":\"p\",\"ttl\":1e2}");
		json_t *lease = resp_result(resp);
		double exp = h_parse_time(JSTR(lease, "expires_at"));
		double now = h_wall();

		assert_true(exp > now + 90 && exp < now + 110);
		json_decref(CALL_OK(c, "return", J("{s:s}", "lease", JSTR(lease, "lease"))));
		json_decref(resp);
		resp = raw_req(r, "{\"op\":\"lease\",\"pool\":\"p\",\"ttl\":2.5,\"wait\":0.1}");
		lease = resp_result(resp);
		exp = h_parse_time(JSTR(lease, "expires_at"));
		now = h_wall();
		assert_true(exp > now + 1.5 && exp < now + 3.5);
		json_decref(resp);
	}
	pool_close(c);
	raw_close(r);
	poold_stop(d);
}

static void test_unknown_op(void **state)
{
	poold_proc *d = poold_start(NULL);
	raw_conn *r = raw_connect(d->sock);
	pool_client *c = h_connect(d);

	expect_raw_err(r, "{\"op\":\"frobnicate\"}", "unknown_op");
	expect_raw_err(r, "{\"op\":\"\"}", "unknown_op");
	expect_raw_err(r, "{\"op\":\"PING\"}", "unknown_op");
	expect_raw_err(r, "{\"op\":\"pool.frob\",\"pool\":\"p\"}", "unknown_op");
	expect_usable(r);
	CALL_ERR(c, "lease.steal", NULL, POOL_E_UNKNOWN_OP);
	json_decref(CALL_OK(c, "ping", NULL));
	pool_close(c);
	raw_close(r);
	poold_stop(d);
}

/* A ping line of exactly `len` bytes (without the '\n'). */
static char *ping_of_len(size_t len)
{
	static const char head[] = "{\"op\":\"ping\",\"id\":\"";
	char *s = malloc(len + 2);

	assert_non_null(s);
	assert_true(len > sizeof(head) + 2);
	memcpy(s, head, sizeof(head) - 1);
	memset(s + sizeof(head) - 1, 'x', len - (sizeof(head) - 1) - 2);
	memcpy(s + len - 2, "\"}", 2);
	s[len] = '\n';
	s[len + 1] = '\0';
	return s;
}

static void test_too_large(void **state)
{
	poold_proc *d = poold_start("--max-line", "1024", NULL);
	raw_conn *r = raw_connect(d->sock);
	char *line = ping_of_len(1024);
	char *big;
	json_t *resp;

	/* exactly the limit (the '\n' does not count) is fine */
	raw_send(r, line);
	resp = raw_recv(r, 5);
	resp_result(resp);
	json_decref(resp);
	free(line);

	/* one byte over: too_large, then the connection is closed; a request
	 * before it in the same write is answered first */
	line = ping_of_len(1025);
	raw_send(r, "{\"op\":\"ping\",\"id\":\"before\"}\n");
	raw_send(r, line);
	resp = raw_recv(r, 5);
	assert_string_equal(json_string_value(json_object_get(resp, "id")), "before");
	resp_result(resp);
	json_decref(resp);
	resp = raw_recv(r, 5);
	resp_expect_err(resp, "too_large");
	json_decref(resp);
	assert_true(raw_wait_eof(r, 5));
	raw_close(r);
	free(line);

	/* a huge line: the write may fail with EPIPE, the answer is still there */
	r = raw_connect(d->sock);
	big = malloc(4 << 20);
	assert_non_null(big);
	memset(big, 'a', 4 << 20);
	big[0] = '{';
	if (raw_write(r, big, 4 << 20) != 0)
		assert_true(errno == EPIPE || errno == ECONNRESET);
	resp = raw_recv(r, 5);
	resp_expect_err(resp, "too_large");
	json_decref(resp);
	assert_true(raw_wait_eof(r, 5));
	raw_close(r);
	free(big);

	/* the daemon keeps serving */
	r = raw_connect(d->sock);
	expect_usable(r);
	raw_close(r);
	poold_stop(d);
}

static void test_too_large_default(void **state)
{
	poold_proc *d = poold_start(NULL);
	raw_conn *r = raw_connect(d->sock);
	char *line = ping_of_len(POOL_DEFAULT_MAX_LINE);
	json_t *resp;

	/* 1 MiB exactly passes, 1 MiB + 1 does not */
	raw_send(r, line);
	resp = raw_recv(r, 10);
	resp_result(resp);
	json_decref(resp);
	free(line);
	line = ping_of_len(POOL_DEFAULT_MAX_LINE + 1);
	if (raw_write(r, line, strlen(line)) != 0)
		assert_true(errno == EPIPE || errno == ECONNRESET);
	resp = raw_recv(r, 10);
	resp_expect_err(resp, "too_large");
	json_decref(resp);
	assert_true(raw_wait_eof(r, 5));
	raw_close(r);
	free(line);
	poold_stop(d);
}

static void test_pipelining_in_order(void **state)
{
	poold_proc *d = poold_start(NULL);
	raw_conn *r = raw_connect(d->sock);
	char *batch = malloc(200 * 64);
	size_t off = 0;

	assert_non_null(batch);
	/* a mix of ops, errors included, all in one write */
	for (int i = 0; i < 200; i++) {
		const char *op = (i % 3 == 0) ? "ping" : (i % 3 == 1) ? "nope" : "pool.list";

		off += (size_t)sprintf(batch + off, "{\"id\":%d,\"op\":\"%s\"}\n", i, op);
	}
	assert_int_equal(raw_write(r, batch, off), 0);
	for (int i = 0; i < 200; i++) {
		json_t *resp = raw_recv(r, 10);

		assert_int_equal(json_integer_value(json_object_get(resp, "id")), i);
		if (i % 3 == 1)
			resp_expect_err(resp, "unknown_op");
		else
			resp_result(resp);
		json_decref(resp);
	}
	free(batch);
	raw_close(r);
	poold_stop(d);
}

static void test_pipelining_with_waiting_request(void **state)
{
	poold_proc *d = poold_start(NULL);
	pool_client *c = h_connect(d);
	raw_conn *r = raw_connect(d->sock);
	json_t *lease, *resp;

	h_pool(c, "p", NULL);
	h_add(c, "p", "only", NULL);
	lease = CALL_OK(c, "lease", J("{s:s}", "pool", "p"));

	raw_send(r, "{\"id\":\"w\",\"op\":\"lease\",\"pool\":\"p\",\"wait\":10}\n"
		    "{\"id\":1,\"op\":\"ping\"}\n"
		    "{\"id\":2,\"op\":\"resource.get\",\"pool\":\"p\",\"name\":\"only\"}\n"
		    "{\"id\":3,\"op\":\"lease\",\"pool\":\"p\"}\n");
	/* the non-waiting requests are answered, in order, while "w" waits */
	for (int i = 1; i <= 3; i++) {
		resp = raw_recv(r, 5);
		if (json_integer_value(json_object_get(resp, "id")) != i)
			fail_msg("answer %d out of order (the waiting lease was answered early?)", i);
		if (i == 3)
			resp_expect_err(resp, "exhausted");
		else
			resp_result(resp);
		json_decref(resp);
	}
	WAIT_UNTIL(h_status_field(c, "p", "waiters") == 1, 5);
	assert_true(raw_silent(r, 0.2));

	json_decref(CALL_OK(c, "return", J("{s:s}", "lease", JSTR(lease, "lease"))));
	resp = raw_recv(r, 5);
	assert_string_equal(json_string_value(json_object_get(resp, "id")), "w");
	assert_string_equal(JSTR(JOBJ(resp_result(resp), "resource"), "name"), "only");
	json_decref(resp);
	json_decref(lease);
	/* connection still in step after the late answer */
	expect_usable(r);
	raw_close(r);
	pool_close(c);
	poold_stop(d);
}

/* Connect and get a ping answered, retrying while the daemon still counts a
 * connection that just closed; NULL if no ping is answered within 5 s. */
static raw_conn *connect_usable(const char *sock)
{
	double end = h_now() + 5;

	while (h_now() < end) {
		raw_conn *x = raw_connect_try(sock);
		char *line = NULL;
		json_t *resp = NULL;

		if (x && raw_write(x, "{\"op\":\"ping\"}\n", 14) == 0)
			line = raw_read_line(x, 1.0);
		if (line)
			resp = json_loads(line, 0, NULL);
		free(line);
		if (resp && json_is_true(json_object_get(resp, "ok"))) {
			json_decref(resp);
			return x;
		}
		json_decref(resp);
		raw_close(x);
		h_sleep(0.02);
	}
	return NULL;
}

static void test_max_conns(void **state)
{
	poold_proc *d = poold_start("--max-conns", "2", NULL);
	raw_conn *a = connect_usable(d->sock);
	raw_conn *b = connect_usable(d->sock);
	raw_conn *x;
	char *line;
	json_t *resp;

	assert_non_null(a);
	assert_non_null(b);
	/* the third connection is refused with busy (before or after a request) */
	x = raw_connect_try(d->sock);
	if (x) {
		line = raw_read_line(x, 1.0);
		if (!line) {
			raw_write(x, "{\"op\":\"ping\"}\n", 14);
			line = raw_read_line(x, 5.0);
		}
		if (!line)
			fail_msg("third connection got no answer (expected busy)");
		resp = json_loads(line, 0, NULL);
		assert_non_null(resp);
		resp_expect_err(resp, "busy");
		json_decref(resp);
		free(line);
		assert_true(raw_wait_eof(x, 5));
		raw_close(x);
	}
	expect_usable(a);
	expect_usable(b);
	/* a slot frees when a client leaves */
	raw_close(b);
	x = connect_usable(d->sock);
	assert_non_null(x);
	raw_close(x);
	raw_close(a);
	poold_stop(d);
}

/* A request trickling in byte by byte is answered once its line is whole. */
static void test_byte_by_byte(void **state)
{
	poold_proc *d = poold_start(NULL);
	raw_conn *r = raw_connect(d->sock);
	static const char req[] = "{\"op\":\"ping\",\"id\":\"slow\"}\n";
	json_t *resp;

	for (size_t i = 0; i + 1 < sizeof(req); i++) {
		assert_int_equal(raw_write(r, req + i, 1), 0);
		if (i + 2 < sizeof(req))
			assert_true(raw_silent(r, 0.005));
	}
	resp = raw_recv(r, 5);
	assert_string_equal(json_string_value(json_object_get(resp, "id")), "slow");
	resp_result(resp);
	json_decref(resp);
	raw_close(r);
	poold_stop(d);
}

/* A client pipelining a flood of requests does not starve another client. */
static void test_flood_does_not_starve(void **state)
{
	enum { N = 100000 };
	poold_proc *d = poold_start(NULL);
	int ready[2];
	pid_t pid;
	char ch;

	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		raw_conn *a = raw_connect_try(d->sock);
		static const char line[] = "{\"op\":\"status\"}\n";
		size_t total = (sizeof(line) - 1) * N, sent = 0;
		char *data = malloc(total);
		long got = 0;

		CHILD_CHECK(a && data);
		for (size_t i = 0; i < N; i++)
			memcpy(data + i * (sizeof(line) - 1), line, sizeof(line) - 1);
		CHILD_CHECK(fcntl(a->fd, F_SETFL, O_NONBLOCK) == 0);
		CHILD_CHECK(write(ready[1], "r", 1) == 1);
		while (got < N) {
			struct pollfd pfd = { .fd = a->fd, .events = POLLIN | (sent < total ? POLLOUT : 0) };
			char buf[65536];
			ssize_t n;

			CHILD_CHECK(poll(&pfd, 1, 20000) > 0);
			if ((pfd.revents & POLLOUT) && sent < total) {
				n = send(a->fd, data + sent, total - sent, MSG_NOSIGNAL);
				if (n > 0)
					sent += (size_t)n;
			}
			if (pfd.revents & (POLLIN | POLLHUP)) {
				n = recv(a->fd, buf, sizeof(buf), 0);
				CHILD_CHECK(n > 0);
				for (ssize_t i = 0; i < n; i++)
					got += buf[i] == '\n';
			}
		}
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &ch, 1), 1);
	close(ready[0]);
	h_sleep(0.1);
	for (int i = 0; i < 5; i++) {
		raw_conn *b = raw_connect(d->sock);

		expect_usable(b); /* answered while the other client floods */
		raw_close(b);
		h_sleep(0.05);
	}
	assert_int_equal(h_wait_child_for(pid, 60), 0);
	poold_stop(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_ping),
		FTEST(test_hello),
		FTEST(test_id_echo),
		FTEST(test_bad_lines_keep_connection),
		FTEST(test_empty_lines_ignored),
		FTEST(test_duplicate_keys),
		FTEST(test_unknown_field_named),
		FTEST(test_wrong_types),
		FTEST(test_unknown_op),
		FTEST(test_too_large),
		FTEST(test_too_large_default),
		FTEST(test_pipelining_in_order),
		FTEST(test_pipelining_with_waiting_request),
		FTEST(test_max_conns),
		FTEST(test_byte_by_byte),
		FTEST(test_flood_does_not_starve),
	};

	return RUN_FTESTS(tests);
}
