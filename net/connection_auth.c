/*
 * connection_auth.c -- the HMAC handshake of Python's
 * multiprocessing.connection, both halves, in both of its forms.
 *
 *   deliverer                              answerer
 *   "#CHALLENGE#" + M            ->
 *                                <-        R = response to M
 *   "#WELCOME#" or "#FAILURE#"   ->
 *
 * Legacy form (Python <= 3.11): M is 20 random bytes, R the raw HMAC-MD5
 * of M with the key (16 bytes).  Python 3.12's: M is "{sha256}" (or
 * another digest's name in braces) + 40 random bytes, and R is "{name}" +
 * HMAC-name of the whole of M, prefix included, so a peer cannot pick a
 * weaker digest than the one asked for.  Each side tells the forms apart
 * by length: a 20-byte M or a 16-byte R is legacy, anything else must
 * start with a digest name in braces.  A legacy answerer takes a 3.12
 * challenge for a long legacy one and answers it with HMAC-MD5, which a
 * 3.12 deliverer accepts: so do we.
 *
 * The handshake is one primitive whose steps (send, receive, send...) are
 * the framing's resumable operations (connection.c); the step under way
 * is kept with the handshake's buffers in c->auth, allocated for its
 * duration.  Any failure breaks the connection: a handshake cannot be
 * taken up again halfway.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "../core/waits.h"
#include "../core/alloc_impl.h"
#include "connection_impl.h"

#define CHALLENGE "#CHALLENGE#"
#define WELCOME "#WELCOME#"
#define FAILURE "#FAILURE#"
#define PREFIX_LEN (sizeof CHALLENGE - 1)
#define LEGACY_LEN 20           /* a legacy challenge's random bytes */
#define RANDOM_LEN 40           /* a 3.12 challenge's */
#define MD5_LEN 16
#define NAME_MAX_LEN 8          /* "sha3_384" */
#define REPLY_MAX 256           /* Python's recv_bytes(256) */

/* Python 3.12's _ALLOWED_DIGESTS.  connection.c's default (index 1) is
 * sha256. */
static const struct {
    const char *name;
    const EVP_MD *(*md)(void);
} digests[] = {
    { "md5", EVP_md5 },
    { "sha256", EVP_sha256 },
    { "sha384", EVP_sha384 },
    { "sha3_256", EVP_sha3_256 },
    { "sha3_384", EVP_sha3_384 },
};
#define NDIGESTS ((int)(sizeof digests / sizeof digests[0]))

enum step {
    DELIVER_SEND, DELIVER_RECV, DELIVER_REPLY,
    ANSWER_RECV, ANSWER_SEND, ANSWER_RECV_REPLY,
};

struct co__conn_auth {
    enum step step, then;       /* then: the other half's first step */
    int halves;                 /* still to do, this one included */
    int in_step;                /* suspended inside `step` */
    int welcome;                /* the deliverer's verdict */
    size_t out_len, in_len;
    unsigned char out[PREFIX_LEN + 2 + NAME_MAX_LEN + EVP_MAX_MD_SIZE +
                      RANDOM_LEN];
    unsigned char in[REPLY_MAX];
};

int co_conn_set_auth_digest(co_conn *c, const char *name)
{
    if (!c)
        return -EINVAL;
    if (!name) {
        c->digest = -1;
        return 0;
    }
    for (int i = 0; i < NDIGESTS; i++)
        if (strcmp(name, digests[i].name) == 0) {
            c->digest = (int8_t)i;
            return 0;
        }
    return -EINVAL;
}

/* ------------------------------------------------------------ messages */

/* HMAC of msg with the key into out: its length, or 0 on failure. */
static unsigned hmac(int digest, const void *key, size_t keylen,
                     const unsigned char *msg, size_t len, unsigned char *out)
{
    unsigned n = 0;
    if (!HMAC(digests[digest].md(), keylen ? key : "", (int)keylen, msg, len,
              out, &n))
        return 0;
    return n;
}

/* A digest name in braces at the start of m[0 .. len): the digest's
 * index, with *skip the prefix's length; -1 if there is none. */
static int braced_name(const unsigned char *m, size_t len, size_t *skip)
{
    if (len < 2 || m[0] != '{')
        return -1;
    const unsigned char *end = memchr(m + 1, '}',
                                      len - 1 < NAME_MAX_LEN + 1 ?
                                          len - 1 : NAME_MAX_LEN + 1);
    if (!end)
        return -1;
    size_t n = (size_t)(end - (m + 1));
    for (int i = 0; i < NDIGESTS; i++)
        if (strlen(digests[i].name) == n && memcmp(m + 1, digests[i].name, n) == 0) {
            *skip = n + 2;
            return i;
        }
    return -1;
}

/* The deliverer's challenge into a->out. */
static int make_challenge(co_conn *c, co__conn_auth *a)
{
    unsigned char *p = a->out;
    memcpy(p, CHALLENGE, PREFIX_LEN);
    p += PREFIX_LEN;
    int n = LEGACY_LEN;
    if (c->digest >= 0) {
        size_t len = strlen(digests[c->digest].name);
        *p++ = '{';
        memcpy(p, digests[c->digest].name, len);
        p += len;
        *p++ = '}';
        n = RANDOM_LEN;
    }
    if (RAND_bytes(p, n) != 1)
        return -EIO;
    a->out_len = (size_t)(p + n - a->out);
    return 0;
}

/* The deliverer's verdict on the answer in a->in: 1 if it is right.  Any
 * answer that is not one (a wrong length, an unknown digest) is wrong. */
static int answer_is_right(co__conn_auth *a, const void *key, size_t keylen)
{
    const unsigned char *msg = a->out + PREFIX_LEN;
    size_t msg_len = a->out_len - PREFIX_LEN, skip = 0;
    int digest = 0;                              /* md5, unprefixed */
    if (a->in_len != MD5_LEN && a->in_len != LEGACY_LEN &&
        (digest = braced_name(a->in, a->in_len, &skip)) < 0)
        return 0;
    unsigned char expected[EVP_MAX_MD_SIZE];
    unsigned n = hmac(digest, key, keylen, msg, msg_len, expected);
    return n && n == a->in_len - skip &&
           CRYPTO_memcmp(expected, a->in + skip, n) == 0;
}

/* The answerer's response to the challenge in a->in, into a->out. */
static int make_answer(co__conn_auth *a, const void *key, size_t keylen)
{
    if (a->in_len < PREFIX_LEN || memcmp(a->in, CHALLENGE, PREFIX_LEN) != 0)
        return -EPROTO;
    const unsigned char *msg = a->in + PREFIX_LEN;
    size_t len = a->in_len - PREFIX_LEN, skip = 0;
    if (len < LEGACY_LEN)
        return -EPROTO;
    int digest = 0;
    unsigned char *p = a->out;
    if (len != LEGACY_LEN) {
        if ((digest = braced_name(msg, len, &skip)) < 0)
            return -EPROTO;         /* no digest we know */
        memcpy(p, msg, skip);       /* "{name}" */
        p += skip;
    }
    unsigned n = hmac(digest, key, keylen, msg, len, p);
    if (!n)
        return -EIO;
    a->out_len = (size_t)(p + n - a->out);
    return 0;
}

/* ------------------------------------------------------------ the steps */

/* The first step of a half, its preparation done. */
static int begin_half(co_conn *c, co__conn_auth *a, enum step first)
{
    a->step = first;
    return first == DELIVER_SEND ? make_challenge(c, a) : 0;
}

/* One step's operation (resumable: a->in_step says it is under way). */
static co_status run_step(co_task *self, co_conn *c, co__conn_auth *a)
{
    switch (a->step) {
    case DELIVER_SEND:
    case ANSWER_SEND:
        return co__conn_send(self, c, a->out, a->out_len, !a->in_step);
    case DELIVER_REPLY:
        return a->welcome
            ? co__conn_send(self, c, WELCOME, sizeof WELCOME - 1, !a->in_step)
            : co__conn_send(self, c, FAILURE, sizeof FAILURE - 1, !a->in_step);
    default: {                      /* the receives */
        int rc = co__conn_recv_into(self, c, a->in, REPLY_MAX, &a->in_len);
        return rc == -EMSGSIZE ? -EPROTO : rc;   /* broken below */
    }
    }
}

/* What follows a step that succeeded: 0 to go on with a->step, 1 when the
 * handshake is over, or a negative errno. */
static int next_step(co_conn *c, co__conn_auth *a, const void *key,
                     size_t keylen)
{
    int rc;
    switch (a->step) {
    case DELIVER_SEND:
        a->step = DELIVER_RECV;
        return 0;
    case DELIVER_RECV:
        a->welcome = answer_is_right(a, key, keylen);
        a->step = DELIVER_REPLY;
        return 0;
    case DELIVER_REPLY:
        if (!a->welcome)
            return -EACCES;
        break;
    case ANSWER_RECV:
        if ((rc = make_answer(a, key, keylen)) < 0)
            return rc;
        a->step = ANSWER_SEND;
        return 0;
    case ANSWER_SEND:
        a->step = ANSWER_RECV_REPLY;
        return 0;
    case ANSWER_RECV_REPLY:
        if (a->in_len == sizeof FAILURE - 1 &&
            memcmp(a->in, FAILURE, a->in_len) == 0)
            return -EACCES;
        if (a->in_len != sizeof WELCOME - 1 ||
            memcmp(a->in, WELCOME, a->in_len) != 0)
            return -EPROTO;
        break;
    }
    if (--a->halves == 0)           /* this half is done */
        return 1;
    return begin_half(c, a, a->then);
}

static co_status handshake(co_task *self, co_conn *c, const void *key,
                           size_t keylen, enum step first, int halves,
                           const char *func)
{
    int fresh = !co_wait_resumed(self), rc = 0;
    if (co__conn_enter(self, c, (key || !keylen) && keylen <= INT_MAX &&
                                    (!c || (c->rsock && c->wsock) || c->closed),
                       CO__CONN_RX | CO__CONN_TX, &rc, func))
        return rc;
    co__conn_auth *a = c->auth;
    if (fresh) {
        if (!(a = co__alloc(sizeof *a)))
            return -ENOMEM;
        c->auth = a;
        c->auth_task = self;
        a->halves = halves;
        a->then = first == DELIVER_SEND ? ANSWER_RECV : DELIVER_SEND;
        a->in_step = 0;
        rc = begin_half(c, a, first);
    }
    while (rc == 0) {
        rc = run_step(self, c, a);
        a->in_step = rc == CO_WOULDBLOCK;
        if (rc == CO_WOULDBLOCK)
            return rc;
        if (rc == 0)
            rc = next_step(c, a, key, keylen);
    }
    c->auth = NULL;
    c->auth_task = NULL;
    free(a);
    if (rc == 1)
        return 0;
    return c->error ? c->error == rc ? rc : -EPROTO : co__conn_break(c, rc);
}

co_status co_conn_deliver_challenge(co_task *self, co_conn *c, const void *key,
                                    size_t keylen)
{
    return handshake(self, c, key, keylen, DELIVER_SEND, 1, __func__);
}

co_status co_conn_answer_challenge(co_task *self, co_conn *c, const void *key,
                                   size_t keylen)
{
    return handshake(self, c, key, keylen, ANSWER_RECV, 1, __func__);
}

co_status co_conn_auth_server(co_task *self, co_conn *c, const void *key,
                              size_t keylen)
{
    return handshake(self, c, key, keylen, DELIVER_SEND, 2, __func__);
}

co_status co_conn_auth_client(co_task *self, co_conn *c, const void *key,
                              size_t keylen)
{
    return handshake(self, c, key, keylen, ANSWER_RECV, 2, __func__);
}
