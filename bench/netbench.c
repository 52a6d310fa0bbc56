/* netbench: the small, fast network programs bench/proxy.sh times with.
 * The same binary runs on the host (direct) and inside `corral run`
 * (through corral's proxy), so only the path differs.
 *
 *   netbench rr-server PORT
 *       On 127.0.0.1:PORT, one connection at a time: read an HTTP request
 *       (up to the blank line), answer RESPONSE below, close.
 *   netbench rr N PORT [PROXY_PORT HOST]
 *       N times: connect, ask, read the whole answer, close; prints each
 *       round trip in nanoseconds, one a line. With PROXY_PORT, connects
 *       to 127.0.0.1:PROXY_PORT and opens each connection with
 *       `CONNECT HOST:PORT` first (inside the timed round trip).
 *   netbench get PORT [PROXY_PORT HOST]
 *       One GET, reading the body into a 1 MiB buffer that is thrown
 *       away; prints "BYTES SECONDS" (connect to end of file). The client
 *       is not the bottleneck (curl reads 16 KiB at a time).
 *
 * Every address is 127.0.0.1. Build: cc -O2 -o netbench netbench.c */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char RESPONSE[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

static void die(const char *what) {
    perror(what);
    exit(1);
}

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct sockaddr_in loopback(int port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static void write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            die("write");
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Reads until the blank line that ends an HTTP head; returns the bytes
 * read (head and whatever followed it in the same reads). */
static size_t read_head(int fd, char *buf, size_t cap) {
    size_t len = 0;
    for (;;) {
        if (len == cap) { fprintf(stderr, "netbench: head too long\n"); exit(1); }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0) {
            if (errno == EINTR) continue;
            die("read");
        }
        if (r == 0) { fprintf(stderr, "netbench: connection closed before the end of the head\n"); exit(1); }
        len += (size_t)r;
        if (memmem(buf, len, "\r\n\r\n", 4)) return len;
    }
}

/* Connects to 127.0.0.1:port, or through the proxy with CONNECT. */
static int open_conn(int port, int proxy_port, const char *host) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = loopback(proxy_port ? proxy_port : port);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
    if (proxy_port) {
        char req[512], buf[4096];
        int n = snprintf(req, sizeof req, "CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n",
                         host, port, host, port);
        write_all(fd, req, (size_t)n);
        size_t got = read_head(fd, buf, sizeof buf);
        if (got < 12 || memcmp(buf + 9, "200", 3) != 0) {
            fprintf(stderr, "netbench: CONNECT refused: %.*s\n", (int)got, buf);
            exit(1);
        }
        char *end = memmem(buf, got, "\r\n\r\n", 4);
        if ((size_t)(end + 4 - buf) != got) {
            fprintf(stderr, "netbench: bytes after the CONNECT answer\n");
            exit(1);
        }
    }
    return fd;
}

static void send_get(int fd, int port, const char *host) {
    char req[512];
    int n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: netbench\r\n\r\n",
                     host, port);
    write_all(fd, req, (size_t)n);
}

static _Noreturn void rr_server(int port) {
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ls < 0) die("socket");
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = loopback(port);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
    if (listen(ls, 1024) < 0) die("listen");
    char buf[8192];
    for (;;) {
        int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            die("accept");
        }
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        size_t len = 0;
        for (;;) { /* a client that goes away early is not an error */
            ssize_t r = read(c, buf + len, sizeof buf - len);
            if (r <= 0) break;
            len += (size_t)r;
            if (memmem(buf, len, "\r\n\r\n", 4)) {
                (void)!write(c, RESPONSE, sizeof RESPONSE - 1);
                break;
            }
            if (len == sizeof buf) break;
        }
        close(c);
    }
}

static int rr_client(int n, int port, int proxy_port, const char *host) {
    char buf[4096];
    const size_t want = sizeof RESPONSE - 1;
    long long *samples = calloc((size_t)n, sizeof *samples);
    if (!samples) die("calloc");
    for (int i = 0; i < n; i++) {
        long long t0 = now_ns();
        int fd = open_conn(port, proxy_port, host);
        send_get(fd, port, host);
        size_t len = 0;
        while (len < want) {
            ssize_t r = read(fd, buf + len, sizeof buf - len);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) { fprintf(stderr, "netbench: short answer (%zu bytes)\n", len); exit(1); }
            len += (size_t)r;
        }
        if (len != want || memcmp(buf, RESPONSE, want) != 0) {
            fprintf(stderr, "netbench: unexpected answer\n");
            exit(1);
        }
        close(fd);
        samples[i] = now_ns() - t0;
    }
    for (int i = 0; i < n; i++) printf("%lld\n", samples[i]);
    return 0;
}

static int get(int port, int proxy_port, const char *host) {
    size_t cap = 1 << 20;
    char *buf = malloc(cap);
    if (!buf) die("malloc");
    long long t0 = now_ns();
    int fd = open_conn(port, proxy_port, host);
    send_get(fd, port, host);
    size_t head = read_head(fd, buf, 65536);
    char *end = memmem(buf, head, "\r\n\r\n", 4);
    unsigned long long body = head - (size_t)(end + 4 - buf);
    for (;;) {
        ssize_t r = read(fd, buf, cap);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) die("read");
        if (r == 0) break;
        body += (unsigned long long)r;
    }
    long long t1 = now_ns();
    close(fd);
    printf("%llu %.6f\n", body, (double)(t1 - t0) / 1e9);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "rr-server") == 0) rr_server(atoi(argv[2]));
    if (argc >= 4 && strcmp(argv[1], "rr") == 0)
        return rr_client(atoi(argv[2]), atoi(argv[3]), argc >= 6 ? atoi(argv[4]) : 0,
                         argc >= 6 ? argv[5] : "127.0.0.1");
    if (argc >= 3 && strcmp(argv[1], "get") == 0)
        return get(atoi(argv[2]), argc >= 5 ? atoi(argv[3]) : 0, argc >= 5 ? argv[4] : "127.0.0.1");
    fprintf(stderr, "usage: netbench rr-server PORT | rr N PORT [PROXY_PORT HOST] | get PORT [PROXY_PORT HOST]\n");
    return 2;
}
