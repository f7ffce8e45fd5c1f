/* store.c - see store.h: the backend-neutral entry points. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

struct store *store_open(const struct store_config *cfg, char *err,
			 size_t errlen)
{
	struct store_config c = *cfg;

	if (has_prefix(c.path, "postgresql://") ||
	    has_prefix(c.path, "postgres://")) {
#ifdef POOL_HAVE_POSTGRESQL
		return store_pg_ops.open(&c, err, errlen);
#else
		snprintf(err, errlen, "this poold was built without "
			 "PostgreSQL (libpq); use --store sqlite:PATH, or "
			 "build with libpq-dev installed");
		return NULL;
#endif
	}
	if (has_prefix(c.path, "sqlite:"))
		c.path += strlen("sqlite:");
	else if (strstr(c.path, "://")) {
		snprintf(err, errlen, "unknown store \"%s\": use sqlite:PATH or "
			 "postgresql://...", c.path);
		return NULL;
	}
	if (!*c.path) {
		snprintf(err, errlen, "--store sqlite: needs a file name, e.g. "
			 "sqlite:/var/lib/poold/poold.db");
		return NULL;
	}
	return store_sqlite_ops.open(&c, err, errlen);
}

void store_close(struct store *st)
{
	if (st)
		st->ops->close(st);
}

void store_page_free(char **page, int n)
{
	for (int i = 0; i < n; i++)
		free(page[i]);
	free(page);
}
