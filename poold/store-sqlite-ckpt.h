/*
 * store-sqlite-ckpt.h - the SQLite store's WAL checkpoints, made by a thread
 * of their own on a connection of their own, so that the loop never waits
 * for the pages they copy or the fsyncs they make.
 */
#ifndef POOLD_STORE_SQLITE_CKPT_H
#define POOLD_STORE_SQLITE_CKPT_H

#include <stddef.h>

struct sq_ckpt;

/* Opens the database at path a second time and starts the thread; NULL with
 * a message in err on failure. */
struct sq_ckpt *sq_ckpt_start(const char *path, char *err, size_t errlen);
/* Asks for a checkpoint (a no-op if one is already asked for) and returns
 * 1 with the message of the last one that failed since the previous call,
 * else 0. Never waits for the checkpoint itself. */
int sq_ckpt_request(struct sq_ckpt *c, char *failure, size_t len);
/* Lets a running checkpoint end, stops the thread, closes its connection. */
void sq_ckpt_stop(struct sq_ckpt *c);

#endif
