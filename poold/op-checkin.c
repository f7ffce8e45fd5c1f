/*
 * checkin: ends a lease, optionally with a final descriptor, which then
 * needs "version" (compare-and-swap as in replace: a stale version is
 * conflict and the lease stays held). A version given alone is checked too.
 */
#include "ops.h"
#include "pool_protocol.h"

static enum req_status exec(struct req *r)
{
	struct lease *l = lease_for_request(r, req_str(r, "lease"));
	json_t *desc = req_get(r, "descriptor");

	if (!l)
		return REQ_DONE;
	if (desc && !req_has(r, "version")) {
		req_fail(r, POOL_ERR_BAD_REQUEST, "a checkin with \"descriptor\" "
			 "needs \"version\" (the version you read)");
		return REQ_DONE;
	}
	if (req_has(r, "version") && op_check_version(r, l->res) < 0)
		return REQ_DONE;
	return op_give_back(r, l);
}

static const struct field fields[] = {
	{ "lease", F_STRING, true },
	{ "descriptor", F_DESCRIPTOR, false },
	{ "version", F_VERSION, false },
	{ "discard", F_BOOL, false },
	{ NULL, 0, false },
};
const struct op op_checkin = { "checkin", 0, fields, exec };
