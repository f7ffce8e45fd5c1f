/*
 * client.c - one connection to poold: connects to its Unix socket, frames
 * JSON Lines in both directions (in the clear or through tls.c) and matches
 * each answer to its request, so that ops.c and callers only ever deal in
 * whole messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* Far above any answer poold sends, yet bounded, so that a runaway peer
 * cannot make us allocate without end. */
#define MAX_MESSAGE (64u * 1024 * 1024)
#define READ_CHUNK 65536

struct pool_client {
	int fd;            /* owned; -1 once the connection is lost */
	char *where;       /* owned; socket path or "socket fd N", for messages */
	pool__tls *tls;    /* owned; NULL in the clear; freed by lose() */
	double timeout;    /* seconds a call may wait for its answer; 0 = forever */
	int timed_out;     /* the last call ran out of timeout (pool_timed_out()) */
	long long next_id; /* id of the next request pool_call() sends */
	char *buf;         /* owned; bytes received, not yet returned as messages */
	size_t off;        /* start of the bytes not yet returned */
	size_t len;        /* end of the bytes received */
	size_t scanned;    /* bytes after off known to hold no '\n' */
	size_t cap;        /* allocated size of buf */
	char *leader;      /* owned; the leader named by the last not_leader, or NULL */
	pool__follow *follow; /* owned; the endpoints when several were given, else NULL */
	pool_connect_opts how; /* how to connect again when following (token and
				* tls_ca owned; socket_path and tcp unused) */
};

/* What send_all() reports besides success and a failure it explained. */
enum { SENT = 0, SEND_FAILED = -1, SEND_PEER_CLOSED = 1 };

double pool__now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The absolute time a call must end by, or -1 for none; extra is the
 * request's own wait, which the daemon may legitimately spend. */
static double deadline_after(const pool_client *c, double extra)
{
	if (c->timeout <= 0)
		return -1;
	return pool__now() + c->timeout + extra;
}

int pool__wait_fd(int fd, short events, double deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int ms = -1;
		int n;

		if (deadline >= 0) {
			double left = deadline - pool__now();

			if (left <= 0)
				return 1;
			ms = left * 1000 >= INT_MAX - 1 ? INT_MAX : (int)(left * 1000) + 1;
		}
		n = poll(&p, 1, ms);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* Drops the connection: framing state is gone, so buffered bytes go too. */
static void lose(pool_client *c)
{
	pool__tls_free(c->tls);
	c->tls = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->off = c->len = c->scanned = 0;
}

static int lost_error(const pool_client *c, pool_error *err)
{
	pool__seterr(err, POOL_E_UNREACHABLE,
		     "the connection to poold at %s was lost (is poold still running?); "
		     "connect again", c->where);
	return -1;
}

static pool_client *client_new(int fd, const char *where, pool_error *err)
{
	pool_client *c = calloc(1, sizeof(*c));
	int flags = fcntl(fd, F_GETFL);

	if (c) {
		c->where = strdup(where);
		c->cap = READ_CHUNK;
		c->buf = malloc(c->cap);
	}
	if (!c || !c->where || !c->buf) {
		pool__seterr(err, POOL_E_INTERNAL, "libpool: out of memory");
		goto fail;
	}
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		pool__seterr(err, POOL_E_UNREACHABLE, "cannot use the connection to poold at %s: %s",
			     where, strerror(errno));
		goto fail;
	}
	c->fd = fd;
	c->next_id = 1;
	return c;
fail:
	close(fd);
	if (c) {
		free(c->where);
		free(c->buf);
		free(c);
	}
	return NULL;
}

/* Says what to do about a failed connect, by its cause. */
static const char *connect_hint(int e)
{
	switch (e) {
	case ENOENT:
	case ECONNREFUSED:
		return "is poold running? start it or pass --socket";
	case EACCES:
	case EPERM:
		return "the socket is mode 0660: join poold's group, or pass --socket";
	case EAGAIN:
		return "poold has too many pending connections; try again";
	default:
		return "check the path, or pass --socket";
	}
}

/* The absolute time a connection step must end by, or -1 for none. */
static double step_deadline(const pool_connect_opts *o)
{
	return isfinite(o->timeout) && o->timeout > 0 ? pool__now() + o->timeout : -1;
}

/*
 * connect(2) on a non-blocking socket, waiting at most until deadline: 0, or
 * -1 with errno (ETIMEDOUT when the deadline passed). A Unix socket whose
 * listener stopped accepting answers EAGAIN while its backlog is full, and
 * cannot be polled for it, so that one is retried every few milliseconds.
 */
static int connect_by(int fd, const struct sockaddr *sa, socklen_t len, double deadline)
{
	int e = 0;
	socklen_t elen = sizeof(e);

	while (connect(fd, sa, len) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN && sa->sa_family == AF_UNIX) {
			struct timespec pause = { 0, 5 * 1000 * 1000 };

			if (deadline >= 0 && pool__now() >= deadline) {
				errno = ETIMEDOUT;
				return -1;
			}
			nanosleep(&pause, NULL);
			continue;
		}
		if (errno != EINPROGRESS)
			return -1;
		if ((e = pool__wait_fd(fd, POLLOUT, deadline)) != 0) {
			if (e > 0)
				errno = ETIMEDOUT;
			return -1;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) < 0)
			return -1;
		errno = e;
		return e ? -1 : 0;
	}
	return 0;
}

/* A connect that ran out of time, in the words of --timeout. */
static void connect_timed_out(pool_error *err, const char *where, const pool_connect_opts *o)
{
	pool__seterr(err, POOL_E_TIMEOUT,
		     "cannot connect to poold at %s: it did not accept the connection within "
		     "%g s (--timeout; is poold stopped or overloaded?)", where, o->timeout);
}

/* The socket to use when none is given: pool_socket_default(), except that
 * a user with no daemon of their own reaches the system's (the systemd
 * unit's /run/poold/poold.sock) without having to say so. */
static const char *client_socket_default(char *buf, size_t len)
{
	const char *env = getenv(POOL_SOCKET_ENV);

	pool_socket_default(buf, len);
	if (!(env && *env) && access(buf, F_OK) < 0 && access(POOL_SOCKET_ROOT, F_OK) == 0)
		snprintf(buf, len, "%s", POOL_SOCKET_ROOT);
	return buf;
}

static pool_client *connect_unix(const pool_connect_opts *o, pool_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char def[PATH_MAX];
	const char *path = o->socket_path ? o->socket_path
					  : client_socket_default(def, sizeof(def));
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		pool__seterr(err, POOL_E_UNREACHABLE,
			     "cannot connect to poold at %s: the path is longer than the %zu bytes "
			     "a Unix socket address holds; use a shorter --socket",
			     path, sizeof(sa.sun_path) - 1);
		return NULL;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		pool__seterr(err, POOL_E_UNREACHABLE, "cannot connect to poold at %s: socket: %s",
			     path, strerror(errno));
		return NULL;
	}
	if (connect_by(fd, (struct sockaddr *)&sa, sizeof(sa), step_deadline(o)) < 0) {
		int e = errno;

		close(fd);
		if (e == ETIMEDOUT)
			connect_timed_out(err, path, o);
		else
			pool__seterr(err, POOL_E_UNREACHABLE, "cannot connect to poold at %s: %s (%s)",
				     path, strerror(e), connect_hint(e));
		return NULL;
	}
	return client_new(fd, path, err);
}

pool_client *pool_connect(const char *socket_path, pool_error *err)
{
	pool_connect_opts o = { .socket_path = socket_path };

	return pool_connect_with(&o, err);
}

pool_client *pool_connect_fd(int fd, pool_error *err)
{
	char where[64];

	pool__clearerr(err);
	if (fd < 0) {
		pool__seterr(err, POOL_E_UNREACHABLE, "cannot use socket fd %d: not a descriptor", fd);
		return NULL;
	}
	snprintf(where, sizeof(where), "socket fd %d", fd);
	return client_new(fd, where, err);
}

/* Splits "HOST:PORT" or "[V6]:PORT" into buf: *host and *port point into it;
 * -1 with err set when it is neither. */
static int split_hostport(const char *hostport, char *buf, size_t len, char **host,
			  char **port, pool_error *err)
{
	snprintf(buf, len, "%s", hostport);
	*host = buf;
	*port = strrchr(buf, ':');
	if (!*port || *port == buf || !(*port)[1]) {
		pool__seterr(err, POOL_E_UNREACHABLE, "\"%s\" is not HOST:PORT", hostport);
		return -1;
	}
	*(*port)++ = '\0';
	if (buf[0] == '[' && (*port)[-2] == ']') {
		(*host)++;
		(*port)[-2] = '\0';
	}
	return 0;
}

/* Connects a TCP socket to the first address of host:port that answers,
 * by the deadline of o->timeout; -1 with err set. */
static int tcp_socket(const char *hostport, const char *host, const char *port,
		      const pool_connect_opts *o, pool_error *err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *a;
	double deadline = step_deadline(o);
	int fd = -1, rc, e = 0;

	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
		pool__seterr(err, POOL_E_UNREACHABLE, "cannot connect to poold at %s: %s",
			     hostport, gai_strerror(rc));
		return -1;
	}
	for (a = ai; a && fd < 0 && e != ETIMEDOUT; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    a->ai_protocol);
		if (fd < 0) {
			e = errno;
		} else if (connect_by(fd, a->ai_addr, a->ai_addrlen, deadline) < 0) {
			e = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (fd < 0 && e == ETIMEDOUT)
		connect_timed_out(err, hostport, o);
	else if (fd < 0)
		pool__seterr(err, POOL_E_UNREACHABLE, "cannot connect to poold at %s: %s (is "
			     "poold running with --listen %s?)", hostport, strerror(e), hostport);
	return fd;
}

/* TCP, then TLS if asked, then hello: the client, or NULL with err set. */
static pool_client *connect_tcp(const pool_connect_opts *o, pool_error *err)
{
	char buf[300], *host, *port;
	pool_client *c;
	int fd;

	if (split_hostport(o->tcp, buf, sizeof(buf), &host, &port, err) < 0 ||
	    (fd = tcp_socket(o->tcp, host, port, o, err)) < 0 ||
	    !(c = client_new(fd, o->tcp, err)))
		return NULL;
	if (o->tls && !(c->tls = pool__tls_start(c->fd, host, o->tcp, o, step_deadline(o), err))) {
		pool_close(c);
		return NULL;
	}
	pool_set_timeout(c, o->timeout);
	if (pool_hello(c, o->token, NULL, err) < 0) {
		if (err && (err->code == POOL_E_UNREACHABLE || err->code == POOL_E_PROTOCOL) &&
		    !o->tls)
			snprintf(err->message + strlen(err->message),
				 sizeof(err->message) - strlen(err->message),
				 "; if poold runs with --tls-cert, connect with TLS (--tls)");
		pool_close(c);
		return NULL;
	}
	return c;
}

pool_client *pool_connect_tcp(const char *hostport, const char *token, pool_error *err)
{
	pool_connect_opts o = { .tcp = hostport, .token = token };

	return pool_connect_with(&o, err);
}

/* One endpoint: the client, or NULL with err set. */
static pool_client *connect_one(const pool_connect_opts *o, pool_error *err)
{
	pool_client *c;

	if (o->tcp)
		return connect_tcp(o, err);
	c = connect_unix(o, err);
	pool_set_timeout(c, o->timeout);
	return c;
}

/* o with endpoint in place of its socket_path or tcp. */
static pool_connect_opts opts_for(const pool_connect_opts *o, const char *endpoint)
{
	pool_connect_opts e = *o;

	if (o->tcp)
		e.tcp = endpoint;
	else
		e.socket_path = endpoint;
	return e;
}

/* Remembers how to connect again, for following (docs/ha.md). */
static int keep_how(pool_client *c, const pool_connect_opts *o, pool__follow *f,
		    pool_error *err)
{
	c->follow = f;
	c->how = *o;
	c->how.socket_path = c->how.tcp = NULL;
	c->how.token = o->token ? strdup(o->token) : NULL;
	c->how.tls_ca = o->tls_ca ? strdup(o->tls_ca) : NULL;
	if ((o->token && !c->how.token) || (o->tls_ca && !c->how.tls_ca)) {
		pool__seterr(err, POOL_E_INTERNAL, "libpool: out of memory");
		return -1;
	}
	return 0;
}

/* Several endpoints ("a,b"): the first that accepts the connection. */
static pool_client *connect_several(const pool_connect_opts *o, pool__follow *f,
				    pool_error *err)
{
	pool_client *c = NULL;

	for (int i = 0; i < pool__follow_count(f) && !c; i++) {
		pool_connect_opts e = opts_for(o, pool__follow_endpoint(f, i));

		c = connect_one(&e, err);
	}
	if (!c) {
		if (err)
			snprintf(err->message + strlen(err->message),
				 sizeof(err->message) - strlen(err->message),
				 " (and no other of the %d endpoints accepted the connection)",
				 pool__follow_count(f));
		pool__follow_free(f);
		return NULL;
	}
	if (keep_how(c, o, f, err) < 0) {
		pool_close(c);
		return NULL;
	}
	return c;
}

pool_client *pool_connect_with(const pool_connect_opts *opts, pool_error *err)
{
	pool_connect_opts none = { 0 };
	const pool_connect_opts *o = opts ? opts : &none;
	char def[PATH_MAX];
	pool__follow *f;

	pool__clearerr(err);
	if (!o->tcp && (o->tls || o->tls_ca || o->tls_insecure)) {
		pool__seterr(err, POOL_E_BAD_REQUEST,
			     "TLS is for TCP connections: connect with --tcp HOST:PORT");
		return NULL;
	}
	if (pool__follow_parse(o->tcp ? o->tcp
			       : o->socket_path ? o->socket_path
			       : client_socket_default(def, sizeof(def)),
			       o->tcp != NULL, &f, err) < 0)
		return NULL;
	return f ? connect_several(o, f, err) : connect_one(o, err);
}

int pool__reconnect(pool_client *c, const char *endpoint, double deadline, pool_error *err)
{
	pool_connect_opts e = c->how;
	pool_client *n;

	if (pool__follow_is_tcp(c->follow))
		e.tcp = endpoint;
	else
		e.socket_path = endpoint;
	if (deadline >= 0 && (e.timeout <= 0 || pool__now() + e.timeout > deadline))
		e.timeout = deadline - pool__now() > POOL_DURATION_MIN ? deadline - pool__now()
									 : POOL_DURATION_MIN;
	lose(c);
	if (!(n = connect_one(&e, err)))
		return -1;
	/* The new connection's guts into c, which callers hold on to. */
	c->fd = n->fd;
	c->tls = n->tls;
	free(c->where);
	c->where = n->where;
	n->fd = -1;
	n->tls = NULL;
	n->where = NULL;
	pool_close(n);
	return 0;
}

void pool__drop(pool_client *c)
{
	lose(c);
}

int pool__connected(const pool_client *c)
{
	return c->fd >= 0;
}

const char *pool__where(const pool_client *c)
{
	return c->where;
}

double pool__timeout(const pool_client *c)
{
	return c->timeout;
}

const char *pool__leader(const pool_client *c)
{
	return c->leader;
}

void pool_close(pool_client *c)
{
	if (!c)
		return;
	lose(c);
	free(c->where);
	free(c->buf);
	free(c->leader);
	pool__follow_free(c->follow);
	if (c->how.token)
		explicit_bzero((char *)c->how.token, strlen(c->how.token));
	free((char *)c->how.token);
	free((char *)c->how.tls_ca);
	free(c);
}

void pool_set_timeout(pool_client *c, double seconds)
{
	if (c)
		c->timeout = isfinite(seconds) && seconds > 0 ? seconds : 0;
}

int pool_timed_out(const pool_client *c)
{
	return c ? c->timed_out : 0;
}

/* read(2) of the connection, in the clear or through TLS; on EAGAIN,
 * *events is what to poll for. */
static ssize_t io_read(pool_client *c, void *buf, size_t n, short *events)
{
	*events = POLLIN;
	return c->tls ? pool__tls_read(c->tls, buf, n, events) : read(c->fd, buf, n);
}

/* send(2) of the connection without SIGPIPE, in the clear or through TLS. */
static ssize_t io_write(pool_client *c, const void *buf, size_t n, short *events)
{
	*events = POLLOUT;
	return c->tls ? pool__tls_write(c->tls, buf, n, events)
		      : send(c->fd, buf, n, MSG_NOSIGNAL);
}

/*
 * Writes all n bytes. A peer that closed is reported apart (with err set)
 * because the contract lets poold answer an oversized line and close without
 * reading it: the answer is then still waiting to be read. A line cut short
 * by the deadline would corrupt the framing of the next request, so it drops
 * the connection.
 */
static int send_all(pool_client *c, const char *p, size_t n, double deadline,
		    size_t *sent, pool_error *err)
{
	while (*sent < n) {
		short events;
		ssize_t w = io_write(c, p + *sent, n - *sent, &events);
		int r;

		if (w >= 0) {
			*sent += (size_t)w;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EPIPE || errno == ECONNRESET) {
			pool__seterr(err, POOL_E_UNREACHABLE,
				     "poold at %s closed the connection while a request was being "
				     "sent (a line over its limit?)", c->where);
			return SEND_PEER_CLOSED;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			pool__seterr(err, POOL_E_UNREACHABLE, "cannot send to poold at %s: %s",
				     c->where, strerror(errno));
			lose(c);
			return SEND_FAILED;
		}
		r = pool__wait_fd(c->fd, events, deadline);
		if (r == 0)
			continue;
		c->timed_out = r > 0;
		if (r > 0)
			pool__seterr(err, POOL_E_TIMEOUT,
				     "poold at %s did not read the request within the %g s timeout%s", c->where,
				     c->timeout, *sent ? "; the connection was closed" : "");
		else
			pool__seterr(err, POOL_E_UNREACHABLE, "cannot send to poold at %s: %s",
				     c->where, strerror(errno));
		if (r < 0 || *sent)
			lose(c);
		return SEND_FAILED;
	}
	return SENT;
}

/* Reads more bytes into buf: 0, or -1 with err set (and the connection lost
 * unless the deadline passed, which leaves a partial message for later). */
static int fill(pool_client *c, double deadline, pool_error *err)
{
	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->cap - c->len < READ_CHUNK / 4) {
		size_t cap = c->cap * 2;
		char *b = realloc(c->buf, cap);

		if (!b) {
			pool__seterr(err, POOL_E_INTERNAL, "libpool: out of memory reading from poold");
			lose(c);
			return -1;
		}
		c->buf = b;
		c->cap = cap;
	}
	for (;;) {
		short events;
		ssize_t n = io_read(c, c->buf + c->len, c->cap - c->len, &events);
		int r;

		if (n > 0) {
			c->len += (size_t)n;
			return 0;
		}
		if (n == 0) {
			if (c->len > c->off)
				pool__seterr(err, POOL_E_UNREACHABLE,
					     "poold at %s closed the connection in the middle of an "
					     "answer (is poold still running?)", c->where);
			else
				pool__seterr(err, POOL_E_UNREACHABLE,
					     "poold at %s closed the connection (is poold still "
					     "running?); connect again", c->where);
			lose(c);
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			pool__seterr(err, POOL_E_UNREACHABLE,
				     "the connection to poold at %s was lost: %s; connect again",
				     c->where, strerror(errno));
			lose(c);
			return -1;
		}
		r = pool__wait_fd(c->fd, events, deadline);
		if (r > 0) {
			c->timed_out = 1;
			pool__seterr(err, POOL_E_TIMEOUT,
				     "no answer from poold at %s within the %g s timeout; the request may still "
				     "take effect (raise the timeout, or retry with the same "
				     "request_id)", c->where, c->timeout);
			return -1;
		}
		if (r < 0) {
			pool__seterr(err, POOL_E_UNREACHABLE, "cannot read from poold at %s: %s",
				     c->where, strerror(errno));
			lose(c);
			return -1;
		}
	}
}

/* Returns the next non-empty line as a JSON object in *msg: 0, or -1 with err
 * set. A line that is not a JSON object is an error, but framing survives it. */
static int recv_message(pool_client *c, double deadline, json_t **msg, pool_error *err)
{
	*msg = NULL;
	if (c->fd < 0)
		return lost_error(c, err);
	for (;;) {
		char *start = c->buf + c->off;
		char *nl = memchr(start + c->scanned, '\n', c->len - c->off - c->scanned);
		json_error_t je;
		size_t n;

		if (!nl) {
			c->scanned = c->len - c->off;
			if (c->scanned > MAX_MESSAGE) {
				pool__seterr(err, POOL_E_PROTOCOL,
					     "poold at %s sent a line over %u MiB; the connection "
					     "was closed", c->where, MAX_MESSAGE >> 20);
				lose(c);
				return -1;
			}
			if (fill(c, deadline, err) < 0)
				return -1;
			continue;
		}
		n = (size_t)(nl - start);
		c->off += n + 1;
		c->scanned = 0;
		if (n == 0)
			continue;
		*msg = json_loadb(start, n, 0, &je);
		if (!*msg) {
			pool__seterr(err, POOL_E_PROTOCOL,
				     "poold at %s sent a line that is not JSON: %s", c->where,
				     je.text);
			return -1;
		}
		if (!json_is_object(*msg)) {
			json_decref(*msg);
			*msg = NULL;
			pool__seterr(err, POOL_E_PROTOCOL,
				     "poold at %s sent a line that is not a JSON object", c->where);
			return -1;
		}
		return 0;
	}
}

int pool_send_line(pool_client *c, const char *line, size_t len, pool_error *err)
{
	char *copy = NULL;
	size_t sent = 0;
	int r;

	pool__clearerr(err);
	if (c)
		c->timed_out = 0;
	if (!c || (!line && len)) {
		pool__seterr(err, POOL_E_BAD_REQUEST, "pool_send_line: needs a client and a line");
		return -1;
	}
	if (c->fd < 0)
		return lost_error(c, err);
	/* One buffer, so that a timeout can never leave a line without its '\n'. */
	if (len == 0 || line[len - 1] != '\n') {
		copy = malloc(len + 1);
		if (!copy) {
			pool__seterr(err, POOL_E_INTERNAL, "libpool: out of memory");
			return -1;
		}
		if (len)
			memcpy(copy, line, len);
		copy[len++] = '\n';
		line = copy;
	}
	r = send_all(c, line, len, deadline_after(c, 0), &sent, err);
	free(copy);
	if (r == SEND_PEER_CLOSED)
		pool__seterr(err, POOL_E_UNREACHABLE,
			     "poold at %s closed the connection while the line was being sent; "
			     "its answer may still be read with pool_recv_json()", c->where);
	return r == SENT ? 0 : -1;
}

int pool_recv_json(pool_client *c, json_t **msg, pool_error *err)
{
	json_t *m;

	pool__clearerr(err);
	if (c)
		c->timed_out = 0;
	if (msg)
		*msg = NULL;
	if (!c) {
		pool__seterr(err, POOL_E_BAD_REQUEST, "pool_recv_json: needs a client");
		return -1;
	}
	if (recv_message(c, deadline_after(c, 0), &m, err) < 0)
		return -1;
	if (msg)
		*msg = m;
	else
		json_decref(m);
	return 0;
}

/* Whose message is this, while request id waits for its answer? */
enum { MINE, SKIP, FOREIGN };

static int classify(const json_t *msg, long long id)
{
	const json_t *jid = json_object_get(msg, "id");

	if (!jid || json_is_null(jid)) {
		if (json_object_get(msg, "event"))
			return SKIP;
		/* poold could not read our id (e.g. too_large); with one request in
		 * flight, an error without id can only be ours. */
		return json_is_false(json_object_get(msg, "ok")) ? MINE : FOREIGN;
	}
	if (!json_is_integer(jid))
		return FOREIGN;
	if (json_integer_value(jid) == id)
		return MINE;
	/* The late answer of an earlier call that timed out. */
	if (json_integer_value(jid) >= 1 && json_integer_value(jid) < id)
		return SKIP;
	return FOREIGN;
}

/* Keeps the leader a not_leader answer named (NULL: none known), for following. */
static void remember_leader(pool_client *c, const char *leader)
{
	free(c->leader);
	c->leader = leader ? strdup(leader) : NULL;
}

/* Turns an answer envelope into 0 and *result, or -1 and err. */
static int unpack_answer(pool_client *c, const char *op, json_t *msg, json_t **result,
			 pool_error *err)
{
	json_t *ok = json_object_get(msg, "ok");
	json_t *e = json_object_get(msg, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *text = json_string_value(json_object_get(e, "message"));
	pool_code pc;

	if (json_is_true(ok)) {
		json_t *r = json_object_get(msg, "result");

		if (!json_is_object(r)) {
			pool__seterr(err, POOL_E_PROTOCOL,
				     "poold at %s answered %s with ok but no result object",
				     c->where, op);
			return -1;
		}
		if (result)
			*result = json_incref(r);
		return 0;
	}
	if (!json_is_false(ok) || !code) {
		pool__seterr(err, POOL_E_PROTOCOL,
			     "poold at %s answered %s with neither a result nor an error code",
			     c->where, op);
		return -1;
	}
	pc = pool_code_from_name(code);
	if (pc == POOL_E_NOT_LEADER)
		remember_leader(c, json_string_value(json_object_get(e, "leader")));
	if (pc == POOL_OK || pc == POOL_E_UNREACHABLE || pc == POOL_E_PROTOCOL) {
		pool__seterr(err, POOL_E_PROTOCOL,
			     "poold at %s answered %s with unknown error code \"%s\": %s",
			     c->where, op, code, text ? text : "");
		return -1;
	}
	pool__seterr(err, pc, "%s", text ? text : code);
	return -1;
}

/* The request's own wait, which extends the call's deadline. */
static double request_wait(json_t *args)
{
	json_t *w = json_object_get(args, "wait");
	double s = json_is_number(w) ? json_number_value(w) : 0;

	return isfinite(s) && s > 0 ? s : 0;
}

/* The request as one line with its '\n', or NULL when out of memory. */
static char *request_line(long long id, const char *op, json_t *args, size_t *len)
{
	json_t *req = json_pack("{s:I, s:s}", "id", (json_int_t)id, "op", op);
	char *line = NULL;
	char *l;

	if (req && (!args || json_object_update(req, args) == 0))
		line = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!line)
		return NULL;
	*len = strlen(line);
	l = realloc(line, *len + 2);
	if (!l) {
		free(line);
		return NULL;
	}
	l[(*len)++] = '\n';
	l[*len] = '\0';
	return l;
}

int pool_call(pool_client *c, const char *op, json_t *args, json_t **result, pool_error *err)
{
	int went;

	if (c && c->follow)
		return pool__follow_call(c, c->follow, op, args, result, err);
	return pool__call_once(c, op, args, result, &went, err);
}

int pool__call_once(pool_client *c, const char *op, json_t *args, json_t **result, int *went,
		    pool_error *err)
{
	pool_error send_err;
	double deadline;
	long long id;
	size_t len, sent = 0;
	char *line;
	int r;

	*went = 0;
	pool__clearerr(err);
	if (c)
		c->timed_out = 0;
	if (result)
		*result = NULL;
	if (!c || !op || (args && !json_is_object(args))) {
		pool__seterr(err, POOL_E_BAD_REQUEST,
			     "pool_call: needs a client, an op and args that are an object or NULL");
		return -1;
	}
	if (json_object_get(args, "op") || json_object_get(args, "id")) {
		pool__seterr(err, POOL_E_BAD_REQUEST,
			     "pool_call: args may not set \"op\" or \"id\"; pool_call sets them");
		return -1;
	}
	if (c->fd < 0)
		return lost_error(c, err);
	id = c->next_id++;
	line = request_line(id, op, args, &len);
	if (!line) {
		pool__seterr(err, POOL_E_BAD_REQUEST,
			     "libpool: cannot encode the %s request (out of memory?)", op);
		return -1;
	}
	deadline = deadline_after(c, request_wait(args));
	*went = 1; /* from here on, the daemon may have read it */
	r = send_all(c, line, len, deadline, &sent, &send_err);
	free(line);
	if (r == SEND_FAILED) {
		if (err)
			*err = send_err;
		return -1;
	}
	for (;;) {
		json_t *msg;
		int whose;

		if (recv_message(c, deadline, &msg, err) < 0) {
			/* No answer to read after all: why the line did not go is the news. */
			if (r == SEND_PEER_CLOSED && c->fd < 0 && err)
				*err = send_err;
			return -1;
		}
		whose = classify(msg, id);
		if (whose == MINE) {
			r = unpack_answer(c, op, msg, result, err);
			json_decref(msg);
			return r;
		}
		if (whose == FOREIGN) {
			char *s = json_dumps(json_object_get(msg, "id"), JSON_ENCODE_ANY);

			pool__seterr(err, POOL_E_PROTOCOL,
				     "poold at %s sent an answer with id %s while %s request %lld "
				     "was waiting for its own", c->where, s ? s : "(none)", op, id);
			free(s);
			json_decref(msg);
			return -1;
		}
		json_decref(msg);
	}
}
