/*
 * match_index.h - per pool, an index from the (key, value) pairs that its
 * checkouts' matches actually use to the free resources that have them, in
 * free-list order, so that a match costs O(1) in the pool's size instead of
 * a scan of the free list. A key is indexed on its first use (one pass over
 * the free resources), at most MINDEX_KEYS keys per pool (the least recently
 * used one goes), and a key unused for MINDEX_IDLE seconds is dropped. Only
 * scalar values (strings, integers, booleans, null) are indexed: a match on
 * a real, an array or an object scans as before.
 *
 * Memory: per indexed key, one node per free resource that has the key
 * (about 80 bytes with its map slot) and one bucket per distinct value
 * (about 100 bytes plus the value's text).
 */
#ifndef POOLD_MATCH_INDEX_H
#define POOLD_MATCH_INDEX_H

#include <jansson.h>
#include <stdbool.h>

struct pool;
struct resource;

#define MINDEX_KEYS 8
#define MINDEX_IDLE 600.0

/* r has become free (or was changed while free): into every indexed key. */
void mindex_enter(struct resource *r);
/* r is no longer free (or is about to change or go): out of them all. */
void mindex_leave(struct resource *r);
/* The first free resource in pool order (lifo: the last) that fits match,
 * or NULL; *used is false when the index does not apply (then scan). */
struct resource *mindex_take(struct pool *p, json_t *match, bool lifo,
			     bool *used);
void mindex_free(struct pool *p);

#endif
