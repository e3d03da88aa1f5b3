"""Memory per idle connection: bolt's server beside websockets' and aiohttp's.

Run: ``python bench/bench_memory.py`` (2,000 connections per server, both loops, an RSS pass then
a tracemalloc pass: about 45 s); ``--connections 10000`` for the issue's figure (about 2 minutes;
the open-file limit is raised to the hard limit in every process); ``--loops uvloop --libs
bolt,websockets`` to pick; ``--no-traced`` for the RSS pass alone; ``--json FILE`` to keep the
figures.

Each server runs in a process of its own, started by this script with ``--serve LIB``: an echo
endpoint with the library's defaults (what a user gets: bolt ``BoltAPI()`` and ``Server``;
websockets ``websockets.asyncio.server.serve``; aiohttp ``web.Application`` and
``WebSocketResponse()``), bound to 127.0.0.1. The clients are one more process (``--clients``):
raw asyncio protocols, no WebSocket library, that write the upgrade request, check the 101, answer
pings and otherwise stay silent; no extension is offered, so none is negotiated. The clients are
the same for the three servers.

For each loop and library the script:

1. starts the server and opens and closes a few connections (so that lazy imports and first-use
   caches are not counted), then asks the server for its RSS after ``gc.collect()`` (the server
   reads its own ``/proc/self/statm`` on a command on stdin): the baseline;
2. opens N connections (``--batch`` handshakes at a time) and measures again: **idle**;
3. has every connection send one 64-byte message and read its echo, and measures: **after 64 B**;
4. the same with one 64 KiB message: **after 64 KiB** (what a connection keeps once it has been
   busy: buffers grown for a message and not given back); ``--sizes`` picks other sizes (each
   must fit the servers' default message limits: websockets' is 1 MiB);
5. closes every connection (close handshake) and measures: **after close** (what is not returned).

The first table gives RSS growth over the baseline divided by N, in KiB per connection. Kernel
socket buffers are not in a process's RSS, so this is the library's (and Python's) own cost. RSS
also keeps memory the program has freed (the allocator does not hand every page back), so a second
pass runs each server under tracemalloc and gives the memory still allocated (Python's allocators
only: libuv's own mallocs are not in it): after close it is ~0 for all three, so what RSS keeps
there is freed memory, not a leak. Figures move by a KiB or two from run to run (allocator
arenas); the machine's other jobs do not change them much, but check ``uptime`` anyway.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import struct
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bolt import BoltAPI, WebSocket  # noqa: E402  (bolt from this checkout)

HOST = "127.0.0.1"
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
PAGE = os.sysconf("SC_PAGE_SIZE")
LIBS = ("bolt", "websockets", "aiohttp")


def raise_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def new_loop(kind: str) -> asyncio.AbstractEventLoop:
    if kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def own_rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


# The servers (child processes).


async def bolt_echo(websocket: WebSocket):
    await websocket.accept()
    async for message in websocket:
        await websocket.send(message)


async def start_bolt():
    from bolt.transport.server import Server

    api = BoltAPI()
    api.websocket("/")(bolt_echo)
    server = Server(api, api.settings)
    (_, port, *_), *_ = await server.start(HOST, 0)
    return port, server.shutdown


async def start_websockets():
    from websockets.asyncio.server import serve

    async def echo(websocket) -> None:
        async for message in websocket:
            await websocket.send(message)

    server = await serve(echo, HOST, 0)

    async def stop() -> None:
        server.close()
        await server.wait_closed()

    return server.sockets[0].getsockname()[1], stop


async def start_aiohttp():
    from aiohttp import WSMsgType, web

    async def echo(request: web.Request) -> web.WebSocketResponse:
        websocket = web.WebSocketResponse()
        await websocket.prepare(request)
        async for message in websocket:
            if message.type is WSMsgType.TEXT:
                await websocket.send_str(message.data)
            elif message.type is WSMsgType.BINARY:
                await websocket.send_bytes(message.data)
        return websocket

    app = web.Application()
    app.router.add_get("/", echo)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0)
    await site.start()
    return site._server.sockets[0].getsockname()[1], runner.cleanup


def serve(lib: str, loop_kind: str, traced: bool) -> None:
    """Listen, print ``READY <port>``, then answer each ``rss`` line on stdin with the RSS in bytes
    (or, with ``traced``, the memory tracemalloc sees allocated) after a full collection; stop at
    the end of stdin."""
    raise_file_limit()
    if traced:
        tracemalloc.start()
    loop = new_loop(loop_kind)
    asyncio.set_event_loop(loop)

    async def main() -> None:
        port, stop = await {"bolt": start_bolt, "websockets": start_websockets, "aiohttp": start_aiohttp}[lib]()
        print(f"READY {port}", flush=True)
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while (line := await reader.readline()).strip() == b"rss":
            gc.collect()
            print(tracemalloc.get_traced_memory()[0] if traced else own_rss(), flush=True)
        await asyncio.wait_for(stop(), 10)

    loop.run_until_complete(main())


# The clients (one child process for all connections).


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
    """One raw WebSocket client: the handshake, pongs for pings, one message at a time on demand."""

    def __init__(self, request: bytes) -> None:
        loop = asyncio.get_running_loop()
        self.request = request
        self.transport = None
        self.buffer = bytearray()
        self.upgraded = loop.create_future()
        self.closed = loop.create_future()
        self.message: asyncio.Future | None = None
        self.is_open = False

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
                self.upgraded.set_exception(ConnectionError(head.split(b"\r\n")[0].decode()))
                self.transport.close()
                return
            if b"sec-websocket-extensions" in head.lower():
                self.upgraded.set_exception(ConnectionError("an extension was negotiated"))
                self.transport.close()
                return
            self.is_open = True
            self.buffer = bytearray(rest)
            self.upgraded.set_result(None)
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
            elif opcode in (0x1, 0x2) and self.message is not None and not self.message.done():
                self.message.set_result(payload)

    def connection_lost(self, exc) -> None:
        self.is_open = False
        if not self.closed.done():
            self.closed.set_result(None)
        for future in (self.upgraded, self.message):
            if future is not None and not future.done():
                future.set_exception(ConnectionError("closed"))


async def clients_main(port: int, count: int, batch: int) -> None:
    """Open ``count`` connections; then obey ``echo SIZE`` and ``close`` lines on stdin, answering
    each with a JSON line."""
    raise_file_limit()
    loop = asyncio.get_running_loop()
    request = (
        f"GET / HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    clients: list[Client] = []

    async def in_batches(items, action) -> None:
        items = list(items)
        for start in range(0, len(items), batch):
            await asyncio.gather(*(action(item) for item in items[start : start + batch]))

    async def open_one(_) -> None:
        _, client = await loop.create_connection(lambda: Client(request), HOST, port)
        await asyncio.wait_for(client.upgraded, 60)
        clients.append(client)

    started = time.monotonic()
    await in_batches(range(count), open_one)
    print(json.dumps({"opened": len(clients), "seconds": time.monotonic() - started}), flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while words := (await reader.readline()).decode().split():
        started = time.monotonic()
        if words[0] == "echo":
            payload = os.urandom(int(words[1]))

            async def echo(client: Client) -> None:
                client.message = loop.create_future()
                client.transport.write(frame(0x2, payload))
                assert await asyncio.wait_for(client.message, 60) == payload

            await in_batches(clients, echo)
        elif words[0] == "close":

            async def close(client: Client) -> None:
                client.transport.write(frame(0x8, struct.pack("!H", 1000)))
                await asyncio.wait_for(client.closed, 60)

            await in_batches(clients, close)
        print(json.dumps({"done": words[0], "seconds": time.monotonic() - started}), flush=True)


# The runner.


class Child:
    """A child process speaking lines on stdin and stdout."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def line(self) -> str:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.process.args} ended (exit status {self.process.wait()})")
        return line.strip()

    def ask(self, command: str) -> str:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.line()

    def finish(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def size_name(size: int) -> str:
    return f"after {size // 1024} KiB" if size >= 1024 and size % 1024 == 0 else f"after {size} B"


def phases(sizes: list[int]) -> list[str]:
    return ["idle", *map(size_name, sizes), "after close"]


def measure(lib: str, loop_kind: str, count: int, batch: int, traced: bool, sizes: list[int]) -> dict:
    server = Child("--serve", lib, "--loop", loop_kind, *(["--traced"] if traced else []))
    try:
        ready = server.line()
        port = int(ready.split()[1])
        warmup = Child("--clients", str(port), "--connections", "20", "--batch", str(batch))
        warmup.line()
        for size in sizes:
            warmup.ask(f"echo {size}")
        warmup.ask("close")
        warmup.finish()
        time.sleep(0.2)
        baseline = int(server.ask("rss"))
        clients = Child("--clients", str(port), "--connections", str(count), "--batch", str(batch))
        try:
            opened = json.loads(clients.line())
            time.sleep(0.2)
            rss = {"idle": int(server.ask("rss"))}
            for size in sizes:
                clients.ask(f"echo {size}")
                time.sleep(0.2)
                rss[size_name(size)] = int(server.ask("rss"))
            clients.ask("close")
            time.sleep(0.5)
            rss["after close"] = int(server.ask("rss"))
        finally:
            clients.finish()
    finally:
        server.finish()
    return {
        "lib": lib,
        "loop": loop_kind,
        "measure": "tracemalloc" if traced else "RSS",
        "connections": count,
        "open_seconds": opened["seconds"],
        "baseline_MiB": baseline / 2**20,
        "KiB_per_connection": {phase: (rss[phase] - baseline) / count / 1024 for phase in phases(sizes)},
    }


def versions() -> dict:
    import aiohttp
    import websockets

    import bolt.codec

    return {"bolt codec": bolt.codec.IMPLEMENTATION, "websockets": websockets.__version__, "aiohttp": aiohttp.__version__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100, help="handshakes at a time (asyncio's default backlog is 100)")
    parser.add_argument("--loops", default="asyncio,uvloop")
    parser.add_argument("--libs", default=",".join(LIBS))
    parser.add_argument("--sizes", default="64,65536", help="messages each connection echoes, one after the other")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--no-traced", action="store_true", help="skip the second pass (tracemalloc)")
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve", choices=LIBS, help=argparse.SUPPRESS)
    parser.add_argument("--clients", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--loop", default="asyncio", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.loop, args.traced)
        return
    if args.clients:
        # The clients use uvloop when it is installed, whatever the servers run on: they must not
        # be the bottleneck.
        try:
            import uvloop  # noqa: F401
        except ImportError:
            runner = new_loop("asyncio")
        else:
            runner = new_loop("uvloop")
        try:
            runner.run_until_complete(clients_main(args.clients, args.connections, args.batch))
        finally:
            runner.close()
        return

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < args.connections + 100:
        sys.exit(f"the hard open-file limit ({hard}) is too low for {args.connections} connections")
    print(f"{args.connections} idle connections per server, {versions()}", flush=True)
    sizes = [int(size) for size in args.sizes.split(",")]
    rows = []
    for traced in (False,) if args.no_traced else (False, True):
        for loop_kind in args.loops.split(","):
            for lib in args.libs.split(","):
                row = measure(lib, loop_kind, args.connections, args.batch, traced, sizes)
                rows.append(row)
                print(f"  {row['measure']:11} {lib:10} {loop_kind:8} opened in {row['open_seconds']:.2f} s", flush=True)
    for kind in ("RSS", "tracemalloc"):
        selected = [row for row in rows if row["measure"] == kind]
        if not selected:
            continue
        print(f"\n{kind}: growth over the baseline per connection, KiB ({args.connections} connections)\n")
        print("| server | loop | baseline | " + " | ".join(phases(sizes)) + " |")
        print("|" + "---|" * (3 + len(sizes) + 2))
        for row in selected:
            cells = " | ".join(f"{row['KiB_per_connection'][phase]:.1f}" for phase in phases(sizes))
            # Under tracemalloc the baseline is only what was allocated since it started (the
            # servers import their library after that, bolt before): not comparable, not shown.
            baseline = f"{row['baseline_MiB']:.1f} MiB" if kind == "RSS" else "-"
            print(f"| {row['lib']} | {row['loop']} | {baseline} | {cells} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"versions": versions(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
