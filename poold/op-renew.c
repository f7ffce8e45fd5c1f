/*
 * renew: sets expires_at to now + ttl. Without ttl the lease's own TTL is
 * used; a ttl given becomes the lease's TTL for later renews; 0 removes the
 * TTL. An expired lease cannot be renewed (expired).
 */
#include "jsonutil.h"
#include "ops.h"
#include "pool.h"
#include "pool_protocol.h"

static enum req_status exec(struct req *r)
{
	struct lease *l = lease_for_request(r, req_str(r, "lease"));
	double ttl;
	char why[200];

	if (!l)
		return REQ_DONE;
	ttl = req_num(r, "ttl", l->ttl);
	if (pool_ttl_check(&l->res->pool->set, ttl, "ttl", why,
			   sizeof why) < 0) {
		req_fail(r, POOL_ERR_BAD_REQUEST, "%s", why);
		return REQ_DONE;
	}
	lease_renew(r->pd, l, ttl, r->now);
	req_ok(r, json_pack("{s:o}", "expires_at", json_time(l->expires_at)));
	return REQ_DONE;
}

static const struct field fields[] = {
	{ "lease", F_STRING, true },
	{ "ttl", F_SECONDS, false },
	{ NULL, 0, false },
};
const struct op op_renew = { "renew", 0, fields, exec };
