/* jobs.c - see jobs.h. */
#include "jobs.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "poold.h"
#include "util.h"

#define OUT_MAX    (1 << 20) /* stdout kept; a descriptor is one JSON object */
#define TAIL_MAX   1024      /* stderr kept for the error message */
#define KILL_GRACE 3         /* seconds between SIGTERM and SIGKILL */
#define EOF_GRACE  1         /* seconds to wait for pipes after exit */
/* A command's PATH when poold itself has none. */
#define JOB_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct job {
	struct poold *pd;
	pid_t pid;                /* also the process group id */
	char *tag;                /* owned; "create spark/spark-abcde" */
	struct event *in_ev, *out_ev, *err_ev; /* owned; NULL once closed */
	struct event *timer;      /* owned; timeout, then kill grace, then EOF grace */
	char *input;              /* owned; what is left to write to stdin */
	size_t in_len, in_off;
	char *out;                /* owned */
	size_t out_len;
	char tail[TAIL_MAX];      /* last bytes of stderr */
	size_t tail_len;
	char line[512];           /* the stderr line being collected for the log */
	size_t line_len;
	double timeout;
	double started;           /* now_mono() at launch */
	json_t *cmd;              /* owned; argv, a JSON array */
	json_t *env;              /* owned; the setting's "env" object, or NULL */
	char *pool, *resource;    /* owned until launched; for the env */
	bool sealed;              /* its change is committed: see jobs_seal */
	bool launched;            /* forked (or failed to): see jobs_launch */
	bool exited, timed_out;
	int status, signal;
	job_done_fn done;
	void *arg;
	TAILQ_ENTRY(job) link;    /* in pd->jobs */
};

static void job_free(struct job *j)
{
	struct event *evs[] = { j->in_ev, j->out_ev, j->err_ev };

	for (size_t i = 0; i < 3; i++) {
		if (evs[i]) {
			close(event_get_fd(evs[i]));
			event_free(evs[i]);
		}
	}
	if (j->timer)
		event_free(j->timer);
	TAILQ_REMOVE(&j->pd->jobs, j, link);
	json_decref(j->cmd);
	json_decref(j->env);
	free(j->pool);
	free(j->resource);
	free(j->tag);
	free(j->input);
	free(j->out);
	free(j);
}

static void finish(struct job *j)
{
	struct job_result res = {
		.status = j->exited && j->signal == 0 ? j->status : -1,
		.signal = j->signal,
		.timed_out = j->timed_out,
		.spawn_failed = j->pid <= 0,
		.out = j->out ? j->out : "",
		.out_len = j->out_len,
		.err_tail = j->tail,
		.seconds = now_mono() - j->started,
	};
	j->tail[j->tail_len] = '\0';
	if (j->out)
		j->out[j->out_len] = '\0';
	log_debug("%s ended: status %d signal %d%s", j->tag, res.status,
		  res.signal, res.timed_out ? " (timed out)" : "");
	j->done(j->pd, j->arg, &res);
	job_free(j);
}

static void close_pipe(struct event **ev)
{
	close(event_get_fd(*ev));
	event_free(*ev);
	*ev = NULL;
}

static void on_timer(evutil_socket_t fd, short what, void *arg);

static void arm(struct job *j, double seconds)
{
	struct timeval tv = { (time_t)seconds,
			      (suseconds_t)((seconds - (time_t)seconds) * 1e6) };

	evtimer_add(j->timer, &tv);
}

/* Done when the process has exited and its pipes are closed; a grandchild
 * that keeps a pipe open gets EOF_GRACE seconds, then is not waited for. */
static void maybe_finish(struct job *j)
{
	if (!j->exited)
		return;
	if (!j->out_ev && !j->err_ev) {
		finish(j);
		return;
	}
	arm(j, EOF_GRACE); /* on_timer then finishes without waiting more */
}

static void log_stderr(struct job *j, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bool full = j->line_len == sizeof j->line - 1;

		if (buf[i] != '\n' && !full) {
			j->line[j->line_len++] = buf[i];
			continue;
		}
		j->line[j->line_len] = '\0';
		log_info("%s: %s", j->tag, j->line);
		j->line_len = 0;
	}
}

static void keep_tail(struct job *j, const char *buf, size_t n)
{
	size_t room = TAIL_MAX - 1;

	if (n >= room) {
		memcpy(j->tail, buf + n - room, room);
		j->tail_len = room;
		return;
	}
	if (j->tail_len + n > room) {
		size_t drop = j->tail_len + n - room;

		memmove(j->tail, j->tail + drop, j->tail_len - drop);
		j->tail_len -= drop;
	}
	memcpy(j->tail + j->tail_len, buf, n);
	j->tail_len += n;
}

static void on_stderr(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof buf);

	if (n > 0) {
		keep_tail(j, buf, (size_t)n);
		log_stderr(j, buf, (size_t)n);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (j->line_len)
		log_stderr(j, "\n", 1);
	close_pipe(&j->err_ev);
	maybe_finish(j);
}

static void on_stdout(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof buf);

	if (n > 0) {
		/* Past OUT_MAX the output is cut; it then fails to parse. */
		size_t keep = (size_t)n;

		if (j->out_len + keep > OUT_MAX)
			keep = OUT_MAX - j->out_len;
		memcpy(j->out + j->out_len, buf, keep);
		j->out_len += keep;
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	close_pipe(&j->out_ev);
	maybe_finish(j);
}

static void on_stdin(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	ssize_t n = write(fd, j->input + j->in_off, j->in_len - j->in_off);

	if (n > 0)
		j->in_off += (size_t)n;
	else if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* All written, or the command closed its stdin (EPIPE). */
	if (n <= 0 || j->in_off == j->in_len)
		close_pipe(&j->in_ev);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;

	if (j->exited) {
		finish(j); /* its pipes stayed open too long after exit */
		return;
	}
	if (!j->timed_out) {
		log_warn("%s: timed out after %g s; killing its process group",
			 j->tag, j->timeout);
		j->timed_out = true;
		kill(-j->pid, SIGTERM);
		arm(j, KILL_GRACE);
		return;
	}
	kill(-j->pid, SIGKILL);
}

static void on_sigchld(evutil_socket_t fd, short what, void *arg)
{
	struct poold *pd = arg;
	struct job *j;
	int st;
	pid_t pid;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		TAILQ_FOREACH(j, &pd->jobs, link)
			if (j->pid == pid)
				break;
		if (!j)
			continue; /* a cancelled job */
		j->exited = true;
		j->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		j->signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
		if (j->timed_out)
			kill(-j->pid, SIGKILL); /* what is left of the group */
		event_del(j->timer);
		maybe_finish(j);
	}
}

void jobs_init(struct poold *pd)
{
	pd->sigchld_ev = evsignal_new(pd->base, SIGCHLD, on_sigchld, pd);
	event_add(pd->sigchld_ev, NULL);
}

/* Every descriptor but 0, 1 and 2: a command must not hold clients'
 * sockets, the database's lock or other commands' pipes (a helper it leaves
 * running would keep them open). close_range where the kernel has it, else
 * a loop up to the descriptor limit (async-signal-safe, unlike reading
 * /proc/self/fd). */
static void close_others(void)
{
	struct rlimit rl;

	if (close_range(3, ~0U, 0) == 0)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > (1 << 20))
		rl.rlim_cur = 1 << 20;
	for (int fd = 3; fd < (int)rl.rlim_cur; fd++)
		close(fd);
}

/* In the child: never returns. Only async-signal-safe calls after fork. */
static void exec_child(char *const argv[], char *const envp[], int in,
		       int out, int err)
{
	sigset_t none;

	setpgid(0, 0);
	signal(SIGPIPE, SIG_DFL); /* poold ignores it; the command must not */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	close_others();
	execve(argv[0], argv, envp);
	dprintf(2, "poold: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Builds argv and envp before fork, so the child only calls exec. */
static char **build_argv(json_t *cmd)
{
	char **argv = xcalloc(json_array_size(cmd) + 1, sizeof *argv);
	size_t i;
	json_t *v;

	json_array_foreach(cmd, i, v)
		argv[i] = (char *)json_string_value(v);
	return argv;
}

static char *env_var(const char *name, const char *value)
{
	char *s;

	if (asprintf(&s, "%s=%s", name, value) < 0)
		abort();
	return s;
}

/* The command's whole environment (nothing else of poold's, whose own may
 * hold secrets): PATH ("env"'s, else poold's), what the command setting's
 * "env" object adds, then POOL_NAME and POOL_RESOURCE, which "env" cannot
 * override. Each string is
 * owned by the array; free with free_envp(). */
static char **build_envp(json_t *env, const char *pool, const char *resource)
{
	const char *path = json_string_value(json_object_get(env, "PATH"));
	char **envp = xcalloc(json_object_size(env) + 4, sizeof *envp);
	const char *key;
	size_t k = 0;
	json_t *v;

	if (!path)
		path = getenv("PATH");
	envp[k++] = env_var("PATH", path && *path ? path : JOB_DEFAULT_PATH);
	json_object_foreach(env, key, v)
		if (json_is_string(v) && strcmp(key, "PATH") != 0 &&
		    strcmp(key, "POOL_NAME") != 0 &&
		    strcmp(key, "POOL_RESOURCE") != 0)
			envp[k++] = env_var(key, json_string_value(v));
	envp[k++] = env_var("POOL_NAME", pool);
	envp[k++] = env_var("POOL_RESOURCE", resource);
	return envp;
}

static void free_envp(char **envp)
{
	for (size_t i = 0; envp[i]; i++)
		free(envp[i]);
	free(envp);
}

static struct event *watch_fd(struct job *j, int fd, short what,
			      event_callback_fn cb)
{
	struct event *ev;

	fcntl(fd, F_SETFL, O_NONBLOCK);
	ev = event_new(j->pd->base, fd, what | EV_PERSIST, cb, j);
	event_add(ev, NULL);
	return ev;
}

static int spawn(struct job *j, json_t *cmd, json_t *env, const char *pool,
		 const char *resource)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	char **argv, **envp;

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
	    pipe2(err, O_CLOEXEC) < 0) {
		log_error("%s: cannot make pipes: %s", j->tag, strerror(errno));
		for (int i = 0; i < 2; i++) {
			int fds[] = { in[i], out[i], err[i] };

			for (int k = 0; k < 3; k++)
				if (fds[k] >= 0)
					close(fds[k]);
		}
		return -1;
	}
	argv = build_argv(cmd);
	envp = build_envp(env, pool, resource);
	j->pid = fork();
	if (j->pid == 0)
		exec_child(argv, envp, in[0], out[1], err[1]);
	free(argv);
	free_envp(envp);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	if (j->pid < 0) {
		log_error("%s: cannot fork: %s", j->tag, strerror(errno));
		close(in[1]);
		close(out[0]);
		close(err[0]);
		return -1;
	}
	setpgid(j->pid, j->pid); /* also here: no race with kill(-pid) */
	j->out_ev = watch_fd(j, out[0], EV_READ, on_stdout);
	j->err_ev = watch_fd(j, err[0], EV_READ, on_stderr);
	if (j->in_len > 0)
		j->in_ev = watch_fd(j, in[1], EV_WRITE, on_stdin);
	else
		close(in[1]);
	return 0;
}

struct job *job_start(struct poold *pd, json_t *cmd, double timeout,
		      const char *what, const char *pool,
		      const char *resource, const char *input,
		      job_done_fn done, void *arg)
{
	struct job *j = xcalloc(1, sizeof *j);

	j->pd = pd;
	if (asprintf(&j->tag, "%s %s/%s", what, pool, resource) < 0)
		abort();
	j->input = input ? xstrdup(input) : NULL;
	j->in_len = input ? strlen(input) : 0;
	j->out = malloc(OUT_MAX + 1);
	if (!j->out)
		abort();
	j->timeout = timeout;
	j->done = done;
	j->arg = arg;
	j->timer = evtimer_new(pd->base, on_timer, j);
	/* The command setting, or (as older callers pass it) its argv. */
	if (json_is_object(cmd)) {
		j->env = json_deep_copy(json_object_get(cmd, "env"));
		cmd = json_object_get(cmd, "cmd");
	}
	j->cmd = json_deep_copy(cmd);
	j->pool = xstrdup(pool);
	j->resource = xstrdup(resource);
	TAILQ_INSERT_TAIL(&pd->jobs, j, link);
	return j;
}

static void launch(struct job *j)
{
	j->launched = true;
	j->started = now_mono();
	if (spawn(j, j->cmd, j->env, j->pool, j->resource) < 0) {
		/* Reported from the loop, like any other end of a job. */
		j->pid = 0;
		j->exited = true;
		j->status = -1;
		arm(j, 0);
		return;
	}
	log_debug("%s: started pid %d", j->tag, (int)j->pid);
	/* libevent's coarse clock may fire a few milliseconds early; a
	 * command never gets less than its timeout. */
	if (j->timeout > 0)
		arm(j, j->timeout + 0.02);
}

void jobs_seal(struct poold *pd)
{
	struct job *j;

	TAILQ_FOREACH(j, &pd->jobs, link)
		j->sealed = true;
}

void jobs_launch(struct poold *pd)
{
	struct job *j;

	TAILQ_FOREACH(j, &pd->jobs, link)
		if (j->sealed && !j->launched)
			launch(j);
}

bool jobs_pending(const struct poold *pd)
{
	const struct job *j;

	TAILQ_FOREACH(j, &pd->jobs, link)
		if (!j->launched)
			return true;
	return false;
}

bool job_launched(const struct job *j)
{
	return j->launched;
}

void job_cancel(struct job *j)
{
	if (j->launched && j->pid > 0 && !j->exited)
		kill(-j->pid, SIGKILL); /* reaped by on_sigchld, ignored */
	job_free(j);
}

void jobs_stop_all(struct poold *pd)
{
	while (!TAILQ_EMPTY(&pd->jobs))
		job_cancel(TAILQ_FIRST(&pd->jobs));
	if (pd->sigchld_ev) {
		event_free(pd->sigchld_ev);
		pd->sigchld_ev = NULL;
	}
}
