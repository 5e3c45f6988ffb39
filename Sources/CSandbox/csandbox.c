#define _GNU_SOURCE
#include "csandbox.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

// The child does nothing: creating it is the test. It shares the parent's memory (CLONE_VM)
// and the parent sleeps until it exits (CLONE_VFORK), so the probe costs no page-table copy
// however large the host is, unlike fork().
static int csb_probe_child(void *arg) {
    (void)arg;
    return 0;
}

int csb_probe_clone(int flags) {
    const size_t stack_size = 64 * 1024;
    char *stack = malloc(stack_size);
    if (stack == NULL) return ENOMEM;
    pid_t pid = clone(csb_probe_child, stack + stack_size, flags | CLONE_VM | CLONE_VFORK | SIGCHLD, NULL);
    int saved = errno;
    if (pid < 0) {
        free(stack);
        return saved;
    }
    int status = 0;
    while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR) {}
    free(stack);
    return 0;
}

// prctl is variadic, which Swift cannot call; a thread's name shows in ps, top and /proc.
int csb_set_thread_name(const char *name) {
    return prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}
