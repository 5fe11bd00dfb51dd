#!/usr/bin/env python3
"""WebSocket test peer for wsbeat's integration tests, built on the Python
`websockets` library (modern asyncio API).

Protocol with the test harness (stdout, one line each, flushed):
  listening ws://127.0.0.1:PORT/          (wss:// with --certfile/--keyfile)
  {"event":"connect","path":...,"headers":{...},"subprotocol":...}
  {"event":"rejected","path":...,"headers":{...},"status":N}
  {"event":"message","type":"text"|"binary","len":N,"data":...,"fragments":K}
  {"event":"pong","data":"<hex>"}
  {"event":"closed","code":N,"reason":"..."}

Diagnostics go to stderr.
"""

import argparse
import asyncio
import base64
import hashlib
import json
import ssl
import struct
import sys

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def emit(obj):
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--no-echo", action="store_true", help="record only, do not echo")
    p.add_argument("--close-after", type=int, metavar="N",
                   help="after N messages (echoed first) close with --close-code/--close-reason")
    p.add_argument("--close-code", type=int, default=1000, metavar="C")
    p.add_argument("--close-reason", default="", metavar="R")
    p.add_argument("--close-raw", metavar="HEX",
                   help="after the first message send a raw close frame with this payload")
    p.add_argument("--close-empty", action="store_true",
                   help="after the first message send a close frame with an empty payload")
    p.add_argument("--drop-after", type=int, metavar="N",
                   help="after N messages drop TCP without a close frame")
    p.add_argument("--reject", type=int, metavar="STATUS", help="refuse the upgrade with this status")
    p.add_argument("--body", default="", metavar="TEXT", help="body of the --reject response")
    p.add_argument("--subprotocols", metavar="A,B",
                   help="accept the first of these the client offers; reject if none offered")
    p.add_argument("--ping-client", action="store_true",
                   help="ping the client with payload 'hello' right after connect")
    p.add_argument("--certfile", metavar="F")
    p.add_argument("--keyfile", metavar="F")
    a = p.parse_args()
    if (a.certfile is None) != (a.keyfile is None):
        p.error("--certfile and --keyfile go together")
    if a.close_raw is not None:
        try:
            raw = bytes.fromhex(a.close_raw)
        except ValueError:
            p.error("--close-raw wants hex")
        if len(raw) > 125:
            p.error("--close-raw payload must be at most 125 bytes")
    return a


ARGS = parse_args()
SUBPROTOCOLS = [s for s in (ARGS.subprotocols or "").split(",") if s] or None


def header_dict(pairs):
    out = {}
    for name, value in pairs:
        name = name.lower()
        out[name] = out[name] + ", " + value if name in out else value
    return out


def pick_subprotocol(offered):
    """Server's list order wins; None when nothing matches."""
    for s in SUBPROTOCOLS or []:
        if s in offered:
            return s
    return None


# ---------------------------------------------------------------- websockets mode


def process_request(connection, request):
    if ARGS.reject is not None:
        emit({"event": "rejected", "path": request.path,
              "headers": header_dict(request.headers.raw_items()), "status": ARGS.reject})
        return connection.respond(ARGS.reject, ARGS.body)
    return None


async def handler(ws):
    req = ws.request
    emit({"event": "connect", "path": req.path,
          "headers": header_dict(req.headers.raw_items()), "subprotocol": ws.subprotocol})

    if ARGS.ping_client:
        waiter = await ws.ping(b"hello")

        async def wait_pong():
            try:
                await waiter
            except Exception:  # connection closed before the pong
                return
            emit({"event": "pong", "data": b"hello".hex()})

        asyncio.get_running_loop().create_task(wait_pong())

    count = 0
    try:
        while True:
            frags = []
            async for frag in ws.recv_streaming():
                frags.append(frag)
            if isinstance(frags[0], str):
                text = "".join(frags)
                data = text
                emit({"event": "message", "type": "text", "len": len(text.encode("utf-8")),
                      "data": text, "fragments": len(frags)})
            else:
                data = b"".join(frags)
                emit({"event": "message", "type": "binary", "len": len(data),
                      "data": data.hex(), "fragments": len(frags)})
            count += 1
            if not ARGS.no_echo:
                await ws.send(data)
            if ARGS.close_after is not None and count >= ARGS.close_after:
                await ws.close(ARGS.close_code, ARGS.close_reason)
                break
            if ARGS.drop_after is not None and count >= ARGS.drop_after:
                ws.transport.abort()
                break
    except ConnectionClosed:
        pass
    await ws.wait_closed()
    emit({"event": "closed", "code": ws.close_code, "reason": ws.close_reason or ""})


# ---------------------------------------------------------------- raw mode
# Used for --close-raw / --close-empty: the close frame may carry a code that
# no conforming library would send, so the whole protocol is done by hand.


async def read_frame(reader):
    b0, b1 = await reader.readexactly(2)
    fin = bool(b0 & 0x80)
    opcode = b0 & 0x0F
    masked = bool(b1 & 0x80)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    mask = await reader.readexactly(4) if masked else b"\0\0\0\0"
    payload = bytearray(await reader.readexactly(n))
    for i in range(n):
        payload[i] ^= mask[i % 4]
    return fin, opcode, bytes(payload)


def frame(opcode, payload, fin=True):
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


def http_response(writer, status, reason, headers, body=b""):
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)


async def raw_handler(reader, writer):
    try:
        await raw_session(reader, writer)
    except (asyncio.IncompleteReadError, ConnectionError):
        emit({"event": "closed", "code": 1006, "reason": ""})
    finally:
        writer.close()


async def raw_session(reader, writer):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    path = lines[0].split(" ")[1]
    pairs = []
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            pairs.append((k.strip(), v.strip()))
    headers = header_dict(pairs)

    if ARGS.reject is not None:
        emit({"event": "rejected", "path": path, "headers": headers, "status": ARGS.reject})
        body = ARGS.body.encode()
        http_response(writer, ARGS.reject, "Rejected",
                      [("Content-Length", len(body)), ("Connection", "close")], body)
        await writer.drain()
        return

    offered = [s.strip() for s in headers.get("sec-websocket-protocol", "").split(",") if s.strip()]
    subprotocol = pick_subprotocol(offered)
    if SUBPROTOCOLS and subprotocol is None:
        body = b"no acceptable subprotocol"
        http_response(writer, 400, "Bad Request",
                      [("Content-Length", len(body)), ("Connection", "close")], body)
        await writer.drain()
        return

    key = headers["sec-websocket-key"].encode()
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
    resp = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", accept)]
    if subprotocol:
        resp.append(("Sec-WebSocket-Protocol", subprotocol))
    http_response(writer, 101, "Switching Protocols", resp)
    await writer.drain()
    emit({"event": "connect", "path": path, "headers": headers, "subprotocol": subprotocol})

    close_payload = b"" if ARGS.close_empty else bytes.fromhex(ARGS.close_raw)
    close_sent = False
    msg_op, parts = None, []
    while True:
        fin, opcode, payload = await read_frame(reader)
        if opcode == 0x8:  # close
            if len(payload) >= 2:
                code = struct.unpack("!H", payload[:2])[0]
                reason = payload[2:].decode("utf-8", "replace")
            else:
                code, reason = 1005, ""
            emit({"event": "closed", "code": code, "reason": reason})
            if not close_sent:
                writer.write(frame(0x8, payload[:2]))
                await writer.drain()
            return
        if opcode == 0x9:  # ping
            writer.write(frame(0xA, payload))
            await writer.drain()
            continue
        if opcode == 0xA:  # pong
            emit({"event": "pong", "data": payload.hex()})
            continue
        if opcode in (0x1, 0x2):
            msg_op, parts = opcode, [payload]
        elif opcode == 0x0:
            parts.append(payload)
        if not fin:
            continue
        data = b"".join(parts)
        if msg_op == 0x1:
            emit({"event": "message", "type": "text", "len": len(data),
                  "data": data.decode("utf-8", "replace"), "fragments": len(parts)})
        else:
            emit({"event": "message", "type": "binary", "len": len(data),
                  "data": data.hex(), "fragments": len(parts)})
        if close_sent:
            continue
        if not ARGS.no_echo:
            writer.write(frame(msg_op, data))
        writer.write(frame(0x8, close_payload))
        await writer.drain()
        close_sent = True


# ---------------------------------------------------------------- main


async def main():
    ctx = None
    if ARGS.certfile:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.certfile, ARGS.keyfile)
    scheme = "wss" if ctx else "ws"

    if ARGS.close_raw is not None or ARGS.close_empty:
        server = await asyncio.start_server(raw_handler, "127.0.0.1", 0, ssl=ctx)
    else:
        server = await serve(
            handler, "127.0.0.1", 0, ssl=ctx,
            process_request=process_request,
            subprotocols=SUBPROTOCOLS,
            ping_interval=None,
            max_size=None,
        )
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"listening {scheme}://127.0.0.1:{port}/\n")
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
