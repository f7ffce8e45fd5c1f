/* conn.c - see conn.h. */
#include "conn.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "events.h"
#include "lease.h"
#include "log.h"
#include "pool_protocol.h"
#include "poold.h"
#include "proto.h"
#include "reply.h"
#include "req.h"
#include "tls.h"
#include "util.h"
#include "wait.h"

/* Lines handled per wake-up before yielding, so one client pipelining
 * thousands of requests cannot starve the others. */
#define LINES_PER_WAKEUP 64
/* Seconds a closed connection may take to accept its last answers. */
#define DRAIN_TIMEOUT 10

struct conn {
	struct poold *pd;
	uint64_t id;
	int fd;                   /* plain socket, owned; -1 for TLS or once
				   * the socket is closed */
	struct bufferevent *bev;  /* TLS only, owned; NULL once closed */
	struct event *rev, *wev;  /* plain: readable (persistent, with the
				   * idle timeout), writable (only while
				   * answers remain unwritten) */
	char *in;                 /* owned; bytes read, not yet handled */
	size_t in_len, in_cap;
	char *out;                /* owned; plain: answers not yet written */
	size_t out_off, out_len, out_cap;
	bool dirty;               /* in pd->dirty: has answers to write */
	bool reading;             /* plain: rev is added */
	struct caller who;        /* fixed at accept */
	int refs;                 /* the connection's own + replies + waiters */
	bool closed;              /* no more input; nothing more is sent */
	bool draining;            /* closed: still writing what was queued */
	bool overflowed;          /* left too many answers unread: closing */
	bool tcp;                 /* came over TCP: must say hello first */
	bool half_closed;         /* the client shut its sending side: it
				   * gets its answers, then is closed */
	unsigned char token_id[AUTH_ID_LEN]; /* TCP: which token said hello */
	const char *doom;         /* static; why it is to be closed, or NULL */
	struct event *more;       /* owned; continues reading after a yield */
	struct event *hello_timer; /* owned; TCP before hello: its deadline */
	TAILQ_ENTRY(conn) link;   /* in pd->conns while open */
	TAILQ_ENTRY(conn) dirty_link; /* in pd->dirty while dirty */
};

static bool in_group(uid_t uid, gid_t gid, gid_t want)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	gid_t groups[256];
	int n = 256;

	if (gid == want)
		return true;
	if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) != 0 || !res)
		return false;
	if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
		return false;
	for (int i = 0; i < n; i++)
		if (groups[i] == want)
			return true;
	return false;
}

/* The caller is the peer's uid; root, the daemon's own uid and members of
 * --admin-group are admins. */
static void identify(struct poold *pd, int fd, struct caller *who)
{
	struct ucred cred = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	socklen_t len = sizeof cred;

	getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len);
	who->uid = cred.uid;
	who->pid = cred.pid;
	snprintf(who->name, sizeof who->name, "uid:%u", (unsigned)cred.uid);
	who->admin = cred.uid == 0 || cred.uid == pd->uid ||
		     (pd->cfg.admin_group &&
		      in_group(cred.uid, cred.gid, pd->cfg.admin_gid));
}

struct conn *conn_ref(struct conn *c)
{
	if (c)
		c->refs++;
	return c;
}

/* Out of line, so that the compiler's use-after-free analysis does not
 * see a free() in every inlined unref and take the reference count for
 * a possible last one (GCC 12 at -O3). */
__attribute__((noinline)) static void conn_free(struct conn *c)
{
	event_free(c->more);
	if (c->hello_timer)
		event_free(c->hello_timer);
	free(c->in);
	free(c->out);
	free(c);
}

void conn_unref(struct conn *c)
{
	if (c && --c->refs == 0)
		conn_free(c);
}

static size_t out_pending(const struct conn *c)
{
	if (c->bev)
		return evbuffer_get_length(bufferevent_get_output(c->bev));
	return c->out_len - c->out_off;
}

static void grow(char **buf, size_t *cap, size_t need)
{
	size_t n = *cap ? *cap : 4096;

	while (n < need)
		n *= 2;
	if (n == *cap)
		return;
	*buf = realloc(*buf, n);
	if (!*buf)
		abort();
	*cap = n;
}

/* Plain sockets: appended to the connection's own buffer, written by
 * conn_write_all() after the commit, one write() per connection. */
static void out_append(struct conn *c, const char *line, size_t len)
{
	if (c->out_off > 0 && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	grow(&c->out, &c->out_cap, c->out_len + len);
	memcpy(c->out + c->out_len, line, len);
	c->out_len += len;
	if (!c->dirty) {
		c->dirty = true;
		TAILQ_INSERT_TAIL(&c->pd->dirty, c, dirty_link);
	}
}

/* A client that never reads must not make the daemon hold its answers
 * without bound: past --max-output it is dropped. The close itself runs
 * from the connection's own event, not inside the reply flush. */
void conn_send(struct conn *c, const char *line, size_t len)
{
	if (!c || c->closed || c->overflowed)
		return;
	if (out_pending(c) + len <= c->pd->cfg.max_output) {
		if (c->bev)
			bufferevent_write(c->bev, line, len);
		else
			out_append(c, line, len);
		return;
	}
	c->overflowed = true;
	c->pd->refused.slow_readers++;
	conn_doom(c, "it left more than --max-output bytes of answers unread");
}

static void stop_reading(struct conn *c)
{
	if (c->bev) {
		bufferevent_disable(c->bev, EV_READ);
	} else if (c->reading) {
		event_del(c->rev);
		c->reading = false;
	}
}

static void start_reading(struct conn *c)
{
	struct timeval idle = { c->pd->cfg.idle_timeout, 0 };

	if (c->bev || c->reading || c->closed || c->doom || c->half_closed)
		return;
	event_add(c->rev, c->pd->cfg.idle_timeout > 0 ? &idle : NULL);
	c->reading = true;
}

void conn_doom(struct conn *c, const char *reason)
{
	if (c->doom || c->closed)
		return;
	c->doom = reason;
	stop_reading(c);
	event_active(c->more, EV_TIMEOUT, 0);
}

bool conn_needs_hello(const struct conn *c)
{
	return c && c->tcp && c->who.name[0] == '\0';
}

/* A TCP connection leaves the small budget of anonymous connections. */
static void leave_anonymous(struct conn *c)
{
	if (!c->hello_timer)
		return;
	event_free(c->hello_timer);
	c->hello_timer = NULL;
	c->pd->nanon--;
}

void conn_authenticate(struct conn *c, const char *name, bool admin,
		       const unsigned char *token_id)
{
	snprintf(c->who.name, sizeof c->who.name, "%s", name);
	c->who.admin = admin;
	memcpy(c->token_id, token_id, sizeof c->token_id);
	leave_anonymous(c);
	log_info("conn %llu is %s%s", (unsigned long long)c->id, name,
		 admin ? " (admin)" : "");
}

void conn_recheck_tokens(struct poold *pd)
{
	struct conn *c, *next;
	bool admin;

	for (c = TAILQ_FIRST(&pd->conns); c; c = next) {
		next = TAILQ_NEXT(c, link);
		if (!c->tcp || conn_needs_hello(c))
			continue;
		if (auth_holds(pd->auth, c->who.name, c->token_id, &admin)) {
			c->who.admin = admin;
			events_set_admin(pd, c, admin);
			continue;
		}
		reply_flush(pd);
		conn_close(c, "its token was removed from the tokens file");
	}
}

static bool has_socket(const struct conn *c)
{
	return c->bev || c->fd >= 0;
}

static void release_socket(struct conn *c)
{
	struct poold *pd = c->pd;

	if (!has_socket(c))
		return;
	if (c->bev) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	} else {
		event_free(c->rev);
		event_free(c->wev);
		close(c->fd);
		c->fd = -1;
		c->reading = false;
	}
	if (c->dirty) {
		TAILQ_REMOVE(&pd->dirty, c, dirty_link);
		c->dirty = false;
	}
	if (c->draining && --pd->ndraining == 0 && pd->stopping)
		event_base_loopbreak(pd->base); /* the last answer is out */
	conn_unref(c);
}

/* What was queued before the close still goes out (a too_large answer,
 * the answers to lines before an EOF), within DRAIN_TIMEOUT. */
static void start_draining(struct conn *c)
{
	struct timeval drain = { DRAIN_TIMEOUT, 0 };

	c->draining = true;
	c->pd->ndraining++;
	if (c->bev)
		bufferevent_set_timeouts(c->bev, NULL, &drain);
	else
		event_add(c->wev, &drain);
}

void conn_close(struct conn *c, const char *reason)
{
	struct poold *pd = c->pd;

	if (c->closed)
		return;
	conn_ref(c); /* c lives until the end of this function */
	c->closed = true;
	log_info("conn %llu (%s) closed: %s", (unsigned long long)c->id,
		 c->who.name[0] ? c->who.name : "anonymous", reason);
	TAILQ_REMOVE(&pd->conns, c, link);
	pd->nconns--;
	if (c->tcp)
		pd->ntcp--;
	leave_anonymous(c);
	wait_drop_conn(pd, c);
	events_drop_conn(pd, c);
	lease_end_conn(pd, c->id, now_wall());
	event_del(c->more);
	stop_reading(c);
	/* A client that does not read gets nothing more: the socket goes now
	 * with whatever it left unread. */
	if (!c->overflowed && has_socket(c) && out_pending(c) > 0)
		start_draining(c);
	else
		release_socket(c);
	conn_unref(c); /* the open connection's reference */
	conn_unref(c);
}

bool conn_id_open(struct poold *pd, uint64_t id)
{
	struct conn *c;

	TAILQ_FOREACH(c, &pd->conns, link)
		if (c->id == id)
			return true;
	return false;
}

void conn_close_all(struct poold *pd, const char *reason)
{
	while (!TAILQ_EMPTY(&pd->conns))
		conn_close(TAILQ_FIRST(&pd->conns), reason);
}

static void too_large(struct conn *c)
{
	char msg[200];

	c->pd->refused.too_large++;
	snprintf(msg, sizeof msg, "request line longer than %zu bytes "
		 "(--max-line); the connection is closed because framing is "
		 "lost", c->pd->cfg.max_line);
	reply_queue(c->pd, c, NULL,
		    reply_err_json(NULL, POOL_ERR_TOO_LARGE, msg));
	reply_flush(c->pd);
	conn_close(c, "request line too large");
}

/* Handles up to limit complete lines from c->in, in place; returns true
 * if more complete lines are waiting. A line longer than --max-line (or
 * so many bytes without one) closes the connection. */
static bool handle_lines(struct conn *c, int limit)
{
	size_t max = c->pd->cfg.max_line, pos = 0;
	bool more = false;

	while (!c->closed && !c->doom) {
		char *eol = memchr(c->in + pos, '\n', c->in_len - pos);

		if (!eol) {
			if (c->in_len - pos > max)
				too_large(c);
			break;
		}
		if ((size_t)(eol - (c->in + pos)) > max) {
			too_large(c);
			break;
		}
		if (limit-- == 0) {
			more = true;
			break;
		}
		proto_handle_line(c->pd, c, &c->who, c->in + pos,
				  (size_t)(eol - (c->in + pos)));
		pos = (size_t)(eol - c->in) + 1;
	}
	if (c->closed) {
		c->in_len = 0;
		return false;
	}
	memmove(c->in, c->in + pos, c->in_len - pos);
	c->in_len -= pos;
	return more;
}

/* Room for one more read: up to a whole line of --max-line and its '\n',
 * and one byte more to tell a line that is too long. */
static size_t in_room(struct conn *c)
{
	size_t limit = c->pd->cfg.max_line + 2;

	if (c->in_len == c->in_cap && c->in_cap < limit)
		grow(&c->in, &c->in_cap, c->in_cap + 1);
	if (c->in_cap < limit)
		limit = c->in_cap;
	return c->in_len < limit ? limit - c->in_len : 0;
}

enum fill { FILL_DATA, FILL_NONE, FILL_EOF, FILL_ERROR };

/* Plain: one read() straight into c->in. TLS: what the bufferevent
 * decrypted is moved there. */
static enum fill fill(struct conn *c)
{
	size_t room = in_room(c);
	ssize_t n;

	if (room == 0)
		return FILL_NONE;
	if (c->bev) {
		n = (ssize_t)evbuffer_remove(bufferevent_get_input(c->bev),
					     c->in + c->in_len, room);
		if (n <= 0)
			return FILL_NONE;
	} else {
		n = read(c->fd, c->in + c->in_len, room);
		if (n == 0)
			return FILL_EOF;
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ?
				FILL_NONE : FILL_ERROR;
	}
	c->in_len += (size_t)n;
	return FILL_DATA;
}

static void on_eof(struct conn *c);
static bool answered(const struct conn *c);

/* Reads and handles up to LINES_PER_WAKEUP lines; if more are waiting,
 * reading pauses and c->more continues after the other connections had
 * their turn. */
static void pump(struct conn *c)
{
	enum fill f = fill(c);

	if (f == FILL_ERROR) {
		conn_close(c, "socket error");
		release_socket(c); /* nothing more can be written */
		return;
	}
	if (handle_lines(c, LINES_PER_WAKEUP) ||
	    (c->bev && evbuffer_get_length(bufferevent_get_input(c->bev)))) {
		if (!c->closed && !c->doom) {
			if (!c->bev)
				stop_reading(c); /* or it would spin */
			event_active(c->more, EV_TIMEOUT, 0);
		}
		return;
	}
	if (f == FILL_EOF)
		on_eof(c);
	else
		start_reading(c);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = conn_ref(arg);

	pump(c);
	reply_later(c->pd);
	conn_unref(c);
}

/* Silent for --idle-timeout: closed, unless it still has a reason to be
 * silent (a waiting request, a connection-bound lease, a watch). */
static bool conn_busy(const struct conn *c)
{
	struct poold *pd = c->pd;
	struct lease *l;
	size_t pos = 0;

	if (wait_has_conn(pd, c) || events_watching(pd, c))
		return true;
	if (pd->nbound == 0)
		return false;
	while ((l = hmap_next(&pd->leases, &pos)))
		if (l->bind_conn && l->conn_id == c->id)
			return true;
	return false;
}

static void idle(struct conn *c)
{
	if (conn_busy(c)) {
		if (c->bev)
			bufferevent_enable(c->bev, EV_READ); /* re-arms it */
		return;
	}
	c->pd->refused.idle_closed++;
	reply_flush(c->pd); /* an answer may still be queued */
	conn_close(c, "idle for --idle-timeout");
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = conn_ref(arg);

	if (what & EV_TIMEOUT)
		idle(c);
	else
		pump(c);
	reply_later(c->pd);
	conn_unref(c);
}

static void on_more(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (c->half_closed && !c->doom) {
		/* Its answers are written: once the requests that held it
		 * have let go, it is done. */
		if (answered(c))
			conn_doom(c, "client closed its side and has all "
				  "its answers");
		return;
	}
	if (!c->doom) {
		on_read(NULL, c);
		return;
	}
	conn_ref(c);
	reply_flush(c->pd); /* its last answers go out before the close */
	conn_close(c, c->doom);
	reply_flush(c->pd);
	conn_unref(c);
}

/* A half-closed client has all its answers once no waiting request or
 * queued answer holds it (only its own and its socket's references are
 * left) and its output is written. */
static bool answered(const struct conn *c)
{
	return c->refs <= 2 && !wait_has_conn(c->pd, c) &&
	       out_pending(c) == 0;
}

/* Everything queued is written. */
static void written(struct conn *c)
{
	if (c->draining)
		release_socket(c);
	else if (c->half_closed && !c->closed)
		event_active(c->more, EV_TIMEOUT, 0); /* see on_more() */
}

static void on_write(struct bufferevent *bev, void *arg)
{
	written(arg);
}

/* Plain: one write() of everything queued; EV_WRITE waits only while
 * bytes remain (a slow reader). A failed write closes the connection from
 * its own event. */
static void write_out(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off,
				  c->out_len - c->out_off);

		if (n > 0) {
			c->out_off += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			if (!c->draining)
				event_add(c->wev, NULL);
			return;
		} else {
			c->out_off = c->out_len = 0;
			c->overflowed = true; /* nothing more is sent */
			if (c->draining)
				release_socket(c);
			else
				conn_doom(c, "socket error");
			return;
		}
	}
	c->out_off = c->out_len = 0;
	if (!c->draining)
		event_del(c->wev);
	written(c);
}

void conn_write_all(struct poold *pd)
{
	struct conn *c;

	while ((c = TAILQ_FIRST(&pd->dirty))) {
		TAILQ_REMOVE(&pd->dirty, c, dirty_link);
		c->dirty = false;
		conn_ref(c);
		write_out(c);
		conn_unref(c);
	}
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = conn_ref(arg);

	if (what & EV_TIMEOUT)
		release_socket(c); /* not taken within DRAIN_TIMEOUT */
	else
		write_out(c);
	reply_later(c->pd);
	conn_unref(c);
}

/* After EOF: did the client close only its sending side? On a Unix socket
 * the kernel tells (a peer that closed the whole socket sets POLLHUP). On
 * TCP a close and a shutdown(SHUT_WR) both arrive as a FIN: it counts as a
 * close, or a client that gave up waiting would have a resource leased to
 * it for a whole TTL. */
static bool half_closed(const struct conn *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLRDHUP };

	if (c->tcp || c->bev || poll(&p, 1, 0) != 1)
		return false;
	return !(p.revents & (POLLHUP | POLLERR));
}

/* Lines that came before the EOF are answered first; a client that only
 * shut its sending side (shutdown(SHUT_WR)) still gets the answers of its
 * waiting requests. */
static void on_eof(struct conn *c)
{
	while (handle_lines(c, LINES_PER_WAKEUP))
		;
	reply_flush(c->pd);
	if (c->closed)
		return;
	if (wait_has_conn(c->pd, c) && half_closed(c)) {
		/* A watch is no answer it waits for: it ends. */
		events_drop_conn(c->pd, c);
		c->half_closed = true;
		stop_reading(c);
	} else {
		conn_close(c, "client closed the connection");
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = conn_ref(arg);

	if (c->closed) {
		/* Draining its last answers: an error, or a client that has
		 * not taken them within DRAIN_TIMEOUT, ends it. */
		release_socket(c);
	} else if (what & BEV_EVENT_EOF) {
		while (fill(c) == FILL_DATA)
			while (handle_lines(c, LINES_PER_WAKEUP))
				;
		on_eof(c);
	} else if (what & BEV_EVENT_ERROR) {
		conn_close(c, "socket error");
		release_socket(c); /* nothing more can be written */
	} else if (what & BEV_EVENT_TIMEOUT) {
		idle(c);
	}
	reply_flush(c->pd);
	conn_unref(c);
}

/* The budget a new connection is counted against, or NULL if it fits:
 * Unix socket callers, TCP callers and TCP connections that have not said
 * hello each have their own, so that TCP never crowds out the Unix socket
 * and silent TCP connections never crowd out authenticated ones. */
static const char *over_budget(const struct poold *pd, bool tcp)
{
	if (!tcp)
		return pd->nconns - pd->ntcp >= pd->cfg.max_conns ?
			"--max-conns" : NULL;
	if (pd->ntcp >= pd->cfg.max_tcp_conns)
		return "--max-tcp-conns";
	return pd->nanon >= pd->cfg.max_hello_conns ? "--max-hello-conns" :
		NULL;
}

static void refuse_busy(struct poold *pd, int fd, const char *flag)
{
	char busy[200];
	int n;

	pd->refused.conns_refused++;
	log_warn("refused a connection: too many open (%s)", flag);
	/* TLS clients cannot read this clear-text line; they see a close. */
	n = snprintf(busy, sizeof busy, "{\"ok\":false,\"error\":{\"code\":"
		     "\"busy\",\"message\":\"too many connections (%s); "
		     "retry later\"}}\n", flag);
	if (write(fd, busy, (size_t)n) < 0)
		log_debug("could not tell the refused client why");
	close(fd);
}

/* TCP: no good hello within --hello-timeout (whatever it sent). */
static void on_hello_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = conn_ref(arg);

	c->pd->refused.hello_timeouts++;
	reply_flush(c->pd);
	conn_close(c, "no hello within --hello-timeout");
	reply_flush(c->pd);
	conn_unref(c);
}

void conn_accept(struct poold *pd, int fd, bool tcp)
{
	const char *flag = over_budget(pd, tcp);
	struct conn *c;

	if (flag) {
		refuse_busy(pd, fd, flag);
		return;
	}
	c = xcalloc(1, sizeof *c);
	c->pd = pd;
	c->id = ++pd->next_conn_id;
	c->refs = 2; /* the open connection, and its bufferevent */
	c->tcp = tcp;
	if (tcp)
		c->who.uid = (uid_t)-1; /* anonymous until hello */
	else
		identify(pd, fd, &c->who);
	c->who.conn_id = c->id;
	c->fd = -1;
	if (tcp && pd->tls) {
		c->bev = tls_accept(pd->base, fd, pd->tls);
		if (!c->bev) {
			log_error("cannot set up a TLS connection");
			close(fd);
			free(c);
			return;
		}
		bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		if (pd->cfg.idle_timeout > 0) {
			struct timeval idle = { pd->cfg.idle_timeout, 0 };

			bufferevent_set_timeouts(c->bev, &idle, NULL);
		}
	} else {
		c->fd = fd;
		c->rev = event_new(pd->base, fd, EV_READ | EV_PERSIST,
				   on_readable, c);
		c->wev = event_new(pd->base, fd, EV_WRITE | EV_PERSIST,
				   on_writable, c);
		start_reading(c);
	}
	c->more = event_new(pd->base, -1, 0, on_more, c);
	if (tcp) {
		struct timeval hello = { pd->cfg.hello_timeout, 0 };

		c->hello_timer = evtimer_new(pd->base, on_hello_timeout, c);
		evtimer_add(c->hello_timer, &hello);
		pd->ntcp++;
		pd->nanon++;
	}
	TAILQ_INSERT_TAIL(&pd->conns, c, link);
	pd->nconns++;
	log_debug("conn %llu from %s%s", (unsigned long long)c->id,
		  tcp ? "TCP" : c->who.name, c->who.admin ? " (admin)" : "");
}
