/*
 * test_socket_addr.c -- the address helpers: co_sockaddr_inet (IPv4, IPv6,
 * bad input) and co_sockaddr_unix (paths, the length limit).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "curio.h"
#include "helpers.h"
#include "log.h"
#include "socket_tasks.h"
#include "suites.h"

/* ------------------------------------------------------------ addresses */

static const struct sockaddr_in *sin4(const co_sockaddr *a)
{
    return (const struct sockaddr_in *)(const void *)&a->ss;
}

static const struct sockaddr_in6 *sin6(const co_sockaddr *a)
{
    return (const struct sockaddr_in6 *)(const void *)&a->ss;
}

START_TEST(test_sockaddr_inet)
{
    co_sockaddr a;
    int fds = count_fds();

    ck_assert_int_eq(co_sockaddr_inet(&a, AF_UNSPEC, "127.0.0.1", 8080), 0);
    ck_assert_int_eq(a.ss.ss_family, AF_INET);
    ck_assert_uint_eq(a.len, sizeof(struct sockaddr_in));
    ck_assert_uint_eq(sin4(&a)->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    ck_assert_uint_eq(sin4(&a)->sin_port, htons(8080));
    ck_assert_int_eq(co_sockaddr_port(&a), 8080);

    ck_assert_int_eq(co_sockaddr_inet(&a, AF_INET, "127.0.0.1", 0), 0);
    ck_assert_int_eq(co_sockaddr_port(&a), 0);
    ck_assert_int_eq(co_sockaddr_inet(&a, AF_INET, "10.1.2.3", 65535), 0);
    ck_assert_uint_eq(sin4(&a)->sin_addr.s_addr, htonl(0x0a010203));
    ck_assert_int_eq(co_sockaddr_port(&a), 65535);

    ck_assert_int_eq(co_sockaddr_inet(&a, AF_UNSPEC, "::1", 443), 0);
    ck_assert_int_eq(a.ss.ss_family, AF_INET6);
    ck_assert_uint_eq(a.len, sizeof(struct sockaddr_in6));
    ck_assert(IN6_IS_ADDR_LOOPBACK(&sin6(&a)->sin6_addr));
    ck_assert_int_eq(co_sockaddr_port(&a), 443);
    ck_assert_int_eq(co_sockaddr_inet(&a, AF_INET6, "::1", 1), 0);
    ck_assert_int_eq(a.ss.ss_family, AF_INET6);

    /* localhost: the loopback address of the family asked for */
    ck_assert_int_eq(co_sockaddr_inet(&a, AF_INET, "localhost", 25), 0);
    ck_assert_int_eq(a.ss.ss_family, AF_INET);
    ck_assert_uint_eq(sin4(&a)->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    ck_assert_int_eq(co_sockaddr_port(&a), 25);
    ck_assert_int_eq(co_sockaddr_inet(&a, AF_INET6, "localhost", 25), 0);
    ck_assert_int_eq(a.ss.ss_family, AF_INET6);
    ck_assert(IN6_IS_ADDR_LOOPBACK(&sin6(&a)->sin6_addr));
    ck_assert_int_eq(co_sockaddr_inet(&a, AF_UNSPEC, "localhost", 25), 0);
    ck_assert(a.ss.ss_family == AF_INET || a.ss.ss_family == AF_INET6);
    if (a.ss.ss_family == AF_INET)
        ck_assert_uint_eq(sin4(&a)->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    else
        ck_assert(IN6_IS_ADDR_LOOPBACK(&sin6(&a)->sin6_addr));

    /* NULL and "": any address, IPv4 unless asked otherwise */
    ck_assert_int_eq(co_sockaddr_inet(&a, AF_UNSPEC, NULL, 80), 0);
    ck_assert_int_eq(a.ss.ss_family, AF_INET);
    ck_assert_uint_eq(sin4(&a)->sin_addr.s_addr, htonl(INADDR_ANY));
    ck_assert_int_eq(co_sockaddr_port(&a), 80);
    ck_assert_int_eq(co_sockaddr_inet(&a, AF_UNSPEC, "", 81), 0);
    ck_assert_int_eq(a.ss.ss_family, AF_INET);
    ck_assert_uint_eq(sin4(&a)->sin_addr.s_addr, htonl(INADDR_ANY));
    ck_assert_int_eq(co_sockaddr_inet(&a, AF_INET6, NULL, 82), 0);
    ck_assert_int_eq(a.ss.ss_family, AF_INET6);
    ck_assert(IN6_IS_ADDR_UNSPECIFIED(&sin6(&a)->sin6_addr));
    ck_assert_int_eq(co_sockaddr_port(&a), 82);

    /* names are not resolved (yet) */
    ck_assert_int_eq(co_sockaddr_inet(&a, AF_UNSPEC, "example.com", 80),
                     -ENOTSUP);
    ck_assert_int_eq(co_sockaddr_inet(&a, AF_INET, "example.com", 80),
                     -ENOTSUP);

    /* bad ports, bad pointers */
    ck_assert_int_eq(co_sockaddr_inet(&a, AF_INET, "127.0.0.1", -1), -EINVAL);
    ck_assert_int_eq(co_sockaddr_inet(&a, AF_INET, "127.0.0.1", 65536),
                     -EINVAL);
    ck_assert_int_eq(co_sockaddr_inet(&a, AF_INET, "127.0.0.1", 70000),
                     -EINVAL);
    ck_assert_int_eq(co_sockaddr_inet(NULL, AF_INET, "127.0.0.1", 80),
                     -EINVAL);
    ck_assert_int_eq(co_sockaddr_port(NULL), -EINVAL);
    ck_assert_int_eq(count_fds(), fds);
}
END_TEST

START_TEST(test_sockaddr_unix)
{
    co_sockaddr a;
    char path[300];
    int fds = count_fds();
    const size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;

    ck_assert_int_eq(co_sockaddr_unix(&a, "/tmp/x.sock"), 0);
    ck_assert_int_eq(a.ss.ss_family, AF_UNIX);
    ck_assert_str_eq(((struct sockaddr_un *)(void *)&a.ss)->sun_path,
                     "/tmp/x.sock");
    ck_assert_uint_ge(a.len, offsetof(struct sockaddr_un, sun_path) + 11);
    ck_assert_uint_le(a.len, sizeof(struct sockaddr_un));
    ck_assert_int_eq(co_sockaddr_port(&a), -EINVAL);

    /* the longest path that fits with its NUL */
    memset(path, 'p', max);
    path[0] = '/';
    path[max] = '\0';
    ck_assert_int_eq(co_sockaddr_unix(&a, path), 0);
    ck_assert_str_eq(((struct sockaddr_un *)(void *)&a.ss)->sun_path, path);

    memset(path, 'p', sizeof path - 1);
    path[0] = '/';
    path[max + 2] = '\0';
    ck_assert_int_eq(co_sockaddr_unix(&a, path), -ENAMETOOLONG);
    path[max + 2] = 'p';
    path[sizeof path - 1] = '\0';
    ck_assert_int_eq(co_sockaddr_unix(&a, path), -ENAMETOOLONG);

    ck_assert_int_eq(co_sockaddr_unix(NULL, "/tmp/x.sock"), -EINVAL);
    ck_assert_int_eq(co_sockaddr_unix(&a, NULL), -EINVAL);
    ck_assert_int_eq(count_fds(), fds);
}
END_TEST

/* ------------------------------------------------------------ suite */

Suite *socket_addr_suite(void)
{
    Suite *s = suite_create("socket_addr");
    TCase *tc = tcase_create("addresses");
    tcase_add_checked_fixture(tc, socket_setup, NULL);
    tcase_add_test(tc, test_sockaddr_inet);
    tcase_add_test(tc, test_sockaddr_unix);
    suite_add_tcase(s, tc);
    return s;
}
