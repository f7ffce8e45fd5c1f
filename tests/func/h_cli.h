/*
 * h_cli.h - helpers of the black-box tests that use poolctl as a person
 * would: run a shell script with poolctl on PATH and capture what it
 * prints, pick a free TCP port, make a CA and a server certificate, and
 * start poold on TCP (optionally with TLS).
 */
#ifndef FUNC_H_CLI_H
#define FUNC_H_CLI_H

#include "harness.h"
#include "h_net.h" /* h_free_port() */

/* stdout and stderr of the last h_sh(); owned here, replaced by the next. */
extern char *h_out, *h_err;

/* Runs `sh -c SCRIPT` with poolctl first on PATH and POOLD_SOCKET set to
 * d's socket (d may be NULL), stdin from /dev/null; returns its exit status
 * (128+N after signal N) and fills h_out and h_err. Fails after 60 s. */
int h_sh(poold_proc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* In a child: the environment of every script (poolctl first on PATH,
 * POOLD_SOCKET set to d's socket when d is not NULL). */
void h_sh_env(const poold_proc *d);

/* Starts `sh -c script` as h_sh() does (as nobody if asked), its stdout
 * and stderr into the files out and err; returns its pid. */
pid_t h_sh_spawn(const poold_proc *d, bool nobody, const char *script,
		 const char *out, const char *err);

/* Asserts h_sh(...) exits with rc; prints the script's output if not. */
#define H_SH_RC(rc, d, ...)                                                           \
	do {                                                                          \
		int h_rc_ = h_sh(d, __VA_ARGS__);                                     \
		if (h_rc_ != (rc))                                                    \
			fail_msg("exit %d, expected %d\nstdout:\n%s\nstderr:\n%s", h_rc_, \
				 (rc), h_out, h_err);                                 \
	} while (0)
#define H_SH_OK(d, ...) H_SH_RC(0, d, __VA_ARGS__)
/* Fails the test unless needle is in text. */
#define H_HAS(text, needle)                                                          \
	do {                                                                         \
		if (!strstr((text), (needle)))                                       \
			fail_msg("expected \"%s\" in:\n%s", (needle), (text));       \
	} while (0)
#define H_HASNT(text, needle)                                                        \
	do {                                                                         \
		if (strstr((text), (needle)))                                        \
			fail_msg("did not expect \"%s\" in:\n%s", (needle), (text)); \
	} while (0)

/* A private directory for files a test makes before poold starts; mkdtemp'd
 * under /tmp into buf (at least 64 bytes). Remove it with h_rmdir(). */
void h_tmpdir(char *buf, size_t len);
void h_rmdir(const char *dir);

/* Makes DIR/ca.pem (a CA) and DIR/cert.pem + DIR/key.pem (a server
 * certificate it signed for DNS:poold.test and IP:127.0.0.1) with the
 * openssl command. */
void h_make_certs(const char *dir);

/* Writes DIR/tokens (mode 600) with "alice alice-secret-token-0001 admin". */
void h_make_tokens(const char *dir);
#define H_ALICE_TOKEN "alice-secret-token-0001"

/* Starts poold listening on 127.0.0.1:*port (chosen here) with DIR/tokens,
 * and with TLS from DIR/cert.pem and DIR/key.pem if tls. */
poold_proc *h_start_tcp(const char *dir, bool tls, int *port);

/* poold with pool "p" (settings: JSON text, may be NULL), a client in *c. */
poold_proc *h_start_with_pool(pool_client **c, const char *settings);
/* Closes c and stops d. */
void h_finish(poold_proc *d, pool_client *c);

#endif
