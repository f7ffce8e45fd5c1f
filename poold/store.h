/*
 * store.h - the durable copy of poold's state, behind an interface that a
 * second backend can implement (the pattern of SQLite's sqlite3_vfs: a small
 * table of functions a new file fills in). Nothing here knows pools, leases
 * or SQLite: rows are plain structs of strings and numbers, errors are an
 * int and a message.
 *
 * The journal (journal.c) is the only writer: it opens a transaction with
 * begin(), writes the batch's rows with the put/delete functions, appends
 * its history, and commit()s before any effect of the batch leaves the
 * daemon. Writes are sticky: after the first failed write the later ones
 * are skipped and commit() fails, after which the database is as before
 * begin(). state.c turns loaded rows into objects.
 *
 * Times are Unix epoch seconds; 0 means "none" (stored as NULL). Strings
 * are borrowed for the call; NULL is NULL.
 */
#ifndef POOLD_STORE_H
#define POOLD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Results of the functions that return int. */
enum {
	STORE_OK = 0,
	STORE_ERROR = -1, /* anything else; the message says what */
	STORE_BUSY = -2,  /* another process holds the write lock: retry */
};

struct store_config {
	const char *path;    /* to store_open(): a --store URL (see there);
			      * to a backend's open(): its path or URL */
	bool sync_full;      /* survive a power loss, not only a crash */
	int64_t max_bytes;   /* 0 = no limit; past it writes fail (as full) */
};

struct store_pool_row {
	const char *name;
	const char *settings; /* JSON object text: every setting and state */
	double created_at;
};

struct store_resource_row {
	const char *pool, *name;
	const char *state;      /* creating|free|leased|cleaning|destroying */
	const char *descriptor; /* JSON object text */
	int64_t version;
	double created_at, last_used_at;
	int64_t lease_count;
};

struct store_lease_row {
	int64_t seq;            /* grant order, the key */
	const char *id, *pool, *resource;
	const char *mode;       /* pop|checkout */
	int64_t token;
	const char *owner, *caller;
	const char *bind;       /* none|connection */
	int64_t conn_id;
	double ttl, acquired_at, expires_at;
	const char *request_id;
	double expired_at;      /* 0 while live; else when its TTL ended it */
};

struct store_orphan_row {
	int64_t id;
	const char *pool, *name, *descriptor;
	const char *destroy;    /* the destroy command object, JSON text */
	double since;
};

struct store_meta_row {
	const char *key;        /* "next_token" */
	int64_t value;
};

struct store_history_row {
	int64_t seq;            /* given by the store on append, rising */
	double at;
	const char *event, *pool, *resource, *lease, *caller, *owner;
	int64_t token;          /* 0 = none */
	const char *detail;     /* JSON text or NULL */
};

/* A waiting request that keeps its place in its pool's queue across a
 * restart or a failover (wait.c). */
struct store_waiter_row {
	int64_t seq;            /* its order in the queue, the key */
	const char *caller, *request_id, *pool;
	const char *mode;       /* pop|checkout */
	const char *name;       /* checkout by name, or NULL */
	const char *match;      /* checkout by match (JSON text), or NULL */
	double ends_at;         /* when its wait ends (wall clock) */
};

/* What a history query wants; NULL / 0 fields do not filter. */
struct store_history_filter {
	const char *pool, *resource, *lease, *caller;
	double since;
	int64_t after;          /* seq of the last row of the previous page */
	int limit;
	bool tail;              /* only the newest limit rows (the dashboard) */
	/* Looks at most scan seqs after the start (0 = no bound), so that a
	 * filter matching few rows never reads the whole table in one call
	 * (the filters have no index: each would cost every commit). */
	int64_t scan;
	/* If not NULL, set to the last seq looked at when rows beyond it
	 * were left unread, else to 0 (the newest row was reached). */
	int64_t *reached;
};

/* load() calls these for every row, in this order: meta, pools, resources
 * (by pool, last_used_at, name), leases (by seq), orphans (by id), waiters
 * (by seq; skipped when the callback is NULL). A
 * callback returns 0, or -1 after writing a message to err; load() then
 * stops and fails. */
struct store_loader {
	void *arg;
	int (*meta)(void *arg, const struct store_meta_row *row, char *err,
		    size_t errlen);
	int (*pool)(void *arg, const struct store_pool_row *row, char *err,
		    size_t errlen);
	int (*resource)(void *arg, const struct store_resource_row *row,
			char *err, size_t errlen);
	int (*lease)(void *arg, const struct store_lease_row *row, char *err,
		     size_t errlen);
	int (*orphan)(void *arg, const struct store_orphan_row *row, char *err,
		      size_t errlen);
	int (*waiter)(void *arg, const struct store_waiter_row *row, char *err,
		      size_t errlen);
};

typedef int (*store_history_fn)(void *arg, const struct store_history_row *row);

struct store;

struct store_ops {
	const char *name;
	/* Opens (creating if needed), locks for this process alone, and
	 * migrates. NULL with a message in err. */
	struct store *(*open)(const struct store_config *cfg, char *err,
			      size_t errlen);
	void (*close)(struct store *st);

	/* Transactions. begin: STORE_OK, STORE_BUSY (nothing started: retry
	 * later) or STORE_ERROR. commit: STORE_OK, or STORE_ERROR with a
	 * message, after which the transaction is rolled back. */
	int (*begin)(struct store *st, char *err, size_t errlen);
	int (*commit)(struct store *st, char *err, size_t errlen);
	void (*rollback)(struct store *st);
	bool (*in_tx)(const struct store *st);

	/* Writes, inside a transaction; sticky errors (see above). */
	int (*pool_put)(struct store *st, const struct store_pool_row *row);
	/* Deletes the pool with its resources and leases. */
	int (*pool_delete)(struct store *st, const char *name);
	int (*resource_put)(struct store *st,
			    const struct store_resource_row *row);
	int (*resource_delete)(struct store *st, const char *pool,
			       const char *name);
	int (*lease_put)(struct store *st, const struct store_lease_row *row);
	int (*lease_delete)(struct store *st, int64_t seq);
	/* Deletes ended leases whose expired_at is before the time. */
	int (*leases_purge)(struct store *st, double before);
	int (*orphan_put)(struct store *st, const struct store_orphan_row *row);
	int (*orphan_delete)(struct store *st, int64_t id);
	int (*meta_put)(struct store *st, const struct store_meta_row *row);
	int (*waiter_put)(struct store *st, const struct store_waiter_row *row);
	int (*waiter_delete)(struct store *st, int64_t seq);
	/* Appends n rows in order; seq is ignored, the store numbers rows
	 * itself. */
	int (*history_append)(struct store *st,
			      const struct store_history_row *rows, size_t n);
	/* Deletes at most step rows older than before, or beyond the newest
	 * max_rows (0 = no limit). The count deleted, or STORE_ERROR. */
	int (*history_prune)(struct store *st, double before, int64_t max_rows,
			     int step);

	/* Reads. They see the open transaction's own writes. */
	int (*load)(struct store *st, const struct store_loader *ld,
		    char *err, size_t errlen);
	/* Names of a pool's resources after `after` in name order (state NULL
	 * = any), or ids of live leases with seq > after in seq order (pool
	 * NULL = any). The count, or STORE_ERROR; free with store_page_free. */
	int (*resource_page)(struct store *st, const char *pool,
			     const char *state, const char *after, int limit,
			     char ***names);
	int (*lease_page)(struct store *st, const char *pool, int64_t after,
			  int limit, char ***ids);
	/* Calls fn for each matching row, oldest first; fn returns non-zero
	 * to stop. The count of rows given, or STORE_ERROR with err set. */
	int (*history_query)(struct store *st,
			     const struct store_history_filter *f,
			     store_history_fn fn, void *arg, char *err,
			     size_t errlen);

	/* Whether the store would take a batch now, without waiting:
	 * STORE_OK, or STORE_BUSY / STORE_ERROR with a message (/healthz). */
	int (*ping)(struct store *st, char *err, size_t errlen);

	/* Optional (NULL: a commit is on disk when commit() returns). SQLite
	 * at --sync full: commit() returns once the batch is in the WAL, and
	 * sync_ask() makes every commit so far durable with an fsync, in a
	 * thread (behind) or before it returns; sync_fd() is readable when
	 * it has ended and sync_end() says whether it has (1), not yet (0) or
	 * failed (-1, err set); with wait it blocks until then. One at a time.
	 * sync_fd() is -1 when commits are durable (or as durable as --sync
	 * says) on return. */
	int (*sync_fd)(struct store *st);
	void (*sync_ask)(struct store *st, bool behind);
	int (*sync_end)(struct store *st, bool wait, char *err, size_t errlen);

	/* Housekeeping outside any transaction (the WAL, for SQLite). */
	void (*checkpoint)(struct store *st);

	/* Leadership among front ends sharing one database (leader.c); NULL
	 * where the store has one writer by construction (SQLite's flock).
	 * claim: takes the leader row if it is free, not renewed for
	 * stale_after seconds by the database's clock, or held under the
	 * same advertised address (this front end, restarted). STORE_OK with
	 * the new *epoch: from then on begin() fails unless the row still
	 * holds it (the fence). STORE_BUSY: another front end leads; leader
	 * gets its address ("" if none). STORE_ERROR with err set. */
	int (*lead_claim)(struct store *st, const char *node,
			  const char *advertise, double stale_after,
			  int64_t *epoch, char *leader, size_t leaderlen,
			  char *err, size_t errlen);
	/* STORE_OK, or STORE_ERROR: superseded, or the database is out of
	 * reach (err says which). */
	int (*lead_renew)(struct store *st, char *err, size_t errlen);
	/* A clean stop: the row is left free for a standby at once. */
	void (*lead_release)(struct store *st);
	/* Optional (NULL: the backend cannot, and the backup op says so): a
	 * consistent copy of the committed state into path, a new file (an
	 * existing one is refused), made outside any transaction. STORE_OK,
	 * STORE_BUSY (a transaction is open: retry) or STORE_ERROR, with a
	 * message in err. */
	int (*backup)(struct store *st, const char *path, char *err,
		      size_t errlen);
};

/* Every backend's handle starts with this. */
struct store {
	const struct store_ops *ops;
	/* Called (if set) when a transaction finds leadership taken by
	 * another front end (see lead_claim), so that leader.c steps down at
	 * once rather than at its next renewal. */
	void (*deposed)(void *arg);
	void *deposed_arg;
};

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;   /* store-pg.c, with libpq */

/* Opens the store that cfg->path names: "sqlite:PATH", a plain PATH (also
 * SQLite), or a libpq URI "postgresql://..." / "postgres://...". */
struct store *store_open(const struct store_config *cfg, char *err,
			 size_t errlen);
void store_close(struct store *st);   /* NULL is a no-op */
/* A store URL as it may be logged: a password in it becomes "***" (both
 * user:password@ and password=). Free the result. */
char *store_redact(const char *url);
/* The schema version the SQLite migrations in schema/ lead to. */
int store_schema_version(void);
/* The same for schema/postgresql/. */
int store_pg_schema_version(void);
void store_page_free(char **page, int n);

#endif
