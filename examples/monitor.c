/*
 * monitor.c -- a console for the debug monitor of a running curio program
 * (core/monitor.h): connect, send what you type, print the answers.
 *
 * Usage: monitor [HOST:PORT]      (default 127.0.0.1:48802)
 *
 * Start a program with CURIO_MONITOR=1 in its environment (or one that
 * calls co_kernel_enable_monitor), then run this and type `help`.
 * `nc 127.0.0.1 48802` works as well; this adds line editing and history
 * when the build found GNU readline (CO_HAVE_READLINE, set by the
 * Makefile), and reads plain lines from stdin otherwise.
 *
 * The console is strictly question and answer: every line sent gets one
 * answer ending with the prompt "curio > ".  So this client needs no
 * kernel: it blocks on the socket until the prompt comes, then on the
 * keyboard (readline blocks too), in turn.
 */
#define _POSIX_C_SOURCE 200809L
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef CO_HAVE_READLINE
#include <readline/history.h>
#include <readline/readline.h>
#endif

#define PROMPT "curio > "

static const char usage[] =
    "usage: monitor [HOST:PORT]\n"
    "Talk to the debug monitor of a curio program (type help there).\n"
    "  HOST:PORT  where it listens (default 127.0.0.1:48802; [::1]:PORT "
    "for IPv6)\n"
#ifdef CO_HAVE_READLINE
    "Line editing and history: GNU readline.\n";
#else
    "Built without readline: no line editing.\n";
#endif

/* Connect to "host:port"; the fd, or -1 after saying why. */
static int connect_to(const char *addr)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    size_t n = colon ? (size_t)(colon - addr) : 0;
    if (!colon || n == 0 || n >= sizeof host) {
        fprintf(stderr, "monitor: %s: expected HOST:PORT\n", addr);
        return -1;
    }
    memcpy(host, addr, n);
    host[n] = '\0';
    if (host[0] == '[' && host[n - 1] == ']') {     /* [::1] */
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
    }
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *p;
    int rc = getaddrinfo(host, colon + 1, &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "monitor: %s: %s\n", addr, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (p = ai; p && fd < 0; p = p->ai_next) {
        fd = socket(p->ai_family, p->ai_socktype, p->ai_protocol);
        if (fd >= 0 && connect(fd, p->ai_addr, p->ai_addrlen) < 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0)
        fprintf(stderr, "monitor: cannot connect to %s (is the program "
                        "running with CURIO_MONITOR=1?)\n", addr);
    return fd;
}

/* Print what comes until the prompt (not printed: the line reader shows
 * its own).  0 at the prompt, -1 when the monitor closed the console. */
static int print_answer(int fd)
{
    static char buf[4096];
    size_t p = strlen(PROMPT), held = 0;  /* bytes that may start a prompt */
    for (;;) {
        ssize_t n = recv(fd, buf + held, sizeof buf - held, 0);
        if (n <= 0) {
            fwrite(buf, 1, held, stdout);
            return -1;
        }
        size_t len = held + (size_t)n;
        if (len >= p && memcmp(buf + len - p, PROMPT, p) == 0) {
            fwrite(buf, 1, len - p, stdout);
            fflush(stdout);
            return 0;
        }
        /* keep a tail that could be the start of a prompt split by TCP */
        held = len < p ? len : p - 1;
        fwrite(buf, 1, len - held, stdout);
        memmove(buf, buf + len - held, held);
    }
}

/* The next line typed, without its newline (malloc'd), or NULL at EOF. */
static char *read_command(void)
{
#ifdef CO_HAVE_READLINE
    char *line = readline(PROMPT);
    if (line && *line)
        add_history(line);
    return line;
#else
    char *line = NULL;
    size_t cap = 0;
    fputs(PROMPT, stdout);
    fflush(stdout);
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    if (n > 0 && line[n - 1] == '\n')
        line[n - 1] = '\0';
    return line;
#endif
}

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 ||
                     strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    int fd = connect_to(argc > 1 ? argv[1] : "127.0.0.1:48802");
    if (fd < 0)
        return 1;
    while (print_answer(fd) == 0) {
        char *line = read_command();
        if (!line) {                        /* end of input: leave politely */
            (void)!send(fd, "quit\n", 5, MSG_NOSIGNAL);
            break;
        }
        size_t n = strlen(line);
        line[n] = '\n';                     /* over its NUL: sent, not printed */
        ssize_t sent = send(fd, line, n + 1, MSG_NOSIGNAL);
        free(line);
        if (sent < 0)
            break;
    }
    close(fd);
    return 0;
}
