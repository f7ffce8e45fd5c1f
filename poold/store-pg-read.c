/* store-pg-read.c - the PostgreSQL store's queries and loading (see
 * store-pg.h). A query inside a transaction first sends the writes held
 * and reads their answers, so that it sees them. */
#include "store-pg.h"

#include <string.h>

#include "log.h"
#include "util.h"


static int collect(struct pg_store *st, enum stmt_id id,
		   const struct params *p, char ***out)
{
	char err[256];
	PGresult *res = pgs_run(st, id, p, err, sizeof err);
	char **v;
	int n;

	if (!res) {
		log_error("list query failed: %s", err);
		return STORE_ERROR;
	}
	n = PQntuples(res);
	v = xcalloc((size_t)n + 1, sizeof *v);
	for (int i = 0; i < n; i++)
		v[i] = xstrdup(PQgetvalue(res, i, 0));
	PQclear(res);
	*out = v;
	return n;
}

int pg_resource_page(struct store *base, const char *pool,
			    const char *state, const char *after, int limit,
			    char ***names)
{
	struct params p = { .n = 0 };

	p_text(&p, pool);
	p_text(&p, after ? after : "");
	p_int(&p, limit);
	if (state)
		p_text(&p, state);
	return collect(P(base), state ? S_RES_PAGE_STATE : S_RES_PAGE, &p,
		       names);
}

int pg_lease_page(struct store *base, const char *pool, int64_t after,
			 int limit, char ***ids)
{
	struct params p = { .n = 0 };

	p_int(&p, after);
	p_int(&p, limit);
	if (pool)
		p_text(&p, pool);
	return collect(P(base), pool ? S_LEASE_PAGE_POOL : S_LEASE_PAGE, &p,
		       ids);
}

/* The rows a query looks at: seq in (*from, *upto], at most f->scan of
 * them (0 = all) from the first row at or after f->since and after
 * f->after; f->reached as in store.h. 0, or -1 with err set. */
static int history_window(struct pg_store *st,
			  const struct store_history_filter *f, int64_t *from,
			  int64_t *upto, char *err, size_t errlen)
{
	struct params p = { .n = 0 };
	PGresult *res;
	int64_t lo, hi, since;

	p_time(&p, f->since);
	res = pgs_run(st, S_HIST_BOUNDS, &p, err, errlen);
	if (!res)
		return -1;
	lo = col_int(res, 0, 0);
	hi = col_int(res, 0, 1);
	/* no row at or after since: the window is empty */
	since = f->since > 0 ? (PQgetisnull(res, 0, 2) ? hi :
				col_int(res, 0, 2) - 1) : 0;
	PQclear(res);
	*from = f->after > since ? f->after : since;
	if (*from < lo - 1) /* pruned: start at the oldest row left */
		*from = lo - 1;
	*upto = f->scan > 0 && *from < hi - f->scan ? *from + f->scan : hi;
	if (f->reached)
		*f->reached = *upto < hi ? *upto : 0;
	return 0;
}

int pg_history_query(struct store *base,
			    const struct store_history_filter *f,
			    store_history_fn fn, void *arg, char *err,
			    size_t errlen)
{
	struct params p = { .n = 0 };
	PGresult *res;
	int64_t from, upto;
	int n;

	if (history_window(P(base), f, &from, &upto, err, errlen) < 0)
		return STORE_ERROR;
	if (f->tail) { /* only the newest limit rows */
		p_int(&p, f->limit);
		if (!(res = pgs_run(P(base), S_HIST_TAIL, &p, err, errlen)))
			return STORE_ERROR;
		if (PQntuples(res) == 1 && col_int(res, 0, 0) > from)
			from = col_int(res, 0, 0);
		PQclear(res);
		p.n = 0;
	}
	p_int(&p, from);
	p_text(&p, f->pool);
	p_text(&p, f->resource);
	p_text(&p, f->lease);
	p_text(&p, f->caller);
	p_time(&p, f->since);
	p_int(&p, f->limit);
	p_int(&p, upto);
	res = pgs_run(P(base), S_HIST_QUERY, &p, err, errlen);
	if (!res)
		return STORE_ERROR;
	n = PQntuples(res);
	for (int i = 0; i < n; i++) {
		struct store_history_row row = { .seq = col_int(res, i, 0) };

		col_row(res, i, 1, &pg_history_row, &row);
		if (fn(arg, &row) != 0) {
			n = i + 1;
			break;
		}
	}
	PQclear(res);
	return n;
}

/* ---- loading ----------------------------------------------------------- */

typedef int (*row_fn)(const struct store_loader *ld, PGresult *res,
		      char *err, size_t errlen);

/* Runs sql and calls row() for each row, a row at a time (a million
 * resources are never all in memory twice). 0, or -1 with err set. */
static int each_row(struct pg_store *st, const char *sql,
		    const struct store_loader *ld, row_fn row, char *err,
		    size_t errlen)
{
	PGresult *res;
	int rc = 0;

	if (!PQsendQuery(st->conn, sql) || !PQsetSingleRowMode(st->conn)) {
		pgs_set_error(err, errlen, st->where, PQerrorMessage(st->conn));
		return -1;
	}
	while ((res = PQgetResult(st->conn))) {
		ExecStatusType s = PQresultStatus(res);

		if (rc == 0 && s == PGRES_SINGLE_TUPLE)
			rc = row(ld, res, err, errlen);
		else if (rc == 0 && s != PGRES_TUPLES_OK &&
			 s != PGRES_SINGLE_TUPLE) {
			pgs_set_error(err, errlen, st->where,
				  PQresultErrorMessage(res));
			rc = -1;
		}
		PQclear(res); /* the rest is read and dropped after a failure */
	}
	return rc;
}

static int row_meta(const struct store_loader *ld, PGresult *res, char *err,
		    size_t errlen)
{
	struct store_meta_row row = { col(res, 0, 0), col_int(res, 0, 1) };

	return ld->meta(ld->arg, &row, err, errlen);
}

static int row_pool(const struct store_loader *ld, PGresult *res, char *err,
		    size_t errlen)
{
	struct store_pool_row row;

	col_row(res, 0, 0, &pg_pool_row, &row);
	return ld->pool(ld->arg, &row, err, errlen);
}

static int row_resource(const struct store_loader *ld, PGresult *res,
			char *err, size_t errlen)
{
	struct store_resource_row row;

	col_row(res, 0, 0, &pg_resource_row, &row);
	return ld->resource(ld->arg, &row, err, errlen);
}

static int row_lease(const struct store_loader *ld, PGresult *res, char *err,
		     size_t errlen)
{
	struct store_lease_row row;

	col_row(res, 0, 0, &pg_lease_row, &row);
	return ld->lease(ld->arg, &row, err, errlen);
}

static int row_orphan(const struct store_loader *ld, PGresult *res,
		      char *err, size_t errlen)
{
	struct store_orphan_row row;

	col_row(res, 0, 0, &pg_orphan_row, &row);
	return ld->orphan(ld->arg, &row, err, errlen);
}

static int row_waiter(const struct store_loader *ld, PGresult *res,
		      char *err, size_t errlen)
{
	struct store_waiter_row row = {
		.seq = col_int(res, 0, 0), .caller = col(res, 0, 1),
		.request_id = col(res, 0, 2), .pool = col(res, 0, 3),
		.mode = col(res, 0, 4), .name = col(res, 0, 5),
		.match = col(res, 0, 6), .ends_at = col_double(res, 0, 7),
	};

	return ld->waiter(ld->arg, &row, err, errlen);
}

/* Resources come in SQLite's order: NULL last_used_at first. */
int pg_load(struct store *base, const struct store_loader *ld,
		   char *err, size_t errlen)
{
	struct pg_store *st = P(base);

	pgs_settle(st);
	if (!st->in_tx && pgs_connected(st, err, errlen) < 0)
		return -1;
	return each_row(st, "SELECT key, value FROM meta", ld, row_meta, err,
			errlen) ||
	       each_row(st, "SELECT name, settings, created_at FROM pools",
			ld, row_pool, err, errlen) ||
	       each_row(st, "SELECT pool, name, state, descriptor, version, "
			"created_at, last_used_at, lease_count FROM resources "
			"ORDER BY pool, last_used_at NULLS FIRST, name", ld,
			row_resource, err, errlen) ||
	       each_row(st, "SELECT seq, id, pool, resource, mode, token, "
			"owner, caller, bind, conn_id, ttl, acquired_at, "
			"expires_at, request_id, expired_at FROM leases ORDER "
			"BY seq", ld, row_lease, err, errlen) ||
	       each_row(st, "SELECT id, pool, name, descriptor, destroy, since "
			"FROM orphans ORDER BY id", ld, row_orphan, err,
			errlen) ||
	       (ld->waiter && each_row(st, "SELECT seq, caller, request_id, "
			"pool, mode, name, match, ends_at FROM waiters ORDER BY "
			"seq", ld, row_waiter, err, errlen)) ? -1 : 0;
}
