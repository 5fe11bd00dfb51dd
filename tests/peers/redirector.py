#!/usr/bin/env python3
"""Redirects WebSocket upgrades, for wsbeat's `-L` tests.

Arguments: routes `PATH=STATUS:LOCATION`; `{port}` in a LOCATION is this server's port.
Any other path is upgraded (101) and closed at once with 1000.

Protocol with the test harness (stdout, one line each, flushed):
  listening ws://127.0.0.1:PORT/
  {"event":"request","path":...,"host":...,"authorization":...,"cookie":...}
"""

import asyncio
import json
import sys

from rawws import accept_key


async def main():
    routes = {}
    for arg in sys.argv[1:]:
        path, rest = arg.split("=", 1)
        status, location = rest.split(":", 1)
        routes[path] = (int(status), location)

    async def handle(reader, writer):
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1]
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        print(json.dumps({"event": "request", "path": path, "host": headers.get("host"),
                          "authorization": headers.get("authorization"),
                          "cookie": headers.get("cookie")}), flush=True)
        if path in routes:
            status, location = routes[path]
            location = location.replace("{port}", str(port))
            writer.write(f"HTTP/1.1 {status} Moved\r\nLocation: {location}\r\n"
                         "Content-Length: 0\r\n\r\n".encode())
        else:
            key = headers.get("sec-websocket-key", "")
            writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                          f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept_key(key)}\r\n\r\n"
                          ).encode() + b"\x88\x02\x03\xe8")
        await writer.drain()
        try:
            await asyncio.wait_for(reader.read(1024), 5)
        except (asyncio.TimeoutError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"listening ws://127.0.0.1:{port}/", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
