/* SPDX-License-Identifier: MIT */
/* Real TLS client programs run in the client namespace: Chromium, node, openssl s_client, curl. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include "shakedown/builtin.h"
#include "shakedown/client.h"
#include "shakedown/peer.h"
#include "shakedown/tmpdir.h"

extern const struct sd_builtin_file sd_peer_scripts[];

#define NODE_SCRIPT "node-lab-client.js"
#define MAX_ARGS 40

static const struct {
	const char *name, *desc;
} kinds[SD_CLIENT_MAX] = {
	[SD_CLIENT_CHROMIUM] = { "chromium", "Chromium headless (Debian's): GREASE, X25519MLKEM768 + X25519 shares, ~1.9 KB hello" },
	[SD_CLIENT_NODE_PQ] = { "node-pq", "Node.js 24 tls.connect, OpenSSL 3.5: X25519MLKEM768 + X25519 shares, 1.5 KB hello" },
	[SD_CLIENT_OPENSSL] = { "openssl", "openssl s_client (Debian's OpenSSL 3.0): X25519 share, classic hello" },
	[SD_CLIENT_CURL] = { "curl", "curl (Debian's, OpenSSL 3.0): X25519 share, classic hello" },
};

int sd_client_parse(const char *name, enum sd_client_kind *k)
{
	for (int i = 0; i < SD_CLIENT_MAX; i++)
		if (strcmp(name, kinds[i].name) == 0) {
			*k = (enum sd_client_kind)i;
			return 0;
		}
	return -SD_EUNKNOWN;
}

const char *sd_client_name(enum sd_client_kind k)
{
	return k < SD_CLIENT_MAX ? kinds[k].name : "?";
}

const char *sd_client_description(enum sd_client_kind k)
{
	return k < SD_CLIENT_MAX ? kinds[k].desc : "?";
}

const char *sd_client_names(void)
{
	return "chromium, node-pq, openssl, curl";
}

static const char *program(enum sd_client_kind k)
{
	switch (k) {
	case SD_CLIENT_CHROMIUM: return "chromium";
	case SD_CLIENT_OPENSSL: return "openssl";
	case SD_CLIENT_CURL: return "curl";
	default: return NULL;
	}
}

/* Whether name is an executable file in PATH. */
static bool in_path(const char *name)
{
	const char *path = getenv("PATH");
	char fn[PATH_MAX];

	for (const char *p = path && *path ? path : "/usr/local/bin:/usr/bin:/bin"; *p;) {
		size_t len = strcspn(p, ":");

		if (len && (size_t)snprintf(fn, sizeof(fn), "%.*s/%s", (int)len, p, name) < sizeof(fn) &&
		    access(fn, X_OK) == 0)
			return true;
		p += len + (p[len] == ':');
	}
	return false;
}

int sd_client_check(enum sd_client_kind k, char *why, size_t whylen)
{
	char node[PATH_MAX];

	if (k == SD_CLIENT_NODE_PQ)
		return sd_peer_node_find(node, sizeof(node), why, whylen);
	if (k >= SD_CLIENT_MAX)
		return -SD_EUNKNOWN;
	if (in_path(program(k)))
		return 0;
	snprintf(why, whylen, "%s is not installed (in PATH); 'bash tools/setup-deps.sh' installs it",
		 program(k));
	return -ENOENT;
}

bool sd_client_sni_ok(const char *name)
{
	size_t n = strlen(name);

	if (!n || n > 253 || name[0] == '-' || name[0] == '.')
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '.'))
			return false;
	return true;
}

struct sd_client {
	struct sd_proc *proc;
	char dir[PATH_MAX];          /* Chromium's private directory; "" none */
};

/* Appends one word; the words live in store (a string table). */
struct argv_b {
	char *argv[MAX_ARGS + 1];
	size_t argc;
	char store[8192];
	size_t used;
};

static __attribute__((format(printf, 2, 3))) void arg(struct argv_b *a, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (a->argc == MAX_ARGS || a->used >= sizeof(a->store))
		return;
	va_start(ap, fmt);
	n = vsnprintf(a->store + a->used, sizeof(a->store) - a->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(a->store) - a->used) {
		a->used = sizeof(a->store);   /* full: the start fails below */
		return;
	}
	a->argv[a->argc++] = a->store + a->used;
	a->argv[a->argc] = NULL;
	a->used += (size_t)n + 1;
}

/* A JSON string body: the lab's addresses and a key log path. */
static void json_escape(const char *s, char *out, size_t n)
{
	size_t k = 0;

	for (; *s && k + 7 < n; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			k += (size_t)snprintf(out + k, n - k, "\\%c", ch);
		else if (ch < 0x20)
			k += (size_t)snprintf(out + k, n - k, "\\u%04x", ch);
		else
			out[k++] = (char)ch;
	}
	out[k] = 0;
}

int sd_client_start(const struct sd_client_cfg *cfg, struct sd_client **out, char *err,
		    size_t errlen)
{
	struct sd_client *c = calloc(1, sizeof(*c));
	struct argv_b *a = calloc(1, sizeof(*a));
	struct sd_proc_cfg pc = { 0 };
	char host[INET6_ADDRSTRLEN], url_host[INET6_ADDRSTRLEN + 2], node[PATH_MAX];
	const char *kl = cfg->keylog_path;
	int af = cfg->family == 6 ? AF_INET6 : AF_INET, ret = -ENOMEM;

	*out = NULL;
	if (!c || !a) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (!inet_ntop(af, cfg->server_addr, host, sizeof(host))) {
		ret = -errno;
		snprintf(err, errlen, "the server's address: %s", strerror(errno));
		goto fail;
	}
	if (cfg->sni && !sd_client_sni_ok(cfg->sni)) {
		ret = -SD_EVALUE;
		snprintf(err, errlen, "'%.60s' is not a DNS name", cfg->sni);
		goto fail;
	}
	snprintf(url_host, sizeof(url_host), af == AF_INET6 ? "[%s]" : "%s", host);
	switch (cfg->kind) {
	case SD_CLIENT_CHROMIUM:
		/* Its profile, caches and HOME in a directory of its own, removed
		 * at the stop (or by the sweeper of shakedown/tmpdir.h if we are
		 * killed); the crash handlers it starts detach into sessions
		 * of their own, and are found at the stop by that directory in
		 * their command lines. (--disable-crashpad-for-testing would
		 * spare them, but crashes Chromium 156's network service.) */
		if ((ret = sd_tmpdir_make("chromium", c->dir, sizeof(c->dir))) < 0) {
			c->dir[0] = 0;
			snprintf(err, errlen, "creating Chromium's profile directory: %s", sd_strerror(ret));
			goto fail;
		}
		arg(a, "env");
		arg(a, "HOME=%s", c->dir);
		arg(a, "XDG_CONFIG_HOME=%s", c->dir);
		arg(a, "XDG_CACHE_HOME=%s", c->dir);
		/* Its own scratch (org.chromium.Chromium.*) too, or every run
		 * it is stopped in leaves one in /tmp. */
		arg(a, "TMPDIR=%s", c->dir);
		arg(a, "chromium");
		arg(a, "--headless");
		arg(a, "--no-sandbox");
		arg(a, "--disable-gpu");
		arg(a, "--disable-crash-reporter");
		arg(a, "--no-first-run");
		arg(a, "--no-default-browser-check");
		arg(a, "--disable-background-networking");
		arg(a, "--disable-component-update");
		arg(a, "--disable-sync");
		arg(a, "--disable-extensions");
		arg(a, "--user-data-dir=%s", c->dir);
		arg(a, "--ignore-certificate-errors");
		if (kl)
			arg(a, "--ssl-key-log-file=%s", kl);
		if (cfg->sni) {
			/* The name resolves to the server without DNS; the SNI is the URL's. */
			arg(a, "--host-resolver-rules=MAP %s %s", cfg->sni, url_host);
			arg(a, "https://%s:%u/", cfg->sni, cfg->server_port);
		} else {
			arg(a, "https://%s:%u/", url_host, cfg->server_port);
		}
		break;
	case SD_CLIENT_NODE_PQ: {
		const struct sd_builtin_file *script = NULL;
		char eh[INET6_ADDRSTRLEN * 2], ek[PATH_MAX * 2];

		if ((ret = sd_peer_node_find(node, sizeof(node), err, errlen)) < 0)
			goto fail;
		for (const struct sd_builtin_file *f = sd_peer_scripts; f->name; f++)
			if (strcmp(f->name, NODE_SCRIPT) == 0)
				script = f;
		if (!script) {
			ret = -ENOENT;
			snprintf(err, errlen, NODE_SCRIPT " is not compiled in");
			goto fail;
		}
		json_escape(host, eh, sizeof(eh));
		json_escape(kl ? kl : "", ek, sizeof(ek));
		arg(a, "%s", node);
		/* (Also keeps it apart from the node-pq servers in ps: "node -e".) */
		arg(a, "--no-warnings");
		arg(a, "-e");
		arg(a, "%s", script->text);
		arg(a, "{\"host\":\"%s\",\"port\":%u,\"servername\":%s%s%s,\"keylog\":%s%s%s}",
		    eh, cfg->server_port, cfg->sni ? "\"" : "", cfg->sni ? cfg->sni : "null",
		    cfg->sni ? "\"" : "", kl ? "\"" : "", kl ? ek : "null", kl ? "\"" : "");
		break;
	}
	case SD_CLIENT_OPENSSL:
		arg(a, "openssl");
		arg(a, "s_client");
		arg(a, "-connect");
		arg(a, "%s:%u", url_host, cfg->server_port);
		if (cfg->sni) {
			arg(a, "-servername");
			arg(a, "%s", cfg->sni);
		} else {
			arg(a, "-noservername");
		}
		if (kl) {
			arg(a, "-keylogfile");
			arg(a, "%s", kl);
		}
		break;
	case SD_CLIENT_CURL:
		arg(a, "env");
		if (kl)
			arg(a, "SSLKEYLOGFILE=%s", kl);
		arg(a, "curl");
		arg(a, "--silent");
		arg(a, "--show-error");
		arg(a, "--insecure");
		arg(a, "--output");
		arg(a, "/dev/null");
		if (cfg->sni) {
			arg(a, "--resolve");
			arg(a, "%s:%u:%s", cfg->sni, cfg->server_port, host);
			arg(a, "https://%s:%u/", cfg->sni, cfg->server_port);
		} else {
			arg(a, "https://%s:%u/", url_host, cfg->server_port);
		}
		break;
	default:
		ret = -SD_EUNKNOWN;
		snprintf(err, errlen, "unknown client");
		goto fail;
	}
	if (a->used >= sizeof(a->store)) {
		ret = -ENAMETOOLONG;
		snprintf(err, errlen, "the %s command line is too long", sd_client_name(cfg->kind));
		goto fail;
	}
	pc.argv = a->argv;
	pc.family = af;
	if ((ret = sd_proc_start(&pc, &c->proc, err, errlen)) < 0)
		goto fail;
	free(a);
	*out = c;
	return 0;
fail:
	free(a);
	sd_client_stop(c);
	return ret;
}

bool sd_client_exited(struct sd_client *c, char *why, size_t whylen)
{
	return sd_proc_exited(c->proc, why, whylen);
}

/* Whether process pid's command line mentions dir. */
static bool cmdline_has(const char *pid, const char *dir)
{
	char fn[64], buf[8192];
	size_t dl = strlen(dir);
	ssize_t n;
	int fd;

	snprintf(fn, sizeof(fn), "/proc/%s/cmdline", pid);
	if ((fd = open(fn, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	for (ssize_t i = 0; n > 0 && i + (ssize_t)dl <= n; i++)
		if (memcmp(buf + i, dir, dl) == 0)
			return true;
	return false;
}

/*
 * Kills what the program started outside its process group: Chromium's
 * crash handlers (double-forked into sessions of their own, children of
 * init), known by the private directory in their command lines, which no
 * other process has (sd_tmpdir_make made it).
 */
static void kill_detached(const char *dir)
{
	struct dirent *e;
	DIR *d;

	if (!dir[0] || !(d = opendir("/proc")))
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] >= '1' && e->d_name[0] <= '9' && cmdline_has(e->d_name, dir))
			(void)kill((pid_t)strtol(e->d_name, NULL, 10), SIGKILL);
	closedir(d);
}

void sd_client_stop(struct sd_client *c)
{
	if (!c)
		return;
	sd_proc_stop(c->proc);
	kill_detached(c->dir);
	sd_rm_tree(c->dir);
	free(c);
}
