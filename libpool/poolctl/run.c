/*
 * run.c - poolctl run POOL [lease options] -- COMMAND [ARGS...]: takes a
 * lease, runs COMMAND with the lease in its environment, renews the lease at
 * a third of its TTL while COMMAND runs, and returns it when COMMAND exits,
 * with COMMAND's exit status as its own.
 *
 * A job must not keep working on a resource that is now someone else's, so
 * when the lease is lost (a renewal answers expired or not_found, or poold
 * stays unreachable past the lease's expiry) COMMAND gets SIGTERM at once
 * and SIGKILL after a grace period, as consul lock does; --keep-on-loss
 * turns that off. Signals reach the loop through a self-pipe, so that the
 * loop only ever does one thing at a time: reap, forward, kill or renew.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "poolctl.h"

enum { OPT_DISCARD_ON_FAILURE = OPT_CMD_BASE, OPT_KEEP_ON_LOSS, OPT_GRACE };

#define ACQUIRE_RETRIES 5   /* reconnects after a lost answer to lease */
#define RETURN_RETRIES 3    /* reconnects after a lost answer to return */

struct runner {
	struct ctl *ctx;             /* ctx->client is the connection, owned by ctx */
	const char *pool;
	pool_lease_opts opts;        /* how to take the lease */
	char request_id[48];         /* generated unless --request-id */
	bool discard_on_failure;
	bool keep_on_loss;
	double grace;                /* seconds from SIGTERM to SIGKILL on loss */
	char *const *argv;           /* COMMAND, borrowed from main's argv */
	pool_lease *lease;           /* owned */
	double ttl;                  /* seconds; 0: none, so no renewals */
	double expires;              /* monotonic time the lease surely lasts to */
	double next_renew;           /* monotonic time of the next renewal */
	double backoff;              /* seconds before retrying a failed renewal */
	pid_t child;                 /* COMMAND; 0 once reaped */
	int status;                  /* COMMAND's wait status once reaped */
	bool lost;                   /* the lease is gone */
	double kill_at;              /* monotonic time to SIGKILL COMMAND; 0: none */
};

/* The signals poolctl run handles, and the pipe their handler writes to. */
static const int handled[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD };
#define NHANDLED (sizeof(handled) / sizeof(handled[0]))
static int sig_pipe[2] = { -1, -1 };

/* A signal from the terminal (SI_KERNEL) went to the whole foreground
 * process group, COMMAND included, so only others are forwarded: the high
 * bit of the byte says "already delivered". */
static void on_signal(int sig, siginfo_t *si, void *uctx)
{
	unsigned char b = (unsigned char)(sig | (si && si->si_code == SI_KERNEL ? 0x80 : 0));
	int saved = errno;

	(void)uctx;
	if (write(sig_pipe[1], &b, 1) < 0) {
		/* The pipe is full of unread signals; this one adds nothing. */
	}
	errno = saved;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_for(double s)
{
	struct timespec ts = { (time_t)s, (long)(fmod(s, 1) * 1e9) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* How long a renewal may wait for its answer: short enough that a daemon
 * that stopped answering leaves time to retry before the lease expires, and
 * never more than --timeout. */
static double renew_timeout(const struct runner *r)
{
	double t = fmin(fmax(r->ttl / 3, 1), 30);

	return r->ctx->timeout > 0 ? fmin(t, r->ctx->timeout) : t;
}

/* A fresh connection in ctx->client (the old one is dropped); NULL with err. */
static pool_client *reconnect(struct runner *r, pool_error *err)
{
	pool_close(r->ctx->client);
	r->ctx->client = ctl_connect(r->ctx, err);
	if (r->ctx->client && r->ttl > 0)
		pool_set_timeout(r->ctx->client, renew_timeout(r));
	return r->ctx->client;
}

/*
 * Takes the lease. A connection lost after the request went out may have
 * lost a granted lease's answer, so the request is sent again with the same
 * request_id (the daemon answers the same lease, never a second one), with
 * what is left of --wait. 0, or an exit code after saying why.
 */
static int acquire(struct runner *r)
{
	double deadline = mono() + r->opts.wait;
	pool_error err;

	if (!ctl_client(r->ctx))
		return r->ctx->connect_rc;
	for (int attempt = 0;; attempt++) {
		if (r->ctx->client &&
		    pool_lease_acquire(r->ctx->client, r->pool, &r->opts, &r->lease, &err) == 0)
			return 0;
		if (err.code != POOL_E_UNREACHABLE || attempt == ACQUIRE_RETRIES)
			return ctl_fail(r->ctx, &err);
		fprintf(stderr, "poolctl run: %s; retrying\n", err.message);
		sleep_for(0.2 * (1 << attempt));
		r->opts.wait = fmax(0, deadline - mono());
		reconnect(r, &err);
	}
}

/* The lease's TTL: the daemon's "ttl" extension, else expires - acquired. */
static double lease_ttl(const pool_lease *l)
{
	json_t *ttl = json_object_get(pool_lease_json(l), "ttl");
	const char *exp = pool_lease_expires_at(l);

	if (json_is_number(ttl))
		return json_number_value(ttl);
	if (!exp)
		return 0;
	return out_seconds_until(exp) - out_seconds_until(pool_lease_acquired_at(l));
}

static void put_env(const char *name, const char *value)
{
	if (setenv(name, value, 1) < 0)
		fprintf(stderr, "poolctl run: cannot set %s: %s\n", name, strerror(errno));
}

/* POOL_LEASE, POOL_RESOURCE, POOL_TOKEN, POOL_DESCRIPTOR and POOL_DESC_<KEY>
 * for each top-level scalar of the descriptor, for COMMAND to inherit. */
static void lease_environment(const pool_lease *l)
{
	json_t *desc = pool_lease_descriptor(l), *v;
	char *text = json_dumps(desc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	char name[160], token[24];
	const char *key;

	put_env("POOL_LEASE", pool_lease_id(l));
	put_env("POOL_RESOURCE", pool_lease_resource(l));
	snprintf(token, sizeof(token), "%lld", pool_lease_token(l));
	put_env("POOL_TOKEN", token);
	put_env("POOL_DESCRIPTOR", text ? text : "{}");
	free(text);
	json_object_foreach(desc, key, v) {
		char *s = out_scalar_text(v);

		if (s && out_desc_env_name(key, name, sizeof(name)))
			put_env(name, s);
		free(s);
	}
}

static int install_handlers(void)
{
	struct sigaction sa = { .sa_sigaction = on_signal, .sa_flags = SA_SIGINFO | SA_RESTART };

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NHANDLED; i++)
		sigaction(handled[i], &sa, NULL);
	return 0;
}

/* Forks and execs COMMAND. Signals are blocked across fork so that none
 * reaches the child's copy of the handler before exec. */
static int spawn(struct runner *r)
{
	sigset_t block, old;
	int e;

	sigemptyset(&block);
	for (size_t i = 0; i < NHANDLED; i++)
		sigaddset(&block, handled[i]);
	sigprocmask(SIG_BLOCK, &block, &old);
	r->child = fork();
	if (r->child == 0) {
		for (size_t i = 0; i < NHANDLED; i++)
			signal(handled[i], SIG_DFL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		execvp(r->argv[0], r->argv);
		e = errno;
		fprintf(stderr, "poolctl run: cannot run %s: %s\n", r->argv[0], strerror(e));
		_exit(e == ENOENT ? 127 : 126);
	}
	e = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (r->child < 0) {
		fprintf(stderr, "poolctl run: fork: %s\n", strerror(e));
		return -1;
	}
	return 0;
}

/* The lease is gone: say so and, unless --keep-on-loss, stop COMMAND. */
static void lose(struct runner *r, const char *why)
{
	r->lost = true;
	fprintf(stderr, "poolctl run: lost the lease on %s/%s: %s\n", r->pool,
		pool_lease_resource(r->lease), why);
	if (r->keep_on_loss) {
		fprintf(stderr, "poolctl run: --keep-on-loss: COMMAND keeps running\n");
		return;
	}
	fprintf(stderr, "poolctl run: stopping COMMAND (SIGTERM now, SIGKILL in %gs)\n", r->grace);
	kill(r->child, SIGTERM);
	r->kill_at = mono() + r->grace;
}

/*
 * One renewal. expired/not_found/forbidden mean the lease is gone; anything
 * else (no connection, a timeout, a daemon restarting) is retried with
 * backoff while the lease is still valid by our own clock.
 */
static int renew_call(struct runner *r, pool_error *err)
{
	if (!r->ctx->client && !reconnect(r, err))
		return -1;
	return pool_renew(r->ctx->client, pool_lease_id(r->lease), -1, NULL, err);
}

static void renew(struct runner *r)
{
	double now = mono();
	bool had_connection = r->ctx->client != NULL;
	pool_error err;
	char why[1100];
	int rc = renew_call(r, &err);

	/* A connection poold closed while it sat idle (--idle-timeout) is no
	 * trouble: connect again at once, and only then count a failure. */
	if (rc < 0 && had_connection && err.code == POOL_E_UNREACHABLE) {
		pool_close(r->ctx->client);
		r->ctx->client = NULL;
		rc = renew_call(r, &err);
	}
	if (rc == 0) {
		r->expires = now + r->ttl;
		r->next_renew = now + r->ttl / 3;
		r->backoff = 0;
		return;
	}
	if (err.code == POOL_E_EXPIRED || err.code == POOL_E_NOT_FOUND ||
	    err.code == POOL_E_FORBIDDEN) {
		lose(r, err.message);
		return;
	}
	pool_close(r->ctx->client);
	r->ctx->client = NULL;
	if (mono() >= r->expires) {
		snprintf(why, sizeof(why), "poold was unreachable until the lease expired (%s)",
			 err.message);
		lose(r, why);
		return;
	}
	r->backoff = fmin(fmax(r->backoff * 2, 0.1), r->ttl / 6);
	r->next_renew = fmin(mono() + r->backoff, r->expires);
	fprintf(stderr, "poolctl run: renewing the lease failed (%s); retrying in %.1fs\n",
		err.message, r->backoff);
}

/* Reads the signals that arrived: reaps COMMAND, forwards the others. */
static void handle_signals(struct runner *r)
{
	unsigned char b;

	while (read(sig_pipe[0], &b, 1) == 1) {
		int sig = b & 0x7f;

		if (sig != SIGCHLD && !(b & 0x80) && r->child > 0)
			kill(r->child, sig);
	}
	if (r->child > 0 && waitpid(r->child, &r->status, WNOHANG) == r->child)
		r->child = 0;
}

/* Waits for COMMAND to end, renewing, forwarding and killing on the way. */
static void supervise(struct runner *r)
{
	while (r->child > 0) {
		double next = INFINITY, now = mono();
		struct pollfd p = { .fd = sig_pipe[0], .events = POLLIN };

		if (r->ttl > 0 && !r->lost)
			next = r->next_renew;
		if (r->kill_at > 0)
			next = fmin(next, r->kill_at);
		poll(&p, 1, isinf(next) ? -1 : (int)fmax(0, ceil((next - now) * 1000)));
		handle_signals(r);
		if (r->child > 0 && r->kill_at > 0 && mono() >= r->kill_at) {
			kill(r->child, SIGKILL);
			r->kill_at = 0;
		}
		if (r->child > 0 && r->ttl > 0 && !r->lost && mono() >= r->next_renew)
			renew(r);
	}
}

/* Returns the lease (discarding on failure if asked), retrying a lost
 * connection; returns 0, or an exit code after saying why. */
static int give_back(struct runner *r, bool failed)
{
	bool discard = failed && r->discard_on_failure;
	pool_error err;

	for (int attempt = 0;; attempt++) {
		if ((r->ctx->client || reconnect(r, &err)) &&
		    pool_return(r->ctx->client, pool_lease_id(r->lease), NULL, discard, &err) == 0)
			return 0;
		if (err.code != POOL_E_UNREACHABLE || attempt == RETURN_RETRIES) {
			fprintf(stderr, "poolctl run: could not return lease %s: %s\n",
				pool_lease_id(r->lease), err.message);
			return ctl_exit_code(err.code);
		}
		pool_close(r->ctx->client);
		r->ctx->client = NULL;
		sleep_for(0.2 * (1 << attempt));
	}
}

/* COMMAND's status as a shell reports it: its exit code, or 128+signal. */
static int shell_status(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

static int parse_run_opts(struct ctl *ctx, const struct ctl_args *a, struct runner *r)
{
	int rc = 0;

	r->grace = 10;
	for (int i = 0; i < a->nopts && rc == 0; i++) {
		const struct ctl_optval *v = &a->opts[i];

		if ((rc = arg_lease_opt(ctx, &r->opts, v)) == 1)
			rc = 0;
		else if (v->key == OPT_DISCARD_ON_FAILURE)
			r->discard_on_failure = true;
		else if (v->key == OPT_KEEP_ON_LOSS)
			r->keep_on_loss = true;
		else if (v->key == OPT_GRACE)
			rc = arg_duration(ctx, "grace", v->val, &r->grace);
	}
	return rc;
}

/* The COMMAND: after "--", else what follows POOL. */
static char *const *command_of(const struct ctl_args *a, int *n)
{
	*n = a->rest ? a->nrest : a->npos - 1;
	return a->rest ? a->rest : (char *const *)a->pos + 1;
}

static int run_run(struct ctl *ctx, const struct ctl_args *a)
{
	struct runner r = { .ctx = ctx, .pool = a->pos[0] };
	unsigned char rnd[8];
	int ncmd, rc;

	if ((rc = parse_run_opts(ctx, a, &r)) != 0)
		return rc;
	r.argv = command_of(a, &ncmd);
	if (ncmd < 1)
		return ctl_usage(ctx, "no COMMAND to run (put it after --)");
	if (a->rest && a->npos > 1)
		return ctl_usage(ctx, "unexpected argument '%s' before --", a->pos[1]);
	if (!r.opts.request_id) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			memset(rnd, 0, sizeof(rnd));
		snprintf(r.request_id, sizeof(r.request_id), "poolctl-run-%d-%02x%02x%02x%02x%02x%02x%02x%02x",
			 (int)getpid(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
		r.opts.request_id = r.request_id;
	}
	if ((rc = acquire(&r)) != 0)
		return rc;
	r.ttl = lease_ttl(r.lease);
	r.expires = mono() + r.ttl;
	r.next_renew = mono() + r.ttl / 3;
	if (ctx->client && r.ttl > 0)
		pool_set_timeout(ctx->client, renew_timeout(&r));
	lease_environment(r.lease);
	if (install_handlers() < 0 || spawn(&r) < 0) {
		give_back(&r, false);
		pool_lease_free(r.lease);
		return CTL_ERR;
	}
	supervise(&r);
	rc = shell_status(r.status);
	if (!r.lost && give_back(&r, rc != 0) != 0 && rc == 0)
		rc = CTL_ERR;
	else if (r.lost && !r.keep_on_loss)
		rc = CTL_GONE;
	pool_lease_free(r.lease);
	return rc;
}

static const struct ctl_opt run_opts[] = {
	CTL_LEASE_OPTS,
	{ "discard-on-failure", OPT_DISCARD_ON_FAILURE, NULL,
	  "return with discard when COMMAND fails" },
	{ "keep-on-loss", OPT_KEEP_ON_LOSS, NULL, "let COMMAND run on if the lease is lost" },
	{ "grace", OPT_GRACE, "DURATION", "from SIGTERM to SIGKILL on loss (default 10s)" },
	{ NULL, 0, NULL, NULL },
};

const struct ctl_cmd cmd_run = {
	.name = "run", .usage = "POOL [OPTIONS] -- COMMAND [ARGS...]",
	.summary = "run COMMAND under a lease, renewed while it runs, returned after",
	.details =
		"COMMAND gets POOL_LEASE, POOL_RESOURCE, POOL_TOKEN (fencing token),\n"
		"POOL_DESCRIPTOR (JSON) and POOL_DESC_<KEY> for each top-level scalar of the\n"
		"descriptor. The lease is renewed at a third of its TTL and returned when\n"
		"COMMAND exits, also after SIGINT/SIGTERM/SIGHUP (forwarded to COMMAND).\n"
		"poolctl run exits with COMMAND's status (128+N after signal N). If the lease\n"
		"is lost (a renewal answers expired or not_found, or poold stays unreachable\n"
		"past the expiry), it says so on stderr, sends COMMAND SIGTERM (SIGKILL after\n"
		"--grace) and exits 4. The lease is taken with a request_id, so a retry after\n"
		"a lost answer never takes two resources.\n",
	.opts = run_opts, .min_pos = 1, .max_pos = -1, .takes_command = true, .run = run_run,
};
