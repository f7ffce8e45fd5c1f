/*
 * store-sqlite-sync.h - --sync full without the loop waiting for the disk:
 * commits are made at synchronous NORMAL (written to the WAL, not yet
 * fsynced) and this thread fsyncs the WAL file afterwards; the loop holds
 * the batch's answers, events and commands until the fsync that covers the
 * commit has ended, and meanwhile reads and applies the next requests.
 */
#ifndef POOLD_STORE_SQLITE_SYNC_H
#define POOLD_STORE_SQLITE_SYNC_H

#include <stdbool.h>
#include <stddef.h>

struct sq_sync;

/* Opens the WAL file at wal_path (it must exist: the database is open in
 * WAL mode) and starts the thread; NULL with a message in err. */
struct sq_sync *sq_sync_start(const char *wal_path, char *err,
			      size_t errlen);
/* Readable when an fsync asked for has ended. */
int sq_sync_fd(const struct sq_sync *s);
/* An fsync covering everything written to the WAL so far: in the thread
 * (behind), or here and now (a small batch: handing it to the thread and
 * back costs more than it saves). Either way sq_sync_end() then says it
 * ended. One at a time. */
void sq_sync_ask(struct sq_sync *s, bool behind);
/* Whether the fsync asked for has ended (wait: block until it has): 1 yes,
 * 0 not yet, -1 it failed (a message in err). */
int sq_sync_end(struct sq_sync *s, bool wait, char *err, size_t errlen);
/* Lets an fsync under way end, stops the thread, closes the file. */
void sq_sync_stop(struct sq_sync *s);

#endif
