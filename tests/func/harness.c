/*
 * harness.c - starts the real poold per test and gives the tests libpool and
 * raw-socket clients; see harness.h for the contract of each helper.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../h_pgstore.h"

#define H_MAX_LIVE 8

/* Daemons started and not yet stopped; harness_teardown cleans them up. */
static poold_proc *live[H_MAX_LIVE];

void harness_init(void)
{
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stderr, NULL, _IONBF, 0);
}

/* ---- time ---------------------------------------------------------------- */

double h_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t h_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double h_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void h_sleep(double seconds)
{
	struct timespec ts;

	if (seconds <= 0)
		return;
	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

bool wait_until(bool (*cond)(void *arg), void *arg, double deadline)
{
	double end = h_now() + deadline;

	for (;;) {
		if (cond(arg))
			return true;
		if (h_now() > end)
			return false;
		h_sleep(0.01);
	}
}

double h_parse_time(const char *s)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, n = 0;
	double frac = 0;
	const char *p;

	if (!s || strlen(s) < 20)
		return -1;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
	    n != 19)
		return -1;
	p = s + 19;
	if (*p == '.') {
		double scale = 0.1;

		p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9') {
			frac += (*p - '0') * scale;
			scale /= 10;
			p++;
		}
	}
	if (strcmp(p, "Z") != 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	return (double)timegm(&tm) + frac;
}

/* ---- daemon lifecycle ---------------------------------------------------- */

void poold_print_log(const poold_proc *d)
{
	FILE *f = fopen(d->log, "r");
	char buf[4096];
	size_t n;

	fprintf(stderr, "----- poold log %s -----\n", d->log);
	if (!f) {
		fprintf(stderr, "(cannot open: %s)\n", strerror(errno));
		return;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stderr);
	fclose(f);
	fprintf(stderr, "----- end of poold log -----\n");
}

/* The first forbidden marker found in the log, or NULL. */
static const char *log_bad_marker(const poold_proc *d)
{
	static const char *const markers[] = { "AddressSanitizer", "runtime error:",
					       "LeakSanitizer", "Assertion" };
	FILE *f = fopen(d->log, "r");
	char *text;
	long len;
	const char *found = NULL;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	text = calloc(1, (size_t)len + 1);
	if (text && fread(text, 1, (size_t)len, f) == (size_t)len) {
		for (size_t i = 0; i < sizeof(markers) / sizeof(markers[0]); i++)
			if (strstr(text, markers[i])) {
				found = markers[i];
				break;
			}
	}
	free(text);
	fclose(f);
	return found;
}

/* True when a raw ping gets an ok answer. */
static bool ping_ok(const char *sock)
{
	raw_conn *r = raw_connect_try(sock);
	char *line;
	bool ok = false;

	if (!r)
		return false;
	static const char req[] = "{\"op\":\"ping\",\"id\":\"h-ready\"}\n";

	if (raw_write(r, req, strlen(req)) == 0) {
		line = raw_read_line(r, 1.0);
		ok = line && strstr(line, "\"ok\"") && strstr(line, "true");
		free(line);
	}
	raw_close(r);
	return ok;
}

static void spawn(poold_proc *d)
{
	const char *argv[H_MAX_ARGS + 16];
	int argc = 0;
	pid_t pid;
	int status;
	double end;
	char store[1024];

	argv[argc++] = POOLD_BIN;
	argv[argc++] = "--socket";
	argv[argc++] = d->sock;
	argv[argc++] = "--db";
	argv[argc++] = d->db;
	if (h_pg_mode()) { /* POOL_TEST_STORE: see tests/h_pgstore.h */
		h_pg_url(d->store_dir[0] ? d->store_dir : d->dir, store, sizeof store);
		argv[argc++] = "--store";
		argv[argc++] = store;
	}
	argv[argc++] = "--log-level";
	argv[argc++] = "debug";
	for (int i = 0; d->extra[i]; i++)
		argv[argc++] = d->extra[i];
	argv[argc] = NULL;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0) {
			dup2(fd, 0);
			close(fd);
		}
		signal(SIGPIPE, SIG_DFL);
		execv(argv[0], (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	d->pid = pid;

	end = h_now() + 10.0;
	for (;;) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			d->pid = 0;
			poold_print_log(d);
			fail_msg("poold exited during start-up (status 0x%x)", status);
		}
		if (ping_ok(d->sock))
			break;
		if (h_now() > end) {
			poold_print_log(d);
			fail_msg("poold did not answer ping within 10 s");
		}
		h_sleep(0.01);
	}
}

/* A new poold_proc with its private directory (mode 0755) and paths. */
static poold_proc *proc_new(void)
{
	poold_proc *d = calloc(1, sizeof(*d));
	char tmpl[] = "/tmp/poold-func-XXXXXX";

	assert_non_null(d);
	assert_non_null(mkdtemp(tmpl));
	assert_int_equal(chmod(tmpl, 0755), 0);
	snprintf(d->dir, sizeof(d->dir), "%s", tmpl);
	snprintf(d->sock, sizeof(d->sock), "%s/poold.sock", d->dir);
	snprintf(d->db, sizeof(d->db), "%s/poold.db", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/poold.log", d->dir);
	return d;
}

/* Keeps the extra arguments (from extra on, NULL-ended), makes d live (the
 * teardown stops it) and starts it. */
static poold_proc *proc_launch(poold_proc *d, const char *extra, va_list ap)
{
	int n = 0, slot = -1;

	for (const char *a = extra; a; a = va_arg(ap, const char *)) {
		assert_true(n < H_MAX_ARGS);
		d->extra[n++] = strdup(a);
	}
	d->extra[n] = NULL;
	for (int i = 0; i < H_MAX_LIVE && slot < 0; i++)
		if (!live[i])
			slot = i;
	assert_true(slot >= 0);
	live[slot] = d;
	spawn(d);
	return d;
}

poold_proc *poold_start(const char *extra, ...)
{
	poold_proc *d = proc_new();
	va_list ap;

	if (h_pg_mode())
		assert_int_equal(h_pg_create(d->dir), 0);
	va_start(ap, extra);
	proc_launch(d, extra, ap);
	va_end(ap);
	return d;
}

static void forget(poold_proc *d)
{
	for (int i = 0; i < H_MAX_LIVE; i++)
		if (live[i] == d)
			live[i] = NULL;
}

/* The directory that names d's PostgreSQL schema. */
static const char *schema_dir(const poold_proc *d)
{
	return d->store_dir[0] ? d->store_dir : d->dir;
}

/* Whether another live front end still uses d's schema (a peer, or the
 * first one): the last to go drops it, never one that others still use. */
static bool schema_shared(const poold_proc *d)
{
	for (int i = 0; i < H_MAX_LIVE; i++)
		if (live[i] && live[i] != d &&
		    strcmp(schema_dir(live[i]), schema_dir(d)) == 0)
			return true;
	return false;
}

static void destroy(poold_proc *d)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "warning: could not remove %s\n", d->dir);
	if (h_pg_mode() && !schema_shared(d) && h_pg_drop(schema_dir(d)) != 0)
		fprintf(stderr, "warning: could not drop the schema of %s\n",
			schema_dir(d));
	for (int i = 0; d->extra[i]; i++)
		free(d->extra[i]);
	free(d);
}

/* Wait up to `secs` for the daemon to exit; returns true and sets *status. */
static bool reap(poold_proc *d, double secs, int *status)
{
	double end = h_now() + secs;

	for (;;) {
		pid_t r = waitpid(d->pid, status, WNOHANG);

		if (r == d->pid || (r < 0 && errno == ECHILD)) {
			d->pid = 0;
			return true;
		}
		if (h_now() > end)
			return false;
		h_sleep(0.01);
	}
}

void poold_stop(poold_proc *d)
{
	int status = 0;
	const char *bad;

	assert_non_null(d);
	assert_true(d->pid > 0);
	if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
		d->pid = 0;
		poold_print_log(d);
		fail_msg("poold died before SIGTERM (status 0x%x)", status);
	}
	kill(d->pid, SIGTERM);
	if (!reap(d, 10.0, &status)) {
		kill(d->pid, SIGKILL);
		reap(d, 5.0, &status);
		poold_print_log(d);
		fail_msg("poold did not exit within 10 s of SIGTERM");
	}
	bad = log_bad_marker(d);
	if (bad || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    getenv("POOL_TEST_VERBOSE"))
		poold_print_log(d);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("poold exit status after SIGTERM: %s %d",
			 WIFEXITED(status) ? "exit" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	if (bad)
		fail_msg("poold log contains \"%s\"", bad);
	forget(d);
	destroy(d);
}

void poold_kill9(poold_proc *d)
{
	int status;

	assert_true(d->pid > 0);
	kill(d->pid, SIGKILL);
	assert_true(reap(d, 10.0, &status));
	if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
		poold_print_log(d);
		fail_msg("poold had already exited before kill -9 (status 0x%x)", status);
	}
}

void poold_respawn(poold_proc *d)
{
	assert_true(d->pid == 0);
	spawn(d);
}

void poold_kill9_restart(poold_proc *d)
{
	poold_kill9(d);
	spawn(d);
}

void poold_term_restart(poold_proc *d)
{
	int status = 0;

	assert_true(d->pid > 0);
	kill(d->pid, SIGTERM);
	if (!reap(d, 10.0, &status)) {
		kill(d->pid, SIGKILL);
		reap(d, 5.0, &status);
		poold_print_log(d);
		fail_msg("poold did not exit within 10 s of SIGTERM");
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		poold_print_log(d);
		fail_msg("poold exit status after SIGTERM: 0x%x", status);
	}
	spawn(d);
}

int harness_teardown(void **state)
{
	(void)state;
	for (int i = 0; i < H_MAX_LIVE; i++) {
		poold_proc *d = live[i];
		int status;

		if (!d)
			continue;
		/* A daemon still registered means the test failed before
		 * poold_stop: show why, then clean up. */
		fprintf(stderr, "test failed with poold still registered; its log:\n");
		poold_print_log(d);
		if (d->pid > 0) {
			kill(d->pid, SIGKILL);
			reap(d, 5.0, &status);
		}
		live[i] = NULL;
		destroy(d);
	}
	return 0;
}

/* ---- libpool helpers ----------------------------------------------------- */

pool_client *h_connect_at(const char *file, int line, poold_proc *d)
{
	pool_error err;
	pool_client *c;

	memset(&err, 0, sizeof(err));
	c = pool_connect(d->sock, &err);
	if (!c) {
		print_error("pool_connect(%s): %s %s\n", d->sock, pool_code_name(err.code),
			    err.message);
		_fail(file, line);
	}
	/* a hung daemon fails the test instead of hanging it */
	pool_set_timeout(c, 30);
	return c;
}

static const char *args_text(json_t *args, char *buf, size_t len)
{
	char *s = args ? json_dumps(args, JSON_COMPACT) : NULL;

	snprintf(buf, len, "%s", s ? s : "null");
	free(s);
	return buf;
}

json_t *h_call_ok(const char *file, int line, pool_client *c, const char *op, json_t *args)
{
	pool_error err;
	json_t *res = NULL;
	char buf[512];

	memset(&err, 0, sizeof(err));
	if (pool_call(c, op, args, &res, &err) != 0) {
		print_error("%s %s: expected ok, got %s: %s\n", op,
			    args_text(args, buf, sizeof(buf)), pool_code_name(err.code),
			    err.message);
		json_decref(args);
		_fail(file, line);
	}
	json_decref(args);
	if (!res)
		res = json_object();
	return res;
}

const char *h_call_err(const char *file, int line, pool_client *c, const char *op,
		       json_t *args, pool_code code)
{
	static pool_error err;
	json_t *res = NULL;
	char buf[512];

	memset(&err, 0, sizeof(err));
	if (pool_call(c, op, args, &res, &err) == 0) {
		char *s = res ? json_dumps(res, JSON_COMPACT) : NULL;

		print_error("%s %s: expected %s, got ok: %s\n", op,
			    args_text(args, buf, sizeof(buf)), pool_code_name(code),
			    s ? s : "");
		free(s);
		json_decref(res);
		json_decref(args);
		_fail(file, line);
	}
	if (err.code != code) {
		print_error("%s %s: expected %s, got %s: %s\n", op,
			    args_text(args, buf, sizeof(buf)), pool_code_name(code),
			    pool_code_name(err.code), err.message);
		json_decref(args);
		_fail(file, line);
	}
	json_decref(args);
	return err.message;
}

json_t *h_pack_at(const char *file, int line, const char *fmt, ...)
{
	json_error_t jerr;
	va_list ap;
	json_t *j;

	va_start(ap, fmt);
	j = json_vpack_ex(&jerr, 0, fmt, ap);
	va_end(ap);
	if (!j) {
		print_error("json_pack(\"%s\"): %s\n", fmt, jerr.text);
		_fail(file, line);
	}
	return j;
}

static void dump_fail(const char *file, int line, json_t *o, const char *key,
		      const char *want)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	print_error("field \"%s\" missing or not %s in %s\n", key, want, s ? s : "NULL");
	free(s);
	_fail(file, line);
}

const char *h_str_at(const char *file, int line, json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		dump_fail(file, line, o, key, "a string");
	return json_string_value(v);
}

json_int_t h_int_at(const char *file, int line, json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		dump_fail(file, line, o, key, "an integer");
	return json_integer_value(v);
}

json_t *h_obj_at(const char *file, int line, json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_object(v))
		dump_fail(file, line, o, key, "an object");
	return v;
}

void h_pool(pool_client *c, const char *name, const char *settings_json)
{
	json_t *args = settings_json ? json_loads(settings_json, 0, NULL) : json_object();

	assert_non_null(args);
	json_object_set_new(args, "pool", json_string(name));
	if (!json_object_get(args, "create"))
		json_object_set_new(args, "create", json_string("none"));
	json_decref(CALL_OK(c, "pool.create", args));
}

void h_add(pool_client *c, const char *pool, ...)
{
	json_t *list = json_array();
	va_list ap;

	va_start(ap, pool);
	for (const char *n = va_arg(ap, const char *); n; n = va_arg(ap, const char *))
		json_array_append_new(list, J("{s:s, s:{s:s}}", "name", n, "descriptor", "n", n));
	va_end(ap);
	json_t *res = CALL_OK(c, "resource.add", J("{s:s, s:o}", "pool", pool, "resources", list));
	json_decref(res);
}

json_t *h_status(pool_client *c, const char *pool)
{
	json_t *res = CALL_OK(c, "status", J("{s:s}", "pool", pool));
	json_t *pools = json_object_get(res, "pools");
	json_t *entry = NULL;
	size_t i;
	json_t *p;

	assert_true(json_is_array(pools));
	json_array_foreach(pools, i, p)
	{
		if (json_is_string(json_object_get(p, "pool")) &&
		    strcmp(json_string_value(json_object_get(p, "pool")), pool) == 0)
			entry = json_incref(p);
	}
	if (!entry) {
		char *s = json_dumps(res, JSON_COMPACT);

		fail_msg("status has no entry for pool %s: %s", pool, s);
	}
	json_decref(res);
	return entry;
}

json_int_t h_status_field(pool_client *c, const char *pool, const char *field)
{
	json_t *st = h_status(c, pool);
	json_int_t v = JINT(st, field);

	json_decref(st);
	return v;
}

json_int_t h_counter(pool_client *c, const char *pool, const char *counter)
{
	json_t *st = h_status(c, pool);
	json_int_t v = JINT(JOBJ(st, "counters"), counter);

	json_decref(st);
	return v;
}

const char *h_res_state(pool_client *c, const char *pool, const char *name)
{
	static char state[32];
	pool_error err;
	json_t *res = NULL;
	json_t *args = J("{s:s, s:s}", "pool", pool, "name", name);

	memset(&err, 0, sizeof(err));
	if (pool_call(c, "resource.get", args, &res, &err) != 0) {
		json_decref(args);
		if (err.code == POOL_E_NOT_FOUND)
			return "";
		fail_msg("resource.get %s/%s: %s %s", pool, name, pool_code_name(err.code),
			 err.message);
	}
	json_decref(args);
	snprintf(state, sizeof(state), "%s", JSTR(res, "state"));
	json_decref(res);
	return state;
}

/* ---- raw sockets --------------------------------------------------------- */

raw_conn *raw_connect_try(const char *sock)
{
	struct sockaddr_un sa;
	raw_conn *r;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return NULL;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		close(fd);
		return NULL;
	}
	r->fd = fd;
	return r;
}

raw_conn *raw_connect(const char *sock)
{
	raw_conn *r = raw_connect_try(sock);

	if (!r)
		fail_msg("connect %s: %s", sock, strerror(errno));
	return r;
}

void raw_close(raw_conn *r)
{
	if (!r)
		return;
	close(r->fd);
	free(r->buf);
	free(r);
}

int raw_write(raw_conn *r, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(r->fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void raw_send(raw_conn *r, const char *s)
{
	if (raw_write(r, s, strlen(s)) != 0)
		fail_msg("raw send: %s", strerror(errno));
}

/* Take one line out of the buffer if there is a whole one. */
static char *take_line(raw_conn *r)
{
	char *nl = r->len ? memchr(r->buf, '\n', r->len) : NULL;
	size_t n;
	char *line;

	if (!nl)
		return NULL;
	n = (size_t)(nl - r->buf);
	line = malloc(n + 1);
	assert_non_null(line);
	memcpy(line, r->buf, n);
	line[n] = '\0';
	memmove(r->buf, nl + 1, r->len - n - 1);
	r->len -= n + 1;
	return line;
}

char *raw_read_line(raw_conn *r, double timeout)
{
	double end = h_now() + timeout;

	for (;;) {
		char *line = take_line(r);
		struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
		double left;
		ssize_t n;

		if (line)
			return line;
		if (r->eof)
			return NULL;
		left = end - h_now();
		if (left <= 0)
			return NULL;
		if (poll(&pfd, 1, (int)(left * 1000) + 1) <= 0)
			continue;
		if (r->cap - r->len < 65536) {
			r->cap = r->cap * 2 + 65536;
			r->buf = realloc(r->buf, r->cap);
			assert_non_null(r->buf);
		}
		n = recv(r->fd, r->buf + r->len, r->cap - r->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r->eof = true;
			continue;
		}
		r->len += (size_t)n;
	}
}

json_t *raw_recv_at(const char *file, int line, raw_conn *r, double timeout)
{
	char *text = raw_read_line(r, timeout);
	json_error_t jerr;
	json_t *j;

	if (!text) {
		print_error("no answer within %gs (%s)\n", timeout,
			    r->eof ? "connection closed" : "timeout");
		_fail(file, line);
	}
	j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(j)) {
		print_error("answer is not a JSON object (%s): %.300s\n", jerr.text, text);
		free(text);
		_fail(file, line);
	}
	free(text);
	return j;
}

json_t *raw_req_at(const char *file, int line, raw_conn *r, const char *req)
{
	if (raw_write(r, req, strlen(req)) != 0 || raw_write(r, "\n", 1) != 0) {
		print_error("send %s: %s\n", req, strerror(errno));
		_fail(file, line);
	}
	return raw_recv_at(file, line, r, 10.0);
}

bool raw_silent(raw_conn *r, double timeout)
{
	char *line = raw_read_line(r, timeout);

	if (line) {
		fprintf(stderr, "unexpected line: %.300s\n", line);
		free(line);
		return false;
	}
	return !r->eof;
}

bool raw_wait_eof(raw_conn *r, double timeout)
{
	double end = h_now() + timeout;

	while (!r->eof && h_now() < end) {
		free(raw_read_line(r, end - h_now()));
	}
	return r->eof;
}

const char *resp_code(json_t *resp)
{
	json_t *e = json_object_get(resp, "error");
	json_t *c = json_object_get(e, "code");

	if (json_is_false(json_object_get(resp, "ok")) && json_is_string(c))
		return json_string_value(c);
	return "";
}

json_t *resp_result_at(const char *file, int line, json_t *resp)
{
	json_t *res = json_object_get(resp, "result");

	if (!json_is_true(json_object_get(resp, "ok")) || !json_is_object(res)) {
		char *s = json_dumps(resp, JSON_COMPACT);

		print_error("expected ok:true with a result, got %s\n", s);
		free(s);
		_fail(file, line);
	}
	return res;
}

void resp_expect_err_at(const char *file, int line, json_t *resp, const char *code)
{
	json_t *e = json_object_get(resp, "error");

	if (!json_is_false(json_object_get(resp, "ok")) || strcmp(resp_code(resp), code) != 0 ||
	    !json_is_string(json_object_get(e, "message"))) {
		char *s = json_dumps(resp, JSON_COMPACT);

		print_error("expected error %s (with a message), got %s\n", code, s);
		free(s);
		_fail(file, line);
	}
}

/* ---- other users --------------------------------------------------------- */

void h_require_root(void)
{
	if (geteuid() != 0) {
		print_message("SKIPPED: this test needs root to run a client as nobody\n");
		skip();
	}
}

uid_t h_nobody_uid(void)
{
	struct passwd *pw = getpwnam("nobody");

	return pw ? pw->pw_uid : 65534;
}

gid_t h_nobody_gid(void)
{
	struct passwd *pw = getpwnam("nobody");

	return pw ? pw->pw_gid : 65534;
}

pid_t h_fork_as_nobody(gid_t gid)
{
	uid_t uid = h_nobody_uid();
	pid_t pid;

	if (gid == (gid_t)-1)
		gid = h_nobody_gid();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
			fprintf(stderr, "cannot become nobody: %s\n", strerror(errno));
			_exit(2);
		}
		return 0;
	}
	return pid;
}

int h_wait_child(pid_t pid)
{
	return h_wait_child_for(pid, 30.0);
}

int h_wait_child_for(pid_t pid, double secs)
{
	double end = h_now() + secs;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (r < 0)
			fail_msg("waitpid %d: %s", (int)pid, strerror(errno));
		if (h_now() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fail_msg("child %d did not finish within %g s", (int)pid, secs);
		}
		h_sleep(0.01);
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

pool_code child_call(pool_client *c, const char *op, json_t *args, json_t **res)
{
	pool_error err;
	json_t *r = NULL;

	memset(&err, 0, sizeof(err));
	if (pool_call(c, op, args, &r, &err) != 0) {
		json_decref(args);
		if (res)
			*res = NULL;
		return err.code;
	}
	json_decref(args);
	if (res)
		*res = r;
	else
		json_decref(r);
	return POOL_OK;
}

/* ---- front ends sharing one store (PostgreSQL mode) ------------------------ */

poold_proc *poold_start_peer(const poold_proc *first, const char *extra, ...)
{
	poold_proc *d;
	va_list ap;

	assert_true(h_pg_mode());
	d = proc_new();
	snprintf(d->store_dir, sizeof(d->store_dir), "%s", first->dir);
	va_start(ap, extra);
	proc_launch(d, extra, ap);
	va_end(ap);
	return d;
}

const char *poold_role(const poold_proc *d)
{
	raw_conn *r = raw_connect_try(d->sock);
	static const char req[] = "{\"op\":\"status\"}\n";
	static char role[16];
	char *line;
	json_t *o;

	role[0] = '\0';
	if (!r)
		return role;
	if (raw_write(r, req, strlen(req)) == 0 && (line = raw_read_line(r, 5.0))) {
		const char *s;

		o = json_loads(line, 0, NULL);
		s = json_string_value(json_object_get(
			json_object_get(json_object_get(o, "result"), "ha"), "role"));
		snprintf(role, sizeof(role), "%s", s ? s : "");
		json_decref(o);
		free(line);
	}
	raw_close(r);
	return role;
}
