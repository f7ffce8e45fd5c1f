/*
 * h_lock.h - a second process holding SQLite's write lock on a daemon's
 * database, for the black-box tests of what poold does meanwhile.
 */
#ifndef FUNC_H_LOCK_H
#define FUNC_H_LOCK_H

#include <sys/types.h>

/* Forks a child that opens db, runs BEGIN IMMEDIATE, holds the lock for
 * hold seconds and rolls back. Returns (the child's pid) once the lock is
 * held; reap it with h_wait_child, or kill it first to end the hold early. */
pid_t h_hold_write_lock(const char *db, double hold);

#endif
