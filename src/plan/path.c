/* SPDX-License-Identifier: MIT */
/* Path files (INI, parsed with inih) into struct sd_path, and back to text. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shakedown/ini.h"
#include "shakedown/path.h"
#include "shakedown/report.h"


const struct sd_behaviour_info sd_path_behaviours[] = {
	{ SD_BEH_MTU, "mtu", "N",
	  "MTU of the hop's link toward the server, 68..9000 (default 1500)", false },
	{ SD_BEH_ICMP_FILTER, "icmp-filter", NULL,
	  "drop the hop's own ICMP frag-needed / ICMPv6 packet-too-big (PMTUD black hole)", false },
	{ SD_BEH_MSS_CLAMP, "mss-clamp", "N",
	  "lower the MSS of forwarded SYNs and SYN-ACKs to N, 88..9000", false },
	{ SD_BEH_DROP_FRAGMENTS, "drop-fragments", NULL,
	  "drop IPv4 fragments and IPv6 packets with a fragment header", false },
	{ SD_BEH_LOSS, "loss", "P",
	  "drop P percent of forwarded packets at random, 0..100", false },
	{ SD_BEH_RATE, "rate", "R",
	  "token bucket on both egresses, e.g. 10mbit (8kbit..10gbit)", false },
	{ SD_BEH_DELAY, "delay", "MS",
	  "hold every packet MS milliseconds in each direction, 0..5000 (user-space engine)", true },
	{ SD_BEH_JITTER, "jitter", "MS",
	  "hold each packet 0..MS milliseconds more, order kept, 0..5000 (user-space engine)", true },
	{ SD_BEH_DUP, "dup", "P",
	  "send P percent of packets twice, 0..100 (user-space engine)", true },
	{ SD_BEH_REORDER, "reorder", "P",
	  "hold P percent of packets back behind the next one, 0..100 (user-space engine)", true },
	{ SD_BEH_TRUNCATE, "truncate-segment", "N",
	  "cut client-to-server TCP segments to their first N payload bytes, 1..65535; "
	  "the rest never arrives (user-space engine)", true },
	{ SD_BEH_SEED, "seed", "S",
	  "random choices of the hop from seed S, the same in every cell (user-space engine)", true },
	{ SD_BEH_USERSPACE, "userspace", NULL,
	  "forward in the user-space middlebox engine instead of the kernel", true },
	{ SD_BEH_EXEC, "exec", NULL,
	  "run the hop's `exec = COMMAND` (a real proxy: haproxy, nginx, ...) in its namespace "
	  "and DNAT the client's TCP to the server's :443 into it; keys exec, config = FILE "
	  "(a template next to the path file), listen = PORT (8443), start_timeout = MS until it "
	  "listens (5000); templates below", false },
	{ 0, NULL, NULL, NULL, false },
};

const struct sd_path_template_key sd_path_template_keys[] = {
	{ "dir", "the lab's private temporary directory for this hop (pid files, logs)" },
	{ "config", "the config file, its templates filled in, inside {dir}" },
	{ "listen_addr", "the hop's client-side address, where the program must listen" },
	{ "listen_port", "the `listen` port" },
	{ "listen", "{listen_addr}:{listen_port}, the address in [] over IPv6" },
	{ "server_addr", "the server's address (the client's destination)" },
	{ "server_port", "the server's port, 443" },
	{ "server", "{server_addr}:{server_port}, the address in [] over IPv6" },
	{ "out_addr", "the hop's server-side address (its own connections leave from it)" },
	{ "client_addr", "the client engine's address" },
	{ "hop", "the hop's name" },
	{ NULL, NULL },
};

struct parse_ctx {
	struct sd_path *p;
	struct sd_path_error *err;
	int line;
	int ret;
	int sect;                  /* -1 none yet, 0 [path], 1.. hop number */
	bool have_path;
	unsigned seen;             /* keys of the current section, bit per key */
};

__attribute__((format(printf, 3, 4)))
static int fail(struct parse_ctx *c, int ret, const char *fmt, ...)
{
	va_list ap;

	c->ret = ret;
	c->err->line = c->line;
	va_start(ap, fmt);
	vsnprintf(c->err->msg, sizeof(c->err->msg), fmt, ap);
	va_end(ap);
	return ret;
}

/* Decimal digits only, no sign, at most max. */
static int parse_dec(const char *s, size_t len, unsigned long max, unsigned long *v)
{
	unsigned long x = 0;

	if (!len)
		return -SD_EVALUE;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -SD_EVALUE;
		x = x * 10 + (unsigned long)(s[i] - '0');
		if (x > max)
			return -SD_EVALUE;
	}
	*v = x;
	return 0;
}

/*
 * "D[.D]" with at most maxdec decimals, into an integer scaled by
 * 10^maxdec; at most max after scaling.
 */
static int parse_fixed(const char *s, size_t len, unsigned maxdec, uint64_t max,
		       uint64_t *v, size_t *used)
{
	uint64_t x = 0;
	size_t i = 0;
	unsigned dec = 0;
	bool dot = false, digit = false;

	for (; i < len; i++) {
		if (s[i] == '.' && !dot) {
			dot = true;
			continue;
		}
		if (!isdigit((unsigned char)s[i]))
			break;
		digit = true;
		if (dot && ++dec > maxdec)
			return -SD_EVALUE;
		x = x * 10 + (uint64_t)(s[i] - '0');
		if (x > max)
			return -SD_EVALUE;
	}
	if (!digit)
		return -SD_EVALUE;
	for (; dec < maxdec; dec++) {
		x *= 10;
		if (x > max)
			return -SD_EVALUE;
	}
	*v = x;
	*used = i;
	return 0;
}

#define RATE_MIN 8000ull
#define RATE_MAX 10000000000ull

/* "10mbit", "1.5gbit", "64000": bits per second, SI units (tc(8) RATES). */
static int parse_rate(const char *s, size_t len, uint64_t *bps)
{
	static const struct {
		const char *unit;
		uint64_t mult;
	} units[] = {
		{ "", 1 }, { "bit", 1 }, { "kbit", 1000 }, { "mbit", 1000000 },
		{ "gbit", 1000000000 },
	};
	uint64_t x;
	size_t used;

	/* Three decimals at most: 1.234mbit is still a whole number of bits. */
	if (parse_fixed(s, len, 3, RATE_MAX * 1000, &x, &used) < 0)
		return -SD_EVALUE;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		uint64_t r;

		if (strlen(units[i].unit) != len - used ||
		    strncasecmp(s + used, units[i].unit, len - used) != 0)
			continue;
		if (x > RATE_MAX * 1000 / units[i].mult)
			return -SD_EVALUE;
		r = x * units[i].mult;
		if (r % 1000)
			return -SD_EVALUE;
		r /= 1000;
		if (r < RATE_MIN || r > RATE_MAX)
			return -SD_EVALUE;
		*bps = r;
		return 0;
	}
	return -SD_EVALUE;
}

static const struct sd_behaviour_info *find_behaviour(const char *w, size_t n)
{
	for (const struct sd_behaviour_info *b = sd_path_behaviours; b->name; b++)
		if (strlen(b->name) == n && strncmp(b->name, w, n) == 0)
			return b;
	return NULL;
}

static const char *range_of(unsigned bit)
{
	switch (bit) {
	case SD_BEH_MTU:
		return "mtu:N takes 68..9000";
	case SD_BEH_MSS_CLAMP:
		return "mss-clamp:N takes 88..9000";
	case SD_BEH_LOSS:
		return "loss:P takes a percentage 0..100, at most two decimals";
	case SD_BEH_RATE:
		return "rate:R takes bit/s with an optional unit bit, kbit, mbit or gbit, 8kbit..10gbit";
	case SD_BEH_DELAY:
		return "delay:MS takes milliseconds 0..5000";
	case SD_BEH_JITTER:
		return "jitter:MS takes milliseconds 0..5000";
	case SD_BEH_DUP:
		return "dup:P takes a percentage 0..100, at most two decimals";
	case SD_BEH_REORDER:
		return "reorder:P takes a percentage 0..100, at most two decimals";
	case SD_BEH_TRUNCATE:
		return "truncate-segment:N takes bytes 1..65535";
	case SD_BEH_SEED:
		return "seed:S takes 1..31 characters of A-Z a-z 0-9 . _ -";
	}
	return "";
}

static bool valid_seed(const char *s, size_t len)
{
	if (len == 0 || len >= SD_PATH_SEED_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

/*
 * One of the emulated device parsers (shakedown/inspect.h)? Returns 1 when
 * sd_insp_parse took the word, 0 when it is none of them, or its error
 * with c's message set.
 */
static int parse_inspector(struct parse_ctx *c, struct sd_path_hop *h, const char *key,
			   const char *w, size_t wl)
{
	char item[SD_INI_LINE_CHARS + 1], msg[160] = "";
	int ret;

	if (wl >= sizeof(item))
		return 0;
	memcpy(item, w, wl);
	item[wl] = 0;
	ret = sd_insp_parse(item, &h->insp, msg, sizeof(msg));
	if (ret < 0)
		return fail(c, ret, "%s: %s", key, msg[0] ? msg : item);
	return ret > 0 ? 1 : 0;
}

static int parse_behaviours(struct parse_ctx *c, struct sd_path_hop *h, const char *key,
			    const char *val)
{
	const char *s = val;

	while (*s) {
		const struct sd_behaviour_info *b;
		const char *w, *colon, *arg;
		size_t wl, nl, al;
		unsigned long x;
		uint64_t y;
		size_t used;

		while (*s == ',' || isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		w = s;
		while (*s && *s != ',' && !isspace((unsigned char)*s))
			s++;
		wl = (size_t)(s - w);
		colon = memchr(w, ':', wl);
		nl = colon ? (size_t)(colon - w) : wl;
		arg = colon ? colon + 1 : NULL;
		al = colon ? wl - nl - 1 : 0;
		b = find_behaviour(w, nl);
		if (!b) {
			int ret = parse_inspector(c, h, key, w, wl);

			if (ret < 0)
				return ret;
			if (ret > 0)
				continue;
			return fail(c, -SD_EUNKNOWN,
				    "%s: unknown behaviour '%.*s' (see 'shakedown list behaviours')",
				    key, (int)(wl > 40 ? 40 : wl), w);
		}
		if (h->given & b->bit)
			return fail(c, -SD_EDUP, "%s: '%s' given twice for hop '%s'",
				    key, b->name, h->name);
		if (b->arg && !arg)
			return fail(c, -SD_EVALUE, "%s: '%s' needs a value (%s:%s)",
				    key, b->name, b->name, b->arg);
		if (!b->arg && arg)
			return fail(c, -SD_EVALUE, "%s: '%.*s': %s takes no value",
				    key, (int)(wl > 60 ? 60 : wl), w, b->name);
		h->given |= b->bit;
		switch (b->bit) {
		case SD_BEH_MTU:
			if (parse_dec(arg, al, SD_PATH_MTU_MAX, &x) < 0 || x < SD_PATH_MTU_MIN)
				goto range;
			h->mtu = (unsigned)x;
			break;
		case SD_BEH_MSS_CLAMP:
			if (parse_dec(arg, al, SD_PATH_MTU_MAX, &x) < 0 || x < SD_PATH_MSS_MIN)
				goto range;
			h->mss_clamp = (unsigned)x;
			break;
		case SD_BEH_LOSS:
			if (parse_fixed(arg, al, 2, 10000, &y, &used) < 0 || used != al)
				goto range;
			h->loss_bp = (unsigned)y;
			break;
		case SD_BEH_RATE:
			if (parse_rate(arg, al, &h->rate_bps) < 0)
				goto range;
			break;
		case SD_BEH_DELAY:
			if (parse_dec(arg, al, SD_PATH_DELAY_MAX, &x) < 0)
				goto range;
			h->delay_ms = (unsigned)x;
			break;
		case SD_BEH_JITTER:
			if (parse_dec(arg, al, SD_PATH_DELAY_MAX, &x) < 0)
				goto range;
			h->jitter_ms = (unsigned)x;
			break;
		case SD_BEH_DUP:
		case SD_BEH_REORDER:
			if (parse_fixed(arg, al, 2, 10000, &y, &used) < 0 || used != al)
				goto range;
			*(b->bit == SD_BEH_DUP ? &h->dup_bp : &h->reorder_bp) = (unsigned)y;
			break;
		case SD_BEH_TRUNCATE:
			if (parse_dec(arg, al, SD_PATH_TRUNCATE_MAX, &x) < 0 || x < 1)
				goto range;
			h->truncate_len = (unsigned)x;
			break;
		case SD_BEH_SEED:
			if (!valid_seed(arg, al))
				goto range;
			memcpy(h->seed, arg, al);
			h->seed[al] = 0;
			break;
		case SD_BEH_ICMP_FILTER:
			h->icmp_filter = true;
			break;
		case SD_BEH_DROP_FRAGMENTS:
			h->drop_fragments = true;
			break;
		case SD_BEH_USERSPACE:
			break;
		}
		continue;
range:
		return fail(c, -SD_EVALUE, "%s: '%.*s' is out of range (%s)",
			    key, (int)(wl > 60 ? 60 : wl), w, range_of(b->bit));
	}
	return 0;
}

/* Copies a free-text value, cut at n - 1 bytes without trailing blanks. */
static void copy_text(char *dst, size_t n, const char *src)
{
	size_t l = strlen(src);

	if (l >= n)
		l = n - 1;
	while (l && isspace((unsigned char)src[l - 1]))
		l--;
	memcpy(dst, src, l);
	dst[l] = 0;
}

enum {
	K_DESCRIPTION = 1 << 0, K_CLIENT_MTU = 1 << 1, K_ADVMSS = 1 << 2, K_BEHAVIOURS = 1 << 3,
	K_EXEC = 1 << 4, K_CONFIG = 1 << 5, K_LISTEN = 1 << 6, K_START = 1 << 7,
};

/* A config file's name: no directory part, nothing hidden. */
static bool valid_config_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= SD_PATH_CONFIG_LEN || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

static int key_bit(int sect, const char *key)
{
	if (!strcmp(key, "description"))
		return K_DESCRIPTION;
	if (sect == 0 && !strcmp(key, "client_mtu"))
		return K_CLIENT_MTU;
	if (sect == 0 && !strcmp(key, "server_advmss"))
		return K_ADVMSS;
	if (sect > 0 && !strcmp(key, "behaviours"))
		return K_BEHAVIOURS;
	if (sect > 0 && !strcmp(key, "exec"))
		return K_EXEC;
	if (sect > 0 && !strcmp(key, "config"))
		return K_CONFIG;
	if (sect > 0 && !strcmp(key, "listen"))
		return K_LISTEN;
	if (sect > 0 && !strcmp(key, "start_timeout"))
		return K_START;
	return 0;
}

static int on_key(struct parse_ctx *c, const char *key, const char *val)
{
	struct sd_path *p = c->p;
	unsigned long x;
	int bit;

	if (c->sect < 0)
		return fail(c, -SD_ESYNTAX, "key '%s' outside any section ([path] or [hop NAME])", key);
	bit = key_bit(c->sect, key);
	if (!bit)
		return fail(c, -SD_EUNKNOWN, "unknown key '%s' in [%s]%s", key,
			    c->sect ? "hop" : "path",
			    c->sect ? " (description, behaviours, exec, config, listen, start_timeout)" :
				      " (description, client_mtu, server_advmss)");
	if (c->seen & (unsigned)bit)
		return fail(c, -SD_EDUP, "key '%s' given twice", key);
	c->seen |= (unsigned)bit;
	switch (bit) {
	case K_DESCRIPTION:
		if (c->sect)
			copy_text(p->hop[c->sect - 1].description,
				  sizeof(p->hop[0].description), val);
		else
			copy_text(p->description, sizeof(p->description), val);
		break;
	case K_CLIENT_MTU:
		if (parse_dec(val, strlen(val), SD_PATH_MTU_MAX, &x) < 0 || x < SD_PATH_MTU_MIN)
			return fail(c, -SD_EVALUE, "%s: '%.60s' is not an MTU 68..9000", key, val);
		p->client_mtu = (unsigned)x;
		p->client_mtu_line = c->line;
		break;
	case K_ADVMSS:
		if (parse_dec(val, strlen(val), SD_PATH_MTU_MAX, &x) < 0 || x < SD_PATH_ADVMSS_MIN)
			return fail(c, -SD_EVALUE, "%s: '%.60s' is not an MSS 108..9000", key, val);
		p->server_advmss = (unsigned)x;
		break;
	case K_BEHAVIOURS:
		p->hop[c->sect - 1].behaviours_line = c->line;
		return parse_behaviours(c, &p->hop[c->sect - 1], key, val);
	case K_EXEC:
		if (!val[0] || strlen(val) >= SD_PATH_EXEC_LEN)
			return fail(c, -SD_EVALUE, "%s: a command of 1..%d characters", key,
				    SD_PATH_EXEC_LEN - 1);
		copy_text(p->hop[c->sect - 1].exec, SD_PATH_EXEC_LEN, val);
		break;
	case K_CONFIG:
		if (!valid_config_name(val))
			return fail(c, -SD_EVALUE,
				    "%s: '%.60s' is not a file name of 1..63 characters of A-Z a-z 0-9 . _ - "
				    "(the file sits next to the path file)", key, val);
		snprintf(p->hop[c->sect - 1].config, SD_PATH_CONFIG_LEN, "%s", val);
		break;
	case K_LISTEN:
		if (parse_dec(val, strlen(val), 65535, &x) < 0 || x < 1)
			return fail(c, -SD_EVALUE, "%s: '%.60s' is not a port 1..65535", key, val);
		p->hop[c->sect - 1].listen_port = (unsigned)x;
		break;
	case K_START:
		if (parse_dec(val, strlen(val), SD_PATH_START_MAX, &x) < 0 || x < SD_PATH_START_MIN)
			return fail(c, -SD_EVALUE, "%s: '%.60s' is not a time of %d..%d ms", key, val,
				    SD_PATH_START_MIN, SD_PATH_START_MAX);
		p->hop[c->sect - 1].start_ms = (unsigned)x;
		break;
	}
	return 0;
}

static bool valid_hop_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= SD_PATH_NAME_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return strcmp(s, "client") != 0 && strcmp(s, "server") != 0;
}

static int on_section(struct parse_ctx *c, const struct sd_ini_item *ev)
{
	struct sd_path *p = c->p;
	char text[sizeof(ev->name)];
	const char *name;
	struct sd_path_hop *h;
	size_t l;

	c->seen = 0;
	/* inih keeps the blanks inside the brackets; "[ hop wg ]" is meant
	 * as [hop wg]. */
	name = ev->name;
	while (isspace((unsigned char)*name))
		name++;
	l = strlen(name);
	while (l && isspace((unsigned char)name[l - 1]))
		l--;
	memcpy(text, name, l);
	text[l] = 0;
	if (!ev->name_long && strcmp(text, "path") == 0) {
		if (c->have_path)
			return fail(c, -SD_EDUP, "[path] given twice");
		c->have_path = true;
		c->sect = 0;
		return 0;
	}
	if (ev->name_long || strncmp(text, "hop", 3) != 0 ||
	    (text[3] && !isspace((unsigned char)text[3])))
		return fail(c, -SD_EUNKNOWN, "unknown section [%.40s%s] (expected [path] or [hop NAME])",
			    text, ev->name_long ? "..." : "");
	name = text + 3;
	while (isspace((unsigned char)*name))
		name++;
	if (!*name)
		return fail(c, -SD_ESYNTAX, "a hop section needs a name: [hop NAME]");
	if (!valid_hop_name(name))
		return fail(c, -SD_EVALUE,
			    "hop name '%.40s' is not 1..15 characters of A-Z a-z 0-9 - _, or is client or server",
			    name);
	for (size_t i = 0; i < p->nhops; i++)
		if (strcmp(p->hop[i].name, name) == 0)
			return fail(c, -SD_EDUP, "hop name '%s' given twice (first on line %d)",
				    name, p->hop[i].line);
	if (p->nhops == SD_PATH_MAX_HOPS)
		return fail(c, -SD_ELIMIT, "more than %d hops", SD_PATH_MAX_HOPS);
	h = &p->hop[p->nhops++];
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->line = ev->line;
	c->sect = (int)p->nhops;
	return 0;
}

static void defaults(struct sd_path *p, const char *name)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->client_mtu = SD_PATH_MTU_DEFAULT;
	p->server_advmss = SD_PATH_ADVMSS_DEFAULT;
	for (size_t i = 0; i < SD_PATH_MAX_HOPS; i++) {
		p->hop[i].mtu = SD_PATH_MTU_DEFAULT;
		p->hop[i].listen_port = SD_PATH_LISTEN_DEFAULT;
	}
}

/*
 * An exec hop's kernel must deliver the client's connection to the
 * program, so the user-space engine (which takes the hop's forwarding
 * away from its kernel) cannot run there; and the keys go with the
 * behaviour.
 */
static int check_exec(const struct sd_path_hop *h, struct sd_path_error *err)
{
	bool beh = h->given & SD_BEH_EXEC;
	const char *why = NULL;

	if (beh && !h->exec[0])
		why = "behaviour exec needs an 'exec = COMMAND' key";
	else if (!beh && h->exec[0])
		why = "key exec needs the behaviour exec";
	else if (!beh && (h->config[0] || h->listen_port != SD_PATH_LISTEN_DEFAULT || h->start_ms))
		why = "keys config, listen and start_timeout need the behaviour exec";
	else if (beh && sd_path_hop_userspace(h))
		why = "exec cannot be combined with user-space engine behaviours or device parsers";
	if (!why)
		return 0;
	err->line = h->line;
	snprintf(err->msg, sizeof(err->msg), "hop '%s': %s", h->name, why);
	return -SD_EVALUE;
}

int sd_path_parse(const char *text, size_t len, const char *name,
		  struct sd_path *p, struct sd_path_error *err)
{
	struct parse_ctx ctx = { .p = p, .err = err, .sect = -1 };
	struct sd_ini ini;
	int ret;

	memset(err, 0, sizeof(*err));
	defaults(p, name);
	ret = sd_ini_read(text, len, &ini, &err->line, err->msg, sizeof(err->msg));
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < ini.n; i++) {
		const struct sd_ini_item *it = &ini.item[i];

		ctx.line = it->line;
		ret = it->section ? on_section(&ctx, it) : on_key(&ctx, it->name, it->value);
		if (ret < 0)
			goto out;
	}
	if (p->nhops == 0) {
		ret = -SD_EVALUE;
		err->line = 0;
		snprintf(err->msg, sizeof(err->msg),
			 "no [hop NAME] section: a path has at least one router");
		goto out;
	}
	for (size_t i = 0; i < p->nhops; i++)
		if ((ret = check_exec(&p->hop[i], err)) < 0)
			goto out;
	ret = 0;
out:
	sd_ini_free(&ini);
	return ret;
}

int sd_path_builtin(const char *name, struct sd_path *p, struct sd_path_error *err)
{
	for (const struct sd_builtin_file *f = sd_builtin_paths; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return sd_path_parse(f->text, f->len, f->name, p, err);
	memset(err, 0, sizeof(*err));
	snprintf(err->msg, sizeof(err->msg), "no built-in path '%.100s'", name);
	return -SD_EUNKNOWN;
}

void sd_path_set_dir(struct sd_path *p, const char *file)
{
	char abs[PATH_MAX], *slash;
	const char *f = realpath(file, abs) ? abs : file;

	slash = strrchr(f, '/');
	if (!slash)
		snprintf(p->dir, sizeof(p->dir), ".");
	else if (slash == f)
		snprintf(p->dir, sizeof(p->dir), "/");
	else
		snprintf(p->dir, sizeof(p->dir), "%.*s", (int)(slash - f), f);
}

bool sd_path_hop_userspace(const struct sd_path_hop *h)
{
	return (h->given & SD_BEH_USERSPACE_ONLY) || h->insp.kinds;
}

unsigned sd_path_link_mtu(const struct sd_path *p, size_t i)
{
	if (i == 0)
		return p->client_mtu;
	if (i > p->nhops)
		return 0;
	return p->hop[i - 1].mtu;
}

int sd_path_check_ipv6(const struct sd_path *p, struct sd_path_error *err)
{
	memset(err, 0, sizeof(*err));
	for (size_t i = 0; i <= p->nhops; i++) {
		unsigned mtu = sd_path_link_mtu(p, i);

		if (mtu >= SD_PATH_MTU_IPV6)
			continue;
		if (i == 0) {
			err->line = p->client_mtu_line;
			snprintf(err->msg, sizeof(err->msg),
				 "client_mtu %u: IPv6 needs links of at least 1280 bytes (RFC 8200 §5)",
				 mtu);
		} else {
			err->line = p->hop[i - 1].behaviours_line;
			snprintf(err->msg, sizeof(err->msg),
				 "hop '%s': mtu:%u on link %zu: IPv6 needs links of at least 1280 bytes (RFC 8200 §5)",
				 p->hop[i - 1].name, mtu, i);
		}
		return -SD_EVALUE;
	}
	return 0;
}

static void put_percent(char *out, size_t n, size_t *w, const char *name, unsigned bp)
{
	if (bp % 100 == 0)
		sd_put(out, n, w, "%s:%u", name, bp / 100);
	else
		sd_put(out, n, w, "%s:%u.%02u", name, bp / 100, bp % 100);
}

static void put_rate(char *out, size_t n, size_t *w, uint64_t bps)
{
	if (bps % 1000000000 == 0)
		sd_put(out, n, w, "rate:%" PRIu64 "gbit", bps / 1000000000);
	else if (bps % 1000000 == 0)
		sd_put(out, n, w, "rate:%" PRIu64 "mbit", bps / 1000000);
	else if (bps % 1000 == 0)
		sd_put(out, n, w, "rate:%" PRIu64 "kbit", bps / 1000);
	else
		sd_put(out, n, w, "rate:%" PRIu64 "bit", bps);
}

int sd_path_hop_format(const struct sd_path_hop *h, char *out, size_t n)
{
	size_t w = 0;

	if (n)
		out[0] = 0;
	for (const struct sd_behaviour_info *b = sd_path_behaviours; b->name; b++) {
		if (!(h->given & b->bit))
			continue;
		if (w)
			sd_put(out, n, &w, " ");
		switch (b->bit) {
		case SD_BEH_MTU:
			sd_put(out, n, &w, "mtu:%u", h->mtu);
			break;
		case SD_BEH_MSS_CLAMP:
			sd_put(out, n, &w, "mss-clamp:%u", h->mss_clamp);
			break;
		case SD_BEH_LOSS:
			put_percent(out, n, &w, "loss", h->loss_bp);
			break;
		case SD_BEH_RATE:
			put_rate(out, n, &w, h->rate_bps);
			break;
		case SD_BEH_DELAY:
			sd_put(out, n, &w, "delay:%u", h->delay_ms);
			break;
		case SD_BEH_JITTER:
			sd_put(out, n, &w, "jitter:%u", h->jitter_ms);
			break;
		case SD_BEH_DUP:
			put_percent(out, n, &w, "dup", h->dup_bp);
			break;
		case SD_BEH_REORDER:
			put_percent(out, n, &w, "reorder", h->reorder_bp);
			break;
		case SD_BEH_TRUNCATE:
			sd_put(out, n, &w, "truncate-segment:%u", h->truncate_len);
			break;
		case SD_BEH_SEED:
			sd_put(out, n, &w, "seed:%s", h->seed);
			break;
		default:
			sd_put(out, n, &w, "%s", b->name);
			break;
		}
	}
	if (h->insp.kinds) {
		char insp[400] = "";
		int ret = sd_insp_format(&h->insp, insp, sizeof(insp));

		if (ret < 0)
			return ret;
		if (ret > 0)
			sd_put(out, n, &w, "%s%s", w ? " " : "", insp);
	}
	if (w >= n)
		return -ENOSPC;
	return (int)w;
}

/*
 * "key = text" on one line when it fits; else "key=" and the text cut at
 * single spaces over lines indented by one space, which inih joins back
 * with one space. Text read from a file can always be cut so: the lines it
 * came from met at single spaces between non-blanks, none of them began a
 * comment, the first had at least "key=" before it, the others at least
 * one blank, and each was at most 198 characters. A text starting
 * with ';' stays right after the '=', where it is not a comment. A first
 * word too long for the key's line (a long behaviour read from a
 * continuation line) starts on the next line, after an empty "key=".
 */
static int put_text(char *out, size_t n, size_t *w, const char *key, const char *s)
{
	size_t len = strlen(s), room;
	bool first = true;

	if (strlen(key) + 3 + len <= SD_INI_LINE_CHARS && s[0] != ';') {
		sd_put(out, n, w, "%s = %s\n", key, s);
		return 0;
	}
	room = SD_INI_LINE_CHARS - strlen(key) - 1;
	sd_put(out, n, w, "%s=", key);
	while (len > room) {
		size_t cut = 0;

		for (size_t i = room; i > 0; i--)
			if (s[i] == ' ' && !isspace((unsigned char)s[i - 1]) &&
			    !isspace((unsigned char)s[i + 1]) && s[i + 1] != ';' && s[i + 1] != '#') {
				cut = i;
				break;
			}
		if (!cut && first && s[0] != ';' && s[0] != '#') {
			sd_put(out, n, w, "\n ");
			first = false;
			room = SD_INI_LINE_CHARS - 1;
			continue;
		}
		if (!cut)
			return -SD_EVALUE;
		sd_put(out, n, w, "%.*s\n ", (int)cut, s);
		s += cut + 1;
		len -= cut + 1;
		first = false;
		room = SD_INI_LINE_CHARS - 1;
	}
	sd_put(out, n, w, "%s\n", s);
	return 0;
}

int sd_path_format(const struct sd_path *p, char *out, size_t n)
{
	size_t w = 0;
	char beh[600];

	if (n)
		out[0] = 0;
	sd_put(out, n, &w, "[path]\n");
	if (p->description[0] && put_text(out, n, &w, "description", p->description) < 0)
		return -SD_EVALUE;
	sd_put(out, n, &w, "client_mtu = %u\nserver_advmss = %u\n", p->client_mtu, p->server_advmss);
	for (size_t i = 0; i < p->nhops; i++) {
		const struct sd_path_hop *h = &p->hop[i];

		sd_put(out, n, &w, "[hop %s]\n", h->name);
		if (h->description[0] && put_text(out, n, &w, "description", h->description) < 0)
			return -SD_EVALUE;
		if (sd_path_hop_format(h, beh, sizeof(beh)) < 0)
			return -ENOSPC;
		/* Many behaviours may not fit one line: put_text cuts at the
		 * single spaces between them. */
		if (beh[0] && put_text(out, n, &w, "behaviours", beh) < 0)
			return -SD_EVALUE;
		if (h->exec[0] && put_text(out, n, &w, "exec", h->exec) < 0)
			return -SD_EVALUE;
		if (h->config[0])
			sd_put(out, n, &w, "config = %s\n", h->config);
		if (h->given & SD_BEH_EXEC)
			sd_put(out, n, &w, "listen = %u\n", h->listen_port);
		if (h->start_ms)
			sd_put(out, n, &w, "start_timeout = %u\n", h->start_ms);
	}
	if (w >= n)
		return -ENOSPC;
	return (int)w;
}
