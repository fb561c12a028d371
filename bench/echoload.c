/*
 * echoload.c -- load generator for the echo benchmark (bench/echo.sh).
 *
 * Usage: echoload --port P --conns N --size S --seconds D [--warmup W]
 *                 [--sync-fd K]
 *
 * Opens N TCP connections to 127.0.0.1:P and runs a ping-pong on each: send
 * one S-byte message, wait until all S bytes have come back, check every
 * byte, send the next.  Byte i of message m on connection c is
 * (c*131 + m*7 + i) & 0xff, so a byte echoed to the wrong connection, out
 * of order, twice or from a stale message shows up as a mismatch.  Any
 * mismatch, early close, surplus byte or socket error ends the run with
 * exit status 1 and a message on stderr.
 *
 * Phases: setup, which opens the connections one at a time (retrying for
 * up to 5 s while the server is not listening yet) and has each echo its
 * first message before the next is opened -- so a server with a small
 * listen backlog (Curio's README server listens with 5) never overflows it
 * and no connection sits out a 1 s SYN retransmit inside the window; W
 * seconds of warmup (default 0.5), all connections running; then D
 * measured seconds.
 * Only messages completed inside the measured window count.  With
 * --sync-fd K, "measure-start\n" and "measure-end\n" are written to fd K
 * when the window opens and closes, so a driver can sample the server's
 * CPU time for exactly that window.
 *
 * Prints one line:
 *     msgs=<count> seconds=<measured> rate=<msgs/s> p50_us=<x> p99_us=<y>
 * Latency is per message, from the first send to the last byte received,
 * in a histogram of 1 us buckets up to 1 s (a percentile is reported as its
 * bucket's midpoint).
 *
 * Single-threaded, level-triggered epoll: a connection always watches
 * EPOLLIN and adds EPOLLOUT only while part of a message is still unsent.
 */
#define _GNU_SOURCE             /* SOCK_CLOEXEC */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PATIENCE_S 5            /* for the listener, a connect, a 1st echo */
#define NS_PER_S 1000000000ull
#define HIST_BUCKETS 1000000u   /* 1 us each: up to 1 s */
#define MAX_EVENTS 256
#define RECV_CHUNK 65536

/* ------------------------------------------------------------ helpers */

static void die(const char *fmt, ...)
{
    va_list ap;
    fputs("echoload: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { .tv_sec = ms / 1000,
                           .tv_nsec = ms % 1000 * 1000000 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ------------------------------------------------------------ options */

struct options {
    int port;
    unsigned conns;
    size_t size;
    double seconds, warmup;
    int sync_fd;                /* -1: none */
};

static void usage(void)
{
    fprintf(stderr, "usage: echoload --port P --conns N --size S "
                    "--seconds D [--warmup W] [--sync-fd K]\n");
    exit(2);
}

static long parse_long(const char *name, const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "echoload: %s: want an integer in [%ld, %ld], got "
                        "'%s'\n", name, lo, hi, s);
        usage();
    }
    return v;
}

static double parse_seconds(const char *name, const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0 && v <= 3600)) {
        fprintf(stderr, "echoload: %s: want seconds in [0, 3600], got '%s'\n",
                name, s);
        usage();
    }
    return v;
}

static struct options parse_options(int argc, char **argv)
{
    struct options o = { .port = -1, .seconds = -1, .warmup = 0.5,
                         .sync_fd = -1 };
    for (int i = 1; i < argc; i += 2) {
        const char *name = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!val)
            usage();
        if (strcmp(name, "--port") == 0)
            o.port = (int)parse_long(name, val, 1, 65535);
        else if (strcmp(name, "--conns") == 0)
            o.conns = (unsigned)parse_long(name, val, 1, 100000);
        else if (strcmp(name, "--size") == 0)
            o.size = (size_t)parse_long(name, val, 1, 64 << 20);
        else if (strcmp(name, "--seconds") == 0)
            o.seconds = parse_seconds(name, val);
        else if (strcmp(name, "--warmup") == 0)
            o.warmup = parse_seconds(name, val);
        else if (strcmp(name, "--sync-fd") == 0)
            o.sync_fd = (int)parse_long(name, val, 0, INT_MAX);
        else
            usage();
    }
    if (o.port < 0 || o.conns == 0 || o.size == 0 || !(o.seconds > 0))
        usage();
    if (o.sync_fd >= 0 && fcntl(o.sync_fd, F_GETFD) < 0)
        die("--sync-fd %d: %s", o.sync_fd, strerror(errno));
    return o;
}

/* ------------------------------------------------------------ latency */

/* One counter per microsecond; memory is touched only where latencies
 * fall, so the 4 MB cost little. */
struct histogram {
    uint32_t *bucket;
    uint64_t overflow;          /* 1 s or more */
    uint64_t total;
};

static void hist_record(struct histogram *h, uint64_t ns)
{
    uint64_t us = ns / 1000;
    if (us < HIST_BUCKETS)
        h->bucket[us]++;
    else
        h->overflow++;
    h->total++;
}

/* Nearest rank: the smallest latency that at least q of the samples do not
 * exceed, as its bucket's midpoint in microseconds. */
static double hist_percentile(const struct histogram *h, double q)
{
    if (h->total == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->total + 0.999999);
    uint64_t seen = 0;
    if (rank == 0)
        rank = 1;
    for (uint32_t us = 0; us < HIST_BUCKETS; us++) {
        seen += h->bucket[us];
        if (seen >= rank)
            return us + 0.5;
    }
    return HIST_BUCKETS;
}

/* ------------------------------------------------------------ connections */

enum phase { SETUP, WARMUP, MEASURE, DONE };

struct conn {
    int fd;
    unsigned id;
    bool watching_out;          /* EPOLLOUT is registered */
    uint64_t msg;               /* the message in flight */
    size_t sent, got;           /* its progress */
    uint64_t start_ns;
};

struct load {
    struct options opt;
    int epfd;
    struct conn *conns;
    unsigned char *pattern;     /* pattern[k] = k & 0xff, 256 + size bytes */
    unsigned char *scratch;     /* recv buffer */
    enum phase phase;
    uint64_t phase_end_ns;
    uint64_t measure_start_ns, measure_end_ns;
    uint64_t msgs;              /* completed in the measured window */
    struct histogram hist;
};

/* Message m of connection c is a window into the 0,1,...,255,0,1... ramp:
 * no per-message buffer to fill, and memcmp checks it. */
static const unsigned char *expected(const struct load *L,
                                     const struct conn *c)
{
    unsigned base = (unsigned)((c->id * 131u + c->msg * 7u) & 0xffu);
    return L->pattern + base;
}

static void watch(struct load *L, struct conn *c, bool out)
{
    struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0),
                              .data.ptr = c };
    if (epoll_ctl(L->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
    c->watching_out = out;
}

/* One send per call: a short send means the socket buffer is full, and a
 * second try would only return EAGAIN, so wait for EPOLLOUT instead. */
static void send_some(struct load *L, struct conn *c)
{
    size_t left = L->opt.size - c->sent;
    ssize_t n = send(c->fd, expected(L, c) + c->sent, left, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        die("conn %u: send: %s", c->id, strerror(errno));
    if (n > 0)
        c->sent += (size_t)n;
    bool more = c->sent < L->opt.size;
    if (more != c->watching_out)
        watch(L, c, more);
}

static void start_message(struct load *L, struct conn *c, uint64_t now)
{
    c->sent = c->got = 0;
    c->start_ns = now;
    send_some(L, c);
}

static void report_mismatch(const struct load *L, const struct conn *c,
                            const unsigned char *got, size_t n)
{
    const unsigned char *want = expected(L, c) + c->got;
    size_t i = 0;
    while (i < n && got[i] == want[i])
        i++;
    die("conn %u, message %llu: byte %zu is 0x%02x, expected 0x%02x",
        c->id, (unsigned long long)c->msg, c->got + i, got[i], want[i]);
}

/* In setup a connection stops after its first message; afterwards the
 * next message goes out at once. */
static void message_done(struct load *L, struct conn *c)
{
    uint64_t now = now_ns();
    if (L->phase == MEASURE) {
        hist_record(&L->hist, now - c->start_ns);
        L->msgs++;
    }
    c->msg++;
    if (L->phase != SETUP)
        start_message(L, c, now);
}

/* One recv per readiness event: level-triggered epoll reports the socket
 * again if more is waiting. */
static void receive_some(struct load *L, struct conn *c)
{
    ssize_t n = recv(c->fd, L->scratch, RECV_CHUNK, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        die("conn %u: recv: %s", c->id, strerror(errno));
    }
    if (n == 0)
        die("conn %u: server closed the connection after %zu of %zu bytes "
            "of message %llu", c->id, c->got, L->opt.size,
            (unsigned long long)c->msg);
    if (c->got + (size_t)n > c->sent)
        die("conn %u, message %llu: %zu bytes echoed but only %zu sent",
            c->id, (unsigned long long)c->msg, c->got + (size_t)n, c->sent);
    if (memcmp(L->scratch, expected(L, c) + c->got, (size_t)n) != 0)
        report_mismatch(L, c, L->scratch, (size_t)n);
    c->got += (size_t)n;
    if (c->got == L->opt.size)
        message_done(L, c);
}

static void poll_once(struct load *L, int timeout_ms)
{
    struct epoll_event events[MAX_EVENTS];
    int n = epoll_wait(L->epfd, events, MAX_EVENTS, timeout_ms);
    if (n < 0 && errno != EINTR)
        die("epoll_wait: %s", strerror(errno));
    for (int i = 0; i < n; i++) {
        struct conn *c = events[i].data.ptr;
        if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
            receive_some(L, c);
        if ((events[i].events & EPOLLOUT) && c->watching_out)
            send_some(L, c);
    }
}

/* A blocking connect, retried while the server is not listening yet, and
 * bounded by SO_SNDTIMEO (a full backlog drops SYNs: connect would wait
 * through retransmits for minutes); then the socket goes non-blocking. */
static int connect_one(int port, uint64_t give_up_ns)
{
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    const struct timeval patience = { .tv_sec = PATIENCE_S };
    for (;;) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            die("socket: %s", strerror(errno));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &patience, sizeof patience);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
            /* One send per message already; this only makes sure a
             * remainder after a short send is not held back by Nagle. */
            const int on = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
            if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
                die("fcntl: %s", strerror(errno));
            return fd;
        }
        int err = errno;
        close(fd);
        if ((err != ECONNREFUSED && err != EINTR) || now_ns() > give_up_ns)
            die("connect to 127.0.0.1:%d: %s", port,
                err == EINPROGRESS ? "timed out" : strerror(err));
        sleep_ms(10);
    }
}

/* Connect c and run its first message to the end.  The other connections
 * are idle meanwhile, so only c's events come in. */
static void open_and_prime(struct load *L, struct conn *c, unsigned id,
                           uint64_t listen_give_up_ns)
{
    c->id = id;
    c->fd = connect_one(L->opt.port, listen_give_up_ns);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
    if (epoll_ctl(L->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
    uint64_t give_up = now_ns() + PATIENCE_S * NS_PER_S;
    start_message(L, c, now_ns());
    while (c->msg == 0) {
        if (now_ns() > give_up)
            die("conn %u: no echo of its first message within %d s", id,
                PATIENCE_S);
        poll_once(L, 100);
    }
}

/* ------------------------------------------------------------ phases */

static void sync_line(const struct load *L, const char *line)
{
    if (L->opt.sync_fd >= 0 && dprintf(L->opt.sync_fd, "%s\n", line) < 0)
        die("--sync-fd %d: %s", L->opt.sync_fd, strerror(errno));
}

static uint64_t seconds_ns(double s)
{
    return (uint64_t)(s * 1e9);
}

/* Called after every epoll_wait: messages completed from here on belong to
 * the new phase, and their timestamps are all later. */
static void advance_phase(struct load *L, uint64_t now)
{
    if (now < L->phase_end_ns)
        return;
    if (L->phase == WARMUP) {
        L->phase = MEASURE;
        L->measure_start_ns = now;
        L->phase_end_ns = now + seconds_ns(L->opt.seconds);
        sync_line(L, "measure-start");
    } else if (L->phase == MEASURE) {
        L->phase = DONE;
        L->measure_end_ns = now;
        sync_line(L, "measure-end");
    }
}

static int timeout_ms(const struct load *L, uint64_t now)
{
    if (now >= L->phase_end_ns)
        return 0;
    return (int)((L->phase_end_ns - now + 999999) / 1000000);
}

static void run(struct load *L)
{
    uint64_t listen_give_up = now_ns() + PATIENCE_S * NS_PER_S;
    L->phase = SETUP;
    for (unsigned i = 0; i < L->opt.conns; i++)
        open_and_prime(L, &L->conns[i], i, listen_give_up);

    uint64_t now = now_ns();
    L->phase = WARMUP;
    L->phase_end_ns = now + seconds_ns(L->opt.warmup);
    for (unsigned i = 0; i < L->opt.conns; i++)
        start_message(L, &L->conns[i], now);
    for (;;) {
        advance_phase(L, now);
        if (L->phase == DONE)
            break;
        poll_once(L, timeout_ms(L, now));
        now = now_ns();
    }
}

/* ------------------------------------------------------------ main */

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p)
        die("out of memory");
    return p;
}

int main(int argc, char **argv)
{
    struct load L = { .opt = parse_options(argc, argv) };
    signal(SIGPIPE, SIG_IGN);   /* a vanished driver is an error, not death */

    L.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (L.epfd < 0)
        die("epoll_create1: %s", strerror(errno));
    L.conns = xcalloc(L.opt.conns, sizeof *L.conns);
    L.pattern = xcalloc(256 + L.opt.size, 1);
    for (size_t k = 0; k < 256 + L.opt.size; k++)
        L.pattern[k] = (unsigned char)k;
    L.scratch = xcalloc(RECV_CHUNK, 1);
    L.hist.bucket = xcalloc(HIST_BUCKETS, sizeof *L.hist.bucket);

    run(&L);

    double secs = (double)(L.measure_end_ns - L.measure_start_ns) / 1e9;
    if (L.msgs == 0)
        die("no message completed in the measured window");
    printf("msgs=%llu seconds=%.3f rate=%.0f p50_us=%.1f p99_us=%.1f\n",
           (unsigned long long)L.msgs, secs, (double)L.msgs / secs,
           hist_percentile(&L.hist, 0.50), hist_percentile(&L.hist, 0.99));

    for (unsigned i = 0; i < L.opt.conns; i++)
        close(L.conns[i].fd);
    close(L.epfd);
    free(L.hist.bucket);
    free(L.scratch);
    free(L.pattern);
    free(L.conns);
    return 0;
}
