/*
 * cmd-resource.c - resource add, list, get, update and remove. Bulk adding
 * from a JSON Lines file is in import.c.
 */
#include <stdlib.h>
#include <string.h>

#include "poolctl.h"

enum { OPT_DESCRIPTOR = OPT_CMD_BASE, OPT_FILE, OPT_STATE, OPT_LIMIT, OPT_VERSION, OPT_FORCE,
       OPT_AFTER };

static const char *opt_val(const struct ctl_args *a, int key)
{
	const char *val = NULL;

	for (int i = 0; i < a->nopts; i++)
		if (a->opts[i].key == key)
			val = a->opts[i].val ? a->opts[i].val : "";
	return val;
}

static void print_resource(struct ctl *ctx, json_t *res)
{
	if (ctx->json)
		out_json(res);
	else if (!ctx->quiet)
		out_fields(res);
}

/* resource add POOL [NAME] [--descriptor D], or --file FILE. */
static int run_add(struct ctl *ctx, const struct ctl_args *a)
{
	const char *file = opt_val(a, OPT_FILE), *dval = opt_val(a, OPT_DESCRIPTOR);
	json_t *desc = NULL, *items;
	long long added = 0;
	pool_error err;
	int rc = 0;

	if (file)
		return a->npos > 1 || dval
			       ? ctl_usage(ctx, "--file does not go with NAME or --descriptor")
			       : import_file(ctx, a->pos[0], file);
	if (dval && arg_object(ctx, "descriptor", dval, &desc))
		return CTL_USAGE;
	items = json_pack("[{s:o}]", "descriptor", desc ? desc : json_object());
	if (a->npos > 1)
		json_object_set_new(json_array_get(items, 0), "name", json_string(a->pos[1]));
	if (!ctl_client(ctx))
		rc = ctx->connect_rc;
	else if (pool_resource_add(ctx->client, a->pos[0], items, &added, &err) < 0)
		rc = ctl_fail(ctx, &err);
	json_decref(items);
	if (rc == 0 && ctx->json) {
		json_t *r = json_pack("{s:I}", "added", (json_int_t)added);

		out_json(r);
		json_decref(r);
	} else if (rc == 0 && !ctx->quiet) {
		printf("added %lld resource%s to pool %s\n", added, added == 1 ? "" : "s",
		       a->pos[0]);
	}
	return rc;
}

static void resource_row(struct table *t, const json_t *r)
{
	char ver[24], count[24], *desc;

	snprintf(ver, sizeof(ver), "%lld",
		 (long long)json_integer_value(json_object_get(r, "version")));
	snprintf(count, sizeof(count), "%lld",
		 (long long)json_integer_value(json_object_get(r, "lease_count")));
	desc = json_dumps(json_object_get(r, "descriptor"), JSON_COMPACT | JSON_PRESERVE_ORDER);
	table_add(t, out_str(r, "name"), out_str(r, "state"), ver, count,
		  json_is_string(json_object_get(r, "last_used_at")) ? out_str(r, "last_used_at")
								      : "-",
		  desc ? desc : "{}");
	free(desc);
}

/* Every page (or, with --limit, the first one) of resource.list. */
static int run_list(struct ctl *ctx, const struct ctl_args *a)
{
	const char *state = opt_val(a, OPT_STATE), *lim = opt_val(a, OPT_LIMIT);
	const char *start = opt_val(a, OPT_AFTER);
	long long limit = 0;
	json_t *all = NULL, *page, *r;
	pool_error err;
	size_t i;

	if (lim && arg_count(ctx, "limit", lim, &limit))
		return CTL_USAGE;
	if (!ctl_client(ctx))
		return ctx->connect_rc;
	do {
		const char *after = all ? out_str(all, "next") : start;

		if (pool_resource_list(ctx->client, a->pos[0], state, limit, after, &page, &err) < 0) {
			json_decref(all);
			return ctl_fail(ctx, &err);
		}
		if (all) {
			json_array_extend(json_object_get(all, "resources"),
					  json_object_get(page, "resources"));
			json_object_set(all, "next", json_object_get(page, "next"));
			json_decref(page);
		} else {
			all = page;
		}
	} while (limit == 0 && json_is_string(json_object_get(all, "next")));
	if (ctx->json) {
		out_json(all);
	} else if (!ctx->quiet) {
		struct table *t = table_new(6, "NAME", "STATE", "VERSION", "LEASES", "LAST_USED",
					    "DESCRIPTOR");

		json_array_foreach(json_object_get(all, "resources"), i, r)
			resource_row(t, r);
		table_print(t, stdout);
		if (json_is_string(json_object_get(all, "next")))
			printf("more resources: poolctl resource list %s%s%s --limit %lld --after %s\n",
			       a->pos[0], state ? " --state " : "", state ? state : "", limit,
			       out_str(all, "next"));
	}
	json_decref(all);
	return CTL_OK;
}

static int run_get(struct ctl *ctx, const struct ctl_args *a)
{
	pool_error err;
	json_t *res;

	if (!ctl_client(ctx))
		return ctx->connect_rc;
	if (pool_resource_get(ctx->client, a->pos[0], a->pos[1], &res, &err) < 0)
		return ctl_fail(ctx, &err);
	print_resource(ctx, res);
	json_decref(res);
	return CTL_OK;
}

/* The CAS version to send: --version, else the resource's current one. */
static int update_version(struct ctl *ctx, const struct ctl_args *a, long long *version)
{
	const char *v = opt_val(a, OPT_VERSION);
	pool_error err;
	json_t *res;

	if (v)
		return arg_count(ctx, "version", v, version);
	if (pool_resource_get(ctx->client, a->pos[0], a->pos[1], &res, &err) < 0)
		return ctl_fail(ctx, &err);
	*version = (long long)json_integer_value(json_object_get(res, "version"));
	json_decref(res);
	return 0;
}

static int run_update(struct ctl *ctx, const struct ctl_args *a)
{
	const char *dval = opt_val(a, OPT_DESCRIPTOR);
	json_t *desc = NULL, *res = NULL;
	long long version = 0;
	pool_error err;
	int rc;

	if (!dval)
		return ctl_usage(ctx, "--descriptor is required");
	if (arg_object(ctx, "descriptor", dval, &desc))
		return CTL_USAGE;
	rc = ctl_client(ctx) ? update_version(ctx, a, &version) : ctx->connect_rc;
	if (rc == 0 && pool_resource_update(ctx->client, a->pos[0], a->pos[1], desc, version,
					    &res, &err) < 0)
		rc = ctl_fail(ctx, &err);
	if (rc == 0)
		print_resource(ctx, res);
	json_decref(res);
	json_decref(desc);
	return rc;
}

static int run_remove(struct ctl *ctx, const struct ctl_args *a)
{
	pool_error err;

	if (!ctl_client(ctx))
		return ctx->connect_rc;
	if (pool_resource_remove(ctx->client, a->pos[0], a->pos[1], opt_val(a, OPT_FORCE) != NULL,
				 &err) < 0)
		return ctl_fail(ctx, &err);
	if (ctx->json) {
		json_t *empty = json_object();

		out_json(empty);
		json_decref(empty);
	} else if (!ctx->quiet) {
		printf("removed %s from pool %s\n", a->pos[1], a->pos[0]);
	}
	return CTL_OK;
}

static const struct ctl_opt add_opts[] = {
	{ "descriptor", OPT_DESCRIPTOR, "JSON|@FILE|@-", "the descriptor (default: {})" },
	{ "file", OPT_FILE, "FILE", "bulk import a JSON Lines file (- for stdin)" },
	{ NULL, 0, NULL, NULL },
};
static const struct ctl_opt list_opts[] = {
	{ "state", OPT_STATE, "STATE", "only free, leased, creating, cleaning or destroying" },
	{ "limit", OPT_LIMIT, "N", "one page of at most N (default: all)" },
	{ "after", OPT_AFTER, "NAME", "start after this name (a page's \"next\")" },
	{ NULL, 0, NULL, NULL },
};
static const struct ctl_opt update_opts[] = {
	{ "descriptor", OPT_DESCRIPTOR, "JSON|@FILE|@-", "the new descriptor (required)" },
	{ "version", OPT_VERSION, "N", "the version it must replace (default: the current one)" },
	{ NULL, 0, NULL, NULL },
};
static const struct ctl_opt remove_opts[] = {
	{ "force", OPT_FORCE, NULL, "also a leased or busy resource (its lease ends)" },
	{ NULL, 0, NULL, NULL },
};

const struct ctl_cmd cmd_resource_add = {
	.name = "resource add", .usage = "POOL [NAME] [--descriptor JSON] | POOL --file FILE",
	.summary = "add a resource, or bulk import a JSON Lines file (admin)",
	.details = "Without NAME the daemon names it POOL-xxxxx. Each line of --file is either\n"
		   "{\"name\": NAME, \"descriptor\": {...}} or a descriptor alone (named by the\n"
		   "daemon). Lines go in batches; a bad line stops the import with its line\n"
		   "number and the count of resources added before it.\n",
	.opts = add_opts, .min_pos = 1, .max_pos = 2, .run = run_add,
};
const struct ctl_cmd cmd_resource_list = {
	.name = "resource list", .usage = "POOL [--state STATE] [--limit N [--after NAME]]",
	.summary = "list a pool's resources",
	.opts = list_opts, .min_pos = 1, .max_pos = 1, .run = run_list,
};
const struct ctl_cmd cmd_resource_get = {
	.name = "resource get", .usage = "POOL NAME",
	.summary = "show a resource", .min_pos = 2, .max_pos = 2, .run = run_get,
};
const struct ctl_cmd cmd_resource_update = {
	.name = "resource update", .usage = "POOL NAME --descriptor JSON [--version N]",
	.summary = "replace a free resource's descriptor (admin)",
	.opts = update_opts, .min_pos = 2, .max_pos = 2, .run = run_update,
};
const struct ctl_cmd cmd_resource_remove = {
	.name = "resource remove", .usage = "POOL NAME [--force]",
	.summary = "remove a resource (admin)",
	.opts = remove_opts, .min_pos = 2, .max_pos = 2, .run = run_remove,
};
