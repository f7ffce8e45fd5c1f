/* worker.c - see worker.h. */
#include "worker.h"

static void *run(void *arg)
{
	struct worker *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->asked && !w->stop)
			pthread_cond_wait(&w->wake, &w->mu);
		if (w->stop)
			break;
		w->asked = false;
		pthread_mutex_unlock(&w->mu);
		w->job(w->arg);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int worker_start(struct worker *w, void (*job)(void *arg), void *arg)
{
	w->asked = w->stop = false;
	w->job = job;
	w->arg = arg;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->wake, NULL);
	if (pthread_create(&w->thread, NULL, run, w) == 0)
		return 0;
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->mu);
	return -1;
}

void worker_ask(struct worker *w)
{
	pthread_mutex_lock(&w->mu);
	w->asked = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->mu);
}

void worker_stop(struct worker *w)
{
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->mu);
}

void worker_lock(struct worker *w)
{
	pthread_mutex_lock(&w->mu);
}

void worker_unlock(struct worker *w)
{
	pthread_mutex_unlock(&w->mu);
}
