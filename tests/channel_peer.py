"""channel_peer.py -- the Python end of the channel_python suite.

    channel_peer.py listen|connect ADDRESS KEY [--modern [DIGEST]]

ADDRESS is a Unix path or HOST:PORT.  `listen` makes a Listener (port 0:
the system's choice) and prints "ready PORT" once it listens; `connect`
is a Client.  Either way it then echoes every message back until the end
of the stream, and exits 0; a failed handshake exits 3.

--modern: speak Python 3.12's handshake ({digest}-prefixed challenge and
answer) even on an older Python, by replacing the module's two halves with
the short ones below (DIGEST: what we ask for, default sha256).  On 3.12
and later the module's own are used.
"""
import hmac
import os
import re
import sys
import multiprocessing.connection as mc
from multiprocessing import AuthenticationError

NAMES = rb'\{(md5|sha256|sha384|sha3_256|sha3_384)\}'


def deliver_challenge(conn, key, digest='sha256'):
    msg = b'{%s}' % digest.encode() + os.urandom(40)
    conn.send_bytes(b'#CHALLENGE#' + msg)
    resp = conn.recv_bytes(256)
    m = re.match(NAMES, resp)
    name, mac = ('md5', resp) if len(resp) in (16, 20) or not m else \
        (m.group(1).decode(), resp[m.end():])
    ok = hmac.compare_digest(hmac.new(key, msg, name).digest(), mac)
    conn.send_bytes(b'#WELCOME#' if ok else b'#FAILURE#')
    if not ok:
        raise AuthenticationError('digest received was wrong')


def answer_challenge(conn, key):
    msg = conn.recv_bytes(256)
    if not msg.startswith(b'#CHALLENGE#'):
        raise AuthenticationError('expected a challenge')
    msg = msg[len(b'#CHALLENGE#'):]
    m = re.match(NAMES, msg)
    if len(msg) == 20 or not m:
        resp = hmac.new(key, msg, 'md5').digest()
    else:
        resp = m.group(0) + hmac.new(key, msg, m.group(1).decode()).digest()
    conn.send_bytes(resp)
    if conn.recv_bytes(256) != b'#WELCOME#':
        raise AuthenticationError('digest sent was rejected')


def main():
    mode, address, key = sys.argv[1], sys.argv[2], sys.argv[3].encode()
    if '--modern' in sys.argv and sys.version_info < (3, 12):
        rest = sys.argv[sys.argv.index('--modern') + 1:]
        digest = rest[0] if rest else 'sha256'
        mc.deliver_challenge = \
            lambda c, k: deliver_challenge(c, k, digest)
        mc.answer_challenge = answer_challenge
    if ':' in address:
        host, port = address.rsplit(':', 1)
        address = (host, int(port))
    try:
        if mode == 'listen':
            with mc.Listener(address, authkey=key) as listener:
                bound = listener.address
                print('ready', bound[1] if isinstance(bound, tuple) else 0,
                      flush=True)
                conn = listener.accept()
        else:
            conn = mc.Client(address, authkey=key)
    except AuthenticationError as e:
        print('channel_peer.py: handshake failed:', e, file=sys.stderr)
        sys.exit(3)
    with conn:
        while True:
            try:
                msg = conn.recv_bytes()
            except EOFError:
                break
            conn.send_bytes(msg)


if __name__ == '__main__':
    main()
