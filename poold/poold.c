/*
 * poold.c - bringing the daemon's state up and down, apart from the socket
 * and signals, so that tests can run the whole engine in-process.
 */
#include "poold.h"

#include <event2/event.h>
#include <stdio.h>
#include <unistd.h>

#include "conn.h"
#include "events.h"
#include "jobs.h"
#include "metrics.h"
#include "journal.h"
#include "leader.h"
#include "provision.h"
#include "reply.h"
#include "state.h"
#include "store.h"
#include "util.h"

int poold_open(struct poold *pd, char *err, size_t errlen)
{
	struct store_config sc = { pd->cfg.db_path, pd->cfg.sync_full,
				   (int64_t)pd->cfg.max_db_size };

	pd->uid = geteuid();
	pd->started = now_mono();
	TAILQ_INIT(&pd->conns);
	TAILQ_INIT(&pd->dirty);
	TAILQ_INIT(&pd->watchers);
	TAILQ_INIT(&pd->jobs);
	TAILQ_INIT(&pd->orphans_waiting);
	TAILQ_INIT(&pd->batch.q);
	TAILQ_INIT(&pd->batch.held);
	pd->journal = journal_new();
	pd->store = store_open(&sc, err, errlen);
	if (!pd->store)
		return -1;
	pd->base = event_base_new();
	if (!pd->base || event_base_priority_init(pd->base, PRIO_COUNT) < 0) {
		snprintf(err, errlen, "cannot create the event loop");
		return -1;
	}
	reply_init(pd);
	jobs_init(pd);
	return leader_open(pd, err, errlen);
}

void poold_close(struct poold *pd)
{
	if (!pd->store || !pd->base) { /* poold_open failed early */
		leader_close(pd);
		store_close(pd->store);
		journal_free(pd->journal);
		pd->journal = NULL;
		if (pd->base)
			event_base_free(pd->base);
		return;
	}
	conn_close_all(pd, "shutting down");
	provision_stop_all(pd);
	reply_flush(pd);
	reply_free(pd);
	events_free(pd);
	state_free(pd);
	metrics_free(pd);
	leader_close(pd);
	store_close(pd->store);
	pd->store = NULL;
	journal_free(pd->journal);
	pd->journal = NULL;
	if (pd->base)
		event_base_free(pd->base);
	pd->base = NULL;
}
