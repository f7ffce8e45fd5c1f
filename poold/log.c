/* log.c - see log.h. One line per call: "TIME LEVEL MESSAGE" as text, or
 * one JSON object for log shippers (--log-format json). */
#include "log.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "invariant.h"
#include "util.h"

enum log_level log_threshold = LOG_INFO;
bool log_json;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

int log_level_parse(const char *s, enum log_level *out)
{
	for (int i = 0; i <= LOG_DEBUG; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

/* Each word "key=value" of the message (key: a-z, 0-9, _; value up to the
 * next space) is also a field of its own, unless it would replace one of
 * time, level or message. */
static void add_fields(json_t *o, const char *msg)
{
	for (const char *w = msg; *w; ) {
		size_t len = strcspn(w, " "), klen = 0;

		while (klen < len && (islower((unsigned char)w[klen]) ||
				      isdigit((unsigned char)w[klen]) ||
				      w[klen] == '_'))
			klen++;
		if (klen > 0 && klen < len && w[klen] == '=') {
			char key[64];

			snprintf(key, sizeof key, "%.*s", (int)klen, w);
			if (!json_object_get(o, key))
				json_object_set_new(o, key, json_stringn(
					w + klen + 1, len - klen - 1));
		}
		w += len;
		w += strspn(w, " ");
	}
}

/* msg may hold bytes a client sent that are not UTF-8: those become '?'. */
static void write_json(const char *ts, enum log_level lvl, char *msg)
{
	json_t *o, *m = json_string(msg);
	char *text;

	if (!m) {
		for (char *p = msg; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
		m = json_string(msg);
	}
	o = json_pack("{s:s, s:s, s:o}", "time", ts, "level",
		      level_names[lvl], "message", m);
	add_fields(o, msg);
	text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (text)
		fprintf(stderr, "%s\n", text);
	free(text);
	json_decref(o);
}

void log_write(enum log_level lvl, const char *fmt, ...)
{
	char ts[40], line[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	time_rfc3339(now_wall(), ts, sizeof ts);
	if (log_json)
		write_json(ts, lvl, line);
	else
		fprintf(stderr, "%s %s %s\n", ts, level_names[lvl], line);
}

_Noreturn void invariant_failed(const char *cond, const char *file, int line,
				const char *func)
{
	/* "Assertion" is what the tests and operators grep a log for. */
	log_write(LOG_ERROR, "Assertion failed: invariant %s at %s:%d (%s); "
		  "poold stops: please report this with the log", cond, file,
		  line, func);
	abort();
}
