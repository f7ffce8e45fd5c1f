/*
 * resource.remove: takes a resource out of its pool for good. A leased one
 * needs force (its lease ends; the holder then gets not_found), and so does
 * one that is creating, cleaning or destroying: its command is stopped and
 * it is deleted at once; for a creating or cleaning one the destroy
 * command, if any, then runs in the background, while forcing a destroying
 * one ends its destroy retries. A free or leased one is destroyed: it is destroying while
 * the pool's destroy command, if any, runs. The freed capacity may let a
 * waiter's create-on-empty go ahead.
 */
#include "ops.h"
#include "pool.h"
#include "pool_protocol.h"
#include "provision.h"
#include "wait.h"

static enum req_status exec(struct req *r)
{
	struct pool *p = op_pool(r);
	struct resource *res = p ? op_resource(r, p) : NULL;

	if (!res)
		return REQ_DONE;
	if (res->state != RS_FREE && !req_bool(r, "force", false)) {
		req_fail(r, POOL_ERR_CONFLICT, "resource %s is %s; pass force "
			 "to remove it anyway%s", res->name,
			 res_state_name(res->state),
			 res->lease ? " (its lease ends)" : "");
		return REQ_DONE;
	}
	if (res->lease)
		lease_end(r->pd, res->lease, END_REMOVED, NULL, false, r->now);
	p->stats.removed++;
	if (res->state == RS_FREE || res->state == RS_LEASED) {
		resource_destroy(res); /* runs the destroy command, if any */
	} else if (res->state == RS_DESTROYING) {
		/* Forcing a destroy that keeps failing means giving up on
		 * it: its retries end, the operator takes it from here. */
		provision_cancel(res);
		resource_delete(res);
	} else {
		/* Forced means now: its create or reset stops, and the
		 * destroy command (something half made may need undoing)
		 * runs in the background. */
		provision_orphan(res);
		resource_delete(res);
	}
	req_ok(r, json_object());
	return REQ_DONE;
}

static const struct field fields[] = {
	{ "pool", F_NAME, true },
	{ "name", F_RESNAME, true },
	{ "force", F_BOOL, false },
	{ NULL, 0, false },
};
const struct op op_resource_remove = { "resource.remove", OP_ADMIN, fields,
				       exec };
