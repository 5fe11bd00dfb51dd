#!/usr/bin/env python3
"""WebSocket test client for wsbeat's echo-server integration tests, built on the
third-party Python libraries `websockets` (asyncio API) and `websocket-client`.

Every subcommand prints JSON lines on stdout (flushed at once) and exits 0 when
the check it makes holds, 1 when it does not (the last line then carries
"ok": false and an "error" saying expected vs got), 2 on usage errors.

  echo URL --lib websockets|websocket-client   text + binary (0xFF/0x00) echo, types kept
  fragmented URL                                fragmented text + binary, echoed whole
  big URL --mib 4                               4 MiB binary + ~2 MB multi-byte text, intact
  flood URL --count 300 --size 65536 --window 4 big messages, some in flight: all back in order
  hold URL -n 200                               N open connections until the server closes them
                                                all (default: with 1001 "going away")
  many URL -n 500                               N concurrent clients, each gets its own echoes
  apppong URL                                   text "ping" -> "pong"; JSON ping -> same + status
  broadcast URL -n 3                            every client gets every client's message
  tls URL --cafile PEM                          wss with an ssl context trusting PEM only
  session URL [--send T] [--send-hex H] [--frag N] [--lockstep] [--ping] [--keepalive S]
          [--subprotocol P] [--wait S]
                                                event log of one connection (no checks):
                                                open/rejected, message, pong, closed
"""

import argparse
import asyncio
import json
import os
import ssl
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from rawws import emit, fail  # noqa: E402

TEXT = "héllo ☃ wsbeat \u0000 end"
BINARY = bytes([0xFF, 0x00, 0xFF, 0x00, 0x7F, 0x80]) + bytes(range(256)) + b"\x00\xff"


def ok(**extra):
    emit({"ok": True, **extra})
    sys.exit(0)


def kind(data):
    return "text" if isinstance(data, str) else "binary"


def ws_connect(url, **kw):
    from websockets.asyncio.client import connect

    kw.setdefault("ping_interval", None)  # never our own keepalive pings
    kw.setdefault("open_timeout", 5)
    kw.setdefault("close_timeout", 5)
    return connect(url, proxy=None, compression=None, max_size=None, **kw)


async def recv_whole(ws, timeout=5):
    """One message and the number of frames it came in."""
    frags = []

    async def go():
        async for frag in ws.recv_streaming():
            frags.append(frag)

    await asyncio.wait_for(go(), timeout)
    if isinstance(frags[0], str):
        return "".join(frags), len(frags)
    return b"".join(frags), len(frags)


def short(x, n=160):
    s = x if isinstance(x, str) else x.hex()
    return s if len(s) <= n else s[:n] + f"... ({len(s)} chars)"


def check_echo(what, sent, got):
    if kind(got) != kind(sent):
        fail(f"{what}: expected a {kind(sent)} echo, got {kind(got)}", got=short(got))
    if got != sent:
        fail(f"{what}: echo differs", expected=short(sent), got=short(got))


# ------------------------------------------------------------------ echo


async def echo_text_and_binary(ws, how=""):
    """Sends TEXT, then BINARY: each must come back as it was sent (`how`: for messages)."""
    for what, sent in (("text", TEXT), ("binary", BINARY)):
        await ws.send(sent)
        got, _ = await recv_whole(ws)
        check_echo(what + how, sent, got)


async def echo_websockets(url):
    async with ws_connect(url) as ws:
        await echo_text_and_binary(ws)
        await ws.close(4000, "done")
        rcvd = ws.protocol.close_rcvd
        code = rcvd.code if rcvd else 1006
        if code != 4000:
            fail(f"close handshake: expected the server to echo code 4000, got {code}")
    ok(lib="websockets", text=TEXT, binary_len=len(BINARY), close_code=code)


def echo_websocket_client(url):
    import websocket  # the websocket-client package

    ws = websocket.create_connection(url, timeout=5, http_proxy_host=None,
                                     http_no_proxy=["127.0.0.1", "localhost"])
    ws.send(TEXT)
    opcode, data = ws.recv_data()
    if opcode != websocket.ABNF.OPCODE_TEXT:
        fail(f"text: expected opcode 1 (text), got {opcode}")
    check_echo("text", TEXT, data.decode("utf-8"))
    ws.send_binary(BINARY)
    opcode, data = ws.recv_data()
    if opcode != websocket.ABNF.OPCODE_BINARY:
        fail(f"binary: expected opcode 2 (binary), got {opcode}", got=short(bytes(data)))
    check_echo("binary", BINARY, bytes(data))
    ws.close()
    ok(lib="websocket-client", text=TEXT, binary_len=len(BINARY))


# ------------------------------------------------------------------ fragmented


async def fragmented(url, expect_frames):
    text_parts = ["frag", "men", "ted ☃ ", "text"]
    bin_parts = [b"\xff\x00", b"\x00", b"\xff\xfe\x00", b"\xff"]
    async with ws_connect(url) as ws:
        await ws.send(text_parts)
        got, frames_t = await recv_whole(ws)
        check_echo("fragmented text", "".join(text_parts), got)
        await ws.send(bin_parts)
        got, frames_b = await recv_whole(ws)
        check_echo("fragmented binary", b"".join(bin_parts), got)
    if expect_frames is not None:
        want_t, want_b = expect_frames
        if (frames_t, frames_b) != (want_t, want_b):
            fail(f"expected echoes in {want_t} and {want_b} frames, got {frames_t} and {frames_b}")
    ok(sent_frames=[len(text_parts), len(bin_parts)], echo_frames=[frames_t, frames_b])


# ------------------------------------------------------------------ big


async def big(url, mib):
    import random

    rnd = random.Random(6455)
    binary = rnd.randbytes(mib << 20)
    text = "".join(rnd.choice("aé☃€𝄞 \n") for _ in range(mib << 18))
    async with ws_connect(url, open_timeout=10) as ws:
        await ws.send(binary)
        got, _ = await recv_whole(ws, 20)
        check_echo(f"{mib} MiB binary", binary, got)
        await ws.send(text)
        got, _ = await recv_whole(ws, 20)
        check_echo(f"text of {len(text.encode())} bytes", text, got)
    ok(binary_len=len(binary), text_len=len(text.encode()))


# ------------------------------------------------------------------ flood


async def flood(url, count, size, window, deadline):
    """Sends count binary messages of size bytes (index in the first 4) while reading,
    at most window of them unanswered; expects all back in order (an echo, or our own
    copies under --broadcast)."""
    t0 = time.monotonic()
    room = asyncio.Semaphore(window)
    async with ws_connect(url) as ws:
        async def sender():
            for i in range(count):
                await room.acquire()
                await ws.send(i.to_bytes(4, "big") + bytes([i % 251]) * (size - 4))

        async def reader():
            for i in range(count):
                got, _ = await recv_whole(ws, deadline)
                room.release()
                j = int.from_bytes(got[:4], "big")
                if j != i or len(got) != size:
                    fail(f"flood: expected message #{i} of {size} bytes, got #{j} of {len(got)}")

        await asyncio.wait_for(asyncio.gather(sender(), reader()), deadline)
    ok(count=count, size=size, elapsed=round(time.monotonic() - t0, 3))


# ------------------------------------------------------------------ hold


async def hold(url, n, wait, want_code, want_reason):
    """Opens n connections, says so, then waits until the server closes them all;
    every close must carry want_code/want_reason."""
    conns = await asyncio.gather(*(ws_connect(url).__aenter__() for _ in range(n)))
    emit({"event": "all_open", "n": n})
    t0 = time.monotonic()

    async def closed(ws):
        await ws.wait_closed()
        rcvd = ws.protocol.close_rcvd
        return (rcvd.code, rcvd.reason) if rcvd else (1006, "")

    try:
        results = await asyncio.wait_for(asyncio.gather(*(closed(c) for c in conns)), wait)
    except asyncio.TimeoutError:
        still = sum(1 for c in conns if c.protocol.close_rcvd is None)
        fail(f"hold: {still} of {n} connections still open after {wait} s")
    counts = {}
    for code, reason in results:
        counts[f"{code} {reason}"] = counts.get(f"{code} {reason}", 0) + 1
    want = f"{want_code} {want_reason}"
    if counts != {want: n}:
        fail(f"hold: expected all {n} closed with {want!r}", got=counts)
    ok(n=n, closes=counts, all_closed_after=round(time.monotonic() - t0, 3))


# ------------------------------------------------------------------ many


async def many(url, n, deadline):
    errors = []
    done = 0

    async def one(i):
        nonlocal done
        tag = f"client-{i}-{uuid.uuid4().hex}"
        payload = tag.encode() + b"\xff\x00" + i.to_bytes(4, "big")
        try:
            async with ws_connect(url, open_timeout=deadline) as ws:
                await ws.send(tag)
                got, _ = await recv_whole(ws, deadline)
                if got != tag:
                    errors.append(f"#{i}: sent {tag!r}, got {got!r}")
                    return
                await ws.send(payload)
                got, _ = await recv_whole(ws, deadline)
                if got != payload:
                    errors.append(f"#{i}: sent binary {payload.hex()}, got {got!r}")
                    return
            done += 1
        except Exception as e:  # noqa: BLE001 - reported, not swallowed
            errors.append(f"#{i}: {type(e).__name__}: {e}")

    t0 = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(n))), deadline)
    elapsed = time.monotonic() - t0
    if errors or done != n:
        fail(f"expected {n} clients with their own echoes, {done} got them",
             errors=errors[:10], n_errors=len(errors))
    ok(clients=n, elapsed=round(elapsed, 3))


# ------------------------------------------------------------------ app pong


async def apppong(url):
    async with ws_connect(url) as ws:
        await ws.send("ping")
        got, _ = await recv_whole(ws)
        if got != "pong":
            fail(f"text ping: expected text 'pong', got {got!r}")
        req = {"type": "ping", "id": 42, "ts": 1.5, "nested": {"a": [1, 2]}}
        await ws.send(json.dumps(req))
        got, _ = await recv_whole(ws)
        if not isinstance(got, str):
            fail(f"JSON ping: expected a text reply, got binary {got.hex()}")
        try:
            reply = json.loads(got)
        except ValueError:
            fail(f"JSON ping: expected JSON, got {got!r}")
        want = dict(req, status="pong")
        if reply != want:
            fail("JSON ping: reply differs", expected=want, got=reply)
        # anything else is still echoed, type kept
        for other in ["pingpong", "PING", json.dumps({"type": "chat", "text": "ping"}),
                      json.dumps(["ping"]), b"ping"]:
            await ws.send(other)
            got, _ = await recv_whole(ws)
            check_echo(f"non-ping message {other!r}", other, got)
    ok(json_reply=reply)


# ------------------------------------------------------------------ broadcast


async def broadcast(url, n):
    conns = [await ws_connect(url).__aenter__() for _ in range(n)]
    try:
        # Sync: the server registers a client in its hub some time after the
        # 101; resend a marker until every client has seen one, so the real
        # messages below cannot race a registration.
        async def drain_until(ws, pred, timeout):
            while True:
                got, _ = await recv_whole(ws, timeout)
                if pred(got):
                    return got

        synced = False
        for attempt in range(50):
            marker = f"sync-{attempt}"
            await conns[0].send(marker)
            try:
                await asyncio.gather(*(drain_until(c, lambda g, m=marker: g == m, 0.2)
                                       for c in conns))
                synced = True
                break
            except asyncio.TimeoutError:
                continue
        if not synced:
            fail(f"broadcast: a message from client 0 never reached all {n} clients")
        # drain any late sync markers, then every client sends one unique message
        tags = [f"from-{i}-{uuid.uuid4().hex}" for i in range(n)]
        for i, c in enumerate(conns):
            await c.send(tags[i])
        missing = {}
        for i, c in enumerate(conns):
            want = set(tags)
            try:
                while want:
                    got, _ = await recv_whole(c, 3)
                    if isinstance(got, str) and got.startswith("sync-"):
                        continue
                    if got not in want:
                        fail(f"broadcast: client {i} got unexpected {got!r}")
                    want.discard(got)
            except asyncio.TimeoutError:
                missing[i] = sorted(want)
        if missing:
            fail(f"broadcast: every one of {n} clients should get all {n} messages "
                 "(its own included)", missing=missing)
        # binary stays binary, byte for byte
        payload = b"\xff\x00bcast\x00\xff"
        await conns[-1].send(payload)
        for i, c in enumerate(conns):
            try:
                got, _ = await recv_whole(c, 3)
            except asyncio.TimeoutError:
                fail(f"broadcast: client {i} did not get the binary message")
            if got != payload:
                fail(f"broadcast: client {i}: expected binary {payload.hex()}, got {short(got)} "
                     f"({kind(got)})")
    finally:
        for c in conns:
            await c.close()
    ok(clients=n)


# ------------------------------------------------------------------ tls


async def tls(url, cafile):
    ctx = ssl.create_default_context(cafile=cafile)  # verifies chain and host name
    async with ws_connect(url, ssl=ctx) as ws:
        await echo_text_and_binary(ws, " over TLS")
        version = ws.transport.get_extra_info("ssl_object").version()
    ok(tls_version=version)


# ------------------------------------------------------------------ session


async def session(a):
    from websockets.exceptions import InvalidStatus

    t0 = time.monotonic()

    def t():
        return round(time.monotonic() - t0, 4)

    try:
        ws = await ws_connect(a.url, subprotocols=a.subprotocol or None,
                              ping_interval=a.keepalive, ping_timeout=None).__aenter__()
    except InvalidStatus as e:
        r = e.response
        emit({"event": "rejected", "status": r.status_code,
              "body": r.body.decode("utf-8", "replace") if r.body else "", "t": t()})
        return
    except Exception as e:  # noqa: BLE001
        emit({"event": "error", "error": f"{type(e).__name__}: {e}", "t": t()})
        return
    emit({"event": "open", "subprotocol": ws.subprotocol,
          "local": "%s:%d" % ws.local_address[:2], "t": t()})

    def message_event(data, frames):
        ev = {"event": "message", "kind": kind(data), "frames": frames, "t": t()}
        if isinstance(data, str):
            ev["text"] = data
        else:
            ev["hex"] = data.hex()
        return ev

    outgoing = list(a.send) + [bytes.fromhex(h) for h in a.send_hex]
    for msg in outgoing:
        try:
            if a.frag:  # as one fragmented message, a.frag characters/bytes per frame
                await ws.send([msg[i:i + a.frag] for i in range(0, len(msg), a.frag)])
            else:
                await ws.send(msg)
        except Exception as e:  # noqa: BLE001 - closed by the server; reported below
            emit({"event": "send_failed", "error": type(e).__name__, "t": t()})
            break
        emit({"event": "sent", "kind": kind(msg), "len": len(msg), "t": t()})
        if a.lockstep:  # wait for this message's echo before sending the next
            try:
                data, frames = await recv_whole(ws, 5)
            except Exception:  # noqa: BLE001 - closed or timed out; reported below
                break
            emit(message_event(data, frames))

    if a.ping:
        waiter = await ws.ping(b"wsbeat")
        sent = time.monotonic()
        try:
            await asyncio.wait_for(asyncio.shield(waiter), a.ping_timeout)
            emit({"event": "pong", "rtt": round(time.monotonic() - sent, 4), "t": t()})
        except asyncio.TimeoutError:
            emit({"event": "pong_timeout", "after": a.ping_timeout, "t": t()})
        except Exception as e:  # noqa: BLE001 - closed while waiting
            emit({"event": "pong_error", "error": type(e).__name__, "t": t()})

    async def reader():
        while True:
            try:
                data, frames = await recv_whole(ws, timeout=None)
            except Exception:  # noqa: BLE001 - closed; reported below
                return
            emit(message_event(data, frames))

    try:
        await asyncio.wait_for(reader(), a.wait)
    except asyncio.TimeoutError:
        emit({"event": "alive", "t": t()})
        await ws.close(1000, "")
    await ws.wait_closed()
    rcvd = ws.protocol.close_rcvd
    emit({"event": "closed", "code": rcvd.code if rcvd else 1006,
          "reason": rcvd.reason if rcvd else "", "t": t()})


# ------------------------------------------------------------------ main


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("echo")
    s.add_argument("url")
    s.add_argument("--lib", choices=["websockets", "websocket-client"], required=True)
    s = sub.add_parser("fragmented")
    s.add_argument("url")
    s.add_argument("--expect-frames", nargs=2, type=int, metavar=("TEXT", "BINARY"),
                   help="frames each echo must come in (default: not checked)")
    s = sub.add_parser("big")
    s.add_argument("url")
    s.add_argument("--mib", type=int, default=4)
    s = sub.add_parser("flood")
    s.add_argument("url")
    s.add_argument("--count", type=int, default=300)
    s.add_argument("--size", type=int, default=65536)
    s.add_argument("--window", type=int, default=4, help="messages in flight at most")
    s.add_argument("--deadline", type=float, default=15)
    s = sub.add_parser("hold")
    s.add_argument("url")
    s.add_argument("-n", type=int, default=200)
    s.add_argument("--wait", type=float, default=15)
    s.add_argument("--code", type=int, default=1001)
    s.add_argument("--reason", default="going away")
    s = sub.add_parser("many")
    s.add_argument("url")
    s.add_argument("-n", type=int, default=500)
    s.add_argument("--deadline", type=float, default=15)
    s = sub.add_parser("apppong")
    s.add_argument("url")
    s = sub.add_parser("broadcast")
    s.add_argument("url")
    s.add_argument("-n", type=int, default=3)
    s = sub.add_parser("tls")
    s.add_argument("url")
    s.add_argument("--cafile", required=True)
    s = sub.add_parser("session")
    s.add_argument("url")
    s.add_argument("--subprotocol", action="append", default=[])
    s.add_argument("--send", action="append", default=[], metavar="TEXT")
    s.add_argument("--send-hex", action="append", default=[], metavar="HEX")
    s.add_argument("--frag", type=int, metavar="N",
                   help="send each message fragmented, N characters (text) or bytes per frame")
    s.add_argument("--lockstep", action="store_true",
                   help="await one message after each send before sending the next")
    s.add_argument("--ping", action="store_true", help="send one Ping and wait for its Pong")
    s.add_argument("--keepalive", type=float, metavar="S",
                   help="let websockets send its own keepalive Ping every S seconds (default: off)")
    s.add_argument("--ping-timeout", type=float, default=2)
    s.add_argument("--wait", type=float, default=2,
                   help="then read until the server closes or this many seconds pass")
    a = p.parse_args()

    if a.cmd == "echo":
        if a.lib == "websockets":
            asyncio.run(echo_websockets(a.url))
        else:
            echo_websocket_client(a.url)
    elif a.cmd == "fragmented":
        asyncio.run(fragmented(a.url, a.expect_frames))
    elif a.cmd == "big":
        asyncio.run(big(a.url, a.mib))
    elif a.cmd == "flood":
        asyncio.run(flood(a.url, a.count, a.size, a.window, a.deadline))
    elif a.cmd == "hold":
        asyncio.run(hold(a.url, a.n, a.wait, a.code, a.reason))
    elif a.cmd == "many":
        asyncio.run(many(a.url, a.n, a.deadline))
    elif a.cmd == "apppong":
        asyncio.run(apppong(a.url))
    elif a.cmd == "broadcast":
        asyncio.run(broadcast(a.url, a.n))
    elif a.cmd == "tls":
        asyncio.run(tls(a.url, a.cafile))
    elif a.cmd == "session":
        asyncio.run(session(a))


if __name__ == "__main__":
    main()
