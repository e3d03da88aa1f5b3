"""Many idle WebSocket clients in a process of their own (stdlib only, no bolt).

    python idle_clients.py HOST PORT PATH COUNT BATCH

Raises its open-file limit to the hard limit, then opens COUNT connections, BATCH handshakes at a
time, each a raw asyncio protocol: it writes the upgrade request, checks the 101, and from then on
answers pings with pongs (so a server's keepalive finds it alive) and otherwise stays silent. It
prints one JSON line when all are open (``{"opened": COUNT, "seconds": ...}``), then obeys commands,
one a line on stdin, answering each with one JSON line:

- ``echo SIZE``: every connection sends one binary message of SIZE bytes and waits for its echo.
- ``close``: every connection sends a close frame (1000) and waits until the server closes TCP;
  the answer also counts the pongs sent (``pongs``) and the connections that sent any
  (``answered``).

At the end of stdin it aborts whatever is still open and exits. Uses uvloop when installed, so the
client is not the bottleneck on a small machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import struct
import sys
import time

KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def frame(opcode: int, payload: bytes) -> bytes:
    key = os.urandom(4)
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    if size:
        repeated = (key * (size // 4 + 1))[:size]
        payload = (int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")).to_bytes(size, "little")
    return header + key + payload


class Client(asyncio.Protocol):
    def __init__(self, request: bytes) -> None:
        self.request = request
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = asyncio.get_running_loop().create_future()
        self.message: asyncio.Future | None = None
        self.closed = asyncio.get_running_loop().create_future()
        self.is_open = False
        self.pongs = 0

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.is_open:
            head, found, rest = bytes(self.buffer).partition(b"\r\n\r\n")
            if not found:
                return
            if not head.startswith(b"HTTP/1.1 101"):
                if not self.upgraded.done():
                    self.upgraded.set_exception(ConnectionError(head.split(b"\r\n")[0].decode()))
                self.transport.close()
                return
            self.is_open = True
            self.buffer = bytearray(rest)
            self.upgraded.set_result(None)
        self._frames()

    def _frames(self) -> None:
        buf = self.buffer
        while len(buf) >= 2:
            length, head = buf[1] & 0x7F, 2
            if length == 126:
                if len(buf) < 4:
                    return
                length, head = struct.unpack_from("!H", buf, 2)[0], 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length, head = struct.unpack_from("!Q", buf, 2)[0], 10
            if len(buf) < head + length:
                return
            opcode, payload = buf[0] & 0x0F, bytes(buf[head : head + length])
            del buf[: head + length]
            if opcode == 0x9:
                self.transport.write(frame(0xA, payload))
                self.pongs += 1
            elif opcode in (0x1, 0x2) and self.message is not None and not self.message.done():
                self.message.set_result(payload)

    def connection_lost(self, exc) -> None:
        self.is_open = False
        for future in (self.upgraded, self.closed, self.message):
            if future is not None and not future.done():
                if future is self.closed:
                    future.set_result(None)
                else:
                    future.set_exception(ConnectionError("closed"))


async def in_batches(items, batch: int, action) -> None:
    for start in range(0, len(items), batch):
        await asyncio.gather(*(action(item) for item in items[start : start + batch]))


async def main() -> None:
    host, port, path, count, batch = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    loop = asyncio.get_running_loop()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    clients: list[Client] = []

    async def open_one(_) -> None:
        _, client = await loop.create_connection(lambda: Client(request), host, port)
        await asyncio.wait_for(client.upgraded, 30)
        clients.append(client)

    started = time.monotonic()
    await in_batches(range(count), batch, open_one)
    print(json.dumps({"opened": len(clients), "seconds": time.monotonic() - started}), flush=True)

    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().split():
        started = time.monotonic()
        if line[0] == "echo":
            payload = os.urandom(int(line[1]))

            async def echo(client: Client) -> None:
                client.message = loop.create_future()
                client.transport.write(frame(0x2, payload))
                assert await asyncio.wait_for(client.message, 30) == payload

            await in_batches(clients, batch, echo)
            print(json.dumps({"echoed": len(clients), "seconds": time.monotonic() - started}), flush=True)
        elif line[0] == "close":

            async def close(client: Client) -> None:
                if client.is_open:
                    client.transport.write(frame(0x8, struct.pack("!H", 1000)))
                await asyncio.wait_for(client.closed, 30)

            pongs = sum(client.pongs for client in clients)
            answered = sum(client.pongs > 0 for client in clients)
            await in_batches(clients, batch, close)
            print(
                json.dumps({"closed": len(clients), "seconds": time.monotonic() - started, "pongs": pongs, "answered": answered}),
                flush=True,
            )
    for client in clients:
        client.transport.abort()


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
