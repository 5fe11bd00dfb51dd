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
import json

from rawws import (OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, accept, close_code, close_payload, emit,
                   read_frame, run, serve)
from rawws import encode_frame as frame


async def handle(reader, writer, a):
    try:
        if not await accept(reader, writer):
            return
        emit({"event": "connect"})
        pings = 0
        pending = set()

        async def later(delay, data):
            await asyncio.sleep(delay)
            writer.write(data)
            await writer.drain()

        while True:
            _, op, data = await read_frame(reader)
            if op == OP_CLOSE:
                emit({"event": "closed", "code": close_code(data)})
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
                    writer.write(frame(OP_CLOSE, close_payload(a.code, a.reason)))
                    await writer.drain()
                    # Wait for the client's Close, then hang up.
                    while True:
                        _, op, _ = await read_frame(reader)
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
    await serve(lambda r, w: handle(r, w, a))


if __name__ == "__main__":
    run(main)
