/*
 * arena.h - bump allocation in chunks that are kept between uses: the
 * journal's rows, events and their strings live here from the change that
 * reports them to the commit that writes them, and the arena is reset when
 * the batch is gone. At steady state a batch costs no malloc. Chunks beyond
 * the high-water mark are given back at a reset, so one huge batch does not
 * pin its memory. Under AddressSanitizer the free part is poisoned: a read
 * of a row dropped by a reset is reported.
 */
#ifndef POOLD_ARENA_H
#define POOLD_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *first;  /* owned, a list */
	struct arena_chunk *cur;    /* where allocation goes on */
};

/* Bytes of chunks kept at a reset; the rest are freed. */
#define ARENA_KEEP (256 * 1024)

void arena_init(struct arena *a);
void arena_free(struct arena *a);
/* n bytes aligned for any type, valid until the next reset. */
void *arena_alloc(struct arena *a, size_t n);
/* A copy of s (NULL gives NULL). */
char *arena_strdup(struct arena *a, const char *s);
/* The free room of the current chunk, at least min bytes, for a writer
 * that does not know its length in advance (snprintf); arena_take() then
 * keeps the n bytes written at its start. *room is set to its size. */
char *arena_room(struct arena *a, size_t min, size_t *room);
void arena_take(struct arena *a, size_t n);
/* Everything allocated is gone; kept chunks are reused. */
void arena_reset(struct arena *a);
/* Bytes held in chunks (for tests). */
size_t arena_held(const struct arena *a);

#endif
