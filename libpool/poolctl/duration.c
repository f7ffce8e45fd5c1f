/*
 * duration.c - durations as people write them on a command line ("90",
 * "90s", "5m", "2h", "1d") and as poolctl prints them. The grammar is strict
 * (digits, an optional fraction, one optional suffix) so that a typo such as
 * "5min" or "-1" is an error naming the value, never a silent default.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "poolctl.h"

static double unit_seconds(const char *suffix)
{
	static const struct {
		const char *suffix;
		double seconds;
	} units[] = { { "", 1 }, { "s", 1 }, { "m", 60 }, { "h", 3600 }, { "d", 86400 } };

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(suffix, units[i].suffix) == 0)
			return units[i].seconds;
	return -1;
}

int duration_parse(const char *s, double *out)
{
	double value = 0, scale = 0.1, unit;
	const char *p = s;
	int digits = 0;

	for (; isdigit((unsigned char)*p); p++, digits++)
		value = value * 10 + (*p - '0');
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++, digits++, scale /= 10)
			value += (*p - '0') * scale;
	unit = unit_seconds(p);
	if (digits == 0 || unit < 0 || !isfinite(value * unit))
		return -1;
	*out = value * unit;
	return 0;
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
