#!/usr/bin/env python3
"""Python `websockets` with compression="deflate", for wsbeat's compression interop tests.

  py_deflate.py server   prints `listening ws://127.0.0.1:PORT/`, then per connection
                         {"event":"connect","offer":...,"extensions":...}; echoes every message.
  py_deflate.py client URL
                         sends text, binary and a 1 MiB text message, checks each echo, closes
                         with 1000, prints {"event":"done","ok":bool,"extensions":...,"error":...}.
"""
import asyncio
import json
import sys

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve


def out(**o):
    print(json.dumps(o), flush=True)


async def echo(ws):
    out(event="connect", offer=ws.request.headers.get("Sec-WebSocket-Extensions"),
        extensions=ws.response.headers.get("Sec-WebSocket-Extensions"))
    async for m in ws:
        await ws.send(m)


async def server():
    async with serve(echo, "127.0.0.1", 0, compression="deflate", max_size=64 << 20) as s:
        port = s.sockets[0].getsockname()[1]
        print(f"listening ws://127.0.0.1:{port}/", flush=True)
        await asyncio.Future()


async def client(url):
    big = ("wsbeat " * (1 << 18))[: 1 << 20]
    sends = ["héllo ☃ compressed", bytes([0, 255, 0, 255, 1, 2, 3]), big]
    async with connect(url, compression="deflate", max_size=64 << 20) as ws:
        ext = ws.response.headers.get("Sec-WebSocket-Extensions")
        for i, m in enumerate(sends):
            await ws.send(m)
            got = await asyncio.wait_for(ws.recv(), 10)
            if got != m:
                out(event="done", ok=False, error=f"echo {i} differs", extensions=ext)
                return 1
        await ws.close(1000, "done")
    out(event="done", ok=True, extensions=ext)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["server"]:
        asyncio.run(server())
    elif sys.argv[1:2] == ["client"] and len(sys.argv) == 3:
        sys.exit(asyncio.run(client(sys.argv[2])))
    else:
        sys.exit("usage: py_deflate.py server | client URL")
