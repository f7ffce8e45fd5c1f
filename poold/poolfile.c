/* poolfile.c - see poolfile.h. */
#include "poolfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "ops.h"
#include "pool.h"
#include "poold.h"
#include "util.h"
#include "wait.h"

/* Checks one pool object; 0, or -1 with the reason in err. */
static int check_entry(json_t *o, json_t *seen, char *err, size_t errlen)
{
	const char *name = json_string_value(json_object_get(o, "pool"));
	const char *state = json_string_value(json_object_get(o, "state"));
	struct pool_settings s;
	const char *key;
	json_t *v;
	int rc;

	if (!json_is_object(o)) {
		snprintf(err, errlen, "each line must be one JSON object");
		return -1;
	}
	json_object_foreach(o, key, v) {
		if (strcmp(key, "pool") && strcmp(key, "state") &&
		    !pool_setting_known(key)) {
			snprintf(err, errlen, "unknown field \"%s\"", key);
			return -1;
		}
	}
	if (!name || !name_valid_pool(name)) {
		snprintf(err, errlen, "\"pool\" must be a pool name (1-64 of "
			 "A-Z a-z 0-9 . _ -)");
		return -1;
	}
	if (json_object_get(seen, name)) {
		snprintf(err, errlen, "pool %s is declared twice", name);
		return -1;
	}
	if (json_object_get(o, "state") && (!state ||
	    (strcmp(state, "active") && strcmp(state, "draining")))) {
		snprintf(err, errlen, "\"state\" must be \"active\" or "
			 "\"draining\"");
		return -1;
	}
	pool_settings_init(&s);
	rc = pool_settings_apply(&s, o, err, errlen);
	pool_settings_clear(&s);
	if (rc == 0)
		json_object_set_new(seen, name, json_true());
	return rc;
}

json_t *poolfile_read(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	json_t *pools = json_array(), *seen = json_object(), *o;
	char *line = NULL, why[512];
	size_t cap = 0;
	ssize_t n;
	int lineno = 0;
	json_error_t jerr;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (line[strspn(line, " \t\r\n")] == '\0' ||
		    line[strspn(line, " \t")] == '#')
			continue;
		o = json_loadb(line, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
		if (!o) {
			snprintf(err, errlen, "%s:%d: invalid JSON: %s", path,
				 lineno, jerr.text);
			goto fail;
		}
		if (check_entry(o, seen, why, sizeof why) < 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			json_decref(o);
			goto fail;
		}
		json_array_append_new(pools, o);
	}
	fclose(f);
	free(line);
	json_decref(seen);
	return pools;
fail:
	if (f)
		fclose(f);
	free(line);
	json_decref(seen);
	json_decref(pools);
	return NULL;
}

/* Gives p exactly the declared settings (the rest default) and state. */
static void apply_entry(struct poold *pd, json_t *o, double now)
{
	const char *name = json_string_value(json_object_get(o, "pool"));
	const char *state = json_string_value(json_object_get(o, "state"));
	struct pool *p = pool_find(pd, name);
	struct pool_settings s;
	char err[256];

	pool_settings_init(&s);
	pool_settings_apply(&s, o, err, sizeof err); /* checked when read */
	pool_settings_clamp(&s, &pd->cfg, name);
	if (!p) {
		p = pool_new(pd, name, &s, now);
		log_info("pools file: created pool %s", name);
	} else {
		pool_settings_clear(&p->set);
		p->set = s;
		pool_settings_init(&s);
	}
	pool_settings_clear(&s);
	p->declared = true;
	if (state && strcmp(state, "draining") == 0 && !p->draining)
		op_pool_start_drain(p);
	else if (state && strcmp(state, "active") == 0)
		p->draining = false;
	pool_save(p);
	wait_kick(p, now);
}

void poolfile_apply(struct poold *pd, json_t *pools, double now)
{
	struct pool *p;
	size_t i, n;
	json_t *o, *listed = json_object();
	struct pool **all;

	json_array_foreach(pools, i, o) {
		apply_entry(pd, o, now);
		json_object_set_new(listed, json_string_value(
			json_object_get(o, "pool")), json_true());
	}
	all = op_pools_sorted(pd, &n);
	for (i = 0; i < n; i++) {
		p = all[i];
		if (!p->declared || json_object_get(listed, p->name))
			continue;
		log_info("pools file: pool %s is no longer listed: draining it",
			 p->name);
		p->declared = false;
		if (!p->draining)
			op_pool_start_drain(p);
		else
			pool_save(p);
	}
	free(all);
	json_decref(listed);
}
