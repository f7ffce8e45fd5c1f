/* auth.c - see auth.h. */
#include "auth.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define TOKEN_MAX 256

struct entry {
	char name[48];
	char token[TOKEN_MAX + 1];
	unsigned char id[AUTH_ID_LEN]; /* SHA-256 of token */
	bool admin;
};

struct auth {
	struct entry *entries;   /* owned */
	size_t n;
};

void auth_free(struct auth *a)
{
	if (!a)
		return;
	/* Tokens are secrets: do not leave them in freed memory. */
	if (a->entries)
		explicit_bzero(a->entries, a->n * sizeof *a->entries);
	free(a->entries);
	free(a);
}

static int parse_line(char *line, struct entry *e, char *why, size_t len)
{
	char *save = NULL, *name = strtok_r(line, " \t\r\n", &save);
	char *token = strtok_r(NULL, " \t\r\n", &save);
	char *flag = strtok_r(NULL, " \t\r\n", &save);

	if (!name || !token) {
		snprintf(why, len, "want \"NAME TOKEN [admin]\"");
		return -1;
	}
	if (strlen(name) >= sizeof e->name || strlen(token) > TOKEN_MAX ||
	    strlen(token) < 16) {
		snprintf(why, len, "NAME must be under 48 characters and TOKEN "
			 "16 to %d", TOKEN_MAX);
		return -1;
	}
	if (strncmp(name, "uid:", 4) == 0) {
		snprintf(why, len, "NAME \"%s\" is taken: names starting with "
			 "\"uid:\" are Unix socket callers; choose another", name);
		return -1;
	}
	if ((flag && strcmp(flag, "admin") != 0) ||
	    strtok_r(NULL, " \t\r\n", &save)) {
		snprintf(why, len, "only the word \"admin\" may follow TOKEN");
		return -1;
	}
	snprintf(e->name, sizeof e->name, "%s", name);
	snprintf(e->token, sizeof e->token, "%s", token);
	SHA256((const unsigned char *)token, strlen(token), e->id);
	e->admin = flag != NULL;
	return 0;
}

struct auth *auth_load(const char *path, char *err, size_t errlen)
{
	struct auth *a = xcalloc(1, sizeof *a);
	FILE *f = fopen(path, "r");
	char *line = NULL, why[200];
	size_t cap = 0, room = 0;
	int lineno = 0;
	struct stat st;

	if (!f || fstat(fileno(f), &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s belongs to uid %u, not to poold's "
			 "user (uid %u) or root; chown it", path,
			 (unsigned)st.st_uid, (unsigned)geteuid());
		goto fail;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "%s can be read by others (mode %03o); "
			 "chmod 600 it", path, (unsigned)(st.st_mode & 0777));
		goto fail;
	}
	while (getline(&line, &cap, f) >= 0) {
		lineno++;
		if (line[strspn(line, " \t\r\n")] == '\0' ||
		    line[strspn(line, " \t")] == '#')
			continue;
		if (a->n == room) {
			room = room ? room * 2 : 8;
			a->entries = realloc(a->entries, room * sizeof *a->entries);
			if (!a->entries)
				abort();
		}
		memset(&a->entries[a->n], 0, sizeof *a->entries);
		if (parse_line(line, &a->entries[a->n], why, sizeof why) < 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			goto fail;
		}
		a->n++;
	}
	fclose(f);
	explicit_bzero(line, cap);
	free(line);
	return a;
fail:
	if (f)
		fclose(f);
	if (line)
		explicit_bzero(line, cap);
	free(line);
	auth_free(a);
	return NULL;
}

/* Both buffers are zero-padded to TOKEN_MAX + 1: every byte is compared
 * in constant time, whatever the contents. */
static bool same(const char *a, const char *b)
{
	return CRYPTO_memcmp(a, b, TOKEN_MAX + 1) == 0;
}

const char *auth_check(const struct auth *a, const char *token, bool *admin,
		       unsigned char *id)
{
	char given[TOKEN_MAX + 1];
	const struct entry *found = NULL;

	memset(given, 0, sizeof given);
	if (strlen(token) > TOKEN_MAX)
		return NULL;
	memcpy(given, token, strlen(token));
	for (size_t i = 0; i < a->n; i++)
		if (same(given, a->entries[i].token) && !found)
			found = &a->entries[i];
	explicit_bzero(given, sizeof given);
	if (!found)
		return NULL;
	*admin = found->admin;
	memcpy(id, found->id, AUTH_ID_LEN);
	return found->name;
}

bool auth_holds(const struct auth *a, const char *name,
		const unsigned char *id, bool *admin)
{
	for (size_t i = 0; a && i < a->n; i++) {
		if (strcmp(a->entries[i].name, name) == 0 &&
		    CRYPTO_memcmp(a->entries[i].id, id, AUTH_ID_LEN) == 0) {
			*admin = a->entries[i].admin;
			return true;
		}
	}
	return false;
}
