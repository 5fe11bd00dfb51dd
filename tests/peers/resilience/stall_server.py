#!/usr/bin/env python3
"""A server that stops reading and then dies, for wsbeat's "nothing lost silently" tests.

Its listening socket has a small receive buffer (inherited by every connection), so once the
first connection stops reading, the client's kernel soon has nothing it may send: what the
client writes after that stays in the client's send queue, unacknowledged. On SIGUSR1 that
connection is reset (RST: the kernel drops what it holds unread), as if the server process had
died; later connections (the client's reconnect) are read to the end and recorded.

stdout, one line each, flushed:
  listening ws://127.0.0.1:PORT/
  {"event":"connect","n":N}
  {"event":"message","n":N,"data":TEXT,"len":L}   a text message (data cut to 40 chars)
  {"event":"stalled","n":1}     after --stall-after messages: connection 1 reads no more
  {"event":"killed","n":1,"unread":B}   SIGUSR1, once B > 0: reset; B bytes acknowledged
                                        but never read
  {"event":"closed","n":N}
"""

import argparse
import asyncio
import fcntl
import os
import signal
import socket
import struct
import sys
import termios

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from rawws import OP_CLOSE, OP_TEXT, accept, emit, read_messages, run, serve_forever  # noqa: E402
from rawws import encode_frame as frame  # noqa: E402

p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("--stall-after", type=int, required=True, metavar="N",
               help="connection 1 stops reading after N messages")
ARGS = p.parse_args()
COUNT = 0
KILL = None  # set in main: an asyncio.Event that SIGUSR1 sets


def reset(writer):
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def unread(writer):
    sock = writer.get_extra_info("socket")
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]


async def handler(reader, writer):
    global COUNT
    COUNT += 1
    n = COUNT
    messages = 0
    try:
        if not await accept(reader, writer):
            return
        emit({"event": "connect", "n": n})
        async for op, parts in read_messages(reader):
            if op == OP_CLOSE:
                writer.write(frame(OP_CLOSE, parts[0][:2]))
                await writer.drain()
                break
            if op != OP_TEXT:
                continue
            data = b"".join(parts).decode("utf-8", "replace")
            emit({"event": "message", "n": n, "data": data[:40], "len": len(data)})
            messages += 1
            if n == 1 and messages == ARGS.stall_after:
                # Nothing more is taken from the socket: the client sends the rest only after
                # it has seen this line, so nothing of it sits in asyncio's buffer either.
                writer.transport.pause_reading()
                emit({"event": "stalled", "n": n})
                await KILL.wait()
                # Die only once the client has written past what was read (soak sends on a
                # schedule); the connect test has filled the buffer long before.
                while unread(writer) == 0:
                    await asyncio.sleep(0.01)
                emit({"event": "killed", "n": n, "unread": unread(writer)})
                reset(writer)
                return
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        emit({"event": "closed", "n": n})
        writer.close()


async def main():
    global KILL
    KILL = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, KILL.set)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.bind(("127.0.0.1", 0))
    server = await asyncio.start_server(handler, sock=sock)
    await serve_forever(server)


if __name__ == "__main__":
    run(main)
