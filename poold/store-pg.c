/*
 * store-pg.c - the PostgreSQL backend of store.h (libpq), with
 * schema/postgresql/: the connection, migrations, the pipeline, the
 * transaction and the writes (queries: store-pg-read.c; leadership:
 * store-pg-lead.c). Statements are prepared once per connection.
 *
 * A batch is one transaction and one round trip (group commit): its rows
 * are held per table and key (pgrows.h) and sent as one bulk statement per
 * table and kind; BEGIN, the leader fence, the bulk writes and COMMIT go
 * out in libpq's pipeline mode, and their answers are read once, at the
 * commit. A read inside the transaction first sends what is held and reads
 * the answers so far, so that it sees the batch's own writes.
 * synchronous_commit is left as the server has it.
 *
 * Errors are sticky as store.h says: the first failure is kept, the server
 * skips the rest of the pipeline, and commit() rolls back and fails. A lost
 * connection is opened again (and the statements prepared again) at the
 * next begin() or read.
 */
#include "store-pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pgrows.h"
#include "schema.h"
#include "util.h"

/* Statements sent before their answers are read: bounded, so that neither
 * side's socket buffer can fill while the other waits (a resource.add of
 * thousands of rows would otherwise deadlock the pipeline). */
#define PIPE_MAX 256
/* Bytes of rows held before they are sent (a resource.add of thousands
 * of large descriptors is sent in parts). */
#define HOLD_MAX (1 << 20)

/* The bulk writes take one array per column (pgrows.h); names compare in
 * the "C" collation, as the key columns do. */
static const char *const stmt_sql[S_COUNT] = {
	[S_POOL_PUTS] = "INSERT INTO pools (name, settings, created_at) "
		"SELECT * FROM unnest($1::text[], $2::text[], $3::float8[]) "
		"ON CONFLICT (name) DO UPDATE SET settings = EXCLUDED.settings, "
		"created_at = EXCLUDED.created_at",
	[S_POOL_DELS] = "DELETE FROM pools WHERE name = ANY ($1::text[] "
		"COLLATE \"C\")",
	[S_POOL_DEL] = "DELETE FROM pools WHERE name = $1",
	[S_POOL_DEL_RES] = "DELETE FROM resources WHERE pool = $1",
	[S_POOL_DEL_LEASES] = "DELETE FROM leases WHERE pool = $1",
	[S_RES_PUTS] = "INSERT INTO resources (pool, name, state, descriptor, "
		"version, created_at, last_used_at, lease_count) SELECT * FROM "
		"unnest($1::text[], $2::text[], $3::text[], $4::text[], "
		"$5::int8[], $6::float8[], $7::float8[], $8::int8[]) ON CONFLICT "
		"(pool, name) DO UPDATE SET state = EXCLUDED.state, descriptor = "
		"EXCLUDED.descriptor, version = EXCLUDED.version, created_at = "
		"EXCLUDED.created_at, last_used_at = EXCLUDED.last_used_at, "
		"lease_count = EXCLUDED.lease_count",
	[S_RES_DELS] = "DELETE FROM resources r USING unnest($1::text[], "
		"$2::text[]) AS d(pool, name) WHERE r.pool = d.pool COLLATE "
		"\"C\" AND r.name = d.name COLLATE \"C\"",
	[S_LEASE_PUTS] = "INSERT INTO leases (seq, id, pool, resource, mode, "
		"token, owner, caller, bind, conn_id, ttl, acquired_at, "
		"expires_at, request_id, expired_at) SELECT * FROM "
		"unnest($1::int8[], $2::text[], $3::text[], $4::text[], "
		"$5::text[], $6::int8[], $7::text[], $8::text[], $9::text[], "
		"$10::int8[], $11::float8[], $12::float8[], $13::float8[], "
		"$14::text[], $15::float8[]) ON CONFLICT (seq) DO UPDATE SET "
		"id = EXCLUDED.id, pool = EXCLUDED.pool, resource = "
		"EXCLUDED.resource, mode = EXCLUDED.mode, token = EXCLUDED.token, "
		"owner = EXCLUDED.owner, caller = EXCLUDED.caller, bind = "
		"EXCLUDED.bind, conn_id = EXCLUDED.conn_id, ttl = EXCLUDED.ttl, "
		"acquired_at = EXCLUDED.acquired_at, expires_at = "
		"EXCLUDED.expires_at, request_id = EXCLUDED.request_id, "
		"expired_at = EXCLUDED.expired_at",
	[S_LEASE_DELS] = "DELETE FROM leases WHERE seq = ANY ($1::int8[])",
	[S_LEASE_PURGE] = "DELETE FROM leases WHERE expired_at < $1",
	[S_META_PUT] = "UPDATE meta SET value = $2 WHERE key = $1",
	[S_ORPHAN_PUTS] = "INSERT INTO orphans (id, pool, name, descriptor, "
		"destroy, since) SELECT * FROM unnest($1::int8[], $2::text[], "
		"$3::text[], $4::text[], $5::text[], $6::float8[])",
	[S_ORPHAN_DELS] = "DELETE FROM orphans WHERE id = ANY ($1::int8[])",
	[S_WAITER_PUT] = "INSERT INTO waiters (seq, caller, request_id, pool, "
		"mode, name, match, ends_at) VALUES ($1, $2, $3, $4, $5, $6, "
		"$7, $8) ON CONFLICT (seq) DO UPDATE SET ends_at = "
		"EXCLUDED.ends_at, name = EXCLUDED.name, match = EXCLUDED.match, "
		"mode = EXCLUDED.mode",
	[S_WAITER_DEL] = "DELETE FROM waiters WHERE seq = $1",
	/* In the order appended: seq follows it. */
	[S_HIST_PUTS] = "INSERT INTO history (at, event, pool, resource, lease, "
		"caller, owner, token, detail) SELECT at, event, pool, resource, "
		"lease, caller, owner, token, detail FROM unnest($1::float8[], "
		"$2::text[], $3::text[], $4::text[], $5::text[], $6::text[], "
		"$7::text[], $8::int8[], $9::text[]) WITH ORDINALITY AS h(at, "
		"event, pool, resource, lease, caller, owner, token, detail, n) "
		"ORDER BY n",
	[S_RES_PAGE] = "SELECT name FROM resources WHERE pool = $1 AND "
		"name > $2 ORDER BY name LIMIT $3",
	[S_RES_PAGE_STATE] = "SELECT name FROM resources WHERE pool = $1 AND "
		"state = $4 AND name > $2 ORDER BY name LIMIT $3",
	[S_LEASE_PAGE] = "SELECT id FROM leases WHERE expired_at IS NULL AND "
		"seq > $1 ORDER BY seq LIMIT $2",
	[S_LEASE_PAGE_POOL] = "SELECT id FROM leases WHERE expired_at IS NULL "
		"AND pool = $3 AND seq > $1 ORDER BY seq LIMIT $2",
	/* Pruning goes by seq, oldest first, a bounded step at a time. */
	[S_HIST_PRUNE_AGE] = "DELETE FROM history WHERE seq IN (SELECT seq "
		"FROM history WHERE at < $1 ORDER BY seq LIMIT $2)",
	[S_HIST_PRUNE_ROWS] = "DELETE FROM history WHERE seq IN (SELECT seq "
		"FROM history WHERE seq <= (SELECT max(seq) FROM history) - $1 "
		"ORDER BY seq LIMIT $2)",
	[S_HIST_QUERY] = "SELECT seq, at, event, pool, resource, lease, "
		"caller, owner, token, detail FROM history WHERE seq > $1 AND "
		"($2::text IS NULL OR pool = $2) AND ($3::text IS NULL OR "
		"resource = $3) AND ($4::text IS NULL OR lease = $4) AND "
		"($5::text IS NULL OR caller = $5) AND ($6::float8 IS NULL OR "
		"at >= $6) AND seq <= $8 ORDER BY seq LIMIT $7",
	/* Where a history query starts and ends: the first and last seq,
	 * and the first seq at or after since ($1, NULL = none), all read
	 * from the ends of an index. */
	[S_HIST_BOUNDS] = "SELECT coalesce(min(seq), 0), coalesce(max(seq), 0), "
		"(SELECT seq FROM history WHERE at >= $1::float8 ORDER BY at "
		"LIMIT 1) FROM history",
	/* The seq before the newest $1 rows (seq may have gaps here). */
	[S_HIST_TAIL] = "SELECT COALESCE(MIN(seq) - 1, 0) FROM (SELECT seq "
		"FROM history ORDER BY seq DESC LIMIT $1) AS newest",
	/* Leadership (schema/postgresql/002_leader.sql, docs/ha.md). The
	 * fence is the first statement of every transaction: it renews, or
	 * fails (SQLSTATE P0001) when another front end holds the epoch, and
	 * holds the row's lock until the commit, so that no claim can slip
	 * in between. */
	[S_FENCE] = "SELECT poold_fence($1)",
	[S_LEAD_CLAIM] = "UPDATE leader SET epoch = epoch + 1, holder = $1, "
		"advertise = $2, renewed_at = now() WHERE id = 1 AND "
		"(renewed_at < now() - $3 * interval '1 second' OR "
		"advertise = $2) RETURNING epoch",
	[S_LEAD_WHO] = "SELECT coalesce(advertise, ''), epoch FROM leader "
		"WHERE id = 1",
	[S_LEAD_RELEASE] = "UPDATE leader SET renewed_at = '-infinity', "
		"advertise = NULL WHERE id = 1 AND epoch = $1",
};

static void one_line(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
}

void pgs_set_error(char *err, size_t errlen, const char *what,
		   const char *msg)
{
	snprintf(err, errlen, "%s: %s", what, msg && *msg ? msg :
		 "no answer from PostgreSQL");
	one_line(err);
}

/* The first failure of the transaction is the one reported. */
static void record(struct pg_store *st, const char *msg)
{
	if (st->failed)
		return;
	st->failed = true;
	snprintf(st->failure, sizeof st->failure, "%s", msg && *msg ? msg :
		 "the connection to PostgreSQL was lost");
	one_line(st->failure);
}

/* ---- connecting and migrating ------------------------------------------ */

int store_pg_schema_version(void)
{
	return pg_schema_migrations[pg_schema_migration_count - 1].version;
}

/* Runs sql (no parameters) to the end; 0, or -1 with err set. */
static int exec_sql(PGconn *c, const char *sql, char *err, size_t errlen)
{
	PGresult *res = PQexec(c, sql);
	ExecStatusType s = PQresultStatus(res);
	int rc = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK ? 0 : -1;

	if (rc < 0)
		pgs_set_error(err, errlen, "PostgreSQL", PQerrorMessage(c));
	PQclear(res);
	return rc;
}

/* The one-row table of the schema's version, locked for this transaction
 * (front ends starting together migrate one after the other). -1 on error. */
static int locked_version(PGconn *c, char *err, size_t errlen)
{
	PGresult *res = PQexec(c, "SELECT version FROM poold_schema WHERE id = "
			       "1 FOR UPDATE");
	int v = -1;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		v = atoi(PQgetvalue(res, 0, 0));
	else
		pgs_set_error(err, errlen, "reading poold_schema",
			  PQerrorMessage(c));
	PQclear(res);
	return v;
}

static int apply(struct pg_store *st, const struct schema_migration *m,
		 char *err, size_t errlen)
{
	char sql[96], why[512];

	snprintf(sql, sizeof sql, "UPDATE poold_schema SET version = %d "
		 "WHERE id = 1", m->version);
	if (exec_sql(st->conn, m->sql, why, sizeof why) < 0 ||
	    exec_sql(st->conn, sql, why, sizeof why) < 0) {
		snprintf(err, errlen, "migration %03d of %s failed: %s",
			 m->version, st->where, why);
		return -1;
	}
	log_info("database %s migrated to schema version %d", st->where,
		 m->version);
	return 0;
}

/* Applies every migration newer than the database, in one transaction
 * holding the version row. */
static int migrate(struct pg_store *st, char *err, size_t errlen)
{
	int have, latest = store_pg_schema_version();
	char why[512];

	/* Two front ends creating the table at once: one of them fails and
	 * tries once more, when the table exists. */
	for (int i = 0; i < 2; i++)
		if (exec_sql(st->conn, "CREATE TABLE IF NOT EXISTS poold_schema "
			     "(id integer PRIMARY KEY, version integer NOT "
			     "NULL); INSERT INTO poold_schema VALUES (1, 0) ON "
			     "CONFLICT DO NOTHING", why, sizeof why) == 0)
			break;
	if (exec_sql(st->conn, "BEGIN", why, sizeof why) < 0 ||
	    (have = locked_version(st->conn, why, sizeof why)) < 0) {
		snprintf(err, errlen, "cannot use database %s: %s", st->where,
			 why);
		return -1;
	}
	if (have > latest) {
		exec_sql(st->conn, "ROLLBACK", why, sizeof why);
		snprintf(err, errlen, "database %s has schema version %d, newer "
			 "than this poold knows (%d): upgrade poold, or use "
			 "another --store", st->where, have, latest);
		return -1;
	}
	for (size_t i = 0; i < pg_schema_migration_count; i++) {
		if (pg_schema_migrations[i].version > have &&
		    apply(st, &pg_schema_migrations[i], err, errlen) < 0) {
			exec_sql(st->conn, "ROLLBACK", why, sizeof why);
			return -1;
		}
	}
	if (exec_sql(st->conn, "COMMIT", why, sizeof why) < 0) {
		snprintf(err, errlen, "migrating %s: %s", st->where, why);
		return -1;
	}
	return 0;
}

static int prepare_all(struct pg_store *st, char *err, size_t errlen)
{
	char name[16];

	for (int i = 0; i < S_COUNT; i++) {
		PGresult *res;

		snprintf(name, sizeof name, "p%d", i);
		res = PQprepare(st->conn, name, stmt_sql[i], 0, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			pgs_set_error(err, errlen, st->where,
				  PQerrorMessage(st->conn));
			PQclear(res);
			return -1;
		}
		PQclear(res);
	}
	return 0;
}

/* The connection, opened again if it was lost. 0, or -1 with err set. */
int pgs_connected(struct pg_store *st, char *err, size_t errlen)
{
	if (PQstatus(st->conn) == CONNECTION_OK)
		return 0;
	log_warn("connection to %s lost; connecting again", st->where);
	PQreset(st->conn);
	st->piped = false;
	st->sent = st->answered = 0;
	if (PQstatus(st->conn) != CONNECTION_OK) {
		pgs_set_error(err, errlen, st->where, PQerrorMessage(st->conn));
		return -1;
	}
	return prepare_all(st, err, errlen);
}

static void pg_close(struct store *base)
{
	struct pg_store *st = P(base);

	PQfinish(st->conn);
	pgrows_free(st->rows);
	free(st->url);
	free(st->where);
	free(st);
}

static void quiet_notice(void *arg, const char *message)
{
	(void)arg;
	log_debug("PostgreSQL: %s", message);
}

static struct store *pg_open(const struct store_config *cfg, char *err,
			     size_t errlen)
{
	struct pg_store *st = xcalloc(1, sizeof *st);

	st->base.ops = &store_pg_ops;
	st->rows = pgrows_new();
	st->fence_at = st->commit_at = -1;
	st->url = xstrdup(cfg->path);
	st->where = store_redact(cfg->path);
	if (cfg->max_bytes > 0) {
		snprintf(err, errlen, "--max-db-size applies to SQLite only; "
			 "limit a PostgreSQL database with the server's own "
			 "means (quotas, tablespaces)");
		goto fail;
	}
	if (cfg->sync_full) {
		snprintf(err, errlen, "--sync full applies to SQLite only; on "
			 "PostgreSQL a commit is as durable as the server's "
			 "synchronous_commit (and synchronous replication) make "
			 "it");
		goto fail;
	}
	st->conn = PQconnectdb(cfg->path);
	if (PQstatus(st->conn) != CONNECTION_OK) {
		pgs_set_error(err, errlen, st->where, PQerrorMessage(st->conn));
		goto fail;
	}
	PQsetNoticeProcessor(st->conn, quiet_notice, NULL);
	if (migrate(st, err, errlen) < 0 || prepare_all(st, err, errlen) < 0)
		goto fail;
	return &st->base;
fail:
	pg_close(&st->base);
	return NULL;
}

/* ---- the pipeline ------------------------------------------------------ */

static void pg_rollback(struct store *base);

/* Another front end holds the leader row: nothing more may be written,
 * and leader.c is told at once. */
static void deposed(struct pg_store *st)
{
	st->epoch = 0;
	if (st->base.deposed)
		st->base.deposed(st->base.deposed_arg);
}

/* The answer of the pipeline's statement number i (BEGIN is 0). */
static void check_answer(struct pg_store *st, int i, PGresult *res)
{
	ExecStatusType s = PQresultStatus(res);
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (s == PGRES_PIPELINE_ABORTED)
		return; /* skipped after the failure already recorded */
	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
		record(st, PQresultErrorMessage(res));
		if (i == st->fence_at && state && strcmp(state, "P0001") == 0)
			deposed(st);
	} else if (i == st->commit_at &&
		   strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		/* COMMIT in a failed transaction answers ROLLBACK. */
		record(st, "the transaction was rolled back");
	}
}

/* Reads the answers of every statement sent so far and leaves pipeline
 * mode; a failure among them is recorded. */
static void pipe_drain(struct pg_store *st)
{
	PGresult *res;
	int i = st->answered;

	if (!st->piped)
		return;
	if (!PQpipelineSync(st->conn))
		goto lost;
	for (;;) {
		res = PQgetResult(st->conn);
		if (!res) {
			/* Between two statements' answers; or the end. */
			if (PQstatus(st->conn) != CONNECTION_OK)
				break;
			continue;
		}
		if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			goto synced;
		}
		check_answer(st, i++, res);
		PQclear(res);
	}
lost:
	record(st, PQerrorMessage(st->conn));
synced:
	st->answered = st->sent;
	if (PQexitPipelineMode(st->conn))
		st->piped = false;
	else
		record(st, PQerrorMessage(st->conn));
}

static int pipe_enter(struct pg_store *st)
{
	if (st->piped)
		return 0;
	if (!PQenterPipelineMode(st->conn)) {
		record(st, PQerrorMessage(st->conn));
		return -1;
	}
	st->piped = true;
	return 0;
}

/* Sends one statement of the open transaction without waiting for its
 * answer; stmt < 0 sends sql (no parameters). STORE_OK, or STORE_ERROR
 * once the transaction has failed. */
static void tx_start(struct pg_store *st);

static int send_stmt(struct pg_store *st, int stmt, const char *sql, int n,
		     const char *const *vals)
{
	char name[16];
	int ok;

	if (st->failed)
		return STORE_ERROR;
	if (!st->in_tx) {
		record(st, "a write outside of a transaction");
		return STORE_ERROR;
	}
	if (!st->started)
		tx_start(st);
	if (pipe_enter(st) < 0)
		return STORE_ERROR;
	snprintf(name, sizeof name, "p%d", stmt);
	ok = stmt < 0 ? PQsendQueryParams(st->conn, sql, 0, NULL, NULL, NULL,
					  NULL, 0) :
		PQsendQueryPrepared(st->conn, name, n, vals, NULL, NULL, 0);
	if (!ok) {
		record(st, PQerrorMessage(st->conn));
		return STORE_ERROR;
	}
	if (++st->sent - st->answered >= PIPE_MAX)
		pipe_drain(st);
	return st->failed ? STORE_ERROR : STORE_OK;
}

static int send_write(struct pg_store *st, enum stmt_id id,
		      const struct params *p)
{
	return send_stmt(st, (int)id, NULL, p->n, p->v);
}

/* The bulk statement of a table's puts or deletes. */
static const enum stmt_id bulk[PGR_COUNT][2] = {
	[PGR_POOLS] = { S_POOL_PUTS, S_POOL_DELS },
	[PGR_RESOURCES] = { S_RES_PUTS, S_RES_DELS },
	[PGR_LEASES] = { S_LEASE_PUTS, S_LEASE_DELS },
	[PGR_ORPHANS] = { S_ORPHAN_PUTS, S_ORPHAN_DELS },
	[PGR_HISTORY] = { S_HIST_PUTS, S_HIST_PUTS },
};

static void emit_bulk(void *arg, enum pgr_table t, bool del, int n,
		      const char *const *arrays)
{
	send_stmt(arg, (int)bulk[t][del], NULL, n, arrays);
}

/* The rows held so far go into the pipeline. */
static void rows_send(struct pg_store *st)
{
	pgrows_flush(st->rows, emit_bulk, st);
}

/* Holds a row (or a key to delete) for the next bulk statement. */
static int hold(struct pg_store *st, enum pgr_table t, bool del,
		const struct params *p)
{
	if (st->failed)
		return STORE_ERROR;
	if (!st->in_tx) {
		record(st, "a write outside of a transaction");
		return STORE_ERROR;
	}
	if (del)
		pgrows_del(st->rows, t, p->v);
	else
		pgrows_put(st->rows, t, p->v);
	if (pgrows_bytes(st->rows) >= HOLD_MAX)
		rows_send(st);
	return STORE_OK;
}

/* See store-pg.h. */
PGresult *pgs_run(struct pg_store *st, enum stmt_id id,
		  const struct params *p, char *err, size_t errlen)
{
	PGresult *res;
	ExecStatusType s;
	char name[16];

	rows_send(st);
	pipe_drain(st);
	if (!st->in_tx && pgs_connected(st, err, errlen) < 0)
		return NULL;
	snprintf(name, sizeof name, "p%d", (int)id);
	res = PQexecPrepared(st->conn, name, p->n, p->v, NULL, NULL, 0);
	s = PQresultStatus(res);
	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
		return res;
	pgs_set_error(err, errlen, st->where, PQresultErrorMessage(res));
	PQclear(res);
	return NULL;
}

void pgs_settle(struct pg_store *st)
{
	rows_send(st);
	pipe_drain(st);
}

/* ---- transactions ------------------------------------------------------ */

/* The database's transaction starts with the first write: BEGIN and the
 * fence (the leader row still holds our epoch, see leadership below) are
 * sent without waiting, their answers read with the batch's at the commit
 * or at a read; a failed fence fails the transaction. A batch costs one
 * round trip, and one that writes nothing (a flush that only served
 * answers) costs none. */
static void tx_start(struct pg_store *st)
{
	struct params p = { .n = 0 };

	st->started = true;
	send_stmt(st, -1, "BEGIN", 0, NULL);
	st->fence_at = st->sent;
	p_int(&p, st->epoch);
	send_write(st, S_FENCE, &p);
}

static int pg_begin(struct store *base, char *err, size_t errlen)
{
	struct pg_store *st = P(base);

	if (st->in_tx)
		return STORE_OK;
	if (st->epoch == 0) {
		snprintf(err, errlen, "this front end is not the leader: it "
			 "may not write to %s", st->where);
		return STORE_ERROR;
	}
	if (pgs_connected(st, err, errlen) < 0)
		return STORE_ERROR;
	st->in_tx = true;
	st->started = false;
	st->failed = false;
	st->sent = st->answered = 0;
	st->fence_at = st->commit_at = -1;
	return STORE_OK;
}

static void pg_rollback(struct store *base)
{
	struct pg_store *st = P(base);
	char err[256];

	pgrows_clear(st->rows);
	pipe_drain(st);
	if (PQtransactionStatus(st->conn) != PQTRANS_IDLE &&
	    exec_sql(st->conn, "ROLLBACK", err, sizeof err) < 0)
		log_warn("%s", err);
	st->in_tx = st->started = false;
	st->failed = false;
	st->fence_at = st->commit_at = -1;
}

static int pg_commit(struct store *base, char *err, size_t errlen)
{
	struct pg_store *st = P(base);

	if (!st->in_tx)
		return STORE_OK;
	rows_send(st);
	if (st->started) {
		st->commit_at = st->sent;
		send_stmt(st, -1, "COMMIT", 0, NULL);
		pipe_drain(st);
	}
	if (st->failed) {
		snprintf(err, errlen, "%s", st->failure);
		pg_rollback(base);
		return STORE_ERROR;
	}
	st->in_tx = st->started = false;
	st->fence_at = st->commit_at = -1;
	return STORE_OK;
}

static bool pg_in_tx(const struct store *base)
{
	return ((const struct pg_store *)base)->in_tx;
}

/* ---- rows as SQL values ------------------------------------------------ */

#define F(kind, type, member) { kind, offsetof(struct type, member) }
#define ROW(fields) { fields, (int)(sizeof fields / sizeof *fields) }

static const struct pg_field pool_fields[] = {
	F(PG_TEXT, store_pool_row, name),
	F(PG_TEXT, store_pool_row, settings),
	F(PG_REAL, store_pool_row, created_at),
};
static const struct pg_field resource_fields[] = {
	F(PG_TEXT, store_resource_row, pool),
	F(PG_TEXT, store_resource_row, name),
	F(PG_TEXT, store_resource_row, state),
	F(PG_TEXT, store_resource_row, descriptor),
	F(PG_INT, store_resource_row, version),
	F(PG_REAL, store_resource_row, created_at),
	F(PG_TIME, store_resource_row, last_used_at),
	F(PG_INT, store_resource_row, lease_count),
};
static const struct pg_field lease_fields[] = {
	F(PG_INT, store_lease_row, seq),
	F(PG_TEXT, store_lease_row, id),
	F(PG_TEXT, store_lease_row, pool),
	F(PG_TEXT, store_lease_row, resource),
	F(PG_TEXT, store_lease_row, mode),
	F(PG_INT, store_lease_row, token),
	F(PG_TEXT, store_lease_row, owner),
	F(PG_TEXT, store_lease_row, caller),
	F(PG_TEXT, store_lease_row, bind),
	F(PG_INT, store_lease_row, conn_id),
	F(PG_REAL, store_lease_row, ttl),
	F(PG_REAL, store_lease_row, acquired_at),
	F(PG_TIME, store_lease_row, expires_at),
	F(PG_TEXT, store_lease_row, request_id),
	F(PG_TIME, store_lease_row, expired_at),
};
static const struct pg_field orphan_fields[] = {
	F(PG_INT, store_orphan_row, id),
	F(PG_TEXT, store_orphan_row, pool),
	F(PG_TEXT, store_orphan_row, name),
	F(PG_TEXT, store_orphan_row, descriptor),
	F(PG_TEXT, store_orphan_row, destroy),
	F(PG_REAL, store_orphan_row, since),
};
/* Without seq, which PostgreSQL assigns. */
static const struct pg_field history_fields[] = {
	F(PG_REAL, store_history_row, at),
	F(PG_TEXT, store_history_row, event),
	F(PG_TEXT, store_history_row, pool),
	F(PG_TEXT, store_history_row, resource),
	F(PG_TEXT, store_history_row, lease),
	F(PG_TEXT, store_history_row, caller),
	F(PG_TEXT, store_history_row, owner),
	F(PG_TOKEN, store_history_row, token),
	F(PG_TEXT, store_history_row, detail),
};

const struct pg_row pg_pool_row = ROW(pool_fields);
const struct pg_row pg_resource_row = ROW(resource_fields);
const struct pg_row pg_lease_row = ROW(lease_fields);
const struct pg_row pg_orphan_row = ROW(orphan_fields);
const struct pg_row pg_history_row = ROW(history_fields);

void p_row(struct params *p, const struct pg_row *r, const void *row)
{
	const char *base = row;

	for (int i = 0; i < r->n; i++) {
		const void *m = base + r->f[i].off;

		switch (r->f[i].kind) {
		case PG_TEXT:
			p_text(p, *(const char *const *)m);
			break;
		case PG_INT:
			p_int(p, *(const int64_t *)m);
			break;
		case PG_REAL:
			p_double(p, *(const double *)m);
			break;
		case PG_TIME:
			p_time(p, *(const double *)m);
			break;
		case PG_TOKEN:
			if (*(const int64_t *)m > 0)
				p_int(p, *(const int64_t *)m);
			else
				p_text(p, NULL);
			break;
		}
	}
}

void col_row(PGresult *res, int i, int first, const struct pg_row *r,
	     void *row)
{
	char *base = row;

	for (int c = 0; c < r->n; c++) {
		void *m = base + r->f[c].off;

		switch (r->f[c].kind) {
		case PG_TEXT:
			*(const char **)m = col(res, i, first + c);
			break;
		case PG_INT:
		case PG_TOKEN:
			*(int64_t *)m = col_int(res, i, first + c);
			break;
		case PG_REAL:
		case PG_TIME:
			*(double *)m = col_double(res, i, first + c);
			break;
		}
	}
}

/* ---- writes ------------------------------------------------------------ */

/* Holds a put of row (all its columns) or a delete of the key in p. */
static int put_row(struct store *base, enum pgr_table t,
		   const struct pg_row *r, const void *row)
{
	struct params p = { .n = 0 };

	p_row(&p, r, row);
	return hold(P(base), t, false, &p);
}

static int delete_id(struct store *base, enum pgr_table t, int64_t id)
{
	struct params p = { .n = 0 };

	p_int(&p, id);
	return hold(P(base), t, true, &p);
}

static int pg_pool_put(struct store *base, const struct store_pool_row *row)
{
	return put_row(base, PGR_POOLS, &pg_pool_row, row);
}

/* Deletes by pool: what is held goes first, in order. */
static int pg_pool_delete(struct store *base, const char *name)
{
	static const enum stmt_id ids[] = { S_POOL_DEL_LEASES, S_POOL_DEL_RES,
					    S_POOL_DEL };
	struct pg_store *st = P(base);
	struct params p = { .n = 0 };

	p_text(&p, name);
	rows_send(st);
	for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
		if (send_write(st, ids[i], &p) < 0)
			return STORE_ERROR;
	return STORE_OK;
}

static int pg_resource_put(struct store *base,
			   const struct store_resource_row *row)
{
	return put_row(base, PGR_RESOURCES, &pg_resource_row, row);
}

static int pg_resource_delete(struct store *base, const char *pool,
			      const char *name)
{
	struct params p = { .n = 0 };

	p_text(&p, pool);
	p_text(&p, name);
	return hold(P(base), PGR_RESOURCES, true, &p);
}

static int pg_lease_put(struct store *base, const struct store_lease_row *row)
{
	return put_row(base, PGR_LEASES, &pg_lease_row, row);
}

static int pg_lease_delete(struct store *base, int64_t seq)
{
	return delete_id(base, PGR_LEASES, seq);
}

static int pg_leases_purge(struct store *base, double before)
{
	struct pg_store *st = P(base);
	struct params p = { .n = 0 };

	p_double(&p, before);
	rows_send(st);
	return send_write(st, S_LEASE_PURGE, &p);
}

static int pg_meta_put(struct store *base, const struct store_meta_row *row)
{
	struct params p = { .n = 0 };

	p_text(&p, row->key);
	p_int(&p, row->value);
	return send_write(P(base), S_META_PUT, &p);
}

static int pg_orphan_put(struct store *base,
			 const struct store_orphan_row *row)
{
	return put_row(base, PGR_ORPHANS, &pg_orphan_row, row);
}

static int pg_orphan_delete(struct store *base, int64_t id)
{
	return delete_id(base, PGR_ORPHANS, id);
}

/* One statement each, in report order behind the held rows: a waiter is
 * written once per wait, so these need no bulk form. */
static int pg_waiter_put(struct store *base,
			 const struct store_waiter_row *row)
{
	struct pg_store *st = P(base);
	struct params p = { .n = 0 };

	p_int(&p, row->seq);
	p_text(&p, row->caller);
	p_text(&p, row->request_id);
	p_text(&p, row->pool);
	p_text(&p, row->mode);
	p_text(&p, row->name);
	p_text(&p, row->match);
	p_double(&p, row->ends_at);
	rows_send(st);
	return send_write(st, S_WAITER_PUT, &p);
}

static int pg_waiter_delete(struct store *base, int64_t seq)
{
	struct pg_store *st = P(base);
	struct params p = { .n = 0 };

	p_int(&p, seq);
	rows_send(st);
	return send_write(st, S_WAITER_DEL, &p);
}

/* One pipelined INSERT per row: the pipeline already sends them in one
 * round trip, so a multi-row statement would save little here. */
static int pg_history_append(struct store *base,
			     const struct store_history_row *rows, size_t n)
{
	int rc = STORE_OK;

	for (size_t i = 0; i < n; i++)
		if (put_row(base, PGR_HISTORY, &pg_history_row, &rows[i]) !=
		    STORE_OK)
			rc = STORE_ERROR;
	return rc;
}

/* A write whose count of rows matters: it waits for its answer. The count,
 * or STORE_ERROR (recorded: the transaction fails). */
static int write_counted(struct pg_store *st, enum stmt_id id,
			 const struct params *p)
{
	char err[256];
	PGresult *res;
	int n;

	if (st->failed)
		return STORE_ERROR;
	if (!st->in_tx) {
		record(st, "a write outside of a transaction");
		return STORE_ERROR;
	}
	if (!st->started)
		tx_start(st); /* inside the transaction, behind its fence */
	rows_send(st);
	pipe_drain(st);
	if (st->failed)
		return STORE_ERROR;
	res = pgs_run(st, id, p, err, sizeof err);
	if (!res) {
		record(st, err);
		return STORE_ERROR;
	}
	n = atoi(PQcmdTuples(res));
	PQclear(res);
	return n;
}

static int pg_history_prune(struct store *base, double before,
			    int64_t max_rows, int step)
{
	struct pg_store *st = P(base);
	struct params p = { .n = 0 };
	int n, m;

	p_double(&p, before);
	p_int(&p, step);
	if ((n = write_counted(st, S_HIST_PRUNE_AGE, &p)) < 0)
		return STORE_ERROR;
	if (max_rows <= 0 || n >= step)
		return n;
	p.n = 0;
	p_int(&p, max_rows);
	p_int(&p, step - n);
	if ((m = write_counted(st, S_HIST_PRUNE_ROWS, &p)) < 0)
		return STORE_ERROR;
	return n + m;
}

/* PostgreSQL's own checkpoints and autovacuum need nothing from poold. */
/* A batch of ours is open, or the server answers a query now (a standby's
 * store answers too: it is healthy, only not serving). */
static int pg_ping(struct store *base, char *err, size_t errlen)
{
	struct pg_store *st = P(base);

	if (st->in_tx)
		return STORE_OK;
	if (pgs_connected(st, err, errlen) < 0 ||
	    exec_sql(st->conn, "SELECT 1", err, errlen) < 0)
		return STORE_ERROR;
	return STORE_OK;
}

static void pg_checkpoint(struct store *base)
{
	(void)base;
}

const struct store_ops store_pg_ops = {
	.name = "postgresql",
	.open = pg_open,
	.close = pg_close,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.in_tx = pg_in_tx,
	.pool_put = pg_pool_put,
	.pool_delete = pg_pool_delete,
	.resource_put = pg_resource_put,
	.resource_delete = pg_resource_delete,
	.lease_put = pg_lease_put,
	.lease_delete = pg_lease_delete,
	.leases_purge = pg_leases_purge,
	.orphan_put = pg_orphan_put,
	.orphan_delete = pg_orphan_delete,
	.waiter_put = pg_waiter_put,
	.waiter_delete = pg_waiter_delete,
	.meta_put = pg_meta_put,
	.history_append = pg_history_append,
	.history_prune = pg_history_prune,
	.load = pg_load,
	.resource_page = pg_resource_page,
	.lease_page = pg_lease_page,
	.history_query = pg_history_query,
	.ping = pg_ping,
	.checkpoint = pg_checkpoint,
	.lead_claim = pg_lead_claim,
	.lead_renew = pg_lead_renew,
	.lead_release = pg_lead_release,
};
