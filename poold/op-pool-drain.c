/*
 * pool.drain: the pool hands out no new leases (requests and waiters get
 * "draining"), its free resources are destroyed now and leased ones when
 * they come back. pool.set with "state": "active" ends a drain.
 */
#include "ops.h"
#include "pool.h"

static enum req_status exec(struct req *r)
{
	struct pool *p = op_pool(r);

	if (!p)
		return REQ_DONE;
	if (!p->draining)
		op_pool_start_drain(p);
	req_ok(r, pool_to_json(p));
	return REQ_DONE;
}

static const struct field fields[] = {
	{ "pool", F_NAME, true },
	{ NULL, 0, false },
};
const struct op op_pool_drain = { "pool.drain", OP_ADMIN, fields, exec };
