/*
 * resource.list: a page of a pool's resources in name order, optionally of
 * one state. "next" is the name to pass as "after" for the following page,
 * null on the last page.
 */
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "pool.h"
#include "pool_protocol.h"
#include "poold.h"
#include "store.h"

/* A resource's answer text beyond its descriptor (names, times), about. */
#define ITEM_BYTES 200

static enum req_status exec(struct req *r)
{
	const char *state = req_str(r, "state");
	json_t *after = req_get(r, "after"), *list;
	struct pool *p = op_pool(r);
	enum res_state st;
	char **names;
	int limit, n, i;
	size_t bytes = 0;

	if (!p || (limit = op_limit(r)) < 0)
		return REQ_DONE;
	if (state && res_state_parse(state, &st) < 0) {
		req_fail(r, POOL_ERR_BAD_REQUEST, "field \"state\" must be one "
			 "of creating, free, leased, cleaning, destroying");
		return REQ_DONE;
	}
	if (after && !json_is_string(after) && !json_is_null(after)) {
		req_fail(r, POOL_ERR_BAD_REQUEST, "field \"after\" must be a "
			 "resource name (the \"next\" of the previous page)");
		return REQ_DONE;
	}
	/* One more than asked tells whether another page follows. */
	if (op_page_sync(r) < 0)
		return REQ_DONE;
	n = r->pd->store->ops->resource_page(r->pd->store, p->name, state,
					     json_string_value(after),
					     limit + 1, &names);
	if (n < 0) {
		req_fail(r, POOL_ERR_INTERNAL, "could not read the resource "
			 "list; the daemon's log says why");
		return REQ_DONE;
	}
	list = json_array();
	for (i = 0; i < n && i < limit; i++) {
		struct resource *res = resource_find(p, names[i]);

		if (i > 0 && bytes >= op_page_bytes(r))
			break; /* the page is full in bytes */
		if (res) {
			json_array_append_new(list, resource_to_json(res));
			bytes += strlen(res->descriptor) + ITEM_BYTES;
		}
	}
	/* names holds one more than the page when another page follows. */
	req_ok(r, json_pack("{s:o, s:o}", "resources", list, "next",
			    i < n ? json_string(names[i - 1]) : json_null()));
	store_page_free(names, n);
	return REQ_DONE;
}

static const struct field fields[] = {
	{ "pool", F_NAME, true },
	{ "state", F_STRING, false },
	{ "limit", F_COUNT, false },
	{ "after", F_ANY, false },
	{ NULL, 0, false },
};
const struct op op_resource_list = { "resource.list", 0, fields, exec };
