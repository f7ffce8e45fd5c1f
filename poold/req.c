/* req.c - answering a request, and typed access to its checked fields. */
#include "req.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "pool_protocol.h"
#include "poold.h"
#include "reply.h"

void req_ok(struct req *r, json_t *result)
{
	json_t *body = reply_ok_json(r->id, result);

	json_decref(result);
	reply_queue(r->pd, r->conn, r->id, body);
}

void req_ok_text(struct req *r, const char *result, size_t len)
{
	reply_queue_text(r->pd, r->conn, r->id, result, len);
}

void req_fail(struct req *r, const char *code, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (strcmp(code, POOL_ERR_BAD_REQUEST) == 0)
		r->pd->refused.bad_requests++;
	reply_queue(r->pd, r->conn, r->id, reply_err_json(r->id, code, msg));
}

void req_free(struct req *r)
{
	if (!r)
		return;
	conn_unref(r->conn);
	json_decref(r->id);
	json_decref(r->msg);
	free(r);
}

json_t *req_get(const struct req *r, const char *field)
{
	return json_object_get(r->msg, field);
}

bool req_has(const struct req *r, const char *field)
{
	return json_object_get(r->msg, field) != NULL;
}

const char *req_str(const struct req *r, const char *field)
{
	return json_string_value(json_object_get(r->msg, field));
}

int64_t req_int(const struct req *r, const char *field, int64_t dflt)
{
	json_t *v = json_object_get(r->msg, field);

	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

double req_num(const struct req *r, const char *field, double dflt)
{
	json_t *v = json_object_get(r->msg, field);

	return json_is_number(v) ? json_number_value(v) : dflt;
}

bool req_bool(const struct req *r, const char *field, bool dflt)
{
	json_t *v = json_object_get(r->msg, field);

	return json_is_boolean(v) ? json_is_true(v) : dflt;
}
