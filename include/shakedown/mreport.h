/* SPDX-License-Identifier: MIT */
/*
 * Matrix reports. A matrix run, a merge of shards and a diff all work on
 * one model: the matrix JSON document (docs/matrix.md, schema
 * "shakedown-matrix/1"), held as a jansson tree. `shakedown matrix`
 * builds it from its cells; `merge` and `--diff` load it from files. Every
 * report — terminal matrix, JUnit, Markdown, HTML — is rendered from that
 * tree alone, so a merged run prints exactly what a single run prints.
 *
 * Documents from files are untrusted: sd_mreport_load validates every
 * field a renderer touches (types, ranges, outcome names) before any
 * renderer sees it, so renderers may assume a valid document.
 */
#ifndef SHAKEDOWN_MREPORT_H
#define SHAKEDOWN_MREPORT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "shakedown/buf.h"
#include "shakedown/err.h"

#define SD_MREPORT_SCHEMA "shakedown-matrix/1"

/*
 * Parses and validates a matrix document of len bytes. On success *out
 * holds a new reference. Errors: -SD_ESYNTAX (not JSON: msg says where),
 * -SD_EVALUE (JSON but not a valid matrix document: msg names the field,
 * e.g. "cells[3].outcome: unknown outcome 'okay'"), -ENOMEM. msg is one line.
 * Limits (-SD_EVALUE beyond them): 256 MiB of text, 1e6 cells, nesting 32
 * deep, names 4 KiB, evidence lines 64 KiB; numbers are integers.
 */
int sd_mreport_load(const char *text, size_t len, json_t **out, char *msg, size_t msglen) SD_WUR;

/*
 * Validates a tree built in memory (the same checks as sd_mreport_load):
 * every field a renderer reads has its type and range, cells are sorted by
 * index with unique ids and one cell per (profile, path, server, shape,
 * family), and "summary" agrees with the cells. 0 or -SD_EVALUE (msg as above).
 */
int sd_mreport_validate(const json_t *doc, char *msg, size_t msglen) SD_WUR;

/*
 * Recomputes "summary" from "cells" (cells, passed, failed = not passed
 * and not error, errors, outcomes: the ones that occur, in DESIGN.md's
 * order). A missing summary is inserted after "shard". Used by the matrix
 * command and by merge. -SD_EVALUE if a cell lacks a known outcome or a
 * boolean pass, -ENOMEM.
 */
int sd_mreport_summarize(json_t *doc) SD_WUR;

/* Serialises a document the way every command writes it (2-space indent,
 * keys in insertion order, a final newline). */
int sd_mreport_dump(const json_t *doc, struct sd_buf *out) SD_WUR;

struct sd_mreport_text_opts {
	bool color;          /* ANSI colours (the caller decides: TTY and no NO_COLOR) */
	bool utf8;           /* symbols like ✓ ✗; else ASCII */
	bool failures_only;  /* after the tables, list only cells that missed their expectation (always; no effect) */
	unsigned width;      /* terminal columns to fit the tables in; 0 (or < 40): 120 */
};

/*
 * The terminal matrix: one table per (server, shape, family) panel with
 * profiles as rows and paths as columns, one symbol per cell (coloured by
 * outcome, marked when it missed its expectation), a legend, then each
 * cell that missed its expectation with its outcome and evidence, then a
 * one-line summary. Paths head the columns when they fit in o->width, else
 * numbers with a key below. o may be NULL (ASCII, no colour). Text from the
 * document is made safe for a terminal (control and bidi characters as '?').
 */
int sd_mreport_text(const json_t *doc, const struct sd_mreport_text_opts *o, struct sd_buf *out) SD_WUR;

/* JUnit XML: one <testcase> per cell; <failure> when a cell missed its
 * expectation (outcome, expected, evidence), <error> for outcome "error". */
int sd_mreport_junit(const json_t *doc, struct sd_buf *out) SD_WUR;

/* GitHub-flavoured Markdown for a CI job summary. */
int sd_mreport_markdown(const json_t *doc, struct sd_buf *out) SD_WUR;

/* One self-contained HTML page: heatmap, filters, per-cell drill-down
 * (ladder, ClientHello field map with the truncation point, pcap links).
 * Nothing is fetched: CSS, JS and the data are inline. */
int sd_mreport_html(const json_t *doc, struct sd_buf *out) SD_WUR;

/*
 * Combines shard documents into the document a single run would have
 * produced: same matrix (name, source, total cell count), disjoint cell
 * indexes; cells sorted by index, "shard" null, "summary" recomputed,
 * "run" merged (wall_ms the largest, jobs and labs summed, shards counted,
 * the earliest started). Each input is validated first; *out is a new
 * document that shares nothing with them.
 * Errors (-SD_EVALUE, msg one line): "document 2: <why it is invalid>",
 * different matrices or shakedown versions, a cell in two shards ("cell 5
 * (ID) is in documents 1 and 2"), cells missing ("cells missing: cell 3 is
 * in none of the 3 documents (7 of 8 cells present)"); -ENOMEM.
 */
int sd_mreport_merge(json_t *const *docs, size_t n, json_t **out, char *msg, size_t msglen) SD_WUR;

/*
 * What changed from old to new, by cell id: regressions (passed, now
 * fails) first, then fixes, then other outcome changes, then cells only in
 * one of them. Text for people (colour as in text opts) or, with json,
 * a JSON object. *regressions gets their count (the CLI exits 1 if > 0).
 * Text lines read "ID: old → new (evidence)"; JSON is {"regressions":
 * [{id, old, new, detail}], "fixes", "changed", "removed": [ids], "added":
 * [ids]}. o and regressions may be NULL.
 */
int sd_mreport_diff(const json_t *old_doc, const json_t *new_doc, bool json,
		    const struct sd_mreport_text_opts *o, struct sd_buf *out, size_t *regressions) SD_WUR;

#endif
