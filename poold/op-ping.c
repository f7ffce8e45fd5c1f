/* ping: is the daemon alive? Answers its version and uptime; no fields.
 * The answer is written as text (no tree): ping is the transport's
 * benchmark, and it should cost what a request costs to carry. */
#include "ops.h"
#include "jsonutil.h"
#include "pool_protocol.h"
#include "poold.h"
#include "util.h"

static enum req_status exec(struct req *r)
{
	static struct jtext b; /* reused between answers */

	b.len = 0;
	jtext_lit(&b, "{\"version\":");
	jtext_str(&b, POOL_VERSION);
	jtext_lit(&b, ",\"uptime\":");
	jtext_seconds(&b, now_mono() - r->pd->started);
	jtext_lit(&b, ",\"protocol\":");
	jtext_int(&b, POOL_PROTOCOL_VERSION);
	jtext_raw(&b, "}", 1);
	req_ok_text(r, b.p, b.len);
	return REQ_DONE;
}

static const struct field fields[] = { { NULL, 0, false } };
const struct op op_ping = { "ping", OP_STANDBY, fields, exec };
