/*
 * store-sqlite.c - the SQLite backend of store.h, and all of poold's SQL
 * (with schema/). Statements are prepared once. The journal opens one
 * transaction per batch (BEGIN IMMEDIATE), writes the batch's rows and
 * commits before any effect of the batch leaves the daemon.
 *
 * The busy timeout is short: when another process holds the write lock,
 * begin() answers STORE_BUSY at once and the journal retries from a timer,
 * so the event loop never sleeps inside SQLite.
 */
#include "store.h"
#include "store-sqlite-sync.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "log.h"
#include "schema.h"
#include "sqlite-mem.h"
#include "util.h"

#define BUSY_TIMEOUT_MS 10

enum stmt_id {
	S_BEGIN, S_COMMIT, S_ROLLBACK,
	S_POOL_PUT, S_POOL_DEL, S_POOL_DEL_RES, S_POOL_DEL_LEASES,
	S_RES_PUT, S_RES_DEL,
	S_LEASE_PUT, S_LEASE_DEL, S_LEASE_PURGE,
	S_META_PUT, S_ORPHAN_PUT, S_ORPHAN_DEL, S_WAITER_PUT, S_WAITER_DEL,
	S_RES_PAGE, S_RES_PAGE_STATE, S_LEASE_PAGE, S_LEASE_PAGE_POOL,
	S_HIST_PUT, S_HIST_PUT8, S_HIST_PUT32, S_HIST_PRUNE_AGE, S_HIST_PRUNE_ROWS, S_HIST_QUERY,
	S_HIST_BOUNDS, S_HIST_AT,
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
	[S_META_PUT] = "UPDATE meta SET value = ?2 WHERE key = ?1",
	[S_ORPHAN_PUT] = "INSERT INTO orphans (id, pool, name, descriptor, "
		"destroy, since) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[S_ORPHAN_DEL] = "DELETE FROM orphans WHERE id = ?1",
	[S_WAITER_PUT] = "INSERT OR REPLACE INTO waiters (seq, caller, "
		"request_id, pool, mode, name, match, ends_at) VALUES (?1, ?2, "
		"?3, ?4, ?5, ?6, ?7, ?8)",
	[S_WAITER_DEL] = "DELETE FROM waiters WHERE seq = ?1",
	[S_RES_PAGE] = "SELECT name FROM resources WHERE pool = ?1 AND "
		"name > ?2 ORDER BY name LIMIT ?3",
	[S_RES_PAGE_STATE] = "SELECT name FROM resources WHERE pool = ?1 AND "
		"state = ?4 AND name > ?2 ORDER BY name LIMIT ?3",
	[S_LEASE_PAGE] = "SELECT id FROM leases WHERE expired_at IS NULL AND "
		"seq > ?1 ORDER BY seq LIMIT ?2",
	[S_LEASE_PAGE_POOL] = "SELECT id FROM leases WHERE expired_at IS NULL "
		"AND pool = ?3 AND seq > ?1 ORDER BY seq LIMIT ?2",
	/* S_HIST_PUT8 and S_HIST_PUT32: the same for 8 and 32 rows,
	 * made by hist_put_sql(). */
	[S_HIST_PUT] = "INSERT INTO history (at, event, pool, resource, lease, "
		"caller, owner, token, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
		"?)",
	/* Pruning looks at the oldest ?2 rows only (a bounded step), and
	 * never deletes the newest row: seq is then never reused. */
	[S_HIST_PRUNE_AGE] = "DELETE FROM history WHERE seq IN (SELECT seq "
		"FROM (SELECT seq, at FROM history ORDER BY seq LIMIT ?2) "
		"WHERE at < ?1) AND seq < (SELECT max(seq) FROM history)",
	[S_HIST_PRUNE_ROWS] = "DELETE FROM history WHERE seq IN (SELECT seq "
		"FROM history WHERE seq <= (SELECT max(seq) FROM history) - ?1 "
		"ORDER BY seq LIMIT ?2)",
	[S_HIST_QUERY] = "SELECT seq, at, event, pool, resource, lease, "
		"caller, owner, token, detail FROM history WHERE seq > ?1 AND "
		"(?2 IS NULL OR pool = ?2) AND (?3 IS NULL OR resource = ?3) AND "
		"(?4 IS NULL OR lease = ?4) AND (?5 IS NULL OR caller = ?5) AND "
		"(?6 IS NULL OR at >= ?6) AND seq <= ?8 ORDER BY seq LIMIT ?7",
	[S_HIST_BOUNDS] = "SELECT min(seq), max(seq) FROM history",
	[S_HIST_AT] = "SELECT seq, at FROM history WHERE seq >= ?1 ORDER BY seq "
		"LIMIT 1",
};

struct sqlite_store {
	struct store base;   /* first: a struct store * is one of these */
	sqlite3 *db;
	int lock_fd;         /* flock()ed: one poold per database */
	sqlite3_stmt *stmt[S_COUNT];
	bool in_tx;
	int failed;          /* SQLite code of the first failed write, or 0 */
	char failure[256];   /* its message */
	struct sq_sync *sync; /* --sync full: the WAL's fsync thread */
};

static struct sqlite_store *S(struct store *st)
{
	return (struct sqlite_store *)st;
}

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
		if (exec_sql(db, "BEGIN IMMEDIATE", why, sizeof why) < 0 ||
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
static int lock_database(struct sqlite_store *st, const char *path, char *err,
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

static void sq_checkpoint(struct store *base)
{
	struct sqlite_store *st = S(base);

	if (st->in_tx)
		return;
	if (sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
				      NULL, NULL) != SQLITE_OK)
		log_warn("WAL checkpoint failed: %s", sqlite3_errmsg(st->db));
}

/* An online backup through the daemon's own connection, so the database
 * never has to be opened by a second process. The copy is made in one step:
 * the loop waits for it (about 1 s per 100 MB on a quiet disk). */
static int sq_backup(struct store *base, const char *path, char *err,
		     size_t errlen)
{
	struct sqlite_store *st = S(base);
	sqlite3_backup *b;
	sqlite3 *dst = NULL;
	int fd, rc;

	if (st->in_tx) {
		snprintf(err, errlen, "a transaction is open; retry");
		return STORE_BUSY;
	}
	/* A new file only: a backup never overwrites anything. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", path,
			 strerror(errno));
		return STORE_ERROR;
	}
	close(fd);
	rc = sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE, NULL);
	if (rc == SQLITE_OK) {
		b = sqlite3_backup_init(dst, "main", st->db, "main");
		if (b) {
			rc = sqlite3_backup_step(b, -1);
			sqlite3_backup_finish(b);
			if (rc == SQLITE_DONE)
				rc = SQLITE_OK;
		} else {
			rc = sqlite3_errcode(dst);
		}
	}
	if (rc != SQLITE_OK)
		snprintf(err, errlen, "backup to %s failed: %s", path,
			 dst ? sqlite3_errmsg(dst) : sqlite3_errstr(rc));
	sqlite3_close(dst);
	if (rc != SQLITE_OK) {
		unlink(path);
		return STORE_ERROR;
	}
	return STORE_OK;
}

static void sq_close(struct store *base)
{
	struct sqlite_store *st = S(base);

	sq_sync_stop(st->sync);
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	sqlite3_close(st->db);
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	free(st);
}

/* The history INSERT of n rows: S_HIST_PUT's with n value lists. */
#define HIST_SQL_MAX 2048
#define HIST_ROW_SQL "(?, ?, ?, ?, ?, ?, ?, ?, ?)"

static const char *hist_put_sql(int n, char *buf)
{
	const char *one = stmt_sql[S_HIST_PUT];
	size_t len = strstr(one, HIST_ROW_SQL) - one;

	memcpy(buf, one, len);
	for (int i = 0; i < n; i++) {
		if (i > 0)
			buf[len++] = ',';
		memcpy(buf + len, HIST_ROW_SQL, strlen(HIST_ROW_SQL));
		len += strlen(HIST_ROW_SQL);
	}
	buf[len] = '\0';
	return buf;
}

/* Migrations wait for the lock as long as a start-up may take; after them
 * the timeout is short (see the top of this file). */
static int configure(struct sqlite_store *st, const struct store_config *cfg,
		     char *err, size_t errlen)
{
	char sql[256];

	/* WAL + NORMAL: a commit survives a crash of the daemon. --sync full
	 * adds an fsync of the WAL after every commit, before its answers, so
	 * that it survives a power loss (docs/reliability.md); that fsync is
	 * made by a thread (store-sqlite-sync.c says why it equals FULL). Locking stays NORMAL although poold is the
	 * only writer (it holds the flock): EXCLUSIVE would save a few lock
	 * calls per commit, but would lock out readers such as `sqlite3
	 * .backup` of the live database. The janitor checkpoints the WAL
	 * outside of any request (checkpoint()), not inside a commit. */
	snprintf(sql, sizeof sql, "PRAGMA journal_mode = WAL; PRAGMA "
		 "synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0; PRAGMA "
		 "busy_timeout = 2000");
	if (exec_sql(st->db, sql, sql, sizeof sql) < 0 ||
	    limit_size(st->db, cfg->max_bytes, sql, sizeof sql) < 0) {
		snprintf(err, errlen, "cannot use database %s: %s (is the "
			 "file and its directory writable?)", cfg->path, sql);
		return -1;
	}
	if (migrate(st->db, cfg->path, err, errlen) < 0)
		return -1;
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	for (int i = 0; i < S_COUNT; i++) {
		char multi[HIST_SQL_MAX];
		const char *text = i == S_HIST_PUT8 ? hist_put_sql(8, multi) :
			i == S_HIST_PUT32 ? hist_put_sql(32, multi) :
			stmt_sql[i];

		if (sqlite3_prepare_v3(st->db, text, -1,
				       SQLITE_PREPARE_PERSISTENT, &st->stmt[i],
				       NULL) != SQLITE_OK) {
			snprintf(err, errlen, "database %s: %s", cfg->path,
				 sqlite3_errmsg(st->db));
			return -1;
		}
	}
	return 0;
}

static int start_sync(struct sqlite_store *st, const char *path, char *err,
		      size_t errlen)
{
	char wal[PATH_MAX + 8];

	snprintf(wal, sizeof wal, "%s-wal", path);
	st->sync = sq_sync_start(wal, err, errlen);
	return st->sync ? 0 : -1;
}

static int sq_sync_fd_op(struct store *base)
{
	return S(base)->sync ? sq_sync_fd(S(base)->sync) : -1;
}

static void sq_sync_ask_op(struct store *base, bool behind)
{
	sq_sync_ask(S(base)->sync, behind);
}

static int sq_sync_end_op(struct store *base, bool wait, char *err,
			  size_t errlen)
{
	return sq_sync_end(S(base)->sync, wait, err, errlen);
}

static struct store *sq_open(const struct store_config *cfg, char *err,
			     size_t errlen)
{
	struct sqlite_store *st = xcalloc(1, sizeof *st);

	st->base.ops = &store_sqlite_ops;
	st->lock_fd = -1;
	sqlite_mem_install();
	if (sqlite3_open_v2(cfg->path, &st->db, SQLITE_OPEN_READWRITE |
			    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "cannot open database %s: %s", cfg->path,
			 st->db ? sqlite3_errmsg(st->db) : "out of memory");
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	if (lock_database(st, cfg->path, err, errlen) < 0 ||
	    configure(st, cfg, err, errlen) < 0 ||
	    (cfg->sync_full && start_sync(st, cfg->path, err, errlen) < 0))
		goto fail;
	return &st->base;
fail:
	sq_close(&st->base);
	return NULL;
}

/* ---- transactions ------------------------------------------------------ */

static bool is_busy(int rc)
{
	return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
}

static int step_simple(struct sqlite_store *st, enum stmt_id id)
{
	sqlite3_stmt *s = st->stmt[id];
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : rc;
}

static int sq_begin(struct store *base, char *err, size_t errlen)
{
	struct sqlite_store *st = S(base);
	int rc;

	if (st->in_tx)
		return STORE_OK;
	rc = step_simple(st, S_BEGIN);
	if (rc == 0) {
		st->in_tx = true;
		st->failed = 0;
		return STORE_OK;
	}
	snprintf(err, errlen, "BEGIN: %s", sqlite3_errmsg(st->db));
	return is_busy(rc) ? STORE_BUSY : STORE_ERROR;
}

static void sq_rollback(struct store *base)
{
	struct sqlite_store *st = S(base);

	if (sqlite3_get_autocommit(st->db) == 0)
		step_simple(st, S_ROLLBACK);
	st->in_tx = false;
	st->failed = 0;
}

static int sq_commit(struct store *base, char *err, size_t errlen)
{
	struct sqlite_store *st = S(base);
	int rc = st->failed;

	if (!st->in_tx)
		return STORE_OK;
	if (!rc && (rc = step_simple(st, S_COMMIT)) != 0)
		snprintf(st->failure, sizeof st->failure, "%s",
			 sqlite3_errmsg(st->db));
	if (rc) {
		snprintf(err, errlen, "%s%s", st->failure,
			 (rc & 0xff) == SQLITE_FULL ?
			 " (the disk, or --max-db-size, is full)" : "");
		sq_rollback(base);
		return STORE_ERROR;
	}
	st->in_tx = false;
	return STORE_OK;
}

/* A batch of ours is open, or the write lock can be taken (and is given
 * back) within the short busy timeout. */
static int sq_ping(struct store *base, char *err, size_t errlen)
{
	int rc;

	if (S(base)->in_tx)
		return STORE_OK;
	rc = sq_begin(base, err, errlen);
	if (rc == STORE_OK)
		sq_rollback(base);
	return rc;
}

static bool sq_in_tx(const struct store *base)
{
	return ((const struct sqlite_store *)base)->in_tx;
}

/* ---- writes ------------------------------------------------------------ */

/* The statement ready for binding inside the open transaction, or NULL if
 * an earlier write of this transaction failed. */
static sqlite3_stmt *write_begin(struct sqlite_store *st, enum stmt_id id)
{
	if (st->failed)
		return NULL;
	if (!st->in_tx) {
		st->failed = SQLITE_MISUSE;
		snprintf(st->failure, sizeof st->failure, "a write outside "
			 "of a transaction");
		return NULL;
	}
	return st->stmt[id];
}

static int write_end(struct sqlite_store *st, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	if (rc != SQLITE_DONE && !st->failed) {
		st->failed = rc;
		snprintf(st->failure, sizeof st->failure, "%s",
			 sqlite3_errmsg(st->db));
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? STORE_OK : STORE_ERROR;
}

/* Every statement is stepped, reset and cleared before its caller
 * returns, so SQLite need not copy the text (SQLITE_STATIC). */
static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

static void bind_time(sqlite3_stmt *s, int i, double t)
{
	if (t > 0)
		sqlite3_bind_double(s, i, t);
	else
		sqlite3_bind_null(s, i);
}

static int sq_pool_put(struct store *base, const struct store_pool_row *row)
{
	struct sqlite_store *st = S(base);
	sqlite3_stmt *s = write_begin(st, S_POOL_PUT);

	if (!s)
		return STORE_ERROR;
	bind_text(s, 1, row->name);
	bind_text(s, 2, row->settings);
	sqlite3_bind_double(s, 3, row->created_at);
	return write_end(st, s);
}

static int sq_pool_delete(struct store *base, const char *name)
{
	static const enum stmt_id ids[] = { S_POOL_DEL_LEASES, S_POOL_DEL_RES,
					    S_POOL_DEL };
	struct sqlite_store *st = S(base);

	for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
		sqlite3_stmt *s = write_begin(st, ids[i]);

		if (!s)
			return STORE_ERROR;
		bind_text(s, 1, name);
		if (write_end(st, s) < 0)
			return STORE_ERROR;
	}
	return STORE_OK;
}

static int sq_resource_put(struct store *base,
			   const struct store_resource_row *row)
{
	struct sqlite_store *st = S(base);
	sqlite3_stmt *s = write_begin(st, S_RES_PUT);

	if (!s)
		return STORE_ERROR;
	bind_text(s, 1, row->pool);
	bind_text(s, 2, row->name);
	bind_text(s, 3, row->state);
	bind_text(s, 4, row->descriptor);
	sqlite3_bind_int64(s, 5, row->version);
	sqlite3_bind_double(s, 6, row->created_at);
	bind_time(s, 7, row->last_used_at);
	sqlite3_bind_int64(s, 8, row->lease_count);
	return write_end(st, s);
}

static int sq_resource_delete(struct store *base, const char *pool,
			      const char *name)
{
	struct sqlite_store *st = S(base);
	sqlite3_stmt *s = write_begin(st, S_RES_DEL);

	if (!s)
		return STORE_ERROR;
	bind_text(s, 1, pool);
	bind_text(s, 2, name);
	return write_end(st, s);
}

static int sq_lease_put(struct store *base, const struct store_lease_row *row)
{
	struct sqlite_store *st = S(base);
	sqlite3_stmt *s = write_begin(st, S_LEASE_PUT);

	if (!s)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, row->seq);
	bind_text(s, 2, row->id);
	bind_text(s, 3, row->pool);
	bind_text(s, 4, row->resource);
	bind_text(s, 5, row->mode);
	sqlite3_bind_int64(s, 6, row->token);
	bind_text(s, 7, row->owner);
	bind_text(s, 8, row->caller);
	bind_text(s, 9, row->bind);
	sqlite3_bind_int64(s, 10, row->conn_id);
	sqlite3_bind_double(s, 11, row->ttl);
	sqlite3_bind_double(s, 12, row->acquired_at);
	bind_time(s, 13, row->expires_at);
	bind_text(s, 14, row->request_id);
	bind_time(s, 15, row->expired_at);
	return write_end(st, s);
}

/* A delete whose one parameter is the row's integer key. */
static int delete_by_key(struct store *base, enum stmt_id id, int64_t key)
{
	struct sqlite_store *st = S(base);
	sqlite3_stmt *s = write_begin(st, id);

	if (!s)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, key);
	return write_end(st, s);
}

static int sq_lease_delete(struct store *base, int64_t seq)
{
	return delete_by_key(base, S_LEASE_DEL, seq);
}

static int sq_leases_purge(struct store *base, double before)
{
	struct sqlite_store *st = S(base);
	sqlite3_stmt *s = write_begin(st, S_LEASE_PURGE);

	if (!s)
		return STORE_ERROR;
	sqlite3_bind_double(s, 1, before);
	return write_end(st, s);
}

static int sq_meta_put(struct store *base, const struct store_meta_row *row)
{
	struct sqlite_store *st = S(base);
	sqlite3_stmt *s = write_begin(st, S_META_PUT);

	if (!s)
		return STORE_ERROR;
	bind_text(s, 1, row->key);
	sqlite3_bind_int64(s, 2, row->value);
	return write_end(st, s);
}

static int sq_orphan_put(struct store *base,
			 const struct store_orphan_row *row)
{
	struct sqlite_store *st = S(base);
	sqlite3_stmt *s = write_begin(st, S_ORPHAN_PUT);

	if (!s)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, row->id);
	bind_text(s, 2, row->pool);
	bind_text(s, 3, row->name);
	bind_text(s, 4, row->descriptor);
	bind_text(s, 5, row->destroy);
	sqlite3_bind_double(s, 6, row->since);
	return write_end(st, s);
}

static int sq_orphan_delete(struct store *base, int64_t id)
{
	return delete_by_key(base, S_ORPHAN_DEL, id);
}

static int sq_waiter_put(struct store *base,
			 const struct store_waiter_row *row)
{
	struct sqlite_store *st = S(base);
	sqlite3_stmt *s = write_begin(st, S_WAITER_PUT);

	if (!s)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, row->seq);
	bind_text(s, 2, row->caller);
	bind_text(s, 3, row->request_id);
	bind_text(s, 4, row->pool);
	bind_text(s, 5, row->mode);
	bind_text(s, 6, row->name);
	bind_text(s, 7, row->match);
	sqlite3_bind_double(s, 8, row->ends_at);
	return write_end(st, s);
}

static int sq_waiter_delete(struct store *base, int64_t seq)
{
	return delete_by_key(base, S_WAITER_DEL, seq);
}

static void bind_history(sqlite3_stmt *s, int base,
			 const struct store_history_row *row)
{
	sqlite3_bind_double(s, base + 1, row->at);
	bind_text(s, base + 2, row->event);
	bind_text(s, base + 3, row->pool);
	bind_text(s, base + 4, row->resource);
	bind_text(s, base + 5, row->lease);
	bind_text(s, base + 6, row->caller);
	bind_text(s, base + 7, row->owner);
	if (row->token > 0)
		sqlite3_bind_int64(s, base + 8, row->token);
	bind_text(s, base + 9, row->detail);
}

/* The rows go in statements of 32, 8 and 1 rows: a commit of many events
 * steps a few statements, not one per event. */
static int sq_history_append(struct store *base,
			     const struct store_history_row *rows, size_t n)
{
	static const struct { enum stmt_id id; size_t rows; } by[] = {
		{ S_HIST_PUT32, 32 }, { S_HIST_PUT8, 8 }, { S_HIST_PUT, 1 },
	};
	struct sqlite_store *st = S(base);
	int rc = STORE_OK;

	for (size_t k = 0; k < sizeof by / sizeof by[0]; k++) {
		for (; n >= by[k].rows; n -= by[k].rows, rows += by[k].rows) {
			sqlite3_stmt *s = write_begin(st, by[k].id);

			if (!s)
				return STORE_ERROR;
			for (size_t i = 0; i < by[k].rows; i++)
				bind_history(s, 9 * (int)i, &rows[i]);
			if (write_end(st, s) != STORE_OK)
				rc = STORE_ERROR;
		}
	}
	return rc;
}

static int sq_history_prune(struct store *base, double before,
			    int64_t max_rows, int step)
{
	struct sqlite_store *st = S(base);
	sqlite3_stmt *s = write_begin(st, S_HIST_PRUNE_AGE);
	int n;

	if (!s)
		return STORE_ERROR;
	sqlite3_bind_double(s, 1, before);
	sqlite3_bind_int(s, 2, step);
	if (write_end(st, s) < 0)
		return STORE_ERROR;
	n = sqlite3_changes(st->db);
	if (max_rows <= 0 || n >= step)
		return n;
	s = write_begin(st, S_HIST_PRUNE_ROWS);
	if (!s)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, max_rows);
	sqlite3_bind_int(s, 2, step - n);
	if (write_end(st, s) < 0)
		return STORE_ERROR;
	return n + sqlite3_changes(st->db);
}

/* ---- reads ------------------------------------------------------------- */

static char *column_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? xstrdup((const char *)t) : NULL;
}

static const char *ctext(sqlite3_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s, i);
}

static double ctime_or0(sqlite3_stmt *s, int i)
{
	return sqlite3_column_type(s, i) == SQLITE_NULL ? 0 :
		sqlite3_column_double(s, i);
}

static int collect(struct sqlite_store *st, sqlite3_stmt *s, char ***out)
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
		return STORE_ERROR;
	}
	*out = v;
	return n;
}

static int sq_resource_page(struct store *base, const char *pool,
			    const char *state, const char *after, int limit,
			    char ***names)
{
	struct sqlite_store *st = S(base);
	sqlite3_stmt *s = st->stmt[state ? S_RES_PAGE_STATE : S_RES_PAGE];

	bind_text(s, 1, pool);
	bind_text(s, 2, after ? after : "");
	sqlite3_bind_int(s, 3, limit);
	if (state)
		bind_text(s, 4, state);
	return collect(st, s, names);
}

static int sq_lease_page(struct store *base, const char *pool, int64_t after,
			 int limit, char ***ids)
{
	struct sqlite_store *st = S(base);
	sqlite3_stmt *s = st->stmt[pool ? S_LEASE_PAGE_POOL : S_LEASE_PAGE];

	sqlite3_bind_int64(s, 1, after);
	sqlite3_bind_int(s, 2, limit);
	if (pool)
		bind_text(s, 3, pool);
	return collect(st, s, ids);
}

/* The row at or after seq: its seq and at; false past the end. */
static bool history_at(struct sqlite_store *st, int64_t seq, int64_t *found,
		       double *at)
{
	sqlite3_stmt *s = st->stmt[S_HIST_AT];
	bool ok;

	sqlite3_bind_int64(s, 1, seq);
	ok = sqlite3_step(s) == SQLITE_ROW;
	if (ok) {
		*found = sqlite3_column_int64(s, 0);
		*at = sqlite3_column_double(s, 1);
	}
	sqlite3_reset(s);
	return ok;
}

/* The seq before the first row at or after since: "at" rises with seq,
 * so a binary search over seq (a few lookups by key) finds it without
 * scanning the table or keeping an index on at. */
static int64_t history_since(struct sqlite_store *st, double since)
{
	sqlite3_stmt *s = st->stmt[S_HIST_BOUNDS];
	int64_t lo = 0, hi = 0, found;
	double at;

	if (sqlite3_step(s) == SQLITE_ROW) {
		lo = sqlite3_column_int64(s, 0);
		hi = sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	while (lo < hi) { /* the first seq whose row has at >= since */
		int64_t mid = lo + (hi - lo) / 2;

		if (history_at(st, mid, &found, &at) && at < since)
			lo = found + 1;
		else
			hi = mid;
	}
	return lo > 0 ? lo - 1 : 0;
}

/* The seq before the newest n rows (seq has no gaps: pruning deletes the
 * oldest rows only). */
static int64_t history_tail(struct sqlite_store *st, int n)
{
	sqlite3_stmt *s = st->stmt[S_HIST_BOUNDS];
	int64_t last = 0;

	if (sqlite3_step(s) == SQLITE_ROW)
		last = sqlite3_column_int64(s, 1);
	sqlite3_reset(s);
	return last > n ? last - n : 0;
}

/* The rows a query looks at: seq in (from, *upto], at most scan of them
 * (0 = all) from the oldest one there is; *reached as in store.h. The
 * bounds are the first and last key: no scan. Returns from. */
static int64_t history_window(struct sqlite_store *st, int64_t from,
			      int64_t scan, int64_t *upto, int64_t *reached)
{
	sqlite3_stmt *s = st->stmt[S_HIST_BOUNDS];
	int64_t lo = 0, hi = 0;

	if (sqlite3_step(s) == SQLITE_ROW) {
		lo = sqlite3_column_int64(s, 0);
		hi = sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	if (from < lo - 1) /* pruned: start at the oldest row left */
		from = lo - 1;
	*upto = scan > 0 && from < hi - scan ? from + scan : hi;
	if (reached)
		*reached = *upto < hi ? *upto : 0;
	return from;
}

static int sq_history_query(struct store *base,
			    const struct store_history_filter *f,
			    store_history_fn fn, void *arg, char *err,
			    size_t errlen)
{
	struct sqlite_store *st = S(base);
	sqlite3_stmt *s = st->stmt[S_HIST_QUERY];
	int rc, n = 0;
	int64_t from = f->since > 0 ? history_since(st, f->since) : 0, upto;
	int64_t tail = f->tail ? history_tail(st, f->limit) : 0;

	if (tail > from)
		from = tail;
	from = history_window(st, from > f->after ? from : f->after, f->scan,
			      &upto, f->reached);
	sqlite3_bind_int64(s, 1, from);
	sqlite3_bind_int64(s, 8, upto);
	bind_text(s, 2, f->pool);
	bind_text(s, 3, f->resource);
	bind_text(s, 4, f->lease);
	bind_text(s, 5, f->caller);
	bind_time(s, 6, f->since);
	sqlite3_bind_int(s, 7, f->limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_history_row row = {
			.seq = sqlite3_column_int64(s, 0),
			.at = sqlite3_column_double(s, 1),
			.event = ctext(s, 2), .pool = ctext(s, 3),
			.resource = ctext(s, 4), .lease = ctext(s, 5),
			.caller = ctext(s, 6), .owner = ctext(s, 7),
			.token = sqlite3_column_int64(s, 8),
			.detail = ctext(s, 9),
		};

		n++;
		if (fn(arg, &row) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	if (rc != SQLITE_DONE)
		snprintf(err, errlen, "%s", sqlite3_errmsg(st->db));
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? n : STORE_ERROR;
}

/* ---- loading ----------------------------------------------------------- */

typedef int (*row_fn)(const struct store_loader *ld, sqlite3_stmt *s,
		      char *err, size_t errlen);

/* Runs sql and calls row() for each row; 0, or -1 with err set. */
static int each_row(struct sqlite_store *st, const char *sql,
		    const struct store_loader *ld, row_fn row, char *err,
		    size_t errlen)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(st->db));
		return -1;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (row(ld, s, err, errlen) < 0)
			break;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		snprintf(err, errlen, "%s", sqlite3_errmsg(st->db));
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int row_meta(const struct store_loader *ld, sqlite3_stmt *s,
		    char *err, size_t errlen)
{
	struct store_meta_row row = { ctext(s, 0), sqlite3_column_int64(s, 1) };

	return ld->meta(ld->arg, &row, err, errlen);
}

static int row_pool(const struct store_loader *ld, sqlite3_stmt *s,
		    char *err, size_t errlen)
{
	struct store_pool_row row = { ctext(s, 0), ctext(s, 1),
				      sqlite3_column_double(s, 2) };

	return ld->pool(ld->arg, &row, err, errlen);
}

static int row_resource(const struct store_loader *ld, sqlite3_stmt *s,
			char *err, size_t errlen)
{
	struct store_resource_row row = {
		.pool = ctext(s, 0), .name = ctext(s, 1),
		.state = ctext(s, 2), .descriptor = ctext(s, 3),
		.version = sqlite3_column_int64(s, 4),
		.created_at = sqlite3_column_double(s, 5),
		.last_used_at = ctime_or0(s, 6),
		.lease_count = sqlite3_column_int64(s, 7),
	};

	return ld->resource(ld->arg, &row, err, errlen);
}

static int row_lease(const struct store_loader *ld, sqlite3_stmt *s,
		     char *err, size_t errlen)
{
	struct store_lease_row row = {
		.seq = sqlite3_column_int64(s, 0), .id = ctext(s, 1),
		.pool = ctext(s, 2), .resource = ctext(s, 3),
		.mode = ctext(s, 4), .token = sqlite3_column_int64(s, 5),
		.owner = ctext(s, 6), .caller = ctext(s, 7),
		.bind = ctext(s, 8), .conn_id = sqlite3_column_int64(s, 9),
		.ttl = sqlite3_column_double(s, 10),
		.acquired_at = sqlite3_column_double(s, 11),
		.expires_at = ctime_or0(s, 12), .request_id = ctext(s, 13),
		.expired_at = ctime_or0(s, 14),
	};

	return ld->lease(ld->arg, &row, err, errlen);
}

static int row_orphan(const struct store_loader *ld, sqlite3_stmt *s,
		      char *err, size_t errlen)
{
	struct store_orphan_row row = {
		.id = sqlite3_column_int64(s, 0), .pool = ctext(s, 1),
		.name = ctext(s, 2), .descriptor = ctext(s, 3),
		.destroy = ctext(s, 4), .since = sqlite3_column_double(s, 5),
	};

	return ld->orphan(ld->arg, &row, err, errlen);
}

static int row_waiter(const struct store_loader *ld, sqlite3_stmt *s,
		      char *err, size_t errlen)
{
	struct store_waiter_row row = {
		.seq = sqlite3_column_int64(s, 0), .caller = ctext(s, 1),
		.request_id = ctext(s, 2), .pool = ctext(s, 3),
		.mode = ctext(s, 4), .name = ctext(s, 5), .match = ctext(s, 6),
		.ends_at = sqlite3_column_double(s, 7),
	};

	return ld->waiter(ld->arg, &row, err, errlen);
}

static int sq_load(struct store *base, const struct store_loader *ld,
		   char *err, size_t errlen)
{
	struct sqlite_store *st = S(base);

	return each_row(st, "SELECT key, value FROM meta", ld, row_meta, err,
			errlen) ||
	       each_row(st, "SELECT name, settings, created_at FROM pools",
			ld, row_pool, err, errlen) ||
	       each_row(st, "SELECT pool, name, state, descriptor, version, "
			"created_at, last_used_at, lease_count FROM resources "
			"ORDER BY pool, last_used_at, name", ld, row_resource,
			err, errlen) ||
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

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.in_tx = sq_in_tx,
	.pool_put = sq_pool_put,
	.pool_delete = sq_pool_delete,
	.resource_put = sq_resource_put,
	.resource_delete = sq_resource_delete,
	.lease_put = sq_lease_put,
	.lease_delete = sq_lease_delete,
	.leases_purge = sq_leases_purge,
	.orphan_put = sq_orphan_put,
	.orphan_delete = sq_orphan_delete,
	.meta_put = sq_meta_put,
	.waiter_put = sq_waiter_put,
	.waiter_delete = sq_waiter_delete,
	.history_append = sq_history_append,
	.history_prune = sq_history_prune,
	.load = sq_load,
	.resource_page = sq_resource_page,
	.lease_page = sq_lease_page,
	.history_query = sq_history_query,
	.ping = sq_ping,
	.sync_fd = sq_sync_fd_op,
	.sync_ask = sq_sync_ask_op,
	.sync_end = sq_sync_end_op,
	.checkpoint = sq_checkpoint,
	.backup = sq_backup,
};
