/* store.c - see store.h: the backend-neutral entry points. */
#include "store.h"

#include <stdlib.h>

struct store *store_open(const struct store_config *cfg, char *err,
			 size_t errlen)
{
	return store_sqlite_ops.open(cfg, err, errlen);
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
