/*
 * test_server_setup.c -- setup errors, SO_REUSEPORT, handler frames made
 * from a template, and a server awaited inside a timeout region.
 */
#define _DEFAULT_SOURCE             /* setrlimit, dirent */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "server_tasks.h"
#include "net/server.h"
#include "suites.h"

/* ------------------------------------------------------------ server_setup errors */

struct noop_frame {
    CO_CLIENT_HEADER;
};

static co_status noop_handler(co_task *t, void *arg)
{
    struct noop_frame *f = arg;
    CO_BEGIN(t, f);
    CO_END;
}

static int run_server_alone(co_server_frame s)
{
    return co_run(s.path ? co_unix_server : co_tcp_server, &s, sizeof s);
}

START_TEST(test_setup_errors)
{
    co_server_frame ok = CO_TCP_SERVER_INIT("127.0.0.1", 0, noop_handler,
                                            struct noop_frame);
    co_server_frame s = ok;
    s.handler = NULL;
    ck_assert_int_eq(run_server_alone(s), -EINVAL);
    s = ok;
    s.handler_frame_size = sizeof(co_frame);
    ck_assert_int_eq(run_server_alone(s), -EINVAL);
    s = ok;
    s.backlog = -1;
    ck_assert_int_eq(run_server_alone(s), -EINVAL);
    s = ok;
    s.flags = 1u << 7;
    ck_assert_int_eq(run_server_alone(s), -EINVAL);
    /* A host name is resolved, not refused: test_thread_resolve_all.c. */
    s = ok;
    s.host = "1.2.3";
    ck_assert_int_eq(run_server_alone(s), -EINVAL);
    s = ok;
    s.port = 65536;
    ck_assert_int_eq(run_server_alone(s), -EINVAL);
    s = ok;
    s.family = AF_INET6;            /* an IPv4 host in IPv6 */
    ck_assert_int_eq(run_server_alone(s), -EINVAL);
    co_server_frame u = CO_UNIX_SERVER_INIT(NULL, noop_handler,
                                            struct noop_frame);
    ck_assert_int_eq(co_run(co_unix_server, &u, sizeof u), -EINVAL);
    u.path = "/nonexistent-dir/x.sock";
    ck_assert_int_eq(run_server_alone(u), -ENOENT);
}
END_TEST

/* Two servers on one port: refused, unless both ask for SO_REUSEPORT. */
static co_status reuse_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    co_server_frame *s = &f->inline_srv;    /* survives the awaits */
    CO_BEGIN(t, f);
    *s = (co_server_frame)CO_TCP_SERVER_INIT("127.0.0.1", 0, noop_handler,
                                             struct noop_frame);
    ck_assert_int_gt(CO_SPAWN(t, &f->server, co_tcp_server, *s), 0);
    f->srv = co_task_frame(f->server);
    CO_AWAIT(f->port, co_server_wait_ready(t, f->srv));
    s->port = f->port;
    ck_assert_int_gt(CO_SPAWN(t, &f->a, co_tcp_server, *s), 0);
    CO_AWAIT(f->rc, co_server_wait_ready(t, co_task_frame(f->a)));
    ck_assert_int_eq(f->rc, -EADDRINUSE);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, -EADDRINUSE);
    STOP_SERVER(t, f);

    s->flags = CO_SERVER_REUSEPORT;
    s->port = 0;
    ck_assert_int_gt(CO_SPAWN(t, &f->server, co_tcp_server, *s), 0);
    f->srv = co_task_frame(f->server);
    CO_AWAIT(f->port, co_server_wait_ready(t, f->srv));
    s->port = f->port;
    ck_assert_int_gt(CO_SPAWN(t, &f->a, co_tcp_server, *s), 0);
    CO_AWAIT(f->rc, co_server_wait_ready(t, co_task_frame(f->a)));
    ck_assert_int_eq(f->rc, f->port);
    CO_AWAIT(f->rc, co_task_cancel(t, f->a));
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, -ECANCELED);
    STOP_SERVER(t, f);
    CO_END;
}

START_TEST(test_reuse_port)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(reuse_main, &m, sizeof m), 0);
}
END_TEST

/* ------------------------------------------------------------ handler frames */

/* A template frame: its own fields reach every handler, its header is
 * replaced.  The handler closes the connection itself and says so. */
struct greeter_frame {
    CO_CLIENT_HEADER;
    const char *greeting;
    size_t sent;
    int rc;
};

static co_status greeter(co_task *t, void *arg)
{
    struct greeter_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_socket_sendall(t, f->client, f->greeting,
                                      strlen(f->greeting), &f->sent));
    co_socket_close(&f->client);    /* NULL now: the server must not */
    CO_RETURN(f->rc);
    CO_END;
}

static const struct greeter_frame greeter_template = {
    .client = (co_socket *)&greeter_template,   /* garbage, overwritten */
    .greeting = "hello from the template",
};

static co_status template_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    CO_BEGIN(t, f);
    f->inline_srv = (co_server_frame)CO_TCP_SERVER_INIT(
        "localhost", 0, greeter, struct greeter_frame);
    f->inline_srv.handler_frame = &greeter_template;
    ck_assert_int_gt(CO_SPAWN(t, &f->server, co_tcp_server, f->inline_srv),
                     0);
    f->srv = co_task_frame(f->server);
    CO_AWAIT(f->port, co_server_wait_ready(t, f->srv));
    for (f->i = 0; f->i < 2; f->i++) {
        CO_AWAIT(f->rc, co_open_connection(t, &f->s1, "localhost", f->port));
        ck_assert_int_eq(f->rc, 0);
        for (f->flag = 0;; f->flag += f->rc) {
            CO_AWAIT(f->rc, co_socket_recv(t, f->s1, f->buf + f->flag,
                                           sizeof f->buf - 1 - f->flag, 0));
            ck_assert_int_ge(f->rc, 0);
            if (f->rc == 0)
                break;
        }
        f->buf[f->flag] = '\0';
        note("%s", f->buf);
        co_socket_close(&f->s1);
    }
    STOP_SERVER(t, f);
    CO_END;
}

START_TEST(test_handler_frame_template)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(template_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "hello from the template hello from the template");
}
END_TEST

/* ------------------------------------------------------------ awaited */

/* The server awaited inside a timeout region: it serves a client, then the
 * timeout ends it like a cancellation would. */
struct timed_client_frame {
    co_frame co;
    co_server_frame *srv;
    struct client_frame c;
    int rc;
};

static co_status timed_client(co_task *t, void *arg)
{
    struct timed_client_frame *f = arg;
    CO_BEGIN(t, f);
    CO_AWAIT(f->rc, co_server_wait_ready(t, f->srv));
    if (f->rc < 0)
        CO_RETURN(f->rc);
    f->c.port = f->rc;
    f->c.msg = "timed";
    CO_AWAIT_CALL(f->rc, echo_client, &f->c);
    note("client=%s", rcs(f->rc));
    CO_RETURN(f->rc);
    CO_END;
}

static co_status awaited_main(co_task *t, void *arg)
{
    struct scene_frame *f = arg;
    struct timed_client_frame c = { 0 };
    CO_BEGIN(t, f);
    f->inline_srv = (co_server_frame)CO_TCP_SERVER_INIT(
        "127.0.0.1", 0, echo_handler, struct echo_frame);
    c.srv = &f->inline_srv;
    ck_assert_int_gt(CO_SPAWN(t, &f->a, timed_client, c), 0);
    co_timeout_after(t, &f->to, 0.2);
    CO_AWAIT_CALL(f->rc, co_tcp_server, &f->inline_srv);
    note("server=%s", rcs(f->rc));
    f->rc = co_timeout_end(t, &f->to, f->rc);
    note("region=%s", rcs(f->rc));
    ck_assert_uint_eq(f->inline_srv.accepted, 1);
    ck_assert_ptr_eq(f->inline_srv.task, t);
    AWAIT_JOIN(f->rc, t, f->a);
    ck_assert_int_eq(f->rc, 0);
    CO_END;
}

START_TEST(test_server_in_timeout_region)
{
    struct scene_frame m = { 0 };
    ck_assert_int_eq(co_run(awaited_main, &m, sizeof m), 0);
    ck_assert_str_eq(lg, "client=0 server=TIMEOUT region=TIMEOUT");
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *server_setup_suite(void)
{
    Suite *s = suite_create("server_setup");
    TCase *tc;

    tc = tcase_create("server");
    tcase_add_checked_fixture(tc, server_setup, server_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_setup_errors);
    tcase_add_test(tc, test_reuse_port);
    tcase_add_test(tc, test_handler_frame_template);
    tcase_add_test(tc, test_server_in_timeout_region);
    suite_add_tcase(s, tc);
    return s;
}
