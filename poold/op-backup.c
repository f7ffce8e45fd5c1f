/*
 * backup (admin): a consistent copy of the committed database, made by the
 * daemon through its own connection (SQLite's online backup), into "file":
 * an absolute path of a file that does not exist yet, created mode 0600 by
 * the daemon's user. Answers {"file", "bytes", "seconds"}. What was handled
 * before the backup is committed first, so the copy holds it.
 */
#include <stdio.h>
#include <sys/stat.h>

#include "ops.h"
#include "pool_protocol.h"
#include "poold.h"
#include "reply.h"
#include "store.h"
#include "util.h"

static enum req_status exec(struct req *r)
{
	const char *file = req_str(r, "file");
	struct store *st = r->pd->store;
	char err[512];
	struct stat sb;
	double t0;
	int rc;

	if (!st->ops->backup) {
		req_fail(r, POOL_ERR_BAD_REQUEST, "this daemon's store (%s) "
			 "makes no backups itself; use the database's own "
			 "backup tools", st->ops->name);
		return REQ_DONE;
	}
	if (file[0] != '/') {
		req_fail(r, POOL_ERR_BAD_REQUEST, "field \"file\" must be an "
			 "absolute path: the daemon writes it, from its own "
			 "working directory");
		return REQ_DONE;
	}
	reply_flush(r->pd);
	t0 = now_mono();
	rc = st->ops->backup(st, file, err, sizeof err);
	if (rc != STORE_OK) {
		req_fail(r, rc == STORE_BUSY ? POOL_ERR_BUSY : POOL_ERR_INTERNAL,
			 "%s", err);
		return REQ_DONE;
	}
	req_ok(r, json_pack("{s:s, s:I, s:f}", "file", file, "bytes",
			    (json_int_t)(stat(file, &sb) == 0 ? sb.st_size : 0),
			    "seconds", now_mono() - t0));
	return REQ_DONE;
}

static const struct field fields[] = {
	{ "file", F_STRING, true },
	{ NULL, 0, false },
};
const struct op op_backup = { "backup", OP_ADMIN, fields, exec };
