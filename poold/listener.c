/* listener.c - see listener.h. */
#include "listener.h"

#include <errno.h>
#include <event2/listener.h>
#include <libgen.h>
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

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
		      struct sockaddr *sa, int len, void *arg)
{
	conn_accept(arg, fd);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
	/* EMFILE and friends: the listener keeps going; say so once each. */
	log_warn("accept failed: %s", strerror(errno));
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
	pd->listener = evconnlistener_new(pd->base, on_accept, pd,
					  LEV_OPT_CLOSE_ON_FREE, 1024, fd);
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

void listener_close(struct poold *pd)
{
	if (!pd->listener)
		return;
	evconnlistener_free(pd->listener);
	pd->listener = NULL;
	unlink(pd->cfg.socket_path);
}
