/* SPDX-License-Identifier: MIT */
/* Rootless mode: enter a user + network + mount namespace of our own before anything else runs. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "cli.h"
#include "rootless.h"

static bool active;

bool cli_rootless_active(void)
{
	return active;
}

int cli_rootless_wanted(void)
{
	const char *v = getenv("SHAKEDOWN_ROOTLESS");

	if (!v || !*v || !strcmp(v, "auto"))
		return geteuid() != 0;
	if (!strcmp(v, "1"))
		return 1;
	if (!strcmp(v, "0"))
		return 0;
	return -1;
}

/* A sysctl's value as this process sees it; -1 when absent or unreadable. */
static long sysctl_value(const char *path)
{
	char buf[32];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return strtol(buf, NULL, 10);
}

static int write_proc(const char *path, const char *text)
{
	size_t len = strlen(text);
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * One line naming the knob that forbids us, checked in the order a kernel
 * applies them: Debian's clone switch, AppArmor's restriction (Ubuntu 24.04:
 * the namespace is created but gets no capabilities), then the per-namespace
 * counts (ENOSPC; the limit is per user namespace, so a parent's may be the
 * one at 0). Anything else at EPERM is a seccomp filter or a chroot.
 */
static char why[512];

static int forbidden(const char *step, int err)
{
	static const char *const limits[][2] = {
		{ "/proc/sys/user/max_user_namespaces", "user.max_user_namespaces" },
		{ "/proc/sys/user/max_net_namespaces", "user.max_net_namespaces" },
		{ "/proc/sys/user/max_mnt_namespaces", "user.max_mnt_namespaces" },
	};
	const char *what = "rootless mode (a user namespace of our own) is forbidden here";

	if (sysctl_value("/proc/sys/kernel/unprivileged_userns_clone") == 0) {
		snprintf(why, sizeof(why), "%s: kernel.unprivileged_userns_clone = 0 "
			 "(set it to 1, or run as root)", what);
		return SD_EXIT_ENV;
	}
	if (sysctl_value("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == 1) {
		snprintf(why, sizeof(why), "%s: kernel.apparmor_restrict_unprivileged_userns = 1 "
			 "(set it to 0, give shakedown an AppArmor profile with 'userns,', or run as root)",
			 what);
		return SD_EXIT_ENV;
	}
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		if (sysctl_value(limits[i][0]) == 0) {
			snprintf(why, sizeof(why), "%s: %s = 0 (raise it, or run as root)", what, limits[i][1]);
			return SD_EXIT_ENV;
		}
	if (err == ENOSPC || err == EUSERS)
		snprintf(why, sizeof(why), "%s: %s: %s (user.max_user_namespaces or "
			 "user.max_net_namespaces is used up here or in a parent namespace; raise it, "
			 "or run as root)", what, step, strerror(err));
	else if (err == EPERM)
		snprintf(why, sizeof(why), "%s: %s: %s (no sysctl forbids it, so a seccomp filter "
			 "(a container's?) or a chroot does; run as root, or outside the container)",
			 what, step, strerror(err));
	else
		snprintf(why, sizeof(why), "%s: %s: %s (run as root)", what, step, strerror(err));
	return SD_EXIT_ENV;
}

int cli_no_privilege(void)
{
	if (why[0])
		return cli_error(SD_EXIT_ENV, "%s", why);
	return cli_error(SD_EXIT_ENV, "needs root (or CAP_NET_ADMIN and CAP_SYS_ADMIN) to build namespaces");
}

int cli_rootless_enter(void)
{
	char map[64];
	uid_t uid = geteuid();
	gid_t gid = getegid();
	int ret;

	if (unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS) < 0)
		return forbidden("unshare", errno);
	/* setgroups must be denied before an unprivileged gid_map write
	 * (user_namespaces(7)); the file is absent only on old kernels. */
	ret = write_proc("/proc/self/setgroups", "deny");
	if (ret < 0 && ret != -ENOENT)
		return forbidden("/proc/self/setgroups", -ret);
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)uid);
	if ((ret = write_proc("/proc/self/uid_map", map)) < 0)
		return forbidden("/proc/self/uid_map", -ret);
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)gid);
	if ((ret = write_proc("/proc/self/gid_map", map)) < 0)
		return forbidden("/proc/self/gid_map", -ret);
	/* Nothing we mount may reach the host's mount namespace. This is
	 * also where an AppArmor-restricted namespace (no capabilities)
	 * shows itself. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return forbidden("making mounts private", errno);
	active = true;
	return 0;
}

/*
 * 'topo up --keep' and 'topo down' name namespaces under /run/netns for
 * 'ip netns exec'; a rootless run's namespaces belong to its own user and
 * mount namespace and vanish with it, so those two need real root. getopt
 * takes any unambiguous abbreviation of --keep ("--k" and up).
 */
static bool topo_names(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "down"))
		return true;
	for (int i = 2; i < argc && strcmp(argv[i], "--"); i++) {
		size_t n = strlen(argv[i]);

		if (n >= 3 && n <= 6 && !strncmp(argv[i], "--keep", n))
			return true;
	}
	return false;
}

int cli_rootless_prepare(int argc, char **argv)
{
	static const char *const builders[] = { "run", "matrix", "topo", "bisect", "replay" };
	bool builds = false;
	int want;

	for (size_t i = 0; i < sizeof(builders) / sizeof(builders[0]); i++)
		builds |= !strcmp(argv[0], builders[i]);
	if (!builds)
		return 0;
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 0;
	want = cli_rootless_wanted();
	if (want < 0)
		return cli_error(SD_EXIT_USAGE, "SHAKEDOWN_ROOTLESS must be 0, 1 or auto");
	if (!want)
		return 0;
	if (!strcmp(argv[0], "topo") && topo_names(argc, argv))
		return cli_error(SD_EXIT_ENV,
				 "needs real root: rootless namespaces vanish with the process and 'ip netns exec' "
				 "cannot see them (use 'topo up PATH' without --keep, or run as root)");
	if (cli_rootless_enter() == 0)
		return 0;
	/* Forced while root: the test of rootless mode itself, say it now.
	 * Otherwise go on unprivileged: the command checks its arguments
	 * first (a bad one is still exit 2) and, when it needs privilege,
	 * says why it has none (cli_no_privilege). */
	if (geteuid() == 0)
		return cli_no_privilege();
	return 0;
}
