/*
 * worker.h - a thread that does one job whenever it is asked to, for a
 * wait on the disk that the loop must not make (store-sqlite-sync.c): asks
 * that come while it works fold into one more run, and stopping lets a run
 * under way end. The mutex also guards whatever the job hands back to the
 * loop (worker_lock()).
 */
#ifndef POOLD_WORKER_H
#define POOLD_WORKER_H

#include <pthread.h>
#include <stdbool.h>

struct worker {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t wake;
	bool asked, stop;
	void (*job)(void *arg);  /* runs without the mutex held */
	void *arg;
};

/* Starts the thread: 0, or -1 if it could not be created. */
int worker_start(struct worker *w, void (*job)(void *arg), void *arg);
void worker_ask(struct worker *w);
/* Lets a run under way end and joins the thread. */
void worker_stop(struct worker *w);
void worker_lock(struct worker *w);
void worker_unlock(struct worker *w);

#endif
