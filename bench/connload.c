/*
 * connload.c -- load generator for the connections benchmark
 * (bench/connections.sh): N clients connect in a burst, then stay.
 *
 * Usage: connload --port P --conns N --mode echo|chat [--in-flight K]
 *                 [--size S] [--seconds D] [--sync-fd K]
 *
 * Connect phase.  N non-blocking connects to 127.0.0.1:P, K (default 64)
 * in flight at a time: a connect is in flight until its socket is
 * writable with SO_ERROR 0, then it counts as connected and the next one
 * starts -- a crowd arriving at once, as fast as the kernel completes
 * handshakes, not one client's connect-and-wait loop.  The handshake is
 * the kernel's; what is under test is how fast the server accepts: a
 * connected client may still wait in the listen queue, and one that
 * finds it full is dropped and retries (the driver reads that from
 * ListenOverflows).  The connections come from 127.0.0.1 to 127.0.0.64,
 * round robin (see start_connect).  A connection is "echoing" when
 *   echo mode  the one S-byte message it sent on connecting came back,
 *              every byte checked;
 *   chat mode  the chat server's greeting line arrived ("* welcome...\n";
 *              the server runs with --quiet, so nothing else may come).
 *              The greeting must come once the client is in the room (as
 *              examples/chat.c does it): a line sent to the room after
 *              the greeting must reach it.
 * Failures end the run with exit status 1 and a message that names the
 * connection: a connect that fails (ECONNREFUSED, no local port left...)
 * or has not completed after 30 s (SYNs dropped by a full listen queue
 * are retransmitted after 1, 3, 7, 15 s), or a connection not echoing 60 s
 * after the first connect (one deadline for the whole phase, so a server
 * that cannot take N clients fails in bounded time).
 *
 * With --sync-fd K, once all N are echoing, "connected <seconds since the
 * first connect>\n" goes to fd K and connload waits for one line on stdin
 * (the driver sends "go") -- every connection idle meanwhile, so the
 * driver can read the server's memory for N idle clients.
 *
 * Message phase: 0.3 s of warm-up, then D measured seconds (default 1),
 * whose edges are written to the sync fd as "measure-start\n" and
 * "measure-end\n" (the driver samples the server's CPU time there).
 *   echo mode  every connection ping-pongs S-byte messages, as echoload
 *              does: byte i of message m on connection c is
 *              (c*131 + m*7 + i) & 0xff, so a misrouted, repeated or stale
 *              byte is a mismatch.  A message = one round trip.
 *   chat mode  rounds: in round r, client r % N sends the line
 *              "msg <r> <padding>\n" (S bytes in all, at least a few
 *              bytes of padding); the round ends when each of the other
 *              N-1 clients has received it, as "<sender>: msg <r> ...\n";
 *              then round r+1 starts.  A message = one delivery, N-1 per
 *              round.  Any other line is an error.
 * Only messages completed inside the measured window count; none at all
 * is an error, reported with the connection (or chat round) that stalled.
 *
 * Prints one line:
 *     conns=N connect_s=<s> msgs=<count> seconds=<window> rate=<msgs/s>
 * (connect_s: from the first connect until all N were echoing).
 *
 * Memory: per connection one small struct (and, in chat mode, a buffer
 * only while a line has arrived in part), so 20,000 connections cost
 * about a megabyte here and the server's share of the machine is what is
 * measured.  connload raises its descriptor limit (RLIMIT_NOFILE) to the
 * hard limit, and refuses to start when N + 16 descriptors would not fit.
 *
 * Single-threaded, level-triggered epoll, one recv or send per readiness
 * event (as echoload).
 */
#define _GNU_SOURCE             /* SOCK_NONBLOCK, SOCK_CLOEXEC */
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S 1000000000ull
#define CONNECT_PATIENCE_S 30   /* one connect, from its start */
#define ECHOING_PATIENCE_S 60   /* all N echoing, from the first connect */
#define SWEEP_NS (250 * 1000000ull)     /* deadline checks, connect phase */
#define WARMUP_S 0.3
#define SPARE_FDS 16            /* stdio, epoll, sync fd, ... */
#define MAX_EVENTS 256
#define RECV_CHUNK 65536
#define SOURCE_ADDRS 64u        /* clients from 127.0.0.1 to .64 */
#define GREETING "* welcome"
/* The chat server passes lines longer than 1024 bytes on in pieces,
 * each with its own sender prefix: a chat line must fit. */
#define CHAT_MAX_SIZE 1000
/* A greeting or prefixed chat line longer than this is an error, not
 * something to buffer without bound. */
#define MAX_LINE (CHAT_MAX_SIZE + 1024)

/* ------------------------------------------------------------ helpers */

static void die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;
    fputs("connload: ", stderr);
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

static double secs(uint64_t ns)
{
    return (double)ns / 1e9;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p)
        die("out of memory");
    return p;
}

/* A received line, quoted for an error message: at most 80 characters,
 * control characters as '?'. */
static const char *quote(const char *s, size_t len)
{
    static char out[84];
    size_t n = len < 80 ? len : 80, i;
    for (i = 0; i < n; i++)
        out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (len > n) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
}

/* ------------------------------------------------------------ options */

enum mode { NO_MODE, ECHO, CHAT };

struct options {
    int port;
    unsigned conns, in_flight;
    size_t size;
    double seconds;
    enum mode mode;
    int sync_fd;                /* -1: none */
};

static void usage(void)
{
    fprintf(stderr, "usage: connload --port P --conns N --mode echo|chat "
                    "[--in-flight K] [--size S] [--seconds D] "
                    "[--sync-fd K]\n");
    exit(2);
}

static long parse_long(const char *name, const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "connload: %s: want an integer in [%ld, %ld], got "
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
    if (errno || end == s || *end || !(v > 0 && v <= 3600)) {
        fprintf(stderr, "connload: %s: want seconds in (0, 3600], got "
                        "'%s'\n", name, s);
        usage();
    }
    return v;
}

static struct options parse_options(int argc, char **argv)
{
    struct options o = { .port = -1, .in_flight = 64, .size = 100,
                         .seconds = 1, .mode = NO_MODE, .sync_fd = -1 };
    for (int i = 1; i < argc; i += 2) {
        const char *name = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!val)
            usage();
        if (strcmp(name, "--port") == 0)
            o.port = (int)parse_long(name, val, 1, 65535);
        else if (strcmp(name, "--conns") == 0)
            o.conns = (unsigned)parse_long(name, val, 1, 1000000);
        else if (strcmp(name, "--in-flight") == 0)
            o.in_flight = (unsigned)parse_long(name, val, 1, 1000000);
        else if (strcmp(name, "--size") == 0)
            o.size = (size_t)parse_long(name, val, 1, 64 << 20);
        else if (strcmp(name, "--seconds") == 0)
            o.seconds = parse_seconds(name, val);
        else if (strcmp(name, "--mode") == 0 && strcmp(val, "echo") == 0)
            o.mode = ECHO;
        else if (strcmp(name, "--mode") == 0 && strcmp(val, "chat") == 0)
            o.mode = CHAT;
        else if (strcmp(name, "--sync-fd") == 0)
            o.sync_fd = (int)parse_long(name, val, 0, INT_MAX);
        else
            usage();
    }
    if (o.port < 0 || o.conns == 0 || o.mode == NO_MODE)
        usage();
    if (o.mode == CHAT && o.conns < 2)
        die("--mode chat needs at least 2 connections (a line goes to the "
            "others)");
    if (o.mode == CHAT && o.size > CHAT_MAX_SIZE)
        die("--mode chat: --size at most %d (the chat server passes longer "
            "lines on in pieces)", CHAT_MAX_SIZE);
    if (o.in_flight > o.conns)
        o.in_flight = o.conns;
    if (o.sync_fd >= 0 && fcntl(o.sync_fd, F_GETFD) < 0)
        die("--sync-fd %d: %s", o.sync_fd, strerror(errno));
    return o;
}

/* As many descriptors as the hard limit allows: N sockets must fit. */
static void raise_fd_limit(unsigned conns)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        die("getrlimit: %s", strerror(errno));
    rlim_t want = rl.rlim_max;
    /* An unlimited hard limit still stops at fs.nr_open, which setrlimit
     * would refuse: then ask for what is needed. */
    if (want == RLIM_INFINITY)
        want = rl.rlim_cur > (rlim_t)conns + SPARE_FDS
             ? rl.rlim_cur : (rlim_t)conns + SPARE_FDS;
    if (want > rl.rlim_cur) {
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            die("setrlimit(RLIMIT_NOFILE, %llu): %s",
                (unsigned long long)want, strerror(errno));
    }
    if ((rlim_t)conns + SPARE_FDS > rl.rlim_cur)
        die("--conns %u needs %u descriptors, but the limit is %llu "
            "(ulimit -Hn)", conns, conns + SPARE_FDS,
            (unsigned long long)rl.rlim_cur);
}

/* ------------------------------------------------------------ state */

enum conn_state {
    NOT_STARTED,
    CONNECTING,                 /* connect in flight */
    CONNECTED,                  /* waiting for the first echo / greeting */
    ECHOING
};

enum phase { CONNECT, WAITING, WARMUP, MEASURE, DONE };

/* Kept small: there may be tens of thousands.  Its index in L->conns is
 * its id. */
struct conn {
    int fd;
    uint8_t state;              /* enum conn_state */
    bool watching_out;          /* EPOLLOUT is registered */
    uint32_t msg;               /* echo: the message in flight */
    uint32_t sent, got;         /* echo: its progress; chat: the line's */
    uint32_t partial_len;       /* chat: bytes in partial */
    char *partial;              /* chat: a line received in part, or NULL */
    uint64_t round_seen;        /* chat: 1 + the last round it received */
    uint64_t connect_ns;        /* when its connect started */
};

struct load {
    struct options opt;
    int epfd;
    struct conn *conns;
    unsigned char *scratch;     /* recv buffer */
    enum phase phase;
    uint64_t phase_end_ns;
    uint64_t measure_start_ns, measure_end_ns;
    uint64_t msgs;              /* completed in the measured window */

    /* connect phase */
    uint64_t first_connect_ns, echoing_ns;
    unsigned next, in_flight, echoing;

    /* echo mode */
    unsigned char *pattern;     /* pattern[k] = k & 0xff, 256 + size bytes */

    /* chat mode: the current round */
    uint64_t round;
    unsigned sender, awaited;   /* deliveries still to come */
    char *line;                 /* what the sender sends */
    size_t line_len;
};

static unsigned id_of(const struct load *L, const struct conn *c)
{
    return (unsigned)(c - L->conns);
}

static void watch(struct load *L, struct conn *c, bool out)
{
    struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0),
                              .data.ptr = c };
    if (epoll_ctl(L->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
    c->watching_out = out;
}

static void sync_line(const struct load *L, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sync_line(const struct load *L, const char *fmt, ...)
{
    if (L->opt.sync_fd < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int rc = vdprintf(L->opt.sync_fd, fmt, ap);
    va_end(ap);
    if (rc < 0)
        die("--sync-fd %d: %s", L->opt.sync_fd, strerror(errno));
}

/* Every connection's turn to be echoing (echo or greeting) has come. */
static void now_echoing(struct load *L, struct conn *c)
{
    c->state = ECHOING;
    if (++L->echoing == L->opt.conns)
        L->echoing_ns = now_ns();
}

/* ------------------------------------------------------------ echo mode */

/* Message m of connection c is a window into the 0,1,...,255,0,1... ramp:
 * no per-message buffer to fill, and memcmp checks it. */
static const unsigned char *expected(const struct load *L,
                                     const struct conn *c)
{
    unsigned base = (id_of(L, c) * 131u + c->msg * 7u) & 0xffu;
    return L->pattern + base;
}

/* One send per call: a short send means the socket buffer is full, and a
 * second try would only return EAGAIN, so wait for EPOLLOUT instead. */
static void echo_send(struct load *L, struct conn *c)
{
    size_t left = L->opt.size - c->sent;
    ssize_t n = send(c->fd, expected(L, c) + c->sent, left, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        die("conn %u: send: %s", id_of(L, c), strerror(errno));
    if (n > 0)
        c->sent += (uint32_t)n;
    bool more = c->sent < L->opt.size;
    if (more != c->watching_out)
        watch(L, c, more);
}

static void echo_start(struct load *L, struct conn *c)
{
    c->sent = c->got = 0;
    echo_send(L, c);
}

/* The first message makes the connection echoing and stops there; in the
 * message phase the next message goes out at once. */
static void echo_done(struct load *L, struct conn *c)
{
    if (c->state == CONNECTED) {
        c->msg++;
        now_echoing(L, c);
        return;
    }
    if (L->phase == MEASURE)
        L->msgs++;
    c->msg++;
    echo_start(L, c);
}

static void echo_received(struct load *L, struct conn *c,
                          const unsigned char *got, size_t n)
{
    unsigned id = id_of(L, c);
    if (c->state != CONNECTED && L->phase < WARMUP)
        die("conn %u: %zu bytes arrived while it was idle", id, n);
    if (c->got + n > c->sent)
        die("conn %u, message %u: %zu bytes echoed but only %u sent", id,
            c->msg, c->got + n, c->sent);
    const unsigned char *want = expected(L, c) + c->got;
    if (memcmp(got, want, n) != 0) {
        size_t i = 0;
        while (got[i] == want[i])
            i++;
        die("conn %u, message %u: byte %zu is 0x%02x, expected 0x%02x", id,
            c->msg, c->got + i, got[i], want[i]);
    }
    c->got += (uint32_t)n;
    if (c->got == L->opt.size)
        echo_done(L, c);
}

/* ------------------------------------------------------------ chat mode */

static void chat_send(struct load *L, struct conn *c)
{
    ssize_t n = send(c->fd, L->line + c->sent, L->line_len - c->sent,
                     MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        die("conn %u: send: %s", id_of(L, c), strerror(errno));
    if (n > 0)
        c->sent += (uint32_t)n;
    bool more = c->sent < L->line_len;
    if (more != c->watching_out)
        watch(L, c, more);
}

/* Round r: "msg <r> " then letters that shift with r (a line from an
 * earlier round differs all along), then '\n'; S bytes when S leaves room
 * for at least 4 letters. */
static void chat_start_round(struct load *L)
{
    int head = snprintf(L->line, 32, "msg %llu ",
                        (unsigned long long)L->round);
    size_t len = L->opt.size > (size_t)head + 5 ? L->opt.size
                                                : (size_t)head + 5;
    for (size_t i = (size_t)head; i < len - 1; i++)
        L->line[i] = (char)('a' + (L->round + i) % 26);
    L->line[len - 1] = '\n';
    L->line_len = len;
    L->sender = (unsigned)(L->round % L->opt.conns);
    L->awaited = L->opt.conns - 1;
    struct conn *s = &L->conns[L->sender];
    s->sent = 0;
    chat_send(L, s);
}

/* A whole line, '\n' included, received by c. */
static void chat_line(struct load *L, struct conn *c, const char *line,
                      size_t len)
{
    unsigned id = id_of(L, c);
    if (c->state == CONNECTED) {
        if (len < sizeof GREETING - 1 ||
            memcmp(line, GREETING, sizeof GREETING - 1) != 0)
            die("conn %u: the first line is not the greeting (\"%s...\"): "
                "\"%s\"", id, GREETING, quote(line, len));
        now_echoing(L, c);
        return;
    }
    if (L->phase < WARMUP)
        die("conn %u: a line before the message phase (is the chat server "
            "running with --quiet?): \"%s\"", id, quote(line, len));
    /* "<sender>: " and then exactly what the sender sent. */
    size_t want = L->line_len;
    bool ok = id != L->sender && c->round_seen != L->round + 1 &&
              len >= want + 3 && memcmp(line + len - want, L->line, want) == 0
              && memcmp(line + len - want - 2, ": ", 2) == 0;
    if (!ok)
        die("conn %u: in round %llu (sender: conn %u, %s) got \"%s\"", id,
            (unsigned long long)L->round, L->sender,
            id == L->sender ? "itself"
            : c->round_seen == L->round + 1 ? "already received"
            : "line not received yet", quote(line, len));
    c->round_seen = L->round + 1;
    if (L->phase == MEASURE)
        L->msgs++;
    if (--L->awaited == 0) {
        L->round++;
        chat_start_round(L);
    }
}

/* Split what arrived into lines; keep an incomplete tail in c->partial
 * (a few hundred bytes, only until the rest of its line comes). */
static void chat_received(struct load *L, struct conn *c, const char *data,
                          size_t n)
{
    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        size_t take = nl ? (size_t)(nl - data) + 1 : n;
        if (c->partial_len + take > MAX_LINE)
            die("conn %u: a line longer than %d bytes: \"%s\"", id_of(L, c),
                MAX_LINE, quote(c->partial_len ? c->partial : data,
                                c->partial_len ? c->partial_len : take));
        if (nl && !c->partial) {
            chat_line(L, c, data, take);
        } else {
            char *p = realloc(c->partial, c->partial_len + take);
            if (!p)
                die("out of memory");
            memcpy(p + c->partial_len, data, take);
            c->partial = p;
            c->partial_len += (uint32_t)take;
            if (nl) {
                /* The line is whole: c holds no partial line any more. */
                c->partial = NULL;
                size_t len = c->partial_len;
                c->partial_len = 0;
                chat_line(L, c, p, len);
                free(p);
            }
        }
        data += take;
        n -= take;
    }
}

/* ------------------------------------------------------------ events */

/* One recv per readiness event: level-triggered epoll reports the socket
 * again if more is waiting. */
static void receive_some(struct load *L, struct conn *c)
{
    ssize_t n = recv(c->fd, L->scratch, RECV_CHUNK, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        die("conn %u: recv: %s", id_of(L, c), strerror(errno));
    }
    if (n == 0)
        die("conn %u: the server closed the connection%s", id_of(L, c),
            c->state == CONNECTED ? " before it was echoing" : "");
    if (L->opt.mode == ECHO)
        echo_received(L, c, L->scratch, (size_t)n);
    else
        chat_received(L, c, (const char *)L->scratch, (size_t)n);
}

static void start_connect(struct load *L, struct conn *c)
{
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_port = htons((uint16_t)L->opt.port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    unsigned id = id_of(L, c);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die("conn %u: socket: %s", id, strerror(errno));
    /* Messages are small and sent in one call: Nagle would only hold
     * back the remainder of a short send. */
    const int on = 1;
    if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) < 0)
        die("conn %u: TCP_NODELAY: %s", id, strerror(errno));
    /* Connections from one source address to one server port need one
     * local port each, and Linux picks it by probing the range: each
     * probe of a port already used towards the same server fails, so at
     * 20,000 connections the client's connects cost seconds of its own
     * CPU (in __inet_hash_connect) and connect_s would measure that, not
     * the server.  Spread over SOURCE_ADDRS loopback addresses (all of
     * 127/8 is local), most probes succeed at once.  The port is still
     * chosen at connect (IP_BIND_ADDRESS_NO_PORT), not by bind, which
     * would insist on a port free for every destination. */
    struct sockaddr_in src = { .sin_family = AF_INET,
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK +
                                                        id % SOURCE_ADDRS) };
    if (setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on,
                   sizeof on) < 0 ||
        bind(c->fd, (struct sockaddr *)&src, sizeof src) < 0)
        die("conn %u: binding to 127.0.0.%u: %s", id,
            1 + id % SOURCE_ADDRS, strerror(errno));
    c->connect_ns = now_ns();
    if (L->first_connect_ns == 0)
        L->first_connect_ns = c->connect_ns;
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 &&
        errno != EINPROGRESS) {
        int err = errno;
        die("conn %u: connect to 127.0.0.1:%d: %s%s", id, L->opt.port,
            strerror(err), err == EADDRNOTAVAIL
            ? " (no local port left: see net.ipv4.ip_local_port_range)" : "");
    }
    /* Writable (or an error) when the connect has completed; EPOLLIN
     * too, since a server may speak first. */
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
    if (epoll_ctl(L->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
    c->watching_out = true;
    c->state = CONNECTING;
    L->in_flight++;
}

static void finish_connect(struct load *L, struct conn *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err)
        die("conn %u: connect to 127.0.0.1:%d failed after %.3f s: %s",
            id_of(L, c), L->opt.port, secs(now_ns() - c->connect_ns),
            strerror(err));
    c->state = CONNECTED;
    L->in_flight--;
    if (L->opt.mode == ECHO) {
        echo_start(L, c);           /* drops EPOLLOUT once all is sent */
    } else {
        watch(L, c, false);         /* the greeting comes by itself */
    }
}

static void poll_once(struct load *L, int timeout_ms)
{
    struct epoll_event events[MAX_EVENTS];
    int n = epoll_wait(L->epfd, events, MAX_EVENTS, timeout_ms);
    if (n < 0 && errno != EINTR)
        die("epoll_wait: %s", strerror(errno));
    for (int i = 0; i < n; i++) {
        struct conn *c = events[i].data.ptr;
        uint32_t e = events[i].events;
        if (c->state == CONNECTING) {
            finish_connect(L, c);   /* any event ends a connect */
            if (!(e & EPOLLIN))
                continue;
        }
        if (e & (EPOLLIN | EPOLLERR | EPOLLHUP))
            receive_some(L, c);
        if ((e & EPOLLOUT) && c->watching_out) {
            if (L->opt.mode == ECHO)
                echo_send(L, c);
            else
                chat_send(L, c);
        }
    }
}

/* ------------------------------------------------------------ phases */

/* The deadlines of the connect phase, checked every SWEEP_NS. */
static void check_deadlines(struct load *L, uint64_t now)
{
    const struct options *o = &L->opt;
    bool late = now - L->first_connect_ns > ECHOING_PATIENCE_S * NS_PER_S;
    for (unsigned i = 0; i < L->next; i++) {
        struct conn *c = &L->conns[i];
        if (c->state == CONNECTING &&
            now - c->connect_ns > CONNECT_PATIENCE_S * NS_PER_S)
            die("conn %u: connect to 127.0.0.1:%d not completed in %d s "
                "(%u of %u echoing)", i, o->port, CONNECT_PATIENCE_S,
                L->echoing, o->conns);
        if (late && c->state != ECHOING)
            die("conn %u: not echoing %d s after the first connect "
                "(connected %.3f s after it, %s; %u of %u echoing)", i,
                ECHOING_PATIENCE_S, secs(c->connect_ns - L->first_connect_ns),
                c->state == CONNECTING ? "connect still in flight"
                : o->mode == ECHO ? "its first echo incomplete"
                : "no greeting yet", L->echoing, o->conns);
    }
    if (late)
        die("only %u of %u connections started %d s after the first "
            "connect (%u echoing)", L->next, o->conns, ECHOING_PATIENCE_S,
            L->echoing);
}

static void connect_phase(struct load *L)
{
    uint64_t next_sweep = 0;
    L->phase = CONNECT;
    while (L->echoing < L->opt.conns) {
        while (L->in_flight < L->opt.in_flight && L->next < L->opt.conns)
            start_connect(L, &L->conns[L->next++]);
        uint64_t now = now_ns();
        if (now >= next_sweep) {
            if (next_sweep)
                check_deadlines(L, now);
            next_sweep = now + SWEEP_NS;
        }
        poll_once(L, (int)((next_sweep - now) / 1000000) + 1);
    }
}

/* One line from stdin, whatever it says ("go"): the driver has done its
 * reading of the idle server. */
static void wait_for_go(void)
{
    char ch;
    for (;;) {
        ssize_t n = read(STDIN_FILENO, &ch, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("reading stdin: %s", strerror(errno));
        if (n == 0)
            die("stdin closed before the line that starts the messages");
        if (ch == '\n')
            return;
    }
}

/* Called after every epoll_wait: messages completed from here on belong to
 * the new phase. */
static void advance_phase(struct load *L, uint64_t now)
{
    if (now < L->phase_end_ns)
        return;
    if (L->phase == WARMUP) {
        L->phase = MEASURE;
        L->measure_start_ns = now;
        L->phase_end_ns = now + (uint64_t)(L->opt.seconds * 1e9);
        sync_line(L, "measure-start\n");
    } else if (L->phase == MEASURE) {
        L->phase = DONE;
        L->measure_end_ns = now;
        sync_line(L, "measure-end\n");
    }
}

static void message_phase(struct load *L)
{
    uint64_t now = now_ns();
    L->phase = WARMUP;
    L->phase_end_ns = now + (uint64_t)(WARMUP_S * 1e9);
    if (L->opt.mode == ECHO) {
        for (unsigned i = 0; i < L->opt.conns; i++)
            echo_start(L, &L->conns[i]);
    } else {
        chat_start_round(L);
    }
    for (;;) {
        advance_phase(L, now);
        if (L->phase == DONE)
            break;
        uint64_t left = L->phase_end_ns - now;
        poll_once(L, (int)((left + 999999) / 1000000));
        now = now_ns();
    }
}

/* No message completed in the window: say what is missing. */
static void stalled(const struct load *L)
{
    unsigned n = L->opt.conns, i = 0;
    if (L->opt.mode == CHAT) {
        while (i < n && (i == L->sender || L->conns[i].round_seen ==
                         L->round + 1))
            i++;
        die("no message completed in the measured window: round %llu "
            "(sender: conn %u) still waits for %u of %u deliveries, "
            "conn %u's among them", (unsigned long long)L->round, L->sender,
            L->awaited, n - 1, i);
    }
    while (i < n && L->conns[i].got == L->opt.size)
        i++;
    die("no message completed in the measured window (conn %u: %u of %zu "
        "bytes sent, %u echoed)", i, i < n ? L->conns[i].sent : 0,
        L->opt.size, i < n ? L->conns[i].got : 0);
}

/* ------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    struct load L = { .opt = parse_options(argc, argv) };
    signal(SIGPIPE, SIG_IGN);   /* a vanished driver is an error, not death */
    raise_fd_limit(L.opt.conns);

    L.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (L.epfd < 0)
        die("epoll_create1: %s", strerror(errno));
    L.conns = xcalloc(L.opt.conns, sizeof *L.conns);
    for (unsigned i = 0; i < L.opt.conns; i++)
        L.conns[i].fd = -1;
    L.scratch = xcalloc(RECV_CHUNK, 1);
    if (L.opt.mode == ECHO) {
        L.pattern = xcalloc(256 + L.opt.size, 1);
        for (size_t k = 0; k < 256 + L.opt.size; k++)
            L.pattern[k] = (unsigned char)k;
    } else {
        L.line = xcalloc(CHAT_MAX_SIZE + 64, 1);
    }

    connect_phase(&L);
    double connect_s = secs(L.echoing_ns - L.first_connect_ns);
    if (L.opt.sync_fd >= 0) {
        L.phase = WAITING;
        sync_line(&L, "connected %.6f\n", connect_s);
        wait_for_go();
    }
    message_phase(&L);

    double window = secs(L.measure_end_ns - L.measure_start_ns);
    if (L.msgs == 0)
        stalled(&L);
    printf("conns=%u connect_s=%.4f msgs=%llu seconds=%.3f rate=%.0f\n",
           L.opt.conns, connect_s, (unsigned long long)L.msgs, window,
           (double)L.msgs / window);
    if (fflush(stdout) != 0)
        die("writing stdout: %s", strerror(errno));

    for (unsigned i = 0; i < L.opt.conns; i++) {
        close(L.conns[i].fd);
        free(L.conns[i].partial);
    }
    close(L.epfd);
    free(L.line);
    free(L.pattern);
    free(L.scratch);
    free(L.conns);
    return 0;
}
