/* SPDX-License-Identifier: MIT */
/* Fuzz target: any bytes as profile text; what parses must also build a hello that parses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shakedown/hello.h"
#include "shakedown/profile.h"
#include "shakedown/rng.h"
#include "shakedown/tls.h"

/* A GREASE value written as a number may meet the same value drawn for a
 * GREASE slot; that duplicate is the profile's doing. */
static bool literal_grease(const struct sd_u16list *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (sd_tls_is_grease(l->v[i]) && l->v[i] != SD_GREASE_SLOT)
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sd_profile p;
	static struct sd_hello_state st;
	static struct sd_hello h;
	struct sd_profile_error err;
	struct sd_buf msg = SD_BUF_INIT;
	struct sd_rng rng;
	int ret;

	ret = sd_profile_parse((const char *)data, size, "fuzz", &p, &err);
	if (memchr(err.msg, 0, sizeof(err.msg)) == NULL || err.line < 0)
		abort();
	if (ret < 0) {
		/* Every failure says why. */
		if (!err.msg[0])
			abort();
		return 0;
	}
	/* A profile that parses builds, or refuses with an error code; a
	 * hello it builds is one our own parser accepts, unless the profile
	 * wrote raw bytes of its own into it. */
	if (sd_rng_seed(&rng, "fuzz") < 0)
		abort();
	ret = sd_hello_build(&p, NULL, &rng, &st, &msg);
	if (ret == 0 && sd_hello_parse(msg.data, msg.len, &h) < 0 && p.nraw == 0 &&
	    !literal_grease(&p.shares) && !literal_grease(&p.exts))
		abort();
	sd_hello_state_clear(&st);
	sd_buf_free(&msg);
	return 0;
}
