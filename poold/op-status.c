/*
 * status: occupancy and counters of one pool or all (in name order), for
 * operators and monitoring.
 */
#include <stdlib.h>

#include "ops.h"
#include "pool.h"
#include "poold.h"

static enum req_status exec(struct req *r)
{
	json_t *list = json_array();
	struct pool **all, *one;
	size_t n;

	if (req_has(r, "pool")) {
		if (!(one = op_pool(r))) {
			json_decref(list);
			return REQ_DONE;
		}
		json_array_append_new(list, pool_occupancy_json(one, r->now));
	} else {
		all = op_pools_sorted(r->pd, &n);
		for (size_t i = 0; i < n; i++)
			json_array_append_new(list,
					      pool_occupancy_json(all[i], r->now));
		free(all);
	}
	req_ok(r, json_pack("{s:o}", "pools", list));
	return REQ_DONE;
}

static const struct field fields[] = {
	{ "pool", F_NAME, false },
	{ NULL, 0, false },
};
const struct op op_status = { "status", 0, fields, exec };
