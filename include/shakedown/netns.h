/* SPDX-License-Identifier: MIT */
/*
 * Anonymous network namespaces held by file descriptors, and threads that
 * run inside them. A network namespace is per thread (setns(2) with
 * CLONE_NEWNET is allowed in a multi-threaded process), so the client
 * engine, a middlebox and a server endpoint can be threads of one process,
 * each in its own namespace. Nothing here forks or runs a program.
 *
 * An anonymous namespace lives as long as something holds it: an fd from
 * sd_netns_open(), a thread inside it, or a socket opened in it. Close
 * them all and the kernel reclaims the namespace, its interfaces, routes
 * and rules - also when the process is killed with SIGKILL.
 */
#ifndef SHAKEDOWN_NETNS_H
#define SHAKEDOWN_NETNS_H

#include <pthread.h>

#include "shakedown/err.h"

/*
 * Creates a new, empty network namespace: a short-lived thread calls
 * unshare(CLONE_NEWNET) and opens /proc/thread-self/ns/net. Returns that fd
 * (O_CLOEXEC; the caller owns it and close()s it to let the namespace go),
 * or -errno (-EPERM without CAP_SYS_ADMIN, or from pthread_create). The
 * calling thread's own namespace is never changed.
 */
int sd_netns_open(void) SD_WUR;

/*
 * Runs fn(arg) synchronously in a new thread that has setns()'d into the
 * namespace nsfd (which the caller keeps owning), and returns what fn
 * returns; -errno when the thread cannot be started or cannot enter the
 * namespace (fn is then not called). Sockets fn opens belong to nsfd's
 * namespace for their whole life, whichever thread uses them later; the
 * same holds for files under /proc/sys/net opened there.
 */
int sd_netns_run(int nsfd, int (*fn)(void *), void *arg) SD_WUR;

/*
 * Starts a long-lived joinable thread that enters nsfd and then runs
 * fn(arg). Returns 0 once the thread is inside the namespace (*t is set;
 * the caller must pthread_join it), or -errno when the thread could not be
 * started or could not enter nsfd (no thread is left behind; fn is not
 * called). The thread keeps the namespace alive until it exits.
 */
int sd_netns_thread(int nsfd, void *(*fn)(void *), void *arg, pthread_t *t) SD_WUR;

/*
 * Writes value to /proc/sys/<key> (key like "net/ipv4/ip_forward") as seen
 * from the calling thread: a net.* key lands in the thread's network
 * namespace. Returns 0 or -errno (-ENOENT for a key the kernel lacks).
 */
int sd_netns_sysctl_write(const char *key, const char *value) SD_WUR;

/*
 * Reads /proc/sys/<key> of the calling thread's namespace into out
 * (NUL-terminated, trailing newline removed). Returns the length or -errno;
 * -ENOSPC when out is too small.
 */
int sd_netns_sysctl_read(const char *key, char *out, size_t n) SD_WUR;

#endif
