/*
 * pgrows.h - a batch's rows for the PostgreSQL store, held until they are
 * written with one statement per table and kind (INSERT ... SELECT FROM
 * unnest(arrays) / DELETE ... WHERE key IN unnest(arrays)) instead of one
 * statement per row: PostgreSQL's cost is per statement far more than per
 * row, and a batch of 64 leases touches three tables 64 times.
 *
 * Rows of a keyed table are kept by key, the last change winning (a put
 * replaces an earlier put or delete of the same key, a delete an earlier
 * put), so that one statement never touches a row twice; since the tables
 * have no foreign keys, the order between tables does not matter. History
 * rows are appended, in order. The values are text as PostgreSQL reads
 * them (NULL = SQL NULL); flushing turns each column into an array literal.
 */
#ifndef POOLD_PGROWS_H
#define POOLD_PGROWS_H

#include <stdbool.h>
#include <stddef.h>

enum pgr_table { PGR_POOLS, PGR_RESOURCES, PGR_LEASES, PGR_ORPHANS,
		 PGR_HISTORY, PGR_COUNT };

#define PGR_MAX_COLS 16

struct pgrows;

struct pgrows *pgrows_new(void);
void pgrows_free(struct pgrows *b);

/* The columns of a table's put (the key's come first), and of its key. */
int pgrows_ncols(enum pgr_table t);
int pgrows_nkey(enum pgr_table t);

/* A row to write (all the table's columns), or a key to delete (not for
 * history). The values are copied. */
void pgrows_put(struct pgrows *b, enum pgr_table t, const char *const *vals);
void pgrows_del(struct pgrows *b, enum pgr_table t, const char *const *key);

/* Bytes held (to flush before a batch grows without bound). */
size_t pgrows_bytes(const struct pgrows *b);

/* Calls emit for each non-empty set, puts and deletes of a table, with
 * one array literal per column (ncols for a put, nkey for a delete), then
 * forgets them all. */
typedef void (*pgrows_emit_fn)(void *arg, enum pgr_table t, bool del, int n,
			       const char *const *arrays);
void pgrows_flush(struct pgrows *b, pgrows_emit_fn emit, void *arg);
/* Forgets every row (a rollback). */
void pgrows_clear(struct pgrows *b);

#endif
