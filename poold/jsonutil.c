/* jsonutil.c - see jsonutil.h. */
#include "jsonutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "util.h"

json_t *json_seconds(double s)
{
	double whole;

	if (modf(s, &whole) == 0.0 && fabs(whole) < 9e15)
		return json_integer((json_int_t)whole);
	/* Milliseconds are as precise as any timestamp poold shows. */
	if (fabs(s) < 9e12)
		s = round(s * 1000.0) / 1000.0;
	return json_real(s);
}

json_t *json_time(double t)
{
	char buf[40];

	return t > 0 ? json_string(time_rfc3339(t, buf, sizeof buf)) : json_null();
}

json_t *json_string_lossy(const char *s)
{
	json_t *j = json_string(s);
	char *copy;

	if (j)
		return j;
	copy = xstrdup(s);
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}
