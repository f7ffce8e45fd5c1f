/*
 * watch: answers {} and then streams event lines (see events.h) on this
 * connection until it closes. Other requests on the connection keep
 * working; a batch's events follow its answers, after its commit.
 */
#include "events.h"
#include "ops.h"
#include "poold.h"

static enum req_status exec(struct req *r)
{
	const char *pool = req_str(r, "pool");

	if (pool && !op_pool(r))
		return REQ_DONE;
	req_ok(r, json_object());
	events_watch(r->pd, r->conn, &r->who, pool);
	return REQ_DONE;
}

static const struct field fields[] = {
	{ "pool", F_NAME, false },
	{ NULL, 0, false },
};
const struct op op_watch = { "watch", 0, fields, exec };
