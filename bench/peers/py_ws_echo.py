#!/usr/bin/env python3
"""Echo server on the Python `websockets` package (asyncio API), for bench/run.

Echoes every data message with its type kept; `websockets` answers Pings itself. Prints
`listening on ws://127.0.0.1:PORT/` first, like `wsbeat echo-server`. Compression and the
library's own keepalive pings are off, so it does what the other echo servers do and no more.

    python3 py_ws_echo.py [--listen HOST:PORT]     (default 127.0.0.1:0)
"""

import argparse
import asyncio
import signal

from websockets.asyncio.server import serve


async def echo(ws):
    try:
        async for message in ws:
            await ws.send(message)
    except Exception:  # a peer that vanishes is not the server's problem here
        pass


async def main(host: str, port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.cancel)
    async with serve(
        echo, host, port, compression=None, ping_interval=None, max_size=2**24, backlog=4096
    ) as server:
        bound = server.sockets[0].getsockname()[1]
        print(f"listening on ws://{host}:{bound}/", flush=True)
        try:
            await stop
        except asyncio.CancelledError:
            pass


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", default="127.0.0.1:0", metavar="HOST:PORT")
    a = ap.parse_args()
    h, _, p = a.listen.rpartition(":")
    asyncio.run(main(h, int(p)))
