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
	return json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "connections", pd->nconns,
			 "conns_refused", (json_int_t)pd->refused.conns_refused,
			 "too_large", (json_int_t)pd->refused.too_large,
			 "bad_requests", (json_int_t)pd->refused.bad_requests,
			 "too_deep", (json_int_t)pd->refused.too_deep,
			 "slow_readers", (json_int_t)pd->refused.slow_readers,
			 "idle_closed", (json_int_t)pd->refused.idle_closed,
			 "hello_timeouts",
			 (json_int_t)pd->refused.hello_timeouts,
			 "accept_paused", (json_int_t)pd->refused.accept_paused);
}

/* The result for one pool (one != NULL) or every pool; also /api/status. */
json_t *op_status_json(struct poold *pd, const struct pool *one, double now)
{
	json_t *list = json_array();
	struct pool **all;
	size_t n;

	if (one) {
		json_array_append_new(list, pool_occupancy_json(one, now));
	} else {
		all = op_pools_sorted(pd, &n);
		for (size_t i = 0; i < n; i++)
			json_array_append_new(list,
					      pool_occupancy_json(all[i], now));
		free(all);
	}
	return json_pack("{s:o, s:o, s:o*}", "pools", list, "daemon",
			 daemon_json(pd), "ha", leader_json(pd));
}

static enum req_status exec(struct req *r)
{
	struct pool *one = NULL;

	if (req_has(r, "pool") && !(one = op_pool(r)))
		return REQ_DONE;
	req_ok(r, op_status_json(r->pd, one, r->now));
	return REQ_DONE;
}

static const struct field fields[] = {
	{ "pool", F_NAME, false },
	{ NULL, 0, false },
};
const struct op op_status = { "status", OP_STANDBY, fields, exec };
