/*
 * return: ends a lease (pop or checkout). With "descriptor" that object
 * replaces the stored one (one change: version +1 in all); with "discard"
 * the resource is destroyed instead. The resource goes to the oldest waiter
 * that can take it, else becomes free; in a draining pool it is destroyed.
 */
#include "ops.h"

static enum req_status exec(struct req *r)
{
	struct lease *l = lease_for_request(r, req_str(r, "lease"));

	return l ? op_give_back(r, l) : REQ_DONE;
}

static const struct field fields[] = {
	{ "lease", F_STRING, true },
	{ "descriptor", F_DESCRIPTOR, false },
	{ "discard", F_BOOL, false },
	{ NULL, 0, false },
};
const struct op op_return = { "return", 0, fields, exec };
