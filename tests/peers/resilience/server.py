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
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from rawws import (OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, accept, close_code,  # noqa: E402
                   close_payload, emit, read_messages, run, serve)
from rawws import encode_frame as frame  # noqa: E402


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


def reset(writer):
    """Close with RST instead of FIN: SO_LINGER 0, then abort."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def session(reader, writer, n):
    messages = 0
    async for op, parts in read_messages(reader):
        if op == OP_CLOSE:
            emit({"event": "closed", "n": n, "code": close_code(parts[0])})
            writer.write(frame(OP_CLOSE, parts[0][:2]))
            await writer.drain()
            return
        if op == OP_PING:
            emit({"event": "ping", "n": n})
            if not ARGS.ignore_pings:
                writer.write(frame(OP_PONG, parts[0]))
                await writer.drain()
            continue
        if op == OP_PONG:
            continue
        data = b"".join(parts)
        if op == OP_TEXT:
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
            writer.write(frame(OP_CLOSE, close_payload(1001, b"going away")))
            await writer.drain()
            reset(writer)
            emit({"event": "closed", "n": n, "code": None})
            return


async def push(writer):
    i = 0
    while True:
        await asyncio.sleep(ARGS.push_every)
        i += 1
        writer.write(frame(OP_TEXT, f"push {i}".encode()))
        await writer.drain()


async def handler(reader, writer):
    global COUNT
    COUNT += 1
    n = COUNT
    try:
        if not await accept(reader, writer):
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
    await serve(handler, ARGS.port, reuse_address=True)


if __name__ == "__main__":
    run(main)
