#define _GNU_SOURCE
#include "csandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

// Why this exists: a socket belongs to the network namespace its creator was in when it called
// socket(2). The preview proxy must reach a port on a sandbox's own loopback, which the host's
// namespace cannot see, so the calling thread enters the sandbox's namespace for the one
// socket(2) call and comes straight back. setns(CLONE_NEWNET) changes only the calling thread
// (allowed in a multi-threaded process, unlike user or mount namespaces). If the thread cannot
// return, carrying on would put host sockets in a sandbox: abort instead.
// The socket is non-blocking: the caller connects it with a deadline (an app that listens but
// never accepts would otherwise hold the calling thread for the kernel's SYN retries, minutes).
// Nothing here waits: open, setns, socket, setns, each bounded; the thread is never left inside.
int csb_socket_of_netns(int netns_fd, int domain, int type, int protocol) {
    int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home < 0) return -1;
    if (setns(netns_fd, CLONE_NEWNET) != 0) {
        int saved = errno;
        close(home);
        errno = saved;
        return -1;
    }
    int fd = socket(domain, type, protocol);
    int saved = errno;
    if (setns(home, CLONE_NEWNET) != 0) abort();
    close(home);
    errno = saved;
    return fd;
}

int csb_socket_in_netns(int netns_fd, int family) {
    return csb_socket_of_netns(netns_fd, family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
}
