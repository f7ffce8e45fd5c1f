/*
 * hello: who am I to the daemon? On the Unix socket the caller is its uid
 * and a token, if given, is ignored (tokens are for TCP).
 */
#include "ops.h"
#include "pool_protocol.h"

static enum req_status exec(struct req *r)
{
	req_ok(r, json_pack("{s:s, s:s, s:b}", "version", POOL_VERSION,
			    "caller", r->who.name, "admin", r->who.admin));
	return REQ_DONE;
}

static const struct field fields[] = {
	{ "token", F_STRING, false },
	{ NULL, 0, false },
};
const struct op op_hello = { "hello", 0, fields, exec };
