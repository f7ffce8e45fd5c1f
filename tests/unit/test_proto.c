/*
 * Unit tests of framing (conn.c), the envelope (proto.c) and request
 * validation (dispatch.c), through a real connection on a socketpair.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fixture.h"

static int setup(void **state)
{
	*state = fx_open();
	return 0;
}

static int teardown(void **state)
{
	fx_close(*state);
	return 0;
}

static void expect_code(struct fixture *fx, const char *line,
			const char *code, const char *in_message)
{
	json_t *a = fx_call(fx, "%s", line);
	const char *msg;

	assert_non_null(a);
	assert_string_equal(fx_code(a), code);
	if (in_message) {
		msg = json_string_value(json_object_get(
			json_object_get(a, "error"), "message"));
		assert_non_null(msg);
		assert_non_null(strstr(msg, in_message));
	}
	json_decref(a);
}

static void test_envelope(void **state)
{
	struct fixture *fx = *state;
	json_t *a;

	a = fx_call(fx, "{\"op\":\"ping\",\"id\":\"x\"}");
	assert_string_equal(json_string_value(json_object_get(a, "id")), "x");
	json_decref(a);
	a = fx_call(fx, "{\"op\":\"ping\",\"id\":null}");
	assert_true(json_is_null(json_object_get(a, "id")));
	json_decref(a);
	a = fx_call(fx, "{\"op\":\"ping\"}");
	assert_null(json_object_get(a, "id"));
	json_decref(a);
	a = fx_call(fx, "{\"op\":\"ping\",\"id\":[1]}");
	assert_string_equal(fx_code(a), "bad_request");
	assert_true(json_is_array(json_object_get(a, "id")));
	json_decref(a);
	expect_code(fx, "{\"op\":\"ping\",\"id\":1.5}", "bad_request", "\"id\"");
	expect_code(fx, "not json", "bad_request", "invalid JSON");
	expect_code(fx, "[1,2]", "bad_request", "JSON object");
	expect_code(fx, "\"ping\"", "bad_request", "JSON object");
	expect_code(fx, "{}", "bad_request", "missing field \"op\"");
	expect_code(fx, "{\"op\":7}", "bad_request", "\"op\"");
	expect_code(fx, "{\"op\":\"nope\"}", "unknown_op", "nope");
	expect_code(fx, "{\"op\":\"ping\",\"op\":\"ping\"}", "bad_request",
		    "duplicate");
	expect_code(fx, "{\"op\":\"ping\",\"x\":\"a\\u0000b\"}", "bad_request",
		    NULL);
	expect_code(fx, "{\"op\":\"ping\"} {\"op\":\"ping\"}", "bad_request",
		    NULL);
	/* After all that, the connection still works. */
	expect_code(fx, "{\"op\":\"ping\"}", "ok", NULL);
}

static void test_fields(void **state)
{
	struct fixture *fx = *state;

	expect_code(fx, "{\"op\":\"ping\",\"x\":1}", "bad_request",
		    "unknown field \"x\"");
	expect_code(fx, "{\"op\":\"lease\",\"pool\":\"p\",\"tll\":5}",
		    "bad_request", "unknown field \"tll\"");
	expect_code(fx, "{\"op\":\"lease\"}", "bad_request",
		    "missing field \"pool\"");
	expect_code(fx, "{\"op\":\"lease\",\"pool\":5}", "bad_request",
		    "\"pool\" must be a pool name");
	expect_code(fx, "{\"op\":\"lease\",\"pool\":\"a b\"}", "bad_request",
		    "\"pool\"");
	expect_code(fx, "{\"op\":\"lease\",\"pool\":\"p\",\"ttl\":-1}",
		    "bad_request", "\"ttl\"");
	expect_code(fx, "{\"op\":\"lease\",\"pool\":\"p\",\"ttl\":\"5\"}",
		    "bad_request", "\"ttl\"");
	expect_code(fx, "{\"op\":\"resource.list\",\"pool\":\"p\",\"limit\":1.0}",
		    "bad_request", "\"limit\"");
	expect_code(fx, "{\"op\":\"resource.list\",\"pool\":\"p\",\"limit\":1e2}",
		    "bad_request", "\"limit\"");
	expect_code(fx, "{\"op\":\"replace\",\"lease\":\"x\",\"descriptor\":{},"
		    "\"version\":0}", "bad_request", "\"version\"");
	expect_code(fx, "{\"op\":\"return\",\"lease\":\"x\",\"discard\":1}",
		    "bad_request", "\"discard\"");
	expect_code(fx, "{\"op\":\"return\",\"lease\":\"x\",\"descriptor\":[]}",
		    "bad_request", "\"descriptor\"");
	expect_code(fx, "{\"op\":\"pool.create\",\"pool\":\"p\",\"max_size\":-1}",
		    "bad_request", "\"max_size\"");
	expect_code(fx, "{\"op\":\"pool.create\",\"pool\":\"p\",\"order\":\"x\"}",
		    "bad_request", "\"order\"");
	expect_code(fx, "{\"op\":\"pool.create\",\"pool\":\"p\",\"create\":"
		    "{\"cmd\":[\"true\"]}}", "bad_request", "absolute path");
	expect_code(fx, "{\"op\":\"pool.create\",\"pool\":\"p\",\"create\":"
		    "{\"cmd\":[\"/bin/true\"],\"x\":1}}", "bad_request",
		    "takes only");
	expect_code(fx, "{\"op\":\"pool.create\",\"pool\":\"p\",\"destroy\":"
		    "{\"cmd\":[\"/bin/true\"],\"max_concurrent\":0}}",
		    "bad_request", "must be an integer >= 1");
	expect_code(fx, "{\"op\":\"pool.create\",\"pool\":\"p\",\"destroy\":"
		    "{\"cmd\":[\"/bin/true\"],\"env\":{\"1X\":\"v\"}}}",
		    "bad_request", "[A-Za-z_][A-Za-z0-9_]*");
	expect_code(fx, "{\"op\":\"pool.create\",\"pool\":\"p\",\"reset\":"
		    "{\"cmd\":[]}}", "bad_request", "non-empty");
	/* A refused pool.create created nothing. */
	expect_code(fx, "{\"op\":\"pool.get\",\"pool\":\"p\"}", "not_found",
		    NULL);
}

static void test_pipelined_order(void **state)
{
	struct fixture *fx = *state;
	char line[64];

	for (int i = 0; i < 200; i++) {
		int n = snprintf(line, sizeof line,
				 "{\"op\":\"ping\",\"id\":%d}\n\n", i);

		fx_send(fx, line, (size_t)n);
	}
	for (int i = 0; i < 200; i++) {
		json_t *a = fx_recv(fx);

		assert_non_null(a);
		assert_int_equal(json_integer_value(json_object_get(a, "id")), i);
		json_decref(a);
	}
}

static void test_split_line(void **state)
{
	struct fixture *fx = *state;
	const char *line = "{\"op\":\"ping\",\"id\":42}\n";
	json_t *a;

	/* One byte at a time: the daemon must wait for the newline. */
	for (const char *p = line; *p; p++) {
		fx_send(fx, p, 1);
		reply_turn(&fx->pd, EVLOOP_NONBLOCK);
	}
	a = fx_recv(fx);
	assert_int_equal(json_integer_value(json_object_get(a, "id")), 42);
	json_decref(a);
}

static void test_too_large(void **state)
{
	struct fixture *fx = *state;
	char *big = malloc(10000);
	char *line;

	memset(big, ' ', 10000);
	memcpy(big, "{\"op\":\"ping\",\"x\":\"", 18);
	fx_send(fx, big, 6000); /* over max_line 4096, no newline yet */
	line = fx_read_line(fx, 5);
	assert_non_null(line);
	assert_non_null(strstr(line, "\"too_large\""));
	free(line);
	/* And the connection is closed: EOF. */
	assert_null(fx_read_line(fx, 2));
	free(big);
	close(fx->client);
	fx_connect(fx); /* a new connection works */
	expect_code(fx, "{\"op\":\"ping\"}", "ok", NULL);
}

static void test_max_line_exact(void **state)
{
	struct fixture *fx = *state;
	size_t max = fx->pd.cfg.max_line;
	char *line = malloc(max + 2);
	json_t *a;

	/* Exactly max_line bytes before the newline is accepted. */
	memset(line, ' ', max);
	memcpy(line, "{\"op\":\"ping\",\"id\":1}", 20);
	line[max] = '\n';
	fx_send(fx, line, max + 1);
	a = fx_recv(fx);
	assert_string_equal(fx_code(a), "ok");
	json_decref(a);
	free(line);
}

static json_int_t refused(struct fixture *fx, const char *what)
{
	json_t *a = fx_call(fx, "{\"op\":\"status\"}");
	json_int_t n = json_integer_value(json_object_get(json_object_get(
		fx_result(a), "daemon"), what));

	json_decref(a);
	return n;
}

static void test_limits(void **state)
{
	struct fixture *fx = *state;
	char line[4000];
	int n;

	fx->pd.cfg.max_depth = 4;
	fx->pd.cfg.max_descriptor = 100;
	fx->pd.cfg.max_batch = 2;
	expect_code(fx, "{\"op\":\"ping\",\"x\":[[[1]]]}", "bad_request",
		    "unknown field");
	expect_code(fx, "{\"op\":\"ping\",\"x\":[[[[1]]]]}", "bad_request",
		    "--max-depth");
	assert_int_equal(refused(fx, "too_deep"), 1);
	expect_code(fx, "{\"op\":\"pool.create\",\"pool\":\"p\"}", "ok", NULL);
	n = snprintf(line, sizeof line, "{\"op\":\"resource.add\",\"pool\":"
		     "\"p\",\"resources\":[{\"descriptor\":{\"k\":\"%0120d\"}}]}",
		     0);
	assert_true(n < (int)sizeof line);
	expect_code(fx, line, "bad_request", "--max-descriptor");
	expect_code(fx, "{\"op\":\"resource.add\",\"pool\":\"p\",\"resources\":"
		    "[{\"descriptor\":{}},{\"descriptor\":{}},{\"descriptor\":{}}]}",
		    "bad_request", "--max-batch");
	expect_code(fx, "{\"op\":\"resource.add\",\"pool\":\"p\",\"resources\":"
		    "[{\"name\":\"a\",\"descriptor\":{}}]}", "ok", NULL);
	n = snprintf(line, sizeof line, "{\"op\":\"resource.update\",\"pool\":"
		     "\"p\",\"name\":\"a\",\"version\":1,\"descriptor\":"
		     "{\"k\":\"%0120d\"}}", 0);
	expect_code(fx, line, "bad_request", "--max-descriptor");
	/* max_lease_ttl bounds every lease's TTL, and requires one. */
	expect_code(fx, "{\"op\":\"pool.set\",\"pool\":\"p\",\"max_lease_ttl\":"
		    "60}", "bad_request", "lease_ttl 3600");
	expect_code(fx, "{\"op\":\"pool.set\",\"pool\":\"p\",\"max_lease_ttl\":"
		    "60,\"lease_ttl\":30}", "ok", NULL);
	expect_code(fx, "{\"op\":\"lease\",\"pool\":\"p\",\"ttl\":61}",
		    "bad_request", "max_lease_ttl");
	expect_code(fx, "{\"op\":\"lease\",\"pool\":\"p\",\"ttl\":0}",
		    "bad_request", "max_lease_ttl");
	expect_code(fx, "{\"op\":\"lease\",\"pool\":\"p\"}", "ok", NULL);
	assert_true(refused(fx, "bad_requests") >= 7);
}

/* A client that sends but never reads is dropped once its unread answers
 * pass --max-output; the daemon keeps serving others. */
static void test_slow_reader(void **state)
{
	struct fixture *fx = *state;
	static const char ping[] = "{\"op\":\"status\"}\n";
	int sndbuf = 4096;

	fx->pd.cfg.max_output = 8192;
	setsockopt(fx->client, SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof sndbuf);
	for (int i = 0; i < 2000 && fx->pd.refused.slow_readers == 0; i++) {
		if (write(fx->client, ping, sizeof ping - 1) < 0)
			break;
		reply_turn(&fx->pd, EVLOOP_NONBLOCK);
	}
	for (int i = 0; i < 10; i++)
		reply_turn(&fx->pd, EVLOOP_NONBLOCK);
	assert_int_equal(fx->pd.refused.slow_readers, 1);
	assert_int_equal(fx->pd.nconns, 0);
	close(fx->client);
	fx_connect(fx);
	expect_code(fx, "{\"op\":\"ping\"}", "ok", NULL);
}

/* A client that half-closes without reading its answers: the connection
 * drains what it can, and is let go after the drain timeout (10 s). */
static void test_drain_timeout(void **state)
{
	struct fixture *fx = *state;
	static const char req[] = "{\"op\":\"status\"}\n";
	double until;

	for (int i = 0; i < 3000; i++) {
		fx_send(fx, req, sizeof req - 1);
		if (i % 50 == 0)
			reply_turn(&fx->pd, EVLOOP_NONBLOCK);
	}
	shutdown(fx->client, SHUT_WR);
	until = now_mono() + 3;
	while (now_mono() < until && fx->pd.ndraining == 0)
		reply_turn(&fx->pd, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(fx->pd.ndraining, 1);
	assert_int_equal(fx->pd.nconns, 0);
	until = now_mono() + 15;
	while (now_mono() < until && fx->pd.ndraining > 0)
		reply_turn(&fx->pd, EVLOOP_ONCE); /* sleeps till then */
	assert_int_equal(fx->pd.ndraining, 0);
}

static void test_idle_timeout(void **state)
{
	struct fixture *fx = *state;
	int first = fx->client;
	double until;

	/* Connections accepted from now on time out after 1 s of silence,
	 * unless they hold a reason to stay: here, a watch. */
	fx->pd.cfg.idle_timeout = 1;
	fx_connect(fx);
	expect_code(fx, "{\"op\":\"watch\"}", "ok", NULL);
	fx_connect(fx); /* this one says nothing */
	until = now_mono() + 2.5;
	while (now_mono() < until)
		reply_turn(&fx->pd, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(fx->pd.refused.idle_closed, 1);
	/* The first (no timeout when accepted) and the watcher remain. */
	assert_int_equal(fx->pd.nconns, 2);
	close(first);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_envelope, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_split_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_line_exact, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_reader, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_idle_timeout, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_drain_timeout, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
