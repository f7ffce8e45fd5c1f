/*
 * sqlite-mem.c - see sqlite-mem.h. Blocks of up to 4 KiB are rounded up
 * to a power of two and, when freed, kept on a list per size (at most
 * KEEP each, so memory SQLite gave back goes back to libc beyond that).
 * Larger ones, up to 256 KiB, are kept too, a few of them: a B-tree page
 * split takes a 64 KiB scratch buffer and gives it back at once, which on
 * a busy pool is every few commits. Under AddressSanitizer a kept block
 * is poisoned, so a use after free inside SQLite is still reported.
 */
#include "sqlite-mem.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asan.h"

#define MIN_SHIFT 6         /* 64 bytes */
#define NCLASS 7            /* 64 .. 4096 */
#define KEEP 64
#define KEEP_LARGE 4
#define LARGE_MAX (256 * 1024)

/* 16 bytes: the payload after it keeps malloc's alignment. */
struct block {
	struct block *next;  /* on its free list */
	uint32_t cls;        /* size class, or NCLASS: a large block */
	uint32_t size;       /* usable bytes */
};

static struct {
	pthread_mutex_t lock;  /* SQLite may be used from other threads */
	struct block *free[NCLASS];
	int nfree[NCLASS];
	struct block *large[KEEP_LARGE]; /* kept blocks over 4 KiB */
	int nlarge;
} mem = { .lock = PTHREAD_MUTEX_INITIALIZER };

static unsigned class_of(int n)
{
	unsigned c = 0;

	while (c < NCLASS && (1 << (c + MIN_SHIFT)) < n)
		c++;
	return c;
}

/* A kept large block of n bytes or somewhat more, or NULL; locked. */
static struct block *take_large(uint32_t n)
{
	for (int i = 0; i < mem.nlarge; i++) {
		struct block *b = mem.large[i];

		if (b->size >= n && b->size / 2 <= n) {
			mem.large[i] = mem.large[--mem.nlarge];
			return b;
		}
	}
	return NULL;
}

static void *mem_malloc(int n)
{
	unsigned c = class_of(n);
	uint32_t size = c < NCLASS ? 1u << (c + MIN_SHIFT) : (uint32_t)n;
	struct block *b = NULL;

	pthread_mutex_lock(&mem.lock);
	if (c < NCLASS) {
		b = mem.free[c];
		if (b) {
			mem.free[c] = b->next;
			mem.nfree[c]--;
		}
	} else {
		b = take_large(size);
	}
	pthread_mutex_unlock(&mem.lock);
	if (b) {
		UNPOISON(b + 1, b->size);
		return b + 1;
	}
	b = malloc(sizeof *b + size);
	if (!b)
		return NULL;
	b->cls = c;
	b->size = size;
	return b + 1;
}

static void mem_free(void *p)
{
	struct block *b = (struct block *)p - 1;
	unsigned c = b->cls;

	pthread_mutex_lock(&mem.lock);
	if (c < NCLASS && mem.nfree[c] < KEEP) {
		POISON(p, b->size);
		b->next = mem.free[c];
		mem.free[c] = b;
		mem.nfree[c]++;
		b = NULL;
	} else if (c == NCLASS && b->size <= LARGE_MAX &&
		   mem.nlarge < KEEP_LARGE) {
		POISON(p, b->size);
		mem.large[mem.nlarge++] = b;
		b = NULL;
	}
	pthread_mutex_unlock(&mem.lock);
	free(b);
}

static int mem_size(void *p)
{
	return (int)((struct block *)p - 1)->size;
}

static void *mem_realloc(void *p, int n)
{
	void *q;

	if (n <= mem_size(p) && class_of(n) == ((struct block *)p - 1)->cls)
		return p;
	q = mem_malloc(n);
	if (q) {
		memcpy(q, p, (size_t)(n < mem_size(p) ? n : mem_size(p)));
		mem_free(p);
	}
	return q;
}

static int mem_roundup(int n)
{
	unsigned c = class_of(n);

	return c < NCLASS ? 1 << (c + MIN_SHIFT) : (n + 7) & ~7;
}

static int mem_init(void *arg)
{
	(void)arg;
	return SQLITE_OK;
}

static void mem_shutdown(void *arg)
{
	(void)arg;
	for (unsigned c = 0; c < NCLASS; c++) {
		while (mem.free[c]) {
			struct block *b = mem.free[c];

			mem.free[c] = b->next;
			free(b);
		}
		mem.nfree[c] = 0;
	}
	while (mem.nlarge > 0)
		free(mem.large[--mem.nlarge]);
}

void sqlite_mem_install(void)
{
	static const sqlite3_mem_methods methods = {
		mem_malloc, mem_free, mem_realloc, mem_size, mem_roundup,
		mem_init, mem_shutdown, NULL,
	};

	/* SQLITE_MISUSE once SQLite is initialized: it keeps its own. */
	sqlite3_config(SQLITE_CONFIG_MALLOC, &methods);
}
