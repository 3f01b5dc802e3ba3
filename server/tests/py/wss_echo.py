"""Python `websockets` against switchyard over wss://: echo of text, binary and a fragmented
message, then a clean close from the client. Usage: wss_echo.py URL CA_FILE. Exits non-zero
(with the reason on stderr) on any difference."""

import asyncio
import ssl
import sys

from websockets.asyncio.client import connect


async def main(url: str, ca_file: str) -> None:
    context = ssl.create_default_context(cafile=ca_file)
    async with connect(url, ssl=context, compression=None) as ws:
        await ws.send("hello over TLS")
        assert await ws.recv() == "hello over TLS"
        payload = bytes(range(256)) * 400
        await ws.send(payload)
        assert await ws.recv() == payload
        # An iterable is sent as one fragmented message.
        await ws.send(["frag", "ment", "ed"])
        assert await ws.recv() == "fragmented"
        await ws.close(1000, "done")
        assert ws.close_code == 1000, ws.close_code
        assert ws.transport.get_extra_info("ssl_object").version() in ("TLSv1.3", "TLSv1.2")
    print("ok")


asyncio.run(main(sys.argv[1], sys.argv[2]))
