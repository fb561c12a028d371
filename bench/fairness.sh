#!/usr/bin/env bash
# fairness.sh -- the I/O budget against a flooding publisher (docs/network.md,
# "Fairness").  examples/chat.c forwards every line a client sends into each
# other client's outbox (a bounded queue of 64; a line is dropped for a
# client whose outbox is full).  One subscriber connects, then a publisher
# sends N lines in one blast; the subscriber reads until it has been idle
# for a second.  Without a budget the publisher's handler reads line after
# line from its stream's buffer without ever suspending, and the
# subscriber's writer task only runs once the blast is over: nearly every
# line is dropped.  With the budget (64 by default) the writer runs every 64
# lines and nothing is dropped.
#
# Environment:
#   FAIR_LINES  lines per blast (default 20000)
#   FAIR_RUNS   blasts (default 3)
#   BUILD       build directory (default build)
#   CHAT        the server (default $BUILD/examples/chat, built by make)
#
# Prints one line per run ("received R of N, dropped D") and exits 1 if a
# run lost a line.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

FAIR_LINES=${FAIR_LINES:-20000}
FAIR_RUNS=${FAIR_RUNS:-3}
BUILD=${BUILD:-build}
CHAT=${CHAT:-$BUILD/examples/chat}
[[ -x $CHAT ]] || { echo "fairness.sh: $CHAT is not built (run make)" >&2; exit 1; }

lost=0
for ((run = 1; run <= FAIR_RUNS; run++)); do
    result=$(python3 - "$CHAT" "$FAIR_LINES" <<'EOF'
import socket, subprocess, sys, time

chat, n = sys.argv[1], int(sys.argv[2])
probe = socket.socket()
probe.bind(("127.0.0.1", 0))
port = probe.getsockname()[1]
probe.close()
server = subprocess.Popen([chat, str(port), "--quiet"], text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
try:
    for _ in range(250):
        try:
            sub = socket.create_connection(("127.0.0.1", port))
            break
        except ConnectionRefusedError:
            time.sleep(0.02)
    else:
        sys.exit("the chat server did not start")
    welcome = b""
    while not welcome.endswith(b"\n"):
        welcome += sub.recv(4096)
    pub = socket.create_connection(("127.0.0.1", port))
    time.sleep(0.2)                     # its handler and outbox are ready
    pub.sendall(b"".join(b"PUB message %08d\n" % i for i in range(n)))
    sub.settimeout(1.0)
    got = 0
    try:
        while True:
            data = sub.recv(1 << 16)
            if not data:
                break
            got += data.count(b"\n")
    except socket.timeout:
        pass
    pub.close()
    sub.close()
    time.sleep(0.2)
finally:
    server.terminate()
out = server.communicate()[0]
dropped = sum(int(l.split()[1]) for l in out.splitlines() if "dropped" in l)
print(got, dropped)
EOF
)
    read -r got dropped <<<"$result"
    printf 'fairness: publisher blast of %d lines: received %d, dropped %d\n' \
        "$FAIR_LINES" "$got" "$dropped"
    (( got == FAIR_LINES && dropped == 0 )) || lost=1
done
exit $lost
