#ifndef CSANDBOX_H
#define CSANDBOX_H

#include <sys/epoll.h>
#include <sys/types.h>
#include "csandbox_mount_plan.h"
#include "csandbox_protocol.h"

// The C shim of sandbox-host: what Swift cannot call or cannot safely run itself.

/// Clones a child into the namespaces named by `flags` (CLONE_NEW* bits); the child exits at
/// once. Answers 0 when the kernel allowed it, or the errno of the failing step.
int csb_probe_clone(int flags);

/// Names the calling thread (at most 15 bytes are kept), as ps and /proc show it.
int csb_set_thread_name(const char *name);

/// posix_spawn()s `path` with `argv` and `envp` in a new session, with default signal
/// dispositions and an empty signal mask, /dev/null as stdin, `log_fd` as stdout and stderr (or
/// /dev/null when -1), `control_fd` as fd 3 and every other descriptor closed. posix_spawn, not
/// fork: its cost does not grow with the host's memory. Answers 0 and sets *pid, or an errno.
int csb_spawn_helper(const char *path, char *const argv[], char *const envp[], int control_fd, int log_fd, pid_t *pid);

/// pidfd_open(2): a descriptor that becomes readable when `pid` exits. -1 and errno on failure.
int csb_pidfd_open(pid_t pid);

/// pidfd_send_signal(2): `signal` (0: only check) to the process `pidfd` stands for, never to
/// another that reused its pid. 0, or -1 and errno (ESRCH once it has exited).
int csb_pidfd_send_signal(int pidfd, int signal);

/// Sends one protocol message with `fd_count` descriptors over `socket_fd`. 0, or an errno.
int csb_send_message(int socket_fd, const void *data, size_t length, const int *fds, int fd_count);

/// Receives one protocol message (non-blocking), collecting up to `max_fds` descriptors (made
/// close-on-exec). Answers the byte count, 0 at end of stream, or -errno (-EAGAIN when empty).
ssize_t csb_receive_message(int socket_fd, void *buffer, size_t capacity, int *fds, int max_fds, int *fd_count);

/// pipe2(fds, O_CLOEXEC): Glibc hides pipe2 from Swift without _GNU_SOURCE. 0, or -1 and errno.
int csb_pipe(int fds[2]);

/// openat2(2) with `resolve` flags (RESOLVE_* from linux/openat2.h): the kernel confines the
/// lookup (RESOLVE_IN_ROOT treats `dirfd` as `/`). The fd, or -1 and errno.
int csb_openat2(int dirfd, const char *path, int flags, unsigned int mode, unsigned long long resolve);

/// O_PATH, hidden from Swift by Glibc without _GNU_SOURCE.
#define CSB_O_PATH 010000000
/// O_TMPFILE (its value differs by architecture): an unnamed file that vanishes unless linked.
int csb_o_tmpfile(void);
/// memmem(3), a GNU extension Glibc hides from Swift.
const void *csb_memmem(const void *haystack, size_t haystack_length, const void *needle, size_t needle_length);
/// A non-blocking TCP socket created inside the network namespace `netns_fd` (an open
/// /proc/PID/ns/net); the calling thread enters it for the socket(2) call only. The fd, or -1 and errno.
int csb_socket_in_netns(int netns_fd, int family);
/// socket(domain, type, protocol) made inside the network namespace `netns_fd`, the calling thread
/// entering it for the socket(2) call only (and aborting the process if it cannot come back, rather
/// than making host sockets in a sandbox). The fd, or -1 and errno.
int csb_socket_of_netns(int netns_fd, int domain, int type, int protocol);
/// syncfs(2): flushes the file system holding `fd` (one call instead of an fsync per file).
int csb_syncfs(int fd);
/// Attaches `backing_fd` (an open disk image) to a free loop device, auto-clearing (it detaches
/// itself once unmounted and closed). Writes the
/// device's path into `device`; answers an open fd of the device, or -errno.
int csb_loop_attach(int backing_fd, const char *name, char *device, size_t device_size);
/// LOOP_CLR_FD on `device` (a leftover of a killed host). 0, or -errno.
int csb_loop_detach(const char *device);
/// mount(2) of the ext4 file system on `device` at `target`, nosuid, nodev, noatime, with
/// `options` (e.g. "discard"). 0, or -errno.
int csb_mount_image(const char *device, const char *target, const char *options);
/// Attaches a copy of the mount at `source` at `target` (open_tree + move_mount); the caller
/// then unmounts `source`. 0, or -errno.
int csb_mount_clone(const char *source, const char *target);
/// umount2(2) of `target` (never following a link there), lazily when `detach`. 0, or -errno.
int csb_unmount(const char *target, int detach);
/// Sandbox links (netlink.c). Each answers 0 or -errno; blocking but bounded (2 s per exchange).
/// A new network namespace, bind-mounted on `path` (made, exclusively), as `ip netns add` does.
int csb_netns_create(const char *path);
/// Unmounts (lazily, never following a link) and unlinks a namespace file; absent is fine.
int csb_netns_remove(const char *path);
/// A veth pair: `host_if` in the caller's namespace with `gateway`/`prefix`, up; its peer `eth0`
/// made inside the namespace at `netns_path` with `address`/`prefix`, up, loopback up, and a
/// default route via `gateway`. On failure *stage names the step (a static string).
int csb_link_create(const char *netns_path, const char *host_if, const unsigned char address[4],
                    const unsigned char gateway[4], int prefix, const char **stage);
/// Deletes the link named `name` (a veth's peer goes with it). -ENODEV when there is none.
int csb_link_delete(const char *name);
/// A dummy interface `name` with `address`/32, up (the resolver's address on the host).
int csb_dummy_create(const char *name, const unsigned char address[4]);
/// Adds (or replaces) / deletes an IPv4 address on the interface `name` of the caller's namespace
/// (the resolver's address on `lo` where this kernel has no dummy interfaces).
int csb_address_add(const char *name, const unsigned char address[4], int prefix);
int csb_address_delete(const char *name, const unsigned char address[4], int prefix);
/// TIOCSWINSZ on a terminal's master (its foreground group gets SIGWINCH). 0, or an errno.
int csb_set_window_size(int fd, unsigned short columns, unsigned short rows);
/// TIOCGWINSZ: the window size of the terminal `fd` is. 0, or an errno (ENOTTY: not a terminal).
int csb_get_window_size(int fd, unsigned short *columns, unsigned short *rows);
#define CSB_RESOLVE_NO_XDEV 0x01
#define CSB_RESOLVE_NO_MAGICLINKS 0x02
#define CSB_RESOLVE_NO_SYMLINKS 0x04
#define CSB_RESOLVE_BENEATH 0x08
#define CSB_RESOLVE_IN_ROOT 0x10

#endif
