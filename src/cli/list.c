/* SPDX-License-Identifier: MIT */
/* shakedown list: what the tool knows by name. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "shakedown/client.h"
#include "shakedown/buf.h"
#include "shakedown/builtin.h"
#include "shakedown/endpoint.h"
#include "shakedown/matrix.h"
#include "shakedown/inspect.h"
#include "shakedown/json.h"
#include "shakedown/path.h"
#include "shakedown/report.h"
#include "shakedown/profile.h"
#include "shakedown/tls.h"


static const char list_usage[] =
	"usage: shakedown list WHAT [--json]\n"
	"\n"
	"WHAT is one of:\n"
	"  profiles    built-in handshake profiles, with their key shares\n"
	"  paths       built-in network paths, with their hops' behaviours\n"
	"  behaviours  what a hop in a path file can do\n"
	"  servers     server endpoints for --server\n"
	"  clients     real client programs for --client and a matrix's clients =\n"
	"  matrices    built-in matrices for 'shakedown matrix', with their cell counts\n"
	"  groups      named groups shakedown can make key shares for\n";

static void share_summary(const struct sd_profile *p, char *out, size_t n)
{
	size_t w = 0;

	out[0] = 0;
	for (size_t i = 0; i < p->shares.n && w < n; i++) {
		uint16_t g = p->shares.v[i];
		const char *name = g == SD_GREASE_SLOT ? "GREASE" : sd_tls_group_name(g);

		w += (size_t)snprintf(out + w, n - w, "%s%s", i ? "+" : "", name ? name : "?");
	}
}

/* "name:ARG  help", the help aligned however long the name. */
static void list_behaviour(struct sd_buf *b, const char *name, const char *arg, const char *help)
{
	char word[64];

	/* An optional argument, "[MS]", reads segment-gap-break[:MS]. */
	if (arg && arg[0] == '[')
		snprintf(word, sizeof(word), "%s[:%s", name, arg + 1);
	else
		snprintf(word, sizeof(word), "%s%s%s", name, arg ? ":" : "", arg ? arg : "");
	sd_buf_printf(b, "%-26s %s\n", word, help ? help : "");
}

int cmd_list(int argc, char **argv)
{
	bool json = false;
	const char *what = NULL;
	struct sd_buf b = SD_BUF_INIT;
	struct sd_json j;
	int rc = SD_EXIT_OK;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(list_usage, stdout);
			return SD_EXIT_OK;
		} else if (argv[i][0] == '-' || what)
			return cli_error(SD_EXIT_USAGE, "unexpected argument '%s' (see 'shakedown list --help')", argv[i]);
		else
			what = argv[i];
	}
	if (!what)
		return cli_error(SD_EXIT_USAGE, "what to list: profiles, paths, matrices, behaviours, servers, clients or groups?");
	sd_json_init(&j, &b, true);
	if (!strcmp(what, "profiles")) {
		if (json)
			sd_json_arr_open(&j);
		for (const struct sd_builtin_file *f = sd_builtin_profiles; f->name; f++) {
			static struct sd_profile p;
			struct sd_profile_error err;
			char shares[200];

			if (sd_profile_parse(f->text, f->len, f->name, &p, &err) < 0) {
				rc = cli_error(SD_EXIT_INTERNAL, "built-in profile %s:%d: %s", f->name,
					       err.line, err.msg);
				goto out;
			}
			share_summary(&p, shares, sizeof(shares));
			if (json) {
				sd_json_obj_open(&j);
				sd_json_kstr(&j, "name", p.name);
				sd_json_kstr(&j, "shares", shares);
				sd_json_kstr(&j, "description", p.description);
				sd_json_obj_close(&j);
			} else {
				sd_buf_printf(&b, "%-18s %-36s %s\n", p.name, shares, p.description);
			}
		}
		if (json)
			sd_json_arr_close(&j);
	} else if (!strcmp(what, "paths")) {
		if (json)
			sd_json_arr_open(&j);
		for (const struct sd_builtin_file *f = sd_builtin_paths; f->name; f++) {
			static struct sd_path p;
			struct sd_path_error perr;
			char hops[1024];
			size_t w = 0;

			if (sd_path_parse(f->text, f->len, f->name, &p, &perr) < 0) {
				rc = cli_error(SD_EXIT_INTERNAL, "built-in path %s:%d: %s", f->name,
					       perr.line, perr.msg);
				goto out;
			}
			hops[0] = 0;
			for (size_t i = 0; i < p.nhops && w < sizeof(hops); i++) {
				char beh[600];

				if (sd_path_hop_format(&p.hop[i], beh, sizeof(beh)) < 0)
					beh[0] = 0;
				w += (size_t)snprintf(hops + w, sizeof(hops) - w, "%s%s%s%s%s", i ? " | " : "",
						      p.hop[i].name, beh[0] ? " (" : "", beh, beh[0] ? ")" : "");
			}
			if (json) {
				sd_json_obj_open(&j);
				sd_json_kstr(&j, "name", p.name);
				sd_json_kstr(&j, "hops", hops);
				sd_json_kstr(&j, "description", p.description);
				sd_json_obj_close(&j);
			} else {
				sd_buf_printf(&b, "%-22s %s\n%22s %s\n", p.name, p.description, "", hops);
			}
		}
		if (json)
			sd_json_arr_close(&j);
	} else if (!strcmp(what, "matrices")) {
		if (json)
			sd_json_arr_open(&j);
		for (const struct sd_builtin_file *f = sd_builtin_matrices; f->name; f++) {
			static struct sd_matrix m;
			struct sd_matrix_error merr;

			if (sd_matrix_parse(f->text, f->len, &m, &merr) < 0) {
				rc = cli_error(SD_EXIT_INTERNAL, "built-in matrix %s:%d: %s", f->name,
					       merr.line, merr.msg);
				goto out;
			}
			if (json) {
				sd_json_obj_open(&j);
				sd_json_kstr(&j, "name", f->name);
				sd_json_kint(&j, "cells", (long long)m.ncells);
				sd_json_kstr(&j, "description", m.description);
				sd_json_obj_close(&j);
			} else {
				sd_buf_printf(&b, "%-18s %5zu cells  %s\n", f->name, m.ncells, m.description);
			}
			sd_matrix_free(&m);
		}
		if (json)
			sd_json_arr_close(&j);
	} else if (!strcmp(what, "behaviours") || !strcmp(what, "behaviors")) {
		/* The router's, then the emulated device parsers (user-space engine). */
		for (const struct sd_behaviour_info *bi = sd_path_behaviours; bi->name; bi++)
			list_behaviour(&b, bi->name, bi->arg, bi->help);
		for (const struct sd_insp_info *ii = sd_insp_behaviours; ii->name; ii++)
			list_behaviour(&b, ii->name, ii->arg, ii->help);
		sd_buf_printf(&b, "\nexec hops: templates in the exec command and the config file\n");
		for (const struct sd_path_template_key *k = sd_path_template_keys; k->name; k++) {
			char word[40];

			snprintf(word, sizeof(word), "{%s}", k->name);
			sd_buf_printf(&b, "  %-24s %s\n", word, k->help);
		}
	} else if (!strcmp(what, "servers")) {
		for (const struct sd_server_mode_info *m = sd_server_modes; m->name; m++)
			sd_buf_printf(&b, "%-13s %s\n", m->name, m->help);
	} else if (!strcmp(what, "clients")) {
		for (int k = 0; k < SD_CLIENT_MAX; k++) {
			char why[600] = "";
			bool here = sd_client_check((enum sd_client_kind)k, why, sizeof(why)) == 0;

			sd_buf_printf(&b, "%-9s %s%s\n", sd_client_name((enum sd_client_kind)k),
				      sd_client_description((enum sd_client_kind)k), here ? "" : " (not installed)");
		}
	} else if (!strcmp(what, "groups")) {
		static const uint16_t gs[] = {
			0x001d, 0x0017, 0x0018, 0x0019, 0x0200, 0x0201, 0x0202,
			0x11eb, 0x11ec, 0x11ed, 0x6399,
		};

		if (json)
			sd_json_arr_open(&j);
		for (size_t i = 0; i < sizeof(gs) / sizeof(gs[0]); i++) {
			if (json) {
				sd_json_obj_open(&j);
				sd_json_kint(&j, "group", gs[i]);
				sd_json_kstr(&j, "name", sd_tls_group_name(gs[i]));
				sd_json_kint(&j, "client_share", (long long)sd_tls_group_client_share_len(gs[i]));
				sd_json_kint(&j, "server_share", (long long)sd_tls_group_server_share_len(gs[i]));
				sd_json_kbool(&j, "post_quantum", sd_tls_group_is_pq(gs[i]));
				sd_json_obj_close(&j);
			} else {
				sd_buf_printf(&b, "0x%04x  %-22s client share %4zu  server share %4zu%s\n",
					      gs[i], sd_tls_group_name(gs[i]),
					      sd_tls_group_client_share_len(gs[i]),
					      sd_tls_group_server_share_len(gs[i]),
					      sd_tls_group_is_pq(gs[i]) ? "  post-quantum" : "");
			}
		}
		if (json)
			sd_json_arr_close(&j);
	} else {
		return cli_error(SD_EXIT_USAGE, "cannot list '%s': profiles, paths, matrices, behaviours, servers, clients or groups", what);
	}
	if (sd_buf_error(&b) < 0 || cli_stdout(&b) < 0)
		rc = cli_error(SD_EXIT_INTERNAL, "cannot write the list");
out:
	sd_buf_free(&b);
	return rc;
}
