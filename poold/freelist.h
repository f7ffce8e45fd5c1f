/*
 * freelist.h - spare objects of one size kept for reuse, so that the
 * request path (a struct req and a struct reply per request) makes no
 * malloc at steady state. Bounded: at most max spares are kept, the owner
 * frees the rest. Under AddressSanitizer the list keeps nothing (every
 * get is a malloc, the owner frees every object), so a use after free is
 * still caught.
 */
#ifndef POOLD_FREELIST_H
#define POOLD_FREELIST_H

#include <stdbool.h>
#include <stddef.h>

struct freelist {
	size_t size;              /* of each object, >= sizeof(void *) */
	size_t max;               /* spares kept at most */
	size_t n;                 /* spares now */
	void *head;               /* each spare's first bytes link the next */
};

#define FREELIST_INIT(type, maxspare) { sizeof(type), (maxspare), 0, NULL }

/* An object of fl->size bytes: a new one zeroed, a spare as it was kept
 * but for its first sizeof(void *) bytes (the link). Aborts when memory is
 * out. */
void *freelist_get(struct freelist *fl);
/* Keeps p as a spare. false: the list is full (or bypassed), and the
 * caller frees p and whatever it owns. */
bool freelist_keep(struct freelist *fl, void *p);

#endif
