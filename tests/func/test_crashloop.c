/*
 * test_crashloop.c - crash loop: CLIENTS forked clients run lease / checkout /
 * replace / return cycles against a real poold while the parent kills it with
 * SIGKILL at random moments (POOL_CRASHLOOP_KILLS times, default 50) and
 * starts it again. Each client logs every acknowledged answer (and every
 * attempt whose outcome matters) to its own file and reconnects after a
 * loss, retrying leases with the same request_id. Afterwards a checker
 * proves from the logs, from the daemon (after one more kill -9 and restart)
 * and from its database (read-only, after a clean stop):
 *  - no resource had two live leases: for leases of one resource in token
 *    (= grant) order, none was acknowledged while an earlier one was
 *    certainly still live (before its return was sent and before its
 *    expires_at);
 *  - no acknowledged lease was lost: replace/return on it answer not_found
 *    or expired only after its return was sent or after its expires_at, and
 *    the final leases (no TTL) are all live after the last restart;
 *  - every acknowledged return is there: no returned lease is live at the end;
 *  - every acknowledged replace is there: per resource, in token order,
 *    versions strictly increase (the next lease sees at least the last
 *    acknowledged version + 2: one for the end of the lease, one for the
 *    grant), and the final descriptor is the last acknowledged replace or
 *    one sent after it;
 *  - fencing tokens never repeat, and in each pool a lease requested after
 *    another was acknowledged has a larger token;
 *  - the database passes PRAGMA integrity_check and holds at most one live
 *    lease per resource, each on a leased resource, none of them returned
 *    (on PostgreSQL, with POOL_TEST_STORE, the same but the integrity check).
 * It prints its counts. scripts/crashloop.sh runs the long form;
 * test_failover_loop runs the same clients and checks against two front
 * ends on one PostgreSQL store (POOL_TEST_STORE), killing whichever leads
 * (POOL_FAILOVER_KILLS times, default 6) and bringing it back as a standby;
 * the clients turn to the other front end on a lost connection or a
 * not_leader answer, and the epochs must rise at every takeover.
 * POOL_CRASHLOOP_KILLS, POOL_CRASHLOOP_SEED and POOL_CRASHLOOP_SYNC (passed
 * to poold --sync) change the run.
 */
#include "../h_pgstore.h"
#include "harness.h"
#include "h_sqlite.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CLIENTS 4
#define NPOOLS 2
#define RES_PER_POOL 4
#define TTL 2.0          /* seconds: a lease whose answer was lost ends soon */
#define SHORT_TTL 0.3    /* the cycles that let a lease expire */
#define SLACK 0.005      /* expires_at is written with milliseconds */
#define MAX_LEASES 200000

static const char *const pools[NPOOLS] = { "cp0", "cp1" };
static pid_t client_pid[CLIENTS]; /* running clients; the teardown kills them */

/* ---- the clients (forked; no cmocka here) ---------------------------------- */

struct client {
	int k;                 /* client number */
	const char *sock;
	const char *sock2;     /* the other front end, or NULL */
	const char *stopfile;  /* exists: finish the cycle, take a final lease, exit */
	FILE *log;
	pool_client *c;
	unsigned seed;
	long seq;              /* request ids and descriptor nonces */
	long losses;           /* connections lost */
	double give_up;        /* wall time after which a client stops retrying */
};

static double frand(struct client *cl)
{
	return (double)rand_r(&cl->seed) / ((double)RAND_MAX + 1.0);
}

static bool stop_asked(const struct client *cl)
{
	return access(cl->stopfile, F_OK) == 0;
}

/* With two front ends: try the other one (the leader may have moved). */
static void cl_switch(struct client *cl)
{
	const char *s = cl->sock;

	if (cl->sock2) {
		cl->sock = cl->sock2;
		cl->sock2 = s;
	}
}

static void cl_connect(struct client *cl)
{
	pool_error err;

	for (;;) {
		cl->c = pool_connect(cl->sock, &err);
		if (cl->c) {
			pool_set_timeout(cl->c, 10.0);
			return;
		}
		cl_switch(cl);
		if (h_wall() > cl->give_up) {
			fprintf(stderr, "client %d: cannot connect: %s\n", cl->k, err.message);
			_exit(3);
		}
		h_sleep(0.005);
	}
}

/* A call that survives the daemon's death: on a lost connection (or a
 * timeout, or an answer cut short) reconnect and send the same request again.
 * Returns the daemon's answer code; *res is the result on POOL_OK. */
static pool_code cl_call(struct client *cl, const char *op, json_t *args, json_t **res)
{
	pool_error err;

	for (;;) {
		if (pool_call(cl->c, op, args, res, &err) == 0)
			return POOL_OK;
		switch (err.code) {
		case POOL_E_UNREACHABLE:
		case POOL_E_TIMEOUT:
		case POOL_E_PROTOCOL:
		case POOL_E_NOT_LEADER: /* a standby: this client switches itself */
		case POOL_E_INTERNAL: /* e.g. shutting down: the outcome is unknown */
			pool_close(cl->c);
			cl->c = NULL;
			cl->losses++;
			cl_switch(cl);
			if (h_wall() > cl->give_up) {
				fprintf(stderr, "client %d: %s keeps failing: %s\n", cl->k, op,
					err.message);
				_exit(3);
			}
			cl_connect(cl);
			continue;
		default:
			return err.code;
		}
	}
}

static void logf_(struct client *cl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct client *cl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(cl->log, fmt, ap);
	va_end(ap);
	fflush(cl->log);
}

/* Takes a lease (pop or checkout of one name) and logs it if granted.
 * Returns the granted lease (new ref) or NULL. */
static json_t *cl_take(struct client *cl, int pool, bool checkout, double ttl, bool final)
{
	char rid[64], name[32];
	json_t *args, *res = NULL;
	double t_send, t_ack, exp;
	pool_code code;
	const char *exps;

	snprintf(rid, sizeof rid, "c%d-%ld", cl->k, ++cl->seq);
	args = json_pack("{s:s, s:f, s:s, s:s}", "pool", pools[pool], "ttl", ttl, "request_id",
			 rid, "owner", final ? "final" : "crashloop");
	if (final)
		json_object_set_new(args, "wait", json_real(20.0));
	if (checkout) {
		snprintf(name, sizeof name, "%s-r%d", pools[pool], (int)(frand(cl) * RES_PER_POOL));
		json_object_set_new(args, "name", json_string(name));
	}
	t_send = h_wall();
	code = cl_call(cl, checkout ? "checkout" : "lease", args, &res);
	t_ack = h_wall();
	json_decref(args);
	if (code != POOL_OK) {
		CHILD_CHECK(code == POOL_E_EXHAUSTED);
		return NULL;
	}
	exps = json_string_value(json_object_get(res, "expires_at"));
	exp = exps ? h_parse_time(exps) : 0;
	CHILD_CHECK(!exps || exp > 0);
	logf_(cl, "LEASE %s %d %s %lld %lld %.6f %.6f %.6f %d\n",
	      json_string_value(json_object_get(res, "lease")), pool,
	      json_string_value(json_object_get(json_object_get(res, "resource"), "name")),
	      (long long)json_integer_value(json_object_get(res, "token")),
	      (long long)json_integer_value(
		      json_object_get(json_object_get(res, "resource"), "version")),
	      exp, t_send, t_ack, final ? 1 : 0);
	return res;
}

/* An op on a held lease answered not_found or expired: log it (the checker
 * decides whether that was allowed). */
static void cl_gone(struct client *cl, const char *id, pool_code code)
{
	CHILD_CHECK(code == POOL_E_NOT_FOUND || code == POOL_E_EXPIRED);
	logf_(cl, "GONE %s %s %.6f\n", id, pool_code_name(code), h_wall());
}

/* One cycle: take, maybe replace, maybe let expire, return. */
static void cl_cycle(struct client *cl)
{
	bool let_expire = frand(cl) < 0.08;
	int pool = (int)(frand(cl) * NPOOLS);
	json_t *l = cl_take(cl, pool, frand(cl) < 0.5, let_expire ? SHORT_TTL : TTL, false);
	const char *id;
	long long version;
	int nrepl;
	pool_code code;

	if (!l) {
		h_sleep(0.001 + frand(cl) * 0.004);
		return;
	}
	id = json_string_value(json_object_get(l, "lease"));
	version = json_integer_value(json_object_get(json_object_get(l, "resource"), "version"));
	nrepl = (int)(frand(cl) * 3);
	for (int i = 0; i < nrepl; i++) {
		long nonce = ++cl->seq;
		json_t *args = json_pack("{s:s, s:{s:i, s:I}, s:I}", "lease", id, "descriptor", "c",
					 cl->k, "s", (json_int_t)nonce, "version",
					 (json_int_t)version);
		json_t *res = NULL;
		double t_send = h_wall();

		logf_(cl, "REPLACE_SENT %s %ld %.6f\n", id, nonce, t_send);
		code = cl_call(cl, "replace", args, &res);
		json_decref(args);
		if (code == POOL_OK) {
			version = json_integer_value(json_object_get(res, "version"));
			logf_(cl, "REPLACE %s %ld %lld %.6f\n", id, nonce, version, h_wall());
			json_decref(res);
		} else if (code == POOL_E_CONFLICT) {
			/* A resend after a lost answer whose first try committed. */
			logf_(cl, "REPLACE_CONFLICT %s %ld %.6f\n", id, nonce, h_wall());
			break;
		} else {
			cl_gone(cl, id, code);
			json_decref(l);
			return;
		}
	}
	h_sleep(frand(cl) * 0.01);
	if (let_expire)
		h_sleep(SHORT_TTL + 0.05);
	logf_(cl, "RETURN_SENT %s %.6f\n", id, h_wall());
	code = cl_call(cl, "return", json_pack("{s:s}", "lease", id), NULL);
	if (code == POOL_OK)
		logf_(cl, "RETURN %s %.6f\n", id, h_wall());
	else
		cl_gone(cl, id, code);
	json_decref(l);
}

static void client_main(struct client *cl)
{
	long cycles = 0;
	json_t *final;

	cl_connect(cl);
	while (!stop_asked(cl)) {
		cl_cycle(cl);
		cycles++;
	}
	/* The final lease has no TTL: it must be live after the last restart. */
	final = cl_take(cl, cl->k % NPOOLS, false, 0, true);
	CHILD_CHECK(final != NULL);
	json_decref(final);
	logf_(cl, "END %ld %ld\n", cycles, cl->losses);
	pool_close(cl->c);
	fclose(cl->log);
	_exit(0);
}

/* ---- the logs, read back -------------------------------------------------- */

struct lrec {
	char id[40];
	int pool;
	char res[64];
	long long token, version; /* as granted */
	long long last_version;   /* after the last acknowledged replace */
	long last_nonce;          /* of that replace; 0: none */
	double exp;               /* expires_at; 0: no TTL */
	double t_send, t_ack;
	double ret_sent;          /* first return sent; INFINITY: never */
	bool returned;            /* the return was acknowledged */
	double gone_t;            /* not_found/expired answered at; 0: never */
	char gone_code[16];
	bool final;
	int client;
	long *sent;               /* nonces of replaces sent, in order */
	size_t nsent;
};

struct logs {
	struct lrec *l;
	size_t n;
	long cycles, losses, replaces_acked, returns_acked, gone_expired, gone_after_return;
	long replace_conflicts;
};

static struct lrec *find_lease(struct logs *lg, const char *id)
{
	/* The logs are read in order and the lease is almost always recent. */
	for (size_t i = lg->n; i-- > 0;)
		if (strcmp(lg->l[i].id, id) == 0)
			return &lg->l[i];
	return NULL;
}

static void read_log(struct logs *lg, const char *path, int client)
{
	FILE *f = fopen(path, "r");
	char line[512], id[64], w[32];

	assert_non_null(f);
	while (fgets(line, sizeof line, f)) {
		struct lrec *r;
		long nonce;
		long long v;
		double t;

		if (sscanf(line, "%31s", w) != 1)
			continue;
		if (strcmp(w, "LEASE") == 0) {
			int fin;

			assert_true(lg->n < MAX_LEASES);
			r = &lg->l[lg->n];
			memset(r, 0, sizeof *r);
			assert_int_equal(sscanf(line, "LEASE %39s %d %63s %lld %lld %lf %lf %lf %d",
						r->id, &r->pool, r->res, &r->token, &r->version,
						&r->exp, &r->t_send, &r->t_ack, &fin),
					 9);
			if (find_lease(lg, r->id))
				fail_msg("lease %s was acknowledged twice (log %s)", r->id, path);
			r->last_version = r->version;
			r->ret_sent = INFINITY;
			r->final = fin != 0;
			r->client = client;
			lg->n++;
			continue;
		}
		if (strcmp(w, "END") == 0) {
			long cyc, loss;

			assert_int_equal(sscanf(line, "END %ld %ld", &cyc, &loss), 2);
			lg->cycles += cyc;
			lg->losses += loss;
			continue;
		}
		assert_int_equal(sscanf(line, "%*s %63s", id), 1);
		r = find_lease(lg, id);
		if (!r)
			fail_msg("%s: %s names a lease never acknowledged", path, line);
		if (strcmp(w, "REPLACE_SENT") == 0) {
			assert_int_equal(sscanf(line, "%*s %*s %ld", &nonce), 1);
			r->sent = realloc(r->sent, (r->nsent + 1) * sizeof *r->sent);
			r->sent[r->nsent++] = nonce;
		} else if (strcmp(w, "REPLACE") == 0) {
			assert_int_equal(sscanf(line, "%*s %*s %ld %lld", &nonce, &v), 2);
			if (v <= r->last_version)
				fail_msg("lease %s (%s): replace answered version %lld after %lld",
					 id, r->res, v, r->last_version);
			r->last_version = v;
			r->last_nonce = nonce;
			lg->replaces_acked++;
		} else if (strcmp(w, "REPLACE_CONFLICT") == 0) {
			lg->replace_conflicts++;
		} else if (strcmp(w, "RETURN_SENT") == 0) {
			assert_int_equal(sscanf(line, "%*s %*s %lf", &t), 1);
			if (t < r->ret_sent)
				r->ret_sent = t;
		} else if (strcmp(w, "RETURN") == 0) {
			r->returned = true;
			lg->returns_acked++;
		} else if (strcmp(w, "GONE") == 0) {
			assert_int_equal(sscanf(line, "%*s %*s %15s %lf", r->gone_code, &t), 2);
			r->gone_t = t;
		} else
			fail_msg("%s: unknown log line %s", path, line);
	}
	fclose(f);
}

/* ---- the checker ------------------------------------------------------------ */

static int cmp_res_token(const void *a, const void *b)
{
	const struct lrec *x = *(const struct lrec *const *)a, *y = *(const struct lrec *const *)b;
	int c = x->pool - y->pool;

	if (c == 0)
		c = strcmp(x->res, y->res);
	if (c == 0)
		c = (x->token > y->token) - (x->token < y->token);
	return c;
}

static int cmp_pool_ack(const void *a, const void *b)
{
	const struct lrec *x = *(const struct lrec *const *)a, *y = *(const struct lrec *const *)b;

	if (x->pool != y->pool)
		return x->pool - y->pool;
	return (x->t_ack > y->t_ack) - (x->t_ack < y->t_ack);
}

static int cmp_pool_send(const void *a, const void *b)
{
	const struct lrec *x = *(const struct lrec *const *)a, *y = *(const struct lrec *const *)b;

	if (x->pool != y->pool)
		return x->pool - y->pool;
	return (x->t_send > y->t_send) - (x->t_send < y->t_send);
}

static int cmp_token(const void *a, const void *b)
{
	const struct lrec *x = *(const struct lrec *const *)a, *y = *(const struct lrec *const *)b;

	return (x->token > y->token) - (x->token < y->token);
}

/* When the lease certainly was still live: before its return was sent and
 * before its expires_at. */
static double live_until(const struct lrec *r)
{
	double t = r->ret_sent;

	if (r->exp > 0 && r->exp - SLACK < t)
		t = r->exp - SLACK;
	return t;
}

/* The checks that need only the logs. */
static void check_logs(struct logs *lg, struct lrec **v)
{
	size_t n = lg->n;

	for (size_t i = 0; i < n; i++)
		v[i] = &lg->l[i];

	/* A lease ended early by the daemon = a lost acknowledged lease. */
	for (size_t i = 0; i < n; i++) {
		struct lrec *r = v[i];

		if (r->gone_t == 0)
			continue;
		if (strcmp(r->gone_code, "expired") == 0) {
			if (r->exp == 0 || r->gone_t < r->exp - SLACK)
				fail_msg("lease %s on %s/%s answered expired at %.3f, %.3f s before "
					 "its expires_at",
					 r->id, pools[r->pool], r->res, r->gone_t, r->exp - r->gone_t);
			lg->gone_expired++;
		} else if (r->ret_sent <= r->gone_t)
			lg->gone_after_return++;
		else if (r->exp > 0 && r->gone_t >= r->exp - SLACK)
			lg->gone_expired++;
		else
			fail_msg("acknowledged lease %s on %s/%s answered %s at %.3f, before its "
				 "return was sent and %.3f s before its expires_at: the lease was "
				 "lost",
				 r->id, pools[r->pool], r->res, r->gone_code, r->gone_t,
				 r->exp - r->gone_t);
	}

	/* Tokens never repeat. */
	qsort(v, n, sizeof *v, cmp_token);
	for (size_t i = 1; i < n; i++)
		if (v[i]->token == v[i - 1]->token)
			fail_msg("token %lld given to two leases: %s and %s", v[i]->token,
				 v[i - 1]->id, v[i]->id);

	/* Per resource in token (grant) order: no overlap, versions go up. */
	qsort(v, n, sizeof *v, cmp_res_token);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		double live_max = -INFINITY;
		const struct lrec *holder = NULL;

		while (j < n && v[j]->pool == v[i]->pool && strcmp(v[j]->res, v[i]->res) == 0) {
			struct lrec *r = v[j];

			if (holder && r->t_ack < live_max)
				fail_msg("two live leases on %s/%s: %s (token %lld, certainly live "
					 "until %.3f) and %s (token %lld, acknowledged at %.3f)",
					 pools[r->pool], r->res, holder->id, holder->token, live_max,
					 r->id, r->token, r->t_ack);
			if (j > i && r->version < v[j - 1]->last_version + 2)
				fail_msg("%s/%s: lease %s (token %lld) got version %lld, but the "
					 "lease before it (%s, token %lld) had seen version %lld: an "
					 "acknowledged change was lost",
					 pools[r->pool], r->res, r->id, r->token, r->version,
					 v[j - 1]->id, v[j - 1]->token, v[j - 1]->last_version);
			if (live_until(r) > live_max) {
				live_max = live_until(r);
				holder = r;
			}
			j++;
		}
		i = j;
	}

	/* In each pool: a lease asked for after another was acknowledged has a
	 * larger token. Sweep the requests in send order against the
	 * acknowledgements in ack order. */
	{
		struct lrec **byack = malloc(n * sizeof *byack);

		memcpy(byack, v, n * sizeof *v);
		qsort(byack, n, sizeof *byack, cmp_pool_ack);
		qsort(v, n, sizeof *v, cmp_pool_send);
		const struct lrec *best = NULL;

		for (size_t i = 0, a = 0; i < n; i++) {
			if (i == 0 || v[i]->pool != v[i - 1]->pool)
				best = NULL;
			while (a < n && (byack[a]->pool < v[i]->pool ||
					 (byack[a]->pool == v[i]->pool &&
					  byack[a]->t_ack < v[i]->t_send))) {
				if (byack[a]->pool == v[i]->pool &&
				    (!best || byack[a]->token > best->token))
					best = byack[a];
				a++;
			}
			if (best && v[i]->token <= best->token)
				fail_msg("pool %s: lease %s (token %lld) was requested at %.6f, after "
					 "lease %s (token %lld) was acknowledged at %.6f",
					 pools[v[i]->pool], v[i]->id, v[i]->token, v[i]->t_send,
					 best->id, best->token, best->t_ack);
		}
		free(byack);
	}
}

/* The descriptor nonces a resource may hold at the end: the last
 * acknowledged replace, or any replace sent after it (its answer lost). 0
 * stands for the initial descriptor. */
static bool final_nonce_ok(struct lrec **v, size_t from, size_t to, long nonce, long *expect)
{
	size_t last = from;
	long acked = 0;

	/* v[from..to) are the resource's leases in token order. */
	for (size_t j = from; j < to; j++)
		if (v[j]->last_nonce) {
			last = j;
			acked = v[j]->last_nonce;
		}
	*expect = acked;
	if (nonce == acked)
		return true;
	for (size_t j = last; j < to; j++) {
		size_t k = 0;

		if (j == last && acked)
			while (k < v[j]->nsent && v[j]->sent[k] != acked)
				k++;
		for (; k < v[j]->nsent; k++)
			if (v[j]->sent[k] == nonce)
				return true;
	}
	return false;
}

/* After the last restart: the daemon's view against the logs. Returns the
 * number of live leases. */
static int check_daemon(pool_client *c, struct logs *lg, struct lrec **v)
{
	json_t *list = CALL_OK(c, "lease.list", J("{s:i}", "limit", 100000));
	json_t *live = json_object(), *held = json_object(), *e;
	size_t i, n = lg->n;
	int nlive = 0;
	double now = h_wall();

	assert_true(json_is_null(json_object_get(list, "next")));
	json_array_foreach(json_object_get(list, "leases"), i, e)
	{
		char k[128];

		snprintf(k, sizeof k, "%s/%s", JSTR(e, "pool"),
			 JSTR(JOBJ(e, "resource"), "name"));
		if (json_object_get(held, k))
			fail_msg("after the last restart %s has two live leases", k);
		json_object_set_new(held, k, json_true());
		json_object_set_new(live, JSTR(e, "lease"), json_true());
		assert_string_equal(h_res_state(c, JSTR(e, "pool"), JSTR(JOBJ(e, "resource"), "name")),
				    "leased");
		nlive++;
	}
	for (int p = 0; p < NPOOLS; p++) {
		json_int_t in_pool = 0;

		json_array_foreach(json_object_get(list, "leases"), i, e)
			in_pool += strcmp(JSTR(e, "pool"), pools[p]) == 0;
		assert_int_equal(h_status_field(c, pools[p], "leased"), in_pool);
	}
	for (i = 0; i < n; i++) {
		struct lrec *r = &lg->l[i];
		bool is_live = json_object_get(live, r->id) != NULL;

		if (r->returned && is_live)
			fail_msg("lease %s on %s/%s: its return was acknowledged, yet it is live",
				 r->id, pools[r->pool], r->res);
		if (r->gone_t && is_live)
			fail_msg("lease %s on %s/%s answered %s, yet it is live", r->id,
				 pools[r->pool], r->res, r->gone_code);
		if (r->final && !is_live)
			fail_msg("final lease %s on %s/%s (no TTL, never returned) was lost",
				 r->id, pools[r->pool], r->res);
		if (!is_live && r->ret_sent == INFINITY && !r->gone_t && r->exp > now + 0.2)
			fail_msg("lease %s on %s/%s (expires in %.1f s, never returned) was lost",
				 r->id, pools[r->pool], r->res, r->exp - now);
	}

	/* Final versions and descriptors of every resource. */
	qsort(v, n, sizeof *v, cmp_res_token);
	for (i = 0; i < n;) {
		size_t j = i;
		json_t *res = CALL_OK(c, "resource.get",
				      J("{s:s, s:s}", "pool", pools[v[i]->pool], "name", v[i]->res));
		json_t *nonce = json_object_get(JOBJ(res, "descriptor"), "s");
		long expect;

		while (j < n && v[j]->pool == v[i]->pool && strcmp(v[j]->res, v[i]->res) == 0)
			j++;
		if (JINT(res, "version") < v[j - 1]->last_version)
			fail_msg("%s/%s: version %lld at the end, but %lld was acknowledged",
				 pools[v[i]->pool], v[i]->res, (long long)JINT(res, "version"),
				 v[j - 1]->last_version);
		if (!final_nonce_ok(v, i, j, nonce ? (long)json_integer_value(nonce) : 0, &expect))
			fail_msg("%s/%s: descriptor %s at the end; the last acknowledged replace "
				 "wrote nonce %ld and none sent after it wrote this",
				 pools[v[i]->pool], v[i]->res,
				 json_dumps(JOBJ(res, "descriptor"), JSON_COMPACT), expect);
		json_decref(res);
		i = j;
	}
	json_decref(list);
	json_decref(live);
	json_decref(held);
	return nlive;
}

/* ---- the database, read-only after a clean stop ---------------------------- */

struct dbcheck {
	struct logs *lg;
	long rows;
};

static void db_live_row(void *arg, int ncol, const char **val)
{
	struct dbcheck *dc = arg;
	struct lrec *r = find_lease(dc->lg, val[0]);

	assert_int_equal(ncol, 3);
	dc->rows++;
	if (r && r->returned)
		fail_msg("database: lease %s (returned, acknowledged) is still live", val[0]);
	if (!val[2] || strcmp(val[2], "leased") != 0)
		fail_msg("database: live lease %s holds %s in state %s", val[0], val[1],
			 val[2] ? val[2] : "(no such resource)");
}

static void check_db(const char *path, struct logs *lg, int nlive, long long max_token)
{
	struct h_sqlite s;
	struct dbcheck dc = { lg, 0 };
	char err[512], out[256];

	if (h_sqlite_open(&s, path, err, sizeof err) < 0)
		fail_msg("%s", err);
	if (h_sqlite_scalar(&s, "PRAGMA integrity_check", out, sizeof out, err, sizeof err) < 0)
		fail_msg("%s", err);
	assert_string_equal(out, "ok");
	if (h_sqlite_scalar(&s,
			    "SELECT count(*) FROM (SELECT pool, resource FROM leases WHERE "
			    "expired_at IS NULL GROUP BY pool, resource HAVING count(*) > 1)",
			    out, sizeof out, err, sizeof err) < 0)
		fail_msg("%s", err);
	if (strcmp(out, "0") != 0)
		fail_msg("database: %s resources have two live leases", out);
	if (h_sqlite_query(&s,
			   "SELECT l.id, l.pool || '/' || l.resource, r.state FROM leases l "
			   "LEFT JOIN resources r ON r.pool = l.pool AND r.name = l.resource "
			   "WHERE l.expired_at IS NULL",
			   db_live_row, &dc, err, sizeof err) < 0)
		fail_msg("%s", err);
	assert_int_equal(dc.rows, nlive);
	if (h_sqlite_scalar(&s,
			    "SELECT count(*) FROM resources r WHERE state = 'leased' AND NOT EXISTS "
			    "(SELECT 1 FROM leases l WHERE l.pool = r.pool AND l.resource = r.name "
			    "AND l.expired_at IS NULL)",
			    out, sizeof out, err, sizeof err) < 0)
		fail_msg("%s", err);
	if (strcmp(out, "0") != 0)
		fail_msg("database: %s resources are leased without a live lease", out);
	if (h_sqlite_scalar(&s, "SELECT value FROM meta WHERE key = 'next_token'", out,
			    sizeof out, err, sizeof err) < 0)
		fail_msg("%s", err);
	if (atoll(out) <= max_token)
		fail_msg("database: next_token %s, but token %lld was acknowledged", out, max_token);
	h_sqlite_close(&s);
}

/* The same checks on the PostgreSQL store of d's directory. */
static void check_db_pg(const char *dir, struct logs *lg, int nlive, long long max_token)
{
	char out[65536], *id, *save = NULL;

	assert_int_equal(h_pg_sql(dir, "SELECT count(*) FROM (SELECT pool, resource FROM leases "
				  "WHERE expired_at IS NULL GROUP BY pool, resource HAVING "
				  "count(*) > 1) t", out, sizeof out), 0);
	if (strcmp(out, "0") != 0)
		fail_msg("database: %s resources have two live leases", out);
	assert_int_equal(h_pg_sql(dir, "SELECT count(*) FROM leases l LEFT JOIN resources r ON "
				  "r.pool = l.pool AND r.name = l.resource WHERE l.expired_at IS "
				  "NULL AND r.state IS DISTINCT FROM 'leased'", out, sizeof out), 0);
	if (strcmp(out, "0") != 0)
		fail_msg("database: %s live leases hold a resource that is not leased", out);
	assert_int_equal(h_pg_sql(dir, "SELECT count(*) FROM resources r WHERE state = 'leased' "
				  "AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.pool = r.pool AND "
				  "l.resource = r.name AND l.expired_at IS NULL)", out, sizeof out), 0);
	if (strcmp(out, "0") != 0)
		fail_msg("database: %s resources are leased without a live lease", out);
	assert_int_equal(h_pg_sql(dir, "SELECT value FROM meta WHERE key = 'next_token'", out,
				  sizeof out), 0);
	if (atoll(out) <= max_token)
		fail_msg("database: next_token %s, but token %lld was acknowledged", out, max_token);
	assert_int_equal(h_pg_sql(dir, "SELECT count(*) || ',' || coalesce(string_agg(id, ','), '') "
				  "FROM leases WHERE expired_at IS NULL", out, sizeof out), 0);
	assert_int_equal(atoi(out), nlive);
	strtok_r(out, ",", &save);
	while ((id = strtok_r(NULL, ",", &save))) {
		struct lrec *r = find_lease(lg, id);

		if (r && r->returned)
			fail_msg("database: lease %s (returned, acknowledged) is still live", id);
	}
}

/* ---- the test --------------------------------------------------------------- */

/* In a forked client: logs to logpath and runs until told to stop. */
static void client_child(struct client *cl, const char *logpath)
{
	/* Never outlive a test that failed half-way. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(1);
	cl->log = fopen(logpath, "w");
	CHILD_CHECK(cl->log != NULL);
	client_main(cl);
}

/* Reads every client's log into lg and checks them against each other;
 * the highest token acknowledged in *max_token. Returns the leases by
 * token, for check_daemon(); free all with free_logs(). */
static struct lrec **read_logs(struct logs *lg, char logpath[][400],
			       long long *max_token)
{
	struct lrec **v;

	lg->l = calloc(MAX_LEASES, sizeof *lg->l);
	assert_non_null(lg->l);
	for (int k = 0; k < CLIENTS; k++)
		read_log(lg, logpath[k], k);
	for (size_t i = 0; i < lg->n; i++)
		if (lg->l[i].token > *max_token)
			*max_token = lg->l[i].token;
	v = malloc((lg->n + 1) * sizeof *v);
	assert_true(lg->n > 0);
	check_logs(lg, v);
	return v;
}

static void free_logs(struct logs *lg, struct lrec **v)
{
	for (size_t i = 0; i < lg->n; i++)
		free(lg->l[i].sent);
	free(lg->l);
	free(v);
}

/* The NPOOLS pools with a 2 s lease_ttl, RES_PER_POOL resources each. */
static void add_pools(pool_client *c)
{
	for (int p = 0; p < NPOOLS; p++) {
		h_pool(c, pools[p], "{\"lease_ttl\": 2}");
		for (int r = 0; r < RES_PER_POOL; r++) {
			char name[32];

			snprintf(name, sizeof name, "%s-r%d", pools[p], r);
			h_add(c, pools[p], name, NULL);
		}
	}
}

static void test_crashloop(void **state)
{
	const char *env = getenv("POOL_CRASHLOOP_KILLS");
	const char *sync = getenv("POOL_CRASHLOOP_SYNC"); /* normal (default) or full */
	int kills = env && atoi(env) > 0 ? atoi(env) : 50;
	poold_proc *d = sync && *sync ? poold_start("--sync", sync, NULL) : poold_start(NULL);
	pool_client *c = h_connect(d);
	char stopfile[400], logpath[CLIENTS][400];
	pid_t pid[CLIENTS];
	unsigned seed = (unsigned)h_now_ns();
	struct logs lg = { 0 };
	struct lrec **v;
	double t0 = h_now(), down = 0;
	int survived = 0, nlive, status;
	long long max_token = 0;

	if (getenv("POOL_CRASHLOOP_SEED"))
		seed = (unsigned)strtoul(getenv("POOL_CRASHLOOP_SEED"), NULL, 10);
	fprintf(stderr, "crashloop: %d kills, %d clients, --sync %s, seed %u (POOL_CRASHLOOP_SEED)\n",
		kills, CLIENTS, sync && *sync ? sync : "normal", seed);
	add_pools(c);
	pool_close(c);
	snprintf(stopfile, sizeof stopfile, "%s/stop", d->dir);

	for (int k = 0; k < CLIENTS; k++) {
		snprintf(logpath[k], sizeof logpath[k], "%s/client%d.log", d->dir, k);
		pid[k] = fork();
		assert_true(pid[k] >= 0);
		client_pid[k] = pid[k];
		if (pid[k] == 0) {
			struct client cl = { .k = k, .sock = d->sock, .stopfile = stopfile,
					     .seed = seed + 7919u * (unsigned)(k + 1),
					     .give_up = h_wall() + 120.0 + kills * 2.0 };

			client_child(&cl, logpath[k]);
		}
	}

	/* Kill at random moments: 20-300 ms of service between kills, and now
	 * and then a kill right after the restart (during recovery traffic). */
	for (int i = 0; i < kills; i++) {
		double up = (rand_r(&seed) % 8 == 0) ? 0.001 * (rand_r(&seed) % 5)
						     : 0.02 + 0.28 * rand_r(&seed) / (double)RAND_MAX;
		double t;

		h_sleep(up);
		for (int k = 0; k < CLIENTS; k++)
			if (waitpid(pid[k], &status, WNOHANG) == pid[k])
				fail_msg("client %d exited during the loop (status 0x%x)", k, status);
		t = h_now();
		poold_kill9_restart(d);
		down += h_now() - t;
		survived++;
	}
	fprintf(stderr, "crashloop: %d kills in %.1f s (%.2f s spent restarting)\n", survived,
		h_now() - t0, down);

	fclose(fopen(stopfile, "w"));
	for (int k = 0; k < CLIENTS; k++) {
		assert_int_equal(h_wait_child_for(pid[k], 60.0), 0);
		client_pid[k] = 0;
	}

	/* One more crash, then check everything. */
	poold_kill9_restart(d);
	survived++;
	v = read_logs(&lg, logpath, &max_token);
	c = h_connect(d);
	nlive = check_daemon(c, &lg, v);
	pool_close(c);

	/* A clean stop, then the database itself. */
	kill(d->pid, SIGTERM);
	assert_int_equal(waitpid(d->pid, &status, 0), d->pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	d->pid = 0;
	if (h_pg_mode())
		check_db_pg(d->dir, &lg, nlive, max_token);
	else
		check_db(d->db, &lg, nlive, max_token);
	poold_respawn(d);

	fprintf(stderr,
		"crashloop: kills survived %d; leases checked %zu (%ld cycles, %ld replaces and "
		"%ld returns acknowledged, %ld leases expired, %ld returns answered not_found "
		"after a lost answer, %ld replace conflicts after a lost answer); connections "
		"lost %ld; live at the end %d; highest token %lld\n",
		survived, lg.n, lg.cycles, lg.replaces_acked, lg.returns_acked, lg.gone_expired,
		lg.gone_after_return, lg.replace_conflicts, lg.losses, nlive, max_token);
	free_logs(&lg, v);
	poold_stop(d);
}

/* ---- the same under failover (PostgreSQL) ------------------------------------ */

static json_int_t epoch_of(const poold_proc *d)
{
	pool_client *c = h_connect((poold_proc *)d);
	json_t *st = CALL_OK(c, "status", NULL);
	json_int_t e = JINT(JOBJ(st, "ha"), "epoch");

	json_decref(st);
	pool_close(c);
	return e;
}

/* Kills the leader of the pair with SIGKILL, waits for the other to take
 * over (with a higher epoch), and brings the killed one back: a standby. */
static void fail_over(poold_proc **lead, poold_proc **other, json_int_t *epoch)
{
	poold_proc *t;
	json_int_t e;

	poold_kill9(*lead);
	WAIT_UNTIL(strcmp(poold_role(*other), "leader") == 0, 60);
	e = epoch_of(*other);
	if (e <= *epoch)
		fail_msg("epoch %lld after a takeover, %lld before", (long long)e,
			 (long long)*epoch);
	*epoch = e;
	poold_respawn(*lead);
	assert_string_equal(poold_role(*lead), "standby");
	t = *lead;
	*lead = *other;
	*other = t;
}

static void test_failover_loop(void **state)
{
	const char *env = getenv("POOL_FAILOVER_KILLS");
	int kills = env && atoi(env) > 0 ? atoi(env) : 6;
	poold_proc *a, *b, *lead, *other;
	pool_client *c;
	char stopfile[400], logpath[CLIENTS][400];
	pid_t pid[CLIENTS];
	unsigned seed = (unsigned)h_now_ns();
	struct logs lg = { 0 };
	struct lrec **v;
	int nlive, status;
	long long max_token = 0;
	json_int_t epoch;

	if (!h_pg_mode())
		skip(); /* two front ends need the PostgreSQL store */
	a = poold_start("--failover-timeout", "1", NULL);
	WAIT_UNTIL(strcmp(poold_role(a), "leader") == 0, 30);
	b = poold_start_peer(a, "--failover-timeout", "1", NULL);
	lead = a;
	other = b;
	epoch = epoch_of(a);
	fprintf(stderr, "failover loop: %d kills, %d clients, seed %u\n", kills, CLIENTS, seed);
	c = h_connect(a);
	add_pools(c);
	pool_close(c);
	snprintf(stopfile, sizeof stopfile, "%s/stop", a->dir);
	for (int k = 0; k < CLIENTS; k++) {
		snprintf(logpath[k], sizeof logpath[k], "%s/client%d.log", a->dir, k);
		pid[k] = fork();
		assert_true(pid[k] >= 0);
		client_pid[k] = pid[k];
		if (pid[k] == 0) {
			struct client cl = { .k = k, .sock = a->sock, .sock2 = b->sock,
					     .stopfile = stopfile,
					     .seed = seed + 7919u * (unsigned)(k + 1),
					     .give_up = h_wall() + 120.0 + kills * 10.0 };

			client_child(&cl, logpath[k]);
		}
	}
	for (int i = 0; i < kills; i++) {
		h_sleep(0.2 + 0.8 * rand_r(&seed) / (double)RAND_MAX);
		for (int k = 0; k < CLIENTS; k++)
			if (waitpid(pid[k], &status, WNOHANG) == pid[k])
				fail_msg("client %d exited during the loop (status 0x%x)", k, status);
		fail_over(&lead, &other, &epoch);
	}
	fclose(fopen(stopfile, "w"));
	for (int k = 0; k < CLIENTS; k++) {
		assert_int_equal(h_wait_child_for(pid[k], 120.0), 0);
		client_pid[k] = 0;
	}
	fail_over(&lead, &other, &epoch);
	fprintf(stderr, "failover loop: %d takeovers, last epoch %lld\n", kills + 1,
		(long long)epoch);

	v = read_logs(&lg, logpath, &max_token);
	c = h_connect(lead);
	nlive = check_daemon(c, &lg, v);
	pool_close(c);
	check_db_pg(a->dir, &lg, nlive, max_token);
	fprintf(stderr, "failover loop: leases checked %zu (%ld cycles, %ld returns acknowledged); "
		"connections lost %ld; live at the end %d; highest token %lld\n", lg.n, lg.cycles,
		lg.returns_acked, lg.losses, nlive, max_token);
	free_logs(&lg, v);
	poold_stop(b); /* a's stop drops the shared store */
	poold_stop(a);
}

/* Teardown: clients a failed test left behind, then the daemon. */
static int crashloop_teardown(void **state)
{
	for (int k = 0; k < CLIENTS; k++)
		if (client_pid[k] > 0) {
			kill(client_pid[k], SIGKILL);
			waitpid(client_pid[k], NULL, 0);
			client_pid[k] = 0;
		}
	return harness_teardown(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_crashloop, crashloop_teardown),
		cmocka_unit_test_teardown(test_failover_loop, crashloop_teardown),
	};

	return RUN_FTESTS(tests);
}
