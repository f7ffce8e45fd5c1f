/*
 * duration.c - durations as people write them on a command line and as
 * poolctl prints them: "90" (seconds), or one or more NUMBER UNIT parts with
 * units d, h, m, s, ms from the largest down ("1h30m", "2m5.5s", "1d2h",
 * "2h05m", "500ms"). Whatever duration_format() prints parses back. The
 * grammar is strict (each unit once, in order; no sign, no spaces) so that a
 * typo such as "5min" or "-1" is an error naming the value, never a silent
 * default.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "poolctl.h"

/* From the largest down: the order the parts of a duration must come in;
 * the index is the unit's rank. */
static const struct {
	const char *suffix;
	double seconds;
} units[] = { { "d", 86400 }, { "h", 3600 }, { "m", 60 }, { "s", 1 }, { "ms", 0.001 } };
#define NUNITS (sizeof(units) / sizeof(units[0]))

/* The rank of the longest unit at *p ("ms" over "m"), advancing *p past it;
 * -1 if there is none. */
static int take_unit(const char **p)
{
	size_t best_n = 0;
	int best = -1;

	for (size_t i = 0; i < NUNITS; i++) {
		size_t n = strlen(units[i].suffix);

		if (n > best_n && strncmp(*p, units[i].suffix, n) == 0) {
			best = (int)i;
			best_n = n;
		}
	}
	*p += best_n;
	return best;
}

/* Digits with an optional fraction at *p, advancing it; -1 if no digit. */
static double take_number(const char **p)
{
	double value = 0, scale = 0.1;
	int digits = 0;

	for (; isdigit((unsigned char)**p); (*p)++, digits++)
		value = value * 10 + (**p - '0');
	if (**p == '.')
		for ((*p)++; isdigit((unsigned char)**p); (*p)++, digits++, scale /= 10)
			value += (**p - '0') * scale;
	return digits ? value : -1;
}

int duration_parse(const char *s, double *out)
{
	const char *p = s;
	double total = 0;
	int last = -1;

	do {
		double v = take_number(&p);
		int rank;

		if (v < 0)
			return -1;
		if (*p == '\0' && last < 0) {
			total = v; /* a bare number: seconds */
			break;
		}
		if ((rank = take_unit(&p)) < 0 || rank <= last)
			return -1;
		last = rank;
		total += v * units[rank].seconds;
	} while (*p);
	if (!isfinite(total))
		return -1;
	*out = total;
	return 0;
}

char *duration_format_exact(double secs, char *buf, size_t len)
{
	long long ms = secs > 0 ? llround(secs * 1000) : 0;
	long long parts[4] = { ms / 86400000, ms / 3600000 % 24, ms / 60000 % 60,
			       ms / 1000 % 60 };
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; i < 3; i++)
		if (parts[i] && o < len)
			o += (size_t)snprintf(buf + o, len - o, "%lld%s", parts[i], units[i].suffix);
	if ((parts[3] || ms % 1000 || ms == 0) && o < len) {
		o += (size_t)snprintf(buf + o, len - o, "%lld.%03lld", parts[3], ms % 1000);
		while (o > 0 && buf[o - 1] == '0')
			buf[--o] = '\0';
		if (o > 0 && buf[o - 1] == '.')
			buf[--o] = '\0';
		if (o < len)
			snprintf(buf + o, len - o, "s");
	}
	return buf;
}

char *duration_format(double secs, char *buf, size_t len)
{
	long long s = secs > 0 ? (long long)llround(secs) : 0;

	if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%lldd%lldh", s / 86400, s % 86400 / 3600);
	return buf;
}
