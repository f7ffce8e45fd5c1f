/* store-pg-lead.c - the PostgreSQL store's leadership functions (see
 * store.h, lead_claim; schema/postgresql/002_leader.sql; docs/ha.md). The
 * fence itself is sent by store-pg.c at the start of every transaction. */
#include "store-pg.h"

#include <string.h>

#include "log.h"


static int lead_who(struct pg_store *st, char *leader, size_t leaderlen,
		    char *err, size_t errlen)
{
	struct params p = { .n = 0 };
	PGresult *res = pgs_run(st, S_LEAD_WHO, &p, err, errlen);

	if (!res)
		return STORE_ERROR;
	snprintf(leader, leaderlen, "%s", PQntuples(res) == 1 ?
		 PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	return STORE_BUSY;
}

int pg_lead_claim(struct store *base, const char *node,
			 const char *advertise, double stale_after,
			 int64_t *epoch, char *leader, size_t leaderlen,
			 char *err, size_t errlen)
{
	struct pg_store *st = P(base);
	struct params p = { .n = 0 };
	PGresult *res;

	p_text(&p, node);
	p_text(&p, advertise);
	p_double(&p, stale_after);
	if (!(res = pgs_run(st, S_LEAD_CLAIM, &p, err, errlen)))
		return STORE_ERROR;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return lead_who(st, leader, leaderlen, err, errlen);
	}
	st->epoch = *epoch = col_int(res, 0, 0);
	PQclear(res);
	snprintf(leader, leaderlen, "%s", advertise);
	return STORE_OK;
}

/* Between batches the fence renews nothing: this does. Inside one, the
 * transaction's fence holds the row, so there is nothing to do. */
int pg_lead_renew(struct store *base, char *err, size_t errlen)
{
	struct pg_store *st = P(base);
	struct params p = { .n = 0 };
	PGresult *res;

	if (st->in_tx)
		return STORE_OK;
	if (st->epoch == 0) {
		snprintf(err, errlen, "no longer the leader");
		return STORE_ERROR;
	}
	p_int(&p, st->epoch);
	res = pgs_run(st, S_FENCE, &p, err, errlen);
	if (!res) {
		if (strstr(err, "no longer the leader"))
			st->epoch = 0;
		return STORE_ERROR;
	}
	PQclear(res);
	return STORE_OK;
}

void pg_lead_release(struct store *base)
{
	struct pg_store *st = P(base);
	struct params p = { .n = 0 };
	char err[256];
	PGresult *res;

	if (st->epoch == 0 || st->in_tx)
		return;
	p_int(&p, st->epoch);
	res = pgs_run(st, S_LEAD_RELEASE, &p, err, sizeof err);
	if (!res)
		log_warn("could not hand leadership over: %s", err);
	PQclear(res);
	st->epoch = 0;
}
