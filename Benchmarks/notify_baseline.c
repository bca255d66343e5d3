// The baseline of Benchmarks/notify-latency.sh: for each deadline (Unix milliseconds, one per
// line of DEADLINES), wait until exactly that instant (clock_nanosleep on CLOCK_REALTIME to 5 ms
// before, then the clock read in a loop: a wake-up from a long sleep can take over a
// millisecond on a virtual machine), then send one native journal datagram and one HTTP/1.1 POST over a kept-alive
// connection to the benchmark's receiver: the least any notifier does after a deadline, on this
// machine at this moment.
//
//   notify_baseline DEADLINES PORT
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int connect_http(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { perror("connect"); exit(1); }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

// Reads one response (headers only: the receiver answers with an empty body).
static void read_response(int fd) {
    char buf[4096];
    size_t have = 0;
    while (have < sizeof buf) {
        ssize_t n = read(fd, buf + have, sizeof buf - have);
        if (n <= 0) { perror("read"); exit(1); }
        have += (size_t)n;
        if (memmem(buf, have, "\r\n\r\n", 4)) return;
    }
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: notify_baseline DEADLINES PORT\n"); return 64; }
    FILE *f = fopen(argv[1], "r");
    if (!f) { perror(argv[1]); return 1; }
    int journal = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un j = {.sun_family = AF_UNIX};
    strcpy(j.sun_path, "/run/systemd/journal/socket");
    int http = connect_http(atoi(argv[2]));
    long long due;
    for (int k = 0; fscanf(f, "%lld", &due) == 1; k++) {
        // A sleep to 5 ms before the deadline, then the clock read in a loop until it
        // passes: no wake-up latency at the deadline itself, the least a notifier can do.
        long long early = due - 5;
        struct timespec near = {.tv_sec = (time_t)(early / 1000), .tv_nsec = (long)(early % 1000) * 1000000};
        while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &near, NULL) != 0) {}
        struct timespec now;
        do { clock_gettime(CLOCK_REALTIME, &now); } while ((long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 < due);
        char entry[256];
        int n = snprintf(entry, sizeof entry, "MESSAGE=baseline\nSYSLOG_IDENTIFIER=baseline\nBASELINE_DUE=%lld\nBASELINE_ID=%d\n",
                         due, k);
        sendto(journal, entry, (size_t)n, 0, (struct sockaddr *)&j, sizeof j);
        char request[256];
        n = snprintf(request, sizeof request,
                     "POST /baseline HTTP/1.1\r\nHost: 127.0.0.1\r\nwebhook-id: %d\r\ncontent-length: 2\r\n\r\n{}", k);
        if (write(http, request, (size_t)n) != n) { perror("write"); return 1; }
        read_response(http);
    }
    return 0;
}
