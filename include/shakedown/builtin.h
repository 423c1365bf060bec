/* SPDX-License-Identifier: MIT */
/* Files compiled into the binary (built-in profiles and paths), generated
 * at build time from netns/profiles/ and netns/paths/ by cmake/embed.cmake. */
#ifndef SHAKEDOWN_BUILTIN_H
#define SHAKEDOWN_BUILTIN_H

#include <stddef.h>

struct sd_builtin_file {
	const char *name;   /* file name without .ini */
	const char *text;
	size_t len;
};

/* NULL-terminated tables. */
extern const struct sd_builtin_file sd_builtin_profiles[];
extern const struct sd_builtin_file sd_builtin_paths[];
extern const struct sd_builtin_file sd_builtin_matrices[];
/* The .cfg files of netns/mbox/, named with their extension: the config templates of
 * the built-in paths' exec hops (shakedown/path.h). */
extern const struct sd_builtin_file sd_builtin_mbox[];

#endif
