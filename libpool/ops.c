/*
 * ops.c - one typed function per operation of the contract, each a thin
 * layer that turns C arguments into request fields and calls pool_call().
 * Optional arguments left NULL (or <= 0 where documented) are left out of
 * the request rather than defaulted here, so the daemon stays the one place
 * that knows the defaults and validates values.
 */
#include <math.h>

#include "internal.h"

/* A request's fields under construction; the first field that cannot be
 * encoded is remembered so that each op checks once, at the end. */
struct fields {
	json_t *obj;     /* owned until f_call() */
	const char *bad; /* first field that failed, or NULL */
};

static void f_init(struct fields *f)
{
	f->obj = json_object();
	f->bad = f->obj ? NULL : "(request)";
}

/* Sets key to value (a new reference, stolen; NULL records a failure). */
static void f_put(struct fields *f, const char *key, json_t *value)
{
	if ((!value || json_object_set_new(f->obj, key, value) < 0) && !f->bad)
		f->bad = key;
}

static void f_str(struct fields *f, const char *key, const char *value)
{
	if (value)
		f_put(f, key, json_string(value));
}

static void f_json(struct fields *f, const char *key, json_t *value)
{
	if (value)
		f_put(f, key, json_incref(value));
}

static void f_int(struct fields *f, const char *key, long long value)
{
	f_put(f, key, json_integer((json_int_t)value));
}

static void f_true_if(struct fields *f, const char *key, int flag)
{
	if (flag)
		f_put(f, key, json_true());
}

/* Durations go out as integers when whole, so that logs read "ttl":600. */
static void f_seconds(struct fields *f, const char *key, double s)
{
	if (!isfinite(s))
		f_put(f, key, NULL);
	else if (s > -9e15 && s < 9e15 && s == (double)(long long)s)
		f_put(f, key, json_integer((json_int_t)s));
	else
		f_put(f, key, json_real(s));
}

/* Sends the request and consumes f: pool_call()'s contract. */
static int f_call(pool_client *c, const char *op, struct fields *f, json_t **result,
		  pool_error *err)
{
	int rc;

	if (f->bad) {
		if (result)
			*result = NULL;
		pool__seterr(err, POOL_E_BAD_REQUEST,
			     "libpool: cannot encode field \"%s\" of %s (a string that is not "
			     "UTF-8, a number that is not finite, or out of memory)", f->bad, op);
		rc = -1;
	} else {
		rc = pool_call(c, op, f->obj, result, err);
	}
	json_decref(f->obj);
	return rc;
}

/* Reads the integer field key of result into *out (if not NULL); consumes result. */
static int take_int(json_t *result, const char *op, const char *key, long long *out,
		    pool_error *err)
{
	json_t *v = json_object_get(result, key);
	int ok = json_is_integer(v);

	if (ok && out)
		*out = (long long)json_integer_value(v);
	json_decref(result);
	if (!ok) {
		pool__seterr(err, POOL_E_PROTOCOL, "poold answered %s without an integer \"%s\"",
			     op, key);
		return -1;
	}
	return 0;
}

int pool_ping(pool_client *c, json_t **result, pool_error *err)
{
	struct fields f;

	f_init(&f);
	return f_call(c, "ping", &f, result, err);
}

int pool_hello(pool_client *c, const char *token, json_t **result, pool_error *err)
{
	struct fields f;

	f_init(&f);
	f_str(&f, "token", token);
	return f_call(c, "hello", &f, result, err);
}

int pool_status(pool_client *c, const char *pool, json_t **result, pool_error *err)
{
	struct fields f;

	f_init(&f);
	f_str(&f, "pool", pool);
	return f_call(c, "status", &f, result, err);
}

int pool_watch(pool_client *c, const char *pool, pool_error *err)
{
	struct fields f;

	f_init(&f);
	f_str(&f, "pool", pool);
	return f_call(c, "watch", &f, NULL, err);
}

/* pool.create and pool.set: the settings' fields next to "pool". */
static int pool_settings(pool_client *c, const char *op, const char *pool, json_t *settings,
			 json_t **pool_out, pool_error *err)
{
	struct fields f;

	f_init(&f);
	if (settings && !json_is_object(settings))
		f.bad = "settings";
	else if (settings && json_object_update(f.obj, settings) < 0)
		f.bad = "settings";
	f_str(&f, "pool", pool);
	return f_call(c, op, &f, pool_out, err);
}

int pool_pool_create(pool_client *c, const char *pool, json_t *settings, json_t **pool_out,
		     pool_error *err)
{
	return pool_settings(c, "pool.create", pool, settings, pool_out, err);
}

int pool_pool_set(pool_client *c, const char *pool, json_t *settings, json_t **pool_out,
		  pool_error *err)
{
	return pool_settings(c, "pool.set", pool, settings, pool_out, err);
}

int pool_pool_get(pool_client *c, const char *pool, json_t **pool_out, pool_error *err)
{
	struct fields f;

	f_init(&f);
	f_str(&f, "pool", pool);
	return f_call(c, "pool.get", &f, pool_out, err);
}

int pool_pool_list(pool_client *c, json_t **result, pool_error *err)
{
	struct fields f;

	f_init(&f);
	return f_call(c, "pool.list", &f, result, err);
}

int pool_pool_drain(pool_client *c, const char *pool, json_t **pool_out, pool_error *err)
{
	struct fields f;

	f_init(&f);
	f_str(&f, "pool", pool);
	return f_call(c, "pool.drain", &f, pool_out, err);
}

int pool_pool_delete(pool_client *c, const char *pool, int force, pool_error *err)
{
	struct fields f;

	f_init(&f);
	f_str(&f, "pool", pool);
	f_true_if(&f, "force", force);
	return f_call(c, "pool.delete", &f, NULL, err);
}

int pool_resource_add(pool_client *c, const char *pool, json_t *resources, long long *added,
		      pool_error *err)
{
	struct fields f;
	json_t *result;

	f_init(&f);
	f_str(&f, "pool", pool);
	f_json(&f, "resources", resources);
	if (f_call(c, "resource.add", &f, &result, err) < 0)
		return -1;
	return take_int(result, "resource.add", "added", added, err);
}

int pool_resource_list(pool_client *c, const char *pool, const char *state, long long limit,
		       const char *after, json_t **result, pool_error *err)
{
	struct fields f;

	f_init(&f);
	f_str(&f, "pool", pool);
	f_str(&f, "state", state);
	if (limit > 0)
		f_int(&f, "limit", limit);
	f_str(&f, "after", after);
	return f_call(c, "resource.list", &f, result, err);
}

int pool_resource_get(pool_client *c, const char *pool, const char *name, json_t **resource,
		      pool_error *err)
{
	struct fields f;

	f_init(&f);
	f_str(&f, "pool", pool);
	f_str(&f, "name", name);
	return f_call(c, "resource.get", &f, resource, err);
}

int pool_resource_update(pool_client *c, const char *pool, const char *name,
			 json_t *descriptor, long long version, json_t **resource,
			 pool_error *err)
{
	struct fields f;

	f_init(&f);
	f_str(&f, "pool", pool);
	f_str(&f, "name", name);
	f_json(&f, "descriptor", descriptor);
	f_int(&f, "version", version);
	return f_call(c, "resource.update", &f, resource, err);
}

int pool_resource_remove(pool_client *c, const char *pool, const char *name, int force,
			 pool_error *err)
{
	struct fields f;

	f_init(&f);
	f_str(&f, "pool", pool);
	f_str(&f, "name", name);
	f_true_if(&f, "force", force);
	return f_call(c, "resource.remove", &f, NULL, err);
}

/* lease and checkout: the same options, and a Lease object back. */
static int take_lease(pool_client *c, const char *op, const char *pool,
		      const pool_lease_opts *o, pool_lease **lease, pool_error *err)
{
	struct fields f;
	json_t *result;
	pool_lease *l;

	if (lease)
		*lease = NULL;
	f_init(&f);
	f_str(&f, "pool", pool);
	if (o) {
		if (o->ttl_set)
			f_seconds(&f, "ttl", o->ttl);
		if (o->wait != 0)
			f_seconds(&f, "wait", o->wait);
		f_str(&f, "owner", o->owner);
		f_str(&f, "bind", o->bind);
		f_str(&f, "request_id", o->request_id);
		f_str(&f, "name", o->name);
		f_json(&f, "match", o->match);
	}
	if (f_call(c, op, &f, &result, err) < 0)
		return -1;
	l = pool_lease_from_json(result, err);
	json_decref(result);
	if (!l)
		return -1;
	if (lease)
		*lease = l;
	else
		pool_lease_free(l);
	return 0;
}

int pool_lease_acquire(pool_client *c, const char *pool, const pool_lease_opts *opts,
		       pool_lease **lease, pool_error *err)
{
	return take_lease(c, "lease", pool, opts, lease, err);
}

int pool_checkout(pool_client *c, const char *pool, const pool_lease_opts *opts,
		  pool_lease **lease, pool_error *err)
{
	return take_lease(c, "checkout", pool, opts, lease, err);
}

int pool_return(pool_client *c, const char *lease_id, json_t *descriptor, int discard,
		pool_error *err)
{
	struct fields f;

	f_init(&f);
	f_str(&f, "lease", lease_id);
	f_json(&f, "descriptor", descriptor);
	f_true_if(&f, "discard", discard);
	return f_call(c, "return", &f, NULL, err);
}

int pool_replace(pool_client *c, const char *lease_id, json_t *descriptor, long long version,
		 long long *new_version, pool_error *err)
{
	struct fields f;
	json_t *result;

	f_init(&f);
	f_str(&f, "lease", lease_id);
	f_json(&f, "descriptor", descriptor);
	f_int(&f, "version", version);
	if (f_call(c, "replace", &f, &result, err) < 0)
		return -1;
	return take_int(result, "replace", "version", new_version, err);
}

int pool_checkin(pool_client *c, const char *lease_id, json_t *descriptor, long long version,
		 int discard, pool_error *err)
{
	struct fields f;

	f_init(&f);
	f_str(&f, "lease", lease_id);
	f_json(&f, "descriptor", descriptor);
	if (version > 0)
		f_int(&f, "version", version);
	f_true_if(&f, "discard", discard);
	return f_call(c, "checkin", &f, NULL, err);
}

int pool_renew(pool_client *c, const char *lease_id, double ttl, json_t **result,
	       pool_error *err)
{
	struct fields f;

	f_init(&f);
	f_str(&f, "lease", lease_id);
	if (!(ttl < 0))
		f_seconds(&f, "ttl", ttl);
	return f_call(c, "renew", &f, result, err);
}

int pool_lease_get(pool_client *c, const char *lease_id, pool_lease **lease, pool_error *err)
{
	struct fields f;
	json_t *result;
	pool_lease *l;

	if (lease)
		*lease = NULL;
	f_init(&f);
	f_str(&f, "lease", lease_id);
	if (f_call(c, "lease.get", &f, &result, err) < 0)
		return -1;
	l = pool_lease_from_json(result, err);
	json_decref(result);
	if (!l)
		return -1;
	if (lease)
		*lease = l;
	else
		pool_lease_free(l);
	return 0;
}

int pool_lease_list(pool_client *c, const char *pool, long long limit, const char *after,
		    json_t **result, pool_error *err)
{
	struct fields f;

	f_init(&f);
	f_str(&f, "pool", pool);
	if (limit > 0)
		f_int(&f, "limit", limit);
	f_str(&f, "after", after);
	return f_call(c, "lease.list", &f, result, err);
}
