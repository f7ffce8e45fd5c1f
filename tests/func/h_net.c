/* h_net.c - see h_net.h. */
#include "h_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int h_free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	p = ntohs(sa.sin_port);
	close(fd);
	return p;
}

raw_conn *raw_connect_tcp(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	raw_conn *r;

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		fail_msg("connect 127.0.0.1:%d: %s", port, strerror(errno));
	r = calloc(1, sizeof(*r));
	assert_non_null(r);
	r->fd = fd;
	return r;
}

void raw_hello(raw_conn *r, const char *token)
{
	char line[200];
	json_t *a;

	snprintf(line, sizeof(line), "{\"op\":\"hello\",\"token\":\"%s\"}", token);
	a = raw_req(r, line);
	resp_result(a);
	json_decref(a);
}
