/* hmap.c - see hmap.h. Loads stay under 3/4 so probe runs remain short. */
#include "hmap.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

static size_t hash_str(const char *s)
{
	size_t h = 1469598103934665603ULL; /* FNV-1a */

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

void hmap_init(struct hmap *m)
{
	memset(m, 0, sizeof *m);
}

void hmap_free(struct hmap *m)
{
	free(m->slots);
	hmap_init(m);
}

static struct hmap_slot *find(const struct hmap *m, const char *key, size_t h)
{
	if (m->cap == 0)
		return NULL;
	for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		struct hmap_slot *s = &m->slots[i];

		if (!s->key)
			return NULL;
		if (s->hash == h && strcmp(s->key, key) == 0)
			return s;
	}
}

void *hmap_get(const struct hmap *m, const char *key)
{
	struct hmap_slot *s = find(m, key, hash_str(key));

	return s ? s->val : NULL;
}

static void insert_slot(struct hmap *m, struct hmap_slot in)
{
	size_t i = in.hash & (m->cap - 1);

	while (m->slots[i].key)
		i = (i + 1) & (m->cap - 1);
	m->slots[i] = in;
}

static void grow(struct hmap *m)
{
	struct hmap old = *m;

	m->cap = old.cap ? old.cap * 2 : 16;
	m->slots = xcalloc(m->cap, sizeof *m->slots);
	for (size_t i = 0; i < old.cap; i++)
		if (old.slots[i].key)
			insert_slot(m, old.slots[i]);
	free(old.slots);
}

void hmap_put(struct hmap *m, const char *key, void *val)
{
	size_t h = hash_str(key);
	struct hmap_slot *s = find(m, key, h);

	if (s) {
		s->key = key;
		s->val = val;
		return;
	}
	if ((m->len + 1) * 4 > m->cap * 3)
		grow(m);
	insert_slot(m, (struct hmap_slot){ key, val, h });
	m->len++;
}

void *hmap_del(struct hmap *m, const char *key)
{
	struct hmap_slot *s = find(m, key, hash_str(key));
	size_t mask = m->cap - 1, i, j;
	void *val;

	if (!s)
		return NULL;
	val = s->val;
	i = (size_t)(s - m->slots);
	/* Shift later members of the probe run back so lookups never need
	 * tombstones. */
	for (j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
		size_t home = m->slots[j].hash & mask;

		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i].key = NULL;
	m->len--;
	return val;
}

void *hmap_next(const struct hmap *m, size_t *pos)
{
	while (*pos < m->cap) {
		struct hmap_slot *s = &m->slots[(*pos)++];

		if (s->key)
			return s->val;
	}
	return NULL;
}
