/* resource.get: one resource as it is now. */
#include "ops.h"
#include "pool.h"

static enum req_status exec(struct req *r)
{
	struct pool *p = op_pool(r);
	struct resource *res = p ? op_resource(r, p) : NULL;

	if (res)
		req_ok(r, resource_to_json(res));
	return REQ_DONE;
}

static const struct field fields[] = {
	{ "pool", F_NAME, true },
	{ "name", F_RESNAME, true },
	{ NULL, 0, false },
};
const struct op op_resource_get = { "resource.get", 0, fields, exec };
