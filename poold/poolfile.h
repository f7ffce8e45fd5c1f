/*
 * poolfile.h - pools as configuration: `--pools FILE` declares pools at
 * start-up and SIGHUP applies the file again. The file is JSON Lines: one
 * object per pool, {"pool": NAME, ...settings as in pool.create,
 * "state"?: "active"|"draining"}; blank lines and lines starting with # are
 * skipped. A bad file is refused whole, with its line and reason.
 */
#ifndef POOLD_POOLFILE_H
#define POOLD_POOLFILE_H

#include <jansson.h>
#include <stddef.h>

struct poold;

/* Reads and checks the file. Returns a JSON array of pool objects (caller
 * decrefs), or NULL with "FILE:LINE: reason" in err. */
json_t *poolfile_read(const char *path, char *err, size_t errlen);

/* Makes the running pools match the file: new pools are created, declared
 * ones get exactly the file's settings (the rest default), pools declared
 * by an earlier version of the file but no longer listed are drained
 * (never deleted). */
void poolfile_apply(struct poold *pd, json_t *pools, double now);

#endif
