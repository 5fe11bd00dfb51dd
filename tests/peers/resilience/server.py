#!/usr/bin/env python3
"""A deliberately small, hand-written WebSocket server for wsbeat's resilience tests: it can
be restarted on the same port, stop answering pings, or send a Close frame and reset the TCP
connection in the same instant. The protocol is done by hand so that it misbehaves exactly as
asked (a conforming library would answer pings and finish closing handshakes).

stdout, one line each, flushed:
  listening ws://127.0.0.1:PORT/
  {"event":"connect","n":N}                 N counts connections since start
  {"event":"message","n":N,"type":"text"|"binary","data":...,"fragments":K}
  {"event":"ping","n":N}                    a Ping frame arrived (answered unless --ignore-pings)
  {"event":"closed","n":N,"code":C}         C is null when the TCP connection just ended
"""

import argparse
import asyncio
import base64
import hashlib
import json
import socket
import struct
import sys

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    p.add_argument("--no-echo", action="store_true", help="record messages, do not echo them")
    p.add_argument("--ignore-pings", action="store_true", help="never answer Ping frames")
    p.add_argument("--answer", metavar="IN=OUT", action="append", default=[],
                   help="answer the text message IN with OUT instead of echoing it")
    p.add_argument("--push-every", type=float, metavar="SECONDS",
                   help="send the text message 'push N' every SECONDS, unasked")
    p.add_argument("--close-and-reset-after", type=int, metavar="N",
                   help="on the first connection, after N messages send Close 1001 and reset "
                        "the TCP connection at once")
    return p.parse_args()


ARGS = parse_args()
ANSWERS = dict(a.split("=", 1) for a in ARGS.answer)
COUNT = 0


def frame(opcode, payload):
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


async def read_frame(reader):
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    mask = await reader.readexactly(4) if b1 & 0x80 else b"\0\0\0\0"
    payload = bytearray(await reader.readexactly(n))
    for i in range(n):
        payload[i] ^= mask[i % 4]
    return bool(b0 & 0x80), b0 & 0x0F, bytes(payload)


async def handshake(reader, writer):
    head = await reader.readuntil(b"\r\n\r\n")
    key = None
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "sec-websocket-key":
            key = value.strip().encode()
    if key is None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        return False
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
    writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n\r\n").encode())
    await writer.drain()
    return True


def reset(writer):
    """Close with RST instead of FIN: SO_LINGER 0, then abort."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def session(reader, writer, n):
    messages = 0
    op, parts = None, []
    while True:
        fin, opcode, payload = await read_frame(reader)
        if opcode == 0x8:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            emit({"event": "closed", "n": n, "code": code})
            writer.write(frame(0x8, payload[:2]))
            await writer.drain()
            return
        if opcode == 0x9:
            emit({"event": "ping", "n": n})
            if not ARGS.ignore_pings:
                writer.write(frame(0xA, payload))
                await writer.drain()
            continue
        if opcode == 0xA:
            continue
        if opcode in (0x1, 0x2):
            op, parts = opcode, [payload]
        else:
            parts.append(payload)
        if not fin:
            continue
        data = b"".join(parts)
        if op == 0x1:
            text = data.decode("utf-8", "replace")
            emit({"event": "message", "n": n, "type": "text", "data": text,
                  "fragments": len(parts)})
            reply = ANSWERS.get(text, text).encode()
        else:
            emit({"event": "message", "n": n, "type": "binary", "data": data.hex(),
                  "fragments": len(parts)})
            reply = data
        if not ARGS.no_echo:
            writer.write(frame(op, reply))
            await writer.drain()
        messages += 1
        if n == 1 and ARGS.close_and_reset_after is not None \
                and messages >= ARGS.close_and_reset_after:
            # The Close frame and the reset reach the client together.
            writer.write(frame(0x8, struct.pack("!H", 1001) + b"going away"))
            await writer.drain()
            reset(writer)
            emit({"event": "closed", "n": n, "code": None})
            return


async def push(writer):
    i = 0
    while True:
        await asyncio.sleep(ARGS.push_every)
        i += 1
        writer.write(frame(0x1, f"push {i}".encode()))
        await writer.drain()


async def handler(reader, writer):
    global COUNT
    COUNT += 1
    n = COUNT
    try:
        if not await handshake(reader, writer):
            return
        emit({"event": "connect", "n": n})
        pusher = asyncio.create_task(push(writer)) if ARGS.push_every else None
        try:
            await session(reader, writer, n)
        finally:
            if pusher:
                pusher.cancel()
    except (asyncio.IncompleteReadError, ConnectionError):
        emit({"event": "closed", "n": n, "code": None})
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(handler, "127.0.0.1", ARGS.port, reuse_address=True)
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
