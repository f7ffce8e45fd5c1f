/*
 * cmd-history.c - poolctl history: the daemon's committed events, oldest
 * first, following the op's "next" cursor page after page. A table for
 * people; with --json one event per line, as the daemon sends it.
 */
#define _DEFAULT_SOURCE /* gmtime_r */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "poolctl.h"

enum { OPT_H_POOL = 256, OPT_H_RESOURCE, OPT_H_LEASE, OPT_H_SINCE, OPT_H_LIMIT };

#define PAGE_MAX 1000 /* the daemon's largest page */

/* --since takes an RFC 3339 time, or a duration meaning that long ago. */
static void since_arg(const char *val, char *buf, size_t len)
{
	double ago;
	time_t t;
	struct tm tm;

	if (duration_parse(val, &ago) < 0) {
		snprintf(buf, len, "%s", val);
		return;
	}
	t = time(NULL) - (time_t)ago;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int parse_opts(struct ctl *ctx, const struct ctl_args *a, json_t *args,
		      long long *limit)
{
	static const char *const fields[] = { [OPT_H_POOL - 256] = "pool",
		[OPT_H_RESOURCE - 256] = "resource", [OPT_H_LEASE - 256] = "lease" };
	char since[64];
	int rc = 0;

	for (int i = 0; i < a->nopts && rc == 0; i++) {
		const struct ctl_optval *o = &a->opts[i];

		if (o->key == OPT_H_LIMIT) {
			rc = arg_count(ctx, "limit", o->val, limit);
		} else if (o->key == OPT_H_SINCE) {
			since_arg(o->val, since, sizeof since);
			json_object_set_new(args, "since", json_string(since));
		} else {
			json_object_set_new(args, fields[o->key - 256], json_string(o->val));
		}
	}
	return rc;
}

static void event_row(struct table *t, const json_t *ev)
{
	const json_t *res = json_object_get(ev, "resource");
	char seq[24], lease[12];

	snprintf(seq, sizeof seq, "%lld",
		 (long long)json_integer_value(json_object_get(ev, "seq")));
	snprintf(lease, sizeof lease, "%.8s",
		 json_is_string(json_object_get(ev, "lease")) ? out_str(ev, "lease") :
		 json_object_get(ev, "lease") ? "-" : "");
	table_add(t, seq, out_str(ev, "at"), out_str(ev, "event"), out_str(ev, "pool"),
		  res ? out_str(res, "name") : "", lease, out_str(ev, "owner"),
		  out_str(ev, "caller"));
}

/* Prints one page's events (the table, made at its first row, is printed
 * at the end); returns how many. */
static size_t print_page(struct ctl *ctx, struct table **t, json_t *events, long long room)
{
	size_t i, n = 0;
	json_t *ev;

	json_array_foreach(events, i, ev) {
		if (room > 0 && (long long)n >= room)
			break;
		if (ctx->json) {
			out_json_line(ev);
		} else {
			if (!*t)
				*t = table_new(8, "SEQ", "AT", "EVENT", "POOL", "RESOURCE",
					       "LEASE", "OWNER", "CALLER");
			event_row(*t, ev);
		}
		n++;
	}
	return n;
}

static int run_history(struct ctl *ctx, const struct ctl_args *a)
{
	json_t *args = json_object(), *page, *next = json_null();
	struct table *t = NULL;
	long long limit = 0, shown = 0;
	pool_client *c;
	pool_error err;
	int rc = parse_opts(ctx, a, args, &limit);

	if (rc || !(c = ctl_client(ctx))) {
		json_decref(args);
		return rc ? rc : ctx->connect_rc;
	}
	do {
		long long want = limit > 0 && limit - shown < PAGE_MAX ? limit - shown : PAGE_MAX;

		json_object_set_new(args, "limit", json_integer(want));
		json_object_set_new(args, "after", next);
		if (pool_call(c, "history", args, &page, &err) < 0) {
			if (t)
				table_print(t, stdout);
			json_decref(args);
			return ctl_fail(ctx, &err);
		}
		shown += (long long)print_page(ctx, &t, json_object_get(page, "events"),
					       limit > 0 ? limit - shown : 0);
		next = json_incref(json_object_get(page, "next"));
		json_decref(page);
	} while (json_is_string(next) && (limit == 0 || shown < limit));
	json_decref(next);
	json_decref(args);
	if (t)
		table_print(t, stdout);
	return CTL_OK;
}

static const struct ctl_opt history_opts[] = {
	{ "pool", OPT_H_POOL, "POOL", "only this pool's events" },
	{ "resource", OPT_H_RESOURCE, "NAME", "only this resource's events" },
	{ "lease", OPT_H_LEASE, "LEASE", "only this lease's events" },
	{ "since", OPT_H_SINCE, "TIME", "from this RFC 3339 time, or this long ago (1h, 2d)" },
	{ "limit", OPT_H_LIMIT, "N", "at most N events (default: all)" },
	{ NULL, 0, NULL, NULL },
};

const struct ctl_cmd cmd_history = {
	.name = "history", .usage = "[--pool POOL] [--resource NAME] [--lease LEASE] "
				    "[--since TIME] [--limit N]",
	.summary = "show past events (who held what, when), oldest first",
	.details = "The daemon keeps events for --history-max-age and at most "
		   "--history-max-rows of them.\n--json prints each event as one JSON line. "
		   "Another caller's lease id shows as - unless you are an admin.\n",
	.opts = history_opts, .min_pos = 0, .max_pos = 0, .run = run_history,
};
