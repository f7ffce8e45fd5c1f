/*
 * pool.c - pools, their resources and the state lists. resource_change() is
 * the one place a resource moves between states; it also checks, in every
 * build (invariant.h), the contract's invariant that a resource is held by
 * at most one live lease.
 */
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "invariant.h"
#include "journal.h"
#include "jsonutil.h"
#include "match_index.h"
#include "pool_protocol.h"
#include "lease.h"
#include "log.h"
#include "poold.h"
#include "util.h"

static const char *const state_names[RS_NSTATES] = {
	"creating", "free", "leased", "cleaning", "destroying"
};

const char *res_state_name(enum res_state s)
{
	return state_names[s];
}

int res_state_parse(const char *s, enum res_state *out)
{
	for (int i = 0; i < RS_NSTATES; i++) {
		if (strcmp(s, state_names[i]) == 0) {
			*out = (enum res_state)i;
			return 0;
		}
	}
	return -1;
}

/* ---- settings ---------------------------------------------------------- */

void pool_settings_init(struct pool_settings *s)
{
	memset(s, 0, sizeof *s);
	s->max_waiters = POOL_DEFAULT_MAX_WAITERS;
	s->lease_ttl = POOL_DEFAULT_LEASE_TTL;
	s->order = ORDER_LIFO;
	s->on_expire = EXPIRE_RETURN;
	s->create = json_string("builtin");
	s->destroy = json_null();
	s->reset = json_null();
}

void pool_settings_clear(struct pool_settings *s)
{
	json_decref(s->create);
	json_decref(s->destroy);
	json_decref(s->reset);
	memset(s, 0, sizeof *s);
}

static void settings_copy(struct pool_settings *dst,
			  const struct pool_settings *src)
{
	*dst = *src;
	dst->create = json_deep_copy(src->create);
	dst->destroy = json_deep_copy(src->destroy);
	dst->reset = json_deep_copy(src->reset);
}

enum setting_kind { SET_COUNT, SET_SECONDS, SET_ENUM, SET_COMMAND };

struct setting {
	const char *name;
	enum setting_kind kind;
	size_t offset;               /* into struct pool_settings */
	const char *const *choices;  /* SET_ENUM: names by value */
};

static const char *const order_names[] = { "lifo", "fifo", NULL };
static const char *const expire_names[] = { "return", "discard", NULL };

#define OFF(f) offsetof(struct pool_settings, f)
static const struct setting settings_table[] = {
	{ "max_size",    SET_COUNT,   OFF(max_size),    NULL },
	{ "min_idle",    SET_COUNT,   OFF(min_idle),    NULL },
	{ "max_idle",    SET_COUNT,   OFF(max_idle),    NULL },
	{ "max_waiters", SET_COUNT,   OFF(max_waiters), NULL },
	{ "idle_ttl",    SET_SECONDS, OFF(idle_ttl),    NULL },
	{ "lease_ttl",   SET_SECONDS, OFF(lease_ttl),   NULL },
	{ "max_lease_ttl", SET_SECONDS, OFF(max_lease_ttl), NULL },
	{ "order",       SET_ENUM,    OFF(order),       order_names },
	{ "on_expire",   SET_ENUM,    OFF(on_expire),   expire_names },
	{ "create",      SET_COMMAND, OFF(create),      NULL },
	{ "destroy",     SET_COMMAND, OFF(destroy),     NULL },
	{ "reset",       SET_COMMAND, OFF(reset),       NULL },
};
#undef OFF

static const struct setting *setting_find(const char *name)
{
	for (size_t i = 0; i < sizeof settings_table / sizeof *settings_table; i++)
		if (strcmp(settings_table[i].name, name) == 0)
			return &settings_table[i];
	return NULL;
}

bool pool_setting_known(const char *field)
{
	return setting_find(field) != NULL;
}

#define CMD_DEFAULT_TIMEOUT 600
#define CMD_DEFAULT_CONCURRENCY 4

static int command_fail(char *err, size_t errlen, const char *name,
			const char *what)
{
	snprintf(err, errlen, "field \"%s\": %s", name, what);
	return -1;
}

/* A duration setting: 0 (none) or from POOL_DURATION_MIN to
 * POOL_DURATION_MAX, as request fields; 1e-320 is neither. */
static bool duration_ok(json_t *v)
{
	double d = json_number_value(v);

	return json_is_number(v) && (d == 0 || (d >= POOL_DURATION_MIN &&
						d <= POOL_DURATION_MAX));
}

/* An environment variable's name as a shell would take it. */
static bool env_name_ok(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
	      *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* "env": an object of string values under names [A-Za-z_][A-Za-z0-9_]*;
 * a value holds no NUL (it could not reach the command whole). */
static bool env_ok(json_t *env)
{
	const char *key;
	json_t *v;

	if (!json_is_object(env))
		return false;
	json_object_foreach(env, key, v)
		if (!env_name_ok(key) || !json_is_string(v) ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return false;
	return true;
}

static bool command_key_ok(const char *key)
{
	return !strcmp(key, "cmd") || !strcmp(key, "timeout") ||
	       !strcmp(key, "env") || !strcmp(key, "max_concurrent");
}

/* Checks {"cmd": ["/abs/path", args...], "timeout"?, "env"?,
 * "max_concurrent"?} and stores it with defaults filled in. */
static int command_object(const char *name, json_t *v, json_t **slot,
			  char *err, size_t errlen)
{
	json_t *cmd = json_object_get(v, "cmd"), *t, *mc, *env, *arg;
	const char *key;
	size_t i;

	json_object_foreach(v, key, arg)
		if (!command_key_ok(key))
			return command_fail(err, errlen, name, "takes only "
					    "cmd, timeout, env and "
					    "max_concurrent");
	if (!json_is_array(cmd) || json_array_size(cmd) == 0)
		return command_fail(err, errlen, name, "\"cmd\" must be a "
				    "non-empty array of strings");
	json_array_foreach(cmd, i, arg)
		if (!json_is_string(arg))
			return command_fail(err, errlen, name, "\"cmd\" must "
					    "be an array of strings");
	if (json_string_value(json_array_get(cmd, 0))[0] != '/')
		return command_fail(err, errlen, name, "cmd[0] must be an "
				    "absolute path (commands run without a "
				    "shell)");
	t = json_object_get(v, "timeout");
	if (t && !duration_ok(t))
		return command_fail(err, errlen, name, "\"timeout\" must be 0 "
				    "or a number of seconds from 0.001 to 1e9");
	mc = json_object_get(v, "max_concurrent");
	if (mc && (!json_is_integer(mc) || json_integer_value(mc) < 1))
		return command_fail(err, errlen, name, "\"max_concurrent\" "
				    "must be an integer >= 1");
	env = json_object_get(v, "env");
	if (env && !env_ok(env))
		return command_fail(err, errlen, name, "\"env\" must be an "
				    "object of strings named like "
				    "[A-Za-z_][A-Za-z0-9_]*");
	json_decref(*slot);
	*slot = json_pack("{s:O, s:o}", "cmd", cmd, "timeout",
			  t ? json_incref(t) : json_integer(CMD_DEFAULT_TIMEOUT));
	/* destroy shows it only when given, as the contract has it */
	if (mc || strcmp(name, "destroy") != 0)
		json_object_set_new(*slot, "max_concurrent", mc ?
				    json_incref(mc) :
				    json_integer(CMD_DEFAULT_CONCURRENCY));
	if (env)
		json_object_set(*slot, "env", env);
	return 0;
}

/* create takes "builtin", "none" or a command; reset and destroy take null
 * or a command. */
static int command_apply(const struct setting *st, json_t *v, json_t **slot,
			 char *err, size_t errlen)
{
	bool is_create = strcmp(st->name, "create") == 0;
	const char *s = json_string_value(v);

	if (json_is_object(v))
		return command_object(st->name, v, slot, err, errlen);
	if ((is_create && s && (!strcmp(s, "builtin") || !strcmp(s, "none"))) ||
	    (!is_create && json_is_null(v))) {
		json_decref(*slot);
		*slot = json_incref(v);
		return 0;
	}
	return command_fail(err, errlen, st->name, is_create ?
			    "must be \"builtin\", \"none\" or {\"cmd\": [...]}" :
			    "must be null or {\"cmd\": [...]}");
}

int64_t pool_command_concurrency(json_t *cmd)
{
	json_t *mc = json_object_get(cmd, "max_concurrent");

	return mc ? json_integer_value(mc) : CMD_DEFAULT_CONCURRENCY;
}

json_t *pool_command(const struct pool *p, const char *which)
{
	json_t *v = strcmp(which, "create") == 0 ? p->set.create :
		    strcmp(which, "reset") == 0 ? p->set.reset : p->set.destroy;

	return json_is_object(v) ? v : NULL;
}

static int setting_apply(const struct setting *st, json_t *v,
			 struct pool_settings *s, char *err, size_t errlen)
{
	char *base = (char *)s + st->offset;

	switch (st->kind) {
	case SET_COUNT:
		if (!json_is_integer(v) || json_integer_value(v) < 0) {
			snprintf(err, errlen, "field \"%s\" must be a "
				 "non-negative integer", st->name);
			return -1;
		}
		*(int64_t *)base = json_integer_value(v);
		return 0;
	case SET_SECONDS:
		if (!duration_ok(v)) {
			snprintf(err, errlen, "field \"%s\" must be 0 or a "
				 "number of seconds from 0.001 to 1e9",
				 st->name);
			return -1;
		}
		*(double *)base = json_number_value(v);
		return 0;
	case SET_ENUM:
		for (int i = 0; json_is_string(v) && st->choices[i]; i++) {
			if (strcmp(json_string_value(v), st->choices[i]) == 0) {
				*(int *)base = i;
				return 0;
			}
		}
		snprintf(err, errlen, "field \"%s\" must be \"%s\" or \"%s\"",
			 st->name, st->choices[0], st->choices[1]);
		return -1;
	case SET_COMMAND:
		return command_apply(st, v, (json_t **)base, err, errlen);
	}
	return -1;
}

int pool_ttl_check(const struct pool_settings *s, double ttl,
		   const char *what, char *err, size_t errlen)
{
	if (s->max_lease_ttl <= 0 || (ttl > 0 && ttl <= s->max_lease_ttl))
		return 0;
	snprintf(err, errlen, "%s %g is not allowed: this pool's leases last "
		 "at most max_lease_ttl %g s (and must have a TTL)", what, ttl,
		 s->max_lease_ttl);
	return -1;
}

int pool_settings_apply(struct pool_settings *s, json_t *fields, char *err,
			size_t errlen)
{
	struct pool_settings tmp;
	const char *key;
	json_t *v;

	settings_copy(&tmp, s);
	json_object_foreach(fields, key, v) {
		const struct setting *st = setting_find(key);

		if (st && setting_apply(st, v, &tmp, err, errlen) < 0) {
			pool_settings_clear(&tmp);
			return -1;
		}
	}
	if (tmp.max_size > 0 && tmp.min_idle > tmp.max_size) {
		snprintf(err, errlen, "min_idle (%lld) is larger than max_size "
			 "(%lld); lower min_idle or raise max_size",
			 (long long)tmp.min_idle, (long long)tmp.max_size);
		pool_settings_clear(&tmp);
		return -1;
	}
	if (pool_ttl_check(&tmp, tmp.lease_ttl, "lease_ttl", err, errlen) < 0) {
		pool_settings_clear(&tmp);
		return -1;
	}
	if (tmp.max_idle > 0 && tmp.min_idle > tmp.max_idle) {
		snprintf(err, errlen, "min_idle (%lld) is larger than max_idle "
			 "(%lld)", (long long)tmp.min_idle,
			 (long long)tmp.max_idle);
		pool_settings_clear(&tmp);
		return -1;
	}
	pool_settings_clear(s);
	*s = tmp;
	return 0;
}

/* The counts that size a pool, bounded by --max-pool-size: an unbounded
 * min_idle would have the janitor create without end. */
static const char *const sized[] = { "max_size", "min_idle", "max_idle" };
static const char *const commands[] = { "create", "reset", "destroy" };

int pool_settings_bound(json_t *fields, const struct config *cfg, char *err,
			size_t errlen)
{
	for (size_t i = 0; i < 3; i++) {
		json_t *v = json_object_get(fields, sized[i]);

		if (json_is_integer(v) &&
		    json_integer_value(v) > cfg->max_pool_size) {
			snprintf(err, errlen, "field \"%s\" (%lld) is above "
				 "the limit %lld; lower it, or raise the limit "
				 "with poold --max-pool-size", sized[i],
				 (long long)json_integer_value(v),
				 (long long)cfg->max_pool_size);
			return -1;
		}
	}
	for (size_t i = 0; i < 3; i++) {
		json_t *mc = json_object_get(json_object_get(fields,
							     commands[i]),
					     "max_concurrent");

		if (json_is_integer(mc) &&
		    json_integer_value(mc) > cfg->max_concurrent) {
			snprintf(err, errlen, "field \"%s\": \"max_concurrent"
				 "\" (%lld) is above the limit %lld; lower it, "
				 "or raise the limit with poold "
				 "--max-concurrent", commands[i],
				 (long long)json_integer_value(mc),
				 (long long)cfg->max_concurrent);
			return -1;
		}
	}
	return 0;
}

static void clamp_count(int64_t *v, int64_t max, const char *pool,
			const char *what, const char *flag)
{
	if (*v <= max)
		return;
	log_warn("pool %s: stored %s %lld is above %s %lld: using %lld "
		 "(raise %s to keep more)", pool, what, (long long)*v, flag,
		 (long long)max, (long long)max, flag);
	*v = max;
}

void pool_settings_clamp(struct pool_settings *s, const struct config *cfg,
			 const char *pool)
{
	int64_t *counts[] = { &s->max_size, &s->min_idle, &s->max_idle };
	json_t *cmds[] = { s->create, s->reset, s->destroy };

	for (size_t i = 0; i < 3; i++)
		clamp_count(counts[i], cfg->max_pool_size, pool, sized[i],
			    "--max-pool-size");
	for (size_t i = 0; i < 3; i++) {
		json_t *mc = json_object_get(cmds[i], "max_concurrent");
		int64_t v = json_integer_value(mc);

		if (!mc)
			continue;
		clamp_count(&v, cfg->max_concurrent, pool, commands[i],
			    "--max-concurrent");
		json_object_set_new(cmds[i], "max_concurrent",
				    json_integer(v));
	}
}

/* ---- pools ------------------------------------------------------------- */

struct pool *pool_find(struct poold *pd, const char *name)
{
	return hmap_get(&pd->pools, name);
}

struct pool *pool_attach(struct poold *pd, const char *name,
			 const struct pool_settings *s, bool draining,
			 bool declared, double created_at)
{
	struct pool *p = xcalloc(1, sizeof *p);

	p->pd = pd;
	p->name = xstrdup(name);
	p->draining = draining;
	p->declared = declared;
	p->created_at = created_at;
	settings_copy(&p->set, s);
	for (int i = 0; i < RS_NSTATES; i++)
		TAILQ_INIT(&p->lists[i]);
	hmap_init(&p->by_name);
	TAILQ_INIT(&p->waiters);
	TAILQ_INIT(&p->creators);
	TAILQ_INIT(&p->leases);
	hmap_put(&pd->pools, p->name, p);
	return p;
}

struct pool *pool_new(struct poold *pd, const char *name,
		      const struct pool_settings *s, double now)
{
	struct pool *p = pool_attach(pd, name, s, false, false, now);

	pool_save(p);
	return p;
}

void pool_save(struct pool *p)
{
	journal_pool_saved(p);
	journal_event(p->pd, "pool_changed", p, NULL, NULL);
}

void pool_free(struct pool *p)
{
	struct resource *r;

	INVARIANT(p->nwaiters == 0 && TAILQ_EMPTY(&p->creators) &&
	       TAILQ_EMPTY(&p->leases));
	hmap_del(&p->pd->pools, p->name);
	journal_pool_freed(p);
	mindex_free(p);
	for (int i = 0; i < RS_NSTATES; i++) {
		while ((r = TAILQ_FIRST(&p->lists[i]))) {
			TAILQ_REMOVE(&p->lists[i], r, link);
			free(r->descriptor);
			free(r);
		}
	}
	hmap_free(&p->by_name);
	pool_settings_clear(&p->set);
	free(p->name);
	free(p);
}

void pool_remove(struct pool *p)
{
	journal_pool_gone(p);
	journal_event(p->pd, "pool_changed", p, NULL, NULL);
	pool_free(p);
}

json_t *pool_to_json(const struct pool *p)
{
	const struct pool_settings *s = &p->set;

	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:o, s:o, s:o, s:I, s:s,"
			 " s:s, s:O, s:O, s:O, s:b}",
			 "name", p->name,
			 "state", p->draining ? "draining" : "active",
			 "max_size", (json_int_t)s->max_size,
			 "min_idle", (json_int_t)s->min_idle,
			 "max_idle", (json_int_t)s->max_idle,
			 "idle_ttl", json_seconds(s->idle_ttl),
			 "lease_ttl", json_seconds(s->lease_ttl),
			 "max_lease_ttl", json_seconds(s->max_lease_ttl),
			 "max_waiters", (json_int_t)s->max_waiters,
			 "order", order_names[s->order],
			 "on_expire", expire_names[s->on_expire],
			 "create", s->create, "destroy", s->destroy,
			 "reset", s->reset, "declared", p->declared);
}

static json_t *counters_json(const struct counters *c)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
			 " s:I, s:I, s:I, s:I, s:I, s:I}",
			 "leases", (json_int_t)c->leases,
			 "checkouts", (json_int_t)c->checkouts,
			 "returns", (json_int_t)c->returns,
			 "expired", (json_int_t)c->expired,
			 "created", (json_int_t)c->created,
			 "create_failed", (json_int_t)c->create_failed,
			 "destroyed", (json_int_t)c->destroyed,
			 "waited", (json_int_t)c->waited,
			 "wait_timeouts", (json_int_t)c->wait_timeouts,
			 "busy", (json_int_t)c->busy,
			 "exhausted", (json_int_t)c->exhausted,
			 "added", (json_int_t)c->added,
			 "removed", (json_int_t)c->removed,
			 "replaced", (json_int_t)c->replaced,
			 "reset_failed", (json_int_t)c->reset_failed,
			 "destroy_failed", (json_int_t)c->destroy_failed);
}

json_t *pool_occupancy_json(const struct pool *p, double now)
{
	const struct lease *oldest = TAILQ_FIRST(&p->leases);

	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
			 " s:o, s:o}",
			 "pool", p->name,
			 "state", p->draining ? "draining" : "active",
			 "total", (json_int_t)p->total,
			 "free", (json_int_t)p->count[RS_FREE],
			 "leased", (json_int_t)p->count[RS_LEASED],
			 "creating", (json_int_t)p->count[RS_CREATING],
			 "cleaning", (json_int_t)p->count[RS_CLEANING],
			 "destroying", (json_int_t)p->count[RS_DESTROYING],
			 "waiters", (json_int_t)p->nwaiters,
			 "max_size", (json_int_t)p->set.max_size,
			 "oldest_lease_age", oldest ?
				 json_seconds(now - oldest->acquired_at) :
				 json_null(),
			 "counters", counters_json(&p->stats));
}

bool pool_can_grow(const struct pool *p)
{
	const char *create = json_string_value(p->set.create);

	if (p->draining || (create && strcmp(create, "none") == 0))
		return false;
	return p->set.max_size == 0 || (int64_t)p->total < p->set.max_size;
}

/* ---- resources --------------------------------------------------------- */

static char *descriptor_text(json_t *d);

struct resource *resource_find(const struct pool *p, const char *name)
{
	return hmap_get(&p->by_name, name);
}

struct resource *resource_attach(struct pool *p, const char *name,
				 char *descriptor, enum res_state state,
				 int64_t version, double created_at,
				 double last_used_at, int64_t lease_count)
{
	struct resource *r = xcalloc(1, sizeof *r + strlen(name) + 1);

	r->pool = p;
	strcpy(r->name, name);
	r->state = state;
	r->descriptor = descriptor;
	r->version = version;
	r->created_at = created_at;
	r->last_used_at = last_used_at;
	r->lease_count = lease_count;
	TAILQ_INSERT_TAIL(&p->lists[state], r, link);
	p->count[state]++;
	p->total++;
	hmap_put(&p->by_name, r->name, r);
	if (state == RS_FREE)
		mindex_enter(r);
	return r;
}

struct resource *resource_new(struct pool *p, const char *name,
			      json_t *descriptor, enum res_state state,
			      double now)
{
	struct resource *r = resource_attach(p, name, descriptor_text(descriptor),
					     state, 1, now, 0, 0);

	journal_resource_saved(r);
	journal_event(p->pd, "created", p, r, NULL);
	return r;
}

void resource_change(struct resource *r, enum res_state state,
		     json_t *descriptor)
{
	struct pool *p = r->pool;
	bool moved = state != r->state;

	/* The invariant: leased exactly when one live lease holds it. */
	INVARIANT((state == RS_LEASED) == (r->lease != NULL));

	if (moved) {
		mindex_leave(r);
		/* Appending keeps each list in the order its members entered
		 * the state: the free list is then ordered by idleness. */
		TAILQ_REMOVE(&p->lists[r->state], r, link);
		p->count[r->state]--;
		TAILQ_INSERT_TAIL(&p->lists[state], r, link);
		p->count[state]++;
		r->state = state;
	} else if (state == RS_FREE && descriptor) {
		/* It keeps its place in the free list; the match index,
		 * ordered like it, is rebuilt on its next use. */
		mindex_free(p);
	}
	if (descriptor) {
		free(r->descriptor);
		r->descriptor = descriptor_text(descriptor);
	}
	if (moved && state == RS_FREE)
		mindex_enter(r);
	r->version++;
	journal_resource_saved(r);
}

void resource_delete(struct resource *r)
{
	struct pool *p = r->pool;

	INVARIANT(r->lease == NULL);
	journal_resource_gone(r);
	journal_event(p->pd, "destroyed", p, r, NULL);
	mindex_leave(r);
	TAILQ_REMOVE(&p->lists[r->state], r, link);
	p->count[r->state]--;
	p->total--;
	hmap_del(&p->by_name, r->name);
	p->stats.destroyed++;
	free(r->descriptor);
	free(r);
}

json_t *resource_to_json(const struct resource *r)
{
	char c[40], u[40];

	return json_pack("{s:s, s:s, s:s, s:o, s:I, s:s, s:o, s:I}",
			 "pool", r->pool->name, "name", r->name,
			 "state", state_names[r->state],
			 "descriptor", resource_descriptor(r),
			 "version", (json_int_t)r->version,
			 "created_at", time_rfc3339(r->created_at, c, sizeof c),
			 "last_used_at", r->last_used_at > 0 ?
				 json_string(time_rfc3339(r->last_used_at, u,
							  sizeof u)) :
				 json_null(),
			 "lease_count", (json_int_t)r->lease_count);
}

int resource_json_write(const struct resource *r, char *buf, size_t cap)
{
	char c[40], u[44] = "null";
	int n;

	if (r->last_used_at > 0)
		snprintf(u, sizeof u, "\"%s\"",
			 time_rfc3339(r->last_used_at, c, sizeof c));
	/* Names are of [A-Za-z0-9._:-] (checked on the way in): no escaping.
	 * A stored descriptor is kept unparsed, in the exact form jansson
	 * dumps; a bad one shows as {}, as in resource_descriptor(). */
	n = snprintf(buf, cap, "{\"pool\":\"%s\",\"name\":\"%s\",\"state\":"
		     "\"%s\",\"descriptor\":%s,\"version\":%lld,\"created_at\":"
		     "\"%s\",\"last_used_at\":%s,\"lease_count\":%lld}",
		     r->pool->name, r->name, state_names[r->state],
		     r->descriptor[0] == '{' ? r->descriptor : "{}",
		     (long long)r->version,
		     time_rfc3339(r->created_at, c, sizeof c), u,
		     (long long)r->lease_count);
	if (n < 0)
		abort();
	return n;
}

void resource_name_generate(const struct pool *p, char *buf, size_t len)
{
	char letters[6];

	do {
		random_letters(letters, 5);
		snprintf(buf, len, "%s-%s", p->name, letters);
	} while (resource_find(p, buf));
}

int descriptor_check(const struct poold *pd, json_t *d, char *err,
		     size_t errlen)
{
	size_t size = json_dumpb(d, NULL, 0, JSON_COMPACT);

	if (size <= pd->cfg.max_descriptor)
		return 0;
	snprintf(err, errlen, "the descriptor is %zu bytes as compact JSON; "
		 "the limit is %zu (--max-descriptor)", size,
		 pd->cfg.max_descriptor);
	return -1;
}

/* Steals d; returns its compact text, reals in their shortest exact form,
 * so that answers can splice it in as it is (answer.c). */
static char *descriptor_text(json_t *d)
{
	char *text = json_dumps_exact(d, JSON_COMPACT);

	json_decref(d);
	if (!text)
		abort(); /* out of memory: d is always an object */
	return text;
}

json_t *resource_descriptor(const struct resource *r)
{
	json_t *d = json_loads(r->descriptor, 0, NULL);

	return d ? d : json_object(); /* a corrupt row: show it empty */
}

bool descriptor_matches(const struct resource *r, json_t *match)
{
	json_t *d = resource_descriptor(r), *want;
	const char *key;
	bool all = true;

	json_object_foreach(match, key, want) {
		json_t *have = json_object_get(d, key);

		/* json_equal() compares types first: 1, 1.0 and true differ. */
		if (!have || !json_equal(have, want)) {
			all = false;
			break;
		}
	}
	json_decref(d);
	return all;
}

/* A match scan parses only descriptors whose text contains every key of
 * match as `"key":` (as compact JSON writes it): a necessary condition,
 * checked with strstr, that passes over most non-matching resources
 * without parsing them. */
struct match_scan {
	json_t *match;
	char **needles;   /* owned; one per key of match */
	size_t n;
};

static void scan_init(struct match_scan *m, json_t *match)
{
	const char *key;
	json_t *v;

	m->match = match;
	m->n = 0;
	m->needles = xcalloc(json_object_size(match) + 1, sizeof *m->needles);
	json_object_foreach(match, key, v) {
		json_t *k = json_string(key);
		char *quoted = json_dumps(k, JSON_ENCODE_ANY);

		json_decref(k);
		if (!quoted || asprintf(&m->needles[m->n], "%s:", quoted) < 0)
			abort();
		free(quoted);
		m->n++;
	}
}

static void scan_free(struct match_scan *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->needles[i]);
	free(m->needles);
}

static bool scan_fits(const struct match_scan *m, const struct resource *r)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strstr(r->descriptor, m->needles[i]))
			return false;
	return descriptor_matches(r, m->match);
}

struct resource *pool_take_free(struct pool *p, const char *name,
				json_t *match)
{
	struct res_list *free_list = &p->lists[RS_FREE];
	struct resource *r = NULL;
	struct match_scan m;
	bool indexed;

	if (name) {
		r = resource_find(p, name);
		return r && r->state == RS_FREE ? r : NULL;
	}
	if (!match)
		return p->set.order == ORDER_LIFO ?
		       TAILQ_LAST(free_list, res_list) : TAILQ_FIRST(free_list);
	r = mindex_take(p, match, p->set.order == ORDER_LIFO, &indexed);
	if (indexed)
		return r;
	scan_init(&m, match);
	if (p->set.order == ORDER_LIFO) {
		TAILQ_FOREACH_REVERSE(r, free_list, res_list, link)
			if (scan_fits(&m, r))
				break;
	} else {
		TAILQ_FOREACH(r, free_list, link)
			if (scan_fits(&m, r))
				break;
	}
	scan_free(&m);
	return r;
}
