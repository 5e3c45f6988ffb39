// Follows one agent run's event stream with N connections at once and reports how late each
// content event arrived: receive time minus the send time the fake provider wrote into it
// (CLOCK_MONOTONIC nanoseconds, same clock in every process). A C client, so the measurement is
// the host's fan-out, not the client's parsing (a Python client saturated its core first).
//
// Usage: sse_fanout PORT API_KEY RUN_ID CLIENTS
// Prints "ready" once every client has its first event, then at the end one line:
//   complete=<clients with every event in order, once> samples=<n> p50=<ms> p99=<ms> max=<ms>
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int fd;
    char buffer[65536];
    size_t used;
    long last_sequence;
    int broken, done, started;
} client_t;

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: %s PORT KEY RUN CLIENTS\n", argv[0]); return 2; }
    int port = atoi(argv[1]), count = atoi(argv[4]);
    client_t *clients = calloc(count, sizeof(client_t));
    size_t capacity = 1 << 20, samples = 0;
    double *latencies = malloc(capacity * sizeof(double));
    int epoll = epoll_create1(0);
    char request[1024];
    int length = snprintf(request, sizeof request,
        "GET /api/agent-run/%s/stream HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer %s\r\n\r\n", argv[3], argv[2]);
    for (int i = 0; i < count; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons(port) };
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
        if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) { perror("connect"); return 1; }
        if (write(fd, request, length) != length) { perror("write"); return 1; }
        clients[i].fd = fd;
        struct epoll_event event = { .events = EPOLLIN, .data.u32 = i };
        epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event);
    }
    int open = count, started = 0, announced = 0;
    struct epoll_event events[256];
    while (open > 0) {
        int ready = epoll_wait(epoll, events, 256, 120000);
        if (ready <= 0) { fprintf(stderr, "timed out with %d streams open\n", open); break; }
        for (int e = 0; e < ready; e++) {
            client_t *c = &clients[events[e].data.u32];
            ssize_t got = read(c->fd, c->buffer + c->used, sizeof c->buffer - c->used - 1);
            if (got <= 0) { if (!c->done) c->broken = 1; close(c->fd); c->fd = -1; open--; continue; }
            long long received = now_ns();
            c->used += (size_t)got;
            c->buffer[c->used] = 0;
            char *line = c->buffer, *end;
            while ((end = memchr(line, '\n', c->used - (size_t)(line - c->buffer))) != NULL) {
                *end = 0;
                if (strncmp(line, "data: {", 7) == 0 && !strstr(line, "\"type\":\"ping\"")) {
                    char *sequence = strstr(line, "\"sequence\":");
                    long value = sequence ? strtol(sequence + 11, NULL, 10) : -1;
                    if (value != c->last_sequence + 1) c->broken = 1;
                    c->last_sequence = value;
                    if (!c->started) { c->started = 1; started++; }
                    char *content = strstr(line, "{\"content\":\"");
                    if (content && samples < capacity) {
                        long long sent = atoll(content + 12);
                        latencies[samples++] = (double)(received - sent) / 1e6;
                    }
                    if (strstr(line, "\"type\":\"status\"") && !strstr(line, "\"running\"")) c->done = 1;
                }
                line = end + 1;
            }
            size_t rest = c->used - (size_t)(line - c->buffer);
            memmove(c->buffer, line, rest);
            c->used = rest;
            if (c->done) { close(c->fd); c->fd = -1; open--; }
        }
        if (!announced && started == count) { printf("ready\n"); fflush(stdout); announced = 1; }
    }
    int complete = 0;
    for (int i = 0; i < count; i++) complete += clients[i].done && !clients[i].broken;
    qsort(latencies, samples, sizeof(double), compare);
    printf("complete=%d samples=%zu p50=%.3f p99=%.3f max=%.3f\n", complete, samples,
           samples ? latencies[samples / 2] : 0, samples ? latencies[(size_t)(samples * 0.99)] : 0,
           samples ? latencies[samples - 1] : 0);
    return 0;
}
