/*
 * arena.c - see arena.h.
 */
#include "arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asan.h"

/* A chunk holds the rows of a typical batch many times over. */
#define CHUNK_SIZE (32 * 1024)
#define ALIGN alignof(max_align_t)

struct arena_chunk {
	struct arena_chunk *next;
	size_t cap, used;
	alignas(max_align_t) char data[];
};

void arena_init(struct arena *a)
{
	a->first = a->cur = NULL;
}

void arena_free(struct arena *a)
{
	struct arena_chunk *c, *next;

	for (c = a->first; c; c = next) {
		next = c->next;
		UNPOISON(c->data, c->cap);
		free(c);
	}
	arena_init(a);
}

static struct arena_chunk *chunk_new(size_t min)
{
	size_t cap = min > CHUNK_SIZE ? min : CHUNK_SIZE;
	struct arena_chunk *c = malloc(sizeof *c + cap);

	if (!c)
		abort();
	c->next = NULL;
	c->cap = cap;
	c->used = 0;
	POISON(c->data, cap);
	return c;
}

/* Makes a->cur a chunk with n bytes free: the current one, a kept one
 * after it (emptied at the last reset), or a new one put after it. */
static struct arena_chunk *chunk_with(struct arena *a, size_t n)
{
	struct arena_chunk *c = a->cur;

	if (c && c->cap - c->used >= n)
		return c;
	if (c && c->next && c->next->cap >= n) {
		a->cur = c->next;
		return a->cur;
	}
	c = chunk_new(n);
	if (!a->cur) {
		c->next = a->first;
		a->first = c;
	} else {
		c->next = a->cur->next;
		a->cur->next = c;
	}
	a->cur = c;
	return c;
}

void *arena_alloc(struct arena *a, size_t n)
{
	size_t size = (n + ALIGN - 1) / ALIGN * ALIGN;
	struct arena_chunk *c = chunk_with(a, size ? size : ALIGN);
	char *p = c->data + c->used;

	c->used += size ? size : ALIGN;
	UNPOISON(p, n);
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	size_t n;
	char *p;

	if (!s)
		return NULL;
	n = strlen(s) + 1;
	p = arena_alloc(a, n);
	memcpy(p, s, n);
	return p;
}

char *arena_room(struct arena *a, size_t min, size_t *room)
{
	struct arena_chunk *c = chunk_with(a, min);

	*room = c->cap - c->used;
	UNPOISON(c->data + c->used, *room);
	return c->data + c->used;
}

void arena_take(struct arena *a, size_t n)
{
	struct arena_chunk *c = a->cur;
	size_t size = (n + ALIGN - 1) / ALIGN * ALIGN;

	if (size > c->cap - c->used)
		size = c->cap - c->used; /* n fitted; the padding need not */
	c->used += size;
	POISON(c->data + c->used, c->cap - c->used);
}

void arena_reset(struct arena *a)
{
	struct arena_chunk *c = a->first, *keep = NULL, *next;
	size_t kept = 0;

	a->first = NULL;
	for (; c; c = next) {
		next = c->next;
		/* Oversized chunks (one huge row) are never kept. */
		if (c->cap == CHUNK_SIZE && kept + c->cap <= ARENA_KEEP) {
			c->used = 0;
			POISON(c->data, c->cap);
			kept += c->cap;
			c->next = NULL;
			if (keep)
				keep->next = c;
			else
				a->first = c;
			keep = c;
		} else {
			UNPOISON(c->data, c->cap);
			free(c);
		}
	}
	a->cur = a->first;
}

size_t arena_held(const struct arena *a)
{
	size_t n = 0;

	for (const struct arena_chunk *c = a->first; c; c = c->next)
		n += c->cap;
	return n;
}
