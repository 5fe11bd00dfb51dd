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
import ssl

import rawws
from rawws import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, accept_key,
                   close_code, close_reason, http_response, read_frame, read_request)
from rawws import encode_frame as frame
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


def emit(obj):
    rawws.emit(obj, separators=(",", ":"))


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


async def raw_handler(reader, writer):
    try:
        await raw_session(reader, writer)
    except (asyncio.IncompleteReadError, ConnectionError):
        emit({"event": "closed", "code": 1006, "reason": ""})
    finally:
        writer.close()


async def raw_session(reader, writer):
    path, pairs = await read_request(reader)
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

    accept = accept_key(headers["sec-websocket-key"])
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
        if opcode == OP_CLOSE:
            emit({"event": "closed", "code": close_code(payload), "reason": close_reason(payload)})
            if not close_sent:
                writer.write(frame(OP_CLOSE, payload[:2]))
                await writer.drain()
            return
        if opcode == OP_PING:
            writer.write(frame(OP_PONG, payload))
            await writer.drain()
            continue
        if opcode == OP_PONG:
            emit({"event": "pong", "data": payload.hex()})
            continue
        if opcode in (OP_TEXT, OP_BINARY):
            msg_op, parts = opcode, [payload]
        elif opcode == OP_CONT:
            parts.append(payload)
        if not fin:
            continue
        data = b"".join(parts)
        if msg_op == OP_TEXT:
            emit({"event": "message", "type": "text", "len": len(data),
                  "data": data.decode("utf-8", "replace"), "fragments": len(parts)})
        else:
            emit({"event": "message", "type": "binary", "len": len(data),
                  "data": data.hex(), "fragments": len(parts)})
        if close_sent:
            continue
        if not ARGS.no_echo:
            writer.write(frame(msg_op, data))
        writer.write(frame(OP_CLOSE, close_payload))
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
    await rawws.serve_forever(server, scheme)


if __name__ == "__main__":
    rawws.run(main)
