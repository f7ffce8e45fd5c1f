/*
 * renew: sets expires_at to now + ttl. Without ttl the lease's own TTL is
 * used; a ttl given becomes the lease's TTL for later renews; 0 removes the
 * TTL. An expired lease cannot be renewed (expired).
 */
#include "jsonutil.h"
#include "ops.h"

static enum req_status exec(struct req *r)
{
	struct lease *l = lease_for_request(r, req_str(r, "lease"));

	if (!l)
		return REQ_DONE;
	lease_renew(r->pd, l, req_num(r, "ttl", l->ttl), r->now);
	req_ok(r, json_pack("{s:o}", "expires_at", json_time(l->expires_at)));
	return REQ_DONE;
}

static const struct field fields[] = {
	{ "lease", F_STRING, true },
	{ "ttl", F_SECONDS, false },
	{ NULL, 0, false },
};
const struct op op_renew = { "renew", 0, fields, exec };
