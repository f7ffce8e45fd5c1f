/*
 * pool.set: changes some settings of a pool, and with "state" starts
 * ("draining") or ends ("active") a drain. All or nothing. Raising max_size
 * or ending a drain may serve waiters at once.
 */
#include <string.h>

#include "ops.h"
#include "pool.h"
#include "pool_protocol.h"
#include "poold.h"
#include "wait.h"

static enum req_status exec(struct req *r)
{
	const char *state = req_str(r, "state");
	struct pool *p = op_pool(r);
	char err[256];

	if (!p)
		return REQ_DONE;
	if (state && strcmp(state, "active") != 0 &&
	    strcmp(state, "draining") != 0) {
		req_fail(r, POOL_ERR_BAD_REQUEST, "field \"state\" must be "
			 "\"active\" or \"draining\"");
		return REQ_DONE;
	}
	if (pool_settings_bound(req_msg(r), &r->pd->cfg, err, sizeof err) < 0 ||
	    pool_settings_apply(&p->set, req_msg(r), err, sizeof err) < 0) {
		req_fail(r, POOL_ERR_BAD_REQUEST, "%s", err);
		return REQ_DONE;
	}
	if (state && strcmp(state, "draining") == 0 && !p->draining) {
		op_pool_start_drain(p);
	} else {
		if (state)
			p->draining = false;
		pool_save(p);
	}
	req_ok(r, pool_to_json(p));
	return REQ_DONE;
}

static const struct field fields[] = {
	{ "pool", F_NAME, true },
	{ "state", F_STRING, false },
	{ NULL, 0, false },
};
const struct op op_pool_set = { "pool.set", OP_ADMIN | OP_SETTINGS, fields,
				exec };
