#ifndef CSANDBOX_MOUNT_PLAN_H
#define CSANDBOX_MOUNT_PLAN_H

#include <stddef.h>
#include <stdint.h>

// The mount plan: the ordered steps sandbox-init takes to build a sandbox's filesystem, as plain
// data. sandbox-init runs it top to bottom in one loop (sbi_run_plan, sandbox-init/main.c); the
// host's tests read the very same table without root (MountPlanTests). The idea is bubblewrap's
// list of setup operations and nsjail's list of mounts: each step says what it mounts, where and
// with which attributes, and reaches its target relative to an earlier step's mount (or the
// sandbox's directory), one name at a time, never by a host path.
//
// Ordering rules the table keeps (and MountPlanTests checks):
// - propagation is made private first: nothing mounted afterwards may reach the host;
// - the sandbox's directory is entered before any step without a parent (they are relative to it,
//   and so are the overlay layers, so the sandbox's mount table names no host path);
// - the user namespace exists before the idmapped trees that need it;
// - a step comes after the step it is beneath (the root before all in it, /dev before /dev/pts);
// - /proc's sysctl is written before its masks make /proc/sys read-only;
// - the root is pivoted into last.

/// What a step does. Sources are host trees named by `enum csb_step_source`, resolved by
/// sandbox-init from its arguments; the table holds no host path.
enum csb_step_kind {
    /// mount(NULL, "/", MS_REC | MS_PRIVATE) in the new mount namespace.
    CSB_STEP_PRIVATE_PROPAGATION = 1,
    /// chdir into --sandbox-dir: steps without a parent are relative to it from here on.
    CSB_STEP_ENTER_SANDBOX_DIR,
    /// A holder child's user namespace mapping 0 → --uid-base: idmaps the image trees, and PID 1
    /// enters it last. Its other failure stages: holder-pipe, holder-proc, id-maps, userns-open.
    CSB_STEP_USER_NAMESPACE,
    /// A read-only copy of `source`, idmapped into the user namespace (plain, where the
    /// filesystem cannot be idmapped: `attributes` without CSB_ATTR_IDMAP), over `target`.
    /// Its tree's failure stages: open-tree, mount-setattr.
    CSB_STEP_IDMAPPED_TREE,
    /// `target` made a directory (anything else there removed, never followed), owned by the
    /// sandbox's root when made, and marked trusted.overlay.opaque: it hides the lower layer's.
    CSB_STEP_OPAQUE_DIR,
    /// A new `fs_type` filesystem configured with `options` (a template: see
    /// csb_expand_mount_options), mounted with `attributes`, over `target`.
    CSB_STEP_NEW_FILESYSTEM,
    /// A copy of `source` (open_tree's clone) with `attributes`, over `target`.
    CSB_STEP_BIND,
    /// `value` written into the existing file `target`.
    CSB_STEP_WRITE_FILE,
    /// `target` made a symbolic link to `value` (a link's text, read inside the sandbox).
    CSB_STEP_SYMLINK,
    /// `attributes` set on the parent's mount.
    CSB_STEP_SET_ATTRIBUTES,
    /// The parent's mount becomes "/" and the host's tree is detached. Its other failure
    /// stages: chdir-root, detach-old-root, chdir-new-root.
    CSB_STEP_PIVOT_ROOT,
};

/// Where a mount's contents come from.
enum csb_step_source {
    CSB_SOURCE_NONE = 0,
    CSB_SOURCE_IMAGE_ROOT,   ///< --lower-root: the image's root filesystem (host-owned, shared)
    CSB_SOURCE_HOST_USR,     ///< --usr-lower: the host's /usr, for the default image
    CSB_SOURCE_WORKSPACE,    ///< --workspace: the project's directory
    CSB_SOURCE_HOST_DEVICE,  ///< the host's character device of the target's name, in /dev
    CSB_SOURCE_HOST_NULL,    ///< the host's /dev/null
    CSB_SOURCE_TARGET,       ///< the target's own mount (a copy over itself, to change attributes)
    CSB_SOURCE_RESOLV_CONF,  ///< --resolv-conf: the host-written file naming the sandbox's resolver
};

/// A missing target skips the step (not every kernel has every /proc file).
#define CSB_STEP_OPTIONAL 0x01u
/// A failure is ignored: hardening this kernel may refuse.
#define CSB_STEP_BEST_EFFORT 0x02u
/// The source's submounts come too (AT_RECURSIVE).
#define CSB_STEP_RECURSIVE 0x04u
/// The target is a file (made empty, exclusively, when `mode` is not 0), not a directory.
#define CSB_STEP_FILE 0x08u
/// Only when the image takes the host's /usr (--usr-lower given).
#define CSB_STEP_HOST_USR 0x10u
/// Only when the sandbox has a network of the host's (--resolv-conf given).
#define CSB_STEP_RESOLV_CONF 0x20u

// MOUNT_ATTR_* of <linux/mount.h>, here so Swift (which cannot include that header beside Glibc's
// <sys/mount.h>) can read the plan; mount_plan.c checks they are the kernel's values.
#define CSB_ATTR_RDONLY 0x00000001ull
#define CSB_ATTR_NOSUID 0x00000002ull
#define CSB_ATTR_NODEV 0x00000004ull
#define CSB_ATTR_NOEXEC 0x00000008ull
#define CSB_ATTR_IDMAP 0x00100000ull

/// The most steps a plan may have (sandbox-init keeps one descriptor per step).
#define CSB_MOUNT_PLAN_MAX 64

/// One step of the plan. Strings are static; NULL where a kind takes none.
struct csb_mount_step {
    /// Unique; later steps name it as their `parent`.
    const char *name;
    enum csb_step_kind kind;
    /// The earlier step whose mount `target` is beneath; NULL: the sandbox's directory.
    const char *parent;
    /// Relative to the parent, components separated by '/', never absolute, never "..";
    /// walked one name at a time without following a link.
    const char *target;
    enum csb_step_source source;
    /// CSB_STEP_NEW_FILESYSTEM: the filesystem's type.
    const char *fs_type;
    /// CSB_STEP_NEW_FILESYSTEM: "key=value,flag,…", with {uid}, {tty_gid} and {tmp_size}.
    const char *options;
    /// CSB_STEP_WRITE_FILE: the bytes written; CSB_STEP_SYMLINK: the link's text.
    const char *value;
    /// CSB_ATTR_* of the mount made (or set, for CSB_STEP_SET_ATTRIBUTES).
    uint64_t attributes;
    /// The target's mode when the step makes it; 0: it must exist.
    unsigned int mode;
    /// CSB_STEP_* flags.
    unsigned int flags;
    /// The stage reported with errno when the step fails (the host logs it).
    const char *stage;
    /// The stage reported when reaching or making the target fails; NULL: `stage`.
    const char *target_stage;
};

/// The plan, in order; sets *count to its length.
const struct csb_mount_step *csb_mount_plan(size_t *count);

/// The numbers a plan's options are filled in with.
struct csb_mount_values {
    /// The host uid (and gid) of the sandbox's root: {uid}; {tty_gid} is its group 5 ("tty").
    unsigned long uid_base;
    /// The size of /tmp in bytes: {tmp_size}.
    unsigned long long tmp_size;
};

/// Writes `options` with its placeholders filled in into `out`. 0, or -1 with errno EINVAL (an
/// unknown placeholder) or ENAMETOOLONG (`size` too small).
int csb_expand_mount_options(const char *options, const struct csb_mount_values *values, char *out, size_t size);

#endif
