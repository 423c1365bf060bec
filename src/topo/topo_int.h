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

#endif
