/* log.c - see log.h. One line per call: "TIME LEVEL MESSAGE" as text, or
 * one JSON object for log shippers (--log-format json). */
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

enum log_level log_threshold = LOG_INFO;
bool log_json;

/* Lines gathered while buffering (see log_buffer()). */
#define BUF_SIZE (64 * 1024)
static char buf[BUF_SIZE];
static size_t buf_len;
static bool buffering;

void log_flush(void)
{
	size_t off = 0;

	while (off < buf_len) {
		ssize_t n = write(STDERR_FILENO, buf + off, buf_len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* stderr is gone: nothing to tell it with */
		off += (size_t)n;
	}
	buf_len = 0;
}

void log_buffer(bool on)
{
	static bool registered;

	/* A forked child must not write the parent's gathered lines again. */
	if (on && !registered) {
		pthread_atfork(log_flush, NULL, NULL);
		registered = true;
	}
	if (!on)
		log_flush();
	buffering = on;
}

/* One whole line (with its '\n'). */
static void emit(enum log_level lvl, const char *line, size_t len)
{
	if (buf_len + len > BUF_SIZE)
		log_flush();
	if (!buffering || len > BUF_SIZE) {
		fwrite(line, 1, len, stderr);
		return;
	}
	memcpy(buf + buf_len, line, len);
	buf_len += len;
	if (lvl <= LOG_WARN)
		log_flush();
}

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
	if (text) {
		size_t len = strlen(text);

		text = realloc(text, len + 2);
		if (!text)
			abort();
		text[len++] = '\n';
		emit(lvl, text, len);
	}
	free(text);
	json_decref(o);
}

void log_write(enum log_level lvl, const char *fmt, ...)
{
	char ts[40], line[2048], out[2200];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	time_rfc3339(now_wall(), ts, sizeof ts);
	if (log_json)
		write_json(ts, lvl, line);
	else {
		n = snprintf(out, sizeof out, "%s %s %s\n", ts, level_names[lvl],
			     line);
		emit(lvl, out, (size_t)n); /* out has room for the longest */
	}
}
