// sandbox-init: the small, single-threaded helper that builds one sandbox and becomes its PID 1.
//
// Why it exists: the host is a multi-threaded Swift process, and namespace and mount setup must
// not run there (unshare/setns affect only the calling thread, and fork() of a large process is
// slow and unsafe). The host posix_spawns this program; it
//   1. (outer, host root) joins the sandbox's cgroups, then clones a child into new mount, PID,
//      network, UTS, IPC and cgroup namespaces, and reports the child's host pid;
//   2. (child, still host root, now PID 1 of the new PID namespace) builds the filesystem from a
//      plain list of mounts, pivots into it, brings up loopback, then enters a new user
//      namespace where its root maps to an unprivileged host uid range (the outer writes the
//      maps); from here on it holds no privilege on the host;
//   3. (child) serves the host over fd 3: spawns commands with the pipes and cgroup files the host
//      passes, reports their pids and exit statuses, and reaps every orphan, as PID 1 must.
// Every setup failure is reported as (stage, errno) before exiting. The namespaces are created
// while still host root, so they are owned by the host's user namespace: the sandbox's root cannot
// mount, change the network or set the hostname, only use what was built for it.
#define _GNU_SOURCE
#include "csandbox_mount_plan.h"
#include "csandbox_protocol.h"
#include "seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define SBI_MAX_CGROUPS 8
#define SBI_MAX_TRACKED 4096
#define SBI_MAX_FDS 16

struct sbi_config {
    const char *sandbox_dir;  // root/, lower/{root,usr}/, upper/{root,usr}/, work/{root,usr}/, proc/
    const char *lower_root;   // the image's root filesystem (shared, owned by host ids)
    const char *usr_lower;    // the host's /usr for the default image; NULL when the image has its own
    const char *workspace;
    const char *hostname;
    const char *netns;        // a network namespace (bind-mounted nsfs file) to join; NULL: a new one
    const char *resolv_conf;  // a host file bound read-only over the root's etc/resolv.conf; NULL: none
    unsigned long uid_base;
    unsigned long id_count;
    unsigned long long tmp_size;
    const char *cgroups[SBI_MAX_CGROUPS];
    int cgroup_count;
};

// SANDBOX_INIT_TRACE=1: stage timings on stderr, for profiling the start.
static int sbi_tracing;
static void sbi_trace(const char *stage) {
    if (!sbi_tracing) return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    fprintf(stderr, "%ld.%06ld %d %s\n", (long)now.tv_sec, now.tv_nsec / 1000, getpid(), stage);
}

static void sbi_send(uint32_t type, uint32_t id, int32_t value, const char *payload) {
    char buffer[sizeof(struct csb_header) + 256];
    struct csb_header header = {type, id, value, 0};
    size_t length = sizeof header;
    memcpy(buffer, &header, sizeof header);
    if (payload != NULL) {
        size_t n = strlen(payload) + 1;
        if (n > 256) n = 256;
        memcpy(buffer + length, payload, n);
        length += n;
    }
    while (send(CSB_CONTROL_FD, buffer, length, MSG_NOSIGNAL) < 0 && errno == EINTR) {}
}

// A header-only message carrying one descriptor.
static void sbi_send_fd_id(uint32_t type, uint32_t id, int32_t value, int fd) {
    struct csb_header header = {type, id, value, 0};
    struct iovec iov = {&header, sizeof header};
    char control[CMSG_SPACE(sizeof(int))];
    memset(control, 0, sizeof control);
    struct msghdr message = {0};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    struct cmsghdr *c = CMSG_FIRSTHDR(&message);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    while (sendmsg(CSB_CONTROL_FD, &message, MSG_NOSIGNAL) < 0 && errno == EINTR) {}
}

static void sbi_send_fd(uint32_t type, int32_t value, int fd) {
    sbi_send_fd_id(type, 0, value, fd);
}

// Reports the failing setup stage with errno, then exits: nothing half-built is left running.
static void sbi_fail(const char *stage) {
    int saved = errno;
    sbi_send(CSB_MSG_SETUP_FAILED, 0, saved, stage);
    _exit(1);
}

static int sbi_write_file(const char *path, const char *data) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t length = strlen(data);
    ssize_t written = write(fd, data, length);
    int saved = errno;
    close(fd);
    errno = saved;
    return written == (ssize_t)length ? 0 : -1;
}

// ---- the mount plan, in the order the kernel sees it ----
//
// The plan is data: an ordered table of named steps (csandbox_mount_plan.h, CSandbox's
// mount_plan.c, which the host's tests read without root), run top to bottom by sbi_run_plan.
// Every target is reached one name at a time from a directory fd (an earlier step's mount, or the
// sandbox's directory), never following a link (the root's upper layer is the tenant's to write,
// so a path string through it would be the tenant's to redirect), and mounts are attached to
// those fds with the new mount API. Host paths appear only as mount sources, from our arguments.

// Walks all but the last component of `target` (relative, never "." or "..") beneath `dir_fd`,
// following no link. Sets *dir to the directory holding the last component (`dir_fd` itself when
// there is one component; the caller closes any other) and *last to that component. 0, or -1
// and errno.
static int sbi_walk_parent(int dir_fd, const char *target, int *dir, const char **last) {
    char name[256];
    int fd = dir_fd;
    const char *p = target;
    for (;;) {
        size_t length = strcspn(p, "/");
        if (length == 0 || length >= sizeof name || (p[0] == '.' && (length == 1 || (length == 2 && p[1] == '.')))) {
            errno = EINVAL;
            break;
        }
        if (p[length] == '\0') {
            *dir = fd;
            *last = p;
            return 0;
        }
        memcpy(name, p, length);
        name[length] = '\0';
        int next = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0) break;
        if (fd != dir_fd) close(fd);
        fd = next;
        p += length + 1;
    }
    int saved = errno;
    if (fd != dir_fd) close(fd);
    errno = saved;
    return -1;
}

// An O_PATH fd of the step's target beneath `dir_fd`, made first when the step has a mode: a
// directory, or (CSB_STEP_FILE) an empty file, exclusively. -1 and errno.
static int sbi_open_target(int dir_fd, const struct csb_mount_step *step, mode_t mode) {
    const char *name;
    int dir;
    if (sbi_walk_parent(dir_fd, step->target, &dir, &name) < 0) return -1;
    int fd = -1;
    if (step->flags & CSB_STEP_FILE) {
        int made = mode == 0 ? -2 : openat(dir, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode);
        if (made >= 0) close(made);
        if (made != -1) fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    } else if (mode == 0 || mkdirat(dir, name, mode) == 0 || errno == EEXIST) {
        fd = openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    int saved = errno;
    if (dir != dir_fd) close(dir);
    errno = saved;
    return fd;
}

// Attaches the detached mount `tree` over `target_fd` (which it closes, with the tree).
static void sbi_attach(int tree, int target_fd, const char *stage) {
    if (move_mount(tree, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) sbi_fail(stage);
    close(tree);
    close(target_fd);
}

// A new, detached filesystem of `type`, configured from `options` ("key=value,flag,…"; no value
// contains a comma), mounted with the MOUNT_ATTR_* `attributes`.
static int sbi_new_filesystem(const char *type, const char *options, unsigned attributes, const char *stage) {
    int fs = fsopen(type, FSOPEN_CLOEXEC);
    if (fs < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "source", type, 0) < 0) sbi_fail(stage);
    char copy[8192];
    if ((size_t)snprintf(copy, sizeof copy, "%s", options) >= sizeof copy) {
        errno = ENAMETOOLONG;
        sbi_fail(stage);
    }
    char *rest = copy;
    for (char *key = strsep(&rest, ","); key != NULL; key = strsep(&rest, ",")) {
        if (*key == '\0') continue;
        char *value = strchr(key, '=');
        if (value != NULL) *value++ = '\0';
        int rc = value != NULL ? fsconfig(fs, FSCONFIG_SET_STRING, key, value, 0) : fsconfig(fs, FSCONFIG_SET_FLAG, key, NULL, 0);
        if (rc < 0) sbi_fail(stage);
    }
    if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) sbi_fail(stage);
    int tree = fsmount(fs, FSMOUNT_CLOEXEC, attributes);
    if (tree < 0) sbi_fail(stage);
    close(fs);
    return tree;
}

// A detached copy of `source` beneath `dir_fd` (an absolute, trusted host path, or "" with
// AT_EMPTY_PATH for `dir_fd` itself), with `attributes` set.
static int sbi_clone_tree(int dir_fd, const char *source, unsigned flags, uint64_t attributes, const char *stage) {
    int tree = open_tree(dir_fd, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | flags);
    if (tree < 0) sbi_fail(stage);
    if (attributes != 0) {
        struct mount_attr attr;
        memset(&attr, 0, sizeof attr);
        attr.attr_set = attributes;
        if (mount_setattr(tree, "", AT_EMPTY_PATH | (flags & AT_RECURSIVE), &attr, sizeof attr) < 0) sbi_fail(stage);
    }
    return tree;
}

// A user namespace whose root is host uid `uid_base`, held open by a child that waits for EOF on
// a pipe. Its fd serves twice: to idmap the image's layers (so host root's files appear as the
// sandbox root's, and copy-up and package installs work), and, last, for PID 1 to enter.
static pid_t sbi_holder;
static int sbi_holder_pipe[2];

static int sbi_holder_main(void *argument) {
    (void)argument;
    close(sbi_holder_pipe[1]);
    char byte;
    while (read(sbi_holder_pipe[0], &byte, 1) < 0 && errno == EINTR) {}
    return 0;
}

static int sbi_make_userns(const struct sbi_config *config, const char *stage) {
    char path[64], map[128];
    if (pipe2(sbi_holder_pipe, O_CLOEXEC) < 0) sbi_fail("holder-pipe");
    static char stack[64 * 1024] __attribute__((aligned(16)));
    sbi_holder = clone(sbi_holder_main, stack + sizeof stack, CLONE_NEWUSER | SIGCHLD, NULL);
    if (sbi_holder < 0) sbi_fail(stage);
    close(sbi_holder_pipe[0]);
    // The holder's pid is one of this new PID namespace: read it through a proc of our own, a
    // detached mount that is never attached anywhere and goes with its fd.
    int proc = sbi_new_filesystem("proc", "", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, "holder-proc");
    snprintf(map, sizeof map, "0 %lu %lu\n", config->uid_base, config->id_count);
    const char *files[] = {"uid_map", "gid_map"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%d/%s", sbi_holder, files[i]);
        int fd = openat(proc, path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
        ssize_t written = fd < 0 ? -1 : write(fd, map, strlen(map));
        if (written != (ssize_t)strlen(map)) sbi_fail("id-maps");
        close(fd);
    }
    snprintf(path, sizeof path, "%d/ns/user", sbi_holder);
    int fd = openat(proc, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) sbi_fail("userns-open");
    close(proc);
    return fd;
}

// Where a step's mount comes from: a host path given to us (trusted), or one of the host's
// devices; NULL for none.
static const char *sbi_source(const struct sbi_config *config, const struct csb_mount_step *step, char *buffer, size_t size) {
    switch (step->source) {
    case CSB_SOURCE_IMAGE_ROOT: return config->lower_root;
    case CSB_SOURCE_HOST_USR: return config->usr_lower;
    case CSB_SOURCE_WORKSPACE: return config->workspace;
    case CSB_SOURCE_HOST_NULL: return "/dev/null";
    case CSB_SOURCE_RESOLV_CONF: return config->resolv_conf;
    case CSB_SOURCE_HOST_DEVICE:
        if (strchr(step->target, '/') != NULL || (size_t)snprintf(buffer, size, "/dev/%s", step->target) >= size) return NULL;
        return buffer;
    default: return NULL;
    }
}

// The detached mount a mounting step attaches over `target_fd`.
static int sbi_step_tree(const struct sbi_config *config, const struct csb_mount_step *step, int target_fd, int userns_fd) {
    char buffer[8192];
    unsigned recursive = (step->flags & CSB_STEP_RECURSIVE) ? AT_RECURSIVE : 0;
    if (step->kind == CSB_STEP_NEW_FILESYSTEM) {
        struct csb_mount_values values = {config->uid_base, config->tmp_size};
        if (csb_expand_mount_options(step->options, &values, buffer, sizeof buffer) < 0) sbi_fail(step->stage);
        return sbi_new_filesystem(step->fs_type, buffer, (unsigned)step->attributes, step->stage);
    }
    if (step->source == CSB_SOURCE_TARGET) {
        return sbi_clone_tree(target_fd, "", AT_EMPTY_PATH | recursive, step->attributes, step->stage);
    }
    const char *source = sbi_source(config, step, buffer, sizeof buffer);
    if (source == NULL) {
        errno = EINVAL;
        sbi_fail(step->stage);
    }
    if (step->kind == CSB_STEP_BIND) return sbi_clone_tree(AT_FDCWD, source, recursive, step->attributes, step->stage);
    // An idmapped tree: read-only, seen through the sandbox's id mapping; where the filesystem
    // cannot be idmapped, a plain one (files then show as nobody inside).
    if (userns_fd < 0) {
        errno = EINVAL;
        sbi_fail("open-tree");
    }
    int tree = open_tree(AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | recursive);
    if (tree < 0) sbi_fail("open-tree");
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = step->attributes;
    attr.userns_fd = (uint64_t)userns_fd;
    if (mount_setattr(tree, "", AT_EMPTY_PATH | recursive, &attr, sizeof attr) < 0) {
        attr.attr_set = step->attributes & ~(uint64_t)MOUNT_ATTR_IDMAP;
        attr.userns_fd = 0;
        if (mount_setattr(tree, "", AT_EMPTY_PATH | recursive, &attr, sizeof attr) < 0) sbi_fail("mount-setattr");
    }
    return tree;
}

// An opaque directory in an overlay's upper layer (the default image's usr/local): made by host
// root before the overlay is mounted. The directory holding it is the host's, what is in it the
// tenant's, so one name at a time, no link followed, and a non-directory there is removed.
static void sbi_opaque_dir(const struct sbi_config *config, const struct csb_mount_step *step, int dir_fd) {
    const char *name;
    int dir;
    if (sbi_walk_parent(dir_fd, step->target, &dir, &name) < 0) sbi_fail(step->stage);
    struct stat info;
    if (fstatat(dir, name, &info, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(info.st_mode) && unlinkat(dir, name, 0) < 0)
        sbi_fail(step->stage);
    int created = mkdirat(dir, name, step->mode) == 0;
    if (!created && errno != EEXIST) sbi_fail(step->stage);
    int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) sbi_fail(step->stage);
    if (created && fchown(fd, (uid_t)config->uid_base, (gid_t)config->uid_base) < 0) sbi_fail(step->stage);
    if (fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) < 0) sbi_fail(step->stage);
    close(fd);
    if (dir != dir_fd) close(dir);
}

// `value` into the existing file target (a sysctl of this sandbox's namespaces).
static int sbi_write_target(const struct csb_mount_step *step, int dir_fd) {
    const char *name;
    int dir;
    if (sbi_walk_parent(dir_fd, step->target, &dir, &name) < 0) return -1;
    int fd = openat(dir, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    size_t length = strlen(step->value);
    int ok = fd >= 0 && write(fd, step->value, length) == (ssize_t)length;
    int saved = errno;
    if (fd >= 0) close(fd);
    if (dir != dir_fd) close(dir);
    errno = saved;
    return ok ? 0 : -1;
}

static int sbi_make_link(const struct csb_mount_step *step, int dir_fd) {
    const char *name;
    int dir;
    if (sbi_walk_parent(dir_fd, step->target, &dir, &name) < 0) return -1;
    int rc = symlinkat(step->value, dir, name);
    int saved = errno;
    if (dir != dir_fd) close(dir);
    errno = saved;
    return rc;
}

// The index of the step named `name` before step `before`; a plan naming a later or unknown
// parent is a bug, reported as the stage "plan".
static size_t sbi_step_index(const struct csb_mount_step *plan, size_t before, const char *name) {
    for (size_t i = 0; i < before; i++) {
        if (strcmp(plan[i].name, name) == 0) return i;
    }
    errno = EINVAL;
    sbi_fail("plan");
    return 0;
}

// Whether a step after `index` is beneath it (so its mount's fd must be kept).
static int sbi_step_is_parent(const struct csb_mount_step *plan, size_t count, size_t index) {
    for (size_t i = index + 1; i < count; i++) {
        if (plan[i].parent != NULL && strcmp(plan[i].parent, plan[index].name) == 0) return 1;
    }
    return 0;
}

// Runs the mount plan; answers the user namespace's fd (PID 1 enters it last). On return the
// sandbox's root is "/" and the working directory.
static int sbi_run_plan(const struct sbi_config *config) {
    size_t count;
    const struct csb_mount_step *plan = csb_mount_plan(&count);
    int fds[CSB_MOUNT_PLAN_MAX];  // each step's mount while a later step is beneath it, else -1
    int userns_fd = -1;
    if (count > CSB_MOUNT_PLAN_MAX) {
        errno = E2BIG;
        sbi_fail("plan");
    }
    for (size_t i = 0; i < count; i++) {
        const struct csb_mount_step *step = &plan[i];
        fds[i] = -1;
        if ((step->flags & CSB_STEP_HOST_USR) && config->usr_lower == NULL) continue;
        if ((step->flags & CSB_STEP_RESOLV_CONF) && config->resolv_conf == NULL) continue;
        int base = AT_FDCWD;  // the sandbox's directory, once entered
        if (step->parent != NULL) {
            base = fds[sbi_step_index(plan, i, step->parent)];
            if (base < 0) {
                errno = ENOENT;
                sbi_fail(step->stage);
            }
        }
        int failed = 0;
        switch (step->kind) {
        case CSB_STEP_PRIVATE_PROPAGATION:
            failed = mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0;
            break;
        case CSB_STEP_ENTER_SANDBOX_DIR:
            failed = chdir(config->sandbox_dir) < 0;
            break;
        case CSB_STEP_USER_NAMESPACE:
            userns_fd = sbi_make_userns(config, step->stage);
            break;
        case CSB_STEP_IDMAPPED_TREE:
        case CSB_STEP_NEW_FILESYSTEM:
        case CSB_STEP_BIND: {
            int target = sbi_open_target(base, step, step->mode);
            if (target < 0 && (step->flags & CSB_STEP_OPTIONAL)) break;
            // An optional file bound over an existing one (resolv.conf in the tenant's layer):
            // anything but a regular file there (a link, a directory the tenant made) skips the
            // step rather than failing every start of the sandbox.
            struct stat info;
            if (target >= 0 && (step->flags & (CSB_STEP_FILE | CSB_STEP_OPTIONAL)) == (CSB_STEP_FILE | CSB_STEP_OPTIONAL) &&
                step->mode == 0 && (fstat(target, &info) < 0 || !S_ISREG(info.st_mode))) {
                close(target);
                break;
            }
            if (target < 0) sbi_fail(step->target_stage != NULL ? step->target_stage : step->stage);
            sbi_attach(sbi_step_tree(config, step, target, userns_fd), target, step->stage);
            // What is beneath this step is reached through the new mount, not the directory under it.
            if (sbi_step_is_parent(plan, count, i) && (fds[i] = sbi_open_target(base, step, 0)) < 0) sbi_fail(step->stage);
            break;
        }
        case CSB_STEP_OPAQUE_DIR:
            sbi_opaque_dir(config, step, base);
            break;
        case CSB_STEP_WRITE_FILE:
            failed = sbi_write_target(step, base) < 0;
            break;
        case CSB_STEP_SYMLINK:
            failed = sbi_make_link(step, base) < 0;
            break;
        case CSB_STEP_SET_ATTRIBUTES: {
            struct mount_attr attr;
            memset(&attr, 0, sizeof attr);
            attr.attr_set = step->attributes;
            failed = mount_setattr(base, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0;
            break;
        }
        case CSB_STEP_PIVOT_ROOT:
            if (fchdir(base) < 0) sbi_fail("chdir-root");
            for (size_t j = 0; j < i; j++) {
                if (fds[j] >= 0) close(fds[j]);
                fds[j] = -1;
            }
            if (syscall(SYS_pivot_root, ".", ".") < 0) sbi_fail(step->stage);
            if (umount2(".", MNT_DETACH) < 0) sbi_fail("detach-old-root");
            if (chdir("/") < 0) sbi_fail("chdir-new-root");
            break;
        default:
            errno = EINVAL;
            sbi_fail("plan");
        }
        // Best-effort steps are hardening this kernel may refuse: keep going without it.
        if (failed && !(step->flags & CSB_STEP_BEST_EFFORT)) sbi_fail(step->stage);
        sbi_trace(step->name);
    }
    for (size_t i = 0; i < count; i++) {
        if (fds[i] >= 0) close(fds[i]);
    }
    return userns_fd;
}

static void sbi_loopback_up(void) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) sbi_fail("loopback-socket");
    struct ifreq request;
    memset(&request, 0, sizeof request);
    strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
    if (ioctl(fd, SIOCGIFFLAGS, &request) < 0) sbi_fail("loopback-get");
    request.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(fd, SIOCSIFFLAGS, &request) < 0) sbi_fail("loopback-set");
    close(fd);
}

// ---- PID 1: spawn commands for the host, reap everything ----

// The argv area, so PID 1 can blank it once set up: `ps` inside shows no host path.
static char *sbi_argv_start;
static size_t sbi_argv_length;

static void sbi_hide_arguments(void) {
    if (sbi_argv_start == NULL || sbi_argv_length < 2) return;
    memset(sbi_argv_start, 0, sbi_argv_length);
    strncpy(sbi_argv_start, "sandbox-init", sbi_argv_length - 1);
}

struct sbi_tracked {
    pid_t pid;
    uint32_t id;
};
static struct sbi_tracked sbi_table[SBI_MAX_TRACKED];
static int sbi_tracked_count;

// Capabilities a command keeps, as Docker's default set; the rest leave the bounding set.
static int sbi_keep_capability(int cap) {
    switch (cap) {
    case CAP_CHOWN: case CAP_DAC_OVERRIDE: case CAP_FSETID: case CAP_FOWNER: case CAP_MKNOD:
    case CAP_NET_RAW: case CAP_SETGID: case CAP_SETUID: case CAP_SETFCAP: case CAP_SETPCAP:
    case CAP_NET_BIND_SERVICE: case CAP_SYS_CHROOT: case CAP_KILL: case CAP_AUDIT_WRITE:
        return 1;
    default:
        return 0;
    }
}

// What a command's child needs, on PID 1's stack (PID 1 is suspended until the child execs).
struct sbi_exec_request {
    // tty_fd >= 0: a terminal's slave, made stdin, stdout, stderr and the controlling terminal
    // of the command's new session (out_fd and err_fd unused); else /dev/null, out_fd, err_fd.
    int error_fd, out_fd, err_fd, tty_fd;
    const int *cgroup_fds;
    int cgroup_count;
    uid_t uid;
    gid_t gid;
    const char *cwd, *command;
    char *const *envp;
};

// dup2 as a raw call (dup3, which every architecture has, refuses equal descriptors).
static long sbi_dup_to(long fd, int target) {
    return fd == target ? 0 : syscall(SYS_dup3, fd, target, 0);
}

// Runs in the command's child, before exec. The child shares PID 1's memory (CLONE_VM |
// CLONE_VFORK, as posix_spawn does: no page tables copied and torn down per command), so it
// uses raw system calls only, touches nothing of PID 1's but its own stack, and never returns.
// On failure writes (errno, stage index) to `error_fd` and exits 127.
static int sbi_exec_child(void *argument) {
    const struct sbi_exec_request *r = argument;
    int stage = 0;
    // syscall(2) rather than glibc's wrappers, which keep per-process state (set*id's broadcast
    // to threads); `errno` is PID 1's, which is suspended and reads it only after a failed clone.
#define SBI_SYS(...) (syscall(__VA_ARGS__) < 0)
    uint64_t none = 0;
    if (SBI_SYS(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof none)) goto fail;
    if (SBI_SYS(SYS_setsid)) goto fail;
    stage = 1;
    for (int i = 0; i < r->cgroup_count; i++) {
        if (SBI_SYS(SYS_write, r->cgroup_fds[i], "0", 1)) goto fail;
        syscall(SYS_close, r->cgroup_fds[i]);
    }
    stage = 2;
    if (r->tty_fd >= 0) {
        // The session made by setsid above takes the terminal as its controlling one, so the
        // line discipline's signals (^C, ^Z) reach its foreground group, and its exit hangs up.
        if (sbi_dup_to(r->tty_fd, 0) < 0 || sbi_dup_to(r->tty_fd, 1) < 0 || sbi_dup_to(r->tty_fd, 2) < 0) goto fail;
        if (SBI_SYS(SYS_ioctl, 0, TIOCSCTTY, 0)) goto fail;
    } else {
        long null_fd = syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd < 0) goto fail;
        if (sbi_dup_to(null_fd, 0) < 0 || sbi_dup_to(r->out_fd, 1) < 0 || sbi_dup_to(r->err_fd, 2) < 0) goto fail;
    }
    stage = 3;
    if (SBI_SYS(SYS_setgroups, 0, NULL) || SBI_SYS(SYS_setresgid, r->gid, r->gid, r->gid) ||
        SBI_SYS(SYS_setresuid, r->uid, r->uid, r->uid)) goto fail;
    stage = 4;
    if (SBI_SYS(SYS_chdir, r->cwd)) goto fail;
    stage = 5;
    for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
        if (!sbi_keep_capability(cap) && SBI_SYS(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EINVAL) goto fail;
    }
    stage = 6;
    if (SBI_SYS(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) goto fail;
    stage = 7;
    char *const argv[] = {"sh", "-c", (char *)r->command, NULL};
    SBI_SYS(SYS_execve, "/bin/sh", argv, r->envp);
#undef SBI_SYS
fail:;
    int report[2] = {errno, stage};
    syscall(SYS_write, r->error_fd, report, sizeof report);
    syscall(SYS_exit_group, 127);
    return 127;
}

// The stack a command's child runs on until it execs (one at a time: PID 1 waits for each).
static char sbi_exec_stack[64 * 1024] __attribute__((aligned(16)));

// The payload's NUL-terminated strings into `strings` (at most `max` - 1, NULL after the last);
// answers how many. A tail without a NUL is dropped.
static int sbi_split_payload(char *payload, size_t payload_length, char **strings, int max) {
    int count = 0;
    size_t offset = 0;
    while (offset < payload_length && count < max - 1) {
        char *start = payload + offset;
        size_t length = strnlen(start, payload_length - offset);
        if (offset + length >= payload_length) break;  // not NUL-terminated: drop the tail
        strings[count++] = start;
        offset += length + 1;
    }
    strings[count] = NULL;
    return count;
}

// Starts `request` in a child and tracks it under the header's id: its pid, or -1 once
// SPAWN_FAILED (with the stage) has been sent.
static pid_t sbi_start(const struct csb_header *header, struct sbi_exec_request *request) {
    static const char *const stages[] = {"setsid", "cgroup", "stdio", "ids", "chdir", "capabilities", "no-new-privs", "exec"};
    int error_pipe[2];
    if (pipe2(error_pipe, O_CLOEXEC) < 0) {
        sbi_send(CSB_MSG_SPAWN_FAILED, header->id, errno, "pipe");
        return -1;
    }
    request->error_fd = error_pipe[1];
    // Returns once the child has exec'd or exited; its error pipe end closes on exec.
    pid_t pid = clone(sbi_exec_child, sbi_exec_stack + sizeof sbi_exec_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, request);
    if (pid < 0) {
        sbi_send(CSB_MSG_SPAWN_FAILED, header->id, errno, "fork");
        close(error_pipe[0]);
        close(error_pipe[1]);
        return -1;
    }
    close(error_pipe[1]);
    int report[2];
    ssize_t n;
    while ((n = read(error_pipe[0], report, sizeof report)) < 0 && errno == EINTR) {}
    close(error_pipe[0]);
    if (n == (ssize_t)sizeof report) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        int stage = report[1] >= 0 && report[1] < 8 ? report[1] : 7;
        sbi_send(CSB_MSG_SPAWN_FAILED, header->id, report[0], stages[stage]);
        return -1;
    }
    sbi_table[sbi_tracked_count++] = (struct sbi_tracked){pid, header->id};
    return pid;
}

static void sbi_spawn(const struct csb_header *header, char *payload, size_t payload_length, int *fds, int fd_count) {
    char *strings[1024];
    int count = sbi_split_payload(payload, payload_length, strings, 1024);
    if (count < 2 || fd_count < 2 || sbi_tracked_count >= SBI_MAX_TRACKED) {
        sbi_send(CSB_MSG_SPAWN_FAILED, header->id, EINVAL, "request");
    } else {
        struct sbi_exec_request request = {
            .error_fd = -1, .out_fd = fds[0], .err_fd = fds[1], .tty_fd = -1, .cgroup_fds = fds + 2,
            .cgroup_count = fd_count - 2, .uid = (uid_t)header->value, .gid = (gid_t)header->value2,
            .cwd = strings[0], .command = strings[1], .envp = strings + 2,
        };
        pid_t pid = sbi_start(header, &request);
        if (pid > 0) sbi_send(CSB_MSG_SPAWNED, header->id, pid, NULL);
    }
    for (int i = 0; i < fd_count; i++) close(fds[i]);
}

// The root of the sandbox's own devpts instance (/dev/pts, mounted `newinstance` by the plan),
// opened once before any tenant code runs: terminals are made there, never through a path the
// sandbox could change.
static int sbi_pts_fd = -1;

// A command on a new pseudo-terminal: PID 1 makes the pair (master unlocked, the window's size
// set), the child takes the slave as its controlling terminal, and the master goes to the host
// with PTY_SPAWNED. `tty` inside names /dev/pts/N of the sandbox's devpts.
static void sbi_spawn_pty(const struct csb_header *header, char *payload, size_t payload_length, int *fds, int fd_count) {
    char *strings[1024];
    int count = sbi_split_payload(payload, payload_length, strings, 1024);
    unsigned cols = 0, rows = 0;
    int master = -1, slave = -1;
    if (count < 3 || sbi_tracked_count >= SBI_MAX_TRACKED || sscanf(strings[0], "%u %u", &cols, &rows) != 2 ||
        cols == 0 || rows == 0 || cols > 0xffff || rows > 0xffff) {
        sbi_send(CSB_MSG_SPAWN_FAILED, header->id, EINVAL, "request");
        goto done;
    }
    master = openat(sbi_pts_fd, "ptmx", O_RDWR | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
    if (master < 0) {
        sbi_send(CSB_MSG_SPAWN_FAILED, header->id, errno, "ptmx");
        goto done;
    }
    int unlock = 0;
    struct winsize size = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCSWINSZ, &size) < 0) {
        sbi_send(CSB_MSG_SPAWN_FAILED, header->id, errno, "pty-setup");
        goto done;
    }
    // TIOCGPTPEER (Linux 4.13) opens the slave without a lookup; else its number beneath the fd.
    slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) {
        unsigned index = 0;
        char name[16];
        if (ioctl(master, TIOCGPTN, &index) == 0) {
            snprintf(name, sizeof name, "%u", index);
            slave = openat(sbi_pts_fd, name, O_RDWR | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
        }
    }
    if (slave < 0) {
        sbi_send(CSB_MSG_SPAWN_FAILED, header->id, errno, "pty-open");
        goto done;
    }
    // The terminal belongs to the user it runs as, group tty (5), as login(1) leaves it.
    if (fchown(slave, (uid_t)header->value, 5) < 0) {
        // Best effort: the command holds the terminal open already.
    }
    struct sbi_exec_request request = {
        .error_fd = -1, .out_fd = -1, .err_fd = -1, .tty_fd = slave, .cgroup_fds = fds, .cgroup_count = fd_count,
        .uid = (uid_t)header->value, .gid = (gid_t)header->value2, .cwd = strings[1], .command = strings[2],
        .envp = strings + 3,
    };
    pid_t pid = sbi_start(header, &request);
    if (pid > 0) sbi_send_fd_id(CSB_MSG_PTY_SPAWNED, header->id, pid, master);
done:
    if (slave >= 0) close(slave);
    if (master >= 0) close(master);
    for (int i = 0; i < fd_count; i++) close(fds[i]);
}

static void sbi_reap(void) {
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) return;
        for (int i = 0; i < sbi_tracked_count; i++) {
            if (sbi_table[i].pid != pid) continue;
            sbi_send(CSB_MSG_EXITED, sbi_table[i].id, status, NULL);
            sbi_table[i] = sbi_table[--sbi_tracked_count];
            break;
        }
    }
}

static void sbi_serve(void) {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (signal_fd < 0) sbi_fail("signalfd");
    sbi_trace("ready");
    sbi_send(CSB_MSG_READY, 0, 0, NULL);

    static char buffer[CSB_MAX_MESSAGE];
    for (;;) {
        struct pollfd polls[2] = {{CSB_CONTROL_FD, POLLIN, 0}, {signal_fd, POLLIN, 0}};
        if (poll(polls, 2, -1) < 0) {
            if (errno == EINTR) continue;
            _exit(1);
        }
        if (polls[1].revents & POLLIN) {
            struct signalfd_siginfo info;
            while (read(signal_fd, &info, sizeof info) > 0) {}
            sbi_reap();
        }
        if (polls[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            char control[CMSG_SPACE(sizeof(int) * SBI_MAX_FDS)];
            struct iovec iov = {buffer, sizeof buffer};
            struct msghdr message = {0};
            message.msg_iov = &iov;
            message.msg_iovlen = 1;
            message.msg_control = control;
            message.msg_controllen = sizeof control;
            ssize_t n = recvmsg(CSB_CONTROL_FD, &message, MSG_CMSG_CLOEXEC);
            if (n < 0 && errno == EINTR) continue;
            // The host is gone: PID 1 exits and the kernel ends every process of the sandbox.
            if (n <= 0) _exit(0);
            int fds[SBI_MAX_FDS];
            int fd_count = 0;
            for (struct cmsghdr *c = CMSG_FIRSTHDR(&message); c != NULL; c = CMSG_NXTHDR(&message, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
                int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
                for (int i = 0; i < count && fd_count < SBI_MAX_FDS; i++) memcpy(&fds[fd_count++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            }
            struct csb_header header;
            if ((size_t)n < sizeof header || (message.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
                for (int i = 0; i < fd_count; i++) close(fds[i]);
                continue;
            }
            memcpy(&header, buffer, sizeof header);
            if (header.type == CSB_MSG_SPAWN) {
                sbi_spawn(&header, buffer + sizeof header, (size_t)n - sizeof header, fds, fd_count);
            } else if (header.type == CSB_MSG_SPAWN_PTY) {
                sbi_spawn_pty(&header, buffer + sizeof header, (size_t)n - sizeof header, fds, fd_count);
            } else {
                for (int i = 0; i < fd_count; i++) close(fds[i]);
            }
        }
    }
}

static int sbi_child(void *argument) {
    const struct sbi_config *config = argument;
    // If the outer dies, so do we (and with PID 1, the whole sandbox).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    sbi_trace("child");
    int userns_fd = sbi_run_plan(config);
    if (sethostname(config->hostname, strlen(config->hostname)) < 0) sbi_fail("hostname");
    sbi_trace("pivot");
    sbi_loopback_up();
    sbi_trace("loopback");
    // Still host root, before any tenant code: the devpts terminals are made in (see sbi_spawn_pty).
    // A sandbox without it runs, and only its terminals fail.
    sbi_pts_fd = open("/dev/pts", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    sbi_hide_arguments();

    // Last: give up host root for the user namespace made above, whose root is host uid
    // `uid_base`; the holder may go. No supplementary groups.
    if (setns(userns_fd, CLONE_NEWUSER) < 0) sbi_fail("setns-user");
    close(userns_fd);
    close(sbi_holder_pipe[1]);
    if (setgroups(0, NULL) < 0) sbi_fail("setgroups");
    if (setresgid(0, 0, 0) < 0) sbi_fail("setresgid");
    if (setresuid(0, 0, 0) < 0) sbi_fail("setresuid");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) sbi_fail("no-new-privs");
    // Last of all, the system-call filter: PID 1 and every command it starts run under it.
    if (sbi_install_seccomp() < 0) sbi_fail("seccomp");
    sbi_serve();
    return 0;
}

static unsigned long long sbi_number(const char *text, const char *name) {
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0') {
        fprintf(stderr, "sandbox-init: invalid %s: %s\n", name, text);
        exit(2);
    }
    return value;
}

int main(int argc, char **argv) {
    struct sbi_config config = {0};
    sbi_argv_start = argv[0];
    sbi_argv_length = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) + 1 - argv[0]);
    config.hostname = "sandbox";
    config.id_count = 65536;
    config.tmp_size = 1ULL << 30;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *key = argv[i], *value = argv[i + 1];
        if (strcmp(key, "--sandbox-dir") == 0) config.sandbox_dir = value;
        else if (strcmp(key, "--lower-root") == 0) config.lower_root = value;
        else if (strcmp(key, "--usr-lower") == 0) config.usr_lower = value;
        else if (strcmp(key, "--workspace") == 0) config.workspace = value;
        else if (strcmp(key, "--hostname") == 0) config.hostname = value;
        else if (strcmp(key, "--netns") == 0) config.netns = value;
        else if (strcmp(key, "--resolv-conf") == 0) config.resolv_conf = value;
        else if (strcmp(key, "--uid-base") == 0) config.uid_base = sbi_number(value, key);
        else if (strcmp(key, "--id-count") == 0) config.id_count = sbi_number(value, key);
        else if (strcmp(key, "--tmp-size") == 0) config.tmp_size = sbi_number(value, key);
        else if (strcmp(key, "--cgroup") == 0 && config.cgroup_count < SBI_MAX_CGROUPS) config.cgroups[config.cgroup_count++] = value;
        else {
            fprintf(stderr, "sandbox-init: unknown argument %s\n", key);
            return 2;
        }
    }
    if (!config.sandbox_dir || !config.lower_root || !config.workspace || config.uid_base == 0) {
        fprintf(stderr, "usage: sandbox-init --sandbox-dir DIR --lower-root DIR [--usr-lower DIR] --workspace DIR --uid-base N\n"
                        "       [--id-count N] [--tmp-size BYTES] [--hostname NAME] [--cgroup JOIN-FILE]...\n"
                        "       [--netns NSFS-FILE] [--resolv-conf FILE]\n"
                        "(run by sandbox-host with its control socket as fd 3)\n");
        return 2;
    }
    if (fcntl(CSB_CONTROL_FD, F_SETFD, FD_CLOEXEC) < 0) {
        fprintf(stderr, "sandbox-init: fd 3 must be the host's control socket\n");
        return 2;
    }

    sbi_tracing = getenv("SANDBOX_INIT_TRACE") != NULL;
    sbi_trace("start");
    // Join the sandbox's cgroups first, so PID 1 and everything under it is born inside them.
    // Each --cgroup is the file to write 0 into (v1 `tasks`, v2 `cgroup.procs`: see CgroupManager);
    // this process has one thread, so moving the caller moves all of it.
    for (int i = 0; i < config.cgroup_count; i++) {
        if (sbi_write_file(config.cgroups[i], "0") < 0) sbi_fail("join-cgroup");
    }

    const size_t stack_size = 1 << 20;
    char *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) sbi_fail("stack");
    int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP | SIGCHLD;
    // --netns: the host prepared this sandbox's network namespace (its link, address and routes).
    // Joined here, while still host root and before the clone, so the child is born in it; it
    // stays owned by the host's user namespace, so the sandbox's root can use it but never
    // change its addresses, routes or links (no CAP_NET_ADMIN over it).
    if (config.netns != NULL) {
        int netns_fd = open(config.netns, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (netns_fd < 0 || setns(netns_fd, CLONE_NEWNET) < 0) sbi_fail("join-netns");
        close(netns_fd);
        flags &= ~CLONE_NEWNET;
    }
    sbi_trace("cgroups");
    // A pidfd of PID 1 goes to the host with its pid: signals and setns through it reach this
    // process or fail, never another that reused the number once PID 1 is gone and reaped here.
    int pidfd = -1;
    pid_t child = clone(sbi_child, stack + stack_size, flags | CLONE_PIDFD, &config, &pidfd);
    if (child < 0) sbi_fail("clone");
    sbi_trace("cloned");
    sbi_send_fd(CSB_MSG_INIT_PID, child, pidfd);
    close(pidfd);
    close(CSB_CONTROL_FD);

    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}
