/*
 * malloc_count.c - LD_PRELOAD shim for the benchmark: counts the server's
 * malloc, calloc and realloc calls in a shared 8-byte counter, the file
 * named by POOLBENCH_MALLOC_COUNT (created if missing), which poolbench
 * --malloc-count reads before and after its measured window. The calls go
 * on to glibc's own allocator.
 *
 *   POOLBENCH_MALLOC_COUNT=/tmp/m LD_PRELOAD=.../libmalloc_count.so poold ...
 *   poolbench ... --malloc-count /tmp/m
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);

static uint64_t *counter;

__attribute__((constructor)) static void open_counter(void)
{
	const char *path = getenv("POOLBENCH_MALLOC_COUNT");
	int fd;
	void *m;

	if (!path || (fd = open(path, O_RDWR | O_CREAT, 0600)) < 0)
		return;
	if (ftruncate(fd, sizeof *counter) == 0) {
		m = mmap(NULL, sizeof *counter, PROT_READ | PROT_WRITE,
			 MAP_SHARED, fd, 0);
		if (m != MAP_FAILED)
			counter = m;
	}
	close(fd);
}

static void count(void)
{
	if (counter)
		__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

void *malloc(size_t n)
{
	count();
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	count();
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	count();
	return __libc_realloc(p, n);
}
