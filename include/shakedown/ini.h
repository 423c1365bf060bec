/* SPDX-License-Identifier: MIT */
/*
 * INI files for people (profiles, paths, later matrices), read with inih:
 * sections and keys in file order, each with the line it starts on, values
 * continued on indented lines joined into one. inih alone tells neither
 * lines nor continuations; this module does, so every spec parser reports
 * "file:line: what" the same way.
 */
#ifndef SHAKEDOWN_INI_H
#define SHAKEDOWN_INI_H

#include <stdbool.h>
#include <stddef.h>

#include "shakedown/err.h"

/* inih reads a line into INI_MAX_LINE (200) bytes: 198 characters. */
#define SD_INI_LINE_CHARS 198

struct sd_ini_item {
	bool section;            /* a [section] header, else a key */
	int line;                /* 1-based, where it starts */
	char name[48];           /* the text between the brackets, or the key */
	bool name_long;          /* a section name that did not fit (and is cut) */
	char *value;             /* keys: the value, continuation lines joined */
};

struct sd_ini {
	struct sd_ini_item *item;
	size_t n;
};

/*
 * Reads len bytes of INI text (no NUL needed) into ini, which owns its
 * strings until sd_ini_free. Errors, with *line and a message in msg:
 * -SD_ESYNTAX for a NUL byte, a line longer than SD_INI_LINE_CHARS, or a
 * line that is neither "key = value", a comment nor a [section];
 * -ENOMEM.
 */
int sd_ini_read(const char *text, size_t len, struct sd_ini *ini, int *line, char *msg,
		size_t msglen) SD_WUR;
void sd_ini_free(struct sd_ini *ini);

#endif
