// Load generator and baseline server for Benchmarks/control-load.sh.
//
//   control_load load SOCKET PATH THREADS SECONDS   keep-alive GETs from THREADS connections
//   control_load seq SOCKET PATH COUNT              COUNT GETs one after another (latency of one request)
//   control_load serve SOCKET BODYFILE              baseline: answers every request with BODYFILE
//
// Prints "requests=N seconds=S rps=R p50_us=A p99_us=B".
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int dial(const char *path) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strncpy(a.sun_path, path, sizeof a.sun_path - 1);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { perror("connect"); exit(1); }
    return fd;
}

// One request and its whole response (headers + content-length body); 0 on success.
static int roundtrip(int fd, const char *req, size_t reqlen, char *buf, size_t cap) {
    if (write(fd, req, reqlen) != (ssize_t)reqlen) return -1;
    size_t have = 0;
    long need = -1;
    for (;;) {
        ssize_t n = read(fd, buf + have, cap - have - 1);
        if (n <= 0) return -1;
        have += n;
        buf[have] = 0;
        if (need < 0) {
            char *end = strstr(buf, "\r\n\r\n");
            if (!end) continue;
            char *cl = strcasestr(buf, "content-length:");
            if (!cl) return -1;
            need = (end + 4 - buf) + atol(cl + 15);
        }
        if ((long)have >= need) return strncmp(buf, "HTTP/1.1 200", 12) == 0 ? 0 : -1;
    }
}

typedef struct { const char *socket, *path; double until; long count; double *lat; long cap; int failed; } job;

static void *worker(void *p) {
    job *j = p;
    int fd = dial(j->socket);
    char req[512];
    int len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: slad\r\n\r\n", j->path);
    char *buf = malloc(1 << 22);
    while (now() < j->until) {
        double t0 = now();
        if (roundtrip(fd, req, len, buf, 1 << 22) != 0) { j->failed = 1; break; }
        if (j->count < j->cap) j->lat[j->count] = now() - t0;
        j->count++;
    }
    close(fd);
    free(buf);
    return NULL;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(double *lat, long n, long total, double seconds) {
    qsort(lat, n, sizeof *lat, cmp);
    printf("requests=%ld seconds=%.2f rps=%.0f p50_us=%.1f p99_us=%.1f\n", total, seconds, total / seconds,
           lat[n / 2] * 1e6, lat[(long)(n * 0.99)] * 1e6);
}

static void *serve_one(void *p) {
    long *args = p;
    int fd = (int)args[0];
    const char *resp = (const char *)args[1];
    size_t len = (size_t)args[2];
    char buf[8192];
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - have - 1);
        if (n <= 0) break;
        have += n;
        buf[have] = 0;
        char *end;
        while ((end = strstr(buf, "\r\n\r\n"))) {
            if (write(fd, resp, len) != (ssize_t)len) goto done;
            size_t used = end + 4 - buf;
            memmove(buf, buf + used, have - used);
            have -= used;
            buf[have] = 0;
        }
    }
done:
    close(fd);
    free(args);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc >= 4 && strcmp(argv[1], "serve") == 0) {
        FILE *f = fopen(argv[3], "rb");
        static char body[1 << 20];
        size_t blen = fread(body, 1, sizeof body, f);
        fclose(f);
        char *resp = malloc(blen + 256);
        int h = sprintf(resp, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %zu\r\n\r\n", blen);
        memcpy(resp + h, body, blen);
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        strncpy(a.sun_path, argv[2], sizeof a.sun_path - 1);
        unlink(argv[2]);
        if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 128)) { perror("bind"); return 1; }
        printf("ready\n");
        fflush(stdout);
        for (;;) {
            int c = accept(s, NULL, NULL);
            if (c < 0) continue;
            long *args = malloc(3 * sizeof(long));
            args[0] = c, args[1] = (long)resp, args[2] = (long)(h + blen);
            pthread_t t;
            pthread_create(&t, NULL, serve_one, args);
            pthread_detach(t);
        }
    }
    if (argc >= 6 && strcmp(argv[1], "load") == 0) {
        int threads = atoi(argv[4]);
        double seconds = atof(argv[5]);
        job *jobs = calloc(threads, sizeof *jobs);
        pthread_t *ts = calloc(threads, sizeof *ts);
        double start = now();
        for (int i = 0; i < threads; i++) {
            jobs[i] = (job){argv[2], argv[3], start + seconds, 0, malloc(sizeof(double) * 4000000), 4000000, 0};
            pthread_create(&ts[i], NULL, worker, &jobs[i]);
        }
        long total = 0, kept = 0;
        for (int i = 0; i < threads; i++) {
            pthread_join(ts[i], NULL);
            if (jobs[i].failed) { fprintf(stderr, "a request failed\n"); return 1; }
            total += jobs[i].count;
        }
        double elapsed = now() - start;
        double *all = malloc(sizeof(double) * total);
        for (int i = 0; i < threads; i++) {
            long n = jobs[i].count < jobs[i].cap ? jobs[i].count : jobs[i].cap;
            memcpy(all + kept, jobs[i].lat, n * sizeof(double));
            kept += n;
        }
        report(all, kept, total, elapsed);
        return 0;
    }
    if (argc >= 5 && strcmp(argv[1], "seq") == 0) {
        long count = atol(argv[4]);
        double *lat = malloc(sizeof(double) * count);
        char req[512];
        int len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: slad\r\n\r\n", argv[3]);
        char *buf = malloc(1 << 24);
        int fd = dial(argv[2]);
        double start = now();
        for (long i = 0; i < count; i++) {
            double t0 = now();
            if (roundtrip(fd, req, len, buf, 1 << 24) != 0) { fprintf(stderr, "request failed: %.200s\n", buf); return 1; }
            lat[i] = now() - t0;
        }
        report(lat, count, count, now() - start);
        return 0;
    }
    fprintf(stderr, "usage: see the top of control_load.c\n");
    return 64;
}
