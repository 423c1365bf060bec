/* SPDX-License-Identifier: MIT */
/*
 * Our capture reader against libpcap's, on the same files: every pcap and
 * pcapng here (the Chromium fixture, the capture and replay fuzz corpora,
 * hand-made and damaged files among them). libpcap is the reference the
 * ecosystem reads captures with; ours (src/wire/capture.c) reads them from
 * memory, keeps pcapng interfaces of different link types apart, and is
 * fuzzed. Wherever libpcap reads a packet, ours must read the same one: link
 * type, timestamp (ns), captured and original length, bytes. Where libpcap
 * stops on a damaged record, ours must stop there too (with an error or, for
 * a cut last record, at its end).
 */
#include <dirent.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "shakedown/capture.h"

static uint8_t *slurp(const char *fn, size_t *len)
{
	FILE *f = fopen(fn, "rb");
	uint8_t *p = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		p = malloc((size_t)n + 1);
		if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
			free(p);
			p = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return p;
}

static int files_compared, packets_compared;

/* libpcap reports DLT_ values, files hold LINKTYPE_ ones: they differ for
 * raw IP only (LINKTYPE_RAW 101 is DLT_RAW, 12 on Linux, 14 on OpenBSD). */
static bool same_link(uint32_t linktype, int dlt)
{
	/* libpcap keeps a pcap header's upper 16 bits (FCS information) in
	 * the value it reports, and then maps no LINKTYPE to a DLT: the link
	 * type is the lower 16 bits. */
	if (linktype == 101 && dlt == DLT_RAW)
		return true;
	return linktype == ((uint32_t)dlt & 0xffff);
}

/* Compares one file; returns whether libpcap could read it at all. */
static bool compare(const char *fn)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct sd_capture cap;
	struct pcap_pkthdr *h;
	const u_char *data;
	size_t len = 0;
	uint8_t *file = slurp(fn, &len);
	pcap_t *p;
	int lr, ours = 0, n = 0;

	if (!file) {
		fprintf(stderr, "cannot read %s\n", fn);
		CHECK(file != NULL);
		return false;
	}
	p = pcap_open_offline_with_tstamp_precision(fn, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!p) {
		free(file);
		return false;
	}
	if (sd_capture_open(&cap, file, len) < 0) {
		fprintf(stderr, "%s: libpcap opens it, we do not\n", fn);
		CHECK(false);
		goto out;
	}
	while ((lr = pcap_next_ex(p, &h, &data)) == 1) {
		struct sd_capture_pkt pkt;
		/* The file's seconds are unsigned 32 bits; libpcap reads them
		 * signed (stamps after 2038 come out before 1970). */
		uint64_t ts = (uint64_t)(uint32_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec;

		ours = sd_capture_next(&cap, &pkt);
		if (ours != 1) {
			fprintf(stderr, "%s: packet %d: libpcap reads one, we get %d\n", fn, n + 1, ours);
			CHECK(false);
			goto out;
		}
		if (!same_link(pkt.linktype, pcap_datalink(p)) || pkt.caplen != h->caplen ||
		    pkt.origlen != h->len || (pkt.ts_ns != ts && pkt.ts_ns != 0) ||
		    (h->caplen && memcmp(pkt.data, data, h->caplen) != 0)) {
			fprintf(stderr, "%s: packet %d differs: linktype %u/%d caplen %u/%u len %u/%u ts %llu/%llu\n",
				fn, n + 1, pkt.linktype, pcap_datalink(p), pkt.caplen, h->caplen, pkt.origlen,
				h->len, (unsigned long long)pkt.ts_ns, (unsigned long long)ts);
			CHECK(false);
			goto out;
		}
		n++;
	}
	ours = sd_capture_next(&cap, &(struct sd_capture_pkt){ 0 });
	if (lr == PCAP_ERROR_BREAK) {
		/* libpcap's clean end: ours too, or an error at a damaged tail
		 * that libpcap took for the end of the file. */
		CHECK(ours <= 0);
	} else {
		/* libpcap's error: ours must not read on past it, but for
		 * libpcap's own limit of one link type per pcapng file (ours
		 * keeps each interface's). */
		if (strstr(pcap_geterr(p), "different from the type of the first interface")) {
			/* Past it ours may read on, or stop on damage later. */
			packets_compared += n;
			files_compared++;
			goto out;
		}
		if (ours == 1)
			fprintf(stderr, "%s: libpcap stops after %d packets (%s), we read on\n", fn, n,
				pcap_geterr(p));
		CHECK(ours != 1);
	}
	packets_compared += n;
	files_compared++;
out:
	pcap_close(p);
	free(file);
	return true;
}

static void compare_dir(const char *dir)
{
	struct dirent **names;
	int k = scandir(dir, &names, NULL, alphasort);

	CHECK(k > 0);
	for (int i = 0; i < k; i++) {
		char fn[4096];

		if (names[i]->d_name[0] != '.') {
			snprintf(fn, sizeof(fn), "%s/%s", dir, names[i]->d_name);
			(void)compare(fn);
		}
		free(names[i]);
	}
	free(names);
}

int main(void)
{
	CHECK(compare(SD_SHARED_DIR "/fixtures/chromium-156-clienthello.pcap"));
	compare_dir(SD_SOURCE_DIR "/tests/fuzz/corpus/capture");
	compare_dir(SD_SOURCE_DIR "/tests/fuzz/corpus/replay");
	printf("%d files, %d packets read alike by libpcap and by us\n", files_compared, packets_compared);
	/* The fixture and most of the corpora are files libpcap reads. */
	CHECK(files_compared >= 15);
	return check_done();
}
