/* SPDX-License-Identifier: MIT */
/* Shared between the files of src/topo/; not part of the public API. */
#ifndef SD_TOPO_INT_H
#define SD_TOPO_INT_H

#include <stddef.h>

/*
 * Loads nft(8) text into the nftables ruleset of the calling thread's
 * network namespace, with libnftables. Returns 0, or -EINVAL with msg
 * holding the first line of nft's error output, -ENOMEM.
 */
int sd_topo_nft_load(const char *rules, char *msg, size_t n);

/*
 * Loads the table shakedown_quiet (drops the namespace's own MLD reports)
 * into the calling thread's namespace, as one nfnetlink batch. Returns 0
 * or -errno with msg saying so.
 */
int sd_topo_nft_quiet(char *msg, size_t n);

#endif
