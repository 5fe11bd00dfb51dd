#!/usr/bin/env python3
"""Purpose-built misbehaving WebSocket servers for wsbeat's ping tests.

A minimal RFC 6455 server on raw asyncio sockets (no library), so that it can do what
well-behaved libraries never do: ignore pings, answer them late, twice or unasked, close
mid-run with any code, drop the TCP connection.

  misbehaving.py MODE [--delay S] [--after N] [--code C] [--reason R]

MODE:
  silent       never answers Ping frames (and ignores data)
  late         answers each Ping after --delay seconds
  unsolicited  before each Pong, sends a Pong whose payload answers no ping
  duplicate    answers each Ping twice
  close        answers --after pings, then closes with --code/--reason on the next one
  drop         answers --after pings, then drops TCP without a Close frame
  text-pong    replies "pong" to the text message "ping" (answers Ping frames too)
  text-json    replies {"status":"pong","seq":N} to {"type":"ping","seq":N}, with a
               non-matching {"type":"tick"} before each reply; with --delay, replies late

Protocol with the test harness (stdout, flushed):
  listening ws://127.0.0.1:PORT/
  {"event":"connect"}
  {"event":"ping","len":N}          each Ping frame received
  {"event":"text","data":"..."}     each text message received
  {"event":"closed","code":N}       the client's Close frame
"""

import argparse
import asyncio
import base64
import hashlib
import json
import re
import struct
import sys

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def frame(opcode, payload=b""):
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


async def read_frame(reader):
    """One frame: (opcode, payload). Fragmented messages are not used by wsbeat ping."""
    b1, b2 = await reader.readexactly(2)
    opcode, masked, n = b1 & 0x0F, b2 & 0x80, b2 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    mask = await reader.readexactly(4) if masked else b"\0\0\0\0"
    data = bytearray(await reader.readexactly(n))
    for i in range(n):
        data[i] ^= mask[i % 4]
    return opcode, bytes(data)


async def handshake(reader, writer):
    head = await reader.readuntil(b"\r\n\r\n")
    key = re.search(rb"(?im)^sec-websocket-key:\s*(\S+)", head)
    if not key:
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        return False
    accept = base64.b64encode(hashlib.sha1(key.group(1) + GUID).digest())
    writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
    await writer.drain()
    return True


async def handle(reader, writer, a):
    try:
        if not await handshake(reader, writer):
            return
        emit({"event": "connect"})
        pings = 0
        pending = set()

        async def later(delay, data):
            await asyncio.sleep(delay)
            writer.write(data)
            await writer.drain()

        while True:
            op, data = await read_frame(reader)
            if op == OP_CLOSE:
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
                emit({"event": "closed", "code": code})
                writer.write(frame(OP_CLOSE, data[:2]))
                await writer.drain()
                return
            if op == OP_PING:
                emit({"event": "ping", "len": len(data)})
                pings += 1
                mode = a.mode
                if mode == "silent":
                    continue
                if mode == "late":
                    pending.add(asyncio.create_task(later(a.delay, frame(OP_PONG, data))))
                    continue
                if mode in ("close", "drop") and pings > a.after:
                    if mode == "drop":
                        writer.transport.abort()
                        return
                    payload = struct.pack("!H", a.code) + a.reason.encode()
                    writer.write(frame(OP_CLOSE, payload))
                    await writer.drain()
                    # Wait for the client's Close, then hang up.
                    while True:
                        op, _ = await read_frame(reader)
                        if op == OP_CLOSE:
                            return
                if mode == "unsolicited":
                    writer.write(frame(OP_PONG, b"not-a-reply-" + str(pings).encode()))
                writer.write(frame(OP_PONG, data))
                if mode == "duplicate":
                    writer.write(frame(OP_PONG, data))
                await writer.drain()
                continue
            if op == OP_TEXT:
                text = data.decode("utf-8", "replace")
                emit({"event": "text", "data": text})
                if a.mode == "text-pong":
                    writer.write(frame(OP_TEXT, b"pong" if text == "ping" else b"what?"))
                    await writer.drain()
                elif a.mode == "text-json":
                    try:
                        seq = json.loads(text)["seq"]
                    except (ValueError, KeyError, TypeError):
                        seq = None
                    reply = json.dumps({"status": "pong", "seq": seq}).encode()
                    writer.write(frame(OP_TEXT, json.dumps({"type": "tick"}).encode()))
                    if a.delay:
                        pending.add(asyncio.create_task(later(a.delay, frame(OP_TEXT, reply))))
                    else:
                        writer.write(frame(OP_TEXT, reply))
                    await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        return
    finally:
        writer.close()


async def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=["silent", "late", "unsolicited", "duplicate", "close",
                                    "drop", "text-pong", "text-json"])
    p.add_argument("--delay", type=float, default=0.0, metavar="S")
    p.add_argument("--after", type=int, default=0, metavar="N")
    p.add_argument("--code", type=int, default=1011, metavar="C")
    p.add_argument("--reason", default="", metavar="R")
    a = p.parse_args()
    server = await asyncio.start_server(lambda r, w: handle(r, w, a), "127.0.0.1", 0)
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
