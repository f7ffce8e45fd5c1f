/* util.c - time, randomness and name rules shared by every module. */
#include "util.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* The fake clock of clock_fake(); in use while fake_on. */
static bool fake_on;
static double fake_wall, fake_mono;

void clock_fake(double wall, double mono)
{
	fake_on = true;
	fake_wall = wall;
	fake_mono = mono;
}

void clock_real(void)
{
	fake_on = false;
}

double now_wall(void)
{
	struct timespec ts;

	if (fake_on)
		return fake_wall;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

double now_mono(void)
{
	struct timespec ts;

	if (fake_on)
		return fake_mono;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

double mono_deadline(double wall_at)
{
	return now_mono() + (wall_at - now_wall());
}

static void put_digits(char *p, long v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* Year, month and day of a count of days since 1970-01-01 (the civil
 * calendar, proleptic Gregorian; H. Hinnant's days_from_civil inverse):
 * arithmetic only, where gmtime_r and snprintf were a fifth of a lease's
 * instructions (an answer carries four stamps, the history row two). */
static void civil(long days, long *y, int *m, int *d)
{
	long z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	long doe = z - era * 146097;
	long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long mp = (5 * doy + 2) / 153;

	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

const char *time_rfc3339(double t, char *buf, size_t len)
{
	time_t sec = (time_t)t;
	/* Rounded, not truncated: 0.123 is 0.12299... as a double. */
	int ms = (int)((t - (double)sec) * 1000.0 + 0.5);
	long y, rem = (long)(sec % 86400);
	int m, d;
	struct tm tm;

	if (ms > 999)
		ms = 999;
	civil((long)(sec / 86400), &y, &m, &d);
	if (sec < 0 || y > 9999 || len < 25 || ms < 0) {
		/* Outside what the fast path writes: the C library's way. */
		gmtime_r(&sec, &tm);
		snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
		return buf;
	}
	memcpy(buf, "0000-00-00T00:00:00.000Z", 25);
	put_digits(buf, y, 4);
	put_digits(buf + 5, m, 2);
	put_digits(buf + 8, d, 2);
	put_digits(buf + 11, rem / 3600, 2);
	put_digits(buf + 14, rem / 60 % 60, 2);
	put_digits(buf + 17, rem % 60, 2);
	put_digits(buf + 20, ms, 3);
	return buf;
}

/* Kernel randomness, fetched 4 KiB at a time rather than with a system
 * call per lease id. Bytes are used once and wiped. */
static void random_bytes(unsigned char *buf, size_t n)
{
	static unsigned char pool[4096];
	static size_t left;

	while (n > 0) {
		size_t take;

		while (left == 0) {
			ssize_t r = getrandom(pool, sizeof pool, 0);

			if (r < 0 && errno != EINTR)
				abort(); /* no entropy: ids would be guessable */
			if (r > 0)
				left = (size_t)r;
		}
		take = n < left ? n : left;
		memcpy(buf, pool + left - take, take);
		explicit_bzero(pool + left - take, take);
		left -= take;
		buf += take;
		n -= take;
	}
}

void random_hex(char *buf, size_t nbytes)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[64];

	if (nbytes > sizeof raw)
		abort();
	random_bytes(raw, nbytes);
	for (size_t i = 0; i < nbytes; i++) {
		buf[2 * i] = hex[raw[i] >> 4];
		buf[2 * i + 1] = hex[raw[i] & 15];
	}
	buf[2 * nbytes] = '\0';
}

void random_letters(char *buf, size_t n)
{
	unsigned char raw[64];

	if (n > sizeof raw)
		abort();
	random_bytes(raw, n);
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)('a' + raw[i] % 26);
	buf[n] = '\0';
}

static bool name_valid(const char *s, size_t max, const char *extra)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || strchr(extra, c) != NULL;
		if (!ok)
			return false;
	}
	return true;
}

bool name_valid_pool(const char *s)
{
	return name_valid(s, 64, "._-");
}

bool name_valid_resource(const char *s)
{
	return name_valid(s, 128, "._:-");
}

char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		abort();
	return d;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p)
		abort();
	return p;
}

void notify_service_manager(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@') ||
	    (len = strlen(path)) >= sizeof sa.sun_path)
		return;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract: not NUL-terminated */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
		   (struct sockaddr *)&sa,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
		fprintf(stderr, "poold: cannot notify %s: %s\n", path,
			strerror(errno));
	close(fd);
}
