/*
 * h_net.h - TCP for the black-box tests: a free loopback port, and a raw
 * connection to poold's --listen port (raw_* of harness.h then read and
 * write it) that introduces itself with a token.
 */
#ifndef FUNC_H_NET_H
#define FUNC_H_NET_H

#include "harness.h"

/* A TCP port on 127.0.0.1 that nothing listens on right now. */
int h_free_port(void);

/* A raw connection to 127.0.0.1:port; fails the test when refused. */
raw_conn *raw_connect_tcp(int port);

/* Sends hello with token and asserts it is accepted. */
void raw_hello(raw_conn *r, const char *token);

#endif
