/*
 * hello: who am I to the daemon? On the Unix socket the caller is its uid
 * and a token, if given, is ignored. On TCP it must come first, with a
 * token from --tokens: the caller is then the token's NAME; a missing or
 * wrong token is forbidden and closes the connection.
 */
#include "auth.h"
#include "conn.h"
#include "ops.h"
#include "pool_protocol.h"
#include "poold.h"

static enum req_status exec(struct req *r)
{
	const char *token = req_str(r, "token");
	unsigned char token_id[AUTH_ID_LEN];
	const char *name;
	bool admin = false;

	if (conn_needs_hello(r->conn)) {
		name = token ? auth_check(r->pd->auth, token, &admin, token_id) :
			NULL;
		if (!name) {
			req_fail(r, POOL_ERR_FORBIDDEN, "%s", token ?
				 "unknown token" : "on TCP, hello needs "
				 "\"token\" (a token from the daemon's "
				 "--tokens file)");
			conn_doom(r->conn, "hello without a good token");
			return REQ_DONE;
		}
		conn_authenticate(r->conn, name, admin, token_id);
		snprintf(r->who.name, sizeof r->who.name, "%s", name);
		r->who.admin = admin;
	}
	req_ok(r, json_pack("{s:s, s:s, s:b}", "version", POOL_VERSION,
			    "caller", r->who.name, "admin", r->who.admin));
	return REQ_DONE;
}

static const struct field fields[] = {
	{ "token", F_STRING, false },
	{ NULL, 0, false },
};
const struct op op_hello = { "hello", OP_STANDBY, fields, exec };
