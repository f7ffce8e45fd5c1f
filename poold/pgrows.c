/* pgrows.c - see pgrows.h. */
#include "pgrows.h"

#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "util.h"

static const struct { int ncols, nkey; } shape[PGR_COUNT] = {
	[PGR_POOLS] = { 3, 1 },      /* name, settings, created_at */
	[PGR_RESOURCES] = { 8, 2 },  /* pool, name, state, ... */
	[PGR_LEASES] = { 15, 1 },    /* seq, id, pool, ... */
	[PGR_ORPHANS] = { 6, 1 },    /* id, pool, name, ... */
	[PGR_HISTORY] = { 9, 0 },    /* appended: no key */
};

struct prow {
	char *key;                   /* owned: the key columns, \x1f-joined */
	bool del;                    /* a delete: only the key's columns */
	char *val[PGR_MAX_COLS];     /* owned; NULL = SQL NULL */
};

struct ptable {
	struct prow **v;             /* owned, in the order first seen */
	size_t n, cap;
	struct hmap index;           /* key -> row */
};

struct pgrows {
	struct ptable t[PGR_COUNT];
	size_t bytes;
};

int pgrows_ncols(enum pgr_table t)
{
	return shape[t].ncols;
}

int pgrows_nkey(enum pgr_table t)
{
	return shape[t].nkey;
}

struct pgrows *pgrows_new(void)
{
	struct pgrows *b = xcalloc(1, sizeof *b);

	for (int i = 0; i < PGR_COUNT; i++)
		hmap_init(&b->t[i].index);
	return b;
}

static void row_free_values(struct prow *r)
{
	for (int i = 0; i < PGR_MAX_COLS; i++) {
		free(r->val[i]);
		r->val[i] = NULL;
	}
}

void pgrows_clear(struct pgrows *b)
{
	for (int i = 0; i < PGR_COUNT; i++) {
		struct ptable *t = &b->t[i];

		for (size_t k = 0; k < t->n; k++) {
			row_free_values(t->v[k]);
			free(t->v[k]->key);
			free(t->v[k]);
		}
		t->n = 0;
		hmap_free(&t->index);
	}
	b->bytes = 0;
}

void pgrows_free(struct pgrows *b)
{
	if (!b)
		return;
	pgrows_clear(b);
	for (int i = 0; i < PGR_COUNT; i++)
		free(b->t[i].v);
	free(b);
}

size_t pgrows_bytes(const struct pgrows *b)
{
	return b->bytes;
}

static char *join_key(const char *const *vals, int nkey)
{
	size_t len = 1;
	char *key, *p;

	for (int i = 0; i < nkey; i++)
		len += strlen(vals[i] ? vals[i] : "") + 1;
	key = p = xcalloc(1, len);
	for (int i = 0; i < nkey; i++) {
		size_t n = strlen(vals[i] ? vals[i] : "");

		memcpy(p, vals[i] ? vals[i] : "", n);
		p += n;
		if (i + 1 < nkey)
			*p++ = '\x1f';
	}
	return key;
}

/* The row of this key (a new one at the end if none). */
static struct prow *row_for(struct pgrows *b, enum pgr_table tb,
			    const char *const *vals)
{
	struct ptable *t = &b->t[tb];
	char *key = shape[tb].nkey ? join_key(vals, shape[tb].nkey) : NULL;
	struct prow *r = key ? hmap_get(&t->index, key) : NULL;

	if (r) {
		free(key);
		row_free_values(r);
		return r;
	}
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 64;
		t->v = realloc(t->v, t->cap * sizeof *t->v);
		if (!t->v)
			abort();
	}
	r = xcalloc(1, sizeof *r);
	r->key = key;
	if (key)
		hmap_put(&t->index, key, r);
	t->v[t->n++] = r;
	return r;
}

static void fill(struct pgrows *b, struct prow *r, const char *const *vals,
		 int n)
{
	for (int i = 0; i < n; i++) {
		r->val[i] = vals[i] ? xstrdup(vals[i]) : NULL;
		b->bytes += vals[i] ? strlen(vals[i]) + 4 : 5;
	}
}

void pgrows_put(struct pgrows *b, enum pgr_table t, const char *const *vals)
{
	struct prow *r = row_for(b, t, vals);

	r->del = false;
	fill(b, r, vals, shape[t].ncols);
}

void pgrows_del(struct pgrows *b, enum pgr_table t, const char *const *key)
{
	struct prow *r = row_for(b, t, key);

	r->del = true;
	fill(b, r, key, shape[t].nkey);
}

/* ---- array literals ---------------------------------------------------- */

struct sbuf {
	char *s;
	size_t len, cap;
};

static void sb_add(struct sbuf *sb, const char *p, size_t n)
{
	if (sb->len + n + 1 > sb->cap) {
		sb->cap = (sb->len + n + 1) * 2;
		sb->s = realloc(sb->s, sb->cap);
		if (!sb->s)
			abort();
	}
	memcpy(sb->s + sb->len, p, n);
	sb->len += n;
	sb->s[sb->len] = '\0';
}

/* One element of an array literal: NULL, or "..." with \ and " escaped. */
static void sb_element(struct sbuf *sb, const char *v)
{
	const char *p;

	sb_add(sb, sb->len > 1 ? "," : "", sb->len > 1 ? 1 : 0);
	if (!v) {
		sb_add(sb, "NULL", 4);
		return;
	}
	sb_add(sb, "\"", 1);
	while ((p = strpbrk(v, "\\\""))) {
		sb_add(sb, v, (size_t)(p - v));
		sb_add(sb, "\\", 1);
		sb_add(sb, p, 1);
		v = p + 1;
	}
	sb_add(sb, v, strlen(v));
	sb_add(sb, "\"", 1);
}

/* Emits the rows of t whose del is del, if any. */
static void emit_set(struct ptable *t, enum pgr_table tb, bool del,
		     pgrows_emit_fn emit, void *arg)
{
	int ncols = del ? shape[tb].nkey : shape[tb].ncols;
	struct sbuf cols[PGR_MAX_COLS];
	const char *arrays[PGR_MAX_COLS];
	size_t rows = 0;

	memset(cols, 0, sizeof cols);
	for (int c = 0; c < ncols; c++)
		sb_add(&cols[c], "{", 1);
	for (size_t k = 0; k < t->n; k++) {
		if (t->v[k]->del != del)
			continue;
		rows++;
		for (int c = 0; c < ncols; c++)
			sb_element(&cols[c], t->v[k]->val[c]);
	}
	for (int c = 0; c < ncols; c++) {
		sb_add(&cols[c], "}", 1);
		arrays[c] = cols[c].s;
	}
	if (rows > 0)
		emit(arg, tb, del, ncols, arrays);
	for (int c = 0; c < ncols; c++)
		free(cols[c].s);
}

void pgrows_flush(struct pgrows *b, pgrows_emit_fn emit, void *arg)
{
	for (int i = 0; i < PGR_COUNT; i++) {
		if (b->t[i].n == 0)
			continue;
		if (shape[i].nkey)
			emit_set(&b->t[i], (enum pgr_table)i, true, emit, arg);
		emit_set(&b->t[i], (enum pgr_table)i, false, emit, arg);
	}
	pgrows_clear(b);
}
