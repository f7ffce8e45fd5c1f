/*
 * errors.c - the 1:1 mapping between pool_code and the contract's error code
 * strings, and the filling of pool_error, kept in one place so that a code
 * added to the contract is added here once.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* Indexed by pool_code; the wire names come from pool_protocol.h. */
static const char *const code_names[] = {
	[POOL_OK] = "ok",
	[POOL_E_BAD_REQUEST] = POOL_ERR_BAD_REQUEST,
	[POOL_E_UNKNOWN_OP] = POOL_ERR_UNKNOWN_OP,
	[POOL_E_TOO_LARGE] = POOL_ERR_TOO_LARGE,
	[POOL_E_NOT_FOUND] = POOL_ERR_NOT_FOUND,
	[POOL_E_EXISTS] = POOL_ERR_EXISTS,
	[POOL_E_CONFLICT] = POOL_ERR_CONFLICT,
	[POOL_E_EXHAUSTED] = POOL_ERR_EXHAUSTED,
	[POOL_E_TIMEOUT] = POOL_ERR_TIMEOUT,
	[POOL_E_BUSY] = POOL_ERR_BUSY,
	[POOL_E_EXPIRED] = POOL_ERR_EXPIRED,
	[POOL_E_FORBIDDEN] = POOL_ERR_FORBIDDEN,
	[POOL_E_DRAINING] = POOL_ERR_DRAINING,
	[POOL_E_CREATE_FAILED] = POOL_ERR_CREATE_FAILED,
	[POOL_E_INTERNAL] = POOL_ERR_INTERNAL,
	[POOL_E_UNREACHABLE] = "unreachable",
	[POOL_E_PROTOCOL] = "protocol",
	[POOL_E_NOT_LEADER] = POOL_ERR_NOT_LEADER,
};

#define NCODES (sizeof(code_names) / sizeof(code_names[0]))

const char *pool_code_name(pool_code c)
{
	if ((unsigned)c >= NCODES)
		return "unknown";
	return code_names[c];
}

pool_code pool_code_from_name(const char *name)
{
	if (!name)
		return POOL_E_PROTOCOL;
	for (size_t i = 0; i < NCODES; i++)
		if (strcmp(name, code_names[i]) == 0)
			return (pool_code)i;
	return POOL_E_PROTOCOL;
}

const char *pool_libversion(void)
{
	return POOL_VERSION;
}

void pool__seterr(pool_error *err, pool_code code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

void pool__clearerr(pool_error *err)
{
	if (!err)
		return;
	err->code = POOL_OK;
	err->message[0] = '\0';
}
