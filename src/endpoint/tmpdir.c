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
#include <time.h>
#include <unistd.h>

#include <linux/close_range.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "shakedown/peer.h"
#include "shakedown/tmpdir.h"

/* A short $TMPDIR only: nginx's config names its prefix eleven times in a
 * 1.5 KB buffer, and the lab's per-hop directories 64 bytes long. */
#define TMPDIR_MAX 32
#define SUFFIX 6                   /* random characters after "sd-<pid>-" */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int init_err;               /* -errno of the first set-up */
static char top[64];               /* "" until made */
static pid_t sweeper = -1;
static int sweep_fd = -1;          /* our end of the socket; closes when we die */

/* The sweeper's answer: 0 and the suffix it chose, or an errno. */
struct reply {
	int err;
	char suffix[SUFFIX];
};

/*
 * The sweeper, forked from a possibly multi-threaded process: only
 * async-signal-safe calls until execve. It leaves our process group (a
 * terminal's Ctrl-C must not kill it before it has cleaned up), ignores
 * the terminal's signals, goes back to the process's network namespace
 * and keeps nothing open but its end of the socket. It makes the
 * directory itself (name is "<base>/sd-<pid>-" and SUFFIX characters to
 * fill in) and sends back 0 and the suffix or an errno, so that no moment exists in
 * which the directory is there and nobody to remove it; then it waits for
 * the end of file — our death, however it comes — and runs rm -rf until
 * the directory is gone.
 */
static void sweeper_main(int sfd, int nsfd, char *name)
{
	static const char *const rm[] = { "/bin/rm", "/usr/bin/rm" };
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	char a0[] = "rm", a1[] = "-rf", a2[] = "--";
	char *argv[] = { a0, a1, a2, name, NULL };
	size_t len = strlen(name);
	struct reply rep = { .err = EEXIST };
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
	if (dup2(sfd, 3) < 0)
		_exit(1);
	(void)syscall(SYS_close_range, 4u, ~0u, 0u);
	for (int tries = 0; tries < 100 && rep.err == EEXIST; tries++) {
		unsigned char r[SUFFIX];

		if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
			rep.err = EIO;
			break;
		}
		for (size_t i = 0; i < SUFFIX; i++)
			rep.suffix[i] = name[len + i] = alnum[r[i] % (sizeof(alnum) - 1)];
		name[len + SUFFIX] = 0;
		rep.err = mkdir(name, 0700) == 0 ? 0 : errno;
	}
	/* A failed write means we died already: the read below sees it, and
	 * the directory made goes all the same. */
	(void)!write(3, &rep, sizeof(rep));
	if (rep.err)
		_exit(1);
	while (read(3, &c, 1) != 0 && errno == EINTR)
		;
	close(3);
	/* Programs we started may outlive us for a moment (their
	 * PR_SET_PDEATHSIG is on its way; a browser's helpers notice later)
	 * and write into the directory, even re-make it, after rm: look
	 * again a while after each rm, until it stays gone (at most ~5 s). */
	for (int tries = 0; tries < 25; tries++) {
		struct timespec pause = { 0, 200 * 1000000L };
		pid_t rmpid = fork();
		int st;

		if (rmpid == 0) {
			for (size_t i = 0; i < sizeof(rm) / sizeof(rm[0]); i++)
				execve(rm[i], argv, (char *const[]){ NULL });
			_exit(127);
		}
		if (rmpid > 0)
			while (waitpid(rmpid, &st, 0) < 0 && errno == EINTR)
				;
		nanosleep(&pause, NULL);
		if (access(name, F_OK) < 0)
			_exit(0);
	}
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
	int sv[2] = { -1, -1 }, nsfd;
	struct reply rep = { .err = EIO };
	char name[sizeof(top)];
	size_t got = 0;
	pid_t pid;

	if (!base || base[0] != '/' || strlen(base) > TMPDIR_MAX)
		base = "/tmp";
	/* Room for the suffix the sweeper fills in. */
	if ((size_t)snprintf(name, sizeof(name), "%s/sd-%d-", base, (int)getpid()) + SUFFIX >=
	    sizeof(name)) {
		init_err = -ENAMETOOLONG;
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		init_err = -errno;
		return;
	}
	/* The thread group leader's namespace, not the calling thread's. */
	nsfd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	pid = fork();
	if (pid == 0)
		sweeper_main(sv[1], nsfd, name);
	if (nsfd >= 0)
		close(nsfd);
	close(sv[1]);
	if (pid < 0) {
		init_err = -errno;
		close(sv[0]);
		return;
	}
	while (got < sizeof(rep)) {
		ssize_t n = read(sv[0], (char *)&rep + got, sizeof(rep) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got != sizeof(rep) || rep.err) {
		init_err = got == sizeof(rep) ? -rep.err : -EIO;
		close(sv[0]);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return;
	}
	/* Fits: checked above. */
	memcpy(top, name, strlen(name));
	memcpy(top + strlen(name), rep.suffix, SUFFIX);
	top[strlen(name) + SUFFIX] = 0;
	sweeper = pid;
	sweep_fd = sv[0];
	atexit(at_exit);
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
