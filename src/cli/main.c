/* SPDX-License-Identifier: MIT */
/* shakedown: the subcommand table and the helpers they share. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "rootless.h"
#include "shakedown/err.h"

const char *cli_cmd = NULL;

int cli_error(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "shakedown%s%s: ", cli_cmd ? " " : "", cli_cmd ? cli_cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int cli_read_file(const char *path, size_t max, uint8_t **data, size_t *len)
{
	int fd = strcmp(path, "-") == 0 ? dup(0) : open(path, O_RDONLY | O_CLOEXEC);
	struct sd_buf b = SD_BUF_INIT;
	struct stat st;
	int ret;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		ret = -EISDIR;
		goto out;
	}
	for (;;) {
		uint8_t *p = sd_buf_reserve(&b, 65536);
		ssize_t n;

		if (!p) {
			ret = sd_buf_error(&b);
			goto out;
		}
		n = read(fd, p, 65536);
		if (n < 0) {
			if (errno == EINTR) {
				b.len -= 65536;
				continue;
			}
			ret = -errno;
			goto out;
		}
		b.len -= 65536 - (size_t)n;
		if (n == 0)
			break;
		if (b.len > max) {
			ret = -EFBIG;
			goto out;
		}
	}
	*data = sd_buf_steal(&b, len);
	ret = 0;
out:
	sd_buf_free(&b);
	close(fd);
	return ret;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Written into an unnamed file (O_TMPFILE) that gets a name only once
 * complete: a SIGKILL while writing (a large HTML report takes a while)
 * leaves nothing; only the instant between linkat and rename can leave
 * NAME.tmp.PID. 1 done, 0 when the file system has no O_TMPFILE, -errno.
 */
static int write_unnamed(const char *path, const char *tmp, const void *data, size_t len)
{
	char dir[PATH_MAX], proc[64];
	const char *slash = strrchr(path, '/');
	int fd, ret;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		return errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL ? 0 : -errno;
	ret = write_all(fd, data, len);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (!ret && linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) < 0)
		ret = -errno;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0) {
		ret = -errno;
		unlink(tmp);
	}
	return ret < 0 ? ret : 1;
}

int cli_write_file(const char *path, const void *data, size_t len)
{
	char tmp[PATH_MAX];
	int fd, ret;

	if (strcmp(path, "-") == 0)
		return write_all(1, data, len);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= sizeof(tmp))
		return -ENAMETOOLONG;
	/* /proc not mounted (a bare chroot): the named temporary file below. */
	if ((ret = write_unnamed(path, tmp, data, len)) != 0 && ret != -ENOENT)
		return ret < 0 ? ret : 0;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	ret = write_all(fd, data, len);
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

int cli_stdout(const struct sd_buf *b)
{
	int ret = write_all(1, b->data, b->len);

	return ret;
}

int cli_read_spec(const char *name, const char *what, uint8_t **data, size_t *len,
		  char *base, size_t n)
{
	const char *b = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
	size_t l = strlen(name);
	int ret;

	if (!strchr(name, '/') && !(l > 4 && !strcmp(name + l - 4, ".ini")))
		return 0;
	ret = cli_read_file(name, 1 << 20, data, len);
	if (ret < 0)
		return -cli_error(SD_EXIT_USAGE, "cannot read %s file %s: %s", what, name, sd_strerror(ret));
	snprintf(base, n, "%.*s", (int)strcspn(b, "."), b);
	return 1;
}

int cli_check_output(const char *flag, const char *path)
{
	char dir[PATH_MAX];
	const char *slash;
	struct stat st;

	if (!path || !strcmp(path, "-"))
		return 0;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return cli_error(SD_EXIT_USAGE, "%s %s: is a directory", flag, path);
	slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	if (stat(dir, &st) < 0)
		return cli_error(SD_EXIT_USAGE, "%s %s: %s: %s", flag, path, dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return cli_error(SD_EXIT_USAGE, "%s %s: %s is not a directory", flag, path, dir);
	if (access(dir, W_OK) < 0)
		return cli_error(SD_EXIT_USAGE, "%s %s: cannot write in %s: %s", flag, path, dir,
				 strerror(errno));
	return 0;
}

int cli_spec_error(const char *name, int line, const char *msg)
{
	if (line)
		return cli_error(SD_EXIT_USAGE, "%s:%d: %s", name, line, msg);
	return cli_error(SD_EXIT_USAGE, "%s: %s", name, msg);
}

long long cli_parse_num(const char *s, long long min, long long max)
{
	char *end;
	long long v;

	if (!s || !*s || (*s != '-' && (*s < '0' || *s > '9')))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	return v;
}

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "hello", cmd_hello, "build a ClientHello from a profile (--json, --out FILE)" },
	{ "dissect", cmd_dissect, "field map of a ClientHello record stream or a pcap/pcapng capture" },
	{ "run", cmd_run, "one cell: a profile through a path to a server, every hop watched" },
	{ "replay", cmd_replay, "a capture's TLS client flights through a path, captured segmentation" },
	{ "matrix", cmd_matrix, "many cells: profiles x paths x servers, as a matrix, JSON, JUnit, HTML" },
	{ "bisect", cmd_bisect, "find where the outcome flips over size, MTU, split point or gap" },
	{ "merge", cmd_merge, "join the JSON of sharded matrix runs into one report" },
	{ "topo", cmd_topo, "build a path and keep it for manual poking (up|down)" },
	{ "list", cmd_list, "list profiles, paths, groups, behaviours, servers" },
	{ NULL, NULL, NULL },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: shakedown COMMAND [options]\n"
		"\n"
		"Shows what happens to large post-quantum hybrid TLS handshakes on a network path.\n"
		"\n"
		"commands:\n");
	for (const struct command *c = commands; c->name; c++)
		fprintf(f, "  %-9s %s\n", c->name, c->summary);
	fprintf(f,
		"\n"
		"Run 'shakedown COMMAND --help' for a command's options.\n"
		"As an ordinary user, run, matrix and topo up enter a user namespace of\n"
		"their own (rootless mode; SHAKEDOWN_ROOTLESS=1 forces it, 0 disables it).\n"
		"Exit codes: 0 expectations met, 1 some not met, 2 usage or input error,\n"
		"3 environment error, 4 internal error.\n");
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	/* Bad input gets one line (DESIGN.md); the usage is one --help away. */
	if (argc < 2)
		return cli_error(SD_EXIT_USAGE, "a command is needed (see 'shakedown --help')");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return SD_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("shakedown %s\n", SD_VERSION);
		return SD_EXIT_OK;
	}
	for (const struct command *c = commands; c->name; c++) {
		if (strcmp(argv[1], c->name) == 0) {
			int ret;

			cli_cmd = c->name;
			/* Before any thread: unshare(CLONE_NEWUSER) needs that. */
			if ((ret = cli_rootless_prepare(argc - 1, argv + 1)) != 0)
				return ret;
			return c->fn(argc - 1, argv + 1);
		}
	}
	return cli_error(SD_EXIT_USAGE, "unknown command '%s' (see 'shakedown --help')", argv[1]);
}
