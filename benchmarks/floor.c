// The physical floors the sandbox benchmark compares against: what the kernel charges for
// starting a process, with and without the namespaces a sandbox uses. Prints one line per
// measurement: name, then the latencies in microseconds, space separated.
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int exec_true(void *arg) {
    (void)arg;
    char *argv[] = {"true", NULL};
    execve("/bin/true", argv, environ);
    _exit(127);
}

int main(int argc, char **argv) {
    int runs = argc > 1 ? atoi(argv[1]) : 200;
    // `floor N NAME command args…`: time a whole command, spawned N times.
    if (argc > 3) {
        printf("%s", argv[2]);
        for (int i = 0; i < runs; i++) {
            double start = now_us();
            pid_t pid;
            int status = 0;
            if (posix_spawnp(&pid, argv[3], NULL, NULL, argv + 3, environ) != 0) { perror("spawn"); return 1; }
            waitpid(pid, &status, 0);
            if (status != 0) { fprintf(stderr, "%s exited %d\n", argv[3], status); return 1; }
            printf(" %.1f", now_us() - start);
        }
        printf("\n");
        return 0;
    }
    char *true_argv[] = {"true", NULL};

    printf("fork+exec");
    for (int i = 0; i < runs; i++) {
        double start = now_us();
        pid_t pid = fork();
        if (pid == 0) { execve("/bin/true", true_argv, environ); _exit(127); }
        waitpid(pid, NULL, 0);
        printf(" %.1f", now_us() - start);
    }
    printf("\nposix_spawn");
    for (int i = 0; i < runs; i++) {
        double start = now_us();
        pid_t pid;
        posix_spawn(&pid, "/bin/true", NULL, NULL, true_argv, environ);
        waitpid(pid, NULL, 0);
        printf(" %.1f", now_us() - start);
    }
    printf("\nclone+namespaces+exec");
    static char stack[1 << 16] __attribute__((aligned(16)));
    int flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP | SIGCHLD;
    for (int i = 0; i < runs; i++) {
        double start = now_us();
        pid_t pid = clone(exec_true, stack + sizeof stack, flags, NULL);
        if (pid < 0) { perror("clone"); return 1; }
        waitpid(pid, NULL, 0);
        printf(" %.1f", now_us() - start);
    }
    printf("\n");
    return 0;
}
