/* freelist.c - see freelist.h. */
#include "freelist.h"

#include <stdlib.h>

#include "asan.h"


void *freelist_get(struct freelist *fl)
{
	void *p = fl->head;

	if (p) {
		fl->head = *(void **)p;
		fl->n--;
		return p;
	}
	if (!(p = calloc(1, fl->size)))
		abort();
	return p;
}

bool freelist_keep(struct freelist *fl, void *p)
{
	if (POOL_ASAN || fl->n >= fl->max)
		return false;
	*(void **)p = fl->head;
	fl->head = p;
	fl->n++;
	return true;
}
