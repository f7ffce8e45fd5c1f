/*
 * tls.c - libpool's TLS: the client handshake (verifying poold's certificate
 * and host name unless told not to) and reads and writes through OpenSSL on
 * a non-blocking socket, so that client.c frames the same bytes either way.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "internal.h"

struct pool__tls {
	SSL_CTX *ctx; /* owned */
	SSL *ssl;     /* owned; reads and writes the client's fd, which it does not own */
};

/*
 * OpenSSL writes with write(2), and a write to a peer that went away raises
 * SIGPIPE, which would kill a program that never asked for signals. As libpq
 * does, block SIGPIPE in this thread around the write and consume the one it
 * raised, instead of changing the process's disposition behind its back.
 */
struct pipe_guard {
	sigset_t old;
	int was_pending; /* a SIGPIPE of the caller's own was pending already */
};

static void pipe_block(struct pipe_guard *g)
{
	sigset_t pipe, pending;

	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, &g->old);
	sigpending(&pending);
	g->was_pending = sigismember(&pending, SIGPIPE);
}

static void pipe_unblock(struct pipe_guard *g)
{
	sigset_t pipe, pending;
	struct timespec zero = { 0, 0 };

	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	sigpending(&pending);
	if (!g->was_pending && sigismember(&pending, SIGPIPE))
		sigtimedwait(&pipe, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* The last OpenSSL error as text, or fallback when its queue is empty. */
static const char *ssl_reason(const char *fallback)
{
	unsigned long e = ERR_get_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return r ? r : fallback;
}

/* Asks the handshake to check that the certificate names host, which is a
 * DNS name or an IP address literal (checked against an IP SAN). */
static int want_host(SSL *ssl, const char *host)
{
	unsigned char addr[16];

	if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1 ? 0 : -1;
	if (SSL_set_tlsext_host_name(ssl, host) != 1)
		return -1;
	return SSL_set1_host(ssl, host) == 1 ? 0 : -1;
}

/* A context that trusts opts->tls_ca (else the system's CAs); NULL with err. */
static SSL_CTX *client_context(const pool_connect_opts *o, const char *where,
			       pool_error *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx) {
		pool__seterr(err, POOL_E_INTERNAL, "libpool: cannot create a TLS context: %s",
			     ssl_reason("out of memory?"));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* A peer that closes without close_notify is a lost connection, which
	 * client.c reports in its own words. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_verify(ctx, o->tls_insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
	if (o->tls_insecure)
		return ctx;
	if (o->tls_ca ? SSL_CTX_load_verify_locations(ctx, o->tls_ca, NULL) != 1
		      : SSL_CTX_set_default_verify_paths(ctx) != 1) {
		pool__seterr(err, POOL_E_UNREACHABLE,
			     "TLS to poold at %s: cannot load the CA certificates from %s: %s",
			     where, o->tls_ca ? o->tls_ca : "the system's store",
			     ssl_reason("unreadable"));
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* Explains a failed handshake: the verification result if that is what
 * failed, else OpenSSL's reason. */
static void handshake_error(SSL *ssl, const pool_connect_opts *o, const char *where,
			    const char *host, pool_error *err)
{
	long v = SSL_get_verify_result(ssl);

	if (v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH)
		pool__seterr(err, POOL_E_UNREACHABLE,
			     "TLS certificate verification failed for poold at %s: the "
			     "certificate is not for \"%s\" (connect with a name or address "
			     "the certificate lists)", where, host);
	else if (v != X509_V_OK)
		pool__seterr(err, POOL_E_UNREACHABLE,
			     "TLS certificate verification failed for poold at %s: %s (%s)",
			     where, X509_verify_cert_error_string(v),
			     o->tls_ca ? "is --tls-ca the CA that signed poold's certificate?"
				       : "pass --tls-ca FILE with the CA that signed poold's "
					 "certificate");
	else
		pool__seterr(err, POOL_E_UNREACHABLE,
			     "TLS handshake with poold at %s failed: %s (is poold started "
			     "with --tls-cert and --tls-key?)", where,
			     ssl_reason("the connection was closed"));
}

/* The SSL_ERROR_WANT_* of a call as poll events; 0 when it is not one. */
static short want_events(SSL *ssl, int rc)
{
	switch (SSL_get_error(ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		return POLLIN;
	case SSL_ERROR_WANT_WRITE:
		return POLLOUT;
	default:
		return 0;
	}
}

pool__tls *pool__tls_start(int fd, const char *host, const char *where,
			   const pool_connect_opts *o, double deadline, pool_error *err)
{
	pool__tls *t = calloc(1, sizeof(*t));
	struct pipe_guard g;
	int rc, w;

	if (!t) {
		pool__seterr(err, POOL_E_INTERNAL, "libpool: out of memory");
		return NULL;
	}
	ERR_clear_error();
	if (!(t->ctx = client_context(o, where, err)))
		goto fail;
	if (!(t->ssl = SSL_new(t->ctx)) || SSL_set_fd(t->ssl, fd) != 1 ||
	    (!o->tls_insecure && want_host(t->ssl, host) < 0)) {
		pool__seterr(err, POOL_E_INTERNAL, "libpool: cannot set up TLS for %s: %s",
			     where, ssl_reason("out of memory?"));
		goto fail;
	}
	for (;;) {
		pipe_block(&g);
		rc = SSL_connect(t->ssl);
		pipe_unblock(&g);
		if (rc == 1)
			return t;
		if (!(w = want_events(t->ssl, rc))) {
			handshake_error(t->ssl, o, where, host, err);
			goto fail;
		}
		if ((rc = pool__wait_fd(fd, (short)w, deadline)) != 0) {
			if (rc > 0)
				pool__seterr(err, POOL_E_TIMEOUT,
					     "the TLS handshake with poold at %s did not finish "
					     "within %g s (--timeout)", where, o->timeout);
			else
				pool__seterr(err, POOL_E_UNREACHABLE,
					     "TLS handshake with poold at %s: %s", where,
					     strerror(errno));
			goto fail;
		}
	}
fail:
	pool__tls_free(t);
	return NULL;
}

ssize_t pool__tls_read(pool__tls *t, void *buf, size_t n, short *events)
{
	int rc = SSL_read(t->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
	int e;

	if (rc > 0)
		return rc;
	e = SSL_get_error(t->ssl, rc);
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	if ((*events = want_events(t->ssl, rc)) != 0) {
		errno = EAGAIN;
		return -1;
	}
	ERR_clear_error();
	if (e == SSL_ERROR_SYSCALL && errno == 0)
		return 0;
	if (e != SSL_ERROR_SYSCALL)
		errno = EPROTO;
	return -1;
}

ssize_t pool__tls_write(pool__tls *t, const void *buf, size_t n, short *events)
{
	struct pipe_guard g;
	int rc, e;

	pipe_block(&g);
	rc = SSL_write(t->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
	pipe_unblock(&g);
	if (rc > 0)
		return rc;
	if ((*events = want_events(t->ssl, rc)) != 0) {
		errno = EAGAIN;
		return -1;
	}
	e = SSL_get_error(t->ssl, rc);
	ERR_clear_error();
	if (e != SSL_ERROR_SYSCALL || errno == 0)
		errno = e == SSL_ERROR_ZERO_RETURN ? EPIPE : EPROTO;
	return -1;
}

void pool__tls_free(pool__tls *t)
{
	if (!t)
		return;
	SSL_free(t->ssl);
	SSL_CTX_free(t->ctx);
	free(t);
}
