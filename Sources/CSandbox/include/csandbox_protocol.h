#ifndef CSANDBOX_PROTOCOL_H
#define CSANDBOX_PROTOCOL_H

#include <stdint.h>

// The wire protocol between the host and a sandbox's init (sandbox-init), over a
// SOCK_SEQPACKET socket that init inherits as fd 3. One message per packet: a header, then an
// optional payload of NUL-terminated strings; file descriptors travel as SCM_RIGHTS.

#define CSB_CONTROL_FD 3
#define CSB_MAX_MESSAGE (256 * 1024)

enum csb_message_type {
    CSB_MSG_INIT_PID = 1,      // outer -> host: value = host pid of the sandbox's PID 1; fd = a pidfd of it
    CSB_MSG_READY = 2,         // init -> host: setup done, accepting SPAWN
    CSB_MSG_SETUP_FAILED = 3,  // init or outer -> host: value = errno, payload = stage name
    CSB_MSG_SPAWN = 4,         // host -> init: id = command id, value = uid, value2 = gid;
                               //   payload = cwd, command, then KEY=VALUE env strings;
                               //   fds = stdout, stderr, then cgroup join files (tasks / cgroup.procs)
    CSB_MSG_SPAWNED = 5,       // init -> host: id, value = pid inside the sandbox
    CSB_MSG_SPAWN_FAILED = 6,  // init -> host: id, value = errno, payload = stage name
    CSB_MSG_EXITED = 7,        // init -> host: id, value = wait status
    CSB_MSG_SPAWN_PTY = 8,     // host -> init: as SPAWN, but on a new pseudo-terminal of the sandbox's
                               //   own devpts: payload = "COLS ROWS", cwd, command, then KEY=VALUE env
                               //   strings; fds = cgroup join files only. Answered SPAWN_FAILED, or
    CSB_MSG_PTY_SPAWNED = 9,   // init -> host: id, value = pid inside; fd = the terminal's master
                               //   (then EXITED as for SPAWN)
};

struct csb_header {
    uint32_t type;
    uint32_t id;
    int32_t value;
    int32_t value2;
};

#endif
