/*
 * store.c - all of poold's SQL (with schema/). Statements are prepared once;
 * writes go into one transaction opened by the first write of a batch and
 * closed by store_commit() before any reply of that batch is sent.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "lease.h"
#include "log.h"
#include "pool.h"
#include "provision.h"
#include "poold.h"
#include "schema.h"
#include "util.h"

enum stmt_id {
	S_BEGIN, S_COMMIT, S_ROLLBACK,
	S_POOL_PUT, S_POOL_DEL, S_POOL_DEL_RES, S_POOL_DEL_LEASES,
	S_RES_PUT, S_RES_DEL,
	S_LEASE_PUT, S_LEASE_DEL, S_LEASE_PURGE,
	S_TOKEN_PUT, S_ORPHAN_PUT, S_ORPHAN_DEL,
	S_RES_PAGE, S_RES_PAGE_STATE, S_LEASE_PAGE, S_LEASE_PAGE_POOL,
	S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_POOL_PUT] = "INSERT OR REPLACE INTO pools (name, settings, "
		"created_at) VALUES (?1, ?2, ?3)",
	[S_POOL_DEL] = "DELETE FROM pools WHERE name = ?1",
	[S_POOL_DEL_RES] = "DELETE FROM resources WHERE pool = ?1",
	[S_POOL_DEL_LEASES] = "DELETE FROM leases WHERE pool = ?1",
	[S_RES_PUT] = "INSERT OR REPLACE INTO resources (pool, name, state, "
		"descriptor, version, created_at, last_used_at, lease_count) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[S_RES_DEL] = "DELETE FROM resources WHERE pool = ?1 AND name = ?2",
	[S_LEASE_PUT] = "INSERT OR REPLACE INTO leases (seq, id, pool, "
		"resource, mode, token, owner, caller, bind, conn_id, ttl, "
		"acquired_at, expires_at, request_id, expired_at) VALUES (?1, "
		"?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
	[S_LEASE_DEL] = "DELETE FROM leases WHERE seq = ?1",
	[S_LEASE_PURGE] = "DELETE FROM leases WHERE expired_at < ?1",
	[S_TOKEN_PUT] = "UPDATE meta SET value = ?1 WHERE key = 'next_token'",
	[S_ORPHAN_PUT] = "INSERT INTO orphans (id, pool, name, descriptor, "
		"destroy, since) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[S_ORPHAN_DEL] = "DELETE FROM orphans WHERE id = ?1",
	[S_RES_PAGE] = "SELECT name FROM resources WHERE pool = ?1 AND "
		"name > ?2 ORDER BY name LIMIT ?3",
	[S_RES_PAGE_STATE] = "SELECT name FROM resources WHERE pool = ?1 AND "
		"state = ?4 AND name > ?2 ORDER BY name LIMIT ?3",
	[S_LEASE_PAGE] = "SELECT id FROM leases WHERE expired_at IS NULL AND "
		"seq > ?1 ORDER BY seq LIMIT ?2",
	[S_LEASE_PAGE_POOL] = "SELECT id FROM leases WHERE expired_at IS NULL "
		"AND pool = ?3 AND seq > ?1 ORDER BY seq LIMIT ?2",
};

struct store {
	sqlite3 *db;
	int lock_fd;         /* flock()ed: one poold per database */
	sqlite3_stmt *stmt[S_COUNT];
	bool in_tx;
	int failed;          /* SQLite code of the first failed write, or 0 */
	char failure[256];   /* its message */
};

/* ---- opening and migrating --------------------------------------------- */

int store_schema_version(void)
{
	return schema_migrations[schema_migration_count - 1].version;
}

static int exec_sql(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	return -1;
}

static int user_version(sqlite3 *db)
{
	sqlite3_stmt *st;
	int v = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) ==
	    SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Applies each migration newer than the database, each in a transaction
 * that also records its number. */
static int migrate(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	int have = user_version(db), latest = store_schema_version();
	char sql[64], why[256];

	if (have > latest) {
		snprintf(err, errlen, "database %s has schema version %d, newer "
			 "than this poold knows (%d): upgrade poold, or use "
			 "another --db", path, have, latest);
		return -1;
	}
	for (size_t i = 0; i < schema_migration_count; i++) {
		const struct schema_migration *m = &schema_migrations[i];

		if (m->version <= have)
			continue;
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", m->version);
		if (exec_sql(db, "BEGIN", why, sizeof why) < 0 ||
		    exec_sql(db, m->sql, why, sizeof why) < 0 ||
		    exec_sql(db, sql, why, sizeof why) < 0 ||
		    exec_sql(db, "COMMIT", why, sizeof why) < 0) {
			exec_sql(db, "ROLLBACK", sql, sizeof sql);
			snprintf(err, errlen, "migration %03d of %s failed: %s",
				 m->version, path, why);
			return -1;
		}
		log_info("database %s migrated to schema version %d", path,
			 m->version);
	}
	return 0;
}

/* Two daemons on one database would each think they own every lease. SQLite's
 * own locks are per transaction, so poold holds an flock() on the file for
 * its whole life (flock and SQLite's fcntl locks do not interact). */
static int lock_database(struct store *st, const char *path, char *err,
			 size_t errlen)
{
	st->lock_fd = open(path, O_RDWR | O_CLOEXEC);
	if (st->lock_fd < 0) {
		snprintf(err, errlen, "cannot open database %s: %s", path,
			 strerror(errno));
		return -1;
	}
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "database %s is in use by another poold; "
			 "stop it first or use another --db", path);
		return -1;
	}
	return 0;
}

/* --max-db-size: past it a write fails with SQLITE_FULL, as on a full
 * disk, and the batch fails cleanly. */
static int limit_size(sqlite3 *db, int64_t max_bytes, char *err,
		      size_t errlen)
{
	char sql[80];

	if (max_bytes <= 0)
		return 0;
	snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld",
		 (long long)(max_bytes / 4096 > 0 ? max_bytes / 4096 : 1));
	return exec_sql(db, sql, err, errlen);
}

void store_checkpoint(struct store *st)
{
	int log = 0, done = 0;

	if (st->in_tx)
		return;
	if (sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
				      &log, &done) != SQLITE_OK)
		log_warn("WAL checkpoint failed: %s", sqlite3_errmsg(st->db));
}

struct store *store_open(const char *path, bool sync_full,
			 int64_t max_bytes, char *err, size_t errlen)
{
	struct store *st = xcalloc(1, sizeof *st);
	char why[256];

	st->lock_fd = -1;
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE |
			    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "cannot open database %s: %s", path,
			 st->db ? sqlite3_errmsg(st->db) : "out of memory");
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	if (lock_database(st, path, err, errlen) < 0)
		goto fail;
	/* WAL + NORMAL: a commit survives a crash of the daemon; FULL also
	 * fsyncs the WAL at every commit, so it survives a power loss (see
	 * docs/reliability.md). Locking stays NORMAL although poold is the
	 * only writer (it holds the flock): EXCLUSIVE would save a few lock
	 * calls per commit, but would lock out readers such as `sqlite3
	 * .backup` of the live database. The janitor checkpoints the WAL
	 * outside of any request (store_checkpoint), not inside a commit. */
	snprintf(why, sizeof why, "PRAGMA journal_mode = WAL; PRAGMA "
		 "synchronous = %s; PRAGMA wal_autocheckpoint = 0; PRAGMA "
		 "busy_timeout = 2000", sync_full ? "FULL" : "NORMAL");
	if (exec_sql(st->db, why, why, sizeof why) < 0 ||
	    limit_size(st->db, max_bytes, why, sizeof why) < 0) {
		snprintf(err, errlen, "cannot use database %s: %s (is the "
			 "file and its directory writable?)", path, why);
		goto fail;
	}
	if (migrate(st->db, path, err, errlen) < 0)
		goto fail;
	for (int i = 0; i < S_COUNT; i++) {
		if (sqlite3_prepare_v3(st->db, stmt_sql[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &st->stmt[i],
				       NULL) != SQLITE_OK) {
			snprintf(err, errlen, "database %s: %s", path,
				 sqlite3_errmsg(st->db));
			goto fail;
		}
	}
	return st;
fail:
	store_close(st);
	return NULL;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	sqlite3_close(st->db);
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	free(st);
}

/* ---- writes ------------------------------------------------------------ */

/* Returns the statement ready for binding inside the open transaction, or
 * NULL if an earlier write of this batch failed. */
static sqlite3_stmt *write_begin(struct store *st, enum stmt_id id)
{
	if (st->failed)
		return NULL;
	if (!st->in_tx) {
		sqlite3_stmt *b = st->stmt[S_BEGIN];
		int rc = sqlite3_step(b);

		sqlite3_reset(b);
		if (rc != SQLITE_DONE) {
			st->failed = rc;
			snprintf(st->failure, sizeof st->failure, "BEGIN: %s",
				 sqlite3_errmsg(st->db));
			return NULL;
		}
		st->in_tx = true;
	}
	return st->stmt[id];
}

static void write_end(struct store *st, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	if (rc != SQLITE_DONE && !st->failed) {
		st->failed = rc;
		snprintf(st->failure, sizeof st->failure, "%s",
			 sqlite3_errmsg(st->db));
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

static void bind_json(sqlite3_stmt *s, int i, json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	sqlite3_bind_text(s, i, text, -1, free);
}

static void bind_time(sqlite3_stmt *s, int i, double t)
{
	if (t > 0)
		sqlite3_bind_double(s, i, t);
	else
		sqlite3_bind_null(s, i);
}

void store_pool_put(struct store *st, const struct pool *p)
{
	sqlite3_stmt *s = write_begin(st, S_POOL_PUT);
	json_t *settings;

	if (!s)
		return;
	settings = pool_to_json(p);
	bind_text(s, 1, p->name);
	bind_json(s, 2, settings);
	sqlite3_bind_double(s, 3, p->created_at);
	write_end(st, s);
	json_decref(settings);
}

void store_pool_delete(struct store *st, const char *name)
{
	static const enum stmt_id ids[] = { S_POOL_DEL_LEASES, S_POOL_DEL_RES,
					    S_POOL_DEL };

	for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
		sqlite3_stmt *s = write_begin(st, ids[i]);

		if (!s)
			return;
		bind_text(s, 1, name);
		write_end(st, s);
	}
}

void store_resource_put(struct store *st, const struct resource *r)
{
	sqlite3_stmt *s = write_begin(st, S_RES_PUT);

	if (!s)
		return;
	bind_text(s, 1, r->pool->name);
	bind_text(s, 2, r->name);
	bind_text(s, 3, res_state_name(r->state));
	bind_text(s, 4, r->descriptor);
	sqlite3_bind_int64(s, 5, r->version);
	sqlite3_bind_double(s, 6, r->created_at);
	bind_time(s, 7, r->last_used_at);
	sqlite3_bind_int64(s, 8, r->lease_count);
	write_end(st, s);
}

void store_resource_delete(struct store *st, const struct resource *r)
{
	sqlite3_stmt *s = write_begin(st, S_RES_DEL);

	if (!s)
		return;
	bind_text(s, 1, r->pool->name);
	bind_text(s, 2, r->name);
	write_end(st, s);
}

void store_lease_put(struct store *st, const struct lease *l)
{
	sqlite3_stmt *s = write_begin(st, S_LEASE_PUT);

	if (!s)
		return;
	sqlite3_bind_int64(s, 1, l->seq);
	bind_text(s, 2, l->id);
	bind_text(s, 3, l->pool);
	bind_text(s, 4, l->res_name);
	bind_text(s, 5, l->mode == MODE_POP ? "pop" : "checkout");
	sqlite3_bind_int64(s, 6, l->token);
	bind_text(s, 7, l->owner);
	bind_text(s, 8, l->caller);
	bind_text(s, 9, l->bind_conn ? "connection" : "none");
	sqlite3_bind_int64(s, 10, (sqlite3_int64)l->conn_id);
	sqlite3_bind_double(s, 11, l->ttl);
	sqlite3_bind_double(s, 12, l->acquired_at);
	/* An ended lease has no resource; its expires_at is when it ended. */
	bind_time(s, 13, l->res ? l->expires_at : 0);
	bind_text(s, 14, l->request_id);
	bind_time(s, 15, l->res ? 0 : l->expires_at);
	write_end(st, s);
}

void store_lease_delete(struct store *st, const struct lease *l)
{
	sqlite3_stmt *s = write_begin(st, S_LEASE_DEL);

	if (!s)
		return;
	sqlite3_bind_int64(s, 1, l->seq);
	write_end(st, s);
}

void store_leases_purge_expired(struct store *st, double before)
{
	sqlite3_stmt *s = write_begin(st, S_LEASE_PURGE);

	if (!s)
		return;
	sqlite3_bind_double(s, 1, before);
	write_end(st, s);
}

void store_token_put(struct store *st, int64_t next_token)
{
	sqlite3_stmt *s = write_begin(st, S_TOKEN_PUT);

	if (!s)
		return;
	sqlite3_bind_int64(s, 1, next_token);
	write_end(st, s);
}

void store_orphan_put(struct store *st, int64_t id, const char *pool,
		      const char *name, const char *descriptor, json_t *destroy,
		      double since)
{
	sqlite3_stmt *s = write_begin(st, S_ORPHAN_PUT);

	if (!s)
		return;
	sqlite3_bind_int64(s, 1, id);
	bind_text(s, 2, pool);
	bind_text(s, 3, name);
	bind_text(s, 4, descriptor);
	bind_json(s, 5, destroy);
	sqlite3_bind_double(s, 6, since);
	write_end(st, s);
}

void store_orphan_delete(struct store *st, int64_t id)
{
	sqlite3_stmt *s = write_begin(st, S_ORPHAN_DEL);

	if (!s)
		return;
	sqlite3_bind_int64(s, 1, id);
	write_end(st, s);
}

bool store_in_tx(const struct store *st)
{
	return st->in_tx || st->failed;
}

static int step_simple(struct store *st, enum stmt_id id)
{
	sqlite3_stmt *s = st->stmt[id];
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : rc;
}

int store_commit(struct store *st, char *err, size_t errlen)
{
	int rc = st->failed;

	if (!rc && st->in_tx && (rc = step_simple(st, S_COMMIT)) != 0)
		snprintf(st->failure, sizeof st->failure, "%s",
			 sqlite3_errmsg(st->db));
	if (rc) {
		snprintf(err, errlen, "%s%s", st->failure,
			 (rc & 0xff) == SQLITE_FULL ? " (the disk, or --max-db-size, is full)" : "");
		if (sqlite3_get_autocommit(st->db) == 0)
			step_simple(st, S_ROLLBACK);
	}
	st->in_tx = false;
	st->failed = 0;
	return rc ? -1 : 0;
}

/* ---- reads ------------------------------------------------------------- */

static char *column_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? xstrdup((const char *)t) : NULL;
}

static json_t *column_json(sqlite3_stmt *s, int i)
{
	const char *t = (const char *)sqlite3_column_text(s, i);

	return t ? json_loads(t, JSON_DECODE_ANY, NULL) : NULL;
}

static int collect(struct store *st, sqlite3_stmt *s, char ***out)
{
	int n = 0, cap = 16, rc;
	char **v = xcalloc((size_t)cap, sizeof *v);

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap *= 2;
			v = realloc(v, (size_t)cap * sizeof *v);
			if (!v)
				abort();
		}
		v[n++] = column_text(s, 0);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_DONE) {
		log_error("list query failed: %s", sqlite3_errmsg(st->db));
		store_page_free(v, n);
		return -1;
	}
	*out = v;
	return n;
}

void store_page_free(char **page, int n)
{
	for (int i = 0; i < n; i++)
		free(page[i]);
	free(page);
}

int store_resource_page(struct store *st, const char *pool, const char *state,
			const char *after, int limit, char ***names)
{
	sqlite3_stmt *s = st->stmt[state ? S_RES_PAGE_STATE : S_RES_PAGE];

	bind_text(s, 1, pool);
	bind_text(s, 2, after ? after : "");
	sqlite3_bind_int(s, 3, limit);
	if (state)
		bind_text(s, 4, state);
	return collect(st, s, names);
}

int store_lease_page(struct store *st, const char *pool, int64_t after,
		     int limit, char ***ids)
{
	sqlite3_stmt *s = st->stmt[pool ? S_LEASE_PAGE_POOL : S_LEASE_PAGE];

	sqlite3_bind_int64(s, 1, after);
	sqlite3_bind_int(s, 2, limit);
	if (pool)
		bind_text(s, 3, pool);
	return collect(st, s, ids);
}

/* ---- loading ----------------------------------------------------------- */

/* Runs sql and calls row() for each row; 0, or -1 with err set. */
static int each_row(struct store *st, const char *sql, struct poold *pd,
		    int (*row)(struct poold *, sqlite3_stmt *, char *, size_t),
		    char *err, size_t errlen)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(st->db));
		return -1;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (row(pd, s, err, errlen) < 0)
			break;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		snprintf(err, errlen, "%s", sqlite3_errmsg(st->db));
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int load_pool(struct poold *pd, sqlite3_stmt *s, char *err,
		     size_t errlen)
{
	const char *name = (const char *)sqlite3_column_text(s, 0);
	json_t *o = column_json(s, 1);
	const char *state = json_string_value(json_object_get(o, "state"));
	struct pool_settings set;
	int rc;

	pool_settings_init(&set);
	rc = state ? pool_settings_apply(&set, o, err, errlen) : -1;
	if (rc == 0)
		pool_attach(pd, name, &set, strcmp(state, "draining") == 0,
			    json_is_true(json_object_get(o, "declared")),
			    sqlite3_column_double(s, 2));
	else
		snprintf(err, errlen, "pool %s: stored settings unreadable",
			 name);
	pool_settings_clear(&set);
	json_decref(o);
	return rc;
}

static int load_resource(struct poold *pd, sqlite3_stmt *s, char *err,
			 size_t errlen)
{
	const char *pool = (const char *)sqlite3_column_text(s, 0);
	const char *name = (const char *)sqlite3_column_text(s, 1);
	struct pool *p = pool_find(pd, pool);
	char *desc = column_text(s, 3);
	enum res_state state;

	/* Only its shape is checked: parsing a million descriptors would
	 * slow every start; resource_descriptor() copes with a bad one. */
	if (!p || !desc || desc[0] != '{' ||
	    res_state_parse((const char *)sqlite3_column_text(s, 2), &state)) {
		snprintf(err, errlen, "resource %s/%s: stored row unreadable",
			 pool, name);
		free(desc);
		return -1;
	}
	resource_attach(p, name, desc, state, sqlite3_column_int64(s, 4),
			sqlite3_column_double(s, 5), sqlite3_column_double(s, 6),
			sqlite3_column_int64(s, 7));
	return 0;
}

static int load_lease(struct poold *pd, sqlite3_stmt *s, char *err,
		      size_t errlen)
{
	struct lease *l = xcalloc(1, sizeof *l);
	struct pool *p;
	struct resource *r;

	l->seq = sqlite3_column_int64(s, 0);
	snprintf(l->id, sizeof l->id, "%s", sqlite3_column_text(s, 1));
	l->pool = column_text(s, 2);
	l->res_name = column_text(s, 3);
	l->mode = strcmp((const char *)sqlite3_column_text(s, 4), "pop") == 0 ?
		MODE_POP : MODE_CHECKOUT;
	l->token = sqlite3_column_int64(s, 5);
	l->owner = column_text(s, 6);
	l->caller = column_text(s, 7);
	l->bind_conn = strcmp((const char *)sqlite3_column_text(s, 8),
			      "connection") == 0;
	l->conn_id = (uint64_t)sqlite3_column_int64(s, 9);
	l->ttl = sqlite3_column_double(s, 10);
	l->acquired_at = sqlite3_column_double(s, 11);
	l->expires_at = sqlite3_column_double(s, 12);
	l->request_id = column_text(s, 13);
	if (l->request_id)
		l->rid_key = request_id_key(l->caller, l->request_id);
	if (sqlite3_column_type(s, 14) != SQLITE_NULL) {
		l->expires_at = sqlite3_column_double(s, 14);
		lease_attach_expired(pd, l);
		return 0;
	}
	p = pool_find(pd, l->pool);
	r = p ? resource_find(p, l->res_name) : NULL;
	if (!r || r->state != RS_LEASED || r->lease) {
		snprintf(err, errlen, "lease %s: its resource %s/%s is not "
			 "leased to it", l->id, l->pool, l->res_name);
		lease_free(l);
		return -1;
	}
	lease_attach(pd, l, r);
	return 0;
}

static int load_token(struct poold *pd, sqlite3_stmt *s, char *err,
		      size_t errlen)
{
	pd->next_token = sqlite3_column_int64(s, 0);
	return 0;
}

static int load_orphan(struct poold *pd, sqlite3_stmt *s, char *err,
		       size_t errlen)
{
	json_t *cmd = column_json(s, 4);

	if (!json_is_object(cmd)) {
		snprintf(err, errlen, "orphan %lld: its destroy command is "
			 "unreadable", (long long)sqlite3_column_int64(s, 0));
		json_decref(cmd);
		return -1;
	}
	provision_orphan_resume(pd, sqlite3_column_int64(s, 0),
				(const char *)sqlite3_column_text(s, 1),
				(const char *)sqlite3_column_text(s, 2),
				(const char *)sqlite3_column_text(s, 3), cmd);
	json_decref(cmd);
	return 0;
}

int store_load_orphans(struct store *st, struct poold *pd, char *err,
		       size_t errlen)
{
	return each_row(st, "SELECT id, pool, name, descriptor, destroy FROM "
			"orphans ORDER BY id", pd, load_orphan, err, errlen);
}

int store_load(struct store *st, struct poold *pd, char *err, size_t errlen)
{
	return each_row(st, "SELECT value FROM meta WHERE key = 'next_token'",
			pd, load_token, err, errlen) ||
	       each_row(st, "SELECT name, settings, created_at FROM pools",
			pd, load_pool, err, errlen) ||
	       each_row(st, "SELECT pool, name, state, descriptor, version, "
			"created_at, last_used_at, lease_count FROM resources "
			"ORDER BY pool, last_used_at, name", pd, load_resource,
			err, errlen) ||
	       each_row(st, "SELECT seq, id, pool, resource, mode, token, "
			"owner, caller, bind, conn_id, ttl, acquired_at, "
			"expires_at, request_id, expired_at FROM leases ORDER "
			"BY seq", pd, load_lease, err, errlen) ? -1 : 0;
}
