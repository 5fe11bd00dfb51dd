#!/usr/bin/env python3
"""A `websockets` echo server on a Unix socket, for wsbeat's Unix-socket tests. The first
message it sends tells what the client asked for: `PATH HOST`. Then it echoes.

Usage: unix_server.py SOCKET_PATH; prints `listening unix:SOCKET_PATH` when ready.
"""

import asyncio
import sys

from websockets.asyncio.server import unix_serve


async def handler(ws):
    await ws.send(f"{ws.request.path} {ws.request.headers.get('Host')}")
    async for message in ws:
        await ws.send(message)


async def main(path):
    async with unix_serve(handler, path):
        print(f"listening unix:{path}", flush=True)
        await asyncio.Future()


asyncio.run(main(sys.argv[1]))
