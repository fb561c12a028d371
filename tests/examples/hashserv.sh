#!/usr/bin/env bash
# hashserv.sh -- examples/hashserv against sha256sum (run by make check).
#
# Starts the server on a free port (it prints which) with --clients 3, and
# with python3 as the client checks that
#   - files (empty, small, a name with a space, a few MB) come back as
#     sha256sum prints them, a missing file and a directory as
#     "error PATH: <strerror>", an unknown command as an error line;
#   - while a big file hashes on a worker thread, a ping sent after the
#     hash on the same connection, and one on a second connection, are
#     both answered before the hash is (the loop never stalled);
#   - a client that hangs up mid-hash has its job freed by the call's
#     cleanup callback (the server says so);
#   - the server then exits by itself, with status 0 (in a sanitizer build
#     that also means no leak and no error).
# The big file is 64 MiB of a sparse file: a plain build hashes it in a
# third of a second, an ASan build in about one, and a ping takes well
# under a millisecond.  The temporary directory goes, and the server with
# it, whatever happens.
#
# Usage: bash tests/examples/hashserv.sh PATH/TO/hashserv
set -euo pipefail

bin=${1:?usage: hashserv.sh PATH/TO/hashserv}
for tool in python3 sha256sum truncate; do
    if ! command -v "$tool" >/dev/null; then
        echo "hashserv.sh: no $tool on this machine: skipped"
        exit 0
    fi
done

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

: > "$dir/empty"
printf 'hello\n' > "$dir/small"
printf 'spaced out\n' > "$dir/with space"
head -c 3000000 /dev/urandom > "$dir/mid"
truncate -s 64M "$dir/big"
mkdir "$dir/sub"
sha256sum "$dir/empty" "$dir/small" "$dir/with space" "$dir/mid" \
    "$dir/big" > "$dir/want"

python3 - "$bin" "$dir" <<'PY'
import select, socket, subprocess, sys, threading

server_bin, d = sys.argv[1], sys.argv[2]
want = {}
for line in open(d + "/want", encoding="utf-8"):
    want[line.split("  ", 1)[1].rstrip("\n")] = line.rstrip("\n")

def fail(msg):
    raise SystemExit("hashserv.sh: " + msg)

class Client:
    """Lines from a connection, with our own buffer: `pending` tells
    whether an answer has come that was not read yet."""
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
    def send(self, text):
        self.s.sendall(text.encode())
    def line(self):
        while b"\n" not in self.buf:
            data = self.s.recv(65536)
            if not data:
                fail("the server closed the connection")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()
    def pending(self):
        return bool(self.buf) or bool(select.select([self.s], [], [], 0)[0])
    def close(self):
        self.s.close()

proc = subprocess.Popen([server_bin, "0", "--clients", "3"],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                        text=True)
output = []
listening = threading.Event()

def read_output():
    for line in proc.stdout:
        output.append(line.rstrip("\n"))
        listening.set()
    listening.set()

reader = threading.Thread(target=read_output, daemon=True)
reader.start()
try:
    if not listening.wait(10) or not output or \
       not output[0].startswith("hashserv: listening on 127.0.0.1:"):
        fail("the server did not start: %r" % output)
    port = int(output[0].rsplit(":", 1)[1])

    # Files and errors, several hashes in flight: answers in any order.
    c1 = Client(port)
    names = ["empty", "small", "with space", "mid", "missing", "sub"]
    c1.send("".join("hash %s/%s\n" % (d, n) for n in names) + "frobnicate\n")
    expected = [want[d + "/" + n] for n in names[:4]] + [
        "error %s/missing: No such file or directory" % d,
        "error %s/sub: Is a directory" % d,
        "error commands are: hash PATH, ping"]
    got = [c1.line() for _ in expected]
    if sorted(got) != sorted(expected):
        fail("answers %r, expected %r" % (got, expected))

    # A big file: pings are answered while it hashes.
    c1.send("hash %s/big\nping\n" % d)
    if c1.line() != "pong":
        fail("the ping after the hash was not answered first")
    c2 = Client(port)
    c2.send("ping\r\n")
    if c2.line() != "pong":
        fail("no pong on the second connection")
    if c1.pending():
        fail("the big file was hashed before the second connection's ping "
             "was answered: nothing shows the loop kept serving")

    # A client that hangs up mid-hash.  The first pong comes once the
    # server has read the hash line and started its task; to answer the
    # second ping, sent after that pong, the handler had to wait for it,
    # and the hash task ran meanwhile: its call is queued or running when
    # the server sees the hang-up.
    c3 = Client(port)
    c3.send("hash %s/big\nping\n" % d)
    if c3.line() != "pong":
        fail("no pong on the third connection")
    c3.send("ping\n")
    if c3.line() != "pong":
        fail("no second pong on the third connection")
    c3.close()

    if c1.line() != want[d + "/big"]:
        fail("wrong hash of the big file")
    c2.close()
    c1.close()
    try:
        rc = proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        fail("the server did not exit after its 3 clients")
    reader.join(5)
    if rc != 0:
        fail("the server exited with %d:\n%s" % (rc, "\n".join(output)))
    gone = "hashserv: %s/big: its client has gone, job freed (" % d
    if not any(line.startswith(gone) for line in output):
        fail("no cleanup for the abandoned hash:\n" + "\n".join(output))
finally:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
print("hashserv.sh: ok (files, errors, pings while hashing, a client gone "
      "mid-hash)")
PY
