/* freelist.c - see freelist.h. */
#include "freelist.h"

#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#define FREELIST_BYPASS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FREELIST_BYPASS 1
#endif
#endif
#ifndef FREELIST_BYPASS
#define FREELIST_BYPASS 0
#endif

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
	if (FREELIST_BYPASS || fl->n >= fl->max)
		return false;
	*(void **)p = fl->head;
	fl->head = p;
	fl->n++;
	return true;
}
