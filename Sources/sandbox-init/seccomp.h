#ifndef SANDBOX_INIT_SECCOMP_H
#define SANDBOX_INIT_SECCOMP_H

// The system-call filter every process of a sandbox runs under (see seccomp.c).

// Builds the filter from its table and installs it on the calling thread; every child and
// every program it execs inherits it. Needs no_new_privs set. 0, or -1 with errno.
int sbi_install_seccomp(void);

#endif
