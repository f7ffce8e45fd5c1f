/*
 * lease.list: a page of live leases in grant order, of one pool or all.
 * "next" is an opaque cursor (pass it as "after"), null on the last page.
 * Another caller's lease id is null unless the caller is an admin: the id
 * is the capability to return it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "pool.h"
#include "pool_protocol.h"
#include "poold.h"
#include "store.h"

/* A lease's answer text beyond its descriptor and owner, about. */
#define ITEM_BYTES 400

static enum req_status exec(struct req *r)
{
	const char *pool = req_str(r, "pool");
	struct lease *l = NULL;
	int64_t after;
	char **ids, next[32];
	int limit, n, i;
	size_t bytes = 0;
	json_t *list;

	if ((limit = op_limit(r)) < 0 || op_after_seq(r, &after) < 0 ||
	    (pool && !op_pool(r)))
		return REQ_DONE;
	if (op_page_sync(r) < 0)
		return REQ_DONE;
	n = r->pd->store->ops->lease_page(r->pd->store, pool, after,
					  limit + 1, &ids);
	if (n < 0) {
		req_fail(r, POOL_ERR_INTERNAL, "could not read the lease list; "
			 "the daemon's log says why");
		return REQ_DONE;
	}
	list = json_array();
	for (i = 0; i < n && i < limit; i++) {
		struct lease *found = hmap_get(&r->pd->leases, ids[i]);

		if (i > 0 && bytes >= op_page_bytes(r))
			break; /* the page is full in bytes */
		if (found) {
			l = found;
			json_array_append_new(list, lease_to_json(l,
				r->who.admin || strcmp(l->caller, r->who.name) == 0));
			bytes += strlen(l->res ? l->res->descriptor : "") +
				 strlen(l->owner) + ITEM_BYTES;
		}
	}
	/* ids holds one more than the page when another page follows. */
	if (i < n && l)
		snprintf(next, sizeof next, "%lld", (long long)l->seq);
	req_ok(r, json_pack("{s:o, s:o}", "leases", list, "next",
			    i < n && l ? json_string(next) : json_null()));
	store_page_free(ids, n);
	return REQ_DONE;
}

static const struct field fields[] = {
	{ "pool", F_NAME, false },
	{ "limit", F_COUNT, false },
	{ "after", F_ANY, false },
	{ NULL, 0, false },
};
const struct op op_lease_list = { "lease.list", 0, fields, exec };
