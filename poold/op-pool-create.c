/*
 * pool.create: a new, empty, active pool with the given settings (the rest
 * default). A taken name is "exists"; a bad setting is "bad_request" and
 * creates nothing.
 */
#include "ops.h"
#include "pool.h"
#include "pool_protocol.h"
#include "poold.h"

static enum req_status exec(struct req *r)
{
	const char *name = req_str(r, "pool");
	struct pool_settings s;
	struct pool *p;
	char err[256];

	if (pool_find(r->pd, name)) {
		req_fail(r, POOL_ERR_EXISTS, "pool %s already exists; change "
			 "it with pool.set", name);
		return REQ_DONE;
	}
	pool_settings_init(&s);
	if (pool_settings_bound(req_msg(r), &r->pd->cfg, err, sizeof err) < 0 ||
	    pool_settings_apply(&s, req_msg(r), err, sizeof err) < 0) {
		req_fail(r, POOL_ERR_BAD_REQUEST, "%s", err);
	} else {
		p = pool_new(r->pd, name, &s, r->now);
		req_ok(r, pool_to_json(p));
	}
	pool_settings_clear(&s);
	return REQ_DONE;
}

static const struct field fields[] = {
	{ "pool", F_NAME, true },
	{ NULL, 0, false },
};
const struct op op_pool_create = { "pool.create", OP_ADMIN | OP_SETTINGS,
				   fields, exec };
