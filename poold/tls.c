/* tls.c - see tls.h. */
#include "tls.h"

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>

void *tls_context(const char *cert, const char *key, char *err,
		  size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx) {
		snprintf(err, errlen, "cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "TLS certificate %s / key %s: %s", cert,
			 key, ERR_reason_error_string(ERR_get_error()));
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

void tls_context_free(void *ctx)
{
	SSL_CTX_free(ctx);
}

struct bufferevent *tls_accept(struct event_base *base, int fd, void *ctx)
{
	SSL *ssl = SSL_new(ctx);

	if (!ssl)
		return NULL;
	return bufferevent_openssl_socket_new(base, fd, ssl,
					      BUFFEREVENT_SSL_ACCEPTING,
					      BEV_OPT_CLOSE_ON_FREE);
}
