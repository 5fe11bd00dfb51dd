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
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from rawws import (OP_CLOSE, OP_PING, OP_PONG, accept, close_payload,  # noqa: E402
                   read_messages, run, serve, until_close)
from rawws import encode_frame as frame  # noqa: E402


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


async def session(reader, writer):
    if not await accept(reader, writer, (("Content-Length", 0), ("Connection", "close"))):
        return
    count = 0
    async for op, parts in read_messages(reader):
        if op == OP_CLOSE:
            writer.write(frame(OP_CLOSE, parts[0][:2]))
            await writer.drain()
            return
        if op == OP_PING:
            if not ARGS.no_pong:
                writer.write(frame(OP_PONG, parts[0]))
            continue
        if op == OP_PONG:
            continue
        writer.write(frame(op, b"".join(parts)))
        count += 1
        global ECHOED
        ECHOED += 1
        if ECHOED == ARGS.announce_after:
            sys.stdout.write(f"echoed {ECHOED}\n")
            sys.stdout.flush()
        if ARGS.close_after is not None and count >= ARGS.close_after:
            writer.write(frame(OP_CLOSE, close_payload(ARGS.close_code, b"fault")))
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
    await serve(handler, ARGS.port, reuse_address=True, backlog=1024)


if __name__ == "__main__":
    run(main)
