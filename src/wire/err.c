/* SPDX-License-Identifier: MIT */
/* One table of messages for the project's error codes. */
#include <string.h>

#include "shakedown/err.h"

static const char *const messages[SD_EMAX - SD_EBASE] = {
	[SD_ETRUNC - SD_EBASE] = "input ends inside a field",
	[SD_ELENGTH - SD_EBASE] = "length field disagrees with its contents",
	[SD_EVALUE - SD_EBASE] = "illegal value",
	[SD_EDUP - SD_EBASE] = "duplicate value",
	[SD_ETYPE - SD_EBASE] = "unexpected message type",
	[SD_ELIMIT - SD_EBASE] = "too many items",
	[SD_EUNKNOWN - SD_EBASE] = "unknown name",
	[SD_ESYNTAX - SD_EBASE] = "syntax error",
	[SD_EFORMAT - SD_EBASE] = "unrecognised format",
	[SD_ENOHELLO - SD_EBASE] = "no ClientHello found",
	[SD_ECRYPTO - SD_EBASE] = "crypto library failure",
	[SD_ESNAPLEN - SD_EBASE] = "capture truncated by snaplen",
};

const char *sd_strerror(int err)
{
	int e = err < 0 ? -err : err;

	if (e > SD_EBASE && e < SD_EMAX && messages[e - SD_EBASE])
		return messages[e - SD_EBASE];
	if (e > 0 && e < SD_EBASE)
		return strerror(e);
	return "unknown error";
}
