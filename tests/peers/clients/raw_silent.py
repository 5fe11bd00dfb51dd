#!/usr/bin/env python3
"""Misbehaving raw-socket clients for wsbeat's echo-server tests (stdlib only).

  raw_silent.py upgrade HOST:PORT [--hold S]
      does the WebSocket upgrade by hand, prints
      {"event":"upgraded","local":"IP:PORT","status":101}, then never reads and never
      answers anything (pings pile up unread) until killed or --hold seconds pass.

  raw_silent.py tcp HOST:PORT [--hold S] [--partial]
      opens a TCP connection and sends nothing (no HTTP request; with --partial only
      the first lines of one), prints
      {"event":"connected","local":"IP:PORT"}, then waits for the server to close it:
      {"event":"eof","after":SECONDS} or {"event":"still_open","after":HOLD}.

  raw_silent.py http HOST:PORT [--path P]
      sends a plain HTTP/1.1 GET without upgrade headers and prints
      {"event":"response","status":N,"body":"..."}.
"""

import argparse
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from rawws import emit, new_key, upgrade_request  # noqa: E402


def addr(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


def local(sock):
    ip, port = sock.getsockname()[:2]
    return f"{ip}:{port}"


def read_head(sock, deadline):
    buf = b""
    while b"\r\n\r\n" not in buf:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf


def upgrade(a):
    sock = socket.create_connection(addr(a.target), timeout=5)
    sock.sendall(upgrade_request(a.target, new_key()))
    # Read the response head byte by byte so no frame after it is consumed.
    head = b""
    sock.settimeout(5)
    while not head.endswith(b"\r\n\r\n"):
        b = sock.recv(1)
        if not b:
            emit({"event": "error", "error": "closed during upgrade", "head": head.decode("latin-1")})
            return 1
        head += b
    status = int(head.split(b" ", 2)[1])
    emit({"event": "upgraded" if status == 101 else "rejected", "status": status,
          "local": local(sock)})
    if status != 101:
        return 1
    # From here on: deaf and mute.
    time.sleep(a.hold)
    sock.close()
    return 0


def tcp(a):
    sock = socket.create_connection(addr(a.target), timeout=5)
    t0 = time.monotonic()
    if a.partial:  # slowloris: the start of a request, never finished
        sock.sendall(f"GET / HTTP/1.1\r\nHost: {a.target}\r\nUpgrade: websocket\r\n".encode())
    emit({"event": "connected", "local": local(sock)})
    deadline = t0 + a.hold
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            emit({"event": "still_open", "after": round(time.monotonic() - t0, 3)})
            return 0
        sock.settimeout(left)
        try:
            data = sock.recv(4096)
        except socket.timeout:
            continue
        except ConnectionResetError:
            data = b""
        if not data:
            emit({"event": "eof", "after": round(time.monotonic() - t0, 3)})
            return 0
        emit({"event": "data", "text": data.decode("latin-1")})


def http(a):
    sock = socket.create_connection(addr(a.target), timeout=5)
    req = f"GET {a.path} HTTP/1.1\r\nHost: {a.target}\r\nConnection: close\r\n\r\n"
    sock.sendall(req.encode())
    data = b""
    sock.settimeout(5)
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    head, _, body = data.partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        status = None
    emit({"event": "response", "status": status, "head": head.decode("latin-1"),
          "body": body.decode("utf-8", "replace")})
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=["upgrade", "tcp", "http"])
    p.add_argument("target", metavar="HOST:PORT")
    p.add_argument("--hold", type=float, default=30)
    p.add_argument("--path", default="/")
    p.add_argument("--partial", action="store_true",
                   help="tcp mode: send the first lines of an upgrade request, never the end")
    a = p.parse_args()
    sys.exit({"upgrade": upgrade, "tcp": tcp, "http": http}[a.mode](a))


if __name__ == "__main__":
    main()
