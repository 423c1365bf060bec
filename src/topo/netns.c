/* SPDX-License-Identifier: MIT */
/* Anonymous network namespaces, and threads that live in them. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shakedown/netns.h"

struct open_job {
	int ret;
};

static void *open_main(void *arg)
{
	struct open_job *j = arg;
	int fd;

	/* This thread alone moves; it dies right after, so nothing else in
	 * the process ever runs in the new namespace by accident. */
	if (unshare(CLONE_NEWNET) < 0) {
		j->ret = -errno;
		return NULL;
	}
	fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	j->ret = fd < 0 ? -errno : fd;
	return NULL;
}

int sd_netns_open(void)
{
	struct open_job j = { .ret = -EINVAL };
	pthread_t t;
	int err;

	err = pthread_create(&t, NULL, open_main, &j);
	if (err)
		return -err;
	pthread_join(t, NULL);
	return j.ret;
}

struct run_job {
	int nsfd;
	int (*fn)(void *);
	void *arg;
	int ret;
};

static void *run_main(void *arg)
{
	struct run_job *j = arg;

	if (setns(j->nsfd, CLONE_NEWNET) < 0)
		j->ret = -errno;
	else
		j->ret = j->fn(j->arg);
	return NULL;
}

int sd_netns_run(int nsfd, int (*fn)(void *), void *arg)
{
	struct run_job j = { .nsfd = nsfd, .fn = fn, .arg = arg, .ret = -EINVAL };
	pthread_t t;
	int err;

	err = pthread_create(&t, NULL, run_main, &j);
	if (err)
		return -err;
	pthread_join(t, NULL);
	return j.ret;
}

/*
 * The creator waits until the new thread is inside the namespace (or has
 * failed to get there), so setns errors are reported to the caller rather
 * than lost in a thread. The job lives on the creator's stack: the thread
 * copies what it needs before it signals, and a mutex/condvar pair (not a
 * semaphore) guarantees it no longer touches the job once the creator
 * wakes up.
 */
struct thread_job {
	int nsfd;
	void *(*fn)(void *);
	void *arg;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int ret;
};

static void *thread_main(void *arg)
{
	struct thread_job *j = arg;
	void *(*fn)(void *) = j->fn;
	void *fn_arg = j->arg;
	int ret = 0;

	if (setns(j->nsfd, CLONE_NEWNET) < 0)
		ret = -errno;
	pthread_mutex_lock(&j->lock);
	j->ret = ret;
	j->done = true;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
	if (ret < 0)
		return NULL;
	return fn(fn_arg);
}

int sd_netns_thread(int nsfd, void *(*fn)(void *), void *arg, pthread_t *t)
{
	struct thread_job j = {
		.nsfd = nsfd, .fn = fn, .arg = arg, .ret = -EINVAL,
		.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER,
	};
	int err;

	err = pthread_create(t, NULL, thread_main, &j);
	if (err)
		return -err;
	pthread_mutex_lock(&j.lock);
	while (!j.done)
		pthread_cond_wait(&j.cond, &j.lock);
	pthread_mutex_unlock(&j.lock);
	pthread_cond_destroy(&j.cond);
	pthread_mutex_destroy(&j.lock);
	if (j.ret < 0)
		pthread_join(*t, NULL);
	return j.ret;
}

static int sysctl_path(const char *key, char *path, size_t n)
{
	int r;

	/* A key is a path below /proc/sys, nothing above it. */
	if (!key[0] || key[0] == '/' || strstr(key, ".."))
		return -EINVAL;
	r = snprintf(path, n, "/proc/sys/%s", key);
	return r < 0 || (size_t)r >= n ? -ENAMETOOLONG : 0;
}

int sd_netns_sysctl_write(const char *key, const char *value)
{
	char path[256];
	size_t len = strlen(value);
	ssize_t w;
	int fd, ret;

	ret = sysctl_path(key, path, sizeof(path));
	if (ret < 0)
		return ret;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	w = write(fd, value, len);
	ret = w < 0 ? -errno : (size_t)w != len ? -EIO : 0;
	close(fd);
	return ret;
}

int sd_netns_sysctl_read(const char *key, char *out, size_t n)
{
	char path[256];
	ssize_t r;
	int fd, ret;

	if (n == 0)
		return -ENOSPC;
	ret = sysctl_path(key, path, sizeof(path));
	if (ret < 0)
		return ret;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = read(fd, out, n);
	ret = (int)r;
	if (r < 0)
		ret = -errno;
	else if ((size_t)r == n)
		ret = -ENOSPC;
	close(fd);
	if (ret < 0) {
		out[0] = 0;
		return ret;
	}
	while (r > 0 && (out[r - 1] == '\n' || out[r - 1] == ' '))
		r--;
	out[r] = 0;
	return (int)r;
}
