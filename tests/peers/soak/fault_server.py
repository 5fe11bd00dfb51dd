#!/usr/bin/env python3
"""A raw-asyncio WebSocket echo server for wsbeat's soak tests, with the faults a soak must
survive. Written by hand (no library) so that it can misbehave in ways libraries will not:
never answer pings, or close every connection with a chosen code after N messages.

Stdout: `listening ws://127.0.0.1:PORT/`, then only `echoed N` with --announce-after (a soak
sends thousands of messages; per-message logging would cost more than the echo). On SIGTERM/SIGKILL the sockets
simply die, which is what the restart test wants.
"""

import argparse
import asyncio
import base64
import hashlib
import struct
import sys

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    p.add_argument("--no-pong", action="store_true", help="never answer Ping frames")
    p.add_argument("--close-after", type=int, metavar="N",
                   help="after echoing N messages on a connection, close it with --close-code")
    p.add_argument("--close-code", type=int, default=1011, metavar="C")
    p.add_argument("--announce-after", type=int, metavar="N",
                   help="print `echoed N` once N messages were echoed in total (a test's cue)")
    return p.parse_args()


ARGS = parse_args()
ECHOED = 0


def frame(opcode, payload):
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


async def read_frame(reader):
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    mask = await reader.readexactly(4) if b1 & 0x80 else b"\0\0\0\0"
    data = await reader.readexactly(n)
    # XOR with the repeated mask, as one big-integer operation instead of a Python loop.
    m = (mask * (n // 4 + 1))[:n]
    data = (int.from_bytes(data, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big") if n else b""
    return bool(b0 & 0x80), b0 & 0x0F, data


async def until_close(reader):
    while (await read_frame(reader))[1] != 0x8:
        pass


async def session(reader, writer):
    head = await reader.readuntil(b"\r\n\r\n")
    key = None
    for line in head.decode("latin-1").split("\r\n")[1:]:
        if line.lower().startswith("sec-websocket-key:"):
            key = line.split(":", 1)[1].strip().encode()
    if key is None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        return
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
    writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n").encode())
    count, op, parts = 0, None, []
    while True:
        fin, opcode, payload = await read_frame(reader)
        if opcode == 0x8:
            writer.write(frame(0x8, payload[:2]))
            await writer.drain()
            return
        if opcode == 0x9:
            if not ARGS.no_pong:
                writer.write(frame(0xA, payload))
            continue
        if opcode == 0xA:
            continue
        if opcode in (0x1, 0x2):
            op, parts = opcode, [payload]
        else:
            parts.append(payload)
        if not fin:
            continue
        writer.write(frame(op, b"".join(parts)))
        count += 1
        global ECHOED
        ECHOED += 1
        if ECHOED == ARGS.announce_after:
            sys.stdout.write(f"echoed {ECHOED}\n")
            sys.stdout.flush()
        if ARGS.close_after is not None and count >= ARGS.close_after:
            writer.write(frame(0x8, struct.pack("!H", ARGS.close_code) + b"fault"))
            await writer.drain()
            # Wait (briefly) for the client's Close, then hang up first, as RFC 6455 asks.
            try:
                await asyncio.wait_for(until_close(reader), 2)
            except (asyncio.TimeoutError, ConnectionError, asyncio.IncompleteReadError):
                pass
            return
        await writer.drain()


async def handler(reader, writer):
    try:
        await session(reader, writer)
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(handler, "127.0.0.1", ARGS.port, reuse_address=True,
                                        backlog=1024)
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"listening ws://127.0.0.1:{port}/\n")
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
