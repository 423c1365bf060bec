/* SPDX-License-Identifier: MIT */
/* Private temporary directories that do not outlive the process, even on SIGKILL. */
#ifndef SD_TMPDIR_H
#define SD_TMPDIR_H

#include <stddef.h>

#include "shakedown/err.h"

/*
 * Makes a new directory "<top>/<what>-XXXXXX" (mode 0700) into buf, where
 * <top> is this process's own "$TMPDIR/sd-<pid>-XXXXXX" ($TMPDIR when it
 * is an absolute path of at most 32 characters, else /tmp, so that the
 * names stay short enough for the configs that embed them many times).
 *
 * The first call starts a sweeper: a small child process, outside our
 * process group and deaf to terminal signals, that makes <top> itself
 * (so that <top> never exists without someone to remove it) and then
 * blocks on a socket whose other end only this process holds. However
 * the process ends — exit, a signal, SIGKILL — that end closes, and the
 * sweeper runs `rm -rf <top>` and exits. On a normal exit an atexit handler removes
 * <top> itself and reaps the sweeper, so nothing is left the moment the
 * process is gone. Thread-safe. Errors: -errno (mkdir, pipe, fork),
 * -ENAMETOOLONG (buf too small).
 */
int sd_tmpdir_make(const char *what, char *buf, size_t n) SD_WUR;

#endif
