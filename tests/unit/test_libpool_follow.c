/*
 * test_libpool_follow.c - libpool with several endpoints (libpool/follow.c) against
 * fake front ends on Unix sockets, each a thread running a script per
 * connection: not_leader naming the leader is followed there, a null leader
 * moves on to the next endpoint, a lease whose answer was lost goes again
 * with the same request_id and no more wait than asked, a return whose
 * answer was lost is not sent again, and a cluster without a leader ends the
 * call at its timeout. Needs no daemon and no PostgreSQL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* By path: unit tests also see the daemon's include dir, which has a pool.h too. */
#include "../../libpool/include/pool.h"

#define MAX_LINES 16

struct front {
	char path[108];
	int lfd;
	int stop;                            /* set by the test; the thread ends */
	void (*script)(struct front *, int conn, int fd);
	char lines[MAX_LINES][512];          /* requests received, in order */
	int nlines;
	int conns;                           /* connections accepted */
	pthread_mutex_t mu;
	pthread_t thread;
};

static char dir[64];

/* One request line from fd (blocking), recorded; NULL at EOF. */
static json_t *front_read(struct front *f, int fd)
{
	char line[512];
	size_t len = 0;
	char ch;

	while (read(fd, &ch, 1) == 1) {
		if (ch == '\n') {
			line[len] = '\0';
			pthread_mutex_lock(&f->mu);
			if (f->nlines < MAX_LINES)
				snprintf(f->lines[f->nlines++], sizeof(f->lines[0]), "%s", line);
			pthread_mutex_unlock(&f->mu);
			return json_loads(line, 0, NULL);
		}
		if (len + 1 < sizeof(line))
			line[len++] = ch;
	}
	return NULL;
}

/* Answers req on fd with the rest of an envelope (after "id"). */
static void front_answer(int fd, json_t *req, const char *rest)
{
	char out[1024];
	int n = snprintf(out, sizeof out, "{\"id\":%lld,%s}\n",
			 (long long)json_integer_value(json_object_get(req, "id")), rest);

	assert_int_equal(write(fd, out, (size_t)n), n);
}

static void *front_main(void *arg)
{
	struct front *f = arg;

	while (!__atomic_load_n(&f->stop, __ATOMIC_SEQ_CST)) {
		struct pollfd p = { .fd = f->lfd, .events = POLLIN };
		int fd;

		if (poll(&p, 1, 50) <= 0 || (fd = accept(f->lfd, NULL, NULL)) < 0)
			continue;
		f->script(f, f->conns++, fd);
		close(fd);
	}
	return NULL;
}

static void front_start(struct front *f, const char *name,
			void (*script)(struct front *, int, int))
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(f, 0, sizeof(*f));
	snprintf(f->path, sizeof f->path, "%s/%s", dir, name);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", f->path);
	f->script = script;
	pthread_mutex_init(&f->mu, NULL);
	f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(f->lfd, 8), 0);
	assert_int_equal(pthread_create(&f->thread, NULL, front_main, f), 0);
}

static void front_stop(struct front *f)
{
	__atomic_store_n(&f->stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(f->thread, NULL);
	close(f->lfd);
	unlink(f->path);
	pthread_mutex_destroy(&f->mu);
}

/* The i-th request f received, parsed. */
static json_t *front_request(struct front *f, int i)
{
	json_t *req;

	assert_true(i < f->nlines);
	req = json_loads(f->lines[i], 0, NULL);
	assert_non_null(req);
	return req;
}

static pool_client *connect_list(const char *a, const char *b)
{
	char list[300];
	pool_error err;
	pool_client *c;

	snprintf(list, sizeof list, "%s,%s", a, b);
	c = pool_connect(list, &err);
	assert_non_null(c);
	return c;
}

static const char LEASE_OK[] =
	"\"ok\":true,\"result\":{\"lease\":\"0123456789abcdef0123456789abcdef\",\"pool\":\"p\","
	"\"mode\":\"pop\",\"resource\":{\"pool\":\"p\",\"name\":\"r1\",\"state\":\"leased\","
	"\"descriptor\":{},\"version\":1,\"created_at\":\"2026-01-01T00:00:00Z\","
	"\"last_used_at\":null,\"lease_count\":1},\"token\":7,\"owner\":\"o\",\"bind\":\"none\","
	"\"acquired_at\":\"2026-01-01T00:00:00Z\",\"expires_at\":null,\"ttl\":0}";

static struct front leader, standby;

/* A leader: answers every request with a granted lease. */
static void grants(struct front *f, int conn, int fd)
{
	json_t *req;

	(void)conn;
	while ((req = front_read(f, fd))) {
		front_answer(fd, req, LEASE_OK);
		json_decref(req);
	}
}

/* A standby naming the leader. */
static void names_leader(struct front *f, int conn, int fd)
{
	json_t *req;
	char rest[400];

	(void)conn;
	snprintf(rest, sizeof rest, "\"ok\":false,\"error\":{\"code\":\"not_leader\","
		 "\"message\":\"standby\",\"leader\":\"unix:%s\"}", leader.path);
	while ((req = front_read(f, fd))) {
		front_answer(fd, req, rest);
		json_decref(req);
	}
}

static void test_not_leader_goes_to_the_named_leader(void **state)
{
	pool_client *c;
	pool_error err;
	pool_lease *l;
	json_t *req;

	front_start(&leader, "a", grants);
	front_start(&standby, "b", names_leader);
	c = connect_list(standby.path, "/nonexistent/poold.sock");
	assert_int_equal(pool_lease_acquire(c, "p", NULL, &l, &err), 0);
	assert_string_equal(pool_lease_resource(l), "r1");
	pool_lease_free(l);
	assert_int_equal(standby.nlines, 1);
	assert_int_equal(leader.nlines, 1);
	/* One request_id, generated, on both. */
	req = front_request(&leader, 0);
	assert_non_null(strstr(json_string_value(json_object_get(req, "request_id")),
			       "libpool-"));
	assert_non_null(strstr(standby.lines[0],
			       json_string_value(json_object_get(req, "request_id"))));
	json_decref(req);
	pool_close(c);
	front_stop(&standby);
	front_stop(&leader);
}

/* A standby that knows no leader yet on its first connection, then leads. */
static void leads_later(struct front *f, int conn, int fd)
{
	json_t *req;

	while ((req = front_read(f, fd))) {
		front_answer(fd, req, conn == 0 ? "\"ok\":false,\"error\":{\"code\":\"not_leader\","
			     "\"message\":\"standby\",\"leader\":null}" : LEASE_OK);
		json_decref(req);
	}
}

static void test_null_leader_tries_the_others(void **state)
{
	pool_client *c;
	pool_error err;

	front_start(&standby, "b", leads_later);
	c = connect_list(standby.path, "/nonexistent/poold.sock");
	assert_int_equal(pool_lease_acquire(c, "p", NULL, NULL, &err), 0);
	assert_int_equal(standby.conns, 2);
	pool_close(c);
	front_stop(&standby);
}

/* A leader that dies with the first request in flight (closes unanswered). */
static void dies_once(struct front *f, int conn, int fd)
{
	json_t *req;

	while ((req = front_read(f, fd))) {
		if (conn > 0)
			front_answer(fd, req, LEASE_OK);
		json_decref(req);
		if (conn == 0)
			return;
	}
}

static void test_lost_lease_goes_again_with_its_request_id(void **state)
{
	pool_lease_opts o = { .wait = 60, .request_id = "job-1" };
	json_t *first, *again;
	pool_client *c;
	pool_error err;

	front_start(&leader, "a", dies_once);
	c = connect_list(leader.path, "/nonexistent/poold.sock");
	assert_int_equal(pool_lease_acquire(c, "p", &o, NULL, &err), 0);
	assert_int_equal(leader.nlines, 2);
	first = front_request(&leader, 0);
	again = front_request(&leader, 1);
	assert_string_equal(json_string_value(json_object_get(again, "request_id")), "job-1");
	assert_true(json_number_value(json_object_get(again, "wait")) <=
		    json_number_value(json_object_get(first, "wait")));
	json_decref(first);
	json_decref(again);
	pool_close(c);
	front_stop(&leader);
}

static void test_lost_return_is_not_sent_again(void **state)
{
	pool_client *c;
	pool_error err;

	front_start(&leader, "a", dies_once);
	c = connect_list(leader.path, "/nonexistent/poold.sock");
	assert_int_equal(pool_return(c, "0123456789abcdef0123456789abcdef", NULL, 0, &err), -1);
	assert_int_equal(err.code, POOL_E_UNREACHABLE);
	assert_non_null(strstr(err.message, "may or may not have taken effect"));
	assert_int_equal(leader.nlines, 1);
	/* The next call connects again. */
	assert_int_equal(pool_lease_acquire(c, "p", NULL, NULL, &err), 0);
	pool_close(c);
	front_stop(&leader);
}

/* A standby that never learns of a leader. */
static void never_leads(struct front *f, int conn, int fd)
{
	json_t *req;

	(void)conn;
	while ((req = front_read(f, fd))) {
		front_answer(fd, req, "\"ok\":false,\"error\":{\"code\":\"not_leader\","
			     "\"message\":\"standby\",\"leader\":null}");
		json_decref(req);
	}
}

static void test_no_leader_ends_at_the_timeout(void **state)
{
	pool_client *c;
	pool_error err;

	front_start(&standby, "b", never_leads);
	c = connect_list(standby.path, "/nonexistent/poold.sock");
	pool_set_timeout(c, 0.3);
	assert_int_equal(pool_call(c, "pool.list", NULL, NULL, &err), -1);
	assert_int_equal(err.code, POOL_E_NOT_LEADER);
	assert_non_null(strstr(err.message, "no leader answered"));
	assert_true(standby.conns >= 1);
	pool_close(c);
	front_stop(&standby);
}

static void test_one_endpoint_sees_not_leader(void **state)
{
	pool_client *c;
	pool_error err;

	front_start(&leader, "a", grants);
	front_start(&standby, "b", names_leader);
	c = pool_connect(standby.path, &err);
	assert_non_null(c);
	assert_int_equal(pool_call(c, "pool.list", NULL, NULL, &err), -1);
	assert_int_equal(err.code, POOL_E_NOT_LEADER);
	assert_int_equal(leader.conns, 0);
	pool_close(c);
	front_stop(&standby);
	front_stop(&leader);
}

static void test_empty_endpoint_is_refused(void **state)
{
	pool_error err;

	assert_null(pool_connect("/a.sock,,/b.sock", &err));
	assert_int_equal(err.code, POOL_E_BAD_REQUEST);
	assert_non_null(strstr(err.message, "empty endpoint"));
}

static int setup(void **state)
{
	snprintf(dir, sizeof dir, "/tmp/libpool-follow-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_leader_goes_to_the_named_leader),
		cmocka_unit_test(test_null_leader_tries_the_others),
		cmocka_unit_test(test_lost_lease_goes_again_with_its_request_id),
		cmocka_unit_test(test_lost_return_is_not_sent_again),
		cmocka_unit_test(test_no_leader_ends_at_the_timeout),
		cmocka_unit_test(test_one_endpoint_sees_not_leader),
		cmocka_unit_test(test_empty_endpoint_is_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
