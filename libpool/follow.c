/*
 * follow.c - a client given several endpoints ("a,b"; docs/ha.md) goes to
 * the leader: on not_leader it connects to the leader that answer names (or,
 * when it names none yet, to the next endpoint after a pause), and on a lost
 * connection it connects again and sends the request again if that cannot
 * do anything twice. Kept apart from client.c, which only moves messages.
 *
 * Bounds: the call's own deadline (pool_set_timeout() plus the request's
 * wait) when it has one; else FOLLOW_WINDOW seconds of looking for a leader
 * in total; FOLLOW_TRIES connections tried; a pause between rounds that
 * doubles from BACKOFF_FIRST to BACKOFF_MAX, so it never spins.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define FOLLOW_WINDOW  30.0 /* seconds spent looking for a leader, per search */
#define FOLLOW_TRIES   64   /* connections tried (or not_leader answers), per search */
#define FOLLOW_SETTLED 5.0  /* a request in flight this long was with a leader:
			     * losing it starts a new search (a new failover) */
#define FOLLOW_QUICK   2    /* not_leader hops to a named leader without a pause */
#define BACKOFF_FIRST  0.05
#define BACKOFF_MAX    1.0

/* Not fmin/fmax: libpool does not link libm. */
static double min_of(double a, double b)
{
	return a < b ? a : b;
}

static double max_of(double a, double b)
{
	return a > b ? a : b;
}

struct pool__follow {
	char **eps; /* owned; the endpoints as given */
	int n;
	int tcp;    /* HOST:PORT endpoints, else socket paths */
	int cur;    /* the endpoint connected to last; -1: a leader not among eps */
};

/* One search for a leader, within one call. */
struct search {
	double deadline;   /* absolute; < 0: none (FOLLOW_WINDOW bounds it) */
	double since;      /* when this search began */
	double pause;      /* the next pause */
	int tries, quick;
	char *hint;        /* owned; the endpoint the last not_leader named */
};

int pool__follow_parse(const char *list, int tcp, pool__follow **out, pool_error *err)
{
	pool__follow *f;
	const char *p = list;

	*out = NULL;
	if (!strchr(list, ','))
		return 0;
	if (!(f = calloc(1, sizeof(*f))))
		goto oom;
	f->tcp = tcp;
	for (;;) {
		size_t len = strcspn(p, ",");
		char **eps;

		if (len == 0) {
			pool__seterr(err, POOL_E_BAD_REQUEST,
				     "\"%s\" has an empty endpoint: separate %s with single commas",
				     list, tcp ? "HOST:PORT addresses" : "socket paths");
			pool__follow_free(f);
			return -1;
		}
		if (!(eps = realloc(f->eps, (f->n + 1) * sizeof(*eps))))
			goto oom;
		f->eps = eps;
		if (!(f->eps[f->n] = strndup(p, len)))
			goto oom;
		f->n++;
		if (!p[len])
			break;
		p += len + 1;
	}
	*out = f;
	return 0;
oom:
	pool__follow_free(f);
	pool__seterr(err, POOL_E_INTERNAL, "libpool: out of memory");
	return -1;
}

void pool__follow_free(pool__follow *f)
{
	if (!f)
		return;
	for (int i = 0; i < f->n; i++)
		free(f->eps[i]);
	free(f->eps);
	free(f);
}

int pool__follow_count(const pool__follow *f)
{
	return f->n;
}

const char *pool__follow_endpoint(const pool__follow *f, int i)
{
	return f->eps[i];
}

int pool__follow_is_tcp(const pool__follow *f)
{
	return f && f->tcp;
}

/* The endpoint a not_leader's leader address names, if this client can dial
 * it: "unix:/path" on a Unix-socket client, "host:port" on a TCP one. Any
 * such address is followed, listed or not: --advertise is the operator's. */
static char *hint_of(const pool__follow *f, const char *leader)
{
	if (!leader || !*leader)
		return NULL;
	if (strncmp(leader, "unix:", 5) == 0)
		return f->tcp ? NULL : strdup(leader + 5);
	return f->tcp ? strdup(leader) : NULL;
}

static int index_of(const pool__follow *f, const char *endpoint)
{
	for (int i = 0; i < f->n; i++)
		if (strcmp(f->eps[i], endpoint) == 0)
			return i;
	return -1;
}

/* Connects to the hinted leader, else to the endpoints in turn after the one
 * used last: 0, or -1 with err from the last one tried. */
static int connect_next(pool_client *c, pool__follow *f, const struct search *s,
			pool_error *err)
{
	double deadline = s->deadline >= 0 ? s->deadline : s->since + FOLLOW_WINDOW;

	if (s->hint && pool__reconnect(c, s->hint, deadline, err) == 0) {
		f->cur = index_of(f, s->hint);
		return 0;
	}
	for (int k = 1; k <= f->n; k++) {
		int i = ((f->cur < 0 ? -1 : f->cur) + k) % f->n;

		if (pool__now() >= deadline)
			return -1;
		if (pool__reconnect(c, f->eps[i], deadline, err) == 0) {
			f->cur = i;
			return 0;
		}
	}
	return -1;
}

/* Ops that may be sent again when their answer was lost: they change
 * nothing, or the same again (renew), or carry a request_id. */
static int resendable(const char *op, json_t *req)
{
	static const char *const safe[] = {
		"ping", "hello", "status", "pool.get", "pool.list", "resource.get",
		"resource.list", "lease.get", "lease.list", "history", "renew", NULL,
	};

	for (int i = 0; safe[i]; i++)
		if (strcmp(op, safe[i]) == 0)
			return 1;
	return (strcmp(op, "lease") == 0 || strcmp(op, "checkout") == 0) &&
	       json_is_string(json_object_get(req, "request_id"));
}

/* The request to send: args, with a request_id of our own on a lease or
 * checkout that has none, so that sending it again cannot grant twice. */
static json_t *prepare(const char *op, json_t *args)
{
	json_t *req = args ? json_copy(args) : json_object();
	unsigned char rnd[8];
	char id[64];

	if (!req || (strcmp(op, "lease") != 0 && strcmp(op, "checkout") != 0) ||
	    json_object_get(req, "request_id"))
		return req;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	snprintf(id, sizeof(id), "libpool-%d-%02x%02x%02x%02x%02x%02x%02x%02x", (int)getpid(),
		 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	json_object_set_new(req, "request_id", json_string(id));
	return req;
}

static double wait_of(json_t *args)
{
	json_t *w = json_object_get(args, "wait");
	double s = json_is_number(w) ? json_number_value(w) : 0;

	return isfinite(s) && s > 0 ? s : 0;
}

__attribute__((format(printf, 2, 3)))
static void append(pool_error *err, const char *fmt, ...)
{
	va_list ap;
	size_t len;

	if (!err)
		return;
	len = strlen(err->message);
	va_start(ap, fmt);
	vsnprintf(err->message + len, sizeof(err->message) - len, fmt, ap);
	va_end(ap);
}

/* Pauses before the next round unless a fresh leader address was just named;
 * 0, or -1 when the search is out of tries or time. */
static int next_round(struct search *s, int named, pool_error *err)
{
	double now = pool__now(), left;
	struct timespec ts;

	if (++s->tries >= FOLLOW_TRIES) {
		append(err, "; gave up looking for the leader after %d tries", s->tries);
		return -1;
	}
	if (named && s->quick++ < FOLLOW_QUICK)
		return 0;
	s->quick = 0;
	left = s->deadline >= 0 ? s->deadline - now : s->since + FOLLOW_WINDOW - now;
	if (left <= 0) {
		if (s->deadline >= 0)
			append(err, "; no leader answered within the timeout (and wait)");
		else
			append(err, "; no leader answered within %g s", FOLLOW_WINDOW);
		return -1;
	}
	left = min_of(left, s->pause);
	s->pause = min_of(s->pause * 2, BACKOFF_MAX);
	ts.tv_sec = (time_t)left;
	ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	return 0;
}

/* What to say when a request that must not be sent twice lost its answer. */
static void lost_unsure(pool_error *err, const char *op, const char *where)
{
	pool__seterr(err, POOL_E_UNREACHABLE,
		     "the connection to poold at %s was lost after \"%s\" was sent, before its "
		     "answer: it may or may not have taken effect, so it was not sent again "
		     "(check, e.g. with lease.get or status, then retry)", where, op);
}

/* One attempt on the current connection (connecting first if there is none),
 * the wait that is left and the deadline's share applied. */
static int attempt(pool_client *c, pool__follow *f, struct search *s, const char *op,
		   json_t *req, double wait, double start, json_t **result, int *went,
		   pool_error *err)
{
	double timeout = pool__timeout(c);
	int r;

	*went = 0;
	if (!pool__connected(c) && connect_next(c, f, s, err) < 0)
		return -1;
	if (wait > 0)
		json_object_set_new(req, "wait",
				    json_real(max_of(wait - (pool__now() - start), POOL_DURATION_MIN)));
	if (s->deadline >= 0)
		pool_set_timeout(c, max_of(s->deadline - pool__now() - wait_of(req),
					 POOL_DURATION_MIN));
	r = pool__call_once(c, op, req, result, went, err);
	pool_set_timeout(c, timeout);
	return r;
}

int pool__follow_call(pool_client *c, pool__follow *f, const char *op, json_t *args,
		      json_t **result, pool_error *errp)
{
	pool_error e, *err = &e; /* the code decides, even when the caller passes no err */
	double start = pool__now(), wait = wait_of(args), sent_at;
	struct search s = { .deadline = -1, .since = start, .pause = BACKOFF_FIRST };
	json_t *req;
	int r, went, named;

	if (!op || (args && !json_is_object(args)))
		return pool__call_once(c, op, args, result, &went, errp);
	if (!(req = prepare(op, args))) {
		pool__seterr(errp, POOL_E_INTERNAL, "libpool: out of memory");
		return -1;
	}
	if (pool__timeout(c) > 0)
		s.deadline = start + pool__timeout(c) + wait;
	for (;;) {
		sent_at = pool__now();
		r = attempt(c, f, &s, op, req, wait, start, result, &went, err);
		if (r == 0)
			break;
		named = 0;
		if (err->code == POOL_E_NOT_LEADER) {
			free(s.hint);
			s.hint = hint_of(f, pool__leader(c));
			named = s.hint && strcmp(s.hint, pool__where(c)) != 0;
			pool__drop(c);
		} else if (err->code != POOL_E_UNREACHABLE || pool__connected(c)) {
			break; /* the daemon's answer, or our timeout: the caller's to see */
		} else if (went && !resendable(op, req)) {
			lost_unsure(err, op, pool__where(c));
			break;
		} else if (went) {
			free(s.hint); /* that leader is gone */
			s.hint = NULL;
			if (pool__now() - sent_at >= FOLLOW_SETTLED) {
				/* it was with a leader: a new failover, a new search */
				s.since = pool__now();
				s.tries = 0;
				s.pause = BACKOFF_FIRST;
			}
		}
		if (next_round(&s, named, err) < 0)
			break;
	}
	free(s.hint);
	json_decref(req);
	if (errp)
		*errp = e;
	return r;
}
