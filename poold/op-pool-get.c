/* pool.get: one pool's settings, with its occupancy as status shows it. */
#include "ops.h"
#include "pool.h"

static enum req_status exec(struct req *r)
{
	struct pool *p = op_pool(r);
	json_t *o;

	if (!p)
		return REQ_DONE;
	o = pool_to_json(p);
	json_object_set_new(o, "occupancy", pool_occupancy_json(p, r->now));
	req_ok(r, o);
	return REQ_DONE;
}

static const struct field fields[] = {
	{ "pool", F_NAME, true },
	{ NULL, 0, false },
};
const struct op op_pool_get = { "pool.get", 0, fields, exec };
