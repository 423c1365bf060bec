/* SPDX-License-Identifier: MIT */
/* A built path kept ready for cells, and one cell: hello, engine, handshake, verdict. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <stdint.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include "shakedown/capture.h"
#include "shakedown/lab.h"
#include "shakedown/mbox.h"
#include "shakedown/report.h"
#include "shakedown/netns.h"
#include "shakedown/observe.h"
#include "shakedown/peer.h"
#include "shakedown/pkt.h"
#include "shakedown/record.h"
#include "shakedown/tls.h"
#include "shakedown/topo.h"
#include "lab_int.h"
#include "shakedown/tmpdir.h"

#define SERVER_PORT 443

struct sd_lab {
	struct sd_path path;
	struct sd_lab_opts opts;
	struct sd_topo *topo;
	struct sd_observer *obs;
	int sock;                     /* the engine's AF_PACKET socket on c0 */
	struct sd_server *server;
	struct sd_mbox *mbox[SD_PATH_MAX_HOPS];   /* hops forwarded in user space */
	struct sd_proc *proc[SD_PATH_MAX_HOPS];   /* the programs of exec hops */
	char exec_dir[64];            /* their configs and files; "" none */
	size_t proxy_hop;             /* 1-based first exec hop: the client's TCP ends there; 0 none */
	uint16_t next_port;
	int obs_node_of[SD_TOPO_MAX_NODES];   /* observer index -> topology node */
	size_t nobs;
	uint64_t icmp_filtered[SD_VD_MAX_HOPS];  /* icmp-filter counters, last read */
	/* A cell's scratch state (large): one cell at a time per lab, so labs
	 * in different threads never share it. */
	struct sd_hello_state st;
	struct sd_hello hello, split_hello;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

const struct sd_path *sd_lab_path(const struct sd_lab *lab)
{
	return &lab->path;
}

bool sd_lab_ipv6(const struct sd_lab *lab)
{
	return lab->opts.ipv6;
}

static uint64_t icmp_filter_count(const struct sd_lab *lab, size_t hop);

struct sock_open {
	int ifindex;
	int fd;
};

/* The engine's socket on c0, opened inside the client namespace. */
static int open_engine_socket(void *arg)
{
	struct sock_open *o = arg;

	o->fd = sd_engine_socket_open(o->ifindex);
	return o->fd < 0 ? o->fd : 0;
}

struct server_start {
	struct sd_server_cfg cfg;
	struct sd_server *srv;
	char err[400];               /* why a node-pq server did not start */
};

static int start_server(void *arg)
{
	struct server_start *s = arg;

	return sd_server_start(&s->cfg, &s->srv);
}

struct job {
	int nsfd;
	int (*fn)(void *);
	void *arg;
	int ret;
	pthread_t t;
};

static void *job_main(void *arg)
{
	struct job *j = arg;

	j->ret = sd_netns_run(j->nsfd, j->fn, j->arg);
	return NULL;
}

static void *close_fd(void *arg)
{
	close((int)(intptr_t)arg);
	return NULL;
}

/* ---- exec hops: real middlebox programs ---------------------------------- */

#define EXEC_MAX_ARGS 64

struct tvar {
	const char *name;
	char value[PATH_MAX];
};

/*
 * Copies tmpl into out with each {name} of vars replaced; any other brace
 * (HAProxy's "{ req.ssl_hello_type 1 }", nginx's blocks) stays as it is.
 */
static void fill_template(const char *tmpl, size_t len, const struct tvar *vars, size_t nvars,
			  struct sd_buf *out)
{
	for (size_t i = 0; i < len;) {
		bool done = false;

		if (tmpl[i] == '{') {
			for (size_t k = 0; k < nvars && !done; k++) {
				size_t nl = strlen(vars[k].name);

				if (i + nl + 1 < len && tmpl[i + 1 + nl] == '}' &&
				    memcmp(tmpl + i + 1, vars[k].name, nl) == 0) {
					sd_buf_put(out, vars[k].value, strlen(vars[k].value));
					i += nl + 2;
					done = true;
				}
			}
		}
		if (!done)
			sd_buf_put(out, tmpl + i++, 1);
	}
}

static void put_addr(int family, const uint8_t *a, char *out, size_t n)
{
	if (!inet_ntop(family, a, out, (socklen_t)n))
		snprintf(out, n, "?");
}

/* The config template: next to the path file first, else a built-in one. */
static int read_config(const struct sd_path *p, const char *name, struct sd_buf *text)
{
	char fn[PATH_MAX];
	FILE *f;

	if (p->dir[0] && (size_t)snprintf(fn, sizeof(fn), "%s/%s", p->dir, name) < sizeof(fn) &&
	    (f = fopen(fn, "re"))) {
		char buf[4096];
		size_t k;

		while ((k = fread(buf, 1, sizeof(buf), f)) > 0)
			sd_buf_put(text, buf, k);
		fclose(f);
		return sd_buf_error(text) < 0 ? -ENOMEM : 0;
	}
	for (const struct sd_builtin_file *b = sd_builtin_mbox; b->name; b++)
		if (strcmp(b->name, name) == 0) {
			sd_buf_put(text, b->text, b->len);
			return sd_buf_error(text) < 0 ? -ENOMEM : 0;
		}
	return -ENOENT;
}

static int write_file(const char *fn, const uint8_t *data, size_t len)
{
	int fd = open(fn, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600), ret = 0;

	if (fd < 0)
		return -errno;
	while (len) {
		ssize_t k = write(fd, data, len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			ret = k < 0 ? -errno : -EIO;
			break;
		}
		data += k;
		len -= (size_t)k;
	}
	close(fd);
	return ret;
}

struct proc_start {
	struct sd_proc_cfg cfg;
	struct sd_proc *proc;
	char err[400];
};

static int start_proc(void *arg)
{
	struct proc_start *ps = arg;

	return sd_proc_start(&ps->cfg, &ps->proc, ps->err, sizeof(ps->err));
}

/*
 * Hop h (0-based) runs its program: the templates filled in (the config
 * written to the lab's directory), the client's connections steered to
 * it, started in the hop's namespace and waited for until it listens.
 */
static int start_exec_hop(struct sd_lab *lab, size_t h, char *err, size_t errlen)
{
	const struct sd_path_hop *hop = &lab->path.hop[h];
	const struct sd_topo *t = lab->topo;
	const struct sd_topo_end *in = &t->link[h].end[SD_TOPO_RIGHT];
	const struct sd_topo_end *outl = &t->link[h + 1].end[SD_TOPO_LEFT];
	int family = lab->opts.ipv6 ? AF_INET6 : AF_INET;
	struct tvar v[11] = {
		{ "dir", "" }, { "config", "" }, { "listen_addr", "" }, { "listen_port", "" },
		{ "listen", "" }, { "server_addr", "" }, { "server_port", "443" }, { "server", "" },
		{ "out_addr", "" }, { "client_addr", "" }, { "hop", "" },
	};
	struct sd_buf tmpl = SD_BUF_INIT, cmd = SD_BUF_INIT;
	struct proc_start ps;
	char *argv[EXEC_MAX_ARGS + 1], *save = NULL;
	size_t argc = 0;
	int ret;

	memset(&ps, 0, sizeof(ps));
	snprintf(v[0].value, sizeof(v[0].value), "%s/%s", lab->exec_dir, hop->name);
	if (mkdir(v[0].value, 0700) < 0) {
		ret = -errno;
		snprintf(err, errlen, "hop '%s': creating %s: %s", hop->name, v[0].value, strerror(-ret));
		goto out;
	}
	/* exec_dir is short (sd_tmpdir_make), and so are the names. */
	if (hop->config[0] && (size_t)snprintf(v[1].value, sizeof(v[1].value), "%.200s/%s", v[0].value,
					      hop->config) >= sizeof(v[1].value)) {
		ret = -ENAMETOOLONG;
		goto out;
	}
	put_addr(family, lab->opts.ipv6 ? in->ip6 : in->ip4, v[2].value, sizeof(v[2].value));
	snprintf(v[3].value, sizeof(v[3].value), "%u", hop->listen_port);
	snprintf(v[4].value, sizeof(v[4].value), lab->opts.ipv6 ? "[%s]:%s" : "%s:%s", v[2].value,
		 v[3].value);
	put_addr(family, lab->opts.ipv6 ? t->server6 : t->server4, v[5].value, sizeof(v[5].value));
	snprintf(v[7].value, sizeof(v[7].value), lab->opts.ipv6 ? "[%s]:443" : "%s:443", v[5].value);
	put_addr(family, lab->opts.ipv6 ? outl->ip6 : outl->ip4, v[8].value, sizeof(v[8].value));
	put_addr(family, lab->opts.ipv6 ? t->engine6 : t->engine4, v[9].value, sizeof(v[9].value));
	snprintf(v[10].value, sizeof(v[10].value), "%s", hop->name);

	if (hop->config[0]) {
		if ((ret = read_config(&lab->path, hop->config, &tmpl)) < 0) {
			snprintf(err, errlen, "hop '%s': config %s: %s%s", hop->name, hop->config,
				 ret == -ENOENT ? "not found" : strerror(-ret),
				 ret == -ENOENT ? (lab->path.dir[0] ? " next to the path file nor built in" :
						   " among the built-in configs (netns/mbox/)") : "");
			goto out;
		}
		fill_template((const char *)tmpl.data, tmpl.len, v, 11, &cmd);
		if (sd_buf_error(&cmd) < 0 ||
		    (ret = write_file(v[1].value, cmd.data, cmd.len)) < 0) {
			ret = sd_buf_error(&cmd) < 0 ? -ENOMEM : ret;
			snprintf(err, errlen, "hop '%s': writing %s: %s", hop->name, v[1].value,
				 strerror(-ret));
			goto out;
		}
		sd_buf_reset(&cmd);
	}
	/* The command: the template filled in, split at blanks (no shell, no
	 * quoting: a config file is the place for anything subtler). */
	fill_template(hop->exec, strlen(hop->exec), v, 11, &cmd);
	sd_buf_u8(&cmd, 0);
	if ((ret = sd_buf_error(&cmd)) < 0) {
		ret = -ENOMEM;
		goto out;
	}
	for (char *w = strtok_r((char *)cmd.data, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (argc == EXEC_MAX_ARGS) {
			ret = -SD_ELIMIT;
			snprintf(err, errlen, "hop '%s': exec has more than %d words", hop->name,
				 EXEC_MAX_ARGS);
			goto out;
		}
		argv[argc++] = w;
	}
	argv[argc] = NULL;
	if ((ret = sd_topo_exec_steer(t, h + 1, (uint16_t)hop->listen_port, ps.err,
				      sizeof(ps.err))) < 0) {
		snprintf(err, errlen, "hop '%s': steering connections to port %u: %s", hop->name,
			 hop->listen_port, ps.err[0] ? ps.err : sd_strerror(ret));
		goto out;
	}
	ps.cfg.argv = argv;
	ps.cfg.family = family;
	ps.cfg.listen_addr = lab->opts.ipv6 ? in->ip6 : in->ip4;
	ps.cfg.listen_port = (uint16_t)hop->listen_port;
	ps.cfg.start_timeout_ms = hop->start_ms;   /* 0: sd_proc_start's 5 s */
	ret = sd_netns_run(t->node[h + 1].nsfd, start_proc, &ps);
	if (ret < 0) {
		snprintf(err, errlen, "hop '%s': starting `%.200s`: %s", hop->name, (char *)cmd.data,
			 ps.err[0] ? ps.err : sd_strerror(ret));
		goto out;
	}
	lab->proc[h] = ps.proc;
	if (!lab->proxy_hop)
		lab->proxy_hop = h + 1;
	ret = 0;
out:
	sd_buf_free(&tmpl);
	sd_buf_free(&cmd);
	return ret;
}

/* Stops the programs, then removes the lab's directory of their files. */
static void stop_exec_hops(struct sd_lab *lab)
{
	for (size_t h = 0; h < SD_PATH_MAX_HOPS; h++) {
		sd_proc_stop(lab->proc[h]);
		lab->proc[h] = NULL;
	}
	sd_rm_tree(lab->exec_dir);
	lab->exec_dir[0] = 0;
}

static int start_exec_hops(struct sd_lab *lab, char *err, size_t errlen)
{
	int ret;

	for (size_t h = 0; h < lab->path.nhops; h++) {
		if (!(lab->path.hop[h].given & SD_BEH_EXEC))
			continue;
		/* In the process's private directory, which a sweeper process
		 * removes even when we are SIGKILLed (shakedown/tmpdir.h). */
		if (!lab->exec_dir[0]) {
			if ((ret = sd_tmpdir_make("exec", lab->exec_dir, sizeof(lab->exec_dir))) < 0) {
				snprintf(err, errlen, "creating a directory for hop programs: %s",
					 strerror(-ret));
				return ret;
			}
		}
		if ((ret = start_exec_hop(lab, h, err, errlen)) < 0)
			return ret;
	}
	return 0;
}

int sd_lab_open(const struct sd_path *p, const struct sd_lab_opts *o, struct sd_lab **out,
		char *err, size_t errlen)
{
	struct sd_topo_error terr = { { 0 } };
	struct sd_lab *lab = calloc(1, sizeof(*lab));
	struct sock_open po = { .fd = -1 };
	struct server_start ss = { 0 };
	struct job jobs[2];
	int nsfds[SD_TOPO_MAX_NODES];
	int ret;

	if (!lab)
		return -ENOMEM;
	lab->path = *p;
	lab->opts = *o;
	lab->next_port = 40000;
	lab->sock = -1;
	double t0 = now_ms(), t1, t2, t3;

	ret = sd_topo_open(p, (o->ipv6 ? 0 : SD_TOPO_NO_IPV6) | (o->client_kernel ? SD_TOPO_CLIENT_KERNEL : 0),
			   &lab->topo, &terr);
	t1 = now_ms();
	if (ret < 0) {
		snprintf(err, errlen, "building path %s: %s: %s", p->name, terr.step, sd_strerror(ret));
		goto fail;
	}
	/* The user-space hops forward from now on: their kernels do not. */
	for (size_t h = 0; h < p->nhops; h++) {
		if (!sd_path_hop_userspace(&p->hop[h]))
			continue;
		ret = sd_mbox_open(lab->topo, h + 1, &p->hop[h], &lab->mbox[h]);
		if (ret < 0) {
			snprintf(err, errlen, "starting the middlebox engine of hop '%s': %s",
				 p->hop[h].name, sd_strerror(ret));
			goto fail;
		}
	}
	/* The engine's handle and the server start while the capture
	 * threads open theirs: each socket's setup waits on the kernel. */
	po.ifindex = lab->topo->client_ifindex;
	ss.cfg.family = o->ipv6 ? 10 /* AF_INET6 */ : 2 /* AF_INET */;
	ss.cfg.addr = o->ipv6 ? "::" : "0.0.0.0";
	ss.cfg.port = SERVER_PORT;
	ss.cfg.mode = o->server_mode;
	ss.cfg.chain_size = o->chain_size;
	/* nginx has no key log hook: with real clients, theirs is the log. */
	ss.cfg.keylog_path = o->server_mode == SD_SERVER_NGINX && o->client_kernel ? NULL : o->keylog_path;
	ss.cfg.idle_timeout_ms = 3000;
	/* Fault injection: a server thread that wakes late (tests only). */
	{
		const char *v = getenv("SHAKEDOWN_FAULT_SERVER_STALL_MS");
		char *end;
		unsigned long ms = v ? strtoul(v, &end, 10) : 0;

		if (v && *v && !*end && ms <= 5000)
			ss.cfg.stall_first_read_ms = (unsigned)ms;
	}
	ss.cfg.err = ss.err;
	ss.cfg.errlen = sizeof(ss.err);
	jobs[0] = (struct job){ .nsfd = lab->topo->client_ns, .fn = open_engine_socket, .arg = &po };
	jobs[1] = (struct job){ .nsfd = lab->topo->server_ns, .fn = start_server, .arg = &ss };
	for (int i = 0; i < 2; i++)
		if ((ret = -pthread_create(&jobs[i].t, NULL, job_main, &jobs[i])) < 0) {
			for (int k = 0; k < i; k++)
				pthread_join(jobs[k].t, NULL);
			snprintf(err, errlen, "starting threads: %s", sd_strerror(ret));
			if (po.fd >= 0)
				close(po.fd);
			sd_server_stop(ss.srv);
			goto fail;
		}
	for (size_t n = 1; n < lab->topo->nnodes; n++) {
		lab->obs_node_of[lab->nobs] = (int)n;
		nsfds[lab->nobs++] = lab->topo->node[n].nsfd;
	}
	{
		char oerr[256] = "";

		ret = sd_observer_open(nsfds, lab->nobs, oerr, sizeof(oerr), &lab->obs);
		if (ret < 0)
			snprintf(err, errlen, "starting captures: %s", oerr[0] ? oerr : sd_strerror(ret));
	}
	t2 = now_ms();
	for (int i = 0; i < 2; i++)
		pthread_join(jobs[i].t, NULL);
	t3 = now_ms();
	if (getenv("SHAKEDOWN_TIMING"))
		fprintf(stderr, "timing: topo %.1f ms, captures %.1f ms, engine socket + server %.1f ms more\n",
			t1 - t0, t2 - t1, t3 - t2);
	lab->sock = po.fd;
	lab->server = ss.srv;
	if (ret < 0)
		goto fail;
	if (jobs[0].ret < 0) {
		ret = jobs[0].ret;
		snprintf(err, errlen, "opening the client engine's socket on %s: %s",
			 lab->topo->client_ifname, sd_strerror(ret));
		goto fail;
	}
	if (jobs[1].ret < 0) {
		ret = jobs[1].ret;
		snprintf(err, errlen, "starting the TLS server: %s", ss.err[0] ? ss.err : sd_strerror(ret));
		goto fail;
	}
	/* Real programs in exec hops last: the rest of the path is up. */
	if ((ret = start_exec_hops(lab, err, errlen)) < 0)
		goto fail;
	for (size_t h = 0; h < p->nhops && h < SD_VD_MAX_HOPS; h++)
		lab->icmp_filtered[h] = icmp_filter_count(lab, h);
	*out = lab;
	return 0;
fail:
	sd_lab_close(lab);
	return ret;
}

void sd_lab_close(struct sd_lab *lab)
{
	pthread_t t;
	bool closing = false;

	if (!lab)
		return;
	/* Closing AF_PACKET sockets waits an RCU grace period each: the
	 * middlebox threads close theirs while the captures close, and the
	 * engine's socket goes in a thread meanwhile. */
	for (size_t h = 0; h < SD_PATH_MAX_HOPS; h++)
		sd_mbox_stop(lab->mbox[h]);
	stop_exec_hops(lab);
	if (lab->sock >= 0) {
		closing = pthread_create(&t, NULL, close_fd, (void *)(intptr_t)lab->sock) == 0;
		if (!closing)
			close(lab->sock);
	}
	sd_observer_close(lab->obs);
	sd_server_stop(lab->server);
	if (closing)
		pthread_join(t, NULL);
	for (size_t h = 0; h < SD_PATH_MAX_HOPS; h++)
		sd_mbox_close(lab->mbox[h]);
	sd_topo_close(lab->topo);
	free(lab);
}

/* ---- one cell ----------------------------------------------------------- */

struct cellctx {
	struct sd_session sess;
	bool done_sent;
};

static int on_data(void *ctx, const uint8_t *stream, size_t len, struct sd_buf *out)
{
	struct cellctx *c = ctx;
	enum sd_sess_state st;

	if (c->sess.state == SD_SESS_DONE)
		return SD_APP_DONE;
	st = sd_session_feed(&c->sess, stream, len, out);
	if (st == SD_SESS_FAILED)
		return SD_APP_FAIL;
	/* With the client Finished in out: done, and the engine (drain_on_done)
	 * closes once the server has acknowledged it. */
	return st == SD_SESS_DONE ? SD_APP_DONE : SD_APP_MORE;
}

struct engine_job {
	int fd;
	struct sd_engine_config cfg;
	struct sd_engine_result *res;
};

/*
 * Behind an exec hop the server's connection is the hop program's own:
 * the first one the server accepted since the cell began (seq0, rt0), if
 * the program connected at all, is reported as what the server saw, for
 * the JSON only (the verdict judges the client's connection, which ends at
 * the hop). A proxy that opens several connections per client (health
 * checks, retries) would make this the first of them.
 */
static void proxied_report(struct sd_lab *lab, uint64_t seq0, const struct timespec *rt0,
			   struct sd_cell_result *r)
{
	struct sd_server_conn c;
	int ret = sd_server_report_seq(lab->server, seq0, 0, &c);

	if (ret == 0)   /* there, not final yet: as for a direct connection */
		ret = sd_server_report_seq(lab->server, seq0, 300, &c);
	if ((ret < 0 && ret != -ETIMEDOUT) || c.accepted.tv_sec < rt0->tv_sec ||
	    (c.accepted.tv_sec == rt0->tv_sec && c.accepted.tv_nsec < rt0->tv_nsec))
		return;
	r->conn = c;
	r->conn_present = true;
	snprintf(r->server_via, sizeof(r->server_via), "%s", lab->path.hop[lab->proxy_hop - 1].name);
	sd_lab_cell_server_facts(r);
}

/* What a held piece waits for: the single-read server's reads. */
struct read_hold {
	struct sd_server *srv;
	uint8_t addr[16];
	uint16_t port;
};

/*
 * Engine hold: true while the server has not yet read the acked bytes of
 * this connection (not even accepted it). A report that ended is never
 * waited for.
 */
static bool hold_for_read(void *ctx, size_t acked)
{
	const struct read_hold *h = ctx;
	struct sd_server_conn c;
	int ret = sd_server_report(h->srv, h->addr, h->port, 0, &c);

	if (ret == -ENOENT)
		return true;
	return ret >= 0 && c.end == SD_END_OPEN && c.bytes_in < acked;
}

static int run_engine(void *arg)
{
	struct engine_job *j = arg;

	return sd_engine_run_fd(j->fd, &j->cfg, j->res);
}

/* Stream offset of message offset m, with records of size rec (0: one). */
static size_t stream_offset(size_t m, size_t rec)
{
	if (!rec)
		return m + SD_RECORD_HDR;
	return m + SD_RECORD_HDR * (m / rec + 1);
}

/* Resolves split@FIELD names against the ClientHello. */
static int resolve_splits(struct sd_hello *h, const struct sd_shape *sh, const uint8_t *msg,
			  size_t len, size_t *offs, size_t *n, char *err, size_t errlen)
{
	int ret = sd_hello_parse(msg, len, h);

	*n = 0;
	if (ret < 0) {
		snprintf(err, errlen, "the ClientHello does not parse: %s", sd_strerror(ret));
		return ret;
	}
	for (size_t i = 0; i < sh->nsplit; i++) {
		const char *f = sh->split[i].field;
		long long m = -1;
		uint16_t t, g;
		const char *dot;

		if (!f[0])
			continue;
		dot = strchr(f, '.');
		if (!strcmp(f, "random"))
			m = (long long)h->random_span.offset;
		else if (!strcmp(f, "legacy_session_id") || !strcmp(f, "session_id"))
			m = (long long)h->session_id.offset - 1;
		else if (!strcmp(f, "cipher_suites"))
			m = (long long)h->ciphers_span.offset;
		else if (!strcmp(f, "extensions"))
			m = (long long)h->exts_span.offset;
		else if (dot && !strncmp(f, "key_share.", 10) &&
			 sd_tls_lookup(SD_TLS_GROUP, dot + 1, &g) == 0) {
			for (size_t k = 0; k < h->nshares; k++)
				if (h->shares[k].group == g)
					m = (long long)h->shares[k].offset;
		} else if (!dot && sd_tls_lookup(SD_TLS_EXT, f, &t) == 0) {
			const struct sd_ext_view *e = sd_hello_ext(h, t);

			if (e)
				m = (long long)e->offset;
		} else {
			snprintf(err, errlen, "split@%s: not a ClientHello field (an extension name, key_share.GROUP, random, cipher_suites)", f);
			return -SD_EUNKNOWN;
		}
		if (m < 0) {
			snprintf(err, errlen, "split@%s: this ClientHello has no such field", f);
			return -SD_EUNKNOWN;
		}
		offs[(*n)++] = (size_t)m;
	}
	return 0;
}

/* ---- replays: a captured flight, no keys ------------------------------- */

struct replayctx {
	const struct sd_cell_flight *fl;
	struct sd_flight sf;          /* the server's plaintext records, re-read each time */
	bool hrr, server_hello, alert, failed;
	uint16_t group;
	uint8_t alert_level, alert_desc;
	char why[160];
};

/*
 * The server's plaintext messages so far: a HelloRetryRequest is answered
 * with the captured second flight; a ServerHello or an alert is noted. The
 * encrypted rest cannot be read: the engine keeps reading until the path
 * is quiet.
 */
static int on_replay_data(void *ctx, const uint8_t *stream, size_t len, struct sd_buf *out)
{
	struct replayctx *c = ctx;
	int n = sd_flight_parse(stream, len, &c->sf);

	if (n < 0) {
		snprintf(c->why, sizeof(c->why), "the server's stream is not TLS records: %s", sd_strerror(n));
		c->failed = true;
		return SD_APP_FAIL;
	}
	for (size_t i = 0; i < c->sf.nmsgs; i++) {
		struct sd_server_hello sh;

		if (c->sf.msgs[i].type != SD_HS_SERVER_HELLO ||
		    sd_server_hello_parse(sd_flight_msg(&c->sf, i), c->sf.msgs[i].len, &sh) < 0)
			continue;
		if (!sh.hrr) {
			c->server_hello = true;
			c->group = sh.group;
		} else if (i == 0 && !c->hrr) {
			c->hrr = true;
			if (!c->fl->retry_len) {
				snprintf(c->why, sizeof(c->why),
					 "the server sent a HelloRetryRequest (group 0x%04x) and the capture holds no second ClientHello to answer it",
					 sh.group);
				c->failed = true;
				break;
			}
			sd_buf_put(out, c->fl->stream + c->fl->first_len, c->fl->retry_len);
		}
	}
	if (c->sf.has_alert) {
		c->alert = true;
		c->alert_level = c->sf.alert_level;
		c->alert_desc = c->sf.alert_desc;
	}
	sd_flight_free(&c->sf);
	return c->failed || c->alert ? SD_APP_FAIL : SD_APP_MORE;
}

/* Whether stream is whole TLS records (none cut at its end); *nrec counts them. */
static bool whole_records(const uint8_t *stream, size_t len, size_t *nrec)
{
	struct sd_cursor c;
	struct sd_record rec;

	*nrec = 0;
	sd_cursor_init(&c, stream, len);
	while (sd_cursor_left(&c)) {
		if (sd_record_parse(&c, &rec) < 0)
			return false;
		(*nrec)++;
	}
	return true;
}

/*
 * The replayed flight in place of a built one: the captured records (or,
 * with a records: shape, the captured hello re-wrapped), the hello, and the
 * stream offsets of split@FIELD names through the captured records.
 */
static int replay_flight(struct sd_lab *lab, const struct sd_cell *cell, struct sd_buf *ch,
			 struct sd_buf *flight, size_t *splits, size_t *nsplits, char *err,
			 size_t errlen)
{
	const struct sd_cell_flight *fl = cell->replay;
	size_t moffs[SD_SHAPE_MAX_SPLITS], n;
	int ret;

	sd_buf_put(ch, fl->hello, fl->hello_len);
	if (cell->shape.records) {
		size_t size = cell->shape.records;
		uint16_t version = fl->first_len >= 3 ? (uint16_t)(fl->stream[1] << 8 | fl->stream[2]) : SD_TLS10;

		ret = sd_record_build(flight, SD_CT_HANDSHAKE, version, fl->hello, fl->hello_len, &size, 1);
	} else {
		sd_buf_put(flight, fl->stream, fl->first_len);
		ret = sd_buf_error(flight);
	}
	if (ret < 0 || (ret = sd_buf_error(ch)) < 0) {
		snprintf(err, errlen, "copying the captured flight: %s", sd_strerror(ret));
		return ret;
	}
	ret = resolve_splits(&lab->split_hello, &cell->shape, fl->hello, fl->hello_len, moffs, &n,
			     err, errlen);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < n; i++) {
		size_t m = moffs[i], start = 0, k = 0;

		if (cell->shape.records) {
			splits[(*nsplits)++] = stream_offset(m, cell->shape.records);
			continue;
		}
		while (k < fl->nrecords && m >= start + fl->record_len[k])
			start += fl->record_len[k++];
		splits[(*nsplits)++] = m + SD_RECORD_HDR * (k + 1);
	}
	return 0;
}

/* Packets counted by a hop's icmp-filter rules so far (cumulative). */
static uint64_t icmp_filter_count(const struct sd_lab *lab, size_t hop)
{
	char *text = NULL, *save = NULL;
	uint64_t total = 0;

	/* A user-space hop's filter is the engine's: see mbox_icmp_filtered. */
	if (!lab->path.hop[hop].icmp_filter || lab->mbox[hop])
		return 0;
	if (sd_topo_nft_list(lab->topo, hop + 1, &text) > 0) {
		for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			char *pk = strstr(l, "packets ");

			if (pk && strstr(l, "\"icmp-filter\""))
				total += strtoull(pk + 8, NULL, 10);
		}
	}
	free(text);
	return total;
}

static enum sd_vd_end map_end(enum sd_engine_state s)
{
	switch (s) {
	case SD_ENGINE_DONE: return SD_VD_END_DONE;
	case SD_ENGINE_RESET: return SD_VD_END_RESET;
	case SD_ENGINE_CLOSED: return SD_VD_END_CLOSED;
	case SD_ENGINE_STALL: return SD_VD_END_STALL;
	case SD_ENGINE_REFUSED: return SD_VD_END_REFUSED;
	case SD_ENGINE_APP_FAIL: return SD_VD_END_APP_FAIL;
	case SD_ENGINE_ERROR: return SD_VD_END_ERROR;
	}
	return SD_VD_END_ERROR;
}

/* Where a capture thread's namespace sits on the path. */
static void place(const struct sd_lab *lab, const struct sd_obs_pkt *op, struct sd_vd_pkt *vp)
{
	const struct sd_topo *t = lab->topo;
	int node = lab->obs_node_of[op->node];   /* topology node: 1..N hops, N+1 server */
	size_t nh = t->nnodes - 2;

	vp->node = node - 1;                     /* verdict: hops 0..N-1, server N */
	vp->out = op->pkttype == SD_PKTTYPE_OUTGOING;
	if ((size_t)node == nh + 1) {
		vp->side = 0;
		return;
	}
	/* Hop k's left end is the right end of link k-1. */
	vp->side = (int)op->ifindex == t->link[node - 1].end[SD_TOPO_RIGHT].ifindex ? 0 : 1;
}

/* The longest a user-space hop holds a packet, in ms, summed along the path. */
static unsigned added_delay_ms(const struct sd_lab *lab)
{
	unsigned ms = 0;

	for (size_t h = 0; h < lab->path.nhops; h++)
		if (lab->mbox[h])
			ms += lab->path.hop[h].delay_ms + lab->path.hop[h].jitter_ms +
			      (lab->path.hop[h].reorder_bp ? 10 : 0);
	return ms;
}

/*
 * The user-space hops' statistics for the cell, once every packet they
 * held has left (bounded by the longest hold), so the captures have the
 * cell's last packets. Returns 0 or the first failure.
 */
static int mbox_settle(struct sd_lab *lab, struct sd_cell_result *r)
{
	/* A request still in a delay line and its answer: two holds. */
	double until = now_ms() + 2 * added_delay_ms(lab) + 20;
	int ret;

	for (size_t h = 0; h < lab->path.nhops && h < SD_PATH_MAX_HOPS; h++) {
		if (!lab->mbox[h])
			continue;
		for (;;) {
			struct timespec ts = { 0, 500 * 1000 };

			ret = sd_mbox_stats(lab->mbox[h], &r->mbox[h]);
			if (ret < 0)
				return ret;
			if (!r->mbox[h].held || now_ms() >= until)
				break;
			nanosleep(&ts, NULL);
		}
		r->mbox_present[h] = true;
	}
	return 0;
}

/* ---- a cell's steps, shared with real clients (lab_int.h) -------------- */

int sd_lab_cell_reset(struct sd_lab *lab, const char *seed, char *err, size_t errlen)
{
	int ret;

	sd_observer_reset(lab->obs);
	/* A cell's flows start clean in every user-space hop, its random
	 * choices drawn from the cell's seed (or the hop's own). */
	for (size_t h = 0; h < lab->path.nhops; h++) {
		if (lab->mbox[h] && (ret = sd_mbox_reset(lab->mbox[h], seed)) < 0) {
			snprintf(err, errlen, "resetting the middlebox engine of hop '%s': %s",
				 lab->path.hop[h].name, sd_strerror(ret));
			return ret;
		}
	}
	return 0;
}

int sd_lab_cell_packets(struct sd_lab *lab, struct sd_cell_result *r, bool settle, char *err,
			size_t errlen)
{
	const struct sd_obs_pkt *op;
	size_t nop, bytes = 0, off = 0;
	int ret;

	ret = settle ? mbox_settle(lab, r) : 0;
	if (ret < 0) {
		snprintf(err, errlen, "reading the middlebox engines: %s", sd_strerror(ret));
		return ret;
	}
	/* Every hop's captures of this cell. */
	ret = sd_observer_sync(lab->obs, &op, &nop);
	if (ret < 0) {
		snprintf(err, errlen, "reading captures: %s", sd_strerror(ret));
		return ret;
	}
	if (nop > SD_CELL_MAX_PKTS)
		nop = SD_CELL_MAX_PKTS;
	free(r->pkts);
	free(r->pkt_bytes);
	r->npkts = 0;
	for (size_t i = 0; i < nop; i++)
		bytes += op[i].len;
	r->pkts = calloc(nop ? nop : 1, sizeof(*r->pkts));
	r->pkt_bytes = malloc(bytes ? bytes : 1);
	if (!r->pkts || !r->pkt_bytes)
		return -ENOMEM;
	for (size_t i = 0; i < nop; i++) {
		struct sd_vd_pkt *vp = &r->pkts[r->npkts++];

		memcpy(r->pkt_bytes + off, op[i].data, op[i].len);
		vp->frame = r->pkt_bytes + off;
		vp->len = op[i].len;
		vp->ts_ns = op[i].ts_ns;
		place(lab, &op[i], vp);
		off += op[i].len;
	}
	return 0;
}

int sd_lab_cell_judge(struct sd_lab *lab, struct sd_vd_input *in, struct sd_cell_result *r,
		      bool icmp_counters, char *err, size_t errlen)
{
	const struct sd_topo *t = lab->topo;
	int ret;

	in->nhops = lab->path.nhops;
	for (size_t i = 0; i < in->nhops && i < SD_VD_MAX_HOPS; i++)
		snprintf(in->hop_names[i], sizeof(in->hop_names[i]), "%s", lab->path.hop[i].name);
	for (size_t i = 0; i <= in->nhops && i <= SD_VD_MAX_HOPS; i++)
		in->link_mtu[i] = t->link[i].mtu;
	in->server_port = SERVER_PORT;
	in->client = &r->client;
	in->server = &r->server;
	in->pkts = r->pkts;
	in->npkts = r->npkts;
	in->proxy_hop = lab->proxy_hop;
	if (icmp_counters) {
		for (size_t h = 0; h < lab->path.nhops && h < SD_VD_MAX_HOPS; h++) {
			uint64_t now = icmp_filter_count(lab, h);

			in->icmp_filtered[h] = (uint32_t)(now - lab->icmp_filtered[h]);
			lab->icmp_filtered[h] = now;
			if (r->mbox_present[h])
				in->icmp_filtered[h] = (uint32_t)r->mbox[h].icmp_filtered;
		}
	}
	sd_verdict_judge(in, &r->v);
	if (r->client.handshake_done)
		r->v.server_flight = r->client.server_bytes;
	if ((ret = sd_verdict_ladder_build(in, &r->lad)) < 0) {
		snprintf(err, errlen, "building the ladder: %s", sd_strerror(ret));
		return ret;
	}
	sd_ladder_text(&r->lad, 80, r->ladder, sizeof(r->ladder));
	return 0;
}

void sd_lab_cell_server_facts(struct sd_cell_result *r)
{
	struct sd_vd_server *s = &r->server;
	const struct sd_server_conn *k = &r->conn;

	if (!r->conn_present)
		return;
	s->present = true;
	for (size_t i = 0; i < k->nreads && i < SD_VD_MAX_RECV; i++)
		s->recvs[s->nrecvs++] = k->read_len[i];
	s->bytes_in = k->bytes_in;
	s->hello_complete = k->hello_complete;
	s->handshake_done = k->handshake_done;
	s->group = k->group;
	s->hrr_sent = k->hrr;
	s->alert_sent = k->alert_sent;
	s->alert_desc = k->alert_sent_desc;
	s->rst_sent = k->end == SD_END_SERVER_RST;
	s->fin_sent = k->end == SD_END_SERVER_FIN;
	s->bytes_out = k->bytes_out;
	snprintf(s->error, sizeof(s->error), "%s", k->error);
}

void sd_lab_parts(struct sd_lab *lab, struct sd_lab_parts *out)
{
	out->topo = lab->topo;
	out->server = lab->server;
	out->proxy_hop = lab->proxy_hop;
	out->server_port = SERVER_PORT;
	out->keylog_path = lab->opts.keylog_path;
	/* As sd_lab_open gives it to the server: nginx has no hook. */
	out->server_keylog = lab->opts.keylog_path && lab->opts.server_mode != SD_SERVER_NGINX;
	out->added_delay_ms = added_delay_ms(lab);
}

int sd_lab_run(struct sd_lab *lab, const struct sd_cell *cell, struct sd_cell_result *r,
	       char *err, size_t errlen)
{
	struct sd_hello_state *st = &lab->st;
	const struct sd_topo *t = lab->topo;
	struct sd_buf ch = SD_BUF_INIT, flight = SD_BUF_INIT;
	struct cellctx cc;
	struct replayctx *rp = NULL;
	struct engine_job ej;
	struct read_hold hold;
	uint64_t seq0 = 0;
	struct timespec rt0 = { 0, 0 };
	struct sd_rng rng;
	struct sd_vd_input in;
	size_t splits[SD_SHAPE_MAX_SPLITS], nsplits = 0, rec;
	double t0 = now_ms();
	uint8_t key[16];
	int ret;

	memset(r, 0, sizeof(*r));
	memset(&cc, 0, sizeof(cc));
	/* The server listens on one family: the lab's. */
	if (cell->ipv6 != lab->opts.ipv6) {
		snprintf(err, errlen, "the lab was built for %s", lab->opts.ipv6 ? "IPv6" : "IPv4");
		return -SD_EVALUE;
	}
	/* A real client program, judged from the captures (lab_client.c). */
	if (cell->real_client)
		return sd_lab_run_client(lab, cell, r, err, errlen);
	if (lab->opts.client_kernel) {
		snprintf(err, errlen, "the lab was built for real clients (its client kernel owns the engine's address)");
		return -SD_EVALUE;
	}
	ret = cell->seed ? sd_rng_seed(&rng, cell->seed) : sd_rng_fresh(&rng);
	if (ret < 0) {
		snprintf(err, errlen, "seeding: %s", sd_strerror(ret));
		return ret;
	}
	snprintf(r->seed, sizeof(r->seed), "%s", rng.seed);
	rec = cell->shape.records;
	if (cell->replay) {
		rp = calloc(1, sizeof(*rp));
		if (!rp) {
			ret = -ENOMEM;
			goto out;
		}
		rp->fl = cell->replay;
		ret = replay_flight(lab, cell, &ch, &flight, splits, &nsplits, err, errlen);
		if (ret < 0)
			goto out;
		goto built;
	}
	ret = sd_hello_build(cell->profile, cell->hello_opts, &rng, st, &ch);
	if (ret < 0) {
		snprintf(err, errlen, "building the ClientHello: %s", sd_strerror(ret));
		goto out;
	}
	{
		size_t size = rec ? rec : SD_RECORD_PLAIN_MAX;

		ret = sd_record_build(&flight, SD_CT_HANDSHAKE, cell->profile->record_version, ch.data,
				      ch.len, &size, 1);
		if (ret < 0) {
			snprintf(err, errlen, "building records: %s", sd_strerror(ret));
			goto out;
		}
	}
	{
		size_t moffs[SD_SHAPE_MAX_SPLITS], n;

		ret = resolve_splits(&lab->split_hello, &cell->shape, ch.data, ch.len, moffs, &n, err, errlen);
		if (ret < 0)
			goto out;
		for (size_t i = 0; i < n; i++)
			splits[nsplits++] = stream_offset(moffs[i], rec);
	}
built:
	(void)!sd_hello_parse(ch.data, ch.len, &lab->hello);
	r->hello = malloc(ch.len);
	r->flight = malloc(flight.len);
	if (!r->hello || !r->flight) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(r->hello, ch.data, ch.len);
	r->hello_len = ch.len;
	memcpy(r->flight, flight.data, flight.len);
	r->flight_len = flight.len;
	for (size_t i = 0; cell->replay && !rec && i < cell->replay->nrecords && i < 64; i++)
		r->record_lengths[r->nrecords++] = cell->replay->record_len[i];
	for (size_t left = cell->replay && !rec ? 0 : ch.len; left && r->nrecords < 64;) {
		size_t n = rec && rec < left ? rec : left;

		if (!rec && n > SD_RECORD_PLAIN_MAX)
			n = SD_RECORD_PLAIN_MAX;
		r->record_lengths[r->nrecords++] = n;
		left -= n;
	}

	sd_session_init(&cc.sess);
	cc.sess.profile = cell->profile;
	cc.sess.opts = cell->hello_opts;
	cc.sess.rng = &rng;
	cc.sess.hs = st;
	cc.sess.ch1 = ch.data;
	cc.sess.ch1_len = ch.len;
	cc.sess.records = rec;

	memset(&ej, 0, sizeof(ej));
	ej.fd = lab->sock;
	ej.res = &r->eng;
	sd_engine_config_init(&ej.cfg);
	ej.cfg.family = cell->ipv6 ? 6 : 4;
	memcpy(ej.cfg.src_mac, t->client_mac, 6);
	memcpy(ej.cfg.dst_mac, t->gateway_mac, 6);
	if (cell->ipv6) {
		memcpy(ej.cfg.src, t->engine6, 16);
		memcpy(ej.cfg.dst, t->server6, 16);
	} else {
		memcpy(ej.cfg.src, t->engine4, 4);
		memcpy(ej.cfg.dst, t->server4, 4);
	}
	r->sport = lab->next_port++;
	if (lab->next_port < 40000)
		lab->next_port = 40000;
	ej.cfg.sport = r->sport;
	ej.cfg.dport = SERVER_PORT;
	ej.cfg.mtu = (uint16_t)t->link[0].mtu;
	if ((ret = sd_rng_bytes(&rng, key, 4)) < 0)
		goto out;
	ej.cfg.isn = (uint32_t)key[0] << 24 | (uint32_t)key[1] << 16 | (uint32_t)key[2] << 8 | key[3];
	ej.cfg.flight = flight.data;
	ej.cfg.flight_len = flight.len;
	ej.cfg.shape = cell->shape;
	ej.cfg.splits = splits;
	ej.cfg.nsplits = nsplits;
	/* Held packets stretch the silences the engine judges by. */
	ej.cfg.idle_ms = 150 + 2 * added_delay_ms(lab);
	ej.cfg.drain_on_done = true;
	ej.cfg.on_data = on_data;
	ej.cfg.ctx = &cc;
	if (rp) {
		ej.cfg.on_data = on_replay_data;
		ej.cfg.ctx = rp;
		ej.cfg.splits = cell->replay->cuts;
		ej.cfg.nsplits = cell->replay->ncuts;
		ej.cfg.gap_offs = cell->replay->cuts;
		ej.cfg.gaps_us = cell->replay->gaps_us;
		ej.cfg.ngaps = cell->replay->gaps_us ? cell->replay->ncuts : 0;
		if (nsplits) {     /* a reshape's split@ points replace the captured cuts */
			ej.cfg.splits = splits;
			ej.cfg.nsplits = nsplits;
		}
	}

	/*
	 * The single-read server judges its first read: a pause in the flight
	 * is there to end that read. Each waits, once the server's kernel has
	 * acknowledged what came before, until the server has read it, so a
	 * loaded machine cannot merge the two (reported as timing_ms.held).
	 * Behind an exec hop the server's connection is not this one.
	 */
	if (lab->opts.server_mode == SD_SERVER_SINGLE_READ && !lab->proxy_hop) {
		hold.srv = lab->server;
		hold.port = r->sport;
		if (cell->ipv6)
			memcpy(hold.addr, t->engine6, 16);
		else
			sd_server_addr_v4(t->engine4, hold.addr);
		ej.cfg.hold = hold_for_read;
		ej.cfg.hold_ctx = &hold;
	}

	if ((ret = sd_lab_cell_reset(lab, r->seed, err, errlen)) < 0)
		goto out;
	if (lab->proxy_hop) {
		seq0 = sd_server_next_seq(lab->server);
		clock_gettime(CLOCK_REALTIME, &rt0);
	}
	{
		double te = now_ms();

		ret = sd_netns_run(t->client_ns, run_engine, &ej);
		r->t_exchange_ms = now_ms() - te;
	}
	if (ret < 0 && r->eng.state != SD_ENGINE_ERROR) {
		snprintf(err, errlen, "client engine: %s", sd_strerror(ret));
		goto out;
	}
	/* A hop's program or a server process that died is no verdict about
	 * the path (its kernel answers with FIN or RST): the cell is the
	 * harness's error. That FIN or RST leaves before the process is a
	 * zombie: when one ended an unfinished handshake and such a process
	 * is in the lab, give its death 20 ms to show. */
	{
		bool watch = (r->eng.state == SD_ENGINE_CLOSED || r->eng.state == SD_ENGINE_RESET ||
			      r->eng.state == SD_ENGINE_REFUSED) && cc.sess.state != SD_SESS_DONE &&
			     (lab->proxy_hop || lab->opts.server_mode == SD_SERVER_NGINX ||
			      sd_server_mode_is_node(lab->opts.server_mode));

		for (int i = 0; i < 10; i++) {
			struct timespec ts = { 0, 2 * 1000 * 1000 };
			char why[300];

			for (size_t h = 0; h < lab->path.nhops; h++) {
				if (lab->proc[h] && sd_proc_exited(lab->proc[h], why, sizeof(why))) {
					snprintf(err, errlen, "hop '%s': its program exited during the cell: %s",
						 lab->path.hop[h].name, why);
					ret = -ESRCH;
					goto out;
				}
			}
			if (!lab->proxy_hop && sd_server_exited(lab->server)) {
				snprintf(err, errlen, "the %s server process exited",
					 sd_server_mode_name(lab->opts.server_mode));
				ret = -ESRCH;
				goto out;
			}
			if (!watch)
				break;
			nanosleep(&ts, NULL);
		}
	}

	/* What the server saw of this connection. Behind an exec hop the
	 * server's connection is the program's own, from the hop's address
	 * and a port of its choosing: nothing ties it to this cell, so the
	 * server's side is left out (the verdict then judges from the
	 * client's connection, which ends at that hop). */
	if (!lab->proxy_hop) {
		uint8_t a[16];

		if (cell->ipv6)
			memcpy(a, t->engine6, 16);
		else
			sd_server_addr_v4(t->engine4, a);
		ret = sd_server_report(lab->server, a, r->sport, 300, &r->conn);
		if (ret == -ESRCH) {
			/* A node-pq or nginx server died: the lab has no server any more. */
			snprintf(err, errlen, "the %s server process exited",
				 sd_server_mode_name(lab->opts.server_mode));
			goto out;
		}
		r->conn_present = ret >= 0 || ret == -ETIMEDOUT;
		/*
		 * A report is final once the handshake is over, which can be
		 * before the server has read the client's closing RST or FIN:
		 * give it a moment, so the report says how the connection
		 * ended rather than when it was read.
		 */
		for (int i = 0; r->conn_present && !r->conn.closed && i < 100 &&
		     (r->eng.state == SD_ENGINE_DONE || r->eng.state == SD_ENGINE_STALL ||
		      r->eng.state == SD_ENGINE_APP_FAIL); i++) {
			struct timespec ts = { 0, 200 * 1000 };

			nanosleep(&ts, NULL);
			(void)!sd_server_report(lab->server, a, r->sport, 0, &r->conn);
		}
	}

	/* The client's side of the verdict. */
	{
		struct sd_vd_client *c = &r->client;
		const struct sd_engine_result *e = &r->eng;

		c->end = map_end(e->state);
		if (cc.sess.state == SD_SESS_DONE && (e->state == SD_ENGINE_STALL ||
						      e->state == SD_ENGINE_DONE ||
						      e->state == SD_ENGINE_CLOSED))
			c->end = SD_VD_END_DONE;
		if (cc.sess.cannot_verify && cc.sess.server_hello)
			c->end = SD_VD_END_DONE;
		snprintf(c->why, sizeof(c->why), "%s%s%s", e->reason ? e->reason : "",
			 cc.sess.why[0] ? "; " : "", cc.sess.why);
		c->hrr = cc.sess.hrr;
		c->server_hello = cc.sess.server_hello;
		c->handshake_done = cc.sess.state == SD_SESS_DONE;
		c->group = cc.sess.group;
		c->alert = cc.sess.alert;
		c->alert_level = cc.sess.alert_level;
		c->alert_desc = cc.sess.alert_desc;
		c->server_mss = e->server_mss;
		/* Bytes of the first flight the server acknowledged. */
		c->acked = (uint32_t)(e->acked < flight.len ? e->acked : flight.len);
		for (size_t i = 0; i < e->nseg && c->nsegs < SD_VD_MAX_SEGS; i++) {
			struct sd_vd_seg *s = &c->segs[c->nsegs++];

			s->offset = e->seg[i].off;
			s->len = e->seg[i].len;
			s->ip_len = e->seg[i].ip_len;
			s->frags = e->seg[i].nfrags;
			s->retrans = e->seg[i].flags & (SD_SEG_RETX | SD_SEG_DUP);
			/* Only the first flight (the ClientHello) counts here. */
			if (s->offset >= flight.len)
				c->nsegs--;
		}
		for (size_t i = 0; i < e->npmtu && c->npmtu < 8; i++) {
			struct sd_vd_pmtu *pm = &c->pmtu[c->npmtu++];

			pm->mtu = e->pmtu[i].reported;
			memcpy(pm->from, e->pmtu[i].from, 16);
			pm->ignored = cell->shape.no_pmtud;
			pm->t_us = (uint32_t)(e->pmtu[i].t_ms * 1000);
		}
		/* The server's flight: through its Finished when the handshake
		 * completed (tickets after it do not count), else all that came. */
		c->server_bytes = cc.sess.state == SD_SESS_DONE ? cc.sess.flight_bytes : e->server_len;
		c->t_end_us = (uint32_t)(e->t_end * 1000);
		if (cc.sess.hrr)
			r->hello2_len = cc.sess.ch2.len;
		if (rp) {
			size_t nrec = 0;

			/* No keys: the handshake would complete when the ServerHello
			 * came and the server's whole flight followed it intact. */
			c->hrr = rp->hrr;
			c->server_hello = rp->server_hello;
			c->group = rp->group;
			c->alert = rp->alert;
			c->alert_level = rp->alert_level;
			c->alert_desc = rp->alert_desc;
			c->handshake_done = false;
			c->server_bytes = e->server_len;
			snprintf(c->why, sizeof(c->why), "%s%s%s", e->reason ? e->reason : "",
				 rp->why[0] ? "; " : "", rp->why);
			if (rp->server_hello && !rp->alert && e->state == SD_ENGINE_STALL &&
			    whole_records(e->server, e->server_len, &nrec) &&
			    (!r->conn_present || r->conn.bytes_out <= e->server_len))
				c->end = SD_VD_END_DONE;
			if (rp->failed && !rp->alert)
				c->end = SD_VD_END_ERROR;
			if (rp->hrr && cell->replay->retry_len)
				r->hello2_len = cell->replay->hello2_len;
		}
	}
	sd_lab_cell_server_facts(r);

	if ((ret = sd_lab_cell_packets(lab, r, true, err, errlen)) < 0)
		goto out;

	memset(&in, 0, sizeof(in));
	in.family = cell->ipv6 ? 6 : 4;
	memcpy(in.client_addr, ej.cfg.src, 16);
	memcpy(in.server_addr, ej.cfg.dst, 16);
	in.client_port = r->sport;
	in.flight = r->flight;
	in.flight_len = r->flight_len;
	in.hello = &lab->hello;
	in.ipfrag = cell->shape.ipfrag != 0;
	/* A filtered ICMP error means a dropped packet, hence a retransmission
	 * or a stall: only then are the counters worth a netlink round trip. */
	if ((ret = sd_lab_cell_judge(lab, &in, r, r->eng.retransmits || r->eng.state != SD_ENGINE_DONE,
				     err, errlen)) < 0)
		goto out;
	if (lab->proxy_hop)
		proxied_report(lab, seq0, &rt0, r);
	if (rp && (r->v.outcome == SD_OK || r->v.outcome == SD_OK_HRR)) {
		size_t l = strlen(r->v.detail);

		snprintf(r->v.detail + l, sizeof(r->v.detail) - l,
			 " as whole records; the handshake would complete (a captured hello: no keys to finish it)");
	}
	r->t_total_ms = now_ms() - t0;
	ret = 0;
out:
	free(rp);
	sd_session_free(&cc.sess);
	sd_hello_state_clear(st);
	sd_buf_free(&ch);
	sd_buf_free(&flight);
	return ret;
}

void sd_cell_result_free(struct sd_cell_result *r)
{
	sd_engine_result_free(&r->eng);
	free(r->flight);
	free(r->hello);
	free(r->pkts);
	free(r->pkt_bytes);
	sd_ladder_free(&r->lad);
	r->flight = r->hello = r->pkt_bytes = NULL;
	r->pkts = NULL;
}

int sd_lab_write_pcaps(const struct sd_lab *lab, const struct sd_cell_result *r, const char *dir,
		       struct sd_buf *names, char *err, size_t errlen)
{
	const struct sd_topo *t = lab->topo;
	int ret = 0;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return -errno;
	}
	/* One file per interface: the client's c0 (a veth end sees exactly
	 * what its peer, hop 1's left end, sees), hop k's left and right, and
	 * the server's s0. */
	for (size_t node = 0; node < t->nnodes; node++) {
		for (int side = 0; side < 2; side++) {
			struct sd_buf b = SD_BUF_INIT;
			const struct sd_topo_end *e;
			char path[4096];
			FILE *f;

			if ((node == t->nnodes - 1 || node == 0) && side == 1)
				break;
			e = node == 0 ? &t->link[0].end[SD_TOPO_LEFT] :
			    side == 0 ? &t->link[node - 1].end[SD_TOPO_RIGHT] :
					&t->link[node].end[SD_TOPO_LEFT];
			if ((ret = sd_pcap_write_header(&b, SD_LINKTYPE_ETHERNET, 65535)) < 0)
				goto next;
			for (size_t i = 0; i < r->npkts; i++) {
				const struct sd_vd_pkt *p = &r->pkts[i];

				/* c0's view is hop 1's left side's. */
				if (node == 0 ? p->node != 0 || p->side != 0 :
						p->node != (int)node - 1 || p->side != side)
					continue;
				if ((ret = sd_pcap_write_packet(&b, p->ts_ns, p->frame,
								(uint32_t)p->len)) < 0)
					goto next;
			}
			snprintf(path, sizeof(path), "%s/%s-%s.pcap", dir, t->node[node].name, e->ifname);
			f = fopen(path, "wbe");
			if (!f || fwrite(b.data, 1, b.len, f) != b.len) {
				snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
				ret = -errno;
			}
			if (f && fclose(f) != 0 && !ret)
				ret = -errno;
			if (!ret && names)
				sd_buf_printf(names, "%s\n", path);
next:
			sd_buf_free(&b);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

bool sd_lab_client_kernel(const struct sd_lab *lab)
{
	return lab->opts.client_kernel;
}
