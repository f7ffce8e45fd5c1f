/* lease.get: a live lease as it is now; its holder's or an admin's. */
#include "ops.h"

static enum req_status exec(struct req *r)
{
	struct lease *l = lease_for_request(r, req_str(r, "lease"));

	if (l)
		req_ok(r, lease_to_json(l, true));
	return REQ_DONE;
}

static const struct field fields[] = {
	{ "lease", F_STRING, true },
	{ NULL, 0, false },
};
const struct op op_lease_get = { "lease.get", 0, fields, exec };
