/*
 * store-sqlite-ckpt.c - see store-sqlite-ckpt.h.
 *
 * Why a thread: poold commits with wal_autocheckpoint off, and the janitor
 * asks for a PASSIVE checkpoint once a second. Run in the loop, that
 * checkpoint copied the WAL's pages into the database and, at synchronous
 * NORMAL, fsynced both files: 5-10 ms during which no request was read or
 * answered, once a second: a stall every request then waiting paid. In
 * WAL mode a checkpoint by another connection runs beside the writer: PASSIVE
 * takes only the checkpointer's lock, never the writer's, and never waits,
 * so the loop's commits go on while pages are copied. The thread owns its
 * connection (SQLITE_OPEN_NOMUTEX: one thread uses it); the mutex guards
 * only the request flag and the failure text handed back to the loop, which
 * logs it (the log is the loop's).
 */
#include "store-sqlite-ckpt.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "util.h"
#include "worker.h"

struct sq_ckpt {
	struct worker w;
	sqlite3 *db;           /* the thread's own connection */
	char failure[256];     /* the last failure not yet handed back, or "";
				* under the worker's lock */
};

static void checkpoint(void *arg)
{
	struct sq_ckpt *c = arg;
	int rc = sqlite3_wal_checkpoint_v2(c->db, NULL,
					   SQLITE_CHECKPOINT_PASSIVE, NULL,
					   NULL);

	if (rc == SQLITE_OK)
		return;
	worker_lock(&c->w);
	snprintf(c->failure, sizeof c->failure, "%s", sqlite3_errmsg(c->db));
	worker_unlock(&c->w);
}

struct sq_ckpt *sq_ckpt_start(const char *path, char *err, size_t errlen)
{
	struct sq_ckpt *c = xcalloc(1, sizeof *c);

	/* A connection learns that the database is in WAL mode when it first
	 * reads it; until then a checkpoint is a silent no-op. */
	if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE |
			    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    sqlite3_exec(c->db, "PRAGMA journal_mode = WAL", NULL, NULL,
			 NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open database %s for its "
			 "checkpoints: %s", path,
			 c->db ? sqlite3_errmsg(c->db) : "out of memory");
		goto fail;
	}
	if (worker_start(&c->w, checkpoint, c) < 0) {
		snprintf(err, errlen, "cannot start the checkpoint thread "
			 "for %s", path);
		goto fail;
	}
	return c;
fail:
	sqlite3_close(c->db);
	free(c);
	return NULL;
}

int sq_ckpt_request(struct sq_ckpt *c, char *failure, size_t len)
{
	int failed;

	worker_lock(&c->w);
	failed = c->failure[0] != '\0';
	if (failed) {
		snprintf(failure, len, "%s", c->failure);
		c->failure[0] = '\0';
	}
	worker_unlock(&c->w);
	worker_ask(&c->w);
	return failed;
}

void sq_ckpt_stop(struct sq_ckpt *c)
{
	if (!c)
		return;
	worker_stop(&c->w);
	sqlite3_close(c->db);
	free(c);
}
