/*
 * store-pg.h - the inside of the PostgreSQL store, shared by its files:
 * store-pg.c (connection, schema, the pipeline, transactions, writes),
 * store-pg-read.c (queries and loading) and store-pg-lead.c (leadership).
 * Nothing outside them includes it: the rest of poold sees store.h.
 */
#ifndef POOLD_STORE_PG_H
#define POOLD_STORE_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "store.h"

enum stmt_id {
	S_POOL_PUTS, S_POOL_DELS, S_POOL_DEL, S_POOL_DEL_RES, S_POOL_DEL_LEASES,
	S_RES_PUTS, S_RES_DELS, S_LEASE_PUTS, S_LEASE_DELS, S_LEASE_PURGE,
	S_META_PUT, S_ORPHAN_PUTS, S_ORPHAN_DELS, S_WAITER_PUT, S_WAITER_DEL,
	S_HIST_PUTS,
	S_RES_PAGE, S_RES_PAGE_STATE, S_LEASE_PAGE, S_LEASE_PAGE_POOL,
	S_HIST_PRUNE_AGE, S_HIST_PRUNE_ROWS, S_HIST_QUERY, S_HIST_TAIL,
	S_HIST_BOUNDS,
	S_FENCE, S_LEAD_CLAIM, S_LEAD_WHO, S_LEAD_RELEASE,
	S_COUNT
};

struct pg_store {
	struct store base;    /* first: a struct store * is one of these */
	PGconn *conn;
	char *url;            /* owned; the libpq connection URI */
	char *where;          /* owned; url without its password, for messages */
	struct pgrows *rows;  /* owned; held writes of the transaction */
	bool in_tx;           /* begin() was called */
	bool started;         /* ... and BEGIN sent (at the first write) */
	bool piped;           /* in pipeline mode: answers still to read */
	int sent, answered;   /* statements of the transaction so far */
	int fence_at;         /* the number of its fence, or -1 */
	int commit_at;        /* the number of its COMMIT, or -1 */
	bool failed;          /* a statement of this transaction failed */
	char failure[256];    /* the first failure's message */
	int64_t epoch;        /* the leader row's epoch we hold; 0 = none */
};

static inline struct pg_store *P(struct store *st)
{
	return (struct pg_store *)st;
}

/* Up to 16 parameters as text; NULL is SQL NULL. */
struct params {
	const char *v[16];
	char buf[16][32];
	int n;
};

static inline void p_text(struct params *p, const char *s)
{
	p->v[p->n++] = s;
}

static inline void p_int(struct params *p, int64_t i)
{
	snprintf(p->buf[p->n], sizeof p->buf[p->n], "%lld", (long long)i);
	p->v[p->n] = p->buf[p->n];
	p->n++;
}

static inline void p_double(struct params *p, double d)
{
	snprintf(p->buf[p->n], sizeof p->buf[p->n], "%.17g", d);
	p->v[p->n] = p->buf[p->n];
	p->n++;
}

/* A time; 0 means none and is stored as NULL. */
static inline void p_time(struct params *p, double t)
{
	if (t > 0)
		p_double(p, t);
	else
		p_text(p, NULL);
}

/* Column values of a result row; NULL (or 0) for SQL NULL. */
static inline const char *col(PGresult *res, int row, int i)
{
	return PQgetisnull(res, row, i) ? NULL : PQgetvalue(res, row, i);
}

static inline double col_double(PGresult *res, int row, int i)
{
	return PQgetisnull(res, row, i) ? 0 : strtod(PQgetvalue(res, row, i),
						     NULL);
}

static inline int64_t col_int(PGresult *res, int row, int i)
{
	return PQgetisnull(res, row, i) ? 0 :
		strtoll(PQgetvalue(res, row, i), NULL, 10);
}

/* A store row as SQL values, in the order of its table's columns: one
 * table per row struct serves the writes (params from a row) and the loads
 * (a row from a result), so the two cannot disagree. */
enum pg_kind {
	PG_TEXT,  /* const char *; NULL is SQL NULL */
	PG_INT,   /* int64_t */
	PG_REAL,  /* double */
	PG_TIME,  /* double; 0 (none) is SQL NULL */
	PG_TOKEN, /* int64_t; 0 (none) is SQL NULL */
};
struct pg_field {
	enum pg_kind kind;
	size_t off; /* of the member in the row struct */
};
struct pg_row {
	const struct pg_field *f;
	int n;
};
extern const struct pg_row pg_pool_row, pg_resource_row, pg_lease_row,
	pg_orphan_row, pg_history_row;
/* Appends row's values to p. */
void p_row(struct params *p, const struct pg_row *r, const void *row);
/* Fills row from the result's row i, its columns from first on (the
 * text points into res). */
void col_row(PGresult *res, int i, int first, const struct pg_row *r,
	     void *row);

/* "what: msg" on one line into err. */
void pgs_set_error(char *err, size_t errlen, const char *what,
		   const char *msg);
/* Runs one statement and waits for its answer (after the writes sent or
 * held before it). NULL with err set on failure; else PQclear it. */
PGresult *pgs_run(struct pg_store *st, enum stmt_id id,
		  const struct params *p, char *err, size_t errlen);
/* Reads the answers of the pipeline so far (pending writes) first. */
void pgs_settle(struct pg_store *st);
/* The connection, opened again if it was lost. 0, or -1 with err set. */
int pgs_connected(struct pg_store *st, char *err, size_t errlen);

/* store-pg-read.c */
int pg_resource_page(struct store *base, const char *pool, const char *state,
		     const char *after, int limit, char ***names);
int pg_lease_page(struct store *base, const char *pool, int64_t after,
		  int limit, char ***ids);
int pg_history_query(struct store *base, const struct store_history_filter *f,
		     store_history_fn fn, void *arg, char *err, size_t errlen);
int pg_load(struct store *base, const struct store_loader *ld, char *err,
	    size_t errlen);

/* store-pg-lead.c */
int pg_lead_claim(struct store *base, const char *node, const char *advertise,
		  double stale_after, int64_t *epoch, char *leader,
		  size_t leaderlen, char *err, size_t errlen);
int pg_lead_renew(struct store *base, char *err, size_t errlen);
void pg_lead_release(struct store *base);

#endif
