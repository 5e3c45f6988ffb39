// The sandbox's mount plan (see csandbox_mount_plan.h): data only, no system call. It lives in
// CSandbox so the host's tests read the very table sandbox-init, which links CSandbox, executes.
#define _GNU_SOURCE
#include "csandbox_mount_plan.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>

_Static_assert(CSB_ATTR_RDONLY == MOUNT_ATTR_RDONLY, "MOUNT_ATTR_RDONLY");
_Static_assert(CSB_ATTR_NOSUID == MOUNT_ATTR_NOSUID, "MOUNT_ATTR_NOSUID");
_Static_assert(CSB_ATTR_NODEV == MOUNT_ATTR_NODEV, "MOUNT_ATTR_NODEV");
_Static_assert(CSB_ATTR_NOEXEC == MOUNT_ATTR_NOEXEC, "MOUNT_ATTR_NOEXEC");
_Static_assert(CSB_ATTR_IDMAP == MOUNT_ATTR_IDMAP, "MOUNT_ATTR_IDMAP");

#define RDONLY CSB_ATTR_RDONLY
#define NOSUID CSB_ATTR_NOSUID
#define NODEV CSB_ATTR_NODEV
#define NOEXEC CSB_ATTR_NOEXEC

// runc's masked /proc paths: files bound over with /dev/null, directories with an empty read-only
// tmpfs, and a few made read-only. /proc/cmdline too: the host's boot line is none of a tenant's
// business. Masks come after the sysctl write (/proc/sys becomes read-only).
#define MASK_FILE(file)                                                                               \
    {.name = "mask-" file, .kind = CSB_STEP_BIND, .parent = "proc", .target = file,                   \
     .source = CSB_SOURCE_HOST_NULL, .flags = CSB_STEP_FILE | CSB_STEP_OPTIONAL, .stage = "mask-file"}
#define MASK_DIR(dir)                                                                                 \
    {.name = "mask-" dir, .kind = CSB_STEP_NEW_FILESYSTEM, .parent = "proc", .target = dir,           \
     .fs_type = "tmpfs", .options = "size=4096", .attributes = RDONLY, .flags = CSB_STEP_OPTIONAL,     \
     .stage = "mask-dir"}
#define READ_ONLY(dir)                                                                                \
    {.name = "readonly-" dir, .kind = CSB_STEP_BIND, .parent = "proc", .target = dir,                 \
     .source = CSB_SOURCE_TARGET, .attributes = RDONLY | NOSUID | NODEV | NOEXEC,                      \
     .flags = CSB_STEP_RECURSIVE | CSB_STEP_OPTIONAL, .stage = "ro-proc"}
// One of the host's harmless character devices, bound over an empty file made in the new /dev.
#define DEVICE(device)                                                                                \
    {.name = "dev-" device, .kind = CSB_STEP_BIND, .parent = "dev", .target = device,                 \
     .source = CSB_SOURCE_HOST_DEVICE, .mode = 0666, .flags = CSB_STEP_FILE, .stage = "dev-bind",     \
     .target_stage = "dev-node"}
#define DEV_LINK(link, text)                                                                          \
    {.name = "dev-" link, .kind = CSB_STEP_SYMLINK, .parent = "dev", .target = link, .value = text,   \
     .stage = "dev-symlink"}

static const struct csb_mount_step csb_plan[] = {
    // Nothing mounted from here on may propagate back to the host.
    {.name = "private-propagation", .kind = CSB_STEP_PRIVATE_PROPAGATION, .stage = "mount-private"},
    {.name = "sandbox-dir", .kind = CSB_STEP_ENTER_SANDBOX_DIR, .stage = "chdir-sandbox"},
    {.name = "user-namespace", .kind = CSB_STEP_USER_NAMESPACE, .stage = "holder-clone"},

    // The root: the image, idmapped and read-only, under this sandbox's writable layer. The
    // layers are named relative to the sandbox's directory (the mount table shows them as given).
    {.name = "image-root", .kind = CSB_STEP_IDMAPPED_TREE, .target = "lower/root", .source = CSB_SOURCE_IMAGE_ROOT,
     .attributes = CSB_ATTR_IDMAP | RDONLY | NODEV | NOSUID, .stage = "move-mount"},
    {.name = "root", .kind = CSB_STEP_NEW_FILESYSTEM, .target = "root", .fs_type = "overlay",
     .options = "lowerdir=lower/root,upperdir=upper/root,workdir=work/root", .attributes = NODEV, .stage = "mount-root"},

    // The same for the host's /usr in the default image. The host's trees are never written.
    {.name = "host-usr", .kind = CSB_STEP_IDMAPPED_TREE, .target = "lower/usr", .source = CSB_SOURCE_HOST_USR,
     .attributes = CSB_ATTR_IDMAP | RDONLY | NODEV | NOSUID, .flags = CSB_STEP_HOST_USR, .stage = "move-mount"},
    // Its /usr/local is an empty directory of the sandbox's own, not the host's (which holds what
    // the host's administrator installed): an opaque directory in the upper layer, made by host
    // root before the overlay is mounted. upper/usr is the tenant's to fill: no link followed.
    {.name = "usr-local", .kind = CSB_STEP_OPAQUE_DIR, .target = "upper/usr/local", .mode = 0755,
     .flags = CSB_STEP_HOST_USR, .stage = "usr-local"},
    {.name = "usr", .kind = CSB_STEP_NEW_FILESYSTEM, .parent = "root", .target = "usr", .fs_type = "overlay",
     .options = "lowerdir=lower/usr,upperdir=upper/usr,workdir=work/usr", .attributes = NODEV, .mode = 0755,
     .flags = CSB_STEP_HOST_USR, .stage = "mount-usr"},

    // /workspace: the project's directory on the host; persists when the sandbox stops.
    {.name = "workspace", .kind = CSB_STEP_BIND, .parent = "root", .target = "workspace", .source = CSB_SOURCE_WORKSPACE,
     .attributes = NOSUID | NODEV, .mode = 0755, .flags = CSB_STEP_RECURSIVE, .stage = "bind-workspace"},

    // /etc/resolv.conf: the host's file naming the sandbox's resolver, read-only (with a network
    // of the host's only). An image without the file (or a tenant who removed it) goes without.
    {.name = "resolv-conf", .kind = CSB_STEP_BIND, .parent = "root", .target = "etc/resolv.conf",
     .source = CSB_SOURCE_RESOLV_CONF, .attributes = RDONLY | NOSUID | NODEV | NOEXEC,
     .flags = CSB_STEP_FILE | CSB_STEP_OPTIONAL | CSB_STEP_RESOLV_CONF, .stage = "bind-resolv-conf"},

    // /tmp: size-limited, owned by the sandbox's root.
    {.name = "tmp", .kind = CSB_STEP_NEW_FILESYSTEM, .parent = "root", .target = "tmp", .fs_type = "tmpfs",
     .options = "mode=1777,size={tmp_size},uid={uid},gid={uid}", .attributes = NOSUID | NODEV, .mode = 01777,
     .stage = "mount-tmp"},

    // /proc of the new PID namespace, then the per-netns sysctl, then the masks.
    {.name = "proc", .kind = CSB_STEP_NEW_FILESYSTEM, .parent = "root", .target = "proc", .fs_type = "proc",
     .options = "", .attributes = NOSUID | NODEV | NOEXEC, .mode = 0555, .stage = "mount-proc"},
    {.name = "unprivileged-ports", .kind = CSB_STEP_WRITE_FILE, .parent = "proc",
     .target = "sys/net/ipv4/ip_unprivileged_port_start", .value = "0", .flags = CSB_STEP_FILE,
     .stage = "unprivileged-ports"},
    MASK_FILE("cmdline"), MASK_FILE("kcore"), MASK_FILE("keys"), MASK_FILE("timer_list"), MASK_FILE("sched_debug"),
    MASK_FILE("latency_stats"), MASK_FILE("timer_stats"), MASK_FILE("sysrq-trigger"), MASK_FILE("interrupts"),
    MASK_DIR("acpi"), MASK_DIR("scsi"), MASK_DIR("asound"),
    READ_ONLY("sys"), READ_ONLY("irq"), READ_ONLY("bus"), READ_ONLY("fs"),

    // A minimal /dev: the host's harmless character devices bound in, a private devpts, shm, the
    // usual links; then read-only.
    {.name = "dev", .kind = CSB_STEP_NEW_FILESYSTEM, .parent = "root", .target = "dev", .fs_type = "tmpfs",
     .options = "mode=755,size=65536,uid={uid},gid={uid}", .attributes = NOSUID | NOEXEC, .mode = 0755,
     .stage = "mount-dev"},
    DEVICE("null"), DEVICE("zero"), DEVICE("full"), DEVICE("random"), DEVICE("urandom"), DEVICE("tty"),
    {.name = "dev-pts", .kind = CSB_STEP_NEW_FILESYSTEM, .parent = "dev", .target = "pts", .fs_type = "devpts",
     .options = "newinstance,ptmxmode=0666,mode=0620,gid={tty_gid}", .attributes = NOSUID | NOEXEC, .mode = 0755,
     .stage = "mount-devpts", .target_stage = "mkdir-pts"},
    {.name = "dev-shm", .kind = CSB_STEP_NEW_FILESYSTEM, .parent = "dev", .target = "shm", .fs_type = "tmpfs",
     .options = "mode=1777,size=67108864,uid={uid},gid={uid}", .attributes = NOSUID | NODEV, .mode = 01777,
     .stage = "mount-shm", .target_stage = "mkdir-shm"},
    DEV_LINK("ptmx", "pts/ptmx"), DEV_LINK("fd", "/proc/self/fd"), DEV_LINK("stdin", "/proc/self/fd/0"),
    DEV_LINK("stdout", "/proc/self/fd/1"), DEV_LINK("stderr", "/proc/self/fd/2"),
    {.name = "dev-readonly", .kind = CSB_STEP_SET_ATTRIBUTES, .parent = "dev", .attributes = RDONLY,
     .flags = CSB_STEP_BEST_EFFORT, .stage = "dev-readonly"},

    // Into the new root; the host's tree is detached and unreachable from here on.
    {.name = "pivot-root", .kind = CSB_STEP_PIVOT_ROOT, .parent = "root", .stage = "pivot-root"},
};

_Static_assert(sizeof csb_plan / sizeof csb_plan[0] <= CSB_MOUNT_PLAN_MAX, "CSB_MOUNT_PLAN_MAX");

const struct csb_mount_step *csb_mount_plan(size_t *count) {
    *count = sizeof csb_plan / sizeof csb_plan[0];
    return csb_plan;
}

int csb_expand_mount_options(const char *options, const struct csb_mount_values *values, char *out, size_t size) {
    size_t length = 0;
    for (const char *p = options; *p != '\0';) {
        char number[32];
        const char *piece = number;
        size_t piece_length;
        if (*p == '{') {
            const char *end = strchr(p, '}');
            size_t name_length = end == NULL ? 0 : (size_t)(end - p - 1);
            if (end != NULL && name_length == 3 && memcmp(p + 1, "uid", 3) == 0) {
                snprintf(number, sizeof number, "%lu", values->uid_base);
            } else if (end != NULL && name_length == 7 && memcmp(p + 1, "tty_gid", 7) == 0) {
                snprintf(number, sizeof number, "%lu", values->uid_base + 5);
            } else if (end != NULL && name_length == 8 && memcmp(p + 1, "tmp_size", 8) == 0) {
                snprintf(number, sizeof number, "%llu", values->tmp_size);
            } else {
                errno = EINVAL;
                return -1;
            }
            piece_length = strlen(number);
            p = end + 1;
        } else {
            piece = p;
            piece_length = strcspn(p, "{");
            p += piece_length;
        }
        if (length + piece_length >= size) {
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(out + length, piece, piece_length);
        length += piece_length;
    }
    if (size == 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    out[length] = '\0';
    return 0;
}
