#define _GNU_SOURCE
#include "csandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <time.h>

int csb_spawn_helper(const char *path, char *const argv[], char *const envp[], int control_fd, int log_fd, pid_t *pid) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc != 0) return rc;
    rc = posix_spawnattr_init(&attributes);
    if (rc != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return rc;
    }
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    // The host ignores SIGPIPE (NIO does); an ignored signal stays ignored across exec, so reset all.
    rc = posix_spawnattr_setsigdefault(&attributes, &all);
    if (rc == 0) rc = posix_spawnattr_setsigmask(&attributes, &none);
    if (rc == 0) rc = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSID);
    if (rc == 0) rc = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    if (rc == 0) {
        if (log_fd >= 0) {
            rc = posix_spawn_file_actions_adddup2(&actions, log_fd, 1);
            if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, log_fd, 2);
        } else {
            rc = posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
            if (rc == 0) rc = posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
        }
    }
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions, control_fd, CSB_CONTROL_FD);
    if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&actions, CSB_CONTROL_FD + 1);
    if (rc == 0) rc = posix_spawn(pid, path, &actions, &attributes, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    return rc;
}

int csb_pidfd_open(pid_t pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int csb_pidfd_send_signal(int pidfd, int signal) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, signal, NULL, 0);
}

int csb_send_message(int socket_fd, const void *data, size_t length, const int *fds, int fd_count) {
    struct iovec iov = {(void *)data, length};
    struct msghdr message;
    memset(&message, 0, sizeof message);
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    char control[CMSG_SPACE(sizeof(int) * 16)];
    if (fd_count > 16) return EINVAL;
    if (fd_count > 0) {
        memset(control, 0, sizeof control);
        message.msg_control = control;
        message.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)fd_count);
        struct cmsghdr *header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)fd_count);
        memcpy(CMSG_DATA(header), fds, sizeof(int) * (size_t)fd_count);
    }
    for (;;) {
        ssize_t sent = sendmsg(socket_fd, &message, MSG_NOSIGNAL);
        if (sent >= 0) return 0;
        if (errno == EINTR) continue;
        if (errno == EAGAIN) {
            // The socket is non-blocking for the receiving side; wait briefly for buffer space.
            struct timespec pause = {0, 200000};
            nanosleep(&pause, NULL);
            continue;
        }
        return errno;
    }
}

ssize_t csb_receive_message(int socket_fd, void *buffer, size_t capacity, int *fds, int max_fds, int *fd_count) {
    struct iovec iov = {buffer, capacity};
    struct msghdr message;
    memset(&message, 0, sizeof message);
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    char control[CMSG_SPACE(sizeof(int) * 16)];
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    *fd_count = 0;
    ssize_t n;
    do {
        n = recvmsg(socket_fd, &message, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&message); c != NULL; c = CMSG_NXTHDR(&message, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + (size_t)i * sizeof(int), sizeof fd);
            if (*fd_count < max_fds) fds[(*fd_count)++] = fd;
            else close(fd);
        }
    }
    return n;
}

int csb_pipe(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

#include <linux/openat2.h>

int csb_openat2(int dirfd, const char *path, int flags, unsigned int mode, unsigned long long resolve) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (unsigned long long)(flags | O_CLOEXEC);
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
    how.resolve = resolve;
    int fd;
    do {
        fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    } while (fd < 0 && (errno == EINTR || errno == EAGAIN));
    return fd;
}

int csb_o_tmpfile(void) {
    return O_TMPFILE;
}

const void *csb_memmem(const void *haystack, size_t haystack_length, const void *needle, size_t needle_length) {
    return memmem(haystack, haystack_length, needle, needle_length);
}

int csb_syncfs(int fd) {
    return syncfs(fd);
}
