/*
 * cmd-daemon.c - the commands about the daemon as a whole: status (per
 * pool occupancy, optionally redrawn), watch (the event stream), ping and
 * hello.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "poolctl.h"

enum { OPT_EVERY = OPT_CMD_BASE };

/* Set by SIGINT/SIGTERM during status --watch, which then ends with 0. */
static volatile sig_atomic_t stop_watching;

static void on_stop(int sig)
{
	(void)sig;
	stop_watching = 1;
}

static long long field(const json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

static void status_row(struct table *t, const json_t *p)
{
	char n[5][24], total[48], oldest[32];
	const char *keys[5] = { "free", "leased", "creating", "cleaning", "waiters" };
	json_t *age = json_object_get(p, "oldest_lease_age");

	for (int i = 0; i < 5; i++)
		snprintf(n[i], sizeof(n[i]), "%lld", field(p, keys[i]));
	if (field(p, "max_size") > 0)
		snprintf(total, sizeof(total), "%lld/%lld", field(p, "total"), field(p, "max_size"));
	else
		snprintf(total, sizeof(total), "%lld/-", field(p, "total"));
	if (json_is_number(age))
		duration_format(json_number_value(age), oldest, sizeof(oldest));
	table_add(t, out_str(p, "pool"), out_str(p, "state"), n[0], n[1], n[2], n[3], total, n[4],
		  json_is_number(age) ? oldest : "-");
}

/* A counters object as "name value" cells, four to a line, under title. */
static void print_counters(const char *title, const json_t *counters)
{
	const char *key;
	json_t *v;
	int n = 0;

	if (!json_is_object(counters) || json_object_size(counters) == 0)
		return;
	printf("\n%s\n", title);
	json_object_foreach((json_t *)counters, key, v) {
		char cell[80];

		snprintf(cell, sizeof(cell), "%s %lld", key, (long long)json_integer_value(v));
		if (++n % 4 == 0 || n == (int)json_object_size(counters))
			printf("  %s\n", cell);
		else
			printf("  %-22s", cell);
	}
}

static void print_status(struct ctl *ctx, json_t *res, bool stream)
{
	struct table *t;
	size_t i;
	json_t *p;

	if (ctx->json) {
		if (stream)
			out_json_line(res);
		else
			out_json(res);
		return;
	}
	t = table_new(9, "POOL", "STATE", "FREE", "LEASED", "CREATING", "CLEANING",
		      "TOTAL/MAX", "WAITERS", "OLDEST");
	json_array_foreach(json_object_get(res, "pools"), i, p)
		status_row(t, p);
	table_print(t, stdout);
	json_array_foreach(json_object_get(res, "pools"), i, p) {
		char title[300];

		snprintf(title, sizeof(title), "counters of pool %s:", out_str(p, "pool"));
		print_counters(title, json_object_get(p, "counters"));
	}
	print_counters("daemon (connections and refusals):", json_object_get(res, "daemon"));
}

/* status --watch: one redraw per interval until SIGINT or SIGTERM. On a
 * terminal the screen is cleared; elsewhere each snapshot is appended with
 * a time line, so that a log of it reads well. */
static int watch_status(struct ctl *ctx, pool_client *c, const char *pool, double every)
{
	struct sigaction sa = { .sa_handler = on_stop };
	bool tty = isatty(STDOUT_FILENO);
	pool_error err;
	json_t *res;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!stop_watching) {
		struct timespec ts = { (time_t)every, (long)(fmod(every, 1) * 1e9) };
		time_t now = time(NULL);
		char when[32];

		if (pool_status(c, pool, &res, &err) < 0)
			return ctl_fail(ctx, &err);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&now));
		if (!ctx->json)
			printf("%s%s  (every %gs; Ctrl-C to stop)\n", tty ? "\033[H\033[2J" : "",
			       when, every);
		print_status(ctx, res, true);
		if (!ctx->json && !tty)
			putchar('\n');
		fflush(stdout);
		json_decref(res);
		if (nanosleep(&ts, NULL) < 0 && errno != EINTR)
			break;
	}
	return CTL_OK;
}

static int run_status(struct ctl *ctx, const struct ctl_args *a)
{
	pool_client *c;
	double every = 0;
	pool_error err;
	json_t *res;

	for (int i = 0; i < a->nopts; i++)
		if (a->opts[i].key == OPT_EVERY &&
		    arg_duration(ctx, "watch", a->opts[i].val, &every))
			return CTL_USAGE;
	if (!(c = ctl_client(ctx)))
		return ctx->connect_rc;
	if (every > 0)
		return watch_status(ctx, c, a->npos ? a->pos[0] : NULL, every);
	if (pool_status(c, a->npos ? a->pos[0] : NULL, &res, &err) < 0)
		return ctl_fail(ctx, &err);
	if (!ctx->quiet)
		print_status(ctx, res, false);
	json_decref(res);
	return CTL_OK;
}

static void print_event(struct ctl *ctx, json_t *ev)
{
	json_t *res = json_object_get(ev, "resource"), *lease = json_object_get(ev, "lease");

	if (ctx->json) {
		out_json_line(ev);
		return;
	}
	printf("%s  %-13s %s%s%s%s%s\n", out_str(ev, "at"), out_str(ev, "event"),
	       out_str(ev, "pool"), res ? "/" : "", res ? out_str(res, "name") : "",
	       json_is_string(lease) ? "  lease " : "",
	       json_is_string(lease) ? json_string_value(lease) : "");
	fflush(stdout);
}

static int run_watch(struct ctl *ctx, const struct ctl_args *a)
{
	pool_client *c = ctl_client(ctx);
	pool_error err;
	json_t *ev;

	if (!c)
		return ctx->connect_rc;
	if (pool_watch(c, a->npos ? a->pos[0] : NULL, &err) < 0)
		return ctl_fail(ctx, &err);
	/* --timeout bounds the watch request; events come when they come. */
	pool_set_timeout(c, 0);
	while (pool_recv_json(c, &ev, &err) == 0) {
		if (!ctx->quiet)
			print_event(ctx, ev);
		json_decref(ev);
	}
	return ctl_fail(ctx, &err);
}

static int run_ping(struct ctl *ctx, const struct ctl_args *a)
{
	pool_client *c = ctl_client(ctx);
	pool_error err;
	char up[32];
	json_t *res;

	if (!c)
		return ctx->connect_rc;
	if (pool_ping(c, &res, &err) < 0)
		return ctl_fail(ctx, &err);
	if (ctx->json)
		out_json(res);
	else if (!ctx->quiet)
		printf("poold %s, up %s\n", out_str(res, "version"),
		       duration_format(json_number_value(json_object_get(res, "uptime")), up,
				       sizeof(up)));
	json_decref(res);
	return CTL_OK;
}

static int run_hello(struct ctl *ctx, const struct ctl_args *a)
{
	pool_client *c = ctl_client(ctx);
	pool_error err;
	json_t *res;

	if (!c)
		return ctx->connect_rc;
	if (pool_hello(c, NULL, &res, &err) < 0)
		return ctl_fail(ctx, &err);
	if (ctx->json)
		out_json(res);
	else if (!ctx->quiet)
		printf("poold %s; you are %s%s\n", out_str(res, "version"), out_str(res, "caller"),
		       json_is_true(json_object_get(res, "admin")) ? " (admin)" : "");
	json_decref(res);
	return CTL_OK;
}

static const struct ctl_opt status_opts[] = {
	{ "watch", OPT_EVERY, "DURATION", "redraw every DURATION until Ctrl-C" },
	{ NULL, 0, NULL, NULL },
};

const struct ctl_cmd cmd_status = {
	.name = "status", .usage = "[POOL] [--watch DURATION]",
	.summary = "show how full the pools are",
	.details = "Per pool: free, leased, creating and cleaning resources, total / max_size,\n"
		   "waiters, and the age of the oldest lease; then each pool's counters (leases,\n"
		   "returns, expired, waits, refusals...) and the daemon's (connections, and each\n"
		   "kind of refused request).\n",
	.opts = status_opts, .min_pos = 0, .max_pos = 1, .run = run_status,
};
const struct ctl_cmd cmd_watch = {
	.name = "watch", .usage = "[POOL]",
	.summary = "print the daemon's events as they happen",
	.details = "Runs until interrupted; --json prints each event as one JSON line.\n",
	.min_pos = 0, .max_pos = 1, .run = run_watch,
};
const struct ctl_cmd cmd_ping = {
	.name = "ping", .usage = "",
	.summary = "check that poold answers; show its version and uptime",
	.min_pos = 0, .max_pos = 0, .run = run_ping,
};
const struct ctl_cmd cmd_hello = {
	.name = "hello", .usage = "",
	.summary = "show who poold takes you for, and whether you are an admin",
	.min_pos = 0, .max_pos = 0, .run = run_hello,
};
