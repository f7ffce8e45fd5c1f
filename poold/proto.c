/* proto.c - see proto.h. */
#include "proto.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "dispatch.h"
#include "pool_protocol.h"
#include "poold.h"
#include "reply.h"
#include "req.h"

static bool blank(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			return false;
	return true;
}

/* On TCP nothing but a good hello may come first: anything else closes. */
static void refuse(struct poold *pd, struct conn *c, json_t *id,
		   const char *msg)
{
	pd->refused.bad_requests++;
	reply_queue(pd, c, id, reply_err_json(id, POOL_ERR_BAD_REQUEST, msg));
	if (conn_needs_hello(c))
		conn_doom(c, "its first request was not hello");
}

/* Nesting depth of v (jansson itself stops at 2048 levels). */
static int depth(json_t *v)
{
	int deepest = 0, d;
	const char *key;
	size_t i;
	json_t *x;

	if (json_is_object(v)) {
		json_object_foreach(v, key, x)
			if ((d = depth(x)) > deepest)
				deepest = d;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			if ((d = depth(x)) > deepest)
				deepest = d;
	} else {
		return 0;
	}
	return deepest + 1;
}

/* The common request, flat and plain, read without a tree (reqparse.h).
 * false: not handled, and nothing was answered. A flat object is one
 * level deep, within any --max-depth (at least 2). */
static bool handle_flat(struct poold *pd, struct conn *c,
			const struct caller *who, const char *line, size_t len)
{
	struct req *r = req_new(pd, c, who);

	if (!req_scan(r, line, len)) {
		req_free(r);
		return false;
	}
	dispatch(r);
	return true;
}

/* Every other line: jansson's tree, and every refusal of bad input. */
static void handle_tree(struct poold *pd, struct conn *c,
			const struct caller *who, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *msg, *id, *op;
	struct req *r;
	char text[300];

	/* Duplicate keys are refused by the parser itself; NUL characters
	 * (\u0000) are too, since JSON_ALLOW_NUL is not given. */
	msg = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
			 &jerr);
	if (!msg) {
		snprintf(text, sizeof text, "invalid JSON at byte %d: %s; send "
			 "one JSON object per line", jerr.position, jerr.text);
		refuse(pd, c, NULL, text);
		return;
	}
	if (!json_is_object(msg)) {
		refuse(pd, c, NULL, "a request must be a JSON object such as "
		       "{\"op\": \"ping\"}");
		json_decref(msg);
		return;
	}
	if (depth(msg) > pd->cfg.max_depth) {
		pd->refused.too_deep++;
		snprintf(text, sizeof text, "JSON nested deeper than %d levels "
			 "(--max-depth)", pd->cfg.max_depth);
		refuse(pd, c, json_object_get(msg, "id"), text);
		json_decref(msg);
		return;
	}
	id = json_object_get(msg, "id");
	op = json_object_get(msg, "op");
	if (id && !json_is_string(id) && !json_is_integer(id) &&
	    !json_is_null(id)) {
		refuse(pd, c, id, "field \"id\" must be a string, an integer "
		       "or null");
	} else if (!op) {
		refuse(pd, c, id, "missing field \"op\": say which operation, "
		       "e.g. {\"op\": \"ping\"}");
	} else if (!json_is_string(op)) {
		refuse(pd, c, id, "field \"op\" must be a string");
	} else {
		r = req_new(pd, c, who);
		req_adopt(r, msg);
		dispatch(r);
	}
	json_decref(msg);
}

void proto_handle_line(struct poold *pd, struct conn *c,
		       const struct caller *who, const char *line, size_t len)
{
	if (blank(line, len))
		return;
	/* jansson stops at a NUL byte and would accept what came before it
	 * ({"id":12\0}), so a line with one is refused as a whole. */
	if (memchr(line, '\0', len)) {
		refuse(pd, c, NULL, "a NUL byte in the request line; send UTF-8 "
		       "JSON text, one object per line");
		return;
	}
	if (!handle_flat(pd, c, who, line, len))
		handle_tree(pd, c, who, line, len);
}
