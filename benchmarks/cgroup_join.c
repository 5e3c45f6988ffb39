// How long a process takes to join four fresh cgroup v1 groups (pids, cpu, freezer, memory) by
// writing "0" into `cgroup.procs` (the whole thread group: takes cgroup_threadgroup_rwsem for
// writing, which waits for an RCU grace period when the machine has been quiet) or into `tasks`
// (the calling thread only, which skips that lock). Runs apart by GAP ms, like sandbox starts.
//
// Usage (root, cgroup v1): cc -O2 -o /tmp/cgroup_join benchmarks/cgroup_join.c &&
//   /tmp/cgroup_join cgroup.procs 15 100 && /tmp/cgroup_join tasks 15 100
// Prints each run's join time in ms.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s cgroup.procs|tasks RUNS GAP_MS\n", argv[0]); return 2; }
    const char *file = argv[1], *controllers[] = {"pids", "cpu", "freezer", "memory"};
    int runs = atoi(argv[2]), gap = atoi(argv[3]);
    for (int run = 0; run < runs; run++) {
        usleep(gap * 1000);
        char path[512];
        for (int c = 0; c < 4; c++) {
            snprintf(path, sizeof path, "/sys/fs/cgroup/%s/cgroup-join-%d-%d", controllers[c], getpid(), run);
            if (mkdir(path, 0755) != 0) { perror(path); return 1; }
        }
        int report[2];
        if (pipe(report) != 0) return 1;
        pid_t parent = getpid(), child = fork();
        if (child == 0) {
            double start = now_ms();
            for (int c = 0; c < 4; c++) {
                snprintf(path, sizeof path, "/sys/fs/cgroup/%s/cgroup-join-%d-%d/%s", controllers[c], parent, run, file);
                int fd = open(path, O_WRONLY);
                if (fd < 0 || write(fd, "0", 1) != 1) { perror(path); _exit(1); }
                close(fd);
            }
            double took = now_ms() - start;
            (void)!write(report[1], &took, sizeof took);
            _exit(0);
        }
        double took = -1;
        (void)!read(report[0], &took, sizeof took);
        waitpid(child, NULL, 0);
        close(report[0]);
        close(report[1]);
        printf("%.2f ", took);
        for (int c = 0; c < 4; c++) {
            snprintf(path, sizeof path, "/sys/fs/cgroup/%s/cgroup-join-%d-%d", controllers[c], getpid(), run);
            rmdir(path);
        }
    }
    printf("\n");
    return 0;
}
