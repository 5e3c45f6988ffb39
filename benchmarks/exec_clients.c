// Runs `execute` of `true` from several clients at once, each on its own keep-alive connection
// and thread, for a fixed time, and reports commands per second and the latency of each call.
// A C client, so the measurement is the host's throughput: on this 2-core machine a Python client
// (threads under one interpreter lock) used a third of a core per command itself.
//
// Usage: exec_clients PORT API_KEY SECONDS SANDBOX_ID...   (one client per sandbox id)
// Prints one line: commands=<n> seconds=<s> per_second=<n/s> p50=<ms> p99=<ms> failed=<n>
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES 1000000

typedef struct {
    int port;
    const char *key, *sandbox;
    double deadline;
    double *latencies;
    size_t samples;
    int failed;
} client_t;

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// Reads one HTTP response (headers, then Content-Length bytes); answers its status or -1.
static int read_response(int fd, char *buffer, size_t size) {
    size_t used = 0;
    char *end = NULL;
    while (!(end = memmem(buffer, used, "\r\n\r\n", 4))) {
        ssize_t n = read(fd, buffer + used, size - used);
        if (n <= 0) return -1;
        used += n;
    }
    int status = atoi(buffer + 9);
    char *length = strcasestr(buffer, "\r\ncontent-length:");
    if (!length || length > end) return -1;
    size_t body = strtoul(length + 17, NULL, 10), have = used - (end + 4 - buffer);
    while (have < body) {
        ssize_t n = read(fd, buffer, size);
        if (n <= 0) return -1;
        have += n;
    }
    return status;
}

static void *run_client(void *argument) {
    client_t *client = argument;
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons(client->port) };
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) { perror("connect"); exit(1); }
    const char *body = "{\"command\":\"true\"}";
    char request[1024], buffer[65536];
    int length = snprintf(request, sizeof request,
        "POST /api/sandboxes/%s/execute HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer %s\r\n"
        "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
        client->sandbox, client->key, strlen(body), body);
    while (now_ms() < client->deadline && client->samples < MAX_SAMPLES) {
        double start = now_ms();
        if (write(fd, request, length) != length) { perror("write"); exit(1); }
        int status = read_response(fd, buffer, sizeof buffer);
        if (status < 0) { fprintf(stderr, "connection lost\n"); exit(1); }
        if (status != 200) client->failed++;
        client->latencies[client->samples++] = now_ms() - start;
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: %s PORT KEY SECONDS SANDBOX...\n", argv[0]); return 2; }
    int count = argc - 4;
    double seconds = atof(argv[3]), start = now_ms();
    client_t *clients = calloc(count, sizeof(client_t));
    pthread_t *threads = calloc(count, sizeof(pthread_t));
    for (int i = 0; i < count; i++) {
        clients[i] = (client_t){ .port = atoi(argv[1]), .key = argv[2], .sandbox = argv[4 + i],
                                 .deadline = start + seconds * 1e3, .latencies = malloc(MAX_SAMPLES * sizeof(double)) };
        pthread_create(&threads[i], NULL, run_client, &clients[i]);
    }
    size_t total = 0;
    int failed = 0;
    for (int i = 0; i < count; i++) {
        pthread_join(threads[i], NULL);
        total += clients[i].samples;
        failed += clients[i].failed;
    }
    double elapsed = (now_ms() - start) / 1e3;
    double *all = malloc((total + 1) * sizeof(double));
    size_t at = 0;
    for (int i = 0; i < count; i++) {
        memcpy(all + at, clients[i].latencies, clients[i].samples * sizeof(double));
        at += clients[i].samples;
    }
    qsort(all, total, sizeof(double), compare);
    printf("commands=%zu seconds=%.2f per_second=%.0f p50=%.2f p99=%.2f failed=%d\n", total, elapsed,
           total / elapsed, total ? all[total / 2] : 0, total ? all[(size_t)(total * 0.99)] : 0, failed);
    return 0;
}
