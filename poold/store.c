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

/* Replaces the n bytes at p in *s by "***". */
static void mask(char **s, size_t at, size_t n)
{
	size_t len = strlen(*s);
	char *out = malloc(len - n + 4);

	if (!out)
		abort();
	memcpy(out, *s, at);
	memcpy(out + at, "***", 3);
	memcpy(out + at + 3, *s + at + n, len - at - n + 1);
	free(*s);
	*s = out;
}

char *store_redact(const char *url)
{
	char *s = strdup(url), *auth, *at, *colon, *pw;

	if (!s)
		abort();
	auth = strstr(s, "://");
	at = auth ? strchr(auth + 3, '@') : NULL;
	colon = at ? memchr(auth + 3, ':', (size_t)(at - auth - 3)) : NULL;
	if (colon)
		mask(&s, (size_t)(colon + 1 - s), (size_t)(at - colon - 1));
	if ((pw = strstr(s, "password=")))
		mask(&s, (size_t)(pw + 9 - s), strcspn(pw + 9, "& "));
	return s;
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
