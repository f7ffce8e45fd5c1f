/*
 * log.h - leveled logging to stderr, as text or JSON Lines. The level is checked before anything is
 * formatted, so a debug line costs one comparison when debug is off.
 */
#ifndef POOLD_LOG_H
#define POOLD_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern enum log_level log_threshold;
/* --log-format json: each line one JSON object {"time", "level",
 * "message"}, plus the key/value pairs of a log_kv line as fields. */
extern bool log_json;

int log_level_parse(const char *s, enum log_level *out); /* 0 or -1 */
void log_write(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A line "WHAT key=value key=\"a value\" ...": the pairs (const char *
 * key, const char *value; a NULL value shows as "-" and is no JSON field)
 * end with a NULL key. Values are quoted when they hold spaces, quotes or
 * '=', and control characters are escaped, in both formats. */
void log_kv_write(enum log_level lvl, const char *what, ...)
	__attribute__((sentinel));

#define log_kv(lvl, ...) \
	do { if ((lvl) <= log_threshold) log_kv_write((lvl), __VA_ARGS__); } while (0)

/* While the event loop runs, info and debug lines are gathered and written
 * to stderr together once per turn of the loop (log_flush()), instead of
 * one write() each; errors and warnings flush at once (with what came
 * before them, so the order holds). Every line is kept. */
void log_buffer(bool on);
void log_flush(void);

#define log_at(lvl, ...) \
	do { if ((lvl) <= log_threshold) log_write((lvl), __VA_ARGS__); } while (0)
#define log_error(...) log_at(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_at(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_at(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__)

#endif
