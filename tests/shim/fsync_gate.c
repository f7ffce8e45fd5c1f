/*
 * fsync_gate.c - LD_PRELOAD shim for test_sync_full: an fsync or fdatasync
 * of a file whose name ends in "-wal" waits while a gate file is missing,
 * POOL_TEST_FSYNC_GATE for those made by the process's main thread (the
 * loop), POOL_TEST_FSYNC_GATE_THREAD for those of other threads, and then
 * counts itself in the file named by POOL_TEST_FSYNC_COUNT (one byte
 * appended per call). So a test can hold poold's WAL fsync open, look at
 * what the daemon does meanwhile, and let it go.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int is_wal(int fd)
{
	char link[64], path[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof path - 1);
	if (n < 4)
		return 0;
	path[n] = '\0';
	return strcmp(path + n - 4, "-wal") == 0;
}

static void gate(int fd)
{
	const char *open_file = getenv(gettid() == getpid() ?
				       "POOL_TEST_FSYNC_GATE" :
				       "POOL_TEST_FSYNC_GATE_THREAD");
	const char *count = getenv("POOL_TEST_FSYNC_COUNT");
	struct timespec ts = { 0, 2000000 };
	int cfd;

	if (!open_file || !is_wal(fd))
		return;
	while (access(open_file, F_OK) != 0)
		nanosleep(&ts, NULL);
	if (count && (cfd = open(count, O_WRONLY | O_APPEND | O_CREAT |
				 O_CLOEXEC, 0600)) >= 0) {
		if (write(cfd, "s", 1) != 1)
			abort();
		close(cfd);
	}
}

int fdatasync(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");

	gate(fd);
	return real(fd);
}

int fsync(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");

	gate(fd);
	return real(fd);
}
