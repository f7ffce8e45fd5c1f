/*
 * dispatch.c - finds a request's op, checks the caller and every field, then
 * runs the handler. Unknown ops and fields are refused here, by name, so a
 * typo like "tll" never silently falls back to a default.
 */
#include "dispatch.h"

#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "journal.h"
#include "leader.h"
#include "ops.h"
#include "pool.h"
#include "pool_protocol.h"
#include "util.h"

static const struct op *const op_table[] = {
	&op_ping, &op_hello,
	&op_pool_create, &op_pool_set, &op_pool_get, &op_pool_list,
	&op_pool_drain, &op_pool_delete,
	&op_resource_add, &op_resource_list, &op_resource_get,
	&op_resource_update, &op_resource_remove,
	&op_lease, &op_return, &op_checkout, &op_replace, &op_checkin,
	&op_renew, &op_lease_get, &op_lease_list, &op_status, &op_watch,
	&op_history, &op_backup,
};

static const struct op *op_find(const char *name)
{
	for (size_t i = 0; i < sizeof op_table / sizeof *op_table; i++)
		if (strcmp(op_table[i]->name, name) == 0)
			return op_table[i];
	return NULL;
}

/* Returns NULL if v fits t, else what it should have been. */
static const char *type_error(enum field_type t, const struct req_value *v)
{
	const char *s = v->str;
	bool number = v->kind == RK_INT || v->kind == RK_REAL;

	switch (t) {
	case F_STRING:
		return s ? NULL : "a string";
	case F_NAME:
		return s && name_valid_pool(s) ? NULL :
			"a pool name: 1-64 characters of A-Z a-z 0-9 . _ -";
	case F_RESNAME:
		return s && name_valid_resource(s) ? NULL :
			"a resource name: 1-128 characters of A-Z a-z 0-9 . _ : -";
	case F_COUNT:
		return v->kind == RK_INT && v->num >= 0 ? NULL :
			"a non-negative integer";
	case F_VERSION:
		return v->kind == RK_INT && v->num >= 1 ? NULL :
			"an integer version (>= 1)";
	case F_SECONDS:
		return number && (v->real == 0 ||
		       v->real >= POOL_DURATION_MIN) &&
		       v->real <= POOL_DURATION_MAX ? NULL :
			"a number of seconds: 0, or from 0.001 to 1e9";
	case F_BOOL:
		return v->kind == RK_TRUE || v->kind == RK_FALSE ? NULL :
			"true or false";
	case F_OBJECT:
	case F_DESCRIPTOR:
		return v->kind == RK_OBJECT ? NULL : "a JSON object";
	case F_ARRAY:
		return v->kind == RK_ARRAY ? NULL : "a JSON array";
	case F_ANY:
		return NULL;
	}
	return "valid";
}

static const struct field *field_find(const struct op *op, const char *name)
{
	for (const struct field *f = op->fields; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

static void list_fields(const struct op *op, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (const struct field *f = op->fields; f->name && used < len; f++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
					 used ? ", " : "", f->name);
	if (op->flags & OP_SETTINGS && used < len)
		snprintf(buf + used, len - used, "%sthe pool settings",
			 used ? ", " : "");
	if (!buf[0])
		snprintf(buf, len, "no fields besides id and op");
}

/* Checks one field of r against op (req_each()). 0, or -1 after
 * answering. */
static int check_field(struct req *r, const char *key,
		       const struct req_value *v, void *arg)
{
	const struct op *op = arg;
	const struct field *f = field_find(op, key);
	const char *want;
	char names[300];

	if (strcmp(key, "id") == 0 || strcmp(key, "op") == 0)
		return 0;
	if (!f && (op->flags & OP_SETTINGS) && pool_setting_known(key))
		return 0; /* pool_settings_apply() checks it */
	if (!f) {
		list_fields(op, names, sizeof names);
		req_fail(r, POOL_ERR_BAD_REQUEST, "unknown field \"%s\" for op "
			 "\"%s\" (it takes: %s)", key, op->name, names);
		return -1;
	}
	if ((want = type_error(f->type, v))) {
		req_fail(r, POOL_ERR_BAD_REQUEST, "field \"%s\" must be %s",
			 key, want);
		return -1;
	}
	if (f->type == F_DESCRIPTOR &&
	    descriptor_check(r->pd, v->json, names, sizeof names) < 0) {
		req_fail(r, POOL_ERR_BAD_REQUEST, "field \"%s\": %s", key,
			 names);
		return -1;
	}
	return 0;
}

/* Checks every field of r against op. Returns 0, or -1 after answering. */
static int check_fields(struct req *r, const struct op *op)
{
	if (req_each(r, check_field, (void *)op) < 0)
		return -1;
	for (const struct field *f = op->fields; f->name; f++) {
		if (f->required && !req_has(r, f->name)) {
			req_fail(r, POOL_ERR_BAD_REQUEST, "missing field \"%s\" "
				 "for op \"%s\"", f->name, op->name);
			return -1;
		}
	}
	return 0;
}

void dispatch(struct req *r)
{
	const struct op *op = op_find(r->op);

	r->now = now_wall();
	if (conn_needs_hello(r->conn) && strcmp(r->op, "hello") != 0) {
		req_fail(r, POOL_ERR_FORBIDDEN, "on TCP the first request must "
			 "be {\"op\": \"hello\", \"token\": \"...\"}");
		conn_doom(r->conn, "its first request was not hello");
	} else if (!op) {
		req_fail(r, POOL_ERR_UNKNOWN_OP, "no operation \"%s\" (see "
			 "docs/protocol.md for the list)", r->op);
	} else if (!leader_admits(r, op)) {
		/* a standby: answered not_leader */
	} else if ((op->flags & OP_ADMIN) && !r->who.admin) {
		req_fail(r, POOL_ERR_FORBIDDEN, "op \"%s\" needs an admin: root, "
			 "the daemon's user, a member of --admin-group, or "
			 "(on TCP) an admin token; you are %s", op->name,
			 r->who.name);
	} else if (check_fields(r, op) == 0) {
		enum req_status st;

		journal_actor(r->pd, r->who.name);
		st = op->exec(r);
		journal_actor(r->pd, NULL);
		if (st == REQ_KEPT)
			return;
	}
	req_free(r);
}
