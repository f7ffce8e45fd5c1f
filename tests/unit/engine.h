/*
 * engine.h - the daemon engine in-process with no connection: a struct
 * poold on a temporary SQLite database, for unit tests that drive its
 * functions directly (the clock, the domain). Header-only, like
 * fixture.h; include it after cmocka.h.
 */
#ifndef TEST_ENGINE_H
#define TEST_ENGINE_H

#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "options.h"
#include "poold.h"
#include "util.h"

struct engine {
	struct poold pd;
	char dir[64];
};

static inline struct engine *engine_open(void)
{
	struct engine *e = xcalloc(1, sizeof *e);
	char err[256], path[128];

	log_threshold = LOG_ERROR;
	snprintf(e->dir, sizeof e->dir, "/tmp/poold-unit-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(path, sizeof path, "%s/poold.db", e->dir);
	options_defaults(&e->pd.cfg);
	free(e->pd.cfg.db_path);
	e->pd.cfg.db_path = xstrdup(path);
	if (poold_open(&e->pd, err, sizeof err) < 0)
		fail_msg("%s", err);
	return e;
}

static inline void engine_close(struct engine *e)
{
	char cmd[128];

	poold_close(&e->pd);
	options_free(&e->pd.cfg);
	snprintf(cmd, sizeof cmd, "rm -rf %s", e->dir);
	assert_int_equal(system(cmd), 0);
	free(e);
}

#endif
