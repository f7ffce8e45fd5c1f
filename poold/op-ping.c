/* ping: is the daemon alive? Answers its version and uptime; no fields. */
#include "ops.h"
#include "jsonutil.h"
#include "pool_protocol.h"
#include "poold.h"
#include "util.h"

static enum req_status exec(struct req *r)
{
	req_ok(r, json_pack("{s:s, s:o, s:i}", "version", POOL_VERSION,
			    "uptime", json_seconds(now_mono() - r->pd->started),
			    "protocol", POOL_PROTOCOL_VERSION));
	return REQ_DONE;
}

static const struct field fields[] = { { NULL, 0, false } };
const struct op op_ping = { "ping", OP_STANDBY, fields, exec };
