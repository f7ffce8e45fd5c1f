/*
 * leader.h - which of the front ends sharing one database is active.
 *
 * With a store that has leadership (PostgreSQL), a front end claims the
 * store's leader row at start. The winner (the leader) loads the state and
 * serves; the others (standbys) hold no state, answer ping, hello and
 * status, and refuse every other op with not_leader and the leader's
 * advertised address. A timer renews the claim (leader) or tries to take
 * it over (standby) once the leader has not renewed for a while; the new
 * leader loads the state and runs the recovery of a restart. A leader that
 * cannot renew steps down at once. Every batch's transaction is fenced by
 * the epoch of the claim in the store, so a deposed leader never commits.
 * With SQLite the front end is always the leader (the file's lock keeps
 * any other daemon out). See docs/ha.md.
 */
#ifndef POOLD_LEADER_H
#define POOLD_LEADER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct poold;
struct req;
struct op;

/* After the store is open: claims leadership where the store has it, and
 * loads the state (with recovery) if this front end leads. 0, or -1 with
 * err set. */
int leader_open(struct poold *pd, char *err, size_t errlen);
/* Once the daemon serves: calls promoted(pd, false) now if this front end
 * leads, and promoted(pd, true) whenever it takes over later. */
void leader_run(struct poold *pd,
		void (*promoted)(struct poold *pd, bool takeover));
/* A clean stop: hands leadership over at once; frees the module. */
void leader_close(struct poold *pd);

/* This front end may change the state (it leads, or has no peers). */
bool leader_active(const struct poold *pd);
/* Whether op may run here; if not, r is answered not_leader. */
bool leader_admits(struct req *r, const struct op *op);
/* For status, where the store has leadership (else NULL): {"role":
 * "leader", "epoch"} or {"role": "standby", "leader": address or null}. */
json_t *leader_json(const struct poold *pd);

#endif
