/*
 * leader.c - see leader.h. The timing, with T = --failover-timeout: the
 * leader renews every T/10; a claim is stale (a standby may take it) once
 * it has not been renewed for 0.6 T by the database's clock; standbys try
 * every T/10. So a standby takes over at most 0.7 T after the leader's
 * last renewal, which is within T of the leader's death.
 */
#include "leader.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "dispatch.h"
#include "janitor.h"
#include "jobs.h"
#include "journal.h"
#include "log.h"
#include "pool_protocol.h"
#include "poold.h"
#include "provision.h"
#include "reply.h"
#include "state.h"
#include "store.h"
#include "util.h"

#define STALE_SHARE 0.6   /* of T: a claim not renewed this long is free */
#define TICK_SHARE 0.1    /* of T: how often to renew, or to try a claim */

enum role { ROLE_LEADER, ROLE_STANDBY };

struct leader {
	enum role role;
	bool shared;              /* the store has leadership (else: sole) */
	char node[160];           /* host:pid:random, in the leader row */
	char advertise[512];      /* --advertise, or unix:SOCKET */
	char addr[512];           /* the leader's address; "" = unknown */
	int64_t epoch;            /* of our claim, while we lead */
	bool claim_failing;       /* the last claim met an error (logged) */
	struct event *tick;
	void (*promoted)(struct poold *pd, bool takeover);
};

static double stale_after(const struct poold *pd)
{
	return pd->cfg.failover_timeout * STALE_SHARE;
}

bool leader_active(const struct poold *pd)
{
	return !pd->leader || pd->leader->role == ROLE_LEADER;
}

/* Tries to claim; STORE_OK (we lead), STORE_BUSY or STORE_ERROR. */
static int claim(struct poold *pd)
{
	struct leader *L = pd->leader;
	struct store *st = pd->store;
	char err[512];
	int rc = st->ops->lead_claim(st, L->node, L->advertise,
				     stale_after(pd), &L->epoch, L->addr,
				     sizeof L->addr, err, sizeof err);

	if (rc == STORE_ERROR && !L->claim_failing)
		log_warn("cannot claim leadership: %s (trying again every "
			 "%g s)", err, pd->cfg.failover_timeout * TICK_SHARE);
	L->claim_failing = rc == STORE_ERROR;
	return rc;
}

static void take_over(struct poold *pd);

/* Everything the lost term held goes; the batch in flight commits only if
 * its fence still passes (else its answers become internal). Connections
 * are closed, waiters with them, as at the leader's death: clients find
 * the leader (not_leader here names it) and retry with their request_id. */
static void step_down(struct poold *pd, const char *why)
{
	struct leader *L = pd->leader;

	log_error("leadership lost (%s): standing by", why);
	reply_flush(pd);
	L->role = ROLE_STANDBY;
	L->addr[0] = '\0';
	janitor_stop(pd);
	conn_close_all(pd, "this front end lost its leadership");
	provision_stop_all(pd);
	jobs_init(pd); /* for the next term */
	journal_drop(pd);
	state_free(pd);
	pd->next_orphan_id = 0;
	pd->store->ops->lead_release(pd->store);
	if (claim(pd) == STORE_OK) /* learns the leader's address, or leads */
		take_over(pd);
}

/* Won a claim: load the state and recover as a restart does. */
static void take_over(struct poold *pd)
{
	struct leader *L = pd->leader;
	char err[512];

	log_info("leadership taken: epoch %lld, advertised as %s",
		 (long long)L->epoch, L->advertise);
	if (state_load(pd, err, sizeof err) < 0) {
		log_error("cannot load the state as the new leader: %s; "
			  "standing by", err);
		journal_drop(pd);
		state_free(pd);
		pd->store->ops->lead_release(pd->store);
		L->addr[0] = '\0';
		return;
	}
	L->role = ROLE_LEADER;
	snprintf(L->addr, sizeof L->addr, "%s", L->advertise);
	if (L->promoted)
		L->promoted(pd, true);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct poold *pd = arg;
	struct leader *L = pd->leader;
	char err[512];

	if (pd->stopping)
		return;
	if (L->role == ROLE_LEADER) {
		if (pd->store->ops->lead_renew(pd->store, err, sizeof err) !=
		    STORE_OK)
			step_down(pd, err);
		return;
	}
	if (claim(pd) == STORE_OK)
		take_over(pd);
}

/* The store met a fence it no longer holds: renew (and fail, and step
 * down) on the next turn of the loop, outside the flush that found it. */
static void on_deposed(void *arg)
{
	struct poold *pd = arg;

	event_active(pd->leader->tick, EV_TIMEOUT, 0);
}

static void names(struct poold *pd)
{
	struct leader *L = pd->leader;
	char host[128] = "", rnd[9];

	gethostname(host, sizeof host - 1);
	random_hex(rnd, 4);
	snprintf(L->node, sizeof L->node, "%s:%d:%s", host, (int)getpid(),
		 rnd);
	if (pd->cfg.advertise)
		snprintf(L->advertise, sizeof L->advertise, "%s",
			 pd->cfg.advertise);
	else
		snprintf(L->advertise, sizeof L->advertise, "unix:%s",
			 pd->cfg.socket_path);
}

int leader_open(struct poold *pd, char *err, size_t errlen)
{
	struct leader *L = xcalloc(1, sizeof *L);
	double period = pd->cfg.failover_timeout * TICK_SHARE;
	struct timeval tv = { (time_t)period,
			      (suseconds_t)((period - (int)period) * 1e6) };
	int rc;

	pd->leader = L;
	names(pd);
	L->shared = pd->store->ops->lead_claim != NULL;
	L->role = ROLE_LEADER;
	snprintf(L->addr, sizeof L->addr, "%s", L->advertise);
	if (!L->shared)
		return state_load(pd, err, errlen);
	L->tick = event_new(pd->base, -1, EV_PERSIST, on_tick, pd);
	event_add(L->tick, &tv);
	pd->store->deposed = on_deposed;
	pd->store->deposed_arg = pd;
	rc = claim(pd);
	if (rc == STORE_OK) {
		log_info("leadership taken: epoch %lld, advertised as %s",
			 (long long)L->epoch, L->advertise);
		return state_load(pd, err, errlen);
	}
	L->role = ROLE_STANDBY;
	log_info("standing by: the leader is %s", L->addr[0] ? L->addr :
		 "unknown");
	return 0;
}

void leader_run(struct poold *pd,
		void (*promoted)(struct poold *pd, bool takeover))
{
	pd->leader->promoted = promoted;
	if (leader_active(pd))
		promoted(pd, false);
}

void leader_close(struct poold *pd)
{
	struct leader *L = pd->leader;

	if (!L)
		return;
	if (L->tick)
		event_free(L->tick);
	if (L->shared && L->role == ROLE_LEADER && pd->store)
		pd->store->ops->lead_release(pd->store);
	free(L);
	pd->leader = NULL;
}

bool leader_admits(struct req *r, const struct op *op)
{
	struct leader *L = r->pd->leader;
	char msg[700];
	json_t *body;

	if (leader_active(r->pd) || (op->flags & OP_STANDBY))
		return true;
	if (L->addr[0])
		snprintf(msg, sizeof msg, "this front end is a standby; the "
			 "leader is %s: send \"%s\" there", L->addr, op->name);
	else
		snprintf(msg, sizeof msg, "this front end is a standby and no "
			 "leader is known yet (one takes over within %d s): "
			 "retry", r->pd->cfg.failover_timeout);
	body = reply_err_json(req_id(r), POOL_ERR_NOT_LEADER, msg);
	json_object_set_new(json_object_get(body, "error"), "leader",
			    L->addr[0] ? json_string(L->addr) : json_null());
	reply_queue(r->pd, r->conn, req_id(r), body);
	return false;
}

json_t *leader_json(const struct poold *pd)
{
	const struct leader *L = pd->leader;

	if (!L || !L->shared)
		return NULL;
	if (leader_active(pd))
		return json_pack("{s:s, s:I}", "role", "leader", "epoch",
				 (json_int_t)L->epoch);
	return json_pack("{s:s, s:o}", "role", "standby", "leader",
			 L->addr[0] ? json_string(L->addr) : json_null());
}
