/*
 * resource.add: adds free resources to a pool, all or nothing. Each element
 * is {"name"?, "descriptor"}; a missing name is generated as
 * "<pool>-<5 letters>". A taken or repeated name is "exists", going past
 * max_size is "conflict", a draining pool is "draining". Waiters are served
 * from the new resources at once.
 */
#include <stdio.h>
#include <string.h>

#include "ops.h"
#include "pool.h"
#include "pool_protocol.h"
#include "poold.h"
#include "util.h"
#include "wait.h"

/* Checks one element; returns its name (or NULL for "generate") via *name.
 * 0, or -1 after answering. */
static int check_item(struct req *r, struct pool *p, struct hmap *seen,
		      size_t i, json_t *item, const char **name)
{
	const char *key;
	char why[200];
	json_t *v;

	if (!json_is_object(item)) {
		req_fail(r, POOL_ERR_BAD_REQUEST, "resources[%zu] must be an "
			 "object {\"name\"?, \"descriptor\"}", i);
		return -1;
	}
	json_object_foreach(item, key, v) {
		if (strcmp(key, "name") != 0 && strcmp(key, "descriptor") != 0) {
			req_fail(r, POOL_ERR_BAD_REQUEST, "unknown field "
				 "\"%s\" in resources[%zu] (it takes: name, "
				 "descriptor)", key, i);
			return -1;
		}
	}
	if (!json_is_object(json_object_get(item, "descriptor"))) {
		req_fail(r, POOL_ERR_BAD_REQUEST, "resources[%zu].descriptor "
			 "must be a JSON object", i);
		return -1;
	}
	if (descriptor_check(r->pd, json_object_get(item, "descriptor"), why,
			     sizeof why) < 0) {
		req_fail(r, POOL_ERR_BAD_REQUEST, "resources[%zu]: %s", i, why);
		return -1;
	}
	v = json_object_get(item, "name");
	*name = json_string_value(v);
	if (v && (!*name || !name_valid_resource(*name))) {
		req_fail(r, POOL_ERR_BAD_REQUEST, "resources[%zu].name must be "
			 "1-128 characters of A-Z a-z 0-9 . _ : -", i);
		return -1;
	}
	if (*name && (resource_find(p, *name) || hmap_get(seen, *name))) {
		req_fail(r, POOL_ERR_EXISTS, "resource %s already exists in "
			 "pool %s; nothing was added", *name, p->name);
		return -1;
	}
	if (*name)
		hmap_put(seen, *name, item);
	return 0;
}

static int check_all(struct req *r, struct pool *p, json_t *items,
		     struct hmap *seen)
{
	size_t n = json_array_size(items), i;
	const char *name;
	json_t *item;

	if (p->draining) {
		req_fail(r, POOL_ERR_DRAINING, "pool %s is draining; end the "
			 "drain (pool.set state active) before adding", p->name);
		return -1;
	}
	if (n > (size_t)r->pd->cfg.max_batch) {
		req_fail(r, POOL_ERR_BAD_REQUEST, "%zu resources in one "
			 "resource.add; the limit is %d (--max-batch): send "
			 "them in several requests", n, r->pd->cfg.max_batch);
		return -1;
	}
	json_array_foreach(items, i, item)
		if (check_item(r, p, seen, i, item, &name) < 0)
			return -1;
	if (p->set.max_size > 0 && (int64_t)(p->total + n) > p->set.max_size) {
		req_fail(r, POOL_ERR_CONFLICT, "adding %zu resources would put "
			 "pool %s over its max_size %lld (it holds %zu); "
			 "nothing was added", n, p->name,
			 (long long)p->set.max_size, p->total);
		return -1;
	}
	return 0;
}

static enum req_status exec(struct req *r)
{
	struct pool *p = op_pool(r);
	json_t *items = req_get(r, "resources"), *item;
	char gen[POOL_RESOURCE_NAME_MAX + 1];
	struct hmap seen;
	size_t i;

	if (!p)
		return REQ_DONE;
	hmap_init(&seen);
	if (check_all(r, p, items, &seen) == 0) {
		json_array_foreach(items, i, item) {
			const char *name = json_string_value(
				json_object_get(item, "name"));

			while (!name) {
				resource_name_generate(p, gen, sizeof gen);
				name = hmap_get(&seen, gen) ? NULL : gen;
			}
			resource_new(p, name, json_incref(json_object_get(
					item, "descriptor")), RS_FREE, r->now);
		}
		p->stats.added += (int64_t)json_array_size(items);
		req_ok(r, json_pack("{s:I}", "added",
				    (json_int_t)json_array_size(items)));
	}
	hmap_free(&seen);
	return REQ_DONE;
}

static const struct field fields[] = {
	{ "pool", F_NAME, true },
	{ "resources", F_ARRAY, true },
	{ NULL, 0, false },
};
const struct op op_resource_add = { "resource.add", OP_ADMIN, fields, exec };
