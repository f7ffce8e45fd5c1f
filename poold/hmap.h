/*
 * hmap.h - a string-keyed hash map of pointers (open addressing, linear
 * probing, backward-shift deletion). Keys are borrowed: each key must live
 * inside the object it maps to, as long as the entry does.
 */
#ifndef POOLD_HMAP_H
#define POOLD_HMAP_H

#include <stddef.h>

struct hmap_slot {
	const char *key;  /* borrowed from the value; NULL = empty slot */
	void *val;
	size_t hash;
};

struct hmap {
	struct hmap_slot *slots; /* owned */
	size_t cap;              /* a power of two, or 0 */
	size_t len;
};

void hmap_init(struct hmap *m);
void hmap_free(struct hmap *m);                 /* frees slots, not values */
void *hmap_get(const struct hmap *m, const char *key);
void hmap_put(struct hmap *m, const char *key, void *val); /* replaces */
void *hmap_del(struct hmap *m, const char *key); /* returns the old value */

/* Iteration: for (size_t i = 0; (v = hmap_next(m, &i)); ) ... ; the map must
 * not change during the walk. */
void *hmap_next(const struct hmap *m, size_t *pos);

#endif
