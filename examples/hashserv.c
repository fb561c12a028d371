/*
 * hashserv.c -- a server that hashes files on worker threads while it
 * goes on serving its clients.
 *
 * A client sends lines:
 *     hash PATH    answered "<sha256 in hex>  PATH", as sha256sum prints
 *                  it, or "error PATH: <why>" (No such file or directory...)
 *     ping         answered "pong" at once
 * Reading and hashing a big file takes a while, and it is plain blocking
 * code: open, read, compute.  It runs on the kernel's worker pool
 * (co_run_in_thread), so the loop never stalls: a `ping` is answered at
 * once while files of any size are hashed, on that connection as on the
 * others.  Each hash is a task of its own, so one client may have several
 * running (at most MAX_HASHES; more wait) and answers come as hashes end,
 * each line naming its file.
 *
 * A client that hangs up (or closes its sending side) with hashes still
 * running gets no answer for them: its handler cancels their tasks, which
 * leave at once.  The threads cannot be stopped and finish reading; each
 * call's cleanup callback (free_job) then frees what the thread was given,
 * in the kernel's thread, and says so on stdout.
 *
 * SHA-256 is written out below from FIPS 180-4, as a small streaming
 * implementation: readable rather than fast.
 *
 * It serves 127.0.0.1 only: it reads any file the server may read.  (A
 * name with a backslash is printed as is, where sha256sum would escape it.)
 *
 * Try it:
 *     build/examples/hashserv &
 *     nc localhost 25100
 *     hash /etc/hostname
 *     ping
 *
 * Usage: hashserv [PORT] [--clients N]
 *
 * PORT defaults to 25100 (0: any free port); the first line printed says
 * which.  With --clients N it exits by itself once N clients have come and
 * gone (tests/examples/hashserv.sh uses that).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curio.h"
#include "net/server.h"
#include "net/stream.h"
#include "sync/lock.h"
#include "sync/semaphores.h"

#define HOST "127.0.0.1"
#define MAX_HASHES 8                /* hashes one client may run at once */
#define MAX_LINE (PATH_MAX + 8)     /* "hash " PATH "\r\n" */

static int clients_left;            /* --clients N: stop after N; 0: never */

/* ------------------------------------------------------------ SHA-256 */

/* FIPS 180-4: the hash of a message is computed 64 bytes (one block) at
 * a time, each block mixed into eight 32-bit words of state. */
typedef struct sha256 {
    uint32_t h[8];          /* the state: H(i) */
    uint8_t block[64];      /* the block being filled */
    size_t used;            /* bytes in it */
    uint64_t length;        /* bytes of message so far */
} sha256;

/* 4.2.2: the first 32 bits of the fractional parts of the cube roots of
 * the first 64 primes. */
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* 4.1.2's functions; ROTR is a rotation to the right. */
#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define CH(x, y, z) (((x) & (y)) ^ (~(x) & (z)))
#define MAJ(x, y, z) (((x) & (y)) ^ ((x) & (z)) ^ ((y) & (z)))
#define BSIG0(x) (ROTR(x, 2) ^ ROTR(x, 13) ^ ROTR(x, 22))
#define BSIG1(x) (ROTR(x, 6) ^ ROTR(x, 11) ^ ROTR(x, 25))
#define SSIG0(x) (ROTR(x, 7) ^ ROTR(x, 18) ^ ((x) >> 3))
#define SSIG1(x) (ROTR(x, 17) ^ ROTR(x, 19) ^ ((x) >> 10))

static void sha256_init(sha256 *s)
{
    /* 5.3.3: the fractional parts of the square roots of the first 8
     * primes. */
    static const uint32_t h0[8] = {
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    };
    memcpy(s->h, h0, sizeof h0);
    s->used = 0;
    s->length = 0;
}

/* 6.2.2: one block into the state. */
static void sha256_block(sha256 *s, const uint8_t *p)
{
    uint32_t w[64], a, b, c, d, e, f, g, h;
    for (int t = 0; t < 16; t++)            /* the block, big-endian */
        w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
               (uint32_t)p[4 * t + 2] << 8 | p[4 * t + 3];
    for (int t = 16; t < 64; t++)           /* the message schedule */
        w[t] = SSIG1(w[t - 2]) + w[t - 7] + SSIG0(w[t - 15]) + w[t - 16];
    a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3];
    e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
    for (int t = 0; t < 64; t++) {
        uint32_t t1 = h + BSIG1(e) + CH(e, f, g) + K[t] + w[t];
        uint32_t t2 = BSIG0(a) + MAJ(a, b, c);
        h = g, g = f, f = e, e = d + t1;
        d = c, c = b, b = a, a = t1 + t2;
    }
    s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d;
    s->h[4] += e, s->h[5] += f, s->h[6] += g, s->h[7] += h;
}

static void sha256_update(sha256 *s, const uint8_t *p, size_t n)
{
    s->length += n;
    while (n > 0) {
        size_t take = sizeof s->block - s->used;
        if (take > n)
            take = n;
        if (s->used == 0 && take == sizeof s->block) {
            sha256_block(s, p);             /* whole blocks: no copy */
        } else {
            memcpy(s->block + s->used, p, take);
            s->used += take;
            if (s->used < sizeof s->block)
                break;
            sha256_block(s, s->block);
            s->used = 0;
        }
        p += take;
        n -= take;
    }
}

/* 5.1.1: pad with a 1 bit, zeros, and the length in bits (64 bits,
 * big-endian) to a whole block; then the state is the digest. */
static void sha256_final(sha256 *s, uint8_t digest[32])
{
    uint64_t bits = s->length * 8;
    uint8_t pad[72] = { 0x80 };
    size_t zeros = (s->used < 56 ? 56 : 120) - s->used;
    for (int i = 0; i < 8; i++)
        pad[zeros + i] = (uint8_t)(bits >> (56 - 8 * i));
    sha256_update(s, pad, zeros + 8);
    for (int i = 0; i < 8; i++) {
        digest[4 * i] = (uint8_t)(s->h[i] >> 24);
        digest[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        digest[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        digest[4 * i + 3] = (uint8_t)s->h[i];
    }
}

/* ------------------------------------------------------------ the thread */

/* One hash: what the thread is given.  Made by the client's handler,
 * owned by the task that runs the call -- and by free_job once that task
 * has gone. */
struct hash_job {
    uint8_t digest[32];     /* the thread's answer */
    char path[];
};

/* On a worker thread: plain blocking I/O.  0 with job->digest set, or a
 * negative errno. */
static intptr_t hash_file(void *arg)
{
    struct hash_job *job = arg;
    uint8_t buf[1 << 16];
    sha256 s;
    int fd = open(job->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    sha256_init(&s);
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            close(fd);
            return -err;
        }
        if (n == 0)
            break;
        sha256_update(&s, buf, (size_t)n);
    }
    close(fd);
    sha256_final(&s, job->digest);
    return 0;
}

/* The job for PATH, or NULL (no memory). */
static struct hash_job *new_job(const char *path)
{
    size_t len = strlen(path);
    struct hash_job *job = malloc(sizeof *job + len + 1);
    if (job)
        memcpy(job->path, path, len + 1);
    return job;
}

/* The call's cleanup: in the kernel's thread, for a call whose task has
 * gone (its client hung up) before the thread was done.  The job is ours
 * to free; result is hash_file's, or -ECANCELED if it never ran. */
static void free_job(void *arg, intptr_t result)
{
    struct hash_job *job = arg;
    printf("hashserv: %s: its client has gone, job freed (%s)\n", job->path,
           result == -ECANCELED ? "not started" : "hashed");
    fflush(stdout);
    free(job);
}

/* ------------------------------------------------------------ answers */

struct client_frame;

/* One answer line, written whole: a client's tasks (its handler and its
 * hashes) take turns at its stream. */
struct say_frame {
    co_frame co;
    struct client_frame *c;
    struct iovec iov[3];
    int iovcnt;
    char why[96];                   /* error_of's ": <strerror>\n" */
    size_t sent;
    int rc;
};

/* ------------------------------------------------------------ a client */

struct client_frame {
    CO_CLIENT_HEADER;               /* co, client, peer, server: FIRST */
    co_stream *st;
    co_lock writing;                /* one answer at a time on st */
    co_semaphore room;              /* hashes it may still start */
    co_group hashes;                /* its hashes running: daemon members */
    struct hash_job *job;           /* made, not yet handed to a hash task */
    struct say_frame say;
    co_status n;
    int rc;
};

static co_status say(co_task *t, void *arg)
{
    struct say_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_lock_acquire(t, &f->c->writing));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    CO_AWAIT(f->rc, co_stream_writelines(t, f->c->st, f->iov, f->iovcnt,
                                         &f->sent));
    co_lock_release(t, &f->c->writing);
    CO_RETURN(f->rc);
    CO_END;
}

/* Fill in s for c: one line of up to three pieces (NULL: none), which
 * must stay as they are until say is done. */
static void line_of(struct say_frame *s, struct client_frame *c,
                    const char *a, const char *b, const char *d)
{
    const char *piece[3] = { a, b, d };
    s->c = c;
    s->iovcnt = 0;
    for (int i = 0; i < 3; i++)
        if (piece[i])
            s->iov[s->iovcnt++] = (struct iovec){ (void *)piece[i],
                                                  strlen(piece[i]) };
}

/* The same for "error PATH: <what rc means>".  The text is copied:
 * strerror's may change while say waits. */
static void error_of(struct say_frame *s, struct client_frame *c,
                     const char *path, int rc)
{
    snprintf(s->why, sizeof s->why, ": %s\n", co_strerror(rc));
    line_of(s, c, "error ", path, s->why);
}

/* ------------------------------------------------------------ a hash */

/* Hashes one file for client c, answers, ends. */
struct hasher_frame {
    co_frame co;
    struct client_frame *c;         /* outlives us: it joins its hashes */
    struct hash_job *job;           /* ours; NULL once free_job has it */
    co_thread_call call;
    char hex[68];                   /* the digest, and two spaces */
    struct say_frame say;
    int rc;
};

static co_status hasher(co_task *t, void *arg)
{
    struct hasher_frame *f = arg;
    CO_BEGIN(t, f);
    co_thread_call_init(&f->call, hash_file, f->job, free_job);
    CO_AWAIT(f->rc, co_run_in_thread(t, &f->call));
    if (!f->call.arg) {             /* not completed (cancelled, refused):
                                       the job is free_job's, now or once
                                       the thread is done with it */
        f->job = NULL;
        CO_RETURN(0);
    }
    if (f->rc == 0) {
        for (int i = 0; i < 32; i++)
            snprintf(f->hex + 2 * i, 3, "%02x", f->job->digest[i]);
        strcpy(f->hex + 64, "  ");
        line_of(&f->say, f->c, f->hex, f->job->path, "\n");
    } else {                        /* hash_file's error (or the pool's) */
        error_of(&f->say, f->c, f->job->path, f->rc);
    }
    CO_AWAIT_CALL(f->rc, say, &f->say);
    CO_FINALLY;
    free(f->job);
    co_semaphore_release(&f->c->room);
    CO_RETURN(0);                   /* a client that left is no failure */
    CO_END;
}

/* ------------------------------------------------------------ its handler */

/* A task for f->job, in f's group: a daemon member, which the group
 * frees as soon as it ends (a long connection does not pile them up) and
 * cancels when the handler joins it.  Its id, or a negative errno. */
static int spawn_hasher(co_task *t, struct client_frame *f)
{
    struct hasher_frame h = { .c = f, .job = f->job };
    return co_group_spawn(t, &f->hashes, NULL, hasher, &h, sizeof h,
                          &(const co_spawn_opts){ .name = "hasher",
                                                  .flags = CO_DAEMON });
}

static co_status client(co_task *t, void *arg)
{
    /* The line just read: valid until this handler next waits (one
     * kernel, one thread: every handler can share it). */
    static char line[MAX_LINE + 1];
    struct client_frame *f = arg;
    CO_BEGIN(t, f);
    if ((f->rc = co_stream_new(&f->st, f->client, 0)) < 0)
        CO_RETURN(f->rc);
    f->client = NULL;               /* the stream owns the socket now */
    co_semaphore_init(&f->room, MAX_HASHES);
    for (;;) {
        CO_AWAIT(f->n, co_stream_readline(t, f->st, line, MAX_LINE));
        if (f->n == -EMSGSIZE) {
            line_of(&f->say, f, "error line too long\n", NULL, NULL);
            CO_AWAIT_CALL(f->rc, say, &f->say);
            break;
        }
        if (f->n <= 0)              /* the client hung up, or an error */
            break;
        while (f->n > 0 && (line[f->n - 1] == '\n' || line[f->n - 1] == '\r'))
            f->n--;
        line[f->n] = '\0';
        if (strcmp(line, "ping") == 0) {
            line_of(&f->say, f, "pong\n", NULL, NULL);
        } else if (strncmp(line, "hash ", 5) == 0 && line[5]) {
            if (!(f->job = new_job(line + 5))) {
                line_of(&f->say, f, "error out of memory\n", NULL, NULL);
            } else {
                CO_AWAIT(f->rc, co_semaphore_acquire(t, &f->room));
                if (f->rc < 0)
                    break;
                if ((f->rc = spawn_hasher(t, f)) >= 0) {
                    f->job = NULL;  /* the hash task's now: it answers */
                    continue;
                }
                co_semaphore_release(&f->room);
                error_of(&f->say, f, f->job->path, f->rc);
            }
        } else if (line[0]) {
            line_of(&f->say, f, "error commands are: hash PATH, ping\n",
                    NULL, NULL);
        } else {
            continue;               /* an empty line */
        }
        CO_AWAIT_CALL(f->rc, say, &f->say);
        free(f->job);               /* one the spawn failed to take */
        f->job = NULL;
        if (f->rc < 0)
            break;
    }
    CO_FINALLY;
    free(f->job);
    f->job = NULL;
    /* Cancels the hashes still running; each has left when this returns
     * (their threads may still be reading: free_job cleans up after). */
    CO_AWAIT(f->rc, co_group_join(t, &f->hashes));
    co_stream_close(&f->st);
    if (clients_left > 0 && --clients_left == 0)
        co_task_cancel_nowait(f->server->task);     /* that was the last */
    if (CO_RESULT() < 0 && CO_RESULT() != -ECANCELED)
        CO_RETURN(0);               /* a reset connection is no crash */
    CO_END;
}

/* ------------------------------------------------------------ main */

struct main_frame {
    co_frame co;
    co_server_frame config;
    co_task *server;
    int port, result, rc;
};

/* Runs the server, and says where once it listens. */
static co_status main_task(co_task *t, void *arg)
{
    struct main_frame *f = arg;
    CO_BEGIN(t, f);
    if ((f->rc = CO_SPAWN(t, &f->server, co_tcp_server, f->config)) < 0)
        CO_RETURN(f->rc);
    CO_AWAIT(f->port, co_server_task_wait_ready(t, f->server));
    if (f->port > 0) {
        printf("hashserv: listening on %s:%d\n", HOST, f->port);
        fflush(stdout);
    }
    CO_AWAIT(f->rc, co_task_join(t, f->server, &f->result));
    CO_RETURN(f->rc < 0 ? f->rc : f->result);
    CO_END;
}

static const char usage[] =
    "usage: hashserv [PORT] [--clients N]\n"
    "Hashes files on worker threads: a client sends 'hash PATH' (answered\n"
    "'<sha256>  PATH', as sha256sum) or 'ping' (answered 'pong' at once).\n"
    "  PORT         port to listen on, at " HOST " (default 25100; 0: any)\n"
    "  --clients N  exit once N clients have come and gone\n";

int main(int argc, char **argv)
{
    struct main_frame f = {
        .config = CO_TCP_SERVER_INIT(HOST, 25100, client,
                                     struct client_frame),
    };
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--clients") == 0 && i + 1 < argc)
            clients_left = atoi(argv[++i]);
        else
            f.config.port = atoi(argv[i]);
    }
    int rc = co_run(main_task, &f, sizeof f);
    if (rc < 0 && rc != -ECANCELED) {
        fprintf(stderr, "hashserv: %s\n", co_strerror(rc));
        return 1;
    }
    return 0;
}
