/*
 * test_libpool.c - libpool without a daemon: the code/name mapping, and the
 * framing and answer matching of pool_call() against a fake poold that runs
 * a script in a thread on the other end of a socketpair.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* By path: unit tests also see the daemon's include dir, which has a pool.h too. */
#include "../../libpool/include/pool.h"

/* ---- A fake poold ------------------------------------------------------ */

#define MAX_LINES 8

struct fake {
	int fd;                       /* the daemon's end; -1 once the script closed it */
	void (*script)(struct fake *); /* what the daemon does, in its own thread */
	char lines[MAX_LINES][512];   /* requests received, without '\n' */
	int nlines;
	pthread_t thread;
};

/* Reads one request line (blocking) and records its start; NULL at EOF.
 * The line is the caller's to free. */
static char *fake_read(struct fake *f)
{
	size_t len = 0, cap = 256;
	char *line = malloc(cap);
	char ch;

	for (;;) {
		ssize_t n = read(f->fd, &ch, 1);

		if (n <= 0) {
			free(line);
			return NULL;
		}
		if (ch == '\n')
			break;
		if (len + 2 > cap)
			line = realloc(line, cap *= 2);
		line[len++] = ch;
	}
	line[len] = '\0';
	if (f->nlines < MAX_LINES)
		snprintf(f->lines[f->nlines++], sizeof(f->lines[0]), "%s", line);
	return line;
}

static void fake_write(struct fake *f, const char *text)
{
	size_t len = strlen(text);

	while (len > 0) {
		ssize_t n = write(f->fd, text, len);

		if (n <= 0)
			return;
		text += n;
		len -= (size_t)n;
	}
}

static void fake_sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;

	f->script(f);
	return NULL;
}

/* Connects a client to a fake running script. */
static pool_client *fake_start(struct fake *f, void (*script)(struct fake *))
{
	pool_error err;
	pool_client *c;
	int sv[2];

	memset(f, 0, sizeof(*f));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	c = pool_connect_fd(sv[0], &err);
	assert_non_null(c);
	f->fd = sv[1];
	f->script = script;
	assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
	return c;
}

static void fake_stop(struct fake *f, pool_client *c)
{
	pool_close(c);
	pthread_join(f->thread, NULL);
	if (f->fd >= 0)
		close(f->fd);
}

/* The i-th request the fake received, parsed. */
static json_t *fake_request(struct fake *f, int i)
{
	json_t *req;

	assert_true(i < f->nlines);
	req = json_loads(f->lines[i], 0, NULL);
	assert_non_null(req);
	return req;
}

/* ---- Codes ------------------------------------------------------------- */

static void test_code_names_round_trip(void **state)
{
	for (int c = POOL_OK; c <= POOL_E_NOT_LEADER; c++) {
		const char *name = pool_code_name((pool_code)c);

		assert_non_null(name);
		assert_int_equal(pool_code_from_name(name), c);
		for (int d = POOL_OK; d < c; d++)
			assert_string_not_equal(name, pool_code_name((pool_code)d));
	}
	assert_string_equal(pool_code_name(POOL_E_BAD_REQUEST), POOL_ERR_BAD_REQUEST);
	assert_string_equal(pool_code_name(POOL_E_NOT_FOUND), "not_found");
	assert_string_equal(pool_code_name(POOL_E_CREATE_FAILED), "create_failed");
	assert_string_equal(pool_code_name(POOL_E_INTERNAL), POOL_ERR_INTERNAL);
	assert_string_equal(pool_code_name(POOL_E_NOT_LEADER), POOL_ERR_NOT_LEADER);
	assert_int_equal(pool_code_from_name("not_leader"), POOL_E_NOT_LEADER);
	assert_string_equal(pool_code_name((pool_code)999), "unknown");
	assert_int_equal(pool_code_from_name("no_such_code"), POOL_E_PROTOCOL);
	assert_int_equal(pool_code_from_name(""), POOL_E_PROTOCOL);
	assert_int_equal(pool_code_from_name(NULL), POOL_E_PROTOCOL);
	assert_string_equal(pool_libversion(), POOL_VERSION);
}

/* ---- Framing and matching ---------------------------------------------- */

static void answer_x(struct fake *f)
{
	char *line = fake_read(f);
	json_t *req = json_loads(line, 0, NULL);
	char out[128];

	free(line);
	snprintf(out, sizeof(out), "{\"id\":%lld,\"ok\":true,\"result\":{\"x\":1}}\n",
		 (long long)json_integer_value(json_object_get(req, "id")));
	json_decref(req);
	fake_write(f, out);
}

static void test_call_ok(void **state)
{
	struct fake f;
	pool_client *c = fake_start(&f, answer_x);
	json_t *args = json_pack("{s:s}", "pool", "spark");
	json_t *result = NULL, *req;
	pool_error err;

	assert_int_equal(pool_call(c, "pool.get", args, &result, &err), 0);
	assert_int_equal(err.code, POOL_OK);
	assert_int_equal(json_integer_value(json_object_get(result, "x")), 1);
	fake_stop(&f, c);

	/* One compact line: id first, then op, then the args. */
	assert_string_equal(f.lines[0], "{\"id\":1,\"op\":\"pool.get\",\"pool\":\"spark\"}");
	req = fake_request(&f, 0);
	assert_int_equal(json_object_size(req), 3);
	json_decref(req);
	json_decref(args);
	json_decref(result);
}

/* An empty line, a watch event, then the answer in three writes. */
static void answer_split(struct fake *f)
{
	free(fake_read(f));
	fake_write(f, "\n{\"event\":\"leased\",\"pool\":\"p\",\"at\":\"2026-01-01T00:00:00Z\"}\n");
	fake_write(f, "{\"id\":1,\"ok\":tr");
	fake_sleep_ms(30);
	fake_write(f, "ue,\"result\":{\"version\":\"0.1.0\",\"uptime\":2.5}}");
	fake_sleep_ms(30);
	fake_write(f, "\n");
}

static void test_call_split_answer_skips_event(void **state)
{
	struct fake f;
	pool_client *c = fake_start(&f, answer_split);
	json_t *result = NULL;
	pool_error err;

	assert_int_equal(pool_ping(c, &result, &err), 0);
	assert_string_equal(json_string_value(json_object_get(result, "version")), "0.1.0");
	assert_true(json_real_value(json_object_get(result, "uptime")) == 2.5);
	json_decref(result);
	fake_stop(&f, c);
	assert_string_equal(f.lines[0], "{\"id\":1,\"op\":\"ping\"}");
}

static void answer_errors(struct fake *f)
{
	free(fake_read(f));
	fake_write(f, "{\"id\":1,\"ok\":false,\"error\":{\"code\":\"not_found\","
		      "\"message\":\"no pool spark\"}}\n");
	free(fake_read(f));
	fake_write(f, "{\"id\":2,\"ok\":false,\"error\":{\"code\":\"made_up\","
		      "\"message\":\"what\"}}\n");
	free(fake_read(f));
	fake_write(f, "{\"id\":3,\"ok\":true,\"result\":{}}\n");
}

static void test_call_error_answers(void **state)
{
	struct fake f;
	pool_client *c = fake_start(&f, answer_errors);
	json_t *result = (json_t *)&result;
	pool_error err;

	assert_int_equal(pool_pool_get(c, "spark", &result, &err), -1);
	assert_null(result);
	assert_int_equal(err.code, POOL_E_NOT_FOUND);
	assert_string_equal(err.message, "no pool spark");

	assert_int_equal(pool_pool_get(c, "spark", NULL, &err), -1);
	assert_int_equal(err.code, POOL_E_PROTOCOL);
	assert_non_null(strstr(err.message, "made_up"));

	/* Still usable after errors. */
	assert_int_equal(pool_pool_delete(c, "spark", 1, &err), 0);
	fake_stop(&f, c);
	assert_string_equal(f.lines[2], "{\"id\":3,\"op\":\"pool.delete\",\"pool\":\"spark\","
					"\"force\":true}");
}

static void answer_wrong_id(struct fake *f)
{
	free(fake_read(f));
	fake_write(f, "{\"id\":99,\"ok\":true,\"result\":{}}\n");
}

static void test_call_wrong_id(void **state)
{
	struct fake f;
	pool_client *c = fake_start(&f, answer_wrong_id);
	pool_error err;

	assert_int_equal(pool_ping(c, NULL, &err), -1);
	assert_int_equal(err.code, POOL_E_PROTOCOL);
	assert_non_null(strstr(err.message, "99"));
	fake_stop(&f, c);
}

static void answer_not_json(struct fake *f)
{
	free(fake_read(f));
	fake_write(f, "this is not json\n{\"id\":1,\"ok\":true,\"result\":{}}\n");
	free(fake_read(f));
	fake_write(f, "{\"id\":2,\"ok\":true,\"result\":{\"n\":2}}\n");
}

static void test_call_not_json_keeps_framing(void **state)
{
	struct fake f;
	pool_client *c = fake_start(&f, answer_not_json);
	json_t *result = NULL;
	pool_error err;

	assert_int_equal(pool_ping(c, NULL, &err), -1);
	assert_int_equal(err.code, POOL_E_PROTOCOL);
	/* The stale answer to request 1 is skipped. */
	assert_int_equal(pool_ping(c, &result, &err), 0);
	assert_int_equal(json_integer_value(json_object_get(result, "n")), 2);
	json_decref(result);
	fake_stop(&f, c);
}

/* Answers request 1 only after request 2 arrived, then request 2. */
static void answer_late(struct fake *f)
{
	free(fake_read(f));
	free(fake_read(f));
	fake_write(f, "{\"id\":1,\"ok\":true,\"result\":{\"n\":1}}\n"
		      "{\"id\":2,\"ok\":true,\"result\":{\"n\":2}}\n");
}

static void test_timeout_then_late_answer_skipped(void **state)
{
	struct fake f;
	pool_client *c = fake_start(&f, answer_late);
	json_t *result = NULL;
	pool_error err;

	pool_set_timeout(c, 0.1);
	assert_int_equal(pool_ping(c, &result, &err), -1);
	assert_int_equal(err.code, POOL_E_TIMEOUT);
	assert_null(result);
	pool_set_timeout(c, 0);
	assert_int_equal(pool_ping(c, &result, &err), 0);
	assert_int_equal(json_integer_value(json_object_get(result, "n")), 2);
	json_decref(result);
	fake_stop(&f, c);
}

/* Answers after 300 ms, longer than the client's timeout but within its wait. */
static void answer_after_wait(struct fake *f)
{
	free(fake_read(f));
	fake_sleep_ms(300);
	fake_write(f, "{\"id\":1,\"ok\":true,\"result\":{}}\n");
}

static void test_timeout_extended_by_wait(void **state)
{
	struct fake f;
	pool_client *c = fake_start(&f, answer_after_wait);
	json_t *args = json_pack("{s:s, s:f}", "pool", "p", "wait", 0.5);
	pool_error err;

	pool_set_timeout(c, 0.1);
	assert_int_equal(pool_call(c, "x", args, NULL, &err), 0);
	json_decref(args);
	fake_stop(&f, c);
}

static void close_after_read(struct fake *f)
{
	free(fake_read(f));
	close(f->fd);
	f->fd = -1;
}

static void test_connection_lost(void **state)
{
	struct fake f;
	pool_client *c = fake_start(&f, close_after_read);
	pool_error err;

	assert_int_equal(pool_ping(c, NULL, &err), -1);
	assert_int_equal(err.code, POOL_E_UNREACHABLE);
	assert_non_null(strstr(err.message, "closed the connection"));
	assert_int_equal(pool_ping(c, NULL, &err), -1);
	assert_int_equal(err.code, POOL_E_UNREACHABLE);
	assert_non_null(strstr(err.message, "connect again"));
	fake_stop(&f, c);
}

/* Answers an oversized line without reading it, as the contract allows. */
static void answer_too_large(struct fake *f)
{
	fake_sleep_ms(50);
	fake_write(f, "{\"ok\":false,\"error\":{\"code\":\"too_large\","
		      "\"message\":\"line over 1048576 bytes\"}}\n");
	close(f->fd);
	f->fd = -1;
}

static void test_too_large_read_after_epipe(void **state)
{
	struct fake f;
	pool_client *c = fake_start(&f, answer_too_large);
	size_t big = 4 * 1024 * 1024;
	char *s = malloc(big + 1);
	json_t *args;
	pool_error err;

	memset(s, 'a', big);
	s[big] = '\0';
	args = json_pack("{s:s}", "pool", s);
	free(s);
	assert_int_equal(pool_call(c, "pool.get", args, NULL, &err), -1);
	assert_int_equal(err.code, POOL_E_TOO_LARGE);
	assert_string_equal(err.message, "line over 1048576 bytes");
	assert_int_equal(pool_ping(c, NULL, &err), -1);
	assert_int_equal(err.code, POOL_E_UNREACHABLE);
	json_decref(args);
	fake_stop(&f, c);
}

static void answer_raw(struct fake *f)
{
	free(fake_read(f));
	free(fake_read(f));
	free(fake_read(f));
	fake_write(f, "{\"ok\":true,\"result\":{}}\n{\"event\":\"created\",\"pool\":\"p\"}\n");
}

static void test_raw_lines(void **state)
{
	struct fake f;
	pool_client *c = fake_start(&f, answer_raw);
	json_t *msg;
	pool_error err;

	assert_int_equal(pool_send_line(c, "{\"op\":\"ping\"}", 13, &err), 0);
	/* A line that already ends in '\n' gets no second one. */
	assert_int_equal(pool_send_line(c, "A\n", 2, &err), 0);
	assert_int_equal(pool_send_line(c, "B", 1, &err), 0);
	assert_int_equal(pool_recv_json(c, &msg, &err), 0);
	assert_true(json_is_true(json_object_get(msg, "ok")));
	json_decref(msg);
	assert_int_equal(pool_recv_json(c, &msg, &err), 0);
	assert_string_equal(json_string_value(json_object_get(msg, "event")), "created");
	json_decref(msg);
	fake_stop(&f, c);
	assert_int_equal(f.nlines, 3);
	assert_string_equal(f.lines[0], "{\"op\":\"ping\"}");
	assert_string_equal(f.lines[1], "A");
	assert_string_equal(f.lines[2], "B");
}

/* ---- Typed wrappers ---------------------------------------------------- */

#define LEASE_JSON                                                                        \
	"{\"lease\":\"0123456789abcdef0123456789abcdef\",\"pool\":\"spark\",\"mode\":\"pop\"," \
	"\"resource\":{\"pool\":\"spark\",\"name\":\"spark-abcde\",\"state\":\"leased\","     \
	"\"descriptor\":{\"url\":\"http://x\"},\"version\":4,\"created_at\":\"t0\","           \
	"\"last_used_at\":\"t1\",\"lease_count\":1},\"token\":17,\"owner\":\"job 7\","         \
	"\"bind\":\"none\",\"acquired_at\":\"2026-01-01T00:00:00.000Z\",\"expires_at\":null}"

static void answer_leases(struct fake *f)
{
	free(fake_read(f));
	fake_write(f, "{\"id\":1,\"ok\":true,\"result\":" LEASE_JSON "}\n");
	free(fake_read(f));
	fake_write(f, "{\"id\":2,\"ok\":true,\"result\":{\"lease\":\"x\"}}\n");
	free(fake_read(f));
	fake_write(f, "{\"id\":3,\"ok\":true,\"result\":{\"version\":5}}\n");
}

static void test_lease_wrappers(void **state)
{
	struct fake f;
	pool_client *c = fake_start(&f, answer_leases);
	json_t *match = json_pack("{s:i}", "gpus", 2);
	pool_lease_opts o = { .ttl_set = 1, .ttl = 600, .wait = 2.5, .owner = "job 7",
			      .request_id = "r1", .match = match };
	pool_lease *l = NULL;
	long long version = 0;
	pool_error err;
	json_t *req;

	assert_int_equal(pool_checkout(c, "spark", &o, &l, &err), 0);
	assert_string_equal(pool_lease_id(l), "0123456789abcdef0123456789abcdef");
	assert_string_equal(pool_lease_pool(l), "spark");
	assert_string_equal(pool_lease_mode(l), "pop");
	assert_string_equal(pool_lease_resource(l), "spark-abcde");
	assert_string_equal(json_string_value(json_object_get(pool_lease_descriptor(l), "url")),
			    "http://x");
	assert_int_equal(pool_lease_version(l), 4);
	assert_int_equal(pool_lease_token(l), 17);
	assert_string_equal(pool_lease_owner(l), "job 7");
	assert_string_equal(pool_lease_bind(l), "none");
	assert_string_equal(pool_lease_acquired_at(l), "2026-01-01T00:00:00.000Z");
	assert_null(pool_lease_expires_at(l));
	pool_lease_free(l);

	/* A Lease without its fields is the daemon's fault, not a lease. */
	l = (pool_lease *)&l;
	assert_int_equal(pool_lease_acquire(c, "spark", NULL, &l, &err), -1);
	assert_null(l);
	assert_int_equal(err.code, POOL_E_PROTOCOL);

	assert_int_equal(pool_replace(c, "x", match, 4, &version, &err), 0);
	assert_int_equal(version, 5);
	fake_stop(&f, c);

	req = fake_request(&f, 0);
	assert_string_equal(json_string_value(json_object_get(req, "op")), "checkout");
	assert_true(json_is_integer(json_object_get(req, "ttl")));
	assert_int_equal(json_integer_value(json_object_get(req, "ttl")), 600);
	assert_true(json_real_value(json_object_get(req, "wait")) == 2.5);
	assert_string_equal(json_string_value(json_object_get(req, "owner")), "job 7");
	assert_string_equal(json_string_value(json_object_get(req, "request_id")), "r1");
	assert_true(json_equal(json_object_get(req, "match"), match));
	assert_null(json_object_get(req, "bind"));
	assert_null(json_object_get(req, "name"));
	json_decref(req);

	/* Options left out stay out: the daemon applies its defaults. */
	assert_string_equal(f.lines[1], "{\"id\":2,\"op\":\"lease\",\"pool\":\"spark\"}");
	assert_string_equal(f.lines[2], "{\"id\":3,\"op\":\"replace\",\"lease\":\"x\","
					"\"descriptor\":{\"gpus\":2},\"version\":4}");
	json_decref(match);
}

static void test_local_argument_errors(void **state)
{
	pool_lease_opts o = { .ttl_set = 1, .ttl = NAN };
	json_t *bad = json_pack("{s:i}", "id", 5);
	json_t *arr = json_array();
	pool_lease *l = NULL;
	pool_client *c;
	pool_error err;
	int sv[2];
	char ch;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	c = pool_connect_fd(sv[0], &err);
	assert_non_null(c);
	assert_int_equal(pool_lease_acquire(c, "p", &o, &l, &err), -1);
	assert_int_equal(err.code, POOL_E_BAD_REQUEST);
	assert_non_null(strstr(err.message, "ttl"));
	assert_int_equal(pool_call(c, "ping", bad, NULL, &err), -1);
	assert_int_equal(err.code, POOL_E_BAD_REQUEST);
	assert_int_equal(pool_call(c, "ping", arr, NULL, &err), -1);
	assert_int_equal(err.code, POOL_E_BAD_REQUEST);
	assert_int_equal(pool_call(c, NULL, NULL, NULL, NULL), -1);
	/* None of these reached the daemon. */
	assert_int_equal(recv(sv[1], &ch, 1, MSG_DONTWAIT), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	pool_close(c);
	close(sv[1]);
	pool_close(NULL);
	pool_lease_free(NULL);
	json_decref(bad);
	json_decref(arr);
}

/* ---- Connecting -------------------------------------------------------- */

static void test_connect(void **state)
{
	char dir[] = "/tmp/test_libpool.XXXXXX";
	char path[64], longpath[300];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	pool_client *c;
	pool_error err;
	int lfd;

	c = pool_connect("/nonexistent/poold.sock", &err);
	assert_null(c);
	assert_int_equal(err.code, POOL_E_UNREACHABLE);
	assert_non_null(strstr(err.message, "/nonexistent/poold.sock"));
	assert_non_null(strstr(err.message, "is poold running?"));

	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_null(pool_connect(longpath, &err));
	assert_int_equal(err.code, POOL_E_UNREACHABLE);
	assert_non_null(strstr(err.message, "longer"));

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/poold.sock", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);

	c = pool_connect(path, &err);
	assert_non_null(c);
	assert_int_equal(err.code, POOL_OK);
	pool_close(c);

	/* NULL means pool_socket_default(), which honours $POOLD_SOCKET. */
	setenv(POOL_SOCKET_ENV, path, 1);
	c = pool_connect(NULL, &err);
	assert_non_null(c);
	pool_close(c);
	unsetenv(POOL_SOCKET_ENV);

	close(lfd);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_code_names_round_trip),
		cmocka_unit_test(test_call_ok),
		cmocka_unit_test(test_call_split_answer_skips_event),
		cmocka_unit_test(test_call_error_answers),
		cmocka_unit_test(test_call_wrong_id),
		cmocka_unit_test(test_call_not_json_keeps_framing),
		cmocka_unit_test(test_timeout_then_late_answer_skipped),
		cmocka_unit_test(test_timeout_extended_by_wait),
		cmocka_unit_test(test_connection_lost),
		cmocka_unit_test(test_too_large_read_after_epipe),
		cmocka_unit_test(test_raw_lines),
		cmocka_unit_test(test_lease_wrappers),
		cmocka_unit_test(test_local_argument_errors),
		cmocka_unit_test(test_connect),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
