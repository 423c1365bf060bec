/* SPDX-License-Identifier: MIT */
/* Rootless mode: the CLI's own user, network and mount namespace. */
#ifndef SD_CLI_ROOTLESS_H
#define SD_CLI_ROOTLESS_H

#include <stdbool.h>

/*
 * Called by main for every command with its argv (argv[0] the command),
 * before any thread exists: enters rootless mode (cli_rootless_enter) when
 * the command builds namespaces (run, matrix, topo up), is not asking for
 * --help, and cli_rootless_wanted() says so. 'topo up --keep' and 'topo
 * down' cannot work rootless and exit 3 here. When the system forbids
 * rootless mode the command goes on unprivileged (its bad arguments are
 * still exit 2) and reports it through cli_no_privilege(); only a forced
 * rootless mode as root fails here. Returns 0 to go on, or the exit code
 * after printing one line.
 */
int cli_rootless_prepare(int argc, char **argv);

/*
 * What SHAKEDOWN_ROOTLESS asks for: 1 forces rootless mode even as root,
 * 0 never enters it, unset (or "auto") enters it when the effective uid is
 * not 0. Any other value is a usage error: returns -1.
 */
int cli_rootless_wanted(void);

/*
 * Moves the whole process into a new user + network + mount namespace with
 * the caller's uid and gid mapped to 0, so that it may build network
 * namespaces without real root. Must run before the process has a second
 * thread (unshare(CLONE_NEWUSER) refuses multithreaded callers). On failure
 * keeps one line naming what forbids it (the sysctl, seccomp...) for
 * cli_no_privilege() and returns SD_EXIT_ENV; 0 on success. The namespaces
 * die with the process.
 */
int cli_rootless_enter(void);

/*
 * For a command that needs privilege and has none: prints why (what forbade
 * rootless mode, or that root is needed) and returns SD_EXIT_ENV.
 */
int cli_no_privilege(void);

/* True once cli_rootless_enter() has succeeded. */
bool cli_rootless_active(void);

#endif
