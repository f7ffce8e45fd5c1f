/* provision.c - see provision.h. */
#include "provision.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs.h"
#include "invariant.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "pool_protocol.h"
#include "poold.h"
#include "reply.h"
#include "store.h"
#include "util.h"
#include "wait.h"

#define RETRY_MAX 300.0 /* seconds: the longest backoff of a failing destroy */

enum task_kind { T_CREATE, T_RESET, T_DESTROY };
static const char *const kind_names[] = { "create", "reset", "destroy" };

struct task {
	struct poold *pd;
	enum task_kind kind;
	char *key;            /* owned; "pool\x1fname" in pd->tasks (an
			       * orphan, whose pool was deleted, has a
			       * unique key instead) */
	char *pool, *name;    /* owned */
	struct job *job;      /* the running command; NULL between retries */
	struct event *retry;  /* owned; a failed destroy's backoff */
	int failures;
	json_t *cmd;          /* orphans only: their own copy of the command */
	char *descriptor;     /* orphans only */
	int64_t orphan_id;    /* orphans only: their row in the store */
	bool counted;         /* a running destroy, in destroys_running */
	bool waiting;         /* an orphan in pd->orphans_waiting */
	TAILQ_ENTRY(task) wait_link;
};

static char *task_key(const char *pool, const char *name)
{
	char *key;

	if (asprintf(&key, "%s\x1f%s", pool, name) < 0)
		abort();
	return key;
}

static struct task *task_find(struct poold *pd, const char *pool,
			      const char *name)
{
	char *key = task_key(pool, name);
	struct task *t = hmap_get(&pd->tasks, key);

	free(key);
	return t;
}

/* A task whose command has ended leaves the map first, so that what its
 * result triggers (a destroy that cancels the resource's task) cannot free
 * it under the callback; a destroy to retry goes back in. */
static void task_unlist(struct task *t)
{
	hmap_del(&t->pd->tasks, t->key);
}

static void task_relist(struct task *t)
{
	hmap_put(&t->pd->tasks, t->key, t);
}

static void destroy_uncount(struct task *t);

static void task_free(struct task *t)
{
	if (hmap_get(&t->pd->tasks, t->key) == t)
		hmap_del(&t->pd->tasks, t->key);
	destroy_uncount(t);
	if (t->waiting)
		TAILQ_REMOVE(&t->pd->orphans_waiting, t, wait_link);
	if (t->job)
		job_cancel(t->job);
	if (t->retry)
		event_free(t->retry);
	json_decref(t->cmd);
	free(t->descriptor);
	free(t->key);
	free(t->pool);
	free(t->name);
	free(t);
}

static struct task *task_new(struct poold *pd, enum task_kind kind,
			     const char *pool, const char *name, bool orphan)
{
	struct task *t = xcalloc(1, sizeof *t);

	t->pd = pd;
	t->kind = kind;
	t->pool = xstrdup(pool);
	t->name = xstrdup(name);
	/* An orphan's key is unique, so no lookup by name ever finds it. */
	if (orphan && asprintf(&t->key, "%s\x1f%s\x1f%p", t->pool, t->name,
			       (void *)t) < 0)
		abort();
	if (!orphan)
		t->key = task_key(t->pool, t->name);
	hmap_put(&pd->tasks, t->key, t);
	return t;
}

/* The resource a task works on, if it still exists in the state the task
 * expects. */
static struct resource *task_resource(struct task *t, enum res_state want)
{
	struct pool *p = pool_find(t->pd, t->pool);
	struct resource *r = p ? resource_find(p, t->name) : NULL;

	return r && r->state == want ? r : NULL;
}

int provision_running(const struct pool *p, const char *kind)
{
	struct task *t;
	size_t pos = 0;
	int n = 0;

	while ((t = hmap_next(&p->pd->tasks, &pos)))
		if (strcmp(t->pool, p->name) == 0 &&
		    strcmp(kind_names[t->kind], kind) == 0)
			n++;
	return n;
}

static int64_t max_concurrent(json_t *cmd)
{
	return pool_command_concurrency(cmd);
}

static void start(struct task *t, json_t *cmd, const char *input,
		  job_done_fn done)
{
	t->job = job_start(t->pd, cmd, /* the whole setting: "env" too */
			   json_number_value(json_object_get(cmd, "timeout")),
			   kind_names[t->kind], t->pool, t->name, input, done, t);
}

/* What went wrong, for the log and the create_failed message. */
static void describe_failure(const struct job_result *res, char *buf,
			     size_t len)
{
	const char *tail = res->err_tail;
	size_t n = strlen(tail);

	while (n > 0 && (tail[n - 1] == '\n' || tail[n - 1] == ' '))
		n--;
	/* The end of stderr says most; keep the message within an answer. */
	if (n > 600) {
		tail += n - 600;
		n = 600;
	}
	if (res->spawn_failed)
		snprintf(buf, len, "it could not be started");
	else if (res->timed_out)
		snprintf(buf, len, "timed out; stderr: %.*s", (int)n, tail);
	else if (res->signal)
		snprintf(buf, len, "killed by signal %d; stderr: %.*s",
			 res->signal, (int)n, tail);
	else
		snprintf(buf, len, "exit status %d; stderr: %.*s", res->status,
			 (int)n, tail);
}

/* poold_commands_total and poold_command_seconds: a command that exited 0
 * but printed no usable descriptor failed too. */
static void observe(struct poold *pd, const struct task *t,
		    const struct job_result *res, bool ok)
{
	metrics_command_observe(pd, t->pool, kind_names[t->kind],
				res->timed_out ? "timeout" :
				ok ? "ok" : "failed", res->seconds);
}

/* The output of create (and of reset, if any) is one JSON object. */
static json_t *parse_descriptor(const struct poold *pd,
				const struct job_result *res, bool optional,
				bool *bad)
{
	char why[200];
	json_t *d;

	*bad = false;
	if (optional && strspn(res->out, " \t\r\n") == res->out_len)
		return NULL;
	d = json_loadb(res->out, res->out_len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(d) || descriptor_check(pd, d, why, sizeof why)) {
		json_decref(d);
		*bad = true;
		return NULL;
	}
	return d;
}

/* ---- create ------------------------------------------------------------ */

bool provision_can_create(const struct pool *p)
{
	json_t *cmd = pool_command(p, "create");

	return cmd && provision_running(p, "create") < max_concurrent(cmd);
}

static void create_done(struct poold *pd, void *arg,
			const struct job_result *res)
{
	struct task *t = arg;
	struct resource *r = task_resource(t, RS_CREATING);
	struct pool *p = r ? r->pool : NULL;
	char why[1400], msg[1600];
	json_t *desc = NULL;
	bool bad = true;

	t->job = NULL;
	task_unlist(t);
	if (r && res->status == 0 && !res->timed_out)
		desc = parse_descriptor(pd, res, false, &bad);
	observe(pd, t, res, r ? !bad : res->status == 0);
	if (r && bad) {
		if (res->status == 0 && !res->timed_out)
			snprintf(why, sizeof why, "it did not print one JSON "
				 "object (within --max-descriptor) on stdout");
		else
			describe_failure(res, why, sizeof why);
		snprintf(msg, sizeof msg, "the create command of pool %s "
			 "failed for %s: %s", p->name, r->name, why);
		log_warn("%s", msg);
		p->stats.create_failed++;
		journal_event(pd, "create_failed", p, r, NULL);
		resource_delete(r);
		wait_create_done(p, t->name, NULL, msg);
	} else if (r) {
		p->stats.created++;
		resource_change(r, RS_FREE, desc);
		if (p->draining)
			resource_destroy(r);
		wait_create_done(p, t->name, p->draining ? NULL : r,
				 "the pool is draining");
	}
	task_free(t);
	reply_later(pd);
}

struct resource *provision_create(struct pool *p, double now)
{
	char name[POOL_RESOURCE_NAME_MAX + 1];
	struct resource *r;
	struct task *t;

	resource_name_generate(p, name, sizeof name);
	r = resource_new(p, name, json_object(), RS_CREATING, now);
	t = task_new(p->pd, T_CREATE, p->name, r->name, false);
	start(t, pool_command(p, "create"), NULL, create_done);
	return r;
}

/* ---- reset ------------------------------------------------------------- */

static void reset_done(struct poold *pd, void *arg,
		       const struct job_result *res)
{
	struct task *t = arg;
	struct resource *r = task_resource(t, RS_CLEANING);
	struct pool *p = r ? r->pool : pool_find(pd, t->pool);
	char why[1400];
	json_t *desc = NULL;
	bool bad = true;

	t->job = NULL;
	task_unlist(t);
	if (r && res->status == 0 && !res->timed_out)
		desc = parse_descriptor(pd, res, true, &bad);
	observe(pd, t, res, r ? !bad : res->status == 0);
	if (r && bad) {
		if (res->status == 0 && !res->timed_out)
			snprintf(why, sizeof why, "its stdout was not one JSON "
				 "object");
		else
			describe_failure(res, why, sizeof why);
		log_warn("reset of %s/%s failed, discarding it: %s", p->name,
			 r->name, why);
		p->stats.reset_failed++;
		journal_event(pd, "discarded", p, r, NULL);
		resource_destroy(r);
	} else if (r) {
		resource_change(r, RS_FREE, desc);
		if (p->draining)
			resource_destroy(r);
	}
	task_free(t);
	if (p)
		provision_pump(p);
	reply_later(pd);
}

void provision_pump(struct pool *p)
{
	json_t *cmd = pool_command(p, "reset");
	struct resource *r, *next;
	int running;

	if (!cmd) {
		/* The reset command was removed: cleaning ends at once. */
		while ((r = TAILQ_FIRST(&p->lists[RS_CLEANING])) &&
		       !task_find(p->pd, p->name, r->name))
			resource_change(r, RS_FREE, NULL);
		return;
	}
	running = provision_running(p, "reset");
	for (r = TAILQ_FIRST(&p->lists[RS_CLEANING]);
	     r && running < max_concurrent(cmd); r = next) {
		struct task *t;

		next = TAILQ_NEXT(r, link);
		if (task_find(p->pd, p->name, r->name))
			continue;
		t = task_new(p->pd, T_RESET, p->name, r->name, false);
		start(t, cmd, r->descriptor, reset_done);
		running++;
	}
}

/* ---- destroy ----------------------------------------------------------- */

static void destroy_done(struct poold *pd, void *arg,
			 const struct job_result *res);

/* Destroys run within the pool's destroy max_concurrent and, in all pools
 * together, --max-destroys: draining thousands of resources must not fork
 * thousands of commands at once. The others wait: a pool's as resources
 * `destroying` without a task, an orphan (its pool deleted) in
 * pd->orphans_waiting; provision_destroy_pump() starts them as slots free.
 * The pool is NULL for an orphan, which only the total bounds. */
static bool destroy_slot(const struct poold *pd, const struct pool *p)
{
	if (pd->destroys_running >= pd->cfg.max_destroys)
		return false;
	return !p || p->destroys_running <
		     max_concurrent(pool_command(p, "destroy"));
}

static struct pool *task_pool(const struct task *t)
{
	return t->cmd ? NULL : pool_find(t->pd, t->pool);
}

static void destroy_uncount(struct task *t)
{
	struct pool *p = task_pool(t);

	if (!t->counted)
		return;
	t->counted = false;
	t->pd->destroys_running--;
	if (p)
		p->destroys_running--;
}

static void destroy_start(struct task *t, json_t *cmd, const char *input)
{
	struct pool *p = task_pool(t);

	t->counted = true;
	t->pd->destroys_running++;
	if (p)
		p->destroys_running++;
	start(t, cmd, input, destroy_done);
}

static void destroy_retry(evutil_socket_t fd, short what, void *arg)
{
	struct task *t = arg;
	struct poold *pd = t->pd;
	struct resource *r = t->cmd ? NULL : task_resource(t, RS_DESTROYING);
	struct timeval again = { 1, 0 };

	if (!destroy_slot(pd, r ? r->pool : NULL)) {
		evtimer_add(t->retry, &again); /* all slots busy: soon */
		return;
	}
	if (t->cmd) { /* an orphan */
		destroy_start(t, t->cmd, t->descriptor);
		return;
	}
	if (!r || !pool_command(r->pool, "destroy")) {
		if (r)
			resource_delete(r);
		task_free(t);
		reply_later(pd);
		return;
	}
	destroy_start(t, pool_command(r->pool, "destroy"), r->descriptor);
}

static void destroy_done(struct poold *pd, void *arg,
			 const struct job_result *res)
{
	struct task *t = arg;
	struct resource *r = t->cmd ? NULL : task_resource(t, RS_DESTROYING);
	char why[1400];
	double delay;
	struct timeval tv;

	t->job = NULL;
	task_unlist(t);
	observe(pd, t, res, res->status == 0);
	destroy_uncount(t);
	if (res->status == 0 && !res->timed_out) {
		log_info("destroyed %s/%s", t->pool, t->name);
		if (r)
			resource_delete(r);
		if (t->orphan_id)
			journal_orphan_gone(pd, t->orphan_id);
		task_free(t);
		provision_destroy_pump(pd);
		reply_later(pd);
		return;
	}
	if (!r && !t->cmd) { /* removed meanwhile */
		task_free(t);
		provision_destroy_pump(pd);
		return;
	}
	describe_failure(res, why, sizeof why);
	t->failures++;
	delay = 1 << (t->failures < 9 ? t->failures : 9);
	if (delay > RETRY_MAX)
		delay = RETRY_MAX;
	log_warn("destroy of %s/%s failed (%d times), retrying in %g s: %s",
		 t->pool, t->name, t->failures, delay, why);
	if (r)
		r->pool->stats.destroy_failed++;
	task_relist(t);
	if (!t->retry)
		t->retry = evtimer_new(pd->base, destroy_retry, t);
	tv.tv_sec = (time_t)delay;
	tv.tv_usec = 0;
	evtimer_add(t->retry, &tv);
	provision_destroy_pump(pd);
}

void resource_destroy(struct resource *r)
{
	INVARIANT(r->lease == NULL);
	if (!pool_command(r->pool, "destroy")) {
		provision_cancel(r);
		resource_delete(r);
		return;
	}
	if (r->state != RS_DESTROYING) {
		provision_cancel(r); /* a create or reset that still runs */
		resource_change(r, RS_DESTROYING, NULL);
	}
	provision_destroy(r);
}

void provision_destroy(struct resource *r)
{
	struct task *t;

	if (task_find(r->pool->pd, r->pool->name, r->name) ||
	    !destroy_slot(r->pool->pd, r->pool))
		return;
	t = task_new(r->pool->pd, T_DESTROY, r->pool->name, r->name,
		     false);
	destroy_start(t, pool_command(r->pool, "destroy"), r->descriptor);
}

void provision_orphan_resume(struct poold *pd, int64_t id, const char *pool,
			     const char *name, const char *descriptor,
			     json_t *cmd)
{
	struct task *t = task_new(pd, T_DESTROY, pool, name, true);

	t->orphan_id = id;
	if (id >= pd->next_orphan_id)
		pd->next_orphan_id = id + 1;
	t->cmd = json_deep_copy(cmd);
	t->descriptor = xstrdup(descriptor);
	log_info("destroy of %s/%s (its pool was deleted) runs", pool, name);
	if (destroy_slot(pd, NULL)) {
		destroy_start(t, t->cmd, t->descriptor);
		return;
	}
	t->waiting = true;
	TAILQ_INSERT_TAIL(&pd->orphans_waiting, t, wait_link);
}

/* Starts the waiting destroys of p that its slots allow; with no destroy
 * command any more, they end at once. The running and retrying ones lead
 * the destroying list (they entered it first), so the walk is short. */
static void destroy_pump_pool(struct pool *p)
{
	json_t *cmd = pool_command(p, "destroy");
	struct resource *r, *next;

	for (r = TAILQ_FIRST(&p->lists[RS_DESTROYING]);
	     r && (!cmd || destroy_slot(p->pd, p)); r = next) {
		next = TAILQ_NEXT(r, link);
		if (task_find(p->pd, p->name, r->name))
			continue;
		if (cmd)
			provision_destroy(r);
		else
			resource_delete(r);
	}
}

void provision_destroy_pump(struct poold *pd)
{
	struct task *t;
	struct pool *p;
	size_t pos = 0;

	while ((t = TAILQ_FIRST(&pd->orphans_waiting)) &&
	       destroy_slot(pd, NULL)) {
		TAILQ_REMOVE(&pd->orphans_waiting, t, wait_link);
		t->waiting = false;
		destroy_start(t, t->cmd, t->descriptor);
	}
	while ((p = hmap_next(&pd->pools, &pos)) &&
	       pd->destroys_running < pd->cfg.max_destroys)
		if (p->count[RS_DESTROYING] > (size_t)p->destroys_running)
			destroy_pump_pool(p);
}

static void orphan_save(struct poold *pd, int64_t id, struct resource *r,
			json_t *cmd)
{
	char *destroy = json_dumps(cmd, JSON_COMPACT);
	struct store_orphan_row row = {
		.id = id, .pool = r->pool->name, .name = r->name,
		.descriptor = r->descriptor, .destroy = destroy,
		.since = now_wall(),
	};

	journal_orphan_saved(pd, &row);
	free(destroy);
}

void provision_orphan(struct resource *r)
{
	struct poold *pd = r->pool->pd;
	json_t *cmd = pool_command(r->pool, "destroy");
	int64_t id;

	provision_cancel(r);
	if (!cmd)
		return;
	id = pd->next_orphan_id > 0 ? pd->next_orphan_id : 1;
	orphan_save(pd, id, r, cmd);
	provision_orphan_resume(pd, id, r->pool->name, r->name, r->descriptor,
				cmd);
}

void provision_cancel(struct resource *r)
{
	struct task *t = task_find(r->pool->pd, r->pool->name, r->name);
	bool creating = t && t->kind == T_CREATE;

	if (!t)
		return;
	task_free(t);
	if (creating)
		wait_create_done(r->pool, r->name, NULL, "the resource being "
				 "created for this request was removed");
}

void provision_repair(struct pool *p, const char *when)
{
	struct resource *r, *next;

	for (r = TAILQ_FIRST(&p->lists[RS_CREATING]); r; r = next) {
		next = TAILQ_NEXT(r, link);
		if (task_find(p->pd, p->name, r->name))
			continue;
		log_warn("resource %s/%s was being created %s: destroying it "
			 "(its command may have half-provisioned it)", p->name,
			 r->name, when);
		resource_destroy(r);
	}
	for (r = TAILQ_FIRST(&p->lists[RS_DESTROYING]); r; r = next) {
		next = TAILQ_NEXT(r, link);
		if (task_find(p->pd, p->name, r->name))
			continue;
		log_warn("resource %s/%s was being destroyed %s: destroying it "
			 "again", p->name, r->name, when);
		resource_destroy(r);
	}
	TAILQ_FOREACH(r, &p->lists[RS_CLEANING], link)
		if (!task_find(p->pd, p->name, r->name))
			log_warn("resource %s/%s was being reset %s: resetting "
				 "it again", p->name, r->name, when);
	provision_pump(p);
}

void provision_abort_pending(struct poold *pd)
{
	struct task **drop = xcalloc(pd->tasks.len + 1, sizeof *drop);
	struct task *t;
	struct pool *p;
	size_t pos = 0, n = 0;

	while ((t = hmap_next(&pd->tasks, &pos)))
		if (t->job && !job_launched(t->job))
			drop[n++] = t;
	for (size_t i = 0; i < n; i++) {
		t = drop[i];
		p = pool_find(pd, t->pool);
		if (t->kind == T_CREATE && p)
			wait_create_done(p, t->name, NULL, "the database could "
					 "not commit; nothing was created: retry");
		task_free(t);
	}
	free(drop);
}

void provision_stop_all(struct poold *pd)
{
	struct task *t;
	size_t pos = 0;

	while ((t = hmap_next(&pd->tasks, &pos))) {
		task_free(t);
		pos = 0;
	}
	hmap_free(&pd->tasks);
	jobs_stop_all(pd); /* orphans: their jobs go with the rest */
}
