/*
 * connection.h -- whole byte messages over a socket or a pipe, in the wire
 * format of Python's multiprocessing.connection (Curio's curio.channel
 * Connection), so that a C program and a Python one can talk.
 *
 *     CO_AWAIT(f->rc, co_conn_send_bytes(t, f->conn, "hello", 0, 5));
 *     CO_AWAIT(f->rc, co_conn_recv_bytes(t, f->conn, &f->msg, &f->len));
 *     ...
 *     free(f->msg);
 *
 * The framing.  A message is a 4-byte big-endian signed length, then the
 * bytes; a message of more than 0x7fffffff bytes is announced by the
 * length -1 and then an 8-byte big-endian length (Python 3.8 and later).
 *
 * The handshake.  co_conn_deliver_challenge and co_conn_answer_challenge
 * are the two halves of Python's HMAC challenge with a shared key
 * (deliver_challenge / answer_challenge); a server does both, deliver
 * first (co_conn_auth_server), a client both, answer first
 * (co_conn_auth_client), as multiprocessing.connection.Listener / Client
 * and Curio's Channel do.  Both forms are spoken: the legacy one (Python
 * up to 3.11: a 20-byte challenge answered with a raw HMAC-MD5) and the
 * one Python 3.12 brought (a challenge "{sha256}" + 40 random bytes,
 * answered with "{sha256}" + HMAC-SHA256 of the whole challenge).  We
 * deliver the 3.12 form unless told otherwise (co_conn_set_auth_digest),
 * which a legacy peer answers with HMAC-MD5 and we accept, as 3.12 does;
 * we answer each form in kind.  A wrong key is -EACCES on both sides (the
 * deliverer sends #FAILURE#); a handshake that is not one is -EPROTO.
 *
 * Blocking operations are primitives: await them with CO_AWAIT, one task
 * receiving and one sending at a time (-EBUSY for a second one while the
 * first is suspended; a handshake holds both directions).
 *
 * A message is atomic.  Its progress lives in the connection, so buffers
 * need only stay put while the call is suspended (in the frame or on the
 * heap); out-parameters are written when the call returns.  A call
 * interrupted (cancellation, timeout, close, error) before any byte of the
 * message's body went or came loses nothing: a send sent nothing, a
 * receive leaves the message (even a length half received) for the next
 * receive.  Interrupted in the middle of a message, the connection cannot
 * frame another one: it is *broken*, and every later call on it returns
 * -EPROTO, never a misframed message.  co_conn_error() says why (the
 * result of the call that broke it).  An interrupted handshake breaks it
 * too; so does a failed one (-EACCES), a header announcing more than the
 * connection's maximum (-EMSGSIZE: refused before anything is allocated),
 * an end of stream inside a message (-EPROTO) and a malformed length.
 *
 * Results: 0 or a negative errno: -EPIPE at the end of the stream between
 * two messages (Python's EOFError) or a peer gone while sending, -EPROTO
 * (broken, or the peer's protocol error), -EMSGSIZE, -EACCES, -ECONNRESET,
 * -EBUSY, -EBADF (closed while waiting), -ECANCELED, -ETIMEDOUT, -ENOMEM,
 * -EINVAL for bad arguments (THE RULE, core/waits.h).
 *
 * Lifetime: co_conn_close(&c) closes its socket(s) at once, wakes a task
 * blocked in an operation on it with -EBADF, and sets c to NULL; the
 * memory goes when no task is inside an operation any more (as
 * co_socket_close).
 */
#ifndef CO_CONNECTION_H
#define CO_CONNECTION_H

#include <stddef.h>

#include "../core/api.h"
#include "../core/task.h"
#include "socket.h"

typedef struct co_conn co_conn;

/* The largest message a new connection accepts: 32 MiB.  Python has no
 * such bound; ours keeps a peer from making us allocate what it likes. */
#define CO_CONN_DEFAULT_MAX_SIZE ((size_t)32 << 20)

/* ------------------------------------------------------------ lifetime */

/* A connection over a connected stream socket (or a socket-like fd wrapped
 * by co_socket_from_fd).  On success it owns sock. */
CO_API int co_conn_new(co_conn **out, co_socket *sock);

/* A connection over two one-way ends, e.g. the read end of one pipe and the
 * write end of another; either may be NULL for a one-way connection
 * (receiving on one with no read end, or sending on one with no write
 * end, is -EINVAL).  Not both NULL, and not the same socket twice.  On
 * success it owns both. */
CO_API int co_conn_new_pair(co_conn **out, co_socket *rsock,
                            co_socket *wsock);

/* Python's multiprocessing.Pipe(duplex): two connected connections.
 * duplex: over a socketpair, both ways.  Not duplex: over a pipe(2),
 * pair[0] only receives and pair[1] only sends.  Needs a kernel running
 * in this thread. */
CO_API int co_conn_pipe(co_conn *pair[2], int duplex);

/* Close *c (its socket or both ends) and set *c to NULL.  0, or the first
 * close error; -EBADF if *c is NULL; -EINVAL if c is NULL. */
CO_API int co_conn_close(co_conn **c);

/* ------------------------------------------------------------ settings */

/* The largest message a receive accepts (default CO_CONN_DEFAULT_MAX_SIZE;
 * at least 256, for the handshake).  0 or -EINVAL. */
CO_API int co_conn_set_max_size(co_conn *c, size_t max);
CO_API size_t co_conn_max_size(const co_conn *c);

/* 0 while the connection frames messages; once broken, the negative errno
 * that broke it (every later operation returns -EPROTO). */
CO_API int co_conn_error(const co_conn *c);

/* The sockets beneath: read end, write end (the same for a socket); NULL
 * for a missing end.  Still the connection's: do not close them. */
CO_API co_socket *co_conn_reader(const co_conn *c);
CO_API co_socket *co_conn_writer(const co_conn *c);

/*
 * The digest of the challenges this connection delivers: "sha256" (the
 * default, as Python 3.12), "md5", "sha384", "sha3_256" or "sha3_384" --
 * the 3.12 form, "{name}" + 40 random bytes -- or NULL for the legacy
 * form (20 random bytes, HMAC-MD5), which Python 3.11 and older deliver.
 * Answers to our challenge are accepted in any of these digests, or as a
 * raw HMAC-MD5 (a legacy peer), as Python 3.12 accepts them.  0 or
 * -EINVAL for another name.
 */
CO_API int co_conn_set_auth_digest(co_conn *c, const char *name);

/* ------------------------------------------------------------ messages */

/*
 * Blocking: send buf[offset .. offset + size) as one message (Python's
 * send_bytes(buf, offset, size)).  0 once all of it went.  An interruption
 * after part of the message went breaks the connection (see above); before,
 * nothing went.
 */
CO_API co_status co_conn_send_bytes(co_task *self, co_conn *c, const void *buf,
                                    size_t offset, size_t size);

/*
 * Blocking: receive one message into memory of its own: *data is malloc'd
 * (free() it; not NULL even for an empty message) and *len its length.
 * On failure *data is NULL and *len 0.  -EMSGSIZE (and broken) for a
 * message longer than the connection's maximum, before allocating.
 */
CO_API co_status co_conn_recv_bytes(co_task *self, co_conn *c, void **data,
                                    size_t *len);

/*
 * Blocking: receive one message into buf (Python's recv_bytes_into): 0
 * with *len its length.  A message longer than buflen is -EMSGSIZE with
 * *len its length, and stays unread: the next receive returns it (with a
 * buffer of *len bytes, or co_conn_recv_bytes), and the connection is not
 * broken -- where Python raises BufferTooShort carrying the message.
 * (Longer than the maximum, it is -EMSGSIZE and broken, as above:
 * co_conn_error tells the two apart.)  On other failures *len is 0.
 */
CO_API co_status co_conn_recv_bytes_into(co_task *self, co_conn *c, void *buf,
                                         size_t buflen, size_t *len);

/* ------------------------------------------------------------ handshake */

/*
 * Blocking: the handshake halves, with the shared key key[0 .. keylen)
 * (key may be NULL only for keylen 0).  deliver: send a challenge, check
 * the answer, send #WELCOME# (0) or #FAILURE# (-EACCES).  answer: answer
 * the peer's challenge; 0 once welcomed, -EACCES if refused, -EPROTO for
 * anything that is not the handshake.  The server side of a connection
 * does co_conn_auth_server (deliver, then answer), the client side
 * co_conn_auth_client (answer, then deliver).  Any failure or
 * interruption breaks the connection: close it.
 */
CO_API co_status co_conn_deliver_challenge(co_task *self, co_conn *c,
                                           const void *key, size_t keylen);
CO_API co_status co_conn_answer_challenge(co_task *self, co_conn *c,
                                          const void *key, size_t keylen);
CO_API co_status co_conn_auth_server(co_task *self, co_conn *c,
                                     const void *key, size_t keylen);
CO_API co_status co_conn_auth_client(co_task *self, co_conn *c,
                                     const void *key, size_t keylen);

#endif /* CO_CONNECTION_H */
