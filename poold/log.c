/* log.c - see log.h. One line per call: "TIME LEVEL MESSAGE" as text, or
 * one JSON object for log shippers (--log-format json). Whatever a client
 * chose (an owner, a name) cannot forge a line or a field: text escapes
 * control characters and quotes values, JSON takes its fields from the
 * caller's key/value pairs, never from the message. */
#include "log.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "invariant.h"
#include "jsonutil.h"
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

/* A line being built; what does not fit is cut. */
struct lbuf {
	char s[2048];
	size_t len;
};

static void put_c(struct lbuf *b, char c)
{
	if (b->len + 1 < sizeof b->s)
		b->s[b->len++] = c;
	b->s[b->len] = '\0';
}

static void put_s(struct lbuf *b, const char *s)
{
	while (*s)
		put_c(b, *s++);
}

/* A value goes in quotes when it could be read as more than one word or
 * as another key=value pair. */
static bool needs_quotes(const char *s)
{
	if (!*s)
		return true;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == '"' || *s == '=' ||
		    *s == '\\' || *s == 0x7f)
			return true;
	return false;
}

/* Appends s with control characters escaped (\n, \t, \xNN), so that text
 * a client chose can never start a line of its own; in quotes with " and
 * \ escaped too. */
static void put_escaped(struct lbuf *b, const char *s, bool quote)
{
	char hex[8];

	if (quote)
		put_c(b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\n') {
			put_s(b, "\\n");
		} else if (c == '\t') {
			put_s(b, "\\t");
		} else if (c == '\r') {
			put_s(b, "\\r");
		} else if (c < ' ' || c == 0x7f) {
			snprintf(hex, sizeof hex, "\\x%02x", c);
			put_s(b, hex);
		} else {
			if (quote && (c == '"' || c == '\\'))
				put_c(b, '\\');
			put_c(b, (char)c);
		}
	}
	if (quote)
		put_c(b, '"');
}

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

/* One whole line (with its '\n'), gathered or written at once. */
static void put_line(enum log_level lvl, const char *line, size_t len)
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

static void emit(enum log_level lvl, const char *msg, json_t *fields)
{
	char ts[40], *text, out[2200];
	json_t *o;
	int n;

	time_rfc3339(now_wall(), ts, sizeof ts);
	if (!log_json) {
		n = snprintf(out, sizeof out, "%s %s %s\n", ts,
			     level_names[lvl], msg);
		put_line(lvl, out, (size_t)n < sizeof out ? (size_t)n :
			 sizeof out - 1);
		return;
	}
	o = json_pack("{s:s, s:s, s:o}", "time", ts, "level",
		      level_names[lvl], "message", json_string_lossy(msg));
	if (fields)
		json_object_update_missing(o, fields);
	text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (text) {
		size_t len = strlen(text);

		text = realloc(text, len + 2);
		if (!text)
			abort();
		text[len++] = '\n';
		put_line(lvl, text, len);
	}
	free(text);
	json_decref(o);
}

void log_write(enum log_level lvl, const char *fmt, ...)
{
	char raw[2048];
	struct lbuf line = { .len = 0 };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(raw, sizeof raw, fmt, ap);
	va_end(ap);
	if (log_json) {
		emit(lvl, raw, NULL);
		return;
	}
	put_escaped(&line, raw, false);
	emit(lvl, line.s, NULL);
}

void log_kv_write(enum log_level lvl, const char *what, ...)
{
	struct lbuf line = { .len = 0 };
	/* The fields as JSON only for --log-format json: a text line is
	 * written without an allocation. */
	json_t *fields = log_json ? json_object() : NULL;
	const char *key, *val;
	va_list ap;

	put_escaped(&line, what, false);
	va_start(ap, what);
	while ((key = va_arg(ap, const char *))) {
		val = va_arg(ap, const char *);
		put_c(&line, ' ');
		put_s(&line, key);
		put_c(&line, '=');
		put_escaped(&line, val ? val : "-", val && needs_quotes(val));
		if (val && fields)
			json_object_set_new(fields, key, json_string_lossy(val));
	}
	va_end(ap);
	emit(lvl, line.s, fields);
	json_decref(fields);
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
