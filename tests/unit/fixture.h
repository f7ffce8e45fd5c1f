/*
 * fixture.h - the whole daemon engine in-process for unit tests: a struct
 * poold on a temporary database, with one client connection on a
 * socketpair. fx_call() sends a line and runs the event loop until the
 * answer arrives. Header-only so that every unit test is one .c file.
 */
#ifndef TEST_FIXTURE_H
#define TEST_FIXTURE_H

#include <event2/event.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../h_pgstore.h"
#include "conn.h"
#include "log.h"
#include "options.h"
#include "poold.h"
#include "reply.h"
#include "util.h"

struct fixture {
	struct poold pd;
	char dir[64];
	int client;          /* our end of the connection */
	char buf[1 << 20];   /* bytes read from the daemon, not yet a line */
	size_t len;
};

static inline void fx_connect(struct fixture *fx)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	conn_accept(&fx->pd, sv[0], false);
	fx->client = sv[1];
	fx->len = 0;
}

/* Opens the engine on dir's database; max_db_size 0 = no limit. */
static inline struct fixture *fx_open_sized(const char *dir,
					    size_t max_db_size)
{
	struct fixture *fx = xcalloc(1, sizeof *fx);
	char err[512], path[1024];

	log_threshold = LOG_ERROR;
	signal(SIGPIPE, SIG_IGN); /* as poold's main() does */
	snprintf(fx->dir, sizeof fx->dir, "%s", dir);
	snprintf(path, sizeof path, "%s/poold.db", dir);
	if (h_pg_mode()) /* POOL_TEST_STORE: the directory's schema */
		h_pg_url(dir, path, sizeof path);
	options_defaults(&fx->pd.cfg);
	free(fx->pd.cfg.db_path);
	free(fx->pd.cfg.socket_path);
	fx->pd.cfg.db_path = xstrdup(path);
	fx->pd.cfg.socket_path = xstrdup("unused");
	fx->pd.cfg.max_line = 4096;
	fx->pd.cfg.max_conns = 16;
	fx->pd.cfg.max_db_size = max_db_size;
	if (poold_open(&fx->pd, err, sizeof err) < 0) {
		fprintf(stderr, "fixture: %s\n", err);
		abort();
	}
	fx_connect(fx);
	return fx;
}

static inline struct fixture *fx_open_at(const char *dir)
{
	return fx_open_sized(dir, 0);
}

static inline struct fixture *fx_open(void)
{
	char dir[] = "/tmp/poold-unit-XXXXXX";

	if (!mkdtemp(dir) || (h_pg_mode() && h_pg_create(dir) != 0))
		abort();
	return fx_open_at(dir);
}

/* Closes the daemon but keeps the directory (to reopen it). */
static inline void fx_shutdown(struct fixture *fx)
{
	close(fx->client);
	reply_turn(&fx->pd, EVLOOP_NONBLOCK);
	poold_close(&fx->pd);
	options_free(&fx->pd.cfg);
}

static inline void fx_close(struct fixture *fx)
{
	char cmd[128];

	fx_shutdown(fx);
	snprintf(cmd, sizeof cmd, "rm -rf %s", fx->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fixture: could not remove %s\n", fx->dir);
	if (h_pg_mode() && h_pg_drop(fx->dir) != 0)
		fprintf(stderr, "fixture: could not drop the schema of %s\n",
			fx->dir);
	free(fx);
}

static inline void fx_send(struct fixture *fx, const char *bytes, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fx->client, bytes, n);

		if (w < 0) {
			/* The daemon may be slower to read than we write. */
			reply_turn(&fx->pd, EVLOOP_NONBLOCK);
			continue;
		}
		bytes += w;
		n -= (size_t)w;
	}
}

/* Runs the loop until a whole line came back (returned, malloc'd) or the
 * deadline passed (NULL). An EOF from the daemon also gives NULL. */
static inline char *fx_read_line(struct fixture *fx, double timeout)
{
	double deadline = now_mono() + timeout;

	for (;;) {
		char *nl = memchr(fx->buf, '\n', fx->len);
		struct pollfd pfd = { fx->client, POLLIN, 0 };
		ssize_t r;

		if (nl) {
			size_t n = (size_t)(nl - fx->buf);
			char *line = malloc(n + 1);

			memcpy(line, fx->buf, n);
			line[n] = '\0';
			memmove(fx->buf, nl + 1, fx->len - n - 1);
			fx->len -= n + 1;
			return line;
		}
		if (now_mono() > deadline)
			return NULL;
		reply_turn(&fx->pd, EVLOOP_NONBLOCK);
		if (poll(&pfd, 1, 5) == 1) {
			r = read(fx->client, fx->buf + fx->len,
				 sizeof fx->buf - fx->len);
			if (r <= 0)
				return NULL;
			fx->len += (size_t)r;
		}
	}
}

static inline json_t *fx_recv(struct fixture *fx)
{
	char *line = fx_read_line(fx, 5.0);
	json_t *j = line ? json_loads(line, 0, NULL) : NULL;

	free(line);
	return j;
}

/* Sends one line (a '\n' is added) and returns the raw answer line
 * (malloc'd), or NULL. */
static inline char *fx_call_raw(struct fixture *fx, const char *line)
{
	fx_send(fx, line, strlen(line));
	fx_send(fx, "\n", 1);
	return fx_read_line(fx, 30.0);
}

/* A cmocka setup and teardown: *state is a fixture on a fresh daemon. */
static inline int fx_setup(void **state)
{
	*state = fx_open();
	return 0;
}

static inline int fx_teardown(void **state)
{
	fx_close(*state);
	return 0;
}

/* Sends one line (a '\n' is added) and returns the parsed answer. */
static inline json_t *fx_call(struct fixture *fx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline json_t *fx_call(struct fixture *fx, const char *fmt, ...)
{
	char line[8192];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	line[n++] = '\n';
	fx_send(fx, line, (size_t)n);
	return fx_recv(fx);
}

/* The answer's error code, or "ok". */
static inline const char *fx_code(json_t *answer)
{
	if (json_is_true(json_object_get(answer, "ok")))
		return "ok";
	return json_string_value(json_object_get(
		json_object_get(answer, "error"), "code"));
}

static inline json_t *fx_result(json_t *answer)
{
	return json_object_get(answer, "result");
}

/* The answer to line, failing the test unless it is ok (cmocka.h comes
 * before this header in every test that includes it). */
static inline json_t *fx_ok(struct fixture *fx, const char *line)
{
	json_t *a = fx_call(fx, "%s", line);

	assert_non_null(a);
	if (strcmp(fx_code(a), "ok") != 0)
		fail_msg("%s -> %s", line, json_dumps(a, 0));
	return a;
}

/* A field of pool "p"'s status entry. */
static inline json_int_t fx_status_of(struct fixture *fx, const char *field)
{
	json_t *a = fx_ok(fx, "{\"op\":\"status\",\"pool\":\"p\"}");
	json_int_t v = json_integer_value(json_object_get(json_array_get(
		json_object_get(fx_result(a), "pools"), 0), field));

	json_decref(a);
	return v;
}

#endif
