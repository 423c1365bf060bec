/* SPDX-License-Identifier: MIT */
/*
 * Matrix files (docs/matrix.md): [cells NAME] sections, each a cross
 * product of profiles (and real clients) × paths × servers × shapes ×
 * families, and [expect]
 * rules, expanded into an ordered, de-duplicated list of cells with their
 * expectations. Parsing only: profile, path and server names are checked
 * for form here and resolved by the caller, who gets each name's line.
 */
#ifndef SHAKEDOWN_MATRIX_H
#define SHAKEDOWN_MATRIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shakedown/err.h"
#include "shakedown/verdict.h"

#define SD_MATRIX_MAX_CELLS 20000
#define SD_MATRIX_MAX_NAMES 256      /* distinct profiles, paths, servers, shapes */
#define SD_MATRIX_MAX_RULES 512
#define SD_MATRIX_NAME_MAX 256

struct sd_matrix_name {
	char name[SD_MATRIX_NAME_MAX];   /* as written: a built-in name or a file */
	int line;                        /* first mention */
};

struct sd_matrix_cell {
	size_t index;                    /* position in the matrix, 0-based */
	uint16_t profile, path, server, shape;   /* into the name tables */
	bool client;                     /* profile names a real client (clients = ...) */
	bool ipv6;
	size_t chain_size;
	uint32_t expect;                 /* bit per enum sd_outcome; 0: any */
	int rule_line;                   /* the rule or section line it came from; 0: default */
	uint16_t group;                  /* its [cells NAME] section */
	char id[SD_MATRIX_NAME_MAX * 2 + 96];
};

struct sd_matrix {
	char description[256];
	char seed[64];
	struct sd_matrix_name profiles[SD_MATRIX_MAX_NAMES], paths[SD_MATRIX_MAX_NAMES],
		servers[SD_MATRIX_MAX_NAMES], shapes[SD_MATRIX_MAX_NAMES], groups[SD_MATRIX_MAX_NAMES];
	size_t nprofiles, npaths, nservers, nshapes, ngroups;
	/* profiles[i] names a real client (a [cells] clients list), not a profile. */
	bool client[SD_MATRIX_MAX_NAMES];
	struct sd_matrix_cell *cells;    /* owned */
	size_t ncells;
};

struct sd_matrix_error {
	int line;                        /* 0: the file as a whole */
	char msg[320];
};

/*
 * Parses a matrix file's text and expands its cells. A profile or path
 * name is a built-in name or a file (with '/' or ending in .ini, taken as
 * written). Shapes are checked with sd_shape_parse; "default" is no
 * shaping. Errors, with err->line: -SD_ESYNTAX, -SD_EVALUE, -SD_EUNKNOWN
 * (an unknown key or outcome), -SD_ELIMIT, -ENOMEM.
 */
int sd_matrix_parse(const char *text, size_t len, struct sd_matrix *m, struct sd_matrix_error *err) SD_WUR;
void sd_matrix_free(struct sd_matrix *m);

/* "ok|ok-hrr", "blackhole", "any" */
void sd_matrix_expect_str(uint32_t expect, char *out, size_t n);
/* Whether an outcome meets an expectation (error never does). */
bool sd_matrix_expect_met(uint32_t expect, enum sd_outcome o);

#endif
