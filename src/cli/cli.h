/* SPDX-License-Identifier: MIT */
/* Shared helpers of the subcommands: errors, files, exit codes. */
#ifndef SD_CLI_H
#define SD_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shakedown/buf.h"

/* DESIGN.md exit codes. */
enum {
	SD_EXIT_OK = 0,
	SD_EXIT_FAIL = 1,
	SD_EXIT_USAGE = 2,
	SD_EXIT_ENV = 3,
	SD_EXIT_INTERNAL = 4,
};

/* Prints "shakedown CMD: message" on stderr; returns code for tail calls. */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reads a whole file ("-" for stdin), at most max bytes. -errno, or -EFBIG. */
int cli_read_file(const char *path, size_t max, uint8_t **data, size_t *len);
/* Writes to a file ("-" for stdout), atomically for regular files. */
int cli_write_file(const char *path, const void *data, size_t len);
/* Writes a buffer to stdout; -errno on failure (e.g. EPIPE). */
int cli_stdout(const struct sd_buf *b);
/*
 * For --profile/--path: a name with '/' or ending in .ini is a file. Returns
 * 0 for a built-in name, 1 with *data (free it) and base (the file name
 * without extension) for a file, or minus an exit code after printing why.
 */
int cli_read_spec(const char *name, const char *what, uint8_t **data, size_t *len,
		  char *base, size_t n);
/* An output file given to flag: "-", or a non-directory in a writable
 * directory; checked before anything is built. 0, or 2 after one line. */
int cli_check_output(const char *flag, const char *path);
/* "file:line: msg" (or "file: msg"), exit 2. */
int cli_spec_error(const char *name, int line, const char *msg);
/* Parses a decimal size with bounds; -1 on error. */
long long cli_parse_num(const char *s, long long min, long long max);

extern const char *cli_cmd;   /* the running subcommand, for messages */

int cmd_hello(int argc, char **argv);
int cmd_dissect(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_topo(int argc, char **argv);
int cmd_matrix(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_bisect(int argc, char **argv);
int cmd_replay(int argc, char **argv);



struct sd_profile;
/* A built-in profile by name, or a profile file (a path with '/' or ending
 * in .ini). Prints the error itself; returns 0 or an exit code. */
int cli_load_profile(const char *name, struct sd_profile *p);
struct sd_path;
/* The same for paths. */
int cli_load_path(const char *name, struct sd_path *p);
struct sd_lab_opts;
/* --server NAME: sets lo->server_mode and *name; 0, or exit 2 after saying why. */
int cli_opt_server(const char *arg, struct sd_lab_opts *lo, const char **name);
/* Before building a lab: the Node.js peer when the server mode needs one,
 * and privilege. 0, or an exit code (3) after printing why. */
int cli_lab_ready(const struct sd_lab_opts *lo, const char *server_name);
/* Prints err for sd_lab_open's failure ret; returns the exit code (3 for a
 * missing privilege or peer, else 4). */
int cli_lab_open_failed(int ret, const struct sd_lab_opts *lo, const char *err);
/* Before anything is built: each exec hop's program is an executable file
 * (in PATH) that does not leave the hop's namespace, and its config file
 * exists. Prints one line and returns 2 (3 for a program not installed),
 * or 0. */
int cli_check_exec_hops(const char *name, const struct sd_path *p);
#endif
