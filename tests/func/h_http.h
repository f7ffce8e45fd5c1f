/*
 * h_http.h - a minimal HTTP/1.1 client for the --http tests: one request per
 * connection ("Connection: close"), the answer read to EOF. Header-only, one
 * copy per test file that includes it (like h_sqlite.h).
 */
#ifndef FUNC_H_HTTP_H
#define FUNC_H_HTTP_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "h_cli.h"
#include "harness.h"

struct h_http_resp {
	int status;        /* 0: no answer (closed, or nothing within 10 s) */
	char *head;        /* owned; status line and headers */
	char *body;        /* owned; NUL-terminated */
	size_t body_len;
};

static inline int h_http_connect(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	return fd;
}

/* Reads the answer on fd to EOF (at most timeout seconds) and parses it. */
static inline struct h_http_resp h_http_read(int fd, double timeout)
{
	struct h_http_resp r = { 0 };
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *sep;
	double deadline = h_now() + timeout;
	ssize_t n;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = (int)((deadline - h_now()) * 1000);

		if (left <= 0 || poll(&p, 1, left) <= 0)
			break;
		if (len + 4096 > cap)
			buf = realloc(buf, cap *= 2);
		if ((n = read(fd, buf + len, cap - len - 1)) <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if ((sep = strstr(buf, "\r\n\r\n"))) {
		*sep = '\0';
		r.body_len = len - (size_t)(sep + 4 - buf);
		r.body = malloc(r.body_len + 1);
		memcpy(r.body, sep + 4, r.body_len + 1);
		sscanf(buf, "HTTP/1.%*d %d", &r.status);
	} else {
		r.body = strdup("");
	}
	r.head = buf;
	return r;
}

/* One request; extra_headers are whole lines with "\r\n" (may be ""). */
static inline struct h_http_resp h_http(int port, const char *method,
					const char *path,
					const char *extra_headers)
{
	int fd = h_http_connect(port);
	char *req;
	struct h_http_resp r;

	assert_true(asprintf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			     "Connection: close\r\n%s\r\n", method, path,
			     extra_headers) > 0);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	free(req);
	r = h_http_read(fd, 10);
	close(fd);
	return r;
}

static inline struct h_http_resp h_http_get(int port, const char *path)
{
	return h_http(port, "GET", path, "");
}

static inline void h_http_free(struct h_http_resp *r)
{
	free(r->head);
	free(r->body);
}

/* The value of the sample "name{labels}" in a /metrics body, or -1 when the
 * series is absent. series is the text before the value, e.g.
 * "poold_waiters{pool=\"p\"}". */
static inline double h_metric(const char *body, const char *series)
{
	size_t n = strlen(series);
	const char *p = body;

	while ((p = strstr(p, series))) {
		if ((p == body || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p += n;
	}
	return -1;
}

#endif
