/*
 * jobs.h - running a pool's create, reset and destroy commands without
 * blocking the daemon: fork + exec without a shell in a process group of its
 * own, stdin/stdout/stderr on non-blocking pipes watched by libevent, exit
 * seen through SIGCHLD, and a timeout that kills the whole group (SIGTERM,
 * then SIGKILL after a grace period). stderr goes to the log line by line.
 */
#ifndef POOLD_JOBS_H
#define POOLD_JOBS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>
#include <sys/types.h>

struct poold;
struct job;

struct job_result {
	int status;              /* exit status, or -1 if it did not exit */
	int signal;              /* the signal that ended it, or 0 */
	bool timed_out;
	bool spawn_failed;       /* could not be started at all */
	const char *out;         /* stdout (NUL-terminated; capped) */
	size_t out_len;
	const char *err_tail;    /* the last bytes of stderr */
	double seconds;          /* from launch to end (monotonic) */
};

/* Called once when the job has ended; the result lives only during it. */
typedef void (*job_done_fn)(struct poold *pd, void *arg,
			    const struct job_result *res);

/* Prepares a command: cmd is the pool's command setting {"cmd": [argv],
 * "env": {NAME: value}?} (or just the argv array), cmd[0] an absolute path.
 * It gets exactly descriptors 0, 1 and 2 and the environment PATH (poold's),
 * the "env" object's strings, POOL_NAME and POOL_RESOURCE, nothing else;
 * input (may be NULL) is on its stdin. what ("create", "reset", "destroy") tags its log lines. It is
 * started by jobs_launch() once the change that asked for it is committed
 * (jobs_seal()):
 * a command must never act on a change that a failed commit undid. Never
 * fails: a command that cannot start ends at once with spawn_failed. */
struct job *job_start(struct poold *pd, json_t *cmd, double timeout,
		      const char *what, const char *pool,
		      const char *resource, const char *input,
		      job_done_fn done, void *arg);

/* Marks every prepared job as asked for by a committed change. */
void jobs_seal(struct poold *pd);
/* Starts every sealed job (at --sync full, once the commit is on disk). */
void jobs_launch(struct poold *pd);
bool jobs_pending(const struct poold *pd);
bool job_launched(const struct job *j);

/* Kills the job's process group and forgets it; done is not called. */
void job_cancel(struct job *j);

/* Shutdown: kills and forgets every job. */
void jobs_stop_all(struct poold *pd);

/* Starts watching SIGCHLD (once, at start-up). */
void jobs_init(struct poold *pd);

#endif
