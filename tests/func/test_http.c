/*
 * Black-box tests of --http: /metrics is valid Prometheus text (promtool)
 * whose values follow the pools and whose series go with a deleted pool;
 * read-only (405), bounded requests and connections; the bearer token on a
 * non-loopback address; /healthz against a locked store; /api/status.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "h_http.h"
#include "harness.h"
#include "h_files.h"
#include "../h_pgstore.h"

static char dir[] = "/tmp/poold-http-XXXXXX";
static char tokens[300], http_arg[64];
static int port;

static poold_proc *start_http(const char *host, const char *extra1,
			      const char *extra2, const char *extra3)
{
	port = h_free_port();
	snprintf(http_arg, sizeof http_arg, "%s:%d", host, port);
	return poold_start("--http", http_arg, extra1, extra2, extra3, NULL);
}

/* promtool's verdict on a scrape (its output is printed on failure). */
static void promtool_check(const char *body)
{
	char path[320], cmd[700], out[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/scrape.txt", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(body, f);
	fclose(f);
	snprintf(cmd, sizeof cmd, "promtool check metrics < %s 2>&1", path);
	if (h_run(cmd, out, sizeof out) != 0)
		fail_msg("promtool check metrics:\n%s", out);
}

static double metric(const char *series)
{
	struct h_http_resp r = h_http_get(port, "/metrics");
	double v;

	assert_int_equal(r.status, 200);
	v = h_metric(r.body, series);
	h_http_free(&r);
	return v;
}

static void test_metrics_follow_the_pools(void **state)
{
	poold_proc *d = start_http("127.0.0.1", NULL, NULL, NULL);
	pool_client *c = h_connect(d);
	struct h_http_resp r;
	json_t *l;

	h_pool(c, "web", "{\"max_size\": 5}");
	h_add(c, "web", "w1", "w2", "w3", NULL);
	r = h_http_get(port, "/metrics");
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.head, "text/plain; version=0.0.4"));
	promtool_check(r.body);
	assert_true(h_metric(r.body, "poold_resources{pool=\"web\",state=\"free\"}") == 3);
	assert_true(h_metric(r.body, "poold_resources{pool=\"web\",state=\"destroying\"}") == 0);
	assert_true(h_metric(r.body, "poold_pool_max_size{pool=\"web\"}") == 5);
	assert_true(h_metric(r.body, "poold_connections") >= 1);
	assert_true(h_metric(r.body, "process_open_fds") > 0);
	assert_true(h_metric(r.body, "process_start_time_seconds") > 1e9);
	h_http_free(&r);

	l = CALL_OK(c, "lease", J("{s:s}", "pool", "web"));
	assert_true(metric("poold_resources{pool=\"web\",state=\"leased\"}") == 1);
	assert_true(metric("poold_leases_granted_total{pool=\"web\",mode=\"lease\"}") == 1);
	json_decref(CALL_OK(c, "return", J("{s:O}", "lease", json_object_get(l, "lease"))));
	json_decref(l);
	assert_true(metric("poold_returns_total{pool=\"web\"}") == 1);
	assert_true(metric("poold_resources{pool=\"web\",state=\"free\"}") == 3);

	/* A deleted pool's series disappear, histograms included. */
	json_decref(CALL_OK(c, "pool.delete", J("{s:s, s:b}", "pool", "web", "force", 1)));
	r = h_http_get(port, "/metrics");
	assert_null(strstr(r.body, "pool=\"web\""));
	promtool_check(r.body);
	h_http_free(&r);
	pool_close(c);
	poold_stop(d);
}

static void test_read_only_and_bounded(void **state)
{
	poold_proc *d = start_http("127.0.0.1", NULL, NULL, NULL);
	struct h_http_resp r;
	char *big, *uri;

	r = h_http(port, "POST", "/metrics", "Content-Length: 0\r\n");
	assert_int_equal(r.status, 405);
	assert_non_null(strstr(r.head, "Allow: GET, HEAD"));
	h_http_free(&r);
	r = h_http(port, "DELETE", "/api/status", "");
	assert_int_equal(r.status, 405);
	h_http_free(&r);
	r = h_http(port, "HEAD", "/metrics", "");
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 0);
	h_http_free(&r);
	r = h_http_get(port, "/nope");
	assert_int_equal(r.status, 404);
	h_http_free(&r);

	/* Headers past the bound: refused, never served. */
	big = malloc(20000);
	memset(big, 'a', 20000);
	memcpy(big, "X-Big: ", 7);
	memcpy(big + 19997, "\r\n", 3);
	r = h_http(port, "GET", "/metrics", big);
	assert_int_not_equal(r.status, 200);
	h_http_free(&r);
	/* A URI past the bound: 414. */
	uri = malloc(3000);
	memset(uri, 'x', 2999);
	uri[0] = '/';
	uri[2999] = '\0';
	r = h_http_get(port, uri);
	assert_int_equal(r.status, 414);
	h_http_free(&r);
	free(big);
	free(uri);
	/* Each refusal was counted. */
	assert_true(metric("poold_refused_total{reason=\"http_method\"}") == 2);
	assert_true(metric("poold_refused_total{reason=\"http_too_large\"}") == 1);
	assert_true(metric("poold_refused_total{reason=\"http_not_found\"}") == 1);
	poold_stop(d);
}

/* A kept-alive request on a new connection, answered: the daemon has
 * accepted the connection and keeps it open. */
static int open_served(void)
{
	const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	int fd = h_http_connect(port);
	char buf[1024];
	size_t len = 0;
	double deadline = h_now() + 10;

	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	buf[0] = '\0';
	while (!strstr(buf, "\r\n\r\nok\n")) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		assert_true(h_now() < deadline);
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(fd, buf + len, sizeof buf - 1 - len);
		assert_true(n > 0);
		len += (size_t)n;
		buf[len] = '\0';
	}
	return fd;
}

/* Whether the daemon closed fd (EOF or reset within 30 s). */
static bool closed_by_peer(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&p, 1, 30000) <= 0)
		return false;
	return read(fd, &c, 1) <= 0;
}

/* HTTP_MAX_CONNS (64) open connections, half of them silent in the middle
 * of a request line: a new connection is still served (/healthz answers)
 * and the oldest makes room; the count stays bounded. */
static void test_connection_bound(void **state)
{
	poold_proc *d = start_http("127.0.0.1", NULL, NULL, NULL);
	struct h_http_resp r;
	int fds[64];

	for (int i = 0; i < 64; i++) {
		if (i % 2) {
			fds[i] = open_served();
			continue;
		}
		fds[i] = h_http_connect(port);
		assert_int_equal(write(fds[i], "GET /metr", 9), 9);
	}
	r = h_http_get(port, "/healthz");
	assert_int_equal(r.status, 200);
	h_http_free(&r);
	assert_true(closed_by_peer(fds[0]));
	assert_true(metric("poold_refused_total{reason=\"http_evicted\"}") >= 1);
	for (int i = 0; i < 64; i++)
		close(fds[i]);
	poold_stop(d);
}

static void test_token_off_loopback(void **state)
{
	char out[2048], cmd[1024], auth[128];
	poold_proc *d;
	struct h_http_resp r;

	/* Not loopback: needs --listen-public, and a token file. */
	snprintf(cmd, sizeof cmd, "%s --socket %s/a.sock --db %s/a.db --http "
		 "0.0.0.0:1 2>&1", POOLD_BIN, dir, dir);
	assert_int_equal(h_run(cmd, out, sizeof out), 1);
	assert_non_null(strstr(out, "--listen-public"));
	snprintf(cmd, sizeof cmd, "%s --socket %s/a.sock --db %s/a.db --http "
		 "0.0.0.0:1 --listen-public 2>&1", POOLD_BIN, dir, dir);
	assert_int_equal(h_run(cmd, out, sizeof out), 1);
	assert_non_null(strstr(out, "--tokens"));

	d = start_http("0.0.0.0", "--listen-public", "--tokens", tokens);
	r = h_http_get(port, "/metrics");
	assert_int_equal(r.status, 401);
	assert_non_null(strstr(r.head, "WWW-Authenticate: Bearer"));
	h_http_free(&r);
	r = h_http(port, "GET", "/api/status",
		   "Authorization: Bearer wrong-token-0000000000\r\n");
	assert_int_equal(r.status, 401);
	h_http_free(&r);
	/* The page holds no data: it loads, then asks for the token. */
	r = h_http_get(port, "/");
	assert_int_equal(r.status, 200);
	h_http_free(&r);
	snprintf(auth, sizeof auth, "Authorization: Bearer "
		 "bob-secret-token-000002\r\n");
	r = h_http(port, "GET", "/metrics", auth);
	assert_int_equal(r.status, 200);
	assert_true(h_metric(r.body, "poold_refused_total{reason=\"http_unauthorized\"}") == 2);
	h_http_free(&r);
	poold_stop(d);
}

/* Off loopback with --tls-cert the listener speaks HTTPS only: the token
 * never crosses the network in clear text. */
static void test_https_off_loopback(void **state)
{
	char out[8192], cmd[1400], cert[300], key[300], tcp[64];
	poold_proc *d;
	struct h_http_resp r;

	h_make_certs(dir);
	snprintf(cert, sizeof cert, "%s/cert.pem", dir);
	snprintf(key, sizeof key, "%s/key.pem", dir);
	port = h_free_port();
	snprintf(http_arg, sizeof http_arg, "0.0.0.0:%d", port);
	snprintf(tcp, sizeof tcp, "127.0.0.1:%d", h_free_port());
	d = poold_start("--http", http_arg, "--listen-public", "--tokens",
			tokens, "--listen", tcp, "--tls-cert", cert,
			"--tls-key", key, NULL);
	snprintf(cmd, sizeof cmd, "curl -sS --max-time 30 --cacert %s/ca.pem "
		 "-H 'Authorization: Bearer bob-secret-token-000002' "
		 "https://127.0.0.1:%d/metrics 2>&1", dir, port);
	assert_int_equal(h_run(cmd, out, sizeof out), 0);
	assert_non_null(strstr(out, "poold_connections"));
	/* Plain HTTP gets no answer. */
	r = h_http_get(port, "/healthz");
	assert_int_not_equal(r.status, 200);
	h_http_free(&r);
	poold_stop(d);
}

/* A process holding the database's write lock. */
static pid_t lock_db(const char *db, const char *ready)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		execlp("python3", "python3", "-c",
		       "import sqlite3, sys, time, pathlib\n"
		       "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
		       "c.execute('BEGIN IMMEDIATE')\n"
		       "pathlib.Path(sys.argv[2]).touch()\n"
		       "time.sleep(120)\n", db, ready, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void test_healthz(void **state)
{
	poold_proc *d;
	struct h_http_resp r;
	char ready[320];
	struct stat st;
	pid_t locker;

	if (h_pg_mode()) /* it holds SQLite's lock */
		skip();
	d = start_http("127.0.0.1", NULL, NULL, NULL);

	r = h_http_get(port, "/healthz");
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok\n");
	h_http_free(&r);

	snprintf(ready, sizeof ready, "%s/locked", d->dir);
	locker = lock_db(d->db, ready);
	WAIT_UNTIL(stat(ready, &st) == 0, 30);
	r = h_http_get(port, "/healthz");
	assert_int_equal(r.status, 503);
	assert_non_null(strstr(r.body, "store"));
	h_http_free(&r);
	kill(locker, SIGKILL);
	h_wait_child(locker);
	r = h_http_get(port, "/healthz");
	assert_int_equal(r.status, 200);
	h_http_free(&r);
	poold_stop(d);
}

static void test_api_status(void **state)
{
	poold_proc *d = start_http("127.0.0.1", NULL, NULL, NULL);
	pool_client *c = h_connect(d);
	struct h_http_resp r;
	json_t *j, *p;

	h_pool(c, "db", NULL);
	h_add(c, "db", "a", "b", NULL);
	r = h_http_get(port, "/api/status");
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.head, "application/json"));
	j = json_loads(r.body, 0, NULL);
	assert_non_null(j);
	p = json_array_get(json_object_get(j, "pools"), 0);
	assert_string_equal(JSTR(p, "pool"), "db");
	assert_int_equal(JINT(p, "free"), 2);
	assert_non_null(json_object_get(j, "daemon"));
	json_decref(j);
	h_http_free(&r);
	pool_close(c);
	poold_stop(d);
}

/* The scrape configuration and alert rules of docs/operations.md, as
 * promtool sees them: each ```yaml block starts with "# file: NAME". */
static void test_docs_promtool(void **state)
{
	char src[] = __FILE__, cmd[2048], out[4096];

	snprintf(cmd, sizeof cmd, "cd %s && awk '/^```yaml/{f=1; next} "
		 "/^```/{f=0; o=\"\"} f && /^# file: /{o=$3; next} "
		 "f && o {print > o}' %s/../../docs/operations.md && "
		 "echo token > poold-token && "
		 "promtool check rules poold-alerts.yml 2>&1 && "
		 "promtool check config prometheus.yml 2>&1", dir,
		 dirname(src));
	if (h_run(cmd, out, sizeof out) != 0)
		fail_msg("docs/operations.md: %s", out);
	assert_non_null(strstr(out, "SUCCESS: 3 rules found"));
}

static int group_setup(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	snprintf(tokens, sizeof tokens, "%s/tokens", dir);
	h_write_file(tokens, "bob bob-secret-token-000002\n", 0600);
	return 0;
}

static int group_teardown(void **state)
{
	return h_rm_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FTEST(test_metrics_follow_the_pools),
		FTEST(test_read_only_and_bounded),
		FTEST(test_connection_bound),
		FTEST(test_token_off_loopback),
		FTEST(test_https_off_loopback),
		FTEST(test_healthz),
		FTEST(test_api_status),
		FTEST(test_docs_promtool),
	};

	harness_init();
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
