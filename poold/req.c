/* req.c - answering a request, and typed access to its checked fields. */
#include "req.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "freelist.h"
#include "jsonutil.h"
#include "pool_protocol.h"
#include "poold.h"
#include "reply.h"

/* Spare requests: the request path makes no malloc at steady state. A
 * process-wide cache of memory, like malloc's own, not state of a poold. */
static struct freelist spares = FREELIST_INIT(struct req, 1024);

struct req *req_new(struct poold *pd, struct conn *c, const struct caller *who)
{
	struct req *r = freelist_get(&spares);

	/* The scan buffers are written before they are read. */
	memset(r, 0, offsetof(struct req, scan));
	r->pd = pd;
	r->conn = conn_ref(c);
	r->who = *who;
	return r;
}

/* An id must be a string, an integer or null (proto.c says so when not);
 * all three are their own compact JSON text when scanned. */
static bool id_plain(const struct reqparse_field *id)
{
	return !id || id->type == RP_STRING || id->type == RP_INT ||
		id->type == RP_NULL;
}

bool req_scan(struct req *r, const char *line, size_t len)
{
	const struct reqparse_field *op, *id;

	if (!reqparse(&r->scan, line, len))
		return false;
	op = reqparse_find(&r->scan, "op");
	id = reqparse_find(&r->scan, "id");
	if (!op || op->type != RP_STRING || !id_plain(id))
		return false;
	r->scanned = true;
	r->op = op->str;
	if (id) {
		r->id_text = id->raw;
		r->id_len = id->raw_len;
	}
	return true;
}

void req_adopt(struct req *r, json_t *msg)
{
	json_t *id = json_object_get(msg, "id");

	r->tree = json_incref(msg);
	r->op = json_string_value(json_object_get(msg, "op"));
	if (!id)
		return;
	r->id = json_incref(id);
	r->id_owned = json_dumps_exact(id, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!r->id_owned)
		abort();
	r->id_text = r->id_owned;
	r->id_len = strlen(r->id_owned);
}

void req_ok(struct req *r, json_t *result)
{
	char *text = json_dumps_exact(result, JSON_COMPACT |
				      JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);

	if (!text)
		abort();
	json_decref(result);
	req_ok_text(r, text, strlen(text));
	free(text);
}

void req_ok_text(struct req *r, const char *result, size_t len)
{
	reply_queue_text(r->pd, r->conn, r->id_text, r->id_len, result, len);
}

void req_fail(struct req *r, const char *code, const char *fmt, ...)
{
	char msg[2048];
	json_t *id = req_id(r);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (strcmp(code, POOL_ERR_BAD_REQUEST) == 0)
		r->pd->refused.bad_requests++;
	reply_queue(r->pd, r->conn, id, reply_err_json(id, code, msg));
}

void req_free(struct req *r)
{
	if (!r)
		return;
	conn_unref(r->conn);
	free(r->id_owned);
	json_decref(r->id);
	json_decref(r->tree);
	if (!freelist_keep(&spares, r))
		free(r);
}

/* The jansson form of a flat request is only ever needed off the hot path:
 * the scanner accepted the line, so jansson reads it (test_reqparse). */
json_t *req_msg(struct req *r)
{
	if (!r->tree) {
		r->tree = json_loadb(r->scan.line, r->scan.len,
				     JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
				     NULL);
		if (!r->tree)
			abort();
	}
	return r->tree;
}

json_t *req_id(struct req *r)
{
	if (!r->id && r->id_text) {
		r->id = json_loadb(r->id_text, r->id_len, JSON_DECODE_ANY,
				   NULL);
		if (!r->id)
			abort();
	}
	return r->id;
}

json_t *req_get(struct req *r, const char *field)
{
	if (r->scanned && !reqparse_find(&r->scan, field))
		return NULL;
	return json_object_get(req_msg(r), field);
}

static void value_of_field(const struct reqparse_field *f,
			   struct req_value *v)
{
	static const enum req_kind kinds[] = {
		[RP_STRING] = RK_STRING, [RP_INT] = RK_INT,
		[RP_TRUE] = RK_TRUE, [RP_FALSE] = RK_FALSE,
		[RP_NULL] = RK_NULL,
	};

	memset(v, 0, sizeof *v);
	v->kind = kinds[f->type];
	v->str = f->type == RP_STRING ? f->str : NULL;
	v->num = f->num;
	v->real = (double)f->num;
}

static void value_of_json(json_t *j, struct req_value *v)
{
	memset(v, 0, sizeof *v);
	v->json = j;
	switch (json_typeof(j)) {
	case JSON_STRING:
		v->kind = RK_STRING;
		v->str = json_string_value(j);
		break;
	case JSON_INTEGER:
		v->kind = RK_INT;
		v->num = json_integer_value(j);
		v->real = json_number_value(j);
		break;
	case JSON_REAL:
		v->kind = RK_REAL;
		v->real = json_real_value(j);
		break;
	case JSON_TRUE: v->kind = RK_TRUE; break;
	case JSON_FALSE: v->kind = RK_FALSE; break;
	case JSON_NULL: v->kind = RK_NULL; break;
	case JSON_OBJECT: v->kind = RK_OBJECT; break;
	case JSON_ARRAY: v->kind = RK_ARRAY; break;
	}
}

void req_value(const struct req *r, const char *field, struct req_value *v)
{
	const struct reqparse_field *f;
	json_t *j;

	if (r->scanned && (f = reqparse_find(&r->scan, field))) {
		value_of_field(f, v);
	} else if (!r->scanned && (j = json_object_get(r->tree, field))) {
		value_of_json(j, v);
	} else {
		memset(v, 0, sizeof *v);
		v->kind = RK_ABSENT;
	}
}

int req_each(struct req *r, int (*fn)(struct req *r, const char *key,
				      const struct req_value *v, void *arg),
	     void *arg)
{
	struct req_value v;
	const char *key;
	json_t *j;
	int rc;

	if (r->scanned) {
		for (size_t i = 0; i < r->scan.n; i++) {
			value_of_field(&r->scan.f[i], &v);
			if ((rc = fn(r, r->scan.f[i].key, &v, arg)))
				return rc;
		}
		return 0;
	}
	json_object_foreach(r->tree, key, j) {
		value_of_json(j, &v);
		if ((rc = fn(r, key, &v, arg)))
			return rc;
	}
	return 0;
}

bool req_has(const struct req *r, const char *field)
{
	struct req_value v;

	req_value(r, field, &v);
	return v.kind != RK_ABSENT;
}

const char *req_str(const struct req *r, const char *field)
{
	struct req_value v;

	req_value(r, field, &v);
	return v.str;
}

int64_t req_int(const struct req *r, const char *field, int64_t dflt)
{
	struct req_value v;

	req_value(r, field, &v);
	return v.kind == RK_INT ? v.num : dflt;
}

double req_num(const struct req *r, const char *field, double dflt)
{
	struct req_value v;

	req_value(r, field, &v);
	return v.kind == RK_INT || v.kind == RK_REAL ? v.real : dflt;
}

bool req_bool(const struct req *r, const char *field, bool dflt)
{
	struct req_value v;

	req_value(r, field, &v);
	return v.kind == RK_TRUE ? true : v.kind == RK_FALSE ? false : dflt;
}
