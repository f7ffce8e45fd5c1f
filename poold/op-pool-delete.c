/*
 * pool.delete: removes a pool. A pool that still holds resources is
 * "conflict" unless force; with force every lease of the pool ends (its
 * holder then gets not_found), waiters get not_found, and the pool is gone
 * at once; the destroy commands of its resources still run, in the
 * background.
 */
#include "ops.h"
#include "pool.h"
#include "pool_protocol.h"
#include "poold.h"
#include "provision.h"
#include "wait.h"

static enum req_status exec(struct req *r)
{
	struct pool *p = op_pool(r);
	struct resource *res;
	struct lease *l;

	if (!p)
		return REQ_DONE;
	if (p->total > 0 && !req_bool(r, "force", false)) {
		req_fail(r, POOL_ERR_CONFLICT, "pool %s still holds %zu "
			 "resources (%zu leased); drain it first, or pass "
			 "force to end its leases and delete it now", p->name,
			 p->total, p->count[RS_LEASED]);
		return REQ_DONE;
	}
	wait_fail_all(p, POOL_ERR_NOT_FOUND, "the pool was deleted");
	while ((l = TAILQ_FIRST(&p->leases)))
		lease_end(r->pd, l, END_REMOVED, NULL, false, r->now);
	for (int s = 0; s < RS_NSTATES; s++)
		TAILQ_FOREACH(res, &p->lists[s], link)
			provision_orphan(res);
	pool_remove(p);
	req_ok(r, json_object());
	return REQ_DONE;
}

static const struct field fields[] = {
	{ "pool", F_NAME, true },
	{ "force", F_BOOL, false },
	{ NULL, 0, false },
};
const struct op op_pool_delete = { "pool.delete", OP_ADMIN, fields, exec };
