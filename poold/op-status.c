/*
 * status: occupancy and counters of one pool or all (in name order), for
 * operators and monitoring.
 */
#include <stdlib.h>

#include "leader.h"
#include "ops.h"
#include "pool.h"
#include "poold.h"

/* Daemon-wide figures (an extension): connections and every refusal. */
static json_t *daemon_json(const struct poold *pd)
{
	return json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "connections", pd->nconns,
			 "conns_refused", (json_int_t)pd->refused.conns_refused,
			 "too_large", (json_int_t)pd->refused.too_large,
			 "bad_requests", (json_int_t)pd->refused.bad_requests,
			 "too_deep", (json_int_t)pd->refused.too_deep,
			 "slow_readers", (json_int_t)pd->refused.slow_readers,
			 "idle_closed", (json_int_t)pd->refused.idle_closed);
}

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
	req_ok(r, json_pack("{s:o, s:o, s:o*}", "pools", list, "daemon",
			    daemon_json(r->pd), "ha", leader_json(r->pd)));
	return REQ_DONE;
}

static const struct field fields[] = {
	{ "pool", F_NAME, false },
	{ NULL, 0, false },
};
const struct op op_status = { "status", OP_STANDBY, fields, exec };
