/*
 * cmd-pool.c - pool create, set, get, list, drain and delete. Every pool
 * setting of the contract is a flag of create and set, described once in
 * POOL_SETTINGS so that the option table, the parsing and the request field
 * can never disagree. Values are checked here, so a typo is a usage error
 * (exit 2) before anything is sent.
 */
#include <stdlib.h>
#include <string.h>

#include "poolctl.h"

enum setting_kind { S_COUNT, S_DURATION, S_CHOICE, S_CREATE, S_COMMAND };

/* X(id, option, field, kind, metavariable, help) */
#define POOL_SETTINGS(X)                                                                   \
	X(MAX_SIZE, "max-size", "max_size", S_COUNT, "N", "most resources, all states (0: no limit)") \
	X(MIN_IDLE, "min-idle", "min_idle", S_COUNT, "N", "keep this many free or creating")       \
	X(MAX_IDLE, "max-idle", "max_idle", S_COUNT, "N", "destroy free ones above this (0: no limit)") \
	X(IDLE_TTL, "idle-ttl", "idle_ttl", S_DURATION, "DURATION", "destroy free ones unused this long (0: never)") \
	X(LEASE_TTL, "lease-ttl", "lease_ttl", S_DURATION, "DURATION", "default lease TTL (0: none)") \
	X(MAX_LEASE_TTL, "max-lease-ttl", "max_lease_ttl", S_DURATION, "DURATION", "longest TTL a lease may have (0: no limit)") \
	X(MAX_WAITERS, "max-waiters", "max_waiters", S_COUNT, "N", "bound of the waiter queue (0: no waiting)") \
	X(ORDER, "order", "order", S_CHOICE, "lifo|fifo", "which free resource goes first")        \
	X(ON_EXPIRE, "on-expire", "on_expire", S_CHOICE, "return|discard", "what an expired lease does") \
	X(CREATE, "create", "create", S_CREATE, "builtin|none|JSON", "create-on-empty: builtin, none or {\"cmd\": [...]}") \
	X(DESTROY, "destroy", "destroy", S_COMMAND, "null|JSON|@FILE", "destroy command, or null") \
	X(RESET, "reset", "reset", S_COMMAND, "null|JSON|@FILE", "reset command run on return, or null")

#define AS_ENUM(id, opt, field, kind, meta, help) OPT_##id,
enum { OPT_SETTINGS_BASE = OPT_CMD_BASE - 1, POOL_SETTINGS(AS_ENUM) OPT_STATE, OPT_FORCE };
#undef AS_ENUM

struct setting {
	int key;
	const char *option;
	const char *field;
	enum setting_kind kind;
	const char *choices; /* S_CHOICE: the metavariable lists them */
};

#define AS_SETTING(id, opt, field, kind, meta, help) { OPT_##id, opt, field, kind, meta },
static const struct setting settings[] = { POOL_SETTINGS(AS_SETTING) };
#undef AS_SETTING

#define AS_OPT(id, opt, field, kind, meta, help) { opt, OPT_##id, meta, help },
static const struct ctl_opt create_opts[] = { POOL_SETTINGS(AS_OPT) { NULL, 0, NULL, NULL } };
static const struct ctl_opt set_opts[] = {
	POOL_SETTINGS(AS_OPT)
	{ "state", OPT_STATE, "active", "active: end a drain" },
	{ NULL, 0, NULL, NULL },
};
#undef AS_OPT

static const struct ctl_opt delete_opts[] = {
	{ "force", OPT_FORCE, NULL, "also if it holds resources (their leases end)" },
	{ NULL, 0, NULL, NULL },
};

static const struct setting *setting_of(int key)
{
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
		if (settings[i].key == key)
			return &settings[i];
	return NULL;
}

/* One of the '|'-separated words of choices? */
static bool is_choice(const char *choices, const char *val)
{
	size_t n = strlen(val);

	for (const char *p = choices; *p; p += strcspn(p, "|"), p += *p == '|')
		if (strncmp(p, val, n) == 0 && (p[n] == '|' || p[n] == '\0') && n)
			return true;
	return false;
}

/* The JSON value of a setting's option; 0 with *out a new reference, or CTL_USAGE. */
static int setting_value(struct ctl *ctx, const struct setting *s, const char *val, json_t **out)
{
	long long n;
	double d;

	switch (s->kind) {
	case S_COUNT:
		if (arg_count(ctx, s->option, val, &n))
			return CTL_USAGE;
		*out = json_integer(n);
		return 0;
	case S_DURATION:
		if (arg_duration(ctx, s->option, val, &d))
			return CTL_USAGE;
		*out = d == (double)(long long)d ? json_integer((json_int_t)d) : json_real(d);
		return 0;
	case S_CHOICE:
		if (!is_choice(s->choices, val))
			return ctl_usage(ctx, "--%s: '%s' is not one of %s", s->option, val, s->choices);
		*out = json_string(val);
		return 0;
	case S_CREATE:
		if (strcmp(val, "builtin") == 0 || strcmp(val, "none") == 0) {
			*out = json_string(val);
			return 0;
		}
		return arg_object(ctx, s->option, val, out);
	case S_COMMAND:
		if (strcmp(val, "null") == 0) {
			*out = json_null();
			return 0;
		}
		return arg_object(ctx, s->option, val, out);
	}
	return CTL_USAGE;
}

/* The settings object of pool create/set from the options; 0 or CTL_USAGE. */
static int settings_from_args(struct ctl *ctx, const struct ctl_args *a, json_t *obj)
{
	for (int i = 0; i < a->nopts; i++) {
		const struct setting *s = setting_of(a->opts[i].key);
		json_t *v = NULL;

		if (a->opts[i].key == OPT_STATE) {
			v = json_string(a->opts[i].val);
			json_object_set_new(obj, "state", v);
			continue;
		}
		if (s && setting_value(ctx, s, a->opts[i].val, &v))
			return CTL_USAGE;
		if (s && json_object_set_new(obj, s->field, v) < 0)
			return ctl_usage(ctx, "--%s: cannot encode '%s'", s->option, a->opts[i].val);
	}
	return 0;
}

/* A create/destroy/reset setting in a table cell. */
static char *command_text(const json_t *v)
{
	if (json_is_string(v))
		return strdup(json_string_value(v));
	if (json_is_object(v))
		return json_dumps(json_object_get(v, "cmd"), JSON_COMPACT | JSON_ENCODE_ANY);
	return strdup("-");
}

/* The setting whose request field is field, or NULL. */
static const struct setting *setting_by_field(const char *field)
{
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
		if (strcmp(settings[i].field, field) == 0)
			return &settings[i];
	return NULL;
}

/* A field of a Pool object as pool get and pool list both show it, malloc'd:
 * durations as a pool set flag takes them back ("1h30m", "none" for 0),
 * commands as their argv, other values as they are. */
static char *setting_text(const char *field, const json_t *v)
{
	const struct setting *s = setting_by_field(field);
	char buf[64];

	if (!v)
		return strdup("-");
	if (s && s->kind == S_DURATION && json_is_number(v))
		return strdup(json_number_value(v) > 0
				      ? duration_format_exact(json_number_value(v), buf, sizeof(buf))
				      : "none");
	if (s && (s->kind == S_COMMAND || s->kind == S_CREATE))
		return command_text(v);
	if (json_is_string(v))
		return strdup(json_string_value(v));
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* A Pool object (with its occupancy, from pool get) as a summary. */
static void print_pool(struct ctl *ctx, json_t *pool)
{
	json_t *occ = json_object_get(pool, "occupancy"), *v;
	const char *key;

	if (ctx->json) {
		out_json(pool);
		return;
	}
	if (ctx->quiet)
		return;
	json_object_foreach(pool, key, v) {
		char *text = occ == v ? NULL : setting_text(key, v);

		if (text)
			printf("%-14s %s\n", key, text);
		free(text);
	}
	if (occ)
		printf("occupancy      free %lld, leased %lld, creating %lld, cleaning %lld, "
		       "destroying %lld, total %lld, waiters %lld\n",
		       (long long)json_integer_value(json_object_get(occ, "free")),
		       (long long)json_integer_value(json_object_get(occ, "leased")),
		       (long long)json_integer_value(json_object_get(occ, "creating")),
		       (long long)json_integer_value(json_object_get(occ, "cleaning")),
		       (long long)json_integer_value(json_object_get(occ, "destroying")),
		       (long long)json_integer_value(json_object_get(occ, "total")),
		       (long long)json_integer_value(json_object_get(occ, "waiters")));
}

/* pool create and pool set: the same flags, one op each. */
static int create_or_set(struct ctl *ctx, const struct ctl_args *a, bool create)
{
	json_t *obj = json_object(), *pool = NULL;
	pool_error err;
	int rc = settings_from_args(ctx, a, obj);

	if (rc == 0 && !create && json_object_size(obj) == 0)
		rc = ctl_usage(ctx, "nothing to change: give at least one setting");
	if (rc == 0 && !ctl_client(ctx))
		rc = ctx->connect_rc;
	if (rc == 0 && (create ? pool_pool_create(ctx->client, a->pos[0], obj, &pool, &err)
			       : pool_pool_set(ctx->client, a->pos[0], obj, &pool, &err)) < 0)
		rc = ctl_fail(ctx, &err);
	if (rc == 0)
		print_pool(ctx, pool);
	json_decref(pool);
	json_decref(obj);
	return rc;
}

static int run_create(struct ctl *ctx, const struct ctl_args *a)
{
	return create_or_set(ctx, a, true);
}

static int run_set(struct ctl *ctx, const struct ctl_args *a)
{
	return create_or_set(ctx, a, false);
}

/* pool get and pool drain: one pool in, the Pool object out. */
static int one_pool(struct ctl *ctx, const struct ctl_args *a,
		    int (*op)(pool_client *, const char *, json_t **, pool_error *))
{
	pool_client *c = ctl_client(ctx);
	json_t *pool;
	pool_error err;

	if (!c)
		return ctx->connect_rc;
	if (op(c, a->pos[0], &pool, &err) < 0)
		return ctl_fail(ctx, &err);
	print_pool(ctx, pool);
	json_decref(pool);
	return CTL_OK;
}

static int run_get(struct ctl *ctx, const struct ctl_args *a)
{
	return one_pool(ctx, a, pool_pool_get);
}

static int run_drain(struct ctl *ctx, const struct ctl_args *a)
{
	return one_pool(ctx, a, pool_pool_drain);
}

static int run_list(struct ctl *ctx, const struct ctl_args *a)
{
	pool_client *c = ctl_client(ctx);
	json_t *res, *p;
	struct table *t;
	pool_error err;
	size_t i;

	if (!c)
		return ctx->connect_rc;
	if (pool_pool_list(c, &res, &err) < 0)
		return ctl_fail(ctx, &err);
	if (ctx->json)
		out_json(res);
	t = ctx->json || ctx->quiet ? NULL
		: table_new(9, "POOL", "STATE", "MAX_SIZE", "MIN_IDLE", "MAX_IDLE", "LEASE_TTL",
			    "ORDER", "ON_EXPIRE", "CREATE");
	json_array_foreach(t ? json_object_get(res, "pools") : NULL, i, p) {
		static const char *const cols[] = { "max_size", "min_idle", "max_idle", "lease_ttl",
						    "order", "on_expire", "create" };
		char *cell[7];

		for (size_t k = 0; k < 7; k++)
			cell[k] = setting_text(cols[k], json_object_get(p, cols[k]));
		table_add(t, out_str(p, "name"), out_str(p, "state"), cell[0], cell[1], cell[2],
			  cell[3], cell[4], cell[5], cell[6]);
		for (size_t k = 0; k < 7; k++)
			free(cell[k]);
	}
	if (t)
		table_print(t, stdout);
	json_decref(res);
	return CTL_OK;
}

static int run_delete(struct ctl *ctx, const struct ctl_args *a)
{
	pool_client *c = ctl_client(ctx);
	pool_error err;
	bool force = a->nopts > 0; /* --force is the only option */

	if (!c)
		return ctx->connect_rc;
	if (pool_pool_delete(c, a->pos[0], force, &err) < 0)
		return ctl_fail(ctx, &err);
	if (ctx->json) {
		json_t *empty = json_object();

		out_json(empty);
		json_decref(empty);
	} else if (!ctx->quiet) {
		printf("deleted pool %s\n", a->pos[0]);
	}
	return CTL_OK;
}

const struct ctl_cmd cmd_pool_create = {
	.name = "pool create", .usage = "POOL [SETTINGS]",
	.summary = "create a pool (admin)",
	.details = "Unset settings take the daemon's defaults: no size limit, lease TTL 1h,\n"
		   "lifo order, builtin create-on-empty. Commands are JSON such as\n"
		   "'{\"cmd\": [\"/usr/local/bin/mk\"], \"timeout\": 600}'.\n",
	.opts = create_opts, .min_pos = 1, .max_pos = 1, .run = run_create,
};
const struct ctl_cmd cmd_pool_set = {
	.name = "pool set", .usage = "POOL SETTINGS",
	.summary = "change a pool's settings (admin)",
	.opts = set_opts, .min_pos = 1, .max_pos = 1, .run = run_set,
};
const struct ctl_cmd cmd_pool_get = {
	.name = "pool get", .usage = "POOL",
	.summary = "show a pool's settings and occupancy",
	.min_pos = 1, .max_pos = 1, .run = run_get,
};
const struct ctl_cmd cmd_pool_list = {
	.name = "pool list", .usage = "",
	.summary = "list pools and their settings",
	.min_pos = 0, .max_pos = 0, .run = run_list,
};
const struct ctl_cmd cmd_pool_drain = {
	.name = "pool drain", .usage = "POOL",
	.summary = "stop leasing from a pool; free resources are destroyed (admin)",
	.details = "Leased resources are destroyed as they come back. 'poolctl pool set POOL\n"
		   "--state active' ends a drain.\n",
	.min_pos = 1, .max_pos = 1, .run = run_drain,
};
const struct ctl_cmd cmd_pool_delete = {
	.name = "pool delete", .usage = "POOL [--force]",
	.summary = "delete a pool (admin)",
	.opts = delete_opts, .min_pos = 1, .max_pos = 1, .run = run_delete,
};
