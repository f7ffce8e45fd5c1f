/*
 * checkout: lock-then-replace. Like lease, but may target the resource
 * "name" (not free: wait or exhausted; missing: not_found) or the first free
 * one in pool order whose descriptor has every top-level key of "match" with
 * an equal value of the same JSON type. Create-on-empty applies only when
 * neither is given.
 */
#include "ops.h"

static enum req_status exec(struct req *r)
{
	return op_take(r, MODE_CHECKOUT);
}

static const struct field fields[] = {
	{ "pool", F_NAME, true },
	{ "name", F_RESNAME, false },
	{ "match", F_OBJECT, false },
	{ "ttl", F_SECONDS, false },
	{ "wait", F_SECONDS, false },
	{ "owner", F_STRING, false },
	{ "bind", F_STRING, false },
	{ "request_id", F_STRING, false },
	{ NULL, 0, false },
};
const struct op op_checkout = { "checkout", 0, fields, exec };
