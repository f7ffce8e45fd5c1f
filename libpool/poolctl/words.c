/*
 * words.c - the daemon's error messages in poolctl's words. poold speaks
 * the protocol ("pass wait", "pool.create", "max_size"); a person who typed
 * a poolctl command should read the flag or command to use instead
 * ("--wait", "poolctl pool create", "--max-size"). Whole words only, and
 * never the names the user typed, so that a pool or resource named after a
 * field is left alone.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "poolctl.h"

/* Longer phrases first: the first entry that matches at a place wins. */
static const struct {
	const char *wire;
	const char *cli;
} words[] = {
	{ "pool.set state active", "poolctl pool set POOL --state active" },
	{ "pass wait", "pass --wait DURATION" },
	{ "pass force", "pass --force" },
	{ "pool.create", "poolctl pool create" },
	{ "pool.set", "poolctl pool set" },
	{ "pool.get", "poolctl pool get" },
	{ "pool.list", "poolctl pool list" },
	{ "pool.drain", "poolctl pool drain" },
	{ "pool.delete", "poolctl pool delete" },
	{ "resource.add", "poolctl resource add" },
	{ "resource.list", "poolctl resource list" },
	{ "resource.get", "poolctl resource get" },
	{ "resource.update", "poolctl resource update" },
	{ "resource.remove", "poolctl resource remove" },
	{ "lease.list", "poolctl lease list" },
	{ "lease.get", "poolctl lease get" },
	{ "max_lease_ttl", "--max-lease-ttl" },
	{ "lease_ttl", "--lease-ttl" },
	{ "idle_ttl", "--idle-ttl" },
	{ "max_size", "--max-size" },
	{ "min_idle", "--min-idle" },
	{ "max_idle", "--max-idle" },
	{ "max_waiters", "--max-waiters" },
	{ "on_expire", "--on-expire" },
	{ "request_id", "--request-id" },
};

static bool word_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-';
}

/* Does wire match at p, as whole words (start is where the message begins)? */
static bool matches(const char *start, const char *p, const char *wire)
{
	size_t n = strlen(wire);

	if (strncmp(p, wire, n) != 0 || (p > start && (word_char(p[-1]) || p[-1] == '.')))
		return false;
	/* "pool.create." ends a sentence; "pool.created" or "pool.set.x" do not match. */
	return !word_char(p[n]) && !(p[n] == '.' && islower((unsigned char)p[n + 1]));
}

/* The length of the name of keep that stands at p as a whole word, or 0. */
static size_t kept(const char *msg, const char *p, const char *const *keep, int nkeep)
{
	for (int k = 0; k < nkeep; k++)
		if (*keep[k] && matches(msg, p, keep[k]))
			return strlen(keep[k]);
	return 0;
}

void ctl_words(const char *msg, const char *const *keep, int nkeep, char *out, size_t len)
{
	size_t o = 0;

	for (const char *p = msg; *p && o + 1 < len;) {
		size_t i, n = sizeof(words) / sizeof(words[0]), k = kept(msg, p, keep, nkeep);

		for (i = 0; i < n && !k && !matches(msg, p, words[i].wire); i++)
			;
		if (k) {
			o += (size_t)snprintf(out + o, len - o, "%.*s", (int)k, p);
			p += k;
		} else if (i < n) {
			o += (size_t)snprintf(out + o, len - o, "%s", words[i].cli);
			p += strlen(words[i].wire);
		} else {
			out[o++] = *p++;
		}
		if (o >= len)
			o = len - 1;
	}
	out[o] = '\0';
}
