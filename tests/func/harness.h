/*
 * harness.h - black-box test harness: starts the real poold in a private temp
 * directory per test, talks to it through libpool and through raw sockets, and
 * checks on the way out that it stopped cleanly with a clean log.
 *
 * Every test is registered with FTEST(fn): its teardown stops (and reports the
 * log of) any daemon the test left running, which is what happens when an
 * assertion fails half-way. A test that passes ends with poold_stop(d), which
 * asserts exit status 0 and a log without sanitizer or assertion reports.
 */
#ifndef FUNC_HARNESS_H
#define FUNC_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>
#include <jansson.h>

#include "pool.h"
#include "pool_protocol.h"

#define H_MAX_ARGS 16

/* Defined in a build with AddressSanitizer: a test that preloads its own
 * allocator shim or measures memory skips there. */
#if defined(__SANITIZE_ADDRESS__)
#define H_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define H_SANITIZED 1
#endif
#endif

/* One poold child process and its private directory. */
typedef struct poold_proc {
	char dir[256];               /* mkdtemp'd, mode 0755 */
	char sock[300];              /* DIR/poold.sock */
	char db[300];                /* DIR/poold.db */
	char log[300];               /* DIR/poold.log (stdout+stderr, appended) */
	pid_t pid;                   /* 0 when not running */
	char *extra[H_MAX_ARGS + 1]; /* owned copies of the extra args, NULL-ended */
	char store_dir[256];         /* "" = its own store; else the directory
				      * whose store it shares (poold_start_peer) */
} poold_proc;

/* Start poold with extra arguments (a NULL-terminated list); asserts it answers
 * ping within 10 s. */
poold_proc *poold_start(const char *extra, ...);
/* SIGTERM, assert exit 0 within 10 s and a clean log, remove the dir, free. */
void poold_stop(poold_proc *d);
/* kill -9, reap, and start again on the same directory (socket, db, log). */
void poold_kill9_restart(poold_proc *d);
/* The two halves of it: kill -9 and reap; start again on the same directory. */
void poold_kill9(poold_proc *d);
void poold_respawn(poold_proc *d);
/* SIGTERM (asserting exit 0) and start again on the same directory. */
void poold_term_restart(poold_proc *d);
/* Print the daemon's log to stderr. */
void poold_print_log(const poold_proc *d);
/* cmocka teardown used by FTEST: kills and reports daemons a failed test left. */
int harness_teardown(void **state);
#define FTEST(f) cmocka_unit_test_teardown(f, harness_teardown)
/* Run a group of FTESTs (ignores SIGPIPE first). */
#define RUN_FTESTS(tests) (harness_init(), cmocka_run_group_tests(tests, NULL, NULL))
void harness_init(void);

/* Time. */
double h_now(void);            /* CLOCK_MONOTONIC seconds */
double h_wall(void);           /* CLOCK_REALTIME seconds */
uint64_t h_now_ns(void);       /* CLOCK_MONOTONIC nanoseconds */
void h_sleep(double seconds);  /* only for pacing, never to wait for a state */
/* Poll cond(arg) every 10 ms until true (returns true) or deadline seconds pass. */
bool wait_until(bool (*cond)(void *arg), void *arg, double deadline);
/* The same for an expression; fails the test on timeout. */
#define WAIT_UNTIL(expr, secs)                                                     \
	do {                                                                       \
		double wu_dl_ = h_now() + (secs);                                  \
		while (!(expr)) {                                                  \
			if (h_now() > wu_dl_)                                      \
				fail_msg("timed out after %gs waiting for: %s",    \
					 (double)(secs), #expr);                   \
			h_sleep(0.01);                                             \
		}                                                                  \
	} while (0)

/* Parse an RFC 3339 UTC timestamp ("2026-11-22T10:04:05.123Z"); -1 if malformed. */
double h_parse_time(const char *s);

/* libpool helpers. `args` is stolen (may be NULL). */
pool_client *h_connect_at(const char *file, int line, poold_proc *d);
#define h_connect(d) h_connect_at(__FILE__, __LINE__, d)
json_t *h_call_ok(const char *file, int line, pool_client *c, const char *op, json_t *args);
/* Asserts the call fails with `code`; returns the message (static buffer). */
const char *h_call_err(const char *file, int line, pool_client *c, const char *op,
		       json_t *args, pool_code code);
#define CALL_OK(c, op, args) h_call_ok(__FILE__, __LINE__, c, op, args)
#define CALL_ERR(c, op, args, code) h_call_err(__FILE__, __LINE__, c, op, args, code)
/* json_pack that fails the test on a format error. */
json_t *h_pack_at(const char *file, int line, const char *fmt, ...);
#define J(...) h_pack_at(__FILE__, __LINE__, __VA_ARGS__)

/* Field access that fails the test when the field is missing or mistyped. */
const char *h_str_at(const char *file, int line, json_t *o, const char *key);
json_int_t h_int_at(const char *file, int line, json_t *o, const char *key);
json_t *h_obj_at(const char *file, int line, json_t *o, const char *key);
#define JSTR(o, k) h_str_at(__FILE__, __LINE__, o, k)
#define JINT(o, k) h_int_at(__FILE__, __LINE__, o, k)
#define JOBJ(o, k) h_obj_at(__FILE__, __LINE__, o, k)

/* Common fixtures. */
/* pool.create {"pool": name, "create": "none"} plus settings (JSON text, may be NULL). */
void h_pool(pool_client *c, const char *name, const char *settings_json);
/* resource.add names given as a NULL-terminated list with descriptor {"n": name}. */
void h_add(pool_client *c, const char *pool, ...);
/* The pool's status entry (new ref) and a counter/field of it. */
json_t *h_status(pool_client *c, const char *pool);
json_int_t h_status_field(pool_client *c, const char *pool, const char *field);
json_int_t h_counter(pool_client *c, const char *pool, const char *counter);
/* resource.get state, or "" when not found. */
const char *h_res_state(pool_client *c, const char *pool, const char *name);

/* Raw socket connection with its own line buffer. */
typedef struct raw_conn {
	int fd;
	char *buf;  /* owned; bytes received but not yet returned */
	size_t len;
	size_t cap;
	bool eof;   /* the peer closed (or reset) */
} raw_conn;
raw_conn *raw_connect(const char *sock);   /* asserts */
raw_conn *raw_connect_try(const char *sock); /* NULL on failure */
void raw_close(raw_conn *r);
/* Write all bytes; returns 0, or -1 with errno (EPIPE etc.) without failing. */
int raw_write(raw_conn *r, const void *data, size_t len);
/* raw_write of a string that asserts success. */
void raw_send(raw_conn *r, const char *s);
/* Next line (malloc'd, without '\n'), or NULL on timeout/EOF. */
char *raw_read_line(raw_conn *r, double timeout);
/* Next line parsed as a JSON object (new ref); fails the test on timeout, EOF
 * or a line that is not a JSON object. */
json_t *raw_recv_at(const char *file, int line, raw_conn *r, double timeout);
#define raw_recv(r, t) raw_recv_at(__FILE__, __LINE__, r, t)
/* Send one line (adds '\n') and receive the answer. */
json_t *raw_req_at(const char *file, int line, raw_conn *r, const char *req);
#define raw_req(r, req) raw_req_at(__FILE__, __LINE__, r, req)
/* True if nothing arrives within `timeout` (and the peer did not close). */
bool raw_silent(raw_conn *r, double timeout);
/* True when the peer closes within `timeout` (any pending lines are dropped). */
bool raw_wait_eof(raw_conn *r, double timeout);
/* The error code of a response ("" when it is ok:true or malformed). */
const char *resp_code(json_t *resp);
/* Asserts ok:true and returns the borrowed result. */
json_t *resp_result_at(const char *file, int line, json_t *resp);
#define resp_result(r) resp_result_at(__FILE__, __LINE__, r)
/* Asserts ok:false with this code. */
void resp_expect_err_at(const char *file, int line, json_t *resp, const char *code);
#define resp_expect_err(r, c) resp_expect_err_at(__FILE__, __LINE__, r, c)

/* Clients as another user. */
/* Skip the current test with a message unless running as root. */
void h_require_root(void);
/* fork(); in the child drop to nobody (setgid(gid or nobody's group), setuid
 * nobody) and return 0; in the parent return the pid. gid -1 means nobody's
 * primary group. */
pid_t h_fork_as_nobody(gid_t gid);
/* Reap a child; returns its exit status (or 128+signal). Fails after 30 s. */
int h_wait_child(pid_t pid);
int h_wait_child_for(pid_t pid, double secs);
/* uid/gid of nobody. */
uid_t h_nobody_uid(void);
gid_t h_nobody_gid(void);
/* In a forked child (no cmocka there): print and _exit(1) when cond is false. */
#define CHILD_CHECK(cond)                                                          \
	do {                                                                       \
		if (!(cond)) {                                                     \
			fprintf(stderr, "%s:%d: child check failed: %s\n",       \
				__FILE__, __LINE__, #cond);                        \
			_exit(1);                                                  \
		}                                                                  \
	} while (0)
/* In a child: call and return the code (POOL_OK or the error), result into *res. */
pool_code child_call(pool_client *c, const char *op, json_t *args, json_t **res);

/* Front ends sharing one store (PostgreSQL mode: POOL_TEST_STORE). */
/* Start another poold (own directory, socket and log) on first's store;
 * stop it before first, whose stop drops the store. */
poold_proc *poold_start_peer(const poold_proc *first, const char *extra, ...);
/* Its "role" in status ("leader" or "standby"), or "" when it does not
 * answer. A static buffer. */
const char *poold_role(const poold_proc *d);

#endif
