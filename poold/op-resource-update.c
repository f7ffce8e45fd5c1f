/*
 * resource.update: replaces the descriptor of a free resource, compare-and-
 * swap on version. A resource that is not free is "conflict" (its holder
 * uses replace); so is a stale version.
 */
#include "ops.h"
#include "pool.h"
#include "pool_protocol.h"

static enum req_status exec(struct req *r)
{
	struct pool *p = op_pool(r);
	struct resource *res = p ? op_resource(r, p) : NULL;

	if (!res)
		return REQ_DONE;
	if (res->state != RS_FREE) {
		req_fail(r, POOL_ERR_CONFLICT, "resource %s is %s; only a free "
			 "resource can be updated (its holder uses replace)",
			 res->name, res_state_name(res->state));
		return REQ_DONE;
	}
	if (op_check_version(r, res) < 0)
		return REQ_DONE;
	resource_change(res, RS_FREE, json_incref(req_get(r, "descriptor")));
	req_ok(r, resource_to_json(res));
	return REQ_DONE;
}

static const struct field fields[] = {
	{ "pool", F_NAME, true },
	{ "name", F_RESNAME, true },
	{ "descriptor", F_DESCRIPTOR, true },
	{ "version", F_VERSION, true },
	{ NULL, 0, false },
};
const struct op op_resource_update = { "resource.update", OP_ADMIN, fields,
				       exec };
