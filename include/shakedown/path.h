/* SPDX-License-Identifier: MIT */
/*
 * Path descriptions: the network between the client and the server, as a
 * chain of router namespaces ("hops") and the links between them. Built-in
 * paths are the INI files under netns/paths/, compiled in; users add their
 * own in the same format (netns/paths/README.md). This is core code: it
 * describes a path, src/topo/ builds it.
 *
 *   client --link0-- hop1 --link1-- hop2 ... hopN --linkN-- server
 *
 * File format (INI, inih; comments with ';' or '#' at the start of a line,
 * or ';' after white space; values continued on indented lines; lines of
 * at most 198 characters):
 *
 *   [path]
 *   description = WireGuard tunnel with a 1420-byte inner MTU, ICMP works
 *   client_mtu = 1500        ; MTU of link0 (68..9000), default 1500
 *   server_advmss = 1460     ; MSS the server advertises over IPv4 (108..9000),
 *                            ; default 1460; over IPv6 it is 20 less
 *   [hop wg]                 ; one section per hop, in path order, 1..8 of them
 *   description = the tunnel head end
 *   behaviours = mtu:1420    ; words separated by commas or white space
 *
 * Hop names are 1..15 characters of [A-Za-z0-9_-], unique, and neither
 * "client" nor "server" (those name the end namespaces).
 *
 * Behaviours of a hop (each at most once per hop):
 *   mtu:N           MTU of the hop's link toward the server, 68..9000
 *                   (default 1500). IPv6 needs 1280 on every link it
 *                   crosses (RFC 8200 §5): see sd_path_check_ipv6().
 *   icmp-filter     the hop's own ICMP "fragmentation needed" (RFC 792,
 *                   type 3 code 4) and ICMPv6 "packet too big" (RFC 4443
 *                   §3.2) are dropped as they leave it: a PMTUD black hole
 *                   (RFC 2923 §2.1).
 *   mss-clamp:N     the MSS option of forwarded SYNs and SYN-ACKs is lowered
 *                   to N when larger, 88..9000.
 *   drop-fragments  IPv4 fragments (MF set or offset non-zero, RFC 791) and
 *                   IPv6 packets with a fragment header (RFC 8200 §4.5) are
 *                   dropped in both directions.
 *   loss:P          P percent of forwarded packets, in both directions, are
 *                   dropped at random; 0..100 with at most two decimals.
 *   rate:R          token bucket (tbf) on both of the hop's egresses: R is a
 *                   number of bits per second with an optional SI unit bit,
 *                   kbit, mbit or gbit (10mbit = 10,000,000 bit/s);
 *                   8kbit..10gbit.
 * Behaviours only the user-space middlebox engine (shakedown/mbox.h) can do;
 * a hop with any of them is forwarded by that engine instead of its kernel,
 * and the engine then does the kernel behaviours above as well (rate stays
 * a tbf qdisc: the engine's frames leave through it):
 *   delay:MS        every packet, each direction, is held MS milliseconds,
 *                   0..5000.
 *   jitter:MS       and a further 0..MS milliseconds drawn per packet,
 *                   0..5000; packets keep their order (reordering is
 *                   reorder:P's job).
 *   dup:P           P percent of packets leave twice (two decimals).
 *   reorder:P       P percent of packets are held back behind the next one
 *                   of their direction (at most 10 ms; two decimals).
 *   truncate-segment:N
 *                   a client-to-server TCP segment with more than N payload
 *                   bytes (1..65535) leaves with its first N only, lengths
 *                   and checksums fixed; the bytes cut off never get through:
 *                   later bytes of the flow from that point on are cut as
 *                   well, and segments left empty are dropped.
 *   seed:S          the hop's random choices (loss, dup, reorder, jitter)
 *                   come from S (1..31 characters of A-Z a-z 0-9 . _ -)
 *                   for every cell; without it, from the cell's seed.
 *   userspace       forward in the user-space engine even when the kernel
 *                   could do every behaviour the hop has.
 * A real program as the hop (kernel forwarding only; not with the
 * user-space behaviours or the device parsers):
 *   exec            the lab runs the hop's `exec` command inside the hop's
 *                   namespace and steers the client's TCP connections to
 *                   the server's port 443 into it (nftables DNAT to the
 *                   hop's client-side address, port `listen`). Keys of the
 *                   hop, with {name} templates (sd_path_template_keys):
 *                     exec = haproxy -f {config} -db
 *                     config = haproxy.cfg   ; a file next to the path file
 *                                            ; (built-in paths: netns/mbox/)
 *                     listen = 8443          ; 1..65535, default 8443
 * and the emulated device parsers of shakedown/inspect.h
 * (first-segment-parse, buffer-limit:N, ...), parsed by sd_insp_parse.
 */
#ifndef SHAKEDOWN_PATH_H
#define SHAKEDOWN_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shakedown/builtin.h"
#include "shakedown/err.h"
#include "shakedown/inspect.h"

#define SD_PATH_MAX_HOPS 8
#define SD_PATH_NAME_LEN 16       /* hop names: 15 characters and a NUL */
#define SD_PATH_MTU_MIN 68        /* RFC 791: every IPv4 module forwards 68 */
#define SD_PATH_MTU_MAX 9000
#define SD_PATH_MTU_IPV6 1280     /* RFC 8200 §5 */
#define SD_PATH_MTU_DEFAULT 1500
#define SD_PATH_ADVMSS_DEFAULT 1460
#define SD_PATH_MSS_MIN 88        /* Linux TCP_MIN_MSS */
#define SD_PATH_ADVMSS_MIN 108    /* TCP_MIN_MSS over IPv6 too */
#define SD_PATH_DELAY_MAX 5000    /* delay:MS and jitter:MS, milliseconds */
#define SD_PATH_TRUNCATE_MAX 65535
#define SD_PATH_SEED_LEN 32       /* seed:S, 31 characters and a NUL */

/* Which behaviours a hop was given (sd_path_hop.given). */
enum {
	SD_BEH_MTU = 1 << 0,
	SD_BEH_ICMP_FILTER = 1 << 1,
	SD_BEH_MSS_CLAMP = 1 << 2,
	SD_BEH_DROP_FRAGMENTS = 1 << 3,
	SD_BEH_LOSS = 1 << 4,
	SD_BEH_RATE = 1 << 5,
	SD_BEH_DELAY = 1 << 6,
	SD_BEH_JITTER = 1 << 7,
	SD_BEH_DUP = 1 << 8,
	SD_BEH_REORDER = 1 << 9,
	SD_BEH_TRUNCATE = 1 << 10,
	SD_BEH_SEED = 1 << 11,
	SD_BEH_USERSPACE = 1 << 12,
	SD_BEH_EXEC = 1 << 13,
};

#define SD_PATH_EXEC_LEN 400      /* exec = ...: 399 characters */
#define SD_PATH_CONFIG_LEN 64     /* config = NAME: 63 characters of A-Z a-z 0-9 . _ - */
#define SD_PATH_LISTEN_DEFAULT 8443
#define SD_PATH_START_MIN 100      /* start_timeout of an exec hop, ms */
#define SD_PATH_START_MAX 60000

/* The {name}s an exec hop's command and config file may use, with what
 * they stand for; NULL-name-terminated (for `shakedown list behaviours`). */
struct sd_path_template_key {
	const char *name;
	const char *help;
};
extern const struct sd_path_template_key sd_path_template_keys[];

/* The behaviours the kernel cannot do: they need the user-space engine. */
#define SD_BEH_USERSPACE_ONLY (SD_BEH_DELAY | SD_BEH_JITTER | SD_BEH_DUP | SD_BEH_REORDER | \
			       SD_BEH_TRUNCATE | SD_BEH_SEED | SD_BEH_USERSPACE)

/* The catalogue of behaviours, for `shakedown list behaviours`. */
struct sd_behaviour_info {
	unsigned bit;              /* SD_BEH_* */
	const char *name;          /* "mss-clamp" */
	const char *arg;           /* "N", or NULL when it takes no value */
	const char *help;          /* one line */
	bool userspace;            /* only the user-space engine does it */
};
/* NULL-name-terminated. */
extern const struct sd_behaviour_info sd_path_behaviours[];

struct sd_path_hop {
	char name[SD_PATH_NAME_LEN];
	char description[128];
	unsigned given;            /* SD_BEH_* written in the file */
	unsigned mtu;              /* of the link toward the server */
	bool icmp_filter;
	unsigned mss_clamp;        /* 0: no clamping */
	bool drop_fragments;
	unsigned loss_bp;          /* loss in basis points, 0..10000 (loss:2.5 is 250) */
	uint64_t rate_bps;         /* bit/s, 0: no rate limit */
	unsigned delay_ms;         /* 0..SD_PATH_DELAY_MAX */
	unsigned jitter_ms;        /* 0..SD_PATH_DELAY_MAX */
	unsigned dup_bp;           /* basis points, as loss_bp */
	unsigned reorder_bp;
	unsigned truncate_len;     /* 0: none, else 1..SD_PATH_TRUNCATE_MAX */
	char seed[SD_PATH_SEED_LEN];   /* "" unless seed:S */
	struct sd_insp_config insp;    /* emulated device parsers; kinds 0: none */
	char exec[SD_PATH_EXEC_LEN];   /* exec: command template, "" unless given */
	char config[SD_PATH_CONFIG_LEN];   /* config: template file name, "" none */
	unsigned listen_port;          /* listen: the program's port (exec hops) */
	unsigned start_ms;             /* start_timeout: ms until it listens; 0: 5000 */
	int line;                  /* of the [hop NAME] header */
	int behaviours_line;       /* of the behaviours key, 0 when absent */
};

struct sd_path {
	char name[64];
	char description[256];
	unsigned client_mtu;       /* link0 */
	unsigned server_advmss;    /* RTAX_ADVMSS of the server's IPv4 routes (IPv6: - 20) */
	int client_mtu_line;       /* 0 when the default */
	size_t nhops;              /* 1..SD_PATH_MAX_HOPS */
	struct sd_path_hop hop[SD_PATH_MAX_HOPS];
	/* The directory of the file the path was read from, where an exec
	 * hop's config is looked for first; "" for a built-in path (whose
	 * configs are compiled in from netns/mbox/). Set by the caller. */
	char dir[256];
};

struct sd_path_error {
	int line;                  /* 1-based; 0 when not tied to a line */
	char msg[200];
};

/*
 * Parses a path from INI text (len bytes, no NUL needed); name is copied
 * into p->name. p is filled in completely (defaults for what the text
 * leaves out); nothing is kept pointing into text. Returns 0, or with err
 * filled in (line and a message naming the key and value):
 *   -SD_ESYNTAX   not INI, a NUL byte, a line too long, a key outside a
 *                 section, [hop] without a name
 *   -SD_EUNKNOWN  an unknown section, key or behaviour
 *   -SD_EVALUE    a value out of range, a bad hop name, no hop at all
 *                 (or sd_insp_parse's -SD_EVALUE / -SD_ESYNTAX); exec
 *                 without an exec key or the other way round, exec with
 *                 user-space behaviours, config or listen without exec
 *   -SD_EDUP      a key, behaviour, hop name or [path] given twice
 *   -SD_ELIMIT    more than SD_PATH_MAX_HOPS hops
 *   -ENOMEM
 */
int sd_path_parse(const char *text, size_t len, const char *name,
		  struct sd_path *p, struct sd_path_error *err) SD_WUR;

/*
 * Does hop h need the user-space middlebox engine (a behaviour in
 * SD_BEH_USERSPACE_ONLY, or an inspector behaviour)? Such a hop is not
 * forwarded by its kernel at all.
 */
bool sd_path_hop_userspace(const struct sd_path_hop *h);

/*
 * Records in p->dir the directory of file, the path file p was read from
 * (made absolute when it exists), where exec hops look for their config.
 */
void sd_path_set_dir(struct sd_path *p, const char *file);

/* A built-in path by name; -SD_EUNKNOWN (err says so) if there is none. */
int sd_path_builtin(const char *name, struct sd_path *p,
		    struct sd_path_error *err) SD_WUR;

/*
 * MTU of link i (0..nhops): client_mtu for link 0, else hop i's mtu. The
 * result for i > nhops is 0.
 */
unsigned sd_path_link_mtu(const struct sd_path *p, size_t i);

/*
 * Can IPv6 cross the path? -SD_EVALUE with err naming the link, the hop and
 * the line when a link is below 1280 bytes (Linux removes IPv6 from such an
 * interface); 0 otherwise. Call before building a path for IPv6.
 */
int sd_path_check_ipv6(const struct sd_path *p, struct sd_path_error *err) SD_WUR;

/*
 * Writes the canonical behaviours of hop h ("mtu:1420 icmp-filter"; only
 * those given, the inspector's last, as sd_insp_format writes them) into
 * out, NUL-terminated. Returns the length, or -ENOSPC
 * when n is too small (out then holds a truncated string).
 */
int sd_path_hop_format(const struct sd_path_hop *h, char *out, size_t n) SD_WUR;

/*
 * Writes p as path-file text that sd_path_parse reads back into the same
 * path (apart from line numbers). Returns the length, or -ENOSPC.
 */
int sd_path_format(const struct sd_path *p, char *out, size_t n) SD_WUR;

#endif
