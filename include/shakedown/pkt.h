/* SPDX-License-Identifier: MIT */
/* Decoding and building of link, IP and transport headers, without OS headers. */
#ifndef SHAKEDOWN_PKT_H
#define SHAKEDOWN_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shakedown/buf.h"
#include "shakedown/err.h"

/* Link types: the LINKTYPE_* numbers of pcap and pcapng files. */
enum {
	SD_LINKTYPE_NULL = 0,         /* BSD loopback: 4-byte host-order family */
	SD_LINKTYPE_ETHERNET = 1,
	SD_LINKTYPE_RAW = 101,        /* bare IPv4 or IPv6 */
	SD_LINKTYPE_LOOP = 108,       /* OpenBSD loopback: network-order family */
	SD_LINKTYPE_LINUX_SLL = 113,
	SD_LINKTYPE_IPV4 = 228,
	SD_LINKTYPE_IPV6 = 229,
	SD_LINKTYPE_LINUX_SLL2 = 276,
};

/* IEEE 802 EtherTypes this module knows. */
enum {
	SD_ETHERTYPE_IPV4 = 0x0800,
	SD_ETHERTYPE_VLAN = 0x8100,   /* 802.1Q */
	SD_ETHERTYPE_IPV6 = 0x86dd,
	SD_ETHERTYPE_QINQ = 0x88a8,   /* 802.1ad service tag */
	SD_ETHERTYPE_QINQ_OLD = 0x9100,
};

/* IP protocol / IPv6 next-header numbers (IANA). */
enum {
	SD_IPPROTO_HOPOPTS = 0,
	SD_IPPROTO_ICMP = 1,
	SD_IPPROTO_TCP = 6,
	SD_IPPROTO_UDP = 17,
	SD_IPPROTO_ROUTING = 43,
	SD_IPPROTO_FRAGMENT = 44,
	SD_IPPROTO_ESP = 50,
	SD_IPPROTO_AH = 51,
	SD_IPPROTO_ICMPV6 = 58,
	SD_IPPROTO_NONE = 59,
	SD_IPPROTO_DSTOPTS = 60,
};

/* TCP header flags (RFC 9293 §3.1, RFC 3168 for ECE/CWR). */
enum {
	SD_TCP_FIN = 0x01,
	SD_TCP_SYN = 0x02,
	SD_TCP_RST = 0x04,
	SD_TCP_PSH = 0x08,
	SD_TCP_ACK = 0x10,
	SD_TCP_URG = 0x20,
	SD_TCP_ECE = 0x40,
	SD_TCP_CWR = 0x80,
};

/* What sd_pkt_decode noticed without failing (sd_pkt.flags). */
enum {
	/* The capture holds fewer bytes than the IP header announces. */
	SD_PKT_CUT = 1 << 0,
	/*
	 * An offload super-frame (IPv4 total length 0, IPv6 payload length 0,
	 * or more than 65535 captured bytes): the captured length was used.
	 */
	SD_PKT_GSO = 1 << 1,
	/* Bytes after the IP datagram (Ethernet padding) were ignored. */
	SD_PKT_TRAILER = 1 << 2,
	/* TCP options that do not parse; those before the fault are kept. */
	SD_PKT_BADOPT = 1 << 3,
	/* An IPv6 fragment header with offset 0 and M clear (RFC 6946). */
	SD_PKT_ATOMIC_FRAG = 1 << 4,
};

#define SD_TCP_MAX_SACK 4

/* TCP options (RFC 9293 §3.2, RFC 7323, RFC 2018). has_* say which are present. */
struct sd_tcp_opts {
	bool has_mss;
	bool has_wscale;
	bool sack_ok;
	bool has_ts;
	uint16_t mss;
	uint8_t wscale;
	uint8_t nsack;                        /* SACK blocks kept (at most 4) */
	uint32_t tsval, tsecr;
	uint32_t sack[SD_TCP_MAX_SACK][2];    /* left and right edges */
};

/*
 * A decoded packet. Views point into the caller's bytes. Lengths named
 * *_len are what was captured; *_wire_len are what the headers announce
 * (they differ only when SD_PKT_CUT is set).
 */
struct sd_pkt {
	uint32_t linktype;
	uint32_t flags;                 /* SD_PKT_* */

	/* link layer */
	uint16_t ethertype;             /* after any VLAN tags */
	uint8_t nvlan;                  /* VLAN tags skipped */
	uint16_t vlan_tci[2];           /* the outer two */

	/* network layer; family is 0 when the packet is not IP */
	uint8_t family;                 /* 4 or 6 */
	uint8_t ttl;                    /* TTL or hop limit */
	uint8_t tos;                    /* TOS or traffic class */
	uint8_t src[16], dst[16];       /* IPv4 in the first 4 bytes */
	uint32_t flowlabel;
	uint16_t ip_id;
	bool df, mf;
	uint16_t frag_off;              /* bytes */
	bool frag;                      /* a fragment: no transport header decoded */
	bool v6_fraghdr;                /* an IPv6 fragment header was present */
	uint32_t frag_id;               /* IPv4 id or IPv6 fragment id */
	uint16_t ip_hlen;               /* IPv4 IHL*4 or 40 (+ extension headers) */
	const uint8_t *l3;              /* the IP header */
	size_t l3_len;                  /* captured bytes of the datagram */
	size_t l3_wire_len;             /* datagram length */

	/*
	 * The transport protocol. For a fragment this is the protocol of the
	 * fragmentable part (IPv4) or the fragment header's next header (IPv6).
	 */
	uint8_t proto;
	const uint8_t *l4;              /* transport header, or fragment data */
	size_t l4_len;
	size_t l4_wire_len;

	union {
		struct {
			uint16_t sport, dport;
			uint32_t seq, ack;
			uint8_t flags;          /* SD_TCP_* */
			uint8_t hlen;           /* data offset in bytes */
			uint16_t window, urgent, csum;
			struct sd_tcp_opts opt;
		} tcp;
		struct {
			uint16_t sport, dport, len, csum;
		} udp;
		struct {
			uint8_t type, code;
			uint16_t csum;
			uint32_t rest;              /* the 4 bytes after the checksum */
			uint32_t mtu;               /* frag-needed / packet-too-big, else 0 */
			const uint8_t *inner;       /* the quoted packet of an error */
			size_t inner_len;
		} icmp;
	};

	/* transport payload (TCP/UDP data; for other protocols, after the header) */
	const uint8_t *payload;
	size_t payload_len;
	size_t payload_wire_len;
};

/*
 * Decodes one captured frame of the given link type.
 * Returns 0, also for frames that are not IP (family 0) and for fragments
 * (frag set, l4 holds the fragment's bytes). Errors:
 *  -SD_EFORMAT   link type not supported
 *  -SD_ETRUNC    the capture ends inside the link or IP header
 *  -SD_EVALUE    wrong IP version, IHL < 5, TCP data offset < 5, ...
 *  -SD_ELENGTH   a header longer than the datagram that holds it
 *  -SD_ESNAPLEN  the datagram is cut (SD_PKT_CUT) inside a header after
 *                the IP header; the IP fields are filled in
 *  -SD_ELIMIT    more VLAN tags or IPv6 extension headers than kept
 */
int sd_pkt_decode(uint32_t linktype, const uint8_t *data, size_t len,
		  struct sd_pkt *pkt) SD_WUR;

/*
 * Decodes a reassembled fragmentable part: pkt holds the IP fields of one
 * of its fragments, proto the protocol (IPv4) or the fragment header's
 * next header (IPv6), data the payload in order. Clears frag.
 */
int sd_pkt_decode_reassembled(struct sd_pkt *pkt, uint8_t proto,
			      const uint8_t *data, size_t len) SD_WUR;

/* sd_pkt_checksum results: a bit mask, 0 when everything checked is right. */
enum {
	SD_CSUM_BAD_IP = 1 << 0,      /* IPv4 header checksum */
	SD_CSUM_BAD_L4 = 1 << 1,      /* TCP, UDP, ICMP or ICMPv6 checksum */
	SD_CSUM_UNCHECKED = 1 << 2,   /* transport not checkable: cut, offload or fragment */
};

/* Verifies the checksums of a decoded packet; returns SD_CSUM_* bits. */
unsigned sd_pkt_checksum(const struct sd_pkt *pkt);

/* Internet checksum (RFC 1071) of a byte string, folded and complemented. */
uint16_t sd_inet_checksum(const uint8_t *data, size_t len);

/* IP header fields for the builders. */
struct sd_ip_spec {
	uint8_t family;                 /* 4 or 6 */
	uint8_t ttl;                    /* TTL / hop limit; 0 means 64 */
	uint8_t tos;                    /* TOS / traffic class */
	bool df;                        /* IPv4 don't-fragment */
	uint16_t id;                    /* IPv4 identification */
	uint32_t flowlabel;             /* IPv6, low 20 bits */
	uint8_t src[16], dst[16];
};

struct sd_tcp_spec {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;                  /* SD_TCP_* */
	uint16_t window, urgent;
	struct sd_tcp_opts opt;         /* has_* / sack_ok / nsack pick what is sent */
};

/*
 * Builders append one complete IP datagram to b and return its length.
 * Checksums are filled in. -SD_EVALUE for a family other than 4 or 6,
 * -SD_ELENGTH when the datagram would not fit its length field, or the
 * buffer's error.
 */
int sd_build_tcp(struct sd_buf *b, const struct sd_ip_spec *ip,
		 const struct sd_tcp_spec *tcp, const uint8_t *payload,
		 size_t len) SD_WUR;
int sd_build_udp(struct sd_buf *b, const struct sd_ip_spec *ip,
		 uint16_t sport, uint16_t dport, const uint8_t *payload,
		 size_t len) SD_WUR;
/* ICMP for IPv4, ICMPv6 for IPv6; rest is the 4 bytes after the checksum. */
int sd_build_icmp(struct sd_buf *b, const struct sd_ip_spec *ip, uint8_t type,
		  uint8_t code, uint32_t rest, const uint8_t *payload,
		  size_t len) SD_WUR;
/* Any protocol: the IP header, then l4 as given (no checksum is touched). */
int sd_build_ip(struct sd_buf *b, const struct sd_ip_spec *ip, uint8_t proto,
		const uint8_t *l4, size_t len) SD_WUR;
/* An Ethernet II header; the datagram is appended after it. Returns 14. */
int sd_build_eth(struct sd_buf *b, const uint8_t dst[6], const uint8_t src[6],
		 uint16_t ethertype) SD_WUR;

/* Most fragments a fragmenter writes for one datagram. */
#define SD_FRAG_MAX_OUT 8192

/*
 * Splits the IPv4 datagram pkt (RFC 791 §3.2) into fragments of at most
 * frag_payload data bytes (a positive multiple of 8), appended to out back
 * to back; ends[i] receives the end offset in out of fragment i. Returns
 * the number of fragments. Options without the copied flag stay in the
 * first fragment. -SD_EVALUE for DF set or a bad frag_payload, -SD_ELIMIT
 * when more than max fragments are needed, -SD_ELENGTH / -SD_ETRUNC when
 * pkt is not a whole datagram.
 */
int sd_ip4_fragment(struct sd_buf *out, const uint8_t *pkt, size_t len,
		    size_t frag_payload, size_t *ends, size_t max) SD_WUR;

/*
 * The same for IPv6 (RFC 8200 §4.5): the per-fragment headers (hop-by-hop,
 * routing, and destination options before a routing header) are repeated,
 * a fragment header with the given id is inserted after them.
 */
int sd_ip6_fragment(struct sd_buf *out, const uint8_t *pkt, size_t len,
		    size_t frag_payload, uint32_t id, size_t *ends,
		    size_t max) SD_WUR;

/* Longest text sd_addr_format writes, with its NUL. */
#define SD_ADDR_STRLEN 46

/*
 * Text form of an address: dotted quad for family 4, RFC 5952 for family 6
 * (IPv4-mapped addresses as ::ffff:a.b.c.d). Returns the length written,
 * -SD_EVALUE for another family, -ENOSPC when n is too small.
 */
int sd_addr_format(int family, const uint8_t addr[16], char *out,
		   size_t n) SD_WUR;

/*
 * Parses a dotted quad (no leading zeros) or any RFC 4291 §2.2 IPv6 text
 * form into addr, returning the family (4 or 6) or -SD_ESYNTAX.
 */
int sd_addr_parse(const char *text, uint8_t addr[16]) SD_WUR;

#endif
