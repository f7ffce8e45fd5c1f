/*
 * lease: pop-style. Takes a free resource in pool order, else creates one
 * (create-on-empty, up to max_size), else waits up to "wait" seconds in the
 * pool's FIFO queue, else answers exhausted. An absent ttl means the pool's
 * lease_ttl, 0 means none. A live request_id answers the same lease again.
 */
#include "ops.h"

static enum req_status exec(struct req *r)
{
	return op_take(r, MODE_POP);
}

static const struct field fields[] = {
	{ "pool", F_NAME, true },
	{ "ttl", F_SECONDS, false },
	{ "wait", F_SECONDS, false },
	{ "owner", F_STRING, false },
	{ "bind", F_STRING, false },
	{ "request_id", F_STRING, false },
	{ NULL, 0, false },
};
const struct op op_lease = { "lease", 0, fields, exec };
