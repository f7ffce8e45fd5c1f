/*
 * util.h - small helpers every module needs: wall-clock time and its RFC 3339
 * form, random ids and names, and the name rules of the contract.
 */
#ifndef POOLD_UTIL_H
#define POOLD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Time has two clocks (docs/architecture.md, "Time"): the wall clock for
 * what is stored and shown, the monotonic clock for every deadline while
 * poold runs, so that a step of the wall clock (NTP, an admin's `date`)
 * neither expires nor extends a lease. */
double now_wall(void);       /* seconds since the epoch, UTC */
double now_mono(void);       /* CLOCK_MONOTONIC seconds: deadlines, uptime */
/* The monotonic deadline of a wall-clock time: for stored expiries. */
double mono_deadline(double wall_at);
/* Tests only: from now on both clocks read these values (each call sets
 * them again), so a test can step one clock and not the other. */
void clock_fake(double wall, double mono);
void clock_real(void);       /* back to the system's clocks */

/* Formats t as "2026-11-22T10:04:05.123Z" into buf (at least 32 bytes). */
const char *time_rfc3339(double t, char *buf, size_t len);

/* Fills buf with 2*nbytes lowercase hex chars of kernel randomness + NUL. */
void random_hex(char *buf, size_t nbytes);

/* Fills buf with n random lowercase letters + NUL. */
void random_letters(char *buf, size_t n);

bool name_valid_pool(const char *s);      /* 1-64 of [A-Za-z0-9._-] */
bool name_valid_resource(const char *s);  /* 1-128 of [A-Za-z0-9._:-] */

/* Tells the service manager state ("READY=1", "STOPPING=1") over
 * $NOTIFY_SOCKET (a path, or "@name" for an abstract socket), as
 * sd_notify(3) does; nothing when it is unset. */
void notify_service_manager(const char *state);

char *xstrdup(const char *s);             /* aborts on out of memory */
void *xcalloc(size_t n, size_t size);

#endif
