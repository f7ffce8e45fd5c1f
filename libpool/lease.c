/*
 * lease.c - pool_lease, a checked Lease object of the contract: checked once
 * when it arrives so that its accessors are plain reads that never fail.
 */
#include <stdlib.h>

#include "internal.h"

struct pool_lease {
	json_t *obj; /* owned reference to the Lease object */
};

/* The field of obj that is missing or mistyped for a Lease object, or NULL. */
static const char *lease_problem(const json_t *obj)
{
	static const char *const strings[] = { "pool", "mode", "owner", "bind", "acquired_at" };
	const json_t *id = json_object_get(obj, "lease");
	const json_t *exp = json_object_get(obj, "expires_at");
	const json_t *res = json_object_get(obj, "resource");

	if (!json_is_object(obj))
		return "(the object itself)";
	if (!json_is_string(id) && !json_is_null(id))
		return "lease";
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		if (!json_is_string(json_object_get(obj, strings[i])))
			return strings[i];
	if (!json_is_string(exp) && !json_is_null(exp))
		return "expires_at";
	if (!json_is_integer(json_object_get(obj, "token")))
		return "token";
	if (!json_is_object(res))
		return "resource";
	if (!json_is_string(json_object_get(res, "name")))
		return "resource.name";
	if (!json_is_object(json_object_get(res, "descriptor")))
		return "resource.descriptor";
	if (!json_is_integer(json_object_get(res, "version")))
		return "resource.version";
	return NULL;
}

pool_lease *pool_lease_from_json(json_t *obj, pool_error *err)
{
	const char *problem = lease_problem(obj);
	pool_lease *l;

	if (problem) {
		pool__seterr(err, POOL_E_PROTOCOL,
			     "poold answered with a Lease whose \"%s\" is missing or mistyped",
			     problem);
		return NULL;
	}
	l = malloc(sizeof(*l));
	if (!l) {
		pool__seterr(err, POOL_E_INTERNAL, "libpool: out of memory");
		return NULL;
	}
	l->obj = json_incref(obj);
	return l;
}

void pool_lease_free(pool_lease *l)
{
	if (!l)
		return;
	json_decref(l->obj);
	free(l);
}

json_t *pool_lease_json(const pool_lease *l)
{
	return l ? l->obj : NULL;
}

static const char *field(const pool_lease *l, const char *key)
{
	return json_string_value(json_object_get(pool_lease_json(l), key));
}

static json_t *resource_field(const pool_lease *l, const char *key)
{
	return json_object_get(json_object_get(pool_lease_json(l), "resource"), key);
}

const char *pool_lease_id(const pool_lease *l)
{
	return field(l, "lease");
}

const char *pool_lease_pool(const pool_lease *l)
{
	return field(l, "pool");
}

const char *pool_lease_mode(const pool_lease *l)
{
	return field(l, "mode");
}

const char *pool_lease_resource(const pool_lease *l)
{
	return json_string_value(resource_field(l, "name"));
}

json_t *pool_lease_descriptor(const pool_lease *l)
{
	return resource_field(l, "descriptor");
}

long long pool_lease_version(const pool_lease *l)
{
	return (long long)json_integer_value(resource_field(l, "version"));
}

long long pool_lease_token(const pool_lease *l)
{
	return (long long)json_integer_value(json_object_get(pool_lease_json(l), "token"));
}

const char *pool_lease_owner(const pool_lease *l)
{
	return field(l, "owner");
}

const char *pool_lease_bind(const pool_lease *l)
{
	return field(l, "bind");
}

const char *pool_lease_acquired_at(const pool_lease *l)
{
	return field(l, "acquired_at");
}

const char *pool_lease_expires_at(const pool_lease *l)
{
	return field(l, "expires_at");
}
