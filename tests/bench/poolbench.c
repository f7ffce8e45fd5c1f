/*
 * poolbench.c - load generator for poold (and, for side-by-side figures, for a
 * Redis that runs the lease/return Lua scripts of scripts/bench-peers.sh).
 *
 * N client connections are spread over a few threads, each thread one epoll
 * loop; every connection runs one cycle after another for T seconds (after a
 * warm-up that is not counted). Requests are hand-written lines on a raw
 * socket and an answer is parsed only as far as the next request needs, so
 * the client stays cheap next to the daemon on a 2-core machine. Latencies go
 * into per-thread log-bucket histograms (16 sub-buckets per power of two, about
 * 6% resolution), merged after the run: nothing is shared on the hot path.
 *
 * Output: a human summary, then one JSON line with the same figures.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum op { OP_LEASE, OP_RETURN, OP_CHECKOUT, OP_REPLACE, OP_CHECKIN, OP_PING,
	  OP_CYCLE, OP_COUNT,
	  OP_PING_B = OP_COUNT /* the second ping of a cycle; counted as ping */ };
static const char *const op_names[OP_COUNT] = {
	"lease", "return", "checkout", "replace", "checkin", "ping", "cycle"
};

enum mode { M_LEASE, M_CHECKOUT, M_PIPELINED, M_PING };
static const char *const mode_names[] = { "lease", "checkout", "pipelined",
					  "ping" };

enum proto { P_POOLD, P_REDIS };

#define NBUCKETS (64 * 16)
#define LEASE_MAX 64       /* longest lease id kept (poold: 32 hex chars) */
#define ERR_KINDS 8        /* distinct error codes remembered per thread */

struct hist {
	uint64_t b[NBUCKETS];
	uint64_t n;
	uint64_t max;      /* exact, in ns */
	uint64_t sum;      /* ns, for the mean */
};

struct errcount {
	char code[32];
	uint64_t n;
};

/* One request in flight, in send order (answers come back in that order). */
struct inflight {
	enum op op;
	uint64_t t0;       /* when it was written */
	uint64_t cycle_t0; /* when its cycle's first request was written */
};

struct conn {
	int fd;
	char *in;                 /* received bytes not yet consumed; owned */
	size_t inlen, incap;
	char *out;                /* bytes to write; owned */
	size_t outoff, outlen, outcap;
	struct inflight *ring;    /* owned; capacity cap */
	unsigned head, count, cap;
	bool want_out;            /* EPOLLOUT registered */
	bool dead;
	char lease[LEASE_MAX + 1];/* checkout mode: the lease being cycled */
	long long version;        /* checkout mode: the resource's version */
	uint64_t cycle_t0;
	uint64_t seq;             /* checkout mode: descriptor counter */
};

struct worker {
	pthread_t th;
	int index;
	int ep;
	struct conn *conns;       /* owned; nconns of them */
	int nconns;
	int active;               /* connections still with work to do */
	struct hist h[OP_COUNT];
	uint64_t cycles;
	uint64_t errors;
	struct errcount errs[ERR_KINDS];
	char first_error[256];
};

struct config {
	const char *socket_path;
	const char *pool;
	enum mode mode;
	enum proto proto;
	int clients;
	int threads;
	int pipeline;
	double seconds;
	double warmup;
	long long resources;
	long long server_pid;
	const char *malloc_count; /* the shim's counter file, or NULL */
	long long idle;           /* idle connections held open during the run */
	long long waiters;        /* connections waiting on an empty pool */
	const char *label;
};

static struct config cfg = {
	.pool = "bench",
	.mode = M_LEASE,
	.proto = P_POOLD,
	.clients = 1,
	.threads = 1,
	.pipeline = 1,
	.seconds = 10,
	.warmup = 1,
	.resources = -1,
	.server_pid = -1,
};

/* Set once before the threads start; read-only afterwards. */
static uint64_t t_start;   /* end of warm-up: figures count from here */
static uint64_t t_end;     /* no new cycle starts after this */
static uint64_t t_giveup;  /* outstanding cycles are abandoned after this */
static char lease_sha[41], return_sha[41]; /* redis: loaded scripts */
static char req_lease[256], req_checkout[256], req_ping[64];
static size_t req_lease_len, req_checkout_len, req_ping_len;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("poolbench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	if (!q)
		die("out of memory");
	return q;
}

/* ---- histogram ---------------------------------------------------------- */

static unsigned bucket_of(uint64_t v)
{
	if (v < 16)
		return (unsigned)v;
	unsigned e = 63u - (unsigned)__builtin_clzll(v);
	return (e - 3) * 16 + (unsigned)((v >> (e - 4)) & 15);
}

static uint64_t bucket_low(unsigned i)
{
	if (i < 16)
		return i;
	unsigned e = i / 16 + 3;
	return (uint64_t)(16 | (i % 16)) << (e - 4);
}

static void hist_add(struct hist *h, uint64_t v)
{
	h->b[bucket_of(v)]++;
	h->n++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

static void hist_merge(struct hist *into, const struct hist *h)
{
	for (unsigned i = 0; i < NBUCKETS; i++)
		into->b[i] += h->b[i];
	into->n += h->n;
	into->sum += h->sum;
	if (h->max > into->max)
		into->max = h->max;
}

/* The value (µs) below which a fraction p of the samples lie: the middle of
 * the bucket that holds the p-th sample, never above the exact maximum. */
static double hist_pct_us(const struct hist *h, double p)
{
	if (h->n == 0)
		return 0;
	uint64_t want = (uint64_t)(p * (double)h->n + 0.999999);
	if (want < 1)
		want = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < NBUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			uint64_t lo = bucket_low(i);
			uint64_t hi = i + 1 < NBUCKETS ? bucket_low(i + 1) : lo;
			uint64_t mid = lo + (hi - lo) / 2;
			if (mid > h->max)
				mid = h->max;
			return (double)mid / 1000.0;
		}
	}
	return (double)h->max / 1000.0;
}

/* ---- sockets ------------------------------------------------------------ */

static int connect_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof sa.sun_path)
		die("socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		die("cannot connect to %s: %s", path, strerror(errno));
	return fd;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			die("write: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

/* A blocking reader for set-up requests: a growable buffer of received
 * bytes, from which whole lines (poold) or replies (redis) are taken. */
struct rbuf {
	int fd;
	char *p;     /* owned */
	size_t len, cap;
};

static void rbuf_fill(struct rbuf *rb)
{
	if (rb->cap - rb->len < 65536) {
		rb->cap = rb->cap ? rb->cap * 2 : 131072;
		rb->p = xrealloc(rb->p, rb->cap);
	}
	ssize_t r;
	do
		r = read(rb->fd, rb->p + rb->len, rb->cap - rb->len - 1);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		die("read: %s", strerror(errno));
	if (r == 0)
		die("the server closed the connection during set-up");
	rb->len += (size_t)r;
}

static void rbuf_consume(struct rbuf *rb, size_t n)
{
	memmove(rb->p, rb->p + n, rb->len - n);
	rb->len -= n;
}

/* Sends one poold request line and returns its answer line in a malloc'd
 * string (no newline); the caller frees it. */
static char *poold_call(struct rbuf *rb, const char *line, size_t len)
{
	write_all(rb->fd, line, len);
	for (;;) {
		char *nl = rb->len ? memchr(rb->p, '\n', rb->len) : NULL;
		if (nl) {
			size_t n = (size_t)(nl - rb->p);
			char *s = xrealloc(NULL, n + 1);
			memcpy(s, rb->p, n);
			s[n] = '\0';
			rbuf_consume(rb, n + 1);
			return s;
		}
		rbuf_fill(rb);
	}
}

/* ---- answer parsing (just enough) ---------------------------------------- */

/* Finds "key" followed by optional blanks and ':' in [p, p+n); returns the
 * first byte of the value after blanks, or NULL. */
static const char *find_key(const char *p, size_t n, const char *key)
{
	char pat[40];
	int pl = snprintf(pat, sizeof pat, "\"%s\"", key);
	const char *end = p + n;
	while (p < end) {
		const char *q = memmem(p, (size_t)(end - p), pat, (size_t)pl);
		if (!q)
			return NULL;
		q += pl;
		while (q < end && (*q == ' ' || *q == '\t'))
			q++;
		if (q < end && *q == ':') {
			q++;
			while (q < end && (*q == ' ' || *q == '\t'))
				q++;
			return q;
		}
		p = q;
	}
	return NULL;
}

static bool poold_ok(const char *line, size_t n)
{
	const char *v = find_key(line, n, "ok");
	return v && (size_t)(line + n - v) >= 4 && memcmp(v, "true", 4) == 0;
}

/* Copies a JSON string value (no escapes expected) into out. */
static bool json_str(const char *v, const char *end, char *out, size_t outsz)
{
	if (!v || v >= end || *v != '"')
		return false;
	v++;
	size_t i = 0;
	while (v < end && *v != '"' && *v != '\\' && i + 1 < outsz)
		out[i++] = *v++;
	out[i] = '\0';
	return v < end && *v == '"' && i > 0;
}

static void poold_error_code(const char *line, size_t n, char *code, size_t sz)
{
	if (!json_str(find_key(line, n, "code"), line + n, code, sz))
		snprintf(code, sz, "unparsed");
}

/* ---- per-connection output -------------------------------------------- */

static void out_append(struct conn *c, const char *p, size_t n)
{
	if (c->outlen + n > c->outcap) {
		if (c->outoff > 0) {
			memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
			c->outlen -= c->outoff;
			c->outoff = 0;
		}
		while (c->outlen + n > c->outcap)
			c->outcap = c->outcap ? c->outcap * 2 : 4096;
		c->out = xrealloc(c->out, c->outcap);
	}
	memcpy(c->out + c->outlen, p, n);
	c->outlen += n;
}

static void ring_push(struct conn *c, enum op op, uint64_t t, uint64_t cycle_t0)
{
	if (c->count == c->cap) {
		/* unreachable: at most --pipeline requests are ever in flight */
		die("internal: too many requests in flight");
	}
	unsigned i = (c->head + c->count) % c->cap;
	c->ring[i] = (struct inflight){ op, t, cycle_t0 };
	c->count++;
}

/* RESP: an array of bulk strings. */
static void resp_cmd(struct conn *c, int argc, const char *const *argv)
{
	char hdr[32];
	int n = snprintf(hdr, sizeof hdr, "*%d\r\n", argc);
	out_append(c, hdr, (size_t)n);
	for (int i = 0; i < argc; i++) {
		size_t l = strlen(argv[i]);
		n = snprintf(hdr, sizeof hdr, "$%zu\r\n", l);
		out_append(c, hdr, (size_t)n);
		out_append(c, argv[i], l);
		out_append(c, "\r\n", 2);
	}
}

static void send_lease(struct conn *c, uint64_t t, uint64_t cycle_t0)
{
	if (cfg.proto == P_REDIS) {
		const char *argv[] = { "EVALSHA", lease_sha, "2", "free", "leases" };
		resp_cmd(c, 5, argv);
	} else {
		out_append(c, req_lease, req_lease_len);
	}
	ring_push(c, OP_LEASE, t, cycle_t0);
}

static void send_return(struct conn *c, const char *lease, uint64_t t, uint64_t cycle_t0)
{
	if (cfg.proto == P_REDIS) {
		const char *argv[] = { "EVALSHA", return_sha, "2", "free", "leases",
				       lease };
		resp_cmd(c, 6, argv);
	} else {
		char buf[160];
		int n = snprintf(buf, sizeof buf, "{\"op\":\"return\",\"lease\":\"%s\"}\n",
				 lease);
		out_append(c, buf, (size_t)n);
	}
	ring_push(c, OP_RETURN, t, cycle_t0);
}

static void send_ping(struct conn *c, uint64_t t, uint64_t cycle_t0, enum op op)
{
	if (cfg.proto == P_REDIS)
		out_append(c, "*1\r\n$4\r\nPING\r\n", 14);
	else
		out_append(c, req_ping, req_ping_len);
	ring_push(c, op, t, cycle_t0);
}

static void send_checkout(struct conn *c, uint64_t t)
{
	out_append(c, req_checkout, req_checkout_len);
	ring_push(c, OP_CHECKOUT, t, t);
	c->cycle_t0 = t;
}

/* Starts a new cycle on c (a lease, a checkout or a ping). */
static void start_cycle(struct conn *c, uint64_t t)
{
	switch (cfg.mode) {
	case M_LEASE:
	case M_PIPELINED:
		send_lease(c, t, t);
		break;
	case M_CHECKOUT:
		send_checkout(c, t);
		break;
	case M_PING:
		send_ping(c, t, t, OP_PING);
		break;
	}
}

static void count_error(struct worker *w, const char *code, const char *line, size_t n)
{
	w->errors++;
	if (!w->first_error[0])
		snprintf(w->first_error, sizeof w->first_error, "%.*s",
			 (int)(n > 200 ? 200 : n), line);
	for (int i = 0; i < ERR_KINDS; i++) {
		if (w->errs[i].n == 0) {
			snprintf(w->errs[i].code, sizeof w->errs[i].code, "%s", code);
			w->errs[i].n = 1;
			return;
		}
		if (strcmp(w->errs[i].code, code) == 0) {
			w->errs[i].n++;
			return;
		}
	}
}

/* One answer arrived at time t for the oldest request in flight: record it
 * and write whatever comes next. ok says whether it succeeded; val is the
 * lease id (lease, checkout) when ok. */
static void on_answer(struct worker *w, struct conn *c, uint64_t t, bool ok,
		      const char *val, const char *line, size_t n)
{
	struct inflight f = c->ring[c->head];
	c->head = (c->head + 1) % c->cap;
	c->count--;
	bool counted = t >= t_start && t <= t_end;
	bool more = t < t_end; /* may a new cycle start? */

	if (counted)
		hist_add(&w->h[f.op == OP_PING_B ? OP_PING : f.op], t - f.t0);
	if (!ok) {
		char code[32];
		if (cfg.proto == P_REDIS)
			snprintf(code, sizeof code, "%s", val ? val : "error");
		else
			poold_error_code(line, n, code, sizeof code);
		if (t >= t_start)
			count_error(w, code, line, n);
		/* A failed lease (exhausted) is tried again; a failed later step
		 * starts a fresh cycle. */
		if (more)
			start_cycle(c, t);
		return;
	}
	switch (f.op) {
	case OP_LEASE:
		/* Even after the end, a granted lease is given back. */
		send_return(c, val, t, f.cycle_t0);
		break;
	case OP_CHECKOUT:
		snprintf(c->lease, sizeof c->lease, "%s", val);
		{
			const char *res = find_key(line, n, "resource");
			const char *v = res ? find_key(res, (size_t)(line + n - res), "version") : NULL;
			c->version = v ? strtoll(v, NULL, 10) : 0;
			char buf[256];
			int k = snprintf(buf, sizeof buf,
					 "{\"op\":\"replace\",\"lease\":\"%s\",\"descriptor\":"
					 "{\"i\":%" PRIu64 "},\"version\":%lld}\n",
					 c->lease, ++c->seq, c->version);
			out_append(c, buf, (size_t)k);
			ring_push(c, OP_REPLACE, t, f.cycle_t0);
		}
		break;
	case OP_REPLACE: {
		char buf[128];
		int k = snprintf(buf, sizeof buf,
				 "{\"op\":\"checkin\",\"lease\":\"%s\"}\n", c->lease);
		out_append(c, buf, (size_t)k);
		ring_push(c, OP_CHECKIN, t, f.cycle_t0);
		break;
	}
	case OP_PING:
		send_ping(c, t, f.cycle_t0, OP_PING_B);
		break;
	case OP_RETURN:
	case OP_CHECKIN:
	case OP_PING_B:
		if (counted) {
			w->cycles++;
			hist_add(&w->h[OP_CYCLE], t - f.cycle_t0);
		}
		if (more)
			start_cycle(c, t);
		break;
	case OP_CYCLE:
		break;
	}
}

/* Parses every complete poold answer line in c->in. */
static void parse_poold(struct worker *w, struct conn *c, uint64_t t)
{
	size_t off = 0;
	while (off < c->inlen) {
		char *p = c->in + off;
		char *nl = memchr(p, '\n', c->inlen - off);
		if (!nl)
			break;
		size_t n = (size_t)(nl - p);
		off += n + 1;
		if (c->count == 0) {
			count_error(w, "unexpected", p, n);
			continue;
		}
		enum op op = c->ring[c->head].op;
		bool ok = poold_ok(p, n);
		char lease[LEASE_MAX + 1] = "";
		if (ok && (op == OP_LEASE || op == OP_CHECKOUT)) {
			const char *res = find_key(p, n, "result");
			if (!res || !json_str(find_key(res, (size_t)(p + n - res), "lease"),
					      p + n, lease, sizeof lease))
				ok = false;
		}
		on_answer(w, c, t, ok, lease, p, n);
	}
	if (off > 0) {
		memmove(c->in, c->in + off, c->inlen - off);
		c->inlen -= off;
	}
}

/* Parses every complete RESP reply in c->in. Replies are: a bulk string (the
 * lease id, or "OK"), a nil bulk (nothing free), an integer, a simple string
 * (PONG) or an error. */
static void parse_redis(struct worker *w, struct conn *c, uint64_t t)
{
	size_t off = 0;
	for (;;) {
		char *p = c->in + off;
		size_t left = c->inlen - off;
		char *crlf = left >= 2 ? memmem(p, left, "\r\n", 2) : NULL;
		if (!crlf)
			break;
		size_t hl = (size_t)(crlf - p);
		size_t used = hl + 2;
		bool ok = true;
		char val[LEASE_MAX + 1] = "";
		if (p[0] == '$') {
			long long bl = strtoll(p + 1, NULL, 10);
			if (bl < 0) {
				ok = false; /* nil: nothing free */
				snprintf(val, sizeof val, "exhausted");
			} else {
				if (left < used + (size_t)bl + 2)
					break;
				size_t k = (size_t)bl < LEASE_MAX ? (size_t)bl : LEASE_MAX;
				memcpy(val, p + used, k);
				val[k] = '\0';
				used += (size_t)bl + 2;
			}
		} else if (p[0] == '-') {
			ok = false;
			snprintf(val, sizeof val, "redis_error");
		} else if (p[0] == '_') {
			ok = false;
			snprintf(val, sizeof val, "exhausted");
		}
		off += used;
		if (c->count == 0) {
			count_error(w, "unexpected", p, hl);
			continue;
		}
		on_answer(w, c, t, ok, val, p, hl);
	}
	if (off > 0) {
		memmove(c->in, c->in + off, c->inlen - off);
		c->inlen -= off;
	}
}

static void conn_kill(struct worker *w, struct conn *c, const char *why)
{
	if (c->dead)
		return;
	if (!w->first_error[0])
		snprintf(w->first_error, sizeof w->first_error, "connection lost: %s", why);
	w->errors++;
	c->dead = true;
	epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
	w->active--;
}

static void conn_flush(struct worker *w, struct conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			conn_kill(w, c, strerror(errno));
			return;
		}
		c->outoff += (size_t)n;
	}
	if (c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	bool want = c->outlen > 0;
	if (want != c->want_out) {
		struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0),
					  .data.ptr = c };
		epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
		c->want_out = want;
	}
}

static void conn_read(struct worker *w, struct conn *c)
{
	if (c->incap - c->inlen < 16384) {
		c->incap = c->incap ? c->incap * 2 : 65536;
		c->in = xrealloc(c->in, c->incap);
	}
	ssize_t n = read(c->fd, c->in + c->inlen, c->incap - c->inlen);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		conn_kill(w, c, n == 0 ? "closed by the server" : strerror(errno));
		return;
	}
	uint64_t t = now_ns();
	c->inlen += (size_t)n;
	if (cfg.proto == P_REDIS)
		parse_redis(w, c, t);
	else
		parse_poold(w, c, t);
	if (c->dead)
		return;
	conn_flush(w, c);
	if (c->count == 0 && t >= t_end && !c->dead) {
		/* finished: nothing in flight and no new cycle may start */
		c->dead = true;
		epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
		w->active--;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[256];
	uint64_t t = now_ns();
	for (int i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];
		for (int k = 0; k < cfg.pipeline; k++)
			start_cycle(c, t);
		conn_flush(w, c);
	}
	while (w->active > 0) {
		int n = epoll_wait(w->ep, evs, 256, 50);
		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c->dead)
				continue;
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				conn_read(w, c);
			if (!c->dead && (evs[i].events & EPOLLOUT))
				conn_flush(w, c);
		}
		if (now_ns() > t_giveup) {
			for (int i = 0; i < w->nconns; i++)
				if (!w->conns[i].dead) {
					w->conns[i].dead = true;
					w->active--;
					count_error(w, "unanswered_at_end", "", 0);
				}
		}
	}
	return NULL;
}

/* ---- set-up ------------------------------------------------------------- */

/* Creates the pool with cfg.resources resources (r0..rN-1, descriptor
 * {"i": n}) if it does not exist. Returns the seconds the import took, or -1
 * if the pool was already there; *total gets its size. */
static double poold_setup(long long *total)
{
	struct rbuf rb = { .fd = connect_unix(cfg.socket_path) };
	char req[512];
	int n = snprintf(req, sizeof req, "{\"op\":\"pool.get\",\"pool\":\"%s\"}\n", cfg.pool);
	char *a = poold_call(&rb, req, (size_t)n);
	double took = -1;
	*total = -1;
	if (poold_ok(a, strlen(a))) {
		const char *v = find_key(a, strlen(a), "total");
		*total = v ? strtoll(v, NULL, 10) : -1;
	} else if (cfg.resources >= 0) {
		free(a);
		uint64_t t0 = now_ns();
		n = snprintf(req, sizeof req, "{\"op\":\"pool.create\",\"pool\":\"%s\","
			     "\"create\":\"none\",\"max_waiters\":1000000}\n", cfg.pool);
		a = poold_call(&rb, req, (size_t)n);
		if (!poold_ok(a, strlen(a)))
			die("pool.create: %s", a);
		char *buf = NULL;
		size_t cap = 0;
		for (long long i = 0; i < cfg.resources; i += 5000) {
			long long end = i + 5000 < cfg.resources ? i + 5000 : cfg.resources;
			size_t len = 0;
			size_t need = 128 + (size_t)(end - i) * 64;
			if (need > cap)
				buf = xrealloc(buf, cap = need);
			len += (size_t)snprintf(buf, cap, "{\"op\":\"resource.add\",\"pool\":"
						"\"%s\",\"resources\":[", cfg.pool);
			for (long long k = i; k < end; k++)
				len += (size_t)snprintf(buf + len, cap - len,
							"%s{\"name\":\"r%lld\",\"descriptor\":"
							"{\"i\":%lld}}", k > i ? "," : "", k, k);
			len += (size_t)snprintf(buf + len, cap - len, "]}\n");
			free(a);
			a = poold_call(&rb, buf, len);
			if (!poold_ok(a, strlen(a)))
				die("resource.add: %s", a);
		}
		free(buf);
		took = (double)(now_ns() - t0) / 1e9;
		*total = cfg.resources;
	} else {
		die("pool \"%s\": %s (give --resources N to create it)", cfg.pool, a);
	}
	free(a);
	free(rb.p);
	close(rb.fd);
	return took;
}

/* Reads one RESP reply for the set-up; returns a malloc'd copy of its
 * payload (bulk) or header line (others). */
static char *redis_call(struct rbuf *rb, int argc, const char *const *argv)
{
	struct conn c = { 0 };
	resp_cmd(&c, argc, argv);
	write_all(rb->fd, c.out, c.outlen);
	free(c.out);
	for (;;) {
		char *crlf = rb->len >= 2 ? memmem(rb->p, rb->len, "\r\n", 2) : NULL;
		if (crlf) {
			size_t hl = (size_t)(crlf - rb->p);
			if (rb->p[0] == '-')
				die("redis: %.*s", (int)hl, rb->p);
			if (rb->p[0] == '$') {
				long long bl = strtoll(rb->p + 1, NULL, 10);
				if (bl >= 0 && rb->len >= hl + 2 + (size_t)bl + 2) {
					char *s = xrealloc(NULL, (size_t)bl + 1);
					memcpy(s, rb->p + hl + 2, (size_t)bl);
					s[bl] = '\0';
					rbuf_consume(rb, hl + 4 + (size_t)bl);
					return s;
				}
				if (bl < 0) {
					rbuf_consume(rb, hl + 2);
					return xrealloc(NULL, 1);
				}
			} else {
				char *s = xrealloc(NULL, hl + 1);
				memcpy(s, rb->p, hl);
				s[hl] = '\0';
				rbuf_consume(rb, hl + 2);
				return s;
			}
		}
		rbuf_fill(rb);
	}
}

/* Redis: a free list "free" (LIFO, like poold's default order) and a hash
 * "leases" from lease id to resource; lease ids come from a counter. */
static const char lua_lease[] =
	"local r = redis.call('RPOP', KEYS[1]) "
	"if not r then return false end "
	"local id = redis.call('INCR', 'lease_seq') "
	"redis.call('HSET', KEYS[2], id, r) "
	"return tostring(id)";
static const char lua_return[] =
	"local r = redis.call('HGET', KEYS[2], ARGV[1]) "
	"if not r then return redis.error_reply('not_found') end "
	"redis.call('HDEL', KEYS[2], ARGV[1]) "
	"redis.call('RPUSH', KEYS[1], r) "
	"return 1";
static const char lua_fill[] =
	"redis.call('DEL', KEYS[1], KEYS[2]) "
	"for i = 0, tonumber(ARGV[1]) - 1 do redis.call('RPUSH', KEYS[1], 'r' .. i) end "
	"return redis.call('LLEN', KEYS[1])";

static double redis_setup(long long *total)
{
	struct rbuf rb = { .fd = connect_unix(cfg.socket_path) };
	const char *l1[] = { "SCRIPT", "LOAD", lua_lease };
	char *s = redis_call(&rb, 3, l1);
	snprintf(lease_sha, sizeof lease_sha, "%s", s);
	free(s);
	const char *l2[] = { "SCRIPT", "LOAD", lua_return };
	s = redis_call(&rb, 3, l2);
	snprintf(return_sha, sizeof return_sha, "%s", s);
	free(s);
	double took = -1;
	if (cfg.resources >= 0) {
		char nbuf[32];
		snprintf(nbuf, sizeof nbuf, "%lld", cfg.resources);
		const char *f[] = { "EVAL", lua_fill, "2", "free", "leases", nbuf };
		uint64_t t0 = now_ns();
		free(redis_call(&rb, 6, f));
		took = (double)(now_ns() - t0) / 1e9;
	}
	const char *ll[] = { "LLEN", "free" };
	s = redis_call(&rb, 2, ll);
	*total = s[0] == ':' ? strtoll(s + 1, NULL, 10) : -1;
	free(s);
	free(rb.p);
	close(rb.fd);
	return took;
}

/* ---- the server's CPU and memory --------------------------------------- */

/* The malloc_count shim's counter (see malloc_count.c), or -1. */
static long long malloc_count(const char *path)
{
	uint64_t n;
	int fd;

	if (!path || (fd = open(path, O_RDONLY)) < 0)
		return -1;
	if (pread(fd, &n, sizeof n, 0) != (ssize_t)sizeof n)
		n = (uint64_t)-1;
	close(fd);
	return (long long)n;
}

struct procsample {
	bool ok;
	unsigned long long ticks; /* utime + stime */
	long long vmhwm_kb, vmrss_kb;
};

static struct procsample proc_sample(long long pid)
{
	struct procsample s = { 0 };
	if (pid <= 0)
		return s;
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%lld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return s;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command (which may hold spaces): skip to the last
	 * ')', then state is field 3; utime and stime are fields 14 and 15. */
	char *p = strrchr(buf, ')');
	if (!p)
		return s;
	p++;
	unsigned long long ut = 0, st = 0;
	for (int field = 3; field <= 15 && p; field++) {
		p = strchr(p, ' ');
		if (!p)
			break;
		p++;
		if (field == 14)
			ut = strtoull(p, NULL, 10);
		if (field == 15)
			st = strtoull(p, NULL, 10);
	}
	s.ticks = ut + st;
	snprintf(path, sizeof path, "/proc/%lld/status", pid);
	f = fopen(path, "r");
	if (!f)
		return s;
	char line[256];
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "VmHWM:", 6) == 0)
			s.vmhwm_kb = strtoll(line + 6, NULL, 10);
		else if (strncmp(line, "VmRSS:", 6) == 0)
			s.vmrss_kb = strtoll(line + 6, NULL, 10);
	}
	fclose(f);
	s.ok = true;
	return s;
}

static double cpu_seconds_self(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- idle connections and waiters (the 10,000-connection target) -------- */

static int *open_extra(long long *nopen)
{
	long long want = cfg.idle + cfg.waiters;
	*nopen = 0;
	if (want == 0)
		return NULL;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	int *fds = xrealloc(NULL, sizeof *fds * (size_t)want);
	char wpool[160];
	snprintf(wpool, sizeof wpool, "%s-wait", cfg.pool);
	if (cfg.waiters > 0) {
		struct rbuf rb = { .fd = connect_unix(cfg.socket_path) };
		char req[256];
		int n = snprintf(req, sizeof req, "{\"op\":\"pool.create\",\"pool\":\"%s\","
				 "\"create\":\"none\",\"max_waiters\":1000000}\n", wpool);
		free(poold_call(&rb, req, (size_t)n)); /* "exists" is fine */
		free(rb.p);
		close(rb.fd);
	}
	char req[256];
	int rl2 = snprintf(req, sizeof req, "{\"op\":\"lease\",\"pool\":\"%s\","
			   "\"wait\":3600}\n", wpool);
	for (long long i = 0; i < want; i++) {
		fds[i] = connect_unix(cfg.socket_path);
		(*nopen)++;
		if (i >= cfg.idle)
			write_all(fds[i], req, (size_t)rl2);
	}
	return fds;
}

/* ---- main ---------------------------------------------------------------- */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: poolbench --socket PATH [OPTIONS]\n\n"
		"Runs lease cycles against a running poold (or, with --redis, a Redis\n"
		"set up by poolbench with the Lua scripts of scripts/bench-peers.sh).\n\n"
		"  --socket PATH      Unix socket of the server (required)\n"
		"  --mode MODE        lease (lease+return), checkout (checkout+replace+\n"
		"                     checkin), pipelined (lease+return, --pipeline in\n"
		"                     flight per client), ping (two pings per cycle)\n"
		"  --clients N        client connections (default 1)\n"
		"  --threads N        client threads sharing them (default 1)\n"
		"  --pipeline K       requests in flight per client, mode pipelined\n"
		"  --seconds T        measured time (default 10)\n"
		"  --warmup S         time before the measurement starts (default 1)\n"
		"  --pool NAME        pool to use (default bench)\n"
		"  --resources N      create the pool with N resources r0..rN-1 if it\n"
		"                     does not exist (resource.add in batches of 5000)\n"
		"  --poold-pid PID    server process whose CPU and RSS to report\n"
		"                     (also --server-pid)\n"
		"  --malloc-count F   the server runs with tests/bench's malloc_count\n"
		"                     shim counting into file F: report its\n"
		"                     allocations per cycle\n"
		"  --idle N           hold N idle connections open during the run\n"
		"  --waiters N        hold N connections waiting on the empty pool\n"
		"                     NAME-wait during the run\n"
		"  --redis            the server is Redis (modes lease, pipelined, ping)\n"
		"  --label TEXT       a label copied into the JSON line\n");
}

static double parse_num(const char *opt, const char *s, double lo, double hi)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v < lo || v > hi)
		die("--%s wants a number from %g to %g, not \"%s\"", opt, lo, hi, s);
	return v;
}

static void parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "clients", required_argument, NULL, 'c' },
		{ "threads", required_argument, NULL, 'j' },
		{ "seconds", required_argument, NULL, 'T' },
		{ "warmup", required_argument, NULL, 'W' },
		{ "mode", required_argument, NULL, 'm' },
		{ "pool", required_argument, NULL, 'p' },
		{ "resources", required_argument, NULL, 'r' },
		{ "pipeline", required_argument, NULL, 'k' },
		{ "poold-pid", required_argument, NULL, 'P' },
		{ "malloc-count", required_argument, NULL, 'M' },
		{ "server-pid", required_argument, NULL, 'P' },
		{ "idle", required_argument, NULL, 'I' },
		{ "waiters", required_argument, NULL, 'w' },
		{ "redis", no_argument, NULL, 'R' },
		{ "label", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	bool pipeline_given = false;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 's': cfg.socket_path = optarg; break;
		case 'c': cfg.clients = (int)parse_num("clients", optarg, 1, 100000); break;
		case 'j': cfg.threads = (int)parse_num("threads", optarg, 1, 256); break;
		case 'T': cfg.seconds = parse_num("seconds", optarg, 0.1, 3600); break;
		case 'W': cfg.warmup = parse_num("warmup", optarg, 0, 600); break;
		case 'p': cfg.pool = optarg; break;
		case 'r': cfg.resources = (long long)parse_num("resources", optarg, 0, 1e9); break;
		case 'k':
			cfg.pipeline = (int)parse_num("pipeline", optarg, 1, 100000);
			pipeline_given = true;
			break;
		case 'M': cfg.malloc_count = optarg; break;
		case 'P': cfg.server_pid = (long long)parse_num("poold-pid", optarg, 1, INT_MAX); break;
		case 'I': cfg.idle = (long long)parse_num("idle", optarg, 0, 1e6); break;
		case 'w': cfg.waiters = (long long)parse_num("waiters", optarg, 0, 1e6); break;
		case 'R': cfg.proto = P_REDIS; break;
		case 'L': cfg.label = optarg; break;
		case 'm': {
			size_t i;
			for (i = 0; i < sizeof mode_names / sizeof *mode_names; i++)
				if (strcmp(optarg, mode_names[i]) == 0)
					break;
			if (i == sizeof mode_names / sizeof *mode_names)
				die("--mode wants lease, checkout, pipelined or ping, not \"%s\"", optarg);
			cfg.mode = (enum mode)i;
			break;
		}
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc)
		die("unexpected argument \"%s\"; try --help", argv[optind]);
	if (!cfg.socket_path)
		die("--socket PATH is required; try --help");
	if (cfg.mode != M_PIPELINED) {
		if (pipeline_given && cfg.pipeline != 1)
			die("--pipeline goes with --mode pipelined");
		cfg.pipeline = 1;
	} else if (!pipeline_given) {
		cfg.pipeline = 16;
	}
	if (cfg.proto == P_REDIS && cfg.mode == M_CHECKOUT)
		die("--redis does not do --mode checkout");
	if (cfg.proto == P_REDIS && (cfg.idle || cfg.waiters))
		die("--idle and --waiters are for poold");
	if (cfg.threads > cfg.clients)
		cfg.threads = cfg.clients;
	if (strlen(cfg.pool) > 64 || strpbrk(cfg.pool, "\"\\"))
		die("--pool: a pool name (1-64 chars of [A-Za-z0-9._-])");
}

static void print_json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);

	long long total = -1;
	double import_s = -1;
	if (cfg.proto == P_REDIS)
		import_s = redis_setup(&total); /* also loads the scripts */
	else if (cfg.mode != M_PING || cfg.resources >= 0)
		import_s = poold_setup(&total);
	if (import_s >= 0)
		printf("imported %lld resources in %.2f s\n", total, import_s);
	long long need = (long long)cfg.clients * (cfg.mode == M_PIPELINED ? cfg.pipeline : 1);
	if (cfg.mode != M_PING && total >= 0 && total < need)
		fprintf(stderr, "poolbench: warning: %lld resources for %lld leases in "
			"flight; expect exhausted errors\n", total, need);

	req_lease_len = (size_t)snprintf(req_lease, sizeof req_lease,
					 "{\"op\":\"lease\",\"pool\":\"%s\"}\n", cfg.pool);
	req_checkout_len = (size_t)snprintf(req_checkout, sizeof req_checkout,
					    "{\"op\":\"checkout\",\"pool\":\"%s\"}\n", cfg.pool);
	req_ping_len = (size_t)snprintf(req_ping, sizeof req_ping, "{\"op\":\"ping\"}\n");

	long long nextra = 0;
	int *extra = open_extra(&nextra);

	struct worker *ws = xrealloc(NULL, sizeof *ws * (size_t)cfg.threads);
	memset(ws, 0, sizeof *ws * (size_t)cfg.threads);
	for (int i = 0; i < cfg.threads; i++) {
		struct worker *w = &ws[i];
		w->index = i;
		w->nconns = cfg.clients / cfg.threads + (i < cfg.clients % cfg.threads);
		w->active = w->nconns;
		w->conns = xrealloc(NULL, sizeof *w->conns * (size_t)w->nconns);
		memset(w->conns, 0, sizeof *w->conns * (size_t)w->nconns);
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		if (w->ep < 0)
			die("epoll_create1: %s", strerror(errno));
		for (int k = 0; k < w->nconns; k++) {
			struct conn *c = &w->conns[k];
			c->fd = connect_unix(cfg.socket_path);
			fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
			c->cap = (unsigned)cfg.pipeline;
			c->ring = xrealloc(NULL, sizeof *c->ring * c->cap);
			struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
			if (epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
				die("epoll_ctl: %s", strerror(errno));
		}
	}

	uint64_t t0 = now_ns();
	t_start = t0 + (uint64_t)(cfg.warmup * 1e9);
	t_end = t_start + (uint64_t)(cfg.seconds * 1e9);
	t_giveup = t_end + 5000000000u;

	/* The server's CPU is sampled over the measured window only. */
	for (int i = 0; i < cfg.threads; i++)
		if (pthread_create(&ws[i].th, NULL, worker_main, &ws[i]) != 0)
			die("pthread_create failed");
	struct timespec ts = { .tv_sec = (time_t)(cfg.warmup),
			       .tv_nsec = (long)((cfg.warmup - (double)(time_t)cfg.warmup) * 1e9) };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	long long mallocs0 = malloc_count(cfg.malloc_count);
	struct procsample before = proc_sample(cfg.server_pid);
	double self0 = cpu_seconds_self();
	uint64_t m0 = now_ns();
	ts = (struct timespec){ .tv_sec = (time_t)cfg.seconds,
				.tv_nsec = (long)((cfg.seconds - (double)(time_t)cfg.seconds) * 1e9) };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	struct procsample after = proc_sample(cfg.server_pid);
	long long mallocs1 = malloc_count(cfg.malloc_count);
	double self1 = cpu_seconds_self();
	double wall = (double)(now_ns() - m0) / 1e9;
	for (int i = 0; i < cfg.threads; i++)
		pthread_join(ws[i].th, NULL);

	struct hist *h = xrealloc(NULL, sizeof *h * OP_COUNT);
	memset(h, 0, sizeof *h * OP_COUNT);
	uint64_t cycles = 0, errors = 0;
	struct errcount errs[ERR_KINDS * 4];
	int nerrs = 0;
	const char *first_error = NULL;
	for (int i = 0; i < cfg.threads; i++) {
		struct worker *w = &ws[i];
		for (int k = 0; k < OP_COUNT; k++)
			hist_merge(&h[k], &w->h[k]);
		cycles += w->cycles;
		errors += w->errors;
		if (!first_error && w->first_error[0])
			first_error = w->first_error;
		for (int e = 0; e < ERR_KINDS && w->errs[e].n; e++) {
			int j;
			for (j = 0; j < nerrs; j++)
				if (strcmp(errs[j].code, w->errs[e].code) == 0)
					break;
			if (j == nerrs) {
				if (nerrs == ERR_KINDS * 4)
					continue;
				errs[nerrs++] = w->errs[e];
			} else {
				errs[j].n += w->errs[e].n;
			}
		}
	}
	double rate = (double)cycles / cfg.seconds;
	long clk = sysconf(_SC_CLK_TCK);
	double server_cpu = before.ok && after.ok
		? (double)(after.ticks - before.ticks) / (double)clk / wall * 100.0 : -1;
	double client_cpu = (self1 - self0) / wall * 100.0;
	double mallocs = mallocs0 >= 0 && mallocs1 >= 0 && cycles > 0
		? (double)(mallocs1 - mallocs0) / (double)cycles : -1;

	printf("%s %s: %d clients%s, %.1f s, %lld resources%s\n",
	       cfg.proto == P_REDIS ? "redis" : "poold", mode_names[cfg.mode],
	       cfg.clients, cfg.mode == M_PIPELINED ? " (pipelined)" : "",
	       cfg.seconds, total, nextra ? " (+ idle/waiting connections)" : "");
	if (cfg.mode == M_PIPELINED)
		printf("  pipeline depth %d per client\n", cfg.pipeline);
	printf("  cycles/s %.0f  (%" PRIu64 " cycles, %" PRIu64 " errors)\n",
	       rate, cycles, errors);
	printf("  %-9s %10s %9s %9s %9s %9s\n", "op", "count", "mean_us", "p50_us",
	       "p99_us", "max_us");
	for (int k = 0; k < OP_COUNT; k++) {
		if (h[k].n == 0)
			continue;
		printf("  %-9s %10" PRIu64 " %9.1f %9.1f %9.1f %9.1f\n", op_names[k], h[k].n,
		       (double)h[k].sum / (double)h[k].n / 1000.0, hist_pct_us(&h[k], 0.50),
		       hist_pct_us(&h[k], 0.99), (double)h[k].max / 1000.0);
	}
	if (server_cpu >= 0)
		printf("  server pid %lld: CPU %.0f%%, peak RSS (VmHWM) %lld kB, RSS %lld -> %lld kB\n",
		       cfg.server_pid, server_cpu, after.vmhwm_kb, before.vmrss_kb,
		       after.vmrss_kb);
	if (mallocs >= 0)
		printf("  server allocations per cycle %.2f\n", mallocs);
	printf("  poolbench CPU %.0f%% (%d thread%s)\n", client_cpu, cfg.threads,
	       cfg.threads == 1 ? "" : "s");
	for (int j = 0; j < nerrs; j++)
		printf("  error %s: %" PRIu64 "\n", errs[j].code, errs[j].n);
	if (first_error)
		printf("  first error: %s\n", first_error);

	printf("{\"tool\":\"poolbench\",\"label\":");
	print_json_str(cfg.label ? cfg.label : "");
	printf(",\"server\":\"%s\",\"mode\":\"%s\",\"clients\":%d,\"threads\":%d,"
	       "\"pipeline\":%d,\"seconds\":%.3f,\"resources\":%lld,\"idle\":%lld,"
	       "\"waiters\":%lld,\"import_s\":%.3f,\"cycles\":%" PRIu64
	       ",\"cycles_per_s\":%.1f,\"errors\":%" PRIu64 ",\"ops\":{",
	       cfg.proto == P_REDIS ? "redis" : "poold", mode_names[cfg.mode], cfg.clients,
	       cfg.threads, cfg.pipeline, cfg.seconds, total, cfg.idle, cfg.waiters,
	       import_s, cycles, rate, errors);
	bool first = true;
	for (int k = 0; k < OP_COUNT; k++) {
		if (h[k].n == 0)
			continue;
		printf("%s\"%s\":{\"count\":%" PRIu64 ",\"mean_us\":%.1f,\"p50_us\":%.1f,"
		       "\"p99_us\":%.1f,\"max_us\":%.1f}", first ? "" : ",", op_names[k],
		       h[k].n, (double)h[k].sum / (double)h[k].n / 1000.0,
		       hist_pct_us(&h[k], 0.50), hist_pct_us(&h[k], 0.99),
		       (double)h[k].max / 1000.0);
		first = false;
	}
	if (mallocs >= 0)
		printf("},\"server_mallocs_per_cycle\":%.2f", mallocs);
	else
		printf("}");
	printf(",\"server_cpu_pct\":%.1f,\"server_vmhwm_kb\":%lld,\"server_vmrss_kb\":%lld,"
	       "\"client_cpu_pct\":%.1f,\"error_codes\":{",
	       server_cpu, after.vmhwm_kb, after.vmrss_kb, client_cpu);
	for (int j = 0; j < nerrs; j++) {
		printf("%s", j ? "," : "");
		print_json_str(errs[j].code);
		printf(":%" PRIu64, errs[j].n);
	}
	printf("}}\n");

	for (int i = 0; i < cfg.threads; i++) {
		struct worker *w = &ws[i];
		for (int k = 0; k < w->nconns; k++) {
			close(w->conns[k].fd);
			free(w->conns[k].in);
			free(w->conns[k].out);
			free(w->conns[k].ring);
		}
		free(w->conns);
		close(w->ep);
	}
	for (long long i = 0; i < nextra; i++)
		close(extra[i]);
	free(extra);
	free(ws);
	free(h);
	return cycles > 0 ? 0 : 1;
}
