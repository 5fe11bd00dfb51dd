"""The RFC 6455 pieces wsbeat's hand-written test peers share (stdlib only).

The raw peers (misbehaving.py, py_server.py's raw mode, soak/fault_server.py,
resilience/server.py, clients/raw_ws.py, clients/raw_silent.py) do the protocol by hand so
that they can break it on purpose; this module holds the parts they all do the same way:
the upgrade (accept key, request and response heads), frames, Close payloads, and the
asyncio server bootstrap that prints `listening ws://127.0.0.1:PORT/`.

Scripts in sub-folders reach it with
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
"""

import asyncio
import base64
import hashlib
import json
import os
import struct
import sys

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

# The 101 answer to an upgrade request, up to the Sec-WebSocket-Accept value.
SWITCHING_HEAD = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"


def emit(obj, **dumps_kw):
    """One JSON line on stdout, flushed (the peers' protocol with the test harness)."""
    sys.stdout.write(json.dumps(obj, **dumps_kw) + "\n")
    sys.stdout.flush()


def fail(msg, **extra):
    """A client's verdict `{"ok": false, "error": msg, ...}`, then exit 1."""
    emit({"ok": False, "error": msg, **extra})
    sys.exit(1)


# ---------------------------------------------------------------- upgrade


def new_key():
    """A fresh Sec-WebSocket-Key."""
    return base64.b64encode(os.urandom(16)).decode()


def accept_key(key):
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (bytes or str)."""
    if isinstance(key, str):
        key = key.encode()
    return base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()


def upgrade_request(target, key, path="/"):
    """A plain RFC 6455 upgrade request for HOST:PORT `target`, as bytes."""
    return (f"GET {path} HTTP/1.1\r\nHost: {target}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()


def http_response(writer, status, reason, headers, body=b""):
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)


async def read_request(reader):
    """The request head: (path, [(name, value), ...]) in the order sent."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    words = lines[0].split(" ")
    path = words[1] if len(words) > 1 else None
    pairs = []
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            pairs.append((name.strip(), value.strip()))
    return path, pairs


def header(pairs, name):
    """The first value of header `name` (any case), or None."""
    for k, v in pairs:
        if k.lower() == name:
            return v
    return None


async def accept(reader, writer, bad_request_headers=(("Content-Length", 0),)):
    """Reads the upgrade request and answers 101, or 400 when it has no Sec-WebSocket-Key.
    True when upgraded."""
    _, pairs = await read_request(reader)
    key = header(pairs, "sec-websocket-key")
    if key is None:
        http_response(writer, 400, "Bad Request", bad_request_headers)
        await writer.drain()
        return False
    writer.write((SWITCHING_HEAD + f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n").encode())
    await writer.drain()
    return True


# ---------------------------------------------------------------- frames


def encode_frame(opcode, payload=b"", fin=True, rsv=0, mask=False):
    """One frame; with mask (client to server), under a fresh random key."""
    n = len(payload)
    mbit = 0x80 if mask else 0
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if mask:
        key = os.urandom(4)
        return head + key + unmask(key, payload)
    return head + payload


def write_frame(writer, opcode, payload=b""):
    writer.write(encode_frame(opcode, payload))


def unmask(mask, data):
    """XOR with the repeated 4-byte mask, as one big-integer operation (a soak sends a lot)."""
    n = len(data)
    if not n:
        return b""
    m = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big")


async def read_frame(reader):
    """One frame from an asyncio reader: (fin, opcode, payload), unmasked."""
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    mask = await reader.readexactly(4) if b1 & 0x80 else b"\0\0\0\0"
    return bool(b0 & 0x80), b0 & 0x0F, unmask(mask, await reader.readexactly(n))


async def read_messages(reader):
    """Yields (opcode, parts) for each Close, Ping and Pong frame (parts: [its payload]) and
    for each whole data message (parts: the payloads of its frames), as they complete; a
    frame with any other opcode continues the message."""
    op, parts = None, []
    while True:
        fin, opcode, payload = await read_frame(reader)
        if opcode in (OP_CLOSE, OP_PING, OP_PONG):
            yield opcode, [payload]
            continue
        if opcode in (OP_TEXT, OP_BINARY):
            op, parts = opcode, [payload]
        else:
            parts.append(payload)
        if fin:
            yield op, parts


async def until_close(reader):
    """Reads frames until a Close frame."""
    while (await read_frame(reader))[1] != OP_CLOSE:
        pass


# ---------------------------------------------------------------- close payloads


def close_payload(code, reason=b""):
    if isinstance(reason, str):
        reason = reason.encode()
    return struct.pack("!H", code) + reason


def close_code(payload):
    """The code of a Close payload; 1005 (none received) when it has none."""
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005


def close_reason(payload):
    return payload[2:].decode("utf-8", "replace")


# ---------------------------------------------------------------- server bootstrap


async def serve_forever(server, scheme="ws"):
    """Prints `listening SCHEME://127.0.0.1:PORT/` (flushed), then serves until cancelled."""
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"listening {scheme}://127.0.0.1:{port}/\n")
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


async def serve(handler, port=0, **kw):
    """An asyncio server on 127.0.0.1:port (0: any free one); see serve_forever."""
    server = await asyncio.start_server(handler, "127.0.0.1", port, **kw)
    await serve_forever(server)


def run(main):
    """asyncio.run(main()), quiet on Ctrl-C."""
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
