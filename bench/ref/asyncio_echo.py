"""asyncio_echo.py -- the Python reference for the echo benchmark.

Usage: python3 asyncio_echo.py PORT [--uvloop]

An asyncio.Protocol echo server (data_received -> transport.write), the
shape of the servers in uvloop's published benchmarks that Curio's README
compares itself with; the streams API would add a coroutine switch per
message.  --uvloop installs uvloop's event loop policy first.  Listens on
0.0.0.0:PORT with SO_REUSEADDR and exits 0 on SIGTERM or SIGINT.

Note: asyncio and uvloop set TCP_NODELAY on every TCP connection
themselves; the C servers in the benchmark do not.
"""

import asyncio
import signal
import sys


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def serve(port):
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set_result, None)
    server = await loop.create_server(Echo, "0.0.0.0", port,
                                      reuse_address=True, backlog=1024)
    async with server:
        await stop


def main(argv):
    args = argv[1:]
    use_uvloop = "--uvloop" in args
    if use_uvloop:
        args.remove("--uvloop")
    if len(args) != 1 or not args[0].isdigit():
        print("usage: asyncio_echo.py PORT [--uvloop]", file=sys.stderr)
        return 2
    if use_uvloop:
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(serve(int(args[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
