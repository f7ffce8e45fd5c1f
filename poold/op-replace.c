/*
 * replace: compare-and-swap of a held resource's descriptor. Succeeds only
 * if "version" is the resource's current version; otherwise conflict and
 * nothing changes. The lease stays held.
 */
#include "journal.h"
#include "ops.h"
#include "pool.h"

static enum req_status exec(struct req *r)
{
	struct lease *l = lease_for_request(r, req_str(r, "lease"));

	if (!l || op_check_version(r, l->res) < 0)
		return REQ_DONE;
	resource_change(l->res, RS_LEASED, json_incref(req_get(r, "descriptor")));
	l->res->pool->stats.replaced++;
	journal_event(r->pd, "replaced", l->res->pool, l->res, l);
	req_ok(r, json_pack("{s:I}", "version", (json_int_t)l->res->version));
	return REQ_DONE;
}

static const struct field fields[] = {
	{ "lease", F_STRING, true },
	{ "descriptor", F_DESCRIPTOR, true },
	{ "version", F_VERSION, true },
	{ NULL, 0, false },
};
const struct op op_replace = { "replace", 0, fields, exec };
