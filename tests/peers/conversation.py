#!/usr/bin/env python3
"""A scripted WebSocket service for wsbeat's conversation tests (Python `websockets`):
authenticate, then subscribe, then a stream of ticks. A subscribe that arrives before the
auth answer was sent is refused, so a client that sends everything at once fails.

Client messages (JSON text):
  {"op":"auth","user":U}          answered after --auth-delay with
                                  {"type":"welcome","token":"t-N","conn":N}
  {"op":"sub","token":T}          T must be the token of this connection:
                                  {"type":"subscribed"}, then {"type":"tick","n":I} every 50 ms
  {"op":"echo","data":D}          {"type":"echo","data":D}; needs a subscribe first. With
                                  --drop-echo-every K every K-th echo is not answered
Anything else, or a step out of order: {"type":"error","why":...} and Close 4001.

stdout, one line each, flushed:
  listening ws://127.0.0.1:PORT/
  {"event":"connect","n":N}
  {"event":"auth","n":N} / {"event":"sub","n":N}
  {"event":"refused","n":N,"why":...}
  {"event":"dropped","n":N,"data":D}
"""

import argparse
import asyncio
import itertools
import json

import rawws
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


def emit(obj):
    rawws.emit(obj, separators=(",", ":"))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--auth-delay", type=float, default=0.3, metavar="SECONDS")
    p.add_argument("--close-first-after-ticks", type=int, metavar="K",
                   help="close the first connection with 1012 after K ticks")
    p.add_argument("--close-every-after-echoes", type=int, metavar="K",
                   help="close every connection with 1012 after K echoes")
    p.add_argument("--drop-echo-every", type=int, metavar="K",
                   help="do not answer every K-th echo (counted over the whole run)")
    return p.parse_args()


ARGS = parse_args()
CONNS = itertools.count(1)
ECHOES = itertools.count(1)


async def refuse(ws, n, why):
    emit({"event": "refused", "n": n, "why": why})
    await ws.send(json.dumps({"type": "error", "why": why}))
    await ws.close(4001, why)


async def ticks(ws, n):
    for i in itertools.count(1):
        await asyncio.sleep(0.05)
        await ws.send(json.dumps({"type": "tick", "n": i}))
        if n == 1 and ARGS.close_first_after_ticks == i:
            await ws.close(1012, "restarting")
            return


async def welcome(ws, n, state):
    await asyncio.sleep(ARGS.auth_delay)
    state["token"] = f"t-{n}"
    await ws.send(json.dumps({"type": "welcome", "token": state["token"], "conn": n}))


async def handler(ws):
    n = next(CONNS)
    emit({"event": "connect", "n": n})
    state = {}
    auth_task = None
    subscribed = False
    echoes = 0
    tick_task = None
    try:
        async for raw in ws:
            try:
                msg = json.loads(raw)
                op = msg["op"]
            except (ValueError, KeyError, TypeError):
                await refuse(ws, n, "not a command")
                return
            if op == "auth":
                emit({"event": "auth", "n": n})
                # Answered later while reading goes on, so that a subscribe sent before the
                # answer arrived is seen as such.
                auth_task = asyncio.create_task(welcome(ws, n, state))
            elif op == "sub":
                token = state.get("token")
                if token is None:
                    await refuse(ws, n, "subscribe before auth")
                    return
                if msg.get("token") != token:
                    await refuse(ws, n, "wrong token")
                    return
                emit({"event": "sub", "n": n})
                subscribed = True
                await ws.send(json.dumps({"type": "subscribed"}))
                if ARGS.close_every_after_echoes is None and tick_task is None:
                    tick_task = asyncio.create_task(ticks(ws, n))
            elif op == "echo":
                if not subscribed:
                    await refuse(ws, n, "echo before subscribe")
                    return
                k = next(ECHOES)
                if ARGS.drop_echo_every and k % ARGS.drop_echo_every == 0:
                    emit({"event": "dropped", "n": n, "data": msg.get("data")})
                else:
                    await ws.send(json.dumps({"type": "echo", "data": msg.get("data")}))
                echoes += 1
                if ARGS.close_every_after_echoes == echoes:
                    await ws.close(1012, "restarting")
                    return
            else:
                await refuse(ws, n, f"unknown op {op}")
                return
    except ConnectionClosed:
        pass
    finally:
        for task in (tick_task, auth_task):
            if task is not None:
                task.cancel()


async def main():
    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening ws://127.0.0.1:{port}/", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
