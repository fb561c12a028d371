/*
 * test_channel_auth.c -- the HMAC handshake between two C ends, in every
 * pairing of the legacy and the {digest} forms, byte for byte against
 * HMACs computed here, with wrong keys (-EACCES on both sides), malformed
 * handshakes (-EPROTO) and a silent peer; then channels over TCP and Unix
 * sockets, which refuse bad clients and keep accepting.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "channel_tasks.h"
#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "suites.h"

#define KEY "secret key"

struct scene {
    co_frame co;
    co_conn *p[2];
    co_socket *raw[2];
    co_channel *ch;
    co_task *a;
    co_timeout to;
    void *msg;
    size_t len;
    int rc, i;
    unsigned char buf[512];
};

/* One side of a handshake, then an echo of what follows. */
struct side {
    co_frame co;
    co_conn *c;
    const char *key;
    int server, rc;
    struct conn_echo_frame echo;
};

static co_status side(co_task *t, void *arg)
{
    struct side *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, f->server
                        ? co_conn_auth_server(t, f->c, f->key, strlen(f->key))
                        : co_conn_auth_client(t, f->c, f->key,
                                              strlen(f->key)));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    f->echo.c = f->c;
    CO_AWAIT_CALL(f->rc, conn_echo, &f->echo);
    CO_RETURN(f->rc);
    CO_END;
}

/* ------------------------------------------------------------ pairings */

#define DEFAULT "default"
static const char *const pairings[][2] = {     /* server's, client's */
    { DEFAULT, DEFAULT },
    { NULL, NULL },             /* legacy both ways: Python <= 3.11 */
    { NULL, DEFAULT },
    { "sha384", NULL },
    { "sha3_384", "md5" },
    { "sha3_256", "sha256" },
};

static void set_digest(co_conn *c, const char *name)
{
    if (!name || strcmp(name, DEFAULT) != 0)
        ck_assert_int_eq(co_conn_set_auth_digest(c, name), 0);
}

static co_status pairing_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_conn_pipe(f->p, 1), 0);
    set_digest(f->p[1], pairings[f->i][0]);
    set_digest(f->p[0], pairings[f->i][1]);
    {
        struct side s = { .c = f->p[1], .key = KEY, .server = 1 };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, side, s), 0);
    }
    CO_AWAIT(f->rc, co_conn_auth_client(t, f->p[0], KEY, strlen(KEY)));
    note("client=%s", chan_rcs(f->rc));
    CO_AWAIT(f->rc, co_conn_send_bytes(t, f->p[0], "ping", 0, 4));
    CO_AWAIT(f->rc, co_conn_recv_bytes_into(t, f->p[0], f->buf, 4, &f->len));
    note("echo=%.*s", (int)f->len, (char *)f->buf);
    ck_assert_int_eq(co_conn_close(&f->p[0]), 0);
    AWAIT_JOIN(f->rc, t, f->a);
    note("server=%s", chan_rcs(f->rc));
    ck_assert_int_eq(co_conn_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_pairings)
{
    struct scene m = { .i = _i };
    RUN(pairing_main, m);
    ck_assert_str_eq(lg, "client=0 echo=ping server=1");
}
END_TEST

/* A wrong key: -EACCES on both sides, both connections broken. */
static co_status wrong_key_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_conn_pipe(f->p, 1), 0);
    set_digest(f->p[1], pairings[f->i][0]);
    set_digest(f->p[0], pairings[f->i][1]);
    {
        struct side s = { .c = f->p[1], .key = "other key", .server = 1 };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, side, s), 0);
    }
    CO_AWAIT(f->rc, co_conn_auth_client(t, f->p[0], KEY, strlen(KEY)));
    note("client=%s", chan_rcs(f->rc));
    AWAIT_JOIN(f->rc, t, f->a);
    note("server=%s", chan_rcs(f->rc));
    note("errors=%s,%s", chan_rcs(co_conn_error(f->p[0])),
         chan_rcs(co_conn_error(f->p[1])));
    CO_AWAIT(f->rc, co_conn_send_bytes(t, f->p[0], "x", 0, 1));
    note("then=%s", chan_rcs(f->rc));
    ck_assert_int_eq(co_conn_close(&f->p[0]), 0);
    ck_assert_int_eq(co_conn_close(&f->p[1]), 0);
    CO_END;
}

START_TEST(test_wrong_key)
{
    struct scene m = { .i = _i };
    RUN(wrong_key_main, m);
    ck_assert_str_eq(lg, "client=EACCES server=EACCES errors=EACCES,EACCES "
                         "then=EPROTO");
}
END_TEST

/* ------------------------------------------------------------ the bytes */

static void open_raw(struct scene *f)
{
    open_socketpair(f->raw);
    ck_assert_int_eq(co_conn_new(&f->p[0], f->raw[0]), 0);
    f->raw[0] = NULL;
}

static void close_raw(struct scene *f)
{
    ck_assert_int_eq(co_conn_close(&f->p[0]), 0);
    co_socket_close(&f->raw[1]);
}

/* A frame for the raw peer: header and body into f->buf; its length. */
static size_t frame(struct scene *f, const void *body, size_t len)
{
    f->buf[0] = f->buf[1] = 0;
    f->buf[2] = (unsigned char)(len >> 8);
    f->buf[3] = (unsigned char)len;
    memcpy(f->buf + 4, body, len);
    return len + 4;
}

struct answerer {
    co_frame co;
    co_conn *c;
    int rc;
};

static co_status answerer(co_task *t, void *arg)
{
    struct answerer *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_conn_answer_challenge(t, f->c, KEY, strlen(KEY)));
    CO_RETURN(f->rc);
    CO_END;
}

/* Our answers to a legacy and to a {sha256} challenge are exactly what
 * Python computes: HMAC-MD5(key, M) raw; "{sha256}" + HMAC-SHA256(key, M)
 * over the whole M, its prefix included. */
static const unsigned char legacy_msg[] = "0123456789abcdefghij";
static const unsigned char modern_msg[] =
    "{sha256}0123456789abcdefghij0123456789abcdefghij";

static co_status answer_bytes_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    static unsigned char challenge[100], expected[100];
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < 2; f->i++) {
        open_raw(f);
        {
            struct answerer a = { .c = f->p[0] };
            ck_assert_int_gt(CO_SPAWN(t, &f->a, answerer, a), 0);
        }
        {
            const unsigned char *m = f->i ? modern_msg : legacy_msg;
            size_t mlen = f->i ? sizeof modern_msg - 1 : sizeof legacy_msg - 1;
            unsigned n = 0;
            memcpy(challenge, "#CHALLENGE#", 11);
            memcpy(challenge + 11, m, mlen);
            f->len = frame(f, challenge, 11 + mlen);
            if (f->i) {
                memcpy(expected, "{sha256}", 8);
                HMAC(EVP_sha256(), KEY, (int)strlen(KEY), m, mlen,
                     expected + 8, &n);
                n += 8;
            } else {
                HMAC(EVP_md5(), KEY, (int)strlen(KEY), m, mlen, expected, &n);
            }
            f->rc = (int)n;
        }
        f->msg = (void *)(size_t)f->rc;            /* the answer's length */
        CO_AWAIT(f->rc, co_socket_sendall(t, f->raw[1], f->buf, f->len,
                                          &f->len));
        CO_AWAIT(f->rc, co_socket_recv(t, f->raw[1], f->buf, sizeof f->buf,
                                       0));
        ck_assert_int_eq(f->rc, 4 + (int)(size_t)f->msg);
        ck_assert_int_eq(f->buf[3], (int)(size_t)f->msg);
        ck_assert_int_eq(memcmp(f->buf + 4, expected, (size_t)f->msg), 0);
        f->msg = NULL;
        f->len = frame(f, "#WELCOME#", 9);
        CO_AWAIT(f->rc, co_socket_sendall(t, f->raw[1], f->buf, f->len,
                                          &f->len));
        AWAIT_JOIN(f->rc, t, f->a);
        note("%s", chan_rcs(f->rc));
        close_raw(f);
    }
    CO_END;
}

START_TEST(test_answer_bytes)
{
    struct scene m = { 0 };
    RUN(answer_bytes_main, m);
    ck_assert_str_eq(lg, "0 0");
}
END_TEST

/* The challenges we deliver: "#CHALLENGE#" + 20 random bytes (legacy),
 * or + "{sha256}" + 40 (the default); then a reply that is no answer
 * (300 bytes: more than the 256 Python allows) is -EPROTO. */
struct deliverer {
    co_frame co;
    co_conn *c;
    int rc;
};

static co_status deliverer(co_task *t, void *arg)
{
    struct deliverer *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_conn_deliver_challenge(t, f->c, KEY, strlen(KEY)));
    CO_RETURN(f->rc);
    CO_END;
}

static co_status challenge_bytes_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < 3; f->i++) {
        open_raw(f);
        if (f->i == 0)
            ck_assert_int_eq(co_conn_set_auth_digest(f->p[0], NULL), 0);
        {
            struct deliverer d = { .c = f->p[0] };
            ck_assert_int_gt(CO_SPAWN(t, &f->a, deliverer, d), 0);
        }
        CO_AWAIT(f->rc, co_socket_recv(t, f->raw[1], f->buf, sizeof f->buf,
                                       0));
        ck_assert_int_eq(memcmp(f->buf + 4, "#CHALLENGE#", 11), 0);
        if (f->i)
            ck_assert_int_eq(memcmp(f->buf + 15, "{sha256}", 8), 0);
        note("challenge=%d", f->rc - 4 - 11);
        if (f->i < 2) {
            f->len = frame(f, chan_big, f->i ? 300 : 16);
        } else {                /* the right answer, as a legacy peer's */
            unsigned n = 0;
            HMAC(EVP_md5(), KEY, (int)strlen(KEY), f->buf + 15,
                 (size_t)f->rc - 15, f->buf + 200, &n);
            f->len = frame(f, f->buf + 200, n);
        }
        CO_AWAIT(f->rc, co_socket_sendall(t, f->raw[1], f->buf, f->len,
                                          &f->len));
        AWAIT_JOIN(f->rc, t, f->a);
        note("%s", chan_rcs(f->rc));
        if (f->i != 1) {        /* the verdict */
            CO_AWAIT(f->rc, co_socket_recv(t, f->raw[1], f->buf,
                                           sizeof f->buf, 0));
            note("%.*s", f->rc - 4, (char *)f->buf + 4);
        }
        close_raw(f);
    }
    CO_END;
}

START_TEST(test_challenge_bytes)
{
    struct scene m = { 0 };
    RUN(challenge_bytes_main, m);
    ck_assert_str_eq(lg, "challenge=20 EACCES #FAILURE# challenge=48 EPROTO "
                         "challenge=48 0 #WELCOME#");
}
END_TEST

/* Handshakes that are not: -EPROTO; a silent peer: the timeout, which
 * breaks the connection too. */
static const char *const not_challenges[] = {
    "#HELLO#0123456789abcdefghij",
    "#CHALLENGE#short",
    "#CHALLENGE#{sha1}0123456789abcdefghij0123456789abcdefghij",
    "#CHALLENGE#0123456789abcdefghij",       /* fine, but then no welcome */
};

static co_status malformed_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < 4; f->i++) {
        open_raw(f);
        {
            struct answerer a = { .c = f->p[0] };
            ck_assert_int_gt(CO_SPAWN(t, &f->a, answerer, a), 0);
        }
        f->len = frame(f, not_challenges[f->i], strlen(not_challenges[f->i]));
        if (f->i == 3) {        /* followed by a reply that is neither */
            memcpy(f->buf + f->len, "\0\0\0\6#WHAT#", 10);
            f->len += 10;
        }
        CO_AWAIT(f->rc, co_socket_sendall(t, f->raw[1], f->buf, f->len,
                                          &f->len));
        AWAIT_JOIN(f->rc, t, f->a);
        note("%s", chan_rcs(f->rc));
        close_raw(f);
    }
    open_raw(f);
    CO_AWAIT_TIMEOUT(f->rc, &f->to, 0.01,
                     co_conn_answer_challenge(t, f->p[0], KEY, strlen(KEY)));
    note("silent=%s error=%s", chan_rcs(f->rc),
         chan_rcs(co_conn_error(f->p[0])));
    close_raw(f);
    CO_END;
}

START_TEST(test_malformed)
{
    struct scene m = { 0 };
    RUN(malformed_main, m);
    ck_assert_str_eq(lg, "EPROTO EPROTO EPROTO EPROTO silent=TIMEOUT "
                         "error=TIMEOUT");
}
END_TEST

/* ------------------------------------------------------------ channels */

static size_t klen(const char *key)
{
    return key ? strlen(key) : 0;
}

/* Accept one authenticated client and echo for it. */
struct acceptor {
    co_frame co;
    co_channel *ch;
    const char *key;
    co_conn *conn;
    int rc;
    struct conn_echo_frame echo;
};

static co_status acceptor(co_task *t, void *arg)
{
    struct acceptor *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_channel_accept(t, f->ch, &f->conn, f->key,
                                      klen(f->key)));
    if (f->rc < 0) {
        ck_assert_ptr_null(f->conn);
        CO_RETURN(f->rc);
    }
    f->echo.c = f->conn;
    f->echo.close = 1;
    CO_AWAIT_CALL(f->rc, conn_echo, &f->echo);
    CO_RETURN(f->rc);
    CO_END;
}

static char unix_path[64];

static void make_path(void)
{
    char dir[] = "/tmp/curio-chan-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(unix_path, sizeof unix_path, "%s/ch", dir);
}

static void remove_path(void)
{
    char *slash = strrchr(unix_path, '/');
    ck_assert_int_eq(access(unix_path, F_OK), -1);     /* the channel's */
    *slash = 0;
    ck_assert_int_eq(rmdir(unix_path), 0);
}

#define CONNECT(f, key)                                                      \
    (f->i ? co_channel_connect_unix(t, &f->p[0], unix_path, key,             \
                                    klen(key))                               \
          : co_channel_connect(t, &f->p[0], "127.0.0.1",                     \
                               co_channel_port(f->ch), key, klen(key)))

/* A wrong key, a client speaking nonsense, then the right key: the first
 * two are refused, the channel goes on, the third is served. */
static co_status channel_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    if (f->i)
        ck_assert_int_eq(co_channel_unix(&f->ch, unix_path), 0);
    else
        ck_assert_int_eq(co_channel_tcp(&f->ch, "127.0.0.1", 0), 0);
    ck_assert_int_eq(co_channel_port(f->ch) > 0, !f->i);
    {
        struct acceptor a = { .ch = f->ch, .key = KEY };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, acceptor, a), 0);
    }
    CO_AWAIT(f->rc, CONNECT(f, "wrong key"));
    note("wrong=%s", chan_rcs(f->rc));
    ck_assert_ptr_null(f->p[0]);
    /* nonsense: a message that is no answer, then gone */
    CO_AWAIT(f->rc, f->i ? co_open_unix_connection(t, &f->raw[0], unix_path)
                         : co_open_connection(t, &f->raw[0], "127.0.0.1",
                                              co_channel_port(f->ch)));
    ck_assert_int_eq(f->rc, 0);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->raw[0], "\0\0\0\3abc", 7,
                                      &f->len));
    CO_AWAIT(f->rc, co_socket_recv(t, f->raw[0], f->buf, sizeof f->buf, 0));
    co_socket_close(&f->raw[0]);
    CO_AWAIT(f->rc, CONNECT(f, KEY));
    note("right=%s", chan_rcs(f->rc));
    CO_AWAIT(f->rc, co_conn_send_bytes(t, f->p[0], "ping", 0, 4));
    CO_AWAIT(f->rc, co_conn_recv_bytes(t, f->p[0], &f->msg, &f->len));
    note("echo=%.*s", (int)f->len, (char *)f->msg);
    free(f->msg);
    ck_assert_int_eq(co_conn_close(&f->p[0]), 0);
    AWAIT_JOIN(f->rc, t, f->a);
    note("served=%d refused=%lu", f->rc, co_channel_refused(f->ch));
    ck_assert_int_eq(co_channel_close(&f->ch), 0);
    ck_assert_int_eq(co_channel_close(&f->ch), -EBADF);
    CO_END;
}

START_TEST(test_channel_refuses)
{
    struct scene m = { .i = _i };
    if (_i)
        make_path();
    RUN(channel_main, m);
    if (_i)
        remove_path();
    ck_assert_str_eq(lg, "wrong=EACCES right=0 echo=ping served=1 "
                         "refused=2");
}
END_TEST

/* No key: no handshake (Python's authkey=None). */
static co_status no_key_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    ck_assert_int_eq(co_channel_unix(&f->ch, unix_path), 0);
    {
        struct acceptor a = { .ch = f->ch };
        ck_assert_int_gt(CO_SPAWN(t, &f->a, acceptor, a), 0);
    }
    f->i = 1;
    CO_AWAIT(f->rc, CONNECT(f, NULL));
    CO_AWAIT(f->rc, co_conn_send_bytes(t, f->p[0], "ping", 0, 4));
    CO_AWAIT(f->rc, co_conn_recv_bytes(t, f->p[0], &f->msg, &f->len));
    note("echo=%.*s", (int)f->len, (char *)f->msg);
    free(f->msg);
    ck_assert_int_eq(co_conn_close(&f->p[0]), 0);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(co_channel_close(&f->ch), 0);
    /* nobody there any more */
    CO_AWAIT(f->rc, CONNECT(f, KEY));
    note("gone=%s", chan_rcs(f->rc));
    ck_assert_ptr_null(f->p[0]);
    CO_END;
}

START_TEST(test_channel_no_key)
{
    struct scene m = { 0 };
    make_path();
    RUN(no_key_main, m);
    remove_path();
    ck_assert_str_eq(lg, "echo=ping gone=ENOENT");
}
END_TEST

/* Closing the channel wakes its accept with -EBADF, whether it waits for
 * a client or for a client's answer. */
static co_status close_main(co_task *t, void *arg)
{
    struct scene *f = arg;
    CO_BEGIN(t, f);
    for (f->i = 0; f->i < 2; f->i++) {
        ck_assert_int_eq(co_channel_tcp(&f->ch, "127.0.0.1", 0), 0);
        {
            struct acceptor a = { .ch = f->ch, .key = KEY };
            ck_assert_int_gt(CO_SPAWN(t, &f->a, acceptor, a), 0);
        }
        CO_AWAIT(f->rc, co_yield(t));
        if (f->i) {             /* a client that never answers */
            CO_AWAIT(f->rc, co_open_connection(t, &f->raw[0], "127.0.0.1",
                                               co_channel_port(f->ch)));
            CO_AWAIT(f->rc, co_socket_recv(t, f->raw[0], f->buf,
                                           sizeof f->buf, 0));
            ck_assert_int_gt(f->rc, 15);            /* its challenge */
        }
        ck_assert_str_eq(co_task_state(f->a), "blocked");
        CO_AWAIT(f->rc, co_channel_accept(t, f->ch, &f->p[0], KEY, 3));
        note("busy=%s", chan_rcs(f->rc));
        ck_assert_int_eq(co_channel_close(&f->ch), 0);
        AWAIT_JOIN(f->rc, t, f->a);
        note("accept=%s", chan_rcs(f->rc));
        co_socket_close(&f->raw[0]);
    }
    CO_END;
}

START_TEST(test_channel_close)
{
    struct scene m = { 0 };
    RUN(close_main, m);
    ck_assert_str_eq(lg, "busy=EBUSY accept=EBADF busy=EBUSY accept=EBADF");
}
END_TEST

Suite *channel_auth_suite(void)
{
    Suite *s = suite_create("channel_auth");
    TCase *tc = tcase_create("auth");
    tcase_add_checked_fixture(tc, channel_setup, NULL);
    tcase_set_timeout(tc, 60);
    int n = (int)(sizeof pairings / sizeof pairings[0]);
    tcase_add_loop_test(tc, test_pairings, 0, n);
    tcase_add_loop_test(tc, test_wrong_key, 0, n);
    tcase_add_test(tc, test_answer_bytes);
    tcase_add_test(tc, test_challenge_bytes);
    tcase_add_test(tc, test_malformed);
    tcase_add_loop_test(tc, test_channel_refuses, 0, 2);
    tcase_add_test(tc, test_channel_no_key);
    tcase_add_test(tc, test_channel_close);
    suite_add_tcase(s, tc);
    return s;
}
