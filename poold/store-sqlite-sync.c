/*
 * store-sqlite-sync.c - see store-sqlite-sync.h.
 *
 * Why this is as safe as synchronous FULL: in WAL mode FULL differs from
 * NORMAL only in an fsync of the WAL at each commit; checkpoints are synced
 * the same in both. Here that fsync is made by this thread on its own
 * descriptor of the same file, after the commit and before any effect of
 * the commit is let out (reply.c), and it covers every frame written so
 * far. A power loss before it ends loses only commits nobody was told of;
 * SQLite's recovery drops the WAL frames that were not synced whole.
 *
 * Why a thread: an fsync takes milliseconds, and in the loop it stopped
 * every connection for that long at every commit. Now the loop goes on
 * reading and applying requests, which form the next batch (group commit
 * grows with the disk's latency instead of the loop stalling).
 */
#include "store-sqlite-sync.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util.h"
#include "worker.h"

struct sq_sync {
	struct worker w;
	int fd;                /* the WAL file */
	int done_fd;           /* eventfd: one count per ended fsync */
	int error;             /* errno of the fsync that ended, or 0; under
				* the worker's lock */
};

static void sync_wal(void *arg)
{
	struct sq_sync *s = arg;
	uint64_t one = 1;
	int rc = fdatasync(s->fd) < 0 ? errno : 0;

	worker_lock(&s->w);
	s->error = rc;
	worker_unlock(&s->w);
	/* An eventfd write of 1 cannot fail short of a bad descriptor. */
	if (write(s->done_fd, &one, sizeof one) < 0)
		abort();
}

struct sq_sync *sq_sync_start(const char *wal_path, char *err,
			      size_t errlen)
{
	struct sq_sync *s = xcalloc(1, sizeof *s);

	s->fd = open(wal_path, O_RDONLY | O_CLOEXEC);
	s->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->fd < 0 || s->done_fd < 0) {
		snprintf(err, errlen, "cannot open %s to fsync it: %s",
			 wal_path, strerror(errno));
		goto fail;
	}
	if (worker_start(&s->w, sync_wal, s) < 0) {
		snprintf(err, errlen, "cannot start the fsync thread for %s",
			 wal_path);
		goto fail;
	}
	return s;
fail:
	if (s->fd >= 0)
		close(s->fd);
	if (s->done_fd >= 0)
		close(s->done_fd);
	free(s);
	return NULL;
}

int sq_sync_fd(const struct sq_sync *s)
{
	return s->done_fd;
}

void sq_sync_ask(struct sq_sync *s, bool behind)
{
	if (behind)
		worker_ask(&s->w);
	else
		sync_wal(s);
}

int sq_sync_end(struct sq_sync *s, bool wait, char *err, size_t errlen)
{
	struct pollfd p = { .fd = s->done_fd, .events = POLLIN };
	uint64_t n;
	int error;

	while (read(s->done_fd, &n, sizeof n) < 0) {
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || !wait)
			return 0;
		poll(&p, 1, -1);
	}
	worker_lock(&s->w);
	error = s->error;
	worker_unlock(&s->w);
	if (error == 0)
		return 1;
	snprintf(err, errlen, "fsync of the WAL failed: %s", strerror(error));
	return -1;
}

void sq_sync_stop(struct sq_sync *s)
{
	if (!s)
		return;
	worker_stop(&s->w);
	close(s->fd);
	close(s->done_fd);
	free(s);
}
