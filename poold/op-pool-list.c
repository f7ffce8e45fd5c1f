/* pool.list: every pool's settings, in name order. */
#include <stdlib.h>

#include "ops.h"
#include "pool.h"

static enum req_status exec(struct req *r)
{
	size_t n;
	struct pool **all = op_pools_sorted(r->pd, &n);
	json_t *list = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, pool_to_json(all[i]));
	free(all);
	req_ok(r, json_pack("{s:o}", "pools", list));
	return REQ_DONE;
}

static const struct field fields[] = { { NULL, 0, false } };
const struct op op_pool_list = { "pool.list", 0, fields, exec };
