/*
 * history: committed events, oldest first, from the history table (every
 * event the watch stream shows, kept across restarts until pruned by
 * --history-max-age / --history-max-rows). Filters: pool, resource (a
 * name), lease, caller, since (RFC 3339). A page holds limit events
 * (default 100, at most 1000); "next" is the cursor to pass as "after",
 * null on the last page. A page looks at no more than HISTORY_SCAN rows,
 * so with a filter it may hold fewer events than the limit, even none,
 * and still have a "next". As in watch, another caller's lease id is null
 * unless the caller is an admin (the id is the capability to return it).
 */
#define _DEFAULT_SOURCE /* timegm */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "journal.h"
#include "jsonutil.h"
#include "ops.h"
#include "pool_protocol.h"
#include "poold.h"
#include "store.h"

#define HISTORY_LIMIT 100
#define HISTORY_LIMIT_MAX 1000
/* Rows one page looks at, at most: a filter matching few of a million
 * rows answers a short page (with "next") in milliseconds, instead of
 * blocking the daemon while it reads the whole table. */
#define HISTORY_SCAN 10000

/* "2026-11-30T00:25:04Z", with optional fractions and a +hh:mm offset.
 * 0, or -1 if s is not such a time. */
static int parse_rfc3339(const char *s, double *out)
{
	struct tm tm = { 0 };
	int n = 0, oh = 0, om = 0;
	double frac = 0;
	char sign;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
	    n != 19)
		return -1;
	s += n;
	if (*s == '.') { /* digits only: strtod would take "5e10" too */
		double unit = 0.1;

		if (*++s < '0' || *s > '9')
			return -1;
		for (; *s >= '0' && *s <= '9'; s++, unit /= 10)
			frac += (*s - '0') * unit;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if ((*s == '+' || *s == '-') &&
		   sscanf(s, "%c%2d:%2d%n", &sign, &oh, &om, &n) == 3 && n == 6) {
		s += n;
		if (sign == '-') {
			oh = -oh;
			om = -om;
		}
	} else {
		return -1;
	}
	if (*s || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_sec > 60)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*out = (double)timegm(&tm) + frac - oh * 3600.0 - om * 60.0;
	return 0;
}

struct page {
	struct req *r;
	json_t *events;
	int64_t last;
	int count, limit;
	size_t bytes;             /* of the events so far, about */
	bool more;                /* a row beyond the page was seen */
};

static json_t *text_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static int add_event(void *arg, const struct store_history_row *row)
{
	struct page *pg = arg;
	json_t *ev;
	bool mine;

	/* The row beyond the page, in count or in bytes. */
	if (pg->count == pg->limit ||
	    (pg->count > 0 && pg->bytes >= op_page_bytes(pg->r))) {
		pg->more = true;
		return 1;
	}
	pg->bytes += 200 + (row->detail ? strlen(row->detail) : 0) +
		     (row->owner ? strlen(row->owner) : 0);
	ev = json_pack("{s:I, s:s, s:s, s:o}", "seq", (json_int_t)row->seq,
		       "event", row->event, "pool", row->pool,
		       "at", json_time(row->at));
	if (row->detail)
		json_object_set_new(ev, "resource",
				    json_loads(row->detail, 0, NULL));
	if (row->lease) {
		mine = row->caller && strcmp(row->caller, pg->r->who.name) == 0;
		json_object_set_new(ev, "lease", pg->r->who.admin || mine ?
				    json_string(row->lease) : json_null());
		json_object_set_new(ev, "owner", text_or_null(row->owner));
		json_object_set_new(ev, "token", json_integer(row->token));
	}
	json_object_set_new(ev, "caller", text_or_null(row->caller));
	json_array_append_new(pg->events, ev);
	pg->last = row->seq;
	pg->count++;
	return 0;
}

/* The filter from the request; -1 after answering bad_request. */
static int parse_filter(struct req *r, struct store_history_filter *f)
{
	const char *since = req_str(r, "since");
	int64_t limit = req_int(r, "limit", HISTORY_LIMIT);

	f->pool = req_str(r, "pool");
	f->resource = req_str(r, "resource");
	f->lease = req_str(r, "lease");
	f->caller = req_str(r, "caller");
	if (limit < 1 || limit > HISTORY_LIMIT_MAX) {
		req_fail(r, POOL_ERR_BAD_REQUEST, "field \"limit\" must be "
			 "1-%d", HISTORY_LIMIT_MAX);
		return -1;
	}
	f->limit = (int)limit + 1;
	if (since && parse_rfc3339(since, &f->since) < 0) {
		req_fail(r, POOL_ERR_BAD_REQUEST, "field \"since\" must be an "
			 "RFC 3339 time such as 2026-01-31T12:00:00Z, not "
			 "\"%s\"", since);
		return -1;
	}
	return op_after_seq(r, &f->after);
}

static enum req_status exec(struct req *r)
{
	struct store_history_filter f = { 0 };
	struct store *st = r->pd->store;
	struct page pg = { .r = r };
	int64_t reached = 0;
	char err[256], next[32];

	if (parse_filter(r, &f) < 0)
		return REQ_DONE;
	/* The batch's own events are written first, so that a history asked
	 * after a change shows it; while another process holds the lock the
	 * committed history is still there to read. With none, no
	 * transaction (nor write lock) is taken at all. */
	if (journal_pending(r->pd) &&
	    journal_write(r->pd, err, sizeof err) == STORE_ERROR) {
		req_fail(r, POOL_ERR_INTERNAL, "could not read the history "
			 "(%s); retry", err);
		return REQ_DONE;
	}
	f.scan = HISTORY_SCAN;
	f.reached = &reached;
	pg.limit = f.limit - 1;
	pg.events = json_array();
	if (st->ops->history_query(st, &f, add_event, &pg, err,
				   sizeof err) < 0) {
		json_decref(pg.events);
		req_fail(r, POOL_ERR_INTERNAL, "could not read the history "
			 "(%s); retry", err);
		return REQ_DONE;
	}
	/* A full page goes on after its last event, a short one after the
	 * rows it looked at. */
	if (!pg.more)
		pg.last = reached;
	snprintf(next, sizeof next, "%lld", (long long)pg.last);
	req_ok(r, json_pack("{s:o, s:o}", "events", pg.events, "next",
			    pg.last > 0 ? json_string(next) : json_null()));
	return REQ_DONE;
}

static const struct field fields[] = {
	{ "pool", F_NAME, false },
	{ "resource", F_RESNAME, false },
	{ "lease", F_STRING, false },
	{ "caller", F_STRING, false },
	{ "since", F_STRING, false },
	{ "limit", F_COUNT, false },
	{ "after", F_ANY, false },
	{ NULL, 0, false },
};
const struct op op_history = { "history", 0, fields, exec };
