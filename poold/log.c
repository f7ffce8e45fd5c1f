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
#include <stdint.h>
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

/* ---- JSON lines, written directly ------------------------------------- */

/* A pair of a log_kv line. */
struct kv {
	const char *key, *val;
};

#define KV_MAX 32

/* A JSON line being built; one that does not fit is written by jansson. */
struct jline {
	char s[4096];
	size_t len;
	bool full;
};

static void j_put(struct jline *b, const char *s, size_t n)
{
	if (b->full || b->len + n >= sizeof b->s) {
		b->full = true;
		return;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
}

/* The length of the UTF-8 sequence at s and its code point, or 0 if it is
 * not one that jansson takes (overlong, a surrogate, beyond U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, uint32_t *cp)
{
	size_t n;
	uint32_t v;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, v = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, v = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, v = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff) ||
	    (n == 3 && v < 0x800) || (n == 4 && v < 0x10000))
		return 0;
	*cp = v;
	return n;
}

static bool utf8_valid(const char *s)
{
	uint32_t cp;
	size_t n;

	for (; *s; s += n)
		if (!(n = utf8_seq((const unsigned char *)s, &cp)))
			return false;
	return true;
}

/* s as jansson dumps it with JSON_ENSURE_ASCII, after json_string_lossy()
 * (text that is not UTF-8 has each byte >= 0x80 made a '?'). */
static void j_string(struct jline *b, const char *s)
{
	bool lossy = !utf8_valid(s);
	char seq[16];
	uint32_t cp;
	size_t n;

	j_put(b, "\"", 1);
	for (; *s; s += n) {
		const unsigned char *u = (const unsigned char *)s;

		if (lossy && *u >= 0x80)
			cp = '?', n = 1;
		else
			n = utf8_seq(u, &cp);
		switch (cp) {
		case '"': j_put(b, "\\\"", 2); continue;
		case '\\': j_put(b, "\\\\", 2); continue;
		case '\b': j_put(b, "\\b", 2); continue;
		case '\f': j_put(b, "\\f", 2); continue;
		case '\n': j_put(b, "\\n", 2); continue;
		case '\r': j_put(b, "\\r", 2); continue;
		case '\t': j_put(b, "\\t", 2); continue;
		}
		if (cp >= 0x20 && cp <= 0x7f) {
			char c = (char)cp;

			j_put(b, &c, 1);
			continue;
		}
		if (cp < 0x10000)
			snprintf(seq, sizeof seq, "\\u%04X", (unsigned)cp);
		else
			snprintf(seq, sizeof seq, "\\u%04X\\u%04X",
				 (unsigned)(0xd800 | ((cp - 0x10000) >> 10)),
				 (unsigned)(0xdc00 | ((cp - 0x10000) & 0x3ff)));
		j_put(b, seq, strlen(seq));
	}
	j_put(b, "\"", 1);
}

static void j_member(struct jline *b, const char *key, const char *val)
{
	j_put(b, ",", 1);
	j_string(b, key);
	j_put(b, ":", 1);
	j_string(b, val);
}

/* The value jansson's object would hold for pairs[i]'s key, or NULL if the
 * key is not a field of its own there (a NULL value, a key of the line
 * itself, or a repeat: an object keeps a key where it was first set, with
 * the last value set). */
static const char *field_value(const struct kv *pairs, size_t n, size_t i)
{
	const char *val = pairs[i].val;

	if (!val || strcmp(pairs[i].key, "time") == 0 ||
	    strcmp(pairs[i].key, "level") == 0 ||
	    strcmp(pairs[i].key, "message") == 0)
		return NULL;
	for (size_t j = 0; j < i; j++)
		if (pairs[j].val && strcmp(pairs[j].key, pairs[i].key) == 0)
			return NULL;
	for (size_t j = i + 1; j < n; j++)
		if (pairs[j].val && strcmp(pairs[j].key, pairs[i].key) == 0)
			val = pairs[j].val;
	return val;
}

/* The line jansson writes (the form of --log-format json), without a
 * json_t: false if it does not fit. */
static bool json_line(struct jline *b, const char *ts, enum log_level lvl,
		      const char *msg, const struct kv *pairs, size_t n)
{
	j_put(b, "{\"time\":", 8);
	j_string(b, ts);
	j_member(b, "level", level_names[lvl]);
	j_member(b, "message", msg);
	for (size_t i = 0; i < n; i++) {
		const char *val = field_value(pairs, n, i);

		if (val)
			j_member(b, pairs[i].key, val);
	}
	j_put(b, "}\n", 2);
	return !b->full;
}

/* The rare line that does not fit: through jansson. */
static void json_line_slow(enum log_level lvl, const char *ts,
			   const char *msg, const struct kv *pairs, size_t n)
{
	json_t *o = json_pack("{s:s, s:s, s:o}", "time", ts, "level",
			      level_names[lvl], "message",
			      json_string_lossy(msg));
	json_t *fields = json_object();
	char *text;

	for (size_t i = 0; i < n; i++)
		if (pairs[i].val)
			json_object_set_new(fields, pairs[i].key,
					    json_string_lossy(pairs[i].val));
	json_object_update_missing(o, fields);
	json_decref(fields);
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

static void emit(enum log_level lvl, const char *msg, const struct kv *pairs,
		 size_t n)
{
	char ts[40], out[2200];
	struct jline line;
	int len;

	time_rfc3339(now_wall(), ts, sizeof ts);
	if (!log_json) {
		len = snprintf(out, sizeof out, "%s %s %s\n", ts,
			       level_names[lvl], msg);
		put_line(lvl, out, (size_t)len < sizeof out ? (size_t)len :
			 sizeof out - 1);
		return;
	}
	line.len = 0;
	line.full = false;
	if (json_line(&line, ts, lvl, msg, pairs, n))
		put_line(lvl, line.s, line.len);
	else
		json_line_slow(lvl, ts, msg, pairs, n);
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
		emit(lvl, raw, NULL, 0);
		return;
	}
	put_escaped(&line, raw, false);
	emit(lvl, line.s, NULL, 0);
}

void log_kv_write(enum log_level lvl, const char *what, ...)
{
	struct lbuf line = { .len = 0 };
	struct kv pairs[KV_MAX];
	const char *key, *val;
	size_t n = 0;
	va_list ap;

	put_escaped(&line, what, false);
	va_start(ap, what);
	while ((key = va_arg(ap, const char *))) {
		val = va_arg(ap, const char *);
		put_c(&line, ' ');
		put_s(&line, key);
		put_c(&line, '=');
		put_escaped(&line, val ? val : "-", val && needs_quotes(val));
		INVARIANT(n < KV_MAX); /* callers pass a few constant keys */
		pairs[n++] = (struct kv){ key, val };
	}
	va_end(ap);
	emit(lvl, line.s, pairs, n);
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
