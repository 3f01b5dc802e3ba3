"""Python websockets (PyPI) as an independent permessage-deflate peer for the interop tests.

    websockets_peer.py server          echo server on 127.0.0.1; prints "PORT <n>" then serves
    websockets_peer.py client URL N    sends the N test messages, checks each echo, exits 0
    websockets_peer.py bench           a plain echo server for bench/ (no greeting), at
                                       websockets' defaults: 12-bit windows, memLevel 5

websockets negotiates permessage-deflate by default in both roles (its server: 12-bit windows,
memLevel 5; its client offers `permessage-deflate; client_max_window_bits`). Both roles print
the extension they agreed on, as "EXTENSIONS <header value>", before anything else.
"""
import asyncio
import json
import sys

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve


def message(i):
    """The i-th test message: compressible JSON of growing size, every 5th one binary."""
    size = [0, 1, 16, 100, 1000, 10000, 70000][i % 7]
    record = {"id": i, "user": "peer", "text": "the quick brown fox " * 3}
    text = (json.dumps(record) * (size // 60 + 1))[:size]
    return text.encode() if i % 5 == 4 else text


async def echo(ws):
    await ws.send(json.dumps({"extensions": ws.response.headers.get("Sec-WebSocket-Extensions")}))
    async for msg in ws:
        await ws.send(msg)


async def server():
    async with serve(echo, "127.0.0.1", 0, max_size=1 << 22) as srv:
        port = srv.sockets[0].getsockname()[1]
        print("PORT", port, flush=True)
        await asyncio.Future()


async def plain_echo(ws):
    async for msg in ws:
        await ws.send(msg)


async def bench():
    async with serve(plain_echo, "127.0.0.1", 0, max_size=1 << 22) as srv:
        print("PORT", srv.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()


async def client(url, n):
    async with connect(url, max_size=1 << 22) as ws:
        print("EXTENSIONS", ws.response.headers.get("Sec-WebSocket-Extensions"), flush=True)
        for i in range(n):
            sent = message(i)
            await ws.send(sent)
            got = await ws.recv()
            if got != sent:
                print("MISMATCH", i, len(sent), len(got), flush=True)
                return 1
        print("OK", n, flush=True)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["server"]:
        asyncio.run(server())
    elif sys.argv[1:2] == ["bench"]:
        asyncio.run(bench())
    elif sys.argv[1:2] == ["client"] and len(sys.argv) == 4:
        sys.exit(asyncio.run(client(sys.argv[2], int(sys.argv[3]))))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
