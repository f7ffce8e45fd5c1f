/*
 * fuzz_requests.c - libFuzzer target: arbitrary bytes through the daemon's
 * real framing (conn.c), parsing (proto.c), dispatch, handlers and store, on
 * a temporary database. One in-process struct poold per process (as in
 * tests/unit/fixture.h); each input is one client connection on a
 * socketpair: the bytes are written, the write half is closed, the event
 * loop runs until the daemon has answered everything and closed its side.
 *
 * State carries over from input to input (pools, resources, leases), which
 * is what reaches deep code; to bound the growth the daemon is reopened on a
 * fresh database every POOL_FUZZ_RESET inputs (default 2000). To replay a
 * crash on its own, run with POOL_FUZZ_RESET=1: every input then starts
 * from an empty database.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "janitor.h"
#include "log.h"
#include "options.h"
#include "pool.h"
#include "pool_protocol.h"
#include "poold.h"
#include "reply.h"
#include "store.h"
#include "util.h"
#include "wait.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An input whose connection is not closed by the daemon within this long
 * after our EOF is a hang: reported as a crash. */
#define INPUT_DEADLINE 10.0

static struct poold pd;
static char dir[64];
static char db_path[128];
static long reset_every = 2000;
static long inputs;

static void remove_db(void)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	char path[160];

	for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
		snprintf(path, sizeof path, "%s%s", db_path, suffix[i]);
		unlink(path);
	}
}

static struct store_ops no_backup_ops;

static void daemon_open(void)
{
	char err[512];

	memset(&pd, 0, sizeof pd);
	/* The daemon's own defaults for every limit, as the real poold. */
	options_defaults(&pd.cfg);
	free(pd.cfg.db_path);
	free(pd.cfg.socket_path);
	pd.cfg.db_path = xstrdup(db_path);
	pd.cfg.socket_path = xstrdup("unused");
	/* Small enough that a 4 KiB input can also be too_large. */
	pd.cfg.max_line = 2048;
	pd.cfg.max_conns = 16;
	if (poold_open(&pd, err, sizeof err) < 0) {
		fprintf(stderr, "fuzz_requests: poold_open: %s\n", err);
		abort();
	}
	/* The fuzzer is root on the socket, an admin: a found "backup" op
	 * must not create files wherever it names one. The backend without
	 * a backup function is fuzzed instead (the op's refusal). */
	no_backup_ops = *pd.store->ops;
	no_backup_ops.backup = NULL;
	pd.store->ops = &no_backup_ops;
	janitor_start(&pd);
}

static void daemon_close(void)
{
	janitor_stop(&pd);
	poold_close(&pd);
	options_free(&pd.cfg);
	remove_db();
}

static void cleanup(void)
{
	daemon_close();
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *env = getenv("POOL_FUZZ_RESET");

	(void)argc;
	(void)argv;
	if (env && atol(env) > 0)
		reset_every = atol(env);
	/* Only errors (a failed commit, say): libFuzzer's lines stay readable. */
	log_threshold = getenv("POOL_FUZZ_LOG") ? LOG_DEBUG : LOG_ERROR;
	/* On a tmpfs when there is one: commits are then cheap. */
	snprintf(dir, sizeof dir, "%s/poold-fuzz-XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (!mkdtemp(dir))
		abort();
	snprintf(db_path, sizeof db_path, "%s/poold.db", dir);
	daemon_open();
	atexit(cleanup);
	return 0;
}

/* Reads and discards whatever the daemon sent; returns 1 on EOF. */
static int drain(int fd)
{
	char buf[65536];

	for (;;) {
		ssize_t r = read(fd, buf, sizeof buf);

		if (r > 0)
			continue;
		if (r == 0)
			return 1;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return 1; /* ECONNRESET: the daemon is gone too */
	}
}

/* A waiting request keeps a half-closed client's connection open until it
 * is answered (by design: docs/protocol.md), and its wait may be long:
 * after the client's EOF, waits end at once (as a full close would end
 * them) so that the connection can. */
static void end_waits(void)
{
	struct pool *p;
	size_t pos = 0;

	while ((p = hmap_next(&pd.pools, &pos)))
		if (!TAILQ_EMPTY(&p->waiters) || !TAILQ_EMPTY(&p->creators))
			wait_fail_all(p, POOL_ERR_TIMEOUT,
				      "the fuzzed input ended");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	size_t off = 0;
	int eof = 0;
	double deadline;

	if (++inputs % reset_every == 0) {
		daemon_close();
		daemon_open();
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	conn_accept(&pd, sv[0], false); /* as on the Unix socket */

	/* Write everything, letting the daemon read and answer meanwhile. */
	while (off < size && !eof) {
		ssize_t w = write(sv[1], data + off, size - off);

		if (w > 0)
			off += (size_t)w;
		else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
			 errno != EINTR)
			break; /* the daemon closed (too_large): fine */
		reply_turn(&pd, EVLOOP_NONBLOCK);
		eof = drain(sv[1]);
	}
	shutdown(sv[1], SHUT_WR);

	/* The daemon answers every line, then closes its side. */
	deadline = now_mono() + INPUT_DEADLINE;
	while (!eof) {
		reply_turn(&pd, EVLOOP_NONBLOCK);
		end_waits();
		eof = drain(sv[1]);
		if (!eof && now_mono() > deadline) {
			fprintf(stderr, "fuzz_requests: the daemon did not close "
				"the connection within %.0f s of the client's EOF\n",
				INPUT_DEADLINE);
			abort();
		}
	}
	close(sv[1]);
	/* Let deferred frees happen (the connection is released on the next
	 * loop turn). */
	reply_turn(&pd, EVLOOP_NONBLOCK);
	return 0;
}
