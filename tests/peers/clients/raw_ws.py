#!/usr/bin/env python3
"""Hand-made WebSocket frames for wsbeat's echo-server tests (stdlib only): the
RFC 6455 corners no well-behaved client library will produce on request.

  raw_ws.py CASE HOST:PORT

Cases (each prints one JSON line {"ok": true|false, "error": ..., ...}, exit 0/1):
  interleaved-ping  text message in 3 fragments with a Ping between them: the Pong
                    (same payload) comes first, then the whole message in one frame
  unmasked          a client frame without mask: the server must close with 1002
  bad-utf8          a text message that is not UTF-8: the server must close with 1007
  bad-opcode        a frame with reserved opcode 0x3: the server must close with 1002
  close-echo        Close 4321 "bye": the server's Close carries 4321, then TCP ends
  ping-125          a Ping with the largest control payload gets it back in the Pong
  utf8-split        a text message split inside a UTF-8 character across frames: echoed
  split-request     the upgrade request sent one byte at a time, then an echo
  frame-with-request  the first frame in the same TCP write as the request: echoed
  firefox-headers   "Connection: keep-alive, Upgrade", lower-case names: upgraded
  big-cookie        a 6 KB Cookie header (browsers send them): upgraded
  control-too-long, fragmented-control, continuation-without-start,
  new-message-inside-fragmented, rsv-bits-without-extension, close-one-byte-payload,
  close-reserved-code-1005, close-code-999
                    protocol violations: each must get Close 1002
"""

import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from rawws import (close_code, close_payload, close_reason, emit, encode_frame, fail,  # noqa: E402
                   new_key, upgrade_request)


class Conn:
    def __init__(self, target, headers=None, split=False, then=b""):
        """Upgrade by hand. headers: the lines after the request line (default: a plain
        RFC request); split: send the request one byte at a time; then: bytes sent in
        the same write as the request (a pipelined first frame)."""
        host, port = target.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        self.buf = b""
        key = new_key()
        if headers is None:
            req = upgrade_request(target, key)
        else:
            headers = [h.replace("@KEY@", key).replace("@HOST@", target) for h in headers]
            req = ("GET / HTTP/1.1\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n").encode()
        if split:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i in range(len(req)):
                self.sock.sendall(req[i:i + 1])
                time.sleep(0.002)
        else:
            self.sock.sendall(req + then)
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                fail("connection closed during the upgrade", got=self.buf.decode("latin-1"))
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.head = head.decode("latin-1")
        status = head.split(b" ", 2)[1]
        if status != b"101":
            fail(f"upgrade: expected 101, got {status.decode()}", head=head.decode("latin-1"))

    def send(self, opcode, payload, fin=True, mask=True, rsv=0):
        self.sock.sendall(encode_frame(opcode, payload, fin=fin, rsv=rsv, mask=mask))

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        """(fin, opcode, payload) of one frame; raises EOFError at TCP end."""
        b0, b1 = self._need(2)
        if b1 & 0x80:
            fail("the server sent a masked frame")
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", self._need(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", self._need(8))
        return bool(b0 & 0x80), b0 & 0x0F, self._need(n)

    def expect_close(self, code, what):
        """Reads until a Close frame; checks its code; then expects TCP to end."""
        frames = []
        try:
            while True:
                fin, op, payload = self.recv()
                if op == 0x8:
                    got, reason = close_code(payload), close_reason(payload)
                    if got != code:
                        fail(f"{what}: expected Close {code}, got Close {got} {reason!r}",
                             frames_before=frames)
                    break
                frames.append({"opcode": op, "len": len(payload)})
        except EOFError:
            fail(f"{what}: expected Close {code}, the server dropped TCP without a Close frame",
                 frames_before=frames)
        except socket.timeout:
            fail(f"{what}: expected Close {code}, got nothing within 5 s", frames_before=frames)
        # Complete the handshake the polite way, then the server ends TCP.
        try:
            self.send(0x8, close_payload(code))
        except OSError:
            pass
        return {"close_code": got, "close_reason": reason, "tcp_end_after": self.wait_tcp_end(what)}

    def wait_tcp_end(self, what=None):
        """Reads until the server ends TCP; the seconds that took. Fails when it is still open
        after 5 s (`what`: the case, for the message)."""
        t0 = time.monotonic()
        try:
            while True:
                self.recv()
        except (EOFError, ConnectionResetError):
            pass
        except socket.timeout:
            msg = "after the Close handshake the server kept TCP open for 5 s"
            fail(f"{what}: {msg}" if what else msg)
        return round(time.monotonic() - t0, 3)


def interleaved_ping(c):
    c.send(0x1, b"inter", fin=False)
    c.send(0x9, b"mid-ping")
    c.send(0x0, b"leav", fin=False)
    c.send(0x0, b"ed \xe2\x98\x83", fin=True)
    seen = []
    try:
        while len(seen) < 2:
            fin, op, payload = c.recv()
            seen.append((fin, op, payload))
    except (EOFError, socket.timeout):
        fail("expected a Pong and the echo", got=[(f, o, p.hex()) for f, o, p in seen])
    (f1, op1, p1), (f2, op2, p2) = seen
    if op1 != 0xA or p1 != b"mid-ping":
        fail(f"first reply: expected Pong 'mid-ping', got opcode {op1:#x} {p1!r}")
    if not f2 or op2 != 0x1 or p2 != "interleaved ☃".encode():
        fail(f"second reply: expected one text frame 'interleaved ☃', got fin={f2} opcode {op2:#x} {p2!r}")
    c.send(0x8, close_payload(1000))
    emit({"ok": True, "pong": p1.decode(), "echo": p2.decode()})


def unmasked(c):
    c.send(0x1, b"no mask", mask=False)
    emit({"ok": True, **c.expect_close(1002, "unmasked client frame")})


def bad_utf8(c):
    c.send(0x1, b"\xff\xfe not utf-8 \xc3\x28")
    emit({"ok": True, **c.expect_close(1007, "text message that is not UTF-8")})


def bad_opcode(c):
    c.send(0x3, b"reserved")
    emit({"ok": True, **c.expect_close(1002, "reserved opcode 0x3")})


def close_echo(c):
    c.send(0x8, close_payload(4321, b"bye"))
    try:
        fin, op, payload = c.recv()
    except (EOFError, socket.timeout):
        fail("Close 4321: expected the server's Close frame, got none")
    if op != 0x8:
        fail(f"Close 4321: expected a Close frame, got opcode {op:#x}")
    code = close_code(payload)
    if code != 4321:
        fail(f"Close 4321: expected the server to echo 4321, got {code}")
    emit({"ok": True, "close_code": code, "tcp_end_after": c.wait_tcp_end()})


def echo_once(c, what):
    c.send(0x1, b"after " + what.encode())
    try:
        fin, op, payload = c.recv()
    except (EOFError, socket.timeout):
        fail(f"{what}: upgraded, but no echo came back")
    if op != 0x1 or payload != b"after " + what.encode():
        fail(f"{what}: expected the text echo, got opcode {op:#x} {payload!r}")


def split_request(target):
    c = Conn(target, split=True)
    echo_once(c, "split-request")
    emit({"ok": True})


def frame_with_request(target):
    c = Conn(target, then=encode_frame(0x1, b"pipelined", mask=True))
    try:
        fin, op, payload = c.recv()
    except (EOFError, socket.timeout):
        fail("a frame sent in the same TCP write as the upgrade request was lost (no echo)")
    if op != 0x1 or payload != b"pipelined":
        fail(f"pipelined frame: expected text echo 'pipelined', got opcode {op:#x} {payload!r}")
    emit({"ok": True})


def firefox_headers(target):
    # What Firefox sends: Connection lists keep-alive too; header names and the
    # Upgrade value in other cases (all case-insensitive per RFC 6455 / RFC 9110).
    c = Conn(target, headers=["host: @HOST@", "connection: keep-alive, Upgrade",
                              "upgrade: WebSocket", "sec-websocket-key: @KEY@",
                              "sec-websocket-version: 13", "Sec-WebSocket-Extensions: permessage-deflate",
                              "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"])
    if "permessage-deflate" in c.head.lower():
        # A server that supports compression may take it; then our raw frames would
        # need deflating. Not the case for wsbeat, which negotiates no extension.
        emit({"ok": True, "note": "permessage-deflate accepted; echo not checked"})
        return
    echo_once(c, "firefox-headers")
    emit({"ok": True})


def big_cookie(target):
    cookie = "session=" + "x" * 6000
    c = Conn(target, headers=["Host: @HOST@", "Upgrade: websocket", "Connection: Upgrade",
                              "Sec-WebSocket-Key: @KEY@", "Sec-WebSocket-Version: 13",
                              f"Cookie: {cookie}"])
    echo_once(c, "big-cookie")
    emit({"ok": True})


def utf8_split(c):
    # "☃" is e2 98 83: split inside the character across two frames, which is valid.
    c.send(0x1, b"snow \xe2\x98", fin=False)
    c.send(0x0, b"\x83 man", fin=True)
    try:
        fin, op, payload = c.recv()
    except (EOFError, socket.timeout):
        fail("UTF-8 split across frames: expected the echo, the server closed or said nothing")
    if op != 0x1 or payload != "snow ☃ man".encode():
        fail(f"UTF-8 split across frames: expected text 'snow ☃ man', got opcode {op:#x} {payload!r}")
    emit({"ok": True})


def ping_125(c):
    payload = bytes(range(125))
    c.send(0x9, payload)
    fin, op, got = c.recv()
    if op != 0xA or got != payload:
        fail(f"Ping with 125 bytes: expected a Pong with the same payload, got opcode {op:#x} {got.hex()}")
    emit({"ok": True})


# Protocol violations: each must get Close 1002 (RFC 6455 5.x, 7.4.1).
VIOLATIONS = {
    "control-too-long": lambda c: c.send(0x9, b"p" * 126),
    "fragmented-control": lambda c: c.send(0x9, b"ping", fin=False),
    "continuation-without-start": lambda c: c.send(0x0, b"orphan"),
    "new-message-inside-fragmented": lambda c: (c.send(0x1, b"first", fin=False),
                                                c.send(0x1, b"second")),
    "rsv-bits-without-extension": lambda c: c.send(0x1, b"rsv1", rsv=0x40),
    "close-one-byte-payload": lambda c: c.send(0x8, b"\x03"),
    "close-reserved-code-1005": lambda c: c.send(0x8, close_payload(1005)),
    "close-code-999": lambda c: c.send(0x8, close_payload(999)),
}


def violation(name):
    def run(c):
        VIOLATIONS[name](c)
        emit({"ok": True, "case": name, **c.expect_close(1002, name)})
    return run


CASES = {
    "interleaved-ping": interleaved_ping,
    "unmasked": unmasked,
    "bad-utf8": bad_utf8,
    "bad-opcode": bad_opcode,
    "close-echo": close_echo,
    "ping-125": ping_125,
    "utf8-split": utf8_split,
    **{name: violation(name) for name in VIOLATIONS},
}
# These do their own upgrade.
RAW_CASES = {
    "split-request": split_request,
    "frame-with-request": frame_with_request,
    "firefox-headers": firefox_headers,
    "big-cookie": big_cookie,
}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in {**CASES, **RAW_CASES}:
        sys.stderr.write(__doc__)
        sys.exit(2)
    if sys.argv[1] in RAW_CASES:
        RAW_CASES[sys.argv[1]](sys.argv[2])
    else:
        CASES[sys.argv[1]](Conn(sys.argv[2]))


if __name__ == "__main__":
    main()
