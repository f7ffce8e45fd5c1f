/*
 * provision.h - the lifecycle commands of resources: a pool's create
 * command (create-on-empty and warm-up), reset (every returned resource is
 * cleaning until it succeeds; failure discards it) and destroy (the resource
 * is destroying until it succeeds; failure is retried with backoff). At most
 * one command runs per resource; each is tracked by the resource's name, so
 * a resource removed meanwhile simply makes its command's result moot.
 */
#ifndef POOLD_PROVISION_H
#define POOLD_PROVISION_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct poold;
struct pool;
struct resource;

/* True if p creates with a command and fewer than max_concurrent run. */
bool provision_can_create(const struct pool *p);
/* Adds a creating resource and starts the create command for it; when it
 * ends, wait_create_done() is told. */
struct resource *provision_create(struct pool *p, double now);
/* Starts reset commands for cleaning resources, within max_concurrent. */
void provision_pump(struct pool *p);
/* Takes the resource out of the pool for good (no lease may hold it): with
 * a destroy command it is destroying until the command succeeds, without
 * one it is deleted at once. */
void resource_destroy(struct resource *r);
/* Starts (once) the destroy command of a destroying resource when a slot
 * is free; otherwise provision_destroy_pump() starts it later. */
void provision_destroy(struct resource *r);
/* Starts waiting destroys (orphans first, then each pool's) within the
 * pools' destroy max_concurrent and --max-destroys in all; after a destroy
 * ends, and at every janitor tick. */
void provision_destroy_pump(struct poold *pd);
/* Stops whatever command runs on r (it is being removed). */
void provision_cancel(struct resource *r);
/* r is leaving its pool at once (pool.delete or resource.remove with
 * force): whatever runs on it stops, and its destroy command, if the pool
 * has one, runs in the background without it. */
void provision_orphan(struct resource *r);
/* The same, for one kept in the store (at start-up, or just saved). */
void provision_orphan_resume(struct poold *pd, int64_t id, const char *pool,
			     const char *name, const char *descriptor,
			     json_t *cmd);
/* Running creates and resets of p, and destroys failing and retried. */
int provision_running(const struct pool *p, const char *kind);
void provision_stop_all(struct poold *pd);
/* After a load (start-up, or a reload after a failed commit): resources
 * left creating or destroying without their command are destroyed (again),
 * cleaning ones are reset again. when ("when poold stopped") is logged. */
void provision_repair(struct pool *p, const char *when);
/* A commit failed: commands it asked for, not started yet, are dropped
 * (a request waiting for a create is told). */
void provision_abort_pending(struct poold *pd);

#endif
