/* SPDX-License-Identifier: MIT */
/* Fuzz target: any bytes as a matrix file; what parses expands into consistent, unique cells. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shakedown/matrix.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sd_matrix m;
	struct sd_matrix_error err;
	int ret = sd_matrix_parse((const char *)data, size, &m, &err);

	if (memchr(err.msg, 0, sizeof(err.msg)) == NULL || err.line < 0)
		abort();
	if (ret < 0) {
		if (!err.msg[0] || m.cells)
			abort();
		if (ret != -SD_ESYNTAX && ret != -SD_EUNKNOWN && ret != -SD_EVALUE &&
		    ret != -SD_EDUP && ret != -SD_ELIMIT)
			abort();
		return 0;
	}
	if (!m.ncells || m.ncells > SD_MATRIX_MAX_CELLS)
		abort();
	for (size_t i = 0; i < m.ncells; i++) {
		const struct sd_matrix_cell *c = &m.cells[i];
		char ex[256];

		if (c->index != i || c->profile >= m.nprofiles || c->path >= m.npaths ||
		    c->server >= m.nservers || c->shape >= m.nshapes || c->group >= m.ngroups)
			abort();
		if (!memchr(c->id, 0, sizeof(c->id)) || !c->id[0])
			abort();
		if (c->expect >> SD_OUTCOME_MAX)
			abort();
		sd_matrix_expect_str(c->expect, ex, sizeof(ex));
		if (!ex[0])
			abort();
		/* ids are unique (quadratic only on small inputs) */
		if (m.ncells < 300)
			for (size_t k = 0; k < i; k++)
				if (strcmp(m.cells[k].id, c->id) == 0)
					abort();
	}
	sd_matrix_free(&m);
	return 0;
}
