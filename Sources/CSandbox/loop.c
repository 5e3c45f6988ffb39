#define _GNU_SOURCE
#include "csandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <unistd.h>

// Loop devices and mounts for the per-project disk images. Swift cannot see the ioctl numbers
// or struct loop_config, so the few calls live here. The host mounts nothing else: sandboxes'
// own mounts stay in sandbox-init.

int csb_loop_attach(int backing_fd, const char *name, char *device, size_t device_size) {
    int control = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
    if (control < 0) return -errno;
    // Another process may take the free device between GET_FREE and CONFIGURE (EBUSY): ask again,
    // a bounded number of times.
    for (int attempt = 0; attempt < 32; attempt++) {
        int number = ioctl(control, LOOP_CTL_GET_FREE);
        if (number < 0) {
            int code = errno;
            close(control);
            return -code;
        }
        snprintf(device, device_size, "/dev/loop%d", number);
        int fd = -1;
        // devtmpfs creates the node as the device appears; give it a moment if it lags.
        for (int wait = 0; wait < 100 && fd < 0; wait++) {
            fd = open(device, O_RDWR | O_CLOEXEC);
            if (fd < 0 && errno != ENOENT) break;
            if (fd < 0) usleep(1000);
        }
        if (fd < 0) {
            int code = errno;
            close(control);
            return -code;
        }
        struct loop_config config;
        memset(&config, 0, sizeof config);
        config.fd = (unsigned int)backing_fd;
        // AUTOCLEAR: the device detaches itself when its file system is unmounted and no one
        // holds it open, so a normal unmount leaves nothing behind. No DIRECT_IO: it would keep
        // the image's pages out of the host's cache (no double caching), but the mount then
        // reads its metadata from the disk, synchronously: 10-20 ms more per project creation,
        // measured on a fresh image whose pages mkfs just wrote.
        config.info.lo_flags = LO_FLAGS_AUTOCLEAR;
        if (name) strncpy((char *)config.info.lo_file_name, name, LO_NAME_SIZE - 1);
        int rc = ioctl(fd, LOOP_CONFIGURE, &config);
        if (rc == 0) {
            close(control);
            return fd;
        }
        int code = errno;
        close(fd);
        if (code != EBUSY) {
            close(control);
            return -code;
        }
    }
    close(control);
    return -EBUSY;
}

int csb_loop_detach(const char *device) {
    int fd = open(device, O_RDWR | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = ioctl(fd, LOOP_CLR_FD, 0);
    int code = errno;
    close(fd);
    return rc < 0 ? -code : 0;
}

int csb_mount_image(const char *device, const char *target, const char *options) {
    if (mount(device, target, "ext4", MS_NOSUID | MS_NODEV | MS_NOATIME, options) < 0) return -errno;
    return 0;
}

int csb_unmount(const char *target, int detach) {
    if (umount2(target, (detach ? MNT_DETACH : 0) | UMOUNT_NOFOLLOW) < 0) return -errno;
    return 0;
}

int csb_mount_clone(const char *source, const char *target) {
    // A detached copy of the mount at `source`, attached at `target`: works whatever the
    // propagation of `source`'s parent (MS_MOVE refuses a mount under a shared one).
    int tree = open_tree(AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (tree < 0) return -errno;
    int rc = move_mount(tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH);
    int code = errno;
    close(tree);
    return rc < 0 ? -code : 0;
}
