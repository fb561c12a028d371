/*
 * connection_impl.h -- the connection's state, shared by net/connection.c
 * (framing), net/connection_auth.c (the handshake) and net/channel.c
 * (private to the library: not installed).
 */
#ifndef CO_CONNECTION_IMPL_H
#define CO_CONNECTION_IMPL_H

#include <stdint.h>

#include "connection.h"

/* Directions an operation holds (co__conn_enter). */
enum { CO__CONN_RX = 1, CO__CONN_TX = 2 };

/* The largest header: -1, then an 8-byte length. */
#define CO__CONN_HEADER_MAX 12

typedef struct co__conn_auth co__conn_auth;

struct co_conn {
    co_socket *rsock, *wsock;   /* the same socket, or two one-way ends;
                                   kept after a close for the tasks the
                                   close woke, which finish their wait */
    size_t max_size;
    int error;                  /* 0, or what broke the connection */
    uint32_t users;             /* tasks suspended in an operation on us */
    uint8_t closed;
    int8_t digest;              /* the challenges we deliver: an index in
                                   connection_auth.c's table, -1 legacy */
    uint8_t connecting;         /* net/channel.c: the connect under way */

    /* Receiving: the message under way.  The header survives an
     * interruption (it is ours), the body does not (the caller's). */
    co_task *rx_task;           /* suspended receiving */
    size_t rx_len, rx_got;      /* the body's length (once known), how
                                   much of it came */
    unsigned char *rx_buf;      /* co_conn_recv_bytes' allocation */
    uint8_t rx_hdr[CO__CONN_HEADER_MAX];
    uint8_t rx_hgot;            /* header bytes so far */
    uint8_t rx_have_len;        /* the header is complete: rx_len holds */

    /* Sending: the frame under way, header then body. */
    co_task *tx_task;           /* suspended sending */
    size_t tx_done;             /* bytes of the frame that went */
    uint8_t tx_hdr[CO__CONN_HEADER_MAX];
    uint8_t tx_hlen;

    co_task *auth_task;         /* in a handshake (holds both directions) */
    co__conn_auth *auth;        /* its state, allocated for its duration */
    co_socket *connect_sock;    /* net/channel.c: co_open_connection's */
};

/*
 * The start of every operation: THE RULE (core/waits.h) and the state
 * checks of a fresh call (-EBADF closed, -EPROTO broken, -EBUSY when
 * `dirs` are held by another task); on a re-evaluation, the bookkeeping of
 * the suspension, and -EBADF (finishing the socket's wait and freeing the
 * connection if last) when it was closed meanwhile.  1 with *rc when the
 * operation must return *rc now.
 */
int co__conn_enter(co_task *self, co_conn *c, int args_ok, int dirs, int *rc,
                   const char *func);

/* The framing, resumable: progress in c.  Send: `fresh` starts a new frame.
 * Receive into buf[0 .. limit): -EMSGSIZE for a longer message, left
 * unread; *len its length. */
co_status co__conn_send(co_task *self, co_conn *c, const void *body,
                        size_t size, int fresh);
co_status co__conn_recv_into(co_task *self, co_conn *c, void *buf,
                             size_t limit, size_t *len);

/* Break c with rc (returned): every later operation is -EPROTO. */
int co__conn_break(co_conn *c, int rc);

/* A connection with no socket yet (net/channel.c's connect). */
int co__conn_alloc(co_conn **out);

#endif /* CO_CONNECTION_IMPL_H */
