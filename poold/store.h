/*
 * store.h - the only module that talks to SQLite. It opens and migrates the
 * database, writes every change into one open transaction (begun on the first
 * write), commits it when the reply batch is flushed, and loads the whole
 * state at start-up.
 *
 * Errors on writes are sticky: the first failure is remembered, later writes
 * are skipped, and store_commit() fails so that the whole batch fails.
 */
#ifndef POOLD_STORE_H
#define POOLD_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct pool;
struct resource;
struct lease;
struct poold;

/* Opens (creating if needed) and migrates the database. NULL with a message
 * in err on failure. */
struct store *store_open(const char *path, bool sync_full,
			 int64_t max_bytes, char *err, size_t errlen);
void store_close(struct store *st);

/* The schema version the migrations in schema/ lead to. */
int store_schema_version(void);

void store_pool_put(struct store *st, const struct pool *p);
void store_pool_delete(struct store *st, const char *name);
void store_resource_put(struct store *st, const struct resource *r);
void store_resource_delete(struct store *st, const struct resource *r);
void store_lease_put(struct store *st, const struct lease *l);
void store_lease_delete(struct store *st, const struct lease *l);
void store_leases_purge_expired(struct store *st, double before);
void store_token_put(struct store *st, int64_t next_token);

/* Destroy commands whose resource is gone (pool.delete with force). */
void store_orphan_put(struct store *st, int64_t id, const char *pool,
		      const char *name, const char *descriptor, json_t *destroy,
		      double since);
void store_orphan_delete(struct store *st, int64_t id);
/* At start-up: resumes every orphan's destroy (provision_orphan_resume). */
int store_load_orphans(struct store *st, struct poold *pd, char *err,
		       size_t errlen);

bool store_in_tx(const struct store *st);
/* Copies the WAL back into the database file (never inside a batch). */
void store_checkpoint(struct store *st);
/* Commits the open transaction (if any). 0, or -1 with a message in err; the
 * transaction is then rolled back and the database is as before it. */
int store_commit(struct store *st, char *err, size_t errlen);

/* Loads pools, resources, leases and the token counter into pd (which must
 * hold no pools). 0, or -1 with a message in err. */
int store_load(struct store *st, struct poold *pd, char *err, size_t errlen);

/* Pages for resource.list and lease.list, in name / grant order. Fills
 * names (caller frees each and the array) or seqs; returns the count, or -1
 * on error. state may be NULL, pool may be NULL for leases. */
int store_resource_page(struct store *st, const char *pool, const char *state,
			const char *after, int limit, char ***names);
int store_lease_page(struct store *st, const char *pool, int64_t after,
		     int limit, char ***ids);
void store_page_free(char **page, int n);

#endif
