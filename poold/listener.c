/* listener.c - see listener.h. */
#include "listener.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <libgen.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "poold.h"
#include "util.h"

/* How long accepting pauses when descriptors run out. */
#define ACCEPT_PAUSE_MS 200

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
		      struct sockaddr *sa, int len, void *arg)
{
	struct poold *pd = arg;

	pd->accept_trouble = false; /* the episode, if any, is over */
	conn_accept(pd, fd, false);
}

static void on_accept_tcp(struct evconnlistener *l, evutil_socket_t fd,
			  struct sockaddr *sa, int len, void *arg)
{
	struct poold *pd = arg;

	pd->accept_trouble = false;
	conn_accept(pd, fd, true);
}

static void set_accepting(struct poold *pd, bool on)
{
	struct evconnlistener *ls[] = { pd->listener, pd->tcp_listener };

	for (size_t i = 0; i < 2; i++)
		if (ls[i])
			(on ? evconnlistener_enable : evconnlistener_disable)(
				ls[i]);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	set_accepting(arg, true);
}

/* Out of descriptors (EMFILE/ENFILE, or the kernel's memory): the pending
 * connection stays in the backlog and would wake the loop again at once,
 * so accepting pauses for ACCEPT_PAUSE_MS. One log line and one count per
 * episode, which ends with the next accepted connection. Other errors
 * (a connection reset before it was accepted) are only logged at debug. */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
	struct poold *pd = arg;
	struct timeval pause = { 0, ACCEPT_PAUSE_MS * 1000 };
	int err = errno;

	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM) {
		log_debug("accept failed: %s", strerror(err));
		return;
	}
	if (!pd->accept_trouble) {
		pd->accept_trouble = true;
		pd->refused.accept_paused++;
		log_warn("cannot accept connections: %s; pausing accepts until "
			 "descriptors are free (raise the limit: ulimit -n, "
			 "LimitNOFILE=)", strerror(err));
	}
	set_accepting(pd, false);
	if (!pd->accept_ev)
		pd->accept_ev = evtimer_new(pd->base, on_resume, pd);
	evtimer_add(pd->accept_ev, &pause);
}

/* A socket file that answers belongs to a live daemon; one that refuses is
 * left over from a crash and may be replaced. */
static int check_existing(const char *path, const struct sockaddr_un *sa,
			  char *err, size_t errlen)
{
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket; remove "
			 "it or choose another --socket", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	rc = connect(fd, (const struct sockaddr *)sa, sizeof *sa);
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen, "another poold is already listening on "
			 "%s; stop it first or choose another --socket", path);
		return -1;
	}
	unlink(path);
	return 0;
}

int listener_open(struct poold *pd, char *err, size_t errlen)
{
	const char *path = pd->cfg.socket_path;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof sa.sun_path];
	int fd;

	if (strlen(path) >= sizeof sa.sun_path) {
		snprintf(err, errlen, "socket path %s is longer than %zu bytes",
			 path, sizeof sa.sun_path - 1);
		return -1;
	}
	strcpy(sa.sun_path, path);
	snprintf(dir, sizeof dir, "%s", path);
	if (mkdir(dirname(dir), 0755) < 0 && errno != EEXIST)
		log_debug("cannot create the socket's directory: %s",
			  strerror(errno));
	if (check_existing(path, &sa, err, errlen) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    chmod(path, 0660) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", path,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* Accepted sockets close on exec too, or a command would hold
	 * clients' connections open. */
	pd->listener = evconnlistener_new(pd->base, on_accept, pd,
					  LEV_OPT_CLOSE_ON_FREE |
					  LEV_OPT_CLOSE_ON_EXEC, 1024, fd);
	if (!pd->listener) {
		snprintf(err, errlen, "cannot listen on %s: %s", path,
			 strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	evconnlistener_set_error_cb(pd->listener, on_accept_error);
	log_info("listening on %s", path);
	return 0;
}

bool listener_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr)
			>> 24) == 127;
	return sa->sa_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(
		&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

int listener_split_hostport(const char *s, char *buf, size_t len,
			  const char **host, const char **port)
{
	char *colon;

	snprintf(buf, len, "%s", s);
	colon = strrchr(buf, ':');
	if (!colon || colon == buf || !colon[1])
		return -1;
	*colon = '\0';
	*port = colon + 1;
	*host = buf;
	if (buf[0] == '[' && colon[-1] == ']') {
		colon[-1] = '\0';
		*host = buf + 1;
	}
	return 0;
}

int listener_open_tcp(struct poold *pd, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_flags = AI_PASSIVE,
				  .ai_socktype = SOCK_STREAM }, *ai;
	const char *host, *port;
	char buf[300];
	int rc;

	if (listener_split_hostport(pd->cfg.listen, buf, sizeof buf, &host, &port) < 0) {
		snprintf(err, errlen, "--listen wants HOST:PORT, not \"%s\"",
			 pd->cfg.listen);
		return -1;
	}
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
		snprintf(err, errlen, "--listen %s: %s", pd->cfg.listen,
			 gai_strerror(rc));
		return -1;
	}
	if (!listener_loopback(ai->ai_addr) && !pd->cfg.listen_public) {
		snprintf(err, errlen, "--listen %s is not a loopback address; "
			 "add --listen-public to serve the network",
			 pd->cfg.listen);
		freeaddrinfo(ai);
		return -1;
	}
	pd->tcp_listener = evconnlistener_new_bind(pd->base, on_accept_tcp, pd,
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
		128, ai->ai_addr, (int)ai->ai_addrlen);
	freeaddrinfo(ai);
	if (!pd->tcp_listener) {
		snprintf(err, errlen, "cannot listen on %s: %s", pd->cfg.listen,
			 strerror(errno));
		return -1;
	}
	evconnlistener_set_error_cb(pd->tcp_listener, on_accept_error);
	log_info("listening on TCP %s%s", pd->cfg.listen,
		 pd->tls ? " with TLS" : "");
	return 0;
}

void listener_close(struct poold *pd)
{
	if (pd->accept_ev) {
		event_free(pd->accept_ev);
		pd->accept_ev = NULL;
	}
	if (pd->tcp_listener) {
		evconnlistener_free(pd->tcp_listener);
		pd->tcp_listener = NULL;
	}
	if (!pd->listener)
		return;
	evconnlistener_free(pd->listener);
	pd->listener = NULL;
	unlink(pd->cfg.socket_path);
}
