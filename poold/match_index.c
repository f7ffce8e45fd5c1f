/* match_index.c - see match_index.h. */
#include "match_index.h"

#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "hmap.h"
#include "pool.h"
#include "util.h"

struct mnode {
	struct resource *r;
	struct mbucket *b;
	TAILQ_ENTRY(mnode) link;  /* in b->list, in free-list order */
};

struct mbucket {
	char *value;              /* owned; the key in mkey->values */
	TAILQ_HEAD(mbucket_list, mnode) list;
	size_t n;
};

struct mkey {
	char *name;               /* owned; the key in index->keys */
	struct hmap values;       /* value text -> struct mbucket */
	struct hmap nodes;        /* resource name -> its struct mnode */
	double used;              /* monotonic time of the last lookup */
};

struct match_index {
	struct hmap keys;         /* key name -> struct mkey */
};

/* The canonical text of an indexable value, malloc'd, or NULL. */
static char *value_text(json_t *v)
{
	char *s;

	if (!json_is_string(v) && !json_is_integer(v) && !json_is_boolean(v) &&
	    !json_is_null(v))
		return NULL; /* reals, arrays, objects: json_equal is subtler */
	s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	if (!s)
		abort();
	return s;
}

static void node_add(struct mkey *k, struct resource *r, json_t *d)
{
	char *text = value_text(json_object_get(d, k->name));
	struct mbucket *b;
	struct mnode *n;

	if (!text)
		return;
	b = hmap_get(&k->values, text);
	if (b) {
		free(text);
	} else {
		b = xcalloc(1, sizeof *b);
		b->value = text;
		TAILQ_INIT(&b->list);
		hmap_put(&k->values, b->value, b);
	}
	n = xcalloc(1, sizeof *n);
	n->r = r;
	n->b = b;
	TAILQ_INSERT_TAIL(&b->list, n, link);
	b->n++;
	hmap_put(&k->nodes, r->name, n);
}

static void node_remove(struct mkey *k, const struct resource *r)
{
	struct mnode *n = hmap_del(&k->nodes, r->name);
	struct mbucket *b;

	if (!n)
		return;
	b = n->b;
	TAILQ_REMOVE(&b->list, n, link);
	free(n);
	if (--b->n == 0) {
		hmap_del(&k->values, b->value);
		free(b->value);
		free(b);
	}
}

void mindex_enter(struct resource *r)
{
	struct match_index *ix = r->pool->mindex;
	struct mkey *k;
	size_t pos = 0;
	json_t *d;

	if (!ix || ix->keys.len == 0)
		return;
	d = resource_descriptor(r);
	while ((k = hmap_next(&ix->keys, &pos)))
		node_add(k, r, d);
	json_decref(d);
}

void mindex_leave(struct resource *r)
{
	struct match_index *ix = r->pool->mindex;
	struct mkey *k;
	size_t pos = 0;

	if (!ix)
		return;
	while ((k = hmap_next(&ix->keys, &pos)))
		node_remove(k, r);
}

static void key_free(struct mkey *k)
{
	struct mbucket *b;
	size_t pos = 0;

	while ((b = hmap_next(&k->values, &pos))) {
		struct mnode *n;

		while ((n = TAILQ_FIRST(&b->list))) {
			TAILQ_REMOVE(&b->list, n, link);
			free(n);
		}
		free(b->value);
		free(b);
	}
	hmap_free(&k->values);
	hmap_free(&k->nodes);
	free(k->name);
	free(k);
}

/* Drops keys unused for MINDEX_IDLE, and the least recently used one if
 * a new key would pass MINDEX_KEYS. */
static void key_trim(struct match_index *ix, double now, bool room)
{
	struct mkey *k, *oldest;
	size_t pos;

	do {
		oldest = NULL;
		pos = 0;
		/* A key used at now serves the lookup under way: it stays. */
		while ((k = hmap_next(&ix->keys, &pos)))
			if (k->used < now && (!oldest || k->used < oldest->used))
				oldest = k;
		if (!oldest || (oldest->used > now - MINDEX_IDLE &&
				!(room && ix->keys.len >= MINDEX_KEYS)))
			return;
		hmap_del(&ix->keys, oldest->name);
		key_free(oldest);
	} while (true);
}

/* The key's index, built on first use from the free list, in its order. */
static struct mkey *key_get(struct pool *p, const char *name, double now)
{
	struct match_index *ix = p->mindex;
	struct resource *r;
	struct mkey *k;

	if (!ix)
		ix = p->mindex = xcalloc(1, sizeof *ix);
	k = hmap_get(&ix->keys, name);
	if (k) {
		k->used = now;
		return k;
	}
	key_trim(ix, now, true);
	k = xcalloc(1, sizeof *k);
	k->name = xstrdup(name);
	k->used = now;
	TAILQ_FOREACH(r, &p->lists[RS_FREE], link) {
		json_t *d = resource_descriptor(r);

		node_add(k, r, d);
		json_decref(d);
	}
	hmap_put(&ix->keys, k->name, k);
	return k;
}

struct resource *mindex_take(struct pool *p, json_t *match, bool lifo,
			     bool *used)
{
	struct mbucket *best = NULL;
	double now = now_mono();
	const char *key;
	struct mnode *n;
	json_t *v;

	*used = false;
	if (json_object_size(match) == 0 ||
	    json_object_size(match) > MINDEX_KEYS)
		return NULL;
	json_object_foreach(match, key, v)
		if (!json_is_string(v) && !json_is_integer(v) &&
		    !json_is_boolean(v) && !json_is_null(v))
			return NULL;
	*used = true;
	if (p->mindex)
		key_trim(p->mindex, now, false);
	json_object_foreach(match, key, v) {
		struct mkey *k = key_get(p, key, now);
		char *text = value_text(v);
		struct mbucket *b = hmap_get(&k->values, text);

		free(text);
		if (!b)
			return NULL; /* no free resource has this pair */
		if (!best || b->n < best->n)
			best = b;
	}
	if (lifo) {
		for (n = TAILQ_LAST(&best->list, mbucket_list); n;
		     n = TAILQ_PREV(n, mbucket_list, link))
			if (descriptor_matches(n->r, match))
				return n->r;
	} else {
		TAILQ_FOREACH(n, &best->list, link)
			if (descriptor_matches(n->r, match))
				return n->r;
	}
	return NULL;
}

void mindex_free(struct pool *p)
{
	struct match_index *ix = p->mindex;
	struct mkey *k;
	size_t pos = 0;

	if (!ix)
		return;
	while ((k = hmap_next(&ix->keys, &pos)))
		key_free(k);
	hmap_free(&ix->keys);
	free(ix);
	p->mindex = NULL;
}
