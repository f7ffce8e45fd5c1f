/*
 * cmd-lease.c - the commands on leases: lease, checkout, return, replace,
 * checkin, renew, lease get and lease list. A person cleaning up after a
 * job knows the resource, not the lease id, so return and renew also find
 * the live lease by --pool and --resource through lease.list.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "poolctl.h"

enum {
	OPT_ENV = OPT_CMD_BASE, OPT_NAME, OPT_MATCH, OPT_POOL, OPT_RESOURCE, OPT_DESCRIPTOR,
	OPT_DISCARD, OPT_VERSION, OPT_LIMIT, OPT_AFTER
};

#define ENV_OPT { "env", OPT_ENV, NULL, "print shell export lines for eval" }
#define FIND_OPTS                                                                      \
	{ "pool", OPT_POOL, "POOL", "with --resource: the live lease on that resource" }, \
	{ "resource", OPT_RESOURCE, "NAME", "with --pool: the resource's name" }

/* Prints a granted or fetched lease as asked: JSON, id, exports or summary. */
static void print_lease(struct ctl *ctx, const pool_lease *l, bool env)
{
	if (ctx->json)
		out_json(pool_lease_json(l));
	else if (ctx->quiet)
		printf("%s\n", pool_lease_id(l) ? pool_lease_id(l) : "");
	else if (env)
		out_lease_env(pool_lease_json(l));
	else
		out_lease(pool_lease_json(l));
}

/* Adds KEY=VALUE to *match; VALUE is taken as JSON when it parses as a
 * scalar (1, true, "x"), else as a string, so --match zone=eu needs no quotes. */
static int add_match(struct ctl *ctx, json_t **match, const char *kv)
{
	const char *eq = strchr(kv, '=');
	json_t *v;
	char *key;

	if (!eq || eq == kv)
		return ctl_usage(ctx, "--match: '%s' is not KEY=VALUE", kv);
	v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
	if (!v || json_is_object(v) || json_is_array(v)) {
		json_decref(v);
		v = json_string(eq + 1);
	}
	if (!*match)
		*match = json_object();
	key = strndup(kv, (size_t)(eq - kv));
	if (!v || !*match || !key || json_object_set_new(*match, key, v) < 0) {
		free(key);
		return ctl_usage(ctx, "--match: '%s' is not UTF-8 text", kv);
	}
	free(key);
	return 0;
}

/* lease and checkout: the options, the request, the output. */
static int take(struct ctl *ctx, const struct ctl_args *a, bool checkout)
{
	pool_lease_opts o = { 0 };
	json_t *match = NULL;
	pool_lease *l = NULL;
	pool_client *c;
	pool_error err;
	bool env = false;
	int rc = 0;

	for (int i = 0; i < a->nopts && rc == 0; i++) {
		const struct ctl_optval *v = &a->opts[i];

		if ((rc = arg_lease_opt(ctx, &o, v)) == 1)
			rc = 0;
		else if (v->key == OPT_ENV)
			env = true;
		else if (v->key == OPT_NAME)
			o.name = v->val;
		else if (v->key == OPT_MATCH)
			rc = add_match(ctx, &match, v->val);
	}
	if (rc == 0 && o.name && match)
		rc = ctl_usage(ctx, "--name and --match do not go together");
	if (rc == 0 && env && (ctx->json || ctx->quiet))
		rc = ctl_usage(ctx, "--env does not go with --json or -q");
	o.match = match;
	if (rc == 0 && !(c = ctl_client(ctx)))
		rc = ctx->connect_rc;
	if (rc == 0 && (checkout ? pool_checkout(c, a->pos[0], &o, &l, &err)
				 : pool_lease_acquire(c, a->pos[0], &o, &l, &err)) < 0)
		rc = ctl_fail(ctx, &err);
	if (rc == 0)
		print_lease(ctx, l, env);
	pool_lease_free(l);
	json_decref(match);
	return rc;
}

static int run_lease(struct ctl *ctx, const struct ctl_args *a)
{
	return take(ctx, a, false);
}

static int run_checkout(struct ctl *ctx, const struct ctl_args *a)
{
	return take(ctx, a, true);
}

/* Looks for the live lease on resource res of pool in one lease.list page;
 * 1 found (*id malloc'd), 0 not on this page, or an exit code after saying why. */
static int find_in_page(struct ctl *ctx, json_t *page, const char *pool, const char *res,
			char **id)
{
	size_t i;
	json_t *l;

	json_array_foreach(json_object_get(page, "leases"), i, l) {
		if (strcmp(out_str(json_object_get(l, "resource"), "name"), res) != 0)
			continue;
		if (!json_is_string(json_object_get(l, "lease"))) {
			fprintf(stderr, "poolctl: the lease on %s/%s is another caller's (owner %s); "
				"only an admin may act on it\n", pool, res, out_str(l, "owner"));
			return CTL_FORBIDDEN;
		}
		*id = strdup(out_str(l, "lease"));
		return 1;
	}
	return 0;
}

/* The live lease on pool/res; 0 with *id malloc'd, or an exit code. */
static int find_lease(struct ctl *ctx, const char *pool, const char *res, char **id)
{
	pool_client *c = ctl_client(ctx);
	char *after = NULL;
	pool_error err;
	json_t *page;
	int rc = 0;

	if (!c)
		return ctx->connect_rc;
	do {
		if (pool_lease_list(c, pool, 0, after, &page, &err) < 0) {
			free(after);
			return ctl_fail(ctx, &err);
		}
		rc = find_in_page(ctx, page, pool, res, id);
		free(after);
		after = json_is_string(json_object_get(page, "next"))
				? strdup(out_str(page, "next")) : NULL;
		json_decref(page);
	} while (rc == 0 && after);
	free(after);
	if (rc == 0) {
		fprintf(stderr, "poolctl: no live lease on resource %s in pool %s\n", res, pool);
		return CTL_GONE;
	}
	return rc == 1 ? 0 : rc;
}

/* The lease a command acts on: LEASE, or --pool and --resource. 0 with *id
 * malloc'd, or an exit code after saying why. */
static int lease_target(struct ctl *ctx, const struct ctl_args *a, char **id)
{
	const char *pool = NULL, *res = NULL;

	for (int i = 0; i < a->nopts; i++) {
		if (a->opts[i].key == OPT_POOL)
			pool = a->opts[i].val;
		else if (a->opts[i].key == OPT_RESOURCE)
			res = a->opts[i].val;
	}
	if (a->npos == 1 && !pool && !res) {
		*id = strdup(a->pos[0]);
		return *id ? 0 : CTL_ERR;
	}
	if (a->npos == 0 && pool && res)
		return find_lease(ctx, pool, res, id);
	return ctl_usage(ctx, "give either LEASE or both --pool and --resource");
}

/* The resource's current version as the lease sees it, for a CAS the user
 * did not pin with --version. */
static int current_version(struct ctl *ctx, const char *id, long long *version)
{
	pool_lease *l;
	pool_error err;

	if (pool_lease_get(ctl_client(ctx), id, &l, &err) < 0)
		return ctl_fail(ctx, &err);
	*version = pool_lease_version(l);
	pool_lease_free(l);
	return 0;
}

/* Options of return, replace and checkin: --descriptor, --discard, --version. */
struct end_opts {
	json_t *descriptor; /* owned, or NULL */
	bool discard;
	long long version;  /* 0: not given */
};

static int end_opts_parse(struct ctl *ctx, const struct ctl_args *a, struct end_opts *e)
{
	int rc = 0;

	for (int i = 0; i < a->nopts && rc == 0; i++) {
		const struct ctl_optval *v = &a->opts[i];

		if (v->key == OPT_DESCRIPTOR) {
			json_decref(e->descriptor);
			rc = arg_object(ctx, "descriptor", v->val, &e->descriptor);
		} else if (v->key == OPT_DISCARD) {
			e->discard = true;
		} else if (v->key == OPT_VERSION) {
			rc = arg_count(ctx, "version", v->val, &e->version);
		}
	}
	if (rc == 0 && e->discard && e->descriptor)
		rc = ctl_usage(ctx, "--discard and --descriptor do not go together");
	return rc;
}

static void say_done(struct ctl *ctx, const char *what, const char *id)
{
	if (ctx->json) {
		json_t *empty = json_object();

		out_json(empty);
		json_decref(empty);
	} else if (!ctx->quiet) {
		printf("%s lease %s\n", what, id);
	}
}

/* Returns one lease; 0, or an exit code after saying why. */
static int return_one(struct ctl *ctx, const char *id, const struct end_opts *e)
{
	pool_error err;

	if (!ctl_client(ctx))
		return ctx->connect_rc;
	if (pool_return(ctx->client, id, e->descriptor, e->discard, &err) < 0)
		return ctl_fail(ctx, &err);
	if (!ctx->json)
		say_done(ctx, e->discard ? "returned (and discarded)" : "returned", id);
	return 0;
}

/* return LEASE... : each one, going on past a failure; the exit code is the
 * first failure's. */
static int run_return(struct ctl *ctx, const struct ctl_args *a)
{
	struct end_opts e = { 0 };
	char *id = NULL;
	int rc = end_opts_parse(ctx, a, &e), first = 0;

	if (rc == 0 && a->npos > 1 && e.descriptor)
		rc = ctl_usage(ctx, "--descriptor goes with one LEASE");
	if (rc == 0 && a->npos > 1) {
		for (int i = 0; i < a->npos && rc != CTL_UNREACHABLE && rc != CTL_TIMED_OUT; i++)
			if ((rc = return_one(ctx, a->pos[i], &e)) != 0 && first == 0)
				first = rc;
		rc = first;
	} else if (rc == 0 && (rc = lease_target(ctx, a, &id)) == 0) {
		rc = return_one(ctx, id, &e);
	}
	if (rc == 0 && ctx->json)
		say_done(ctx, "returned", NULL);
	free(id);
	json_decref(e.descriptor);
	return rc;
}

static int run_checkin(struct ctl *ctx, const struct ctl_args *a)
{
	struct end_opts e = { 0 };
	pool_error err;
	int rc = end_opts_parse(ctx, a, &e);

	if (rc == 0 && !ctl_client(ctx))
		rc = ctx->connect_rc;
	if (rc == 0 && e.descriptor && e.version == 0)
		rc = current_version(ctx, a->pos[0], &e.version);
	if (rc == 0 && pool_checkin(ctx->client, a->pos[0], e.descriptor,
				    e.descriptor ? e.version : 0, e.discard, &err) < 0)
		rc = ctl_fail(ctx, &err);
	if (rc == 0)
		say_done(ctx, e.discard ? "checked in (and discarded)" : "checked in", a->pos[0]);
	json_decref(e.descriptor);
	return rc;
}

static int run_replace(struct ctl *ctx, const struct ctl_args *a)
{
	struct end_opts e = { 0 };
	long long now = 0;
	pool_error err;
	int rc = end_opts_parse(ctx, a, &e);

	if (rc == 0 && !e.descriptor)
		rc = ctl_usage(ctx, "--descriptor is required");
	if (rc == 0 && !ctl_client(ctx))
		rc = ctx->connect_rc;
	if (rc == 0 && e.version == 0)
		rc = current_version(ctx, a->pos[0], &e.version);
	if (rc == 0 && pool_replace(ctx->client, a->pos[0], e.descriptor, e.version, &now,
				    &err) < 0)
		rc = ctl_fail(ctx, &err);
	if (rc == 0 && ctx->json) {
		json_t *r = json_pack("{s:I}", "version", (json_int_t)now);

		out_json(r);
		json_decref(r);
	} else if (rc == 0 && !ctx->quiet) {
		printf("replaced the descriptor; the resource is now at version %lld\n", now);
	}
	json_decref(e.descriptor);
	return rc;
}

static int run_renew(struct ctl *ctx, const struct ctl_args *a)
{
	double ttl = -1;
	json_t *res = NULL;
	pool_error err;
	char *id = NULL;
	int rc = 0;

	for (int i = 0; i < a->nopts && rc == 0; i++)
		if (a->opts[i].key == OPT_TTL)
			rc = arg_duration(ctx, "ttl", a->opts[i].val, &ttl);
	if (rc == 0)
		rc = lease_target(ctx, a, &id);
	if (rc == 0 && !ctl_client(ctx))
		rc = ctx->connect_rc;
	if (rc == 0 && pool_renew(ctx->client, id, ttl, &res, &err) < 0)
		rc = ctl_fail(ctx, &err);
	if (rc == 0 && ctx->json) {
		out_json(res);
	} else if (rc == 0 && !ctx->quiet) {
		const char *exp = json_string_value(json_object_get(res, "expires_at"));
		char left[32];

		if (exp)
			printf("renewed lease %s; it expires at %s (in %s)\n", id, exp,
			       duration_format(out_seconds_until(exp), left, sizeof(left)));
		else
			printf("renewed lease %s; it never expires\n", id);
	}
	json_decref(res);
	free(id);
	return rc;
}

static int run_lease_get(struct ctl *ctx, const struct ctl_args *a)
{
	pool_client *c = ctl_client(ctx);
	pool_lease *l;
	pool_error err;

	if (!c)
		return ctx->connect_rc;
	if (pool_lease_get(c, a->pos[0], &l, &err) < 0)
		return ctl_fail(ctx, &err);
	print_lease(ctx, l, false);
	pool_lease_free(l);
	return CTL_OK;
}

/* One row of lease list: what a person needs to find their lease. */
static void lease_row(struct table *t, const json_t *l)
{
	const char *exp = json_string_value(json_object_get(l, "expires_at"));
	char age[32], left[32];

	duration_format(-out_seconds_until(out_str(l, "acquired_at")), age, sizeof(age));
	if (exp)
		duration_format(out_seconds_until(exp), left, sizeof(left));
	table_add(t, json_is_string(json_object_get(l, "lease")) ? out_str(l, "lease") : "-",
		  out_str(l, "pool"), out_str(json_object_get(l, "resource"), "name"),
		  out_str(l, "mode"), out_str(l, "owner"), age, exp ? left : "never");
}

static void print_lease_list(struct ctl *ctx, json_t *all)
{
	struct table *t;
	size_t i;
	json_t *l;

	if (ctx->json) {
		out_json(all);
		return;
	}
	if (ctx->quiet) {
		json_array_foreach(json_object_get(all, "leases"), i, l)
			if (json_is_string(json_object_get(l, "lease")))
				printf("%s\n", out_str(l, "lease"));
		return;
	}
	t = table_new(7, "LEASE", "POOL", "RESOURCE", "MODE", "OWNER", "AGE", "LEFT");
	json_array_foreach(json_object_get(all, "leases"), i, l)
		lease_row(t, l);
	table_print(t, stdout);
}

/* Every page (or, with --limit, the first one) into one result object. */
static int run_lease_list(struct ctl *ctx, const struct ctl_args *a)
{
	const char *pool = NULL, *start = NULL;
	long long limit = 0;
	json_t *all = NULL, *page;
	pool_client *c;
	pool_error err;
	int rc = 0;

	for (int i = 0; i < a->nopts && rc == 0; i++) {
		if (a->opts[i].key == OPT_POOL)
			pool = a->opts[i].val;
		else if (a->opts[i].key == OPT_LIMIT)
			rc = arg_count(ctx, "limit", a->opts[i].val, &limit);
		else if (a->opts[i].key == OPT_AFTER)
			start = a->opts[i].val;
	}
	if (rc || !(c = ctl_client(ctx)))
		return rc ? rc : ctx->connect_rc;
	do {
		const char *after = all ? out_str(all, "next") : start;

		if (pool_lease_list(c, pool, limit, after, &page, &err) < 0) {
			json_decref(all);
			return ctl_fail(ctx, &err);
		}
		if (all) {
			json_array_extend(json_object_get(all, "leases"), json_object_get(page, "leases"));
			json_object_set(all, "next", json_object_get(page, "next"));
			json_decref(page);
		} else {
			all = page;
		}
	} while (limit == 0 && json_is_string(json_object_get(all, "next")));
	print_lease_list(ctx, all);
	if (!ctx->json && !ctx->quiet && json_is_string(json_object_get(all, "next")))
		printf("more leases: poolctl lease list%s%s --limit %lld --after %s\n",
		       pool ? " --pool " : "", pool ? pool : "", limit, out_str(all, "next"));
	json_decref(all);
	return CTL_OK;
}

static const struct ctl_opt lease_opts[] = { CTL_LEASE_OPTS, ENV_OPT, { NULL, 0, NULL, NULL } };
static const struct ctl_opt checkout_opts[] = {
	{ "name", OPT_NAME, "NAME", "this resource (wait for it with --wait)" },
	{ "match", OPT_MATCH, "KEY=VALUE",
	  "the first free one whose descriptor has KEY equal to VALUE (repeatable)" },
	CTL_LEASE_OPTS, ENV_OPT, { NULL, 0, NULL, NULL },
};
static const struct ctl_opt return_opts[] = {
	FIND_OPTS,
	{ "descriptor", OPT_DESCRIPTOR, "JSON|@FILE|@-", "store this descriptor" },
	{ "discard", OPT_DISCARD, NULL, "destroy the resource instead of reusing it" },
	{ NULL, 0, NULL, NULL },
};
static const struct ctl_opt replace_opts[] = {
	{ "descriptor", OPT_DESCRIPTOR, "JSON|@FILE|@-", "the new descriptor (required)" },
	{ "version", OPT_VERSION, "N", "the version it must replace (default: the current one)" },
	{ NULL, 0, NULL, NULL },
};
static const struct ctl_opt checkin_opts[] = {
	{ "descriptor", OPT_DESCRIPTOR, "JSON|@FILE|@-", "a final descriptor" },
	{ "version", OPT_VERSION, "N", "the version it must replace (default: the current one)" },
	{ "discard", OPT_DISCARD, NULL, "destroy the resource instead of reusing it" },
	{ NULL, 0, NULL, NULL },
};
static const struct ctl_opt renew_opts[] = {
	FIND_OPTS,
	{ "ttl", OPT_TTL, "DURATION", "new time to live, kept for later renews (0: none)" },
	{ NULL, 0, NULL, NULL },
};
static const struct ctl_opt list_opts[] = {
	{ "pool", OPT_POOL, "POOL", "only this pool's leases" },
	{ "limit", OPT_LIMIT, "N", "one page of at most N (default: all)" },
	{ "after", OPT_AFTER, "CURSOR", "start after this page's end (its \"next\")" },
	{ NULL, 0, NULL, NULL },
};

const struct ctl_cmd cmd_lease = {
	.name = "lease", .usage = "POOL [OPTIONS]",
	.summary = "take a free resource of POOL (pop) and print the lease",
	.details = "With --env, prints export lines of POOL_LEASE, POOL_RESOURCE, POOL_DESCRIPTOR\n"
		   "and POOL_DESC_<KEY> for eval; with -q, just the lease id:\n"
		   "  LEASE=$(poolctl lease spark --wait 10m -q)\n",
	.opts = lease_opts, .min_pos = 1, .max_pos = 1, .run = run_lease,
};
const struct ctl_cmd cmd_checkout = {
	.name = "checkout", .usage = "POOL [--name NAME | --match KEY=VALUE ...] [OPTIONS]",
	.summary = "lease a chosen resource of POOL (by name or descriptor fields)",
	.details = "A --match VALUE is JSON when it parses as a scalar (1, true, \"1\"), else a\n"
		   "string. Output as for lease.\n",
	.opts = checkout_opts, .min_pos = 1, .max_pos = 1, .run = run_checkout,
};
const struct ctl_cmd cmd_return = {
	.name = "return", .usage = "LEASE... | --pool POOL --resource NAME [OPTIONS]",
	.summary = "end leases; the resources go back to their pools",
	.details = "Several LEASEs are returned one by one; a failure is reported and the others\n"
		   "are still returned (the exit code is the first failure's). With --pool and\n"
		   "--resource, returns the live lease on that resource (an admin may return\n"
		   "anyone's; others only their own).\n",
	.opts = return_opts, .min_pos = 0, .max_pos = -1, .run = run_return,
};
const struct ctl_cmd cmd_replace = {
	.name = "replace", .usage = "LEASE --descriptor JSON [--version N]",
	.summary = "replace the leased resource's descriptor (compare-and-swap)",
	.opts = replace_opts, .min_pos = 1, .max_pos = 1, .run = run_replace,
};
const struct ctl_cmd cmd_checkin = {
	.name = "checkin", .usage = "LEASE [--descriptor JSON [--version N]] [--discard]",
	.summary = "end a lease, optionally storing a final descriptor",
	.opts = checkin_opts, .min_pos = 1, .max_pos = 1, .run = run_checkin,
};
const struct ctl_cmd cmd_renew = {
	.name = "renew", .usage = "LEASE | --pool POOL --resource NAME [--ttl DURATION]",
	.summary = "push a lease's expiry to now + its TTL",
	.opts = renew_opts, .min_pos = 0, .max_pos = 1, .run = run_renew,
};
const struct ctl_cmd cmd_lease_get = {
	.name = "lease get", .usage = "LEASE",
	.summary = "show a lease", .min_pos = 1, .max_pos = 1, .run = run_lease_get,
};
const struct ctl_cmd cmd_lease_list = {
	.name = "lease list", .usage = "[--pool POOL] [--limit N [--after CURSOR]]",
	.summary = "list live leases: pool, resource, owner, age, time left",
	.details = "Another caller's lease id shows as - unless you are an admin.\n",
	.opts = list_opts, .min_pos = 0, .max_pos = 0, .run = run_lease_list,
};
