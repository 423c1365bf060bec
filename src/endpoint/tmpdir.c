/* SPDX-License-Identifier: MIT */
/* Private temporary directories, swept by a watcher process when we die. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/close_range.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "shakedown/peer.h"
#include "shakedown/tmpdir.h"

/* A short $TMPDIR only: nginx's config names its prefix eleven times in a
 * 1.5 KB buffer, and the lab's per-hop directories 64 bytes long. */
#define TMPDIR_MAX 32

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int init_err;               /* -errno of the first set-up */
static char top[64];               /* "" until made */
static pid_t sweeper = -1;
static int sweep_fd = -1;          /* the write end; closes when we die */

/*
 * The sweeper, forked from a possibly multi-threaded process: only
 * async-signal-safe calls until execve. It leaves our process group (a
 * terminal's Ctrl-C must not kill it before it has cleaned up), ignores
 * the terminal's signals, goes back to the process's network namespace,
 * keeps nothing open but the pipe, waits for the
 * end of file and replaces itself with rm.
 */
static void sweeper_main(int rfd, int nsfd, char *const argv[])
{
	static const char *const rm[] = { "/bin/rm", "/usr/bin/rm" };
	struct sigaction ign;
	sigset_t none;
	char c;

	(void)setpgid(0, 0);
	/* The forking thread may sit in a lab namespace: do not hold it. */
	if (nsfd >= 0)
		(void)setns(nsfd, CLONE_NEWNET);
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGINT, &ign, NULL);
	sigaction(SIGQUIT, &ign, NULL);
	sigaction(SIGHUP, &ign, NULL);
	sigaction(SIGTERM, &ign, NULL);
	sigaction(SIGPIPE, &ign, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(rfd, 3) < 0)
		_exit(1);
	(void)syscall(SYS_close_range, 4u, ~0u, 0u);
	while (read(3, &c, 1) != 0 && errno == EINTR)
		;
	close(3);
	for (size_t i = 0; i < sizeof(rm) / sizeof(rm[0]); i++)
		execve(rm[i], argv, (char *const[]){ NULL });
	_exit(1);
}

/* A normal exit: remove everything now and reap the sweeper. */
static void at_exit(void)
{
	pthread_mutex_lock(&lock);
	if (top[0])
		sd_rm_tree(top);
	if (sweep_fd >= 0)
		close(sweep_fd);
	sweep_fd = -1;
	if (sweeper > 0)
		while (waitpid(sweeper, NULL, 0) < 0 && errno == EINTR)
			;
	sweeper = -1;
	pthread_mutex_unlock(&lock);
}

static void setup(void)
{
	const char *base = getenv("TMPDIR");
	char a0[] = "rm", a1[] = "-rf", a2[] = "--";
	char *argv[] = { a0, a1, a2, top, NULL };
	int p[2] = { -1, -1 }, nsfd;
	pid_t pid;

	if (!base || base[0] != '/' || strlen(base) > TMPDIR_MAX)
		base = "/tmp";
	snprintf(top, sizeof(top), "%s/sd-%d-XXXXXX", base, (int)getpid());
	if (!mkdtemp(top)) {
		init_err = -errno;
		top[0] = 0;
		return;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		init_err = -errno;
		goto fail;
	}
	/* The thread group leader's namespace, not the calling thread's. */
	nsfd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	pid = fork();
	if (pid < 0) {
		init_err = -errno;
		if (nsfd >= 0)
			close(nsfd);
		goto fail;
	}
	if (pid == 0)
		sweeper_main(p[0], nsfd, argv);
	if (nsfd >= 0)
		close(nsfd);
	close(p[0]);
	sweeper = pid;
	sweep_fd = p[1];
	atexit(at_exit);
	return;
fail:
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	rmdir(top);
	top[0] = 0;
}

int sd_tmpdir_make(const char *what, char *buf, size_t n)
{
	int ret;

	pthread_once(&once, setup);
	if (init_err)
		return init_err;
	if ((size_t)snprintf(buf, n, "%s/%s-XXXXXX", top, what) >= n) {
		if (n)
			buf[0] = 0;
		return -ENAMETOOLONG;
	}
	ret = mkdtemp(buf) ? 0 : -errno;
	if (ret < 0)
		buf[0] = 0;
	return ret;
}
