"""The Python path of one message through bolt, without sockets: for A/B-testing the transport's
and the API's per-message code, where the end-to-end echo (bench/echo) is too noisy to show a
tenth of a microsecond.

Run: ``python bench/bench_stream.py`` (asyncio and uvloop, binary and ASCII text, 64 B;
``--messages N``, ``--repeats N``, ``--size N``).

A ``WebSocketStream`` with a server ``Connection`` sits on a fake transport (``write`` keeps a
count, nothing else is done). A driver callback, scheduled with ``call_soon`` as a loop schedules
a socket's read callback, writes one masked frame into ``get_buffer()``'s view and calls
``buffer_updated()``; the handler is the seed's ``async for message in websocket: await
websocket.send(message)``, and its send is counted by the fake transport, which schedules the
driver again. Reported: wall time per message (process CPU time agrees: nothing here sleeps), best
of the repeats. What it leaves out is the kernel's share and the loop's own I/O code, which
bench/echo measures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from bolt import codec  # noqa: E402
from bolt.protocol.connection import Connection  # noqa: E402
from bolt.transport.run import new_event_loop  # noqa: E402
from bolt.transport.settings import Settings  # noqa: E402
from bolt.transport.stream import WebSocketStream  # noqa: E402
from bolt.websocket import BaseWebSocket  # noqa: E402


class FakeTransport(asyncio.Transport):
    def __init__(self, on_write) -> None:
        super().__init__()
        self.on_write = on_write

    def write(self, data) -> None:
        self.on_write()

    def set_write_buffer_limits(self, high=None, low=None) -> None:
        pass

    def set_protocol(self, protocol) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


class Stream(WebSocketStream):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.connection = Connection(max_message_size=settings.max_message_size)


def measure(loop_kind: str, opcode: int, size: int, messages: int) -> float:
    payload = b"x" * size
    frame = codec.FrameWriter(client=True).text(payload.decode()) if opcode == 1 else codec.FrameWriter(client=True).binary(payload)
    loop = new_event_loop(loop_kind)
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(run(loop, frame, messages))
    finally:
        loop.close()


async def run(loop: asyncio.AbstractEventLoop, frame: bytes, messages: int) -> float:
    settings = Settings(ping_interval=None)
    stream = Stream(settings)
    done = loop.create_future()
    sent = 0

    def feed() -> None:
        view = stream.get_buffer(-1)
        view[: len(frame)] = frame
        del view
        stream.buffer_updated(len(frame))

    def on_write() -> None:
        nonlocal sent
        sent += 1
        if sent == messages:
            done.set_result(None)
        else:
            loop.call_soon(feed)

    stream.connection_made(FakeTransport(on_write))
    stream._start_frames()

    async def handler() -> None:
        websocket = BaseWebSocket(stream)
        async for message in websocket:
            await websocket.send(message)

    task = loop.create_task(handler())
    await asyncio.sleep(0)
    start = time.perf_counter()
    loop.call_soon(feed)
    await done
    elapsed = time.perf_counter() - start
    task.cancel()
    return elapsed / messages * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--loops", default="asyncio,uvloop")
    args = parser.parse_args()
    print(f"bolt's per-message Python path (codec {codec.IMPLEMENTATION}), {args.size} B, best of {args.repeats}:")
    for loop_kind in args.loops.split(","):
        for name, opcode in (("binary", 2), ("text", 1)):
            best = min(measure(loop_kind, opcode, args.size, args.messages) for _ in range(args.repeats))
            print(f"  {loop_kind:8} {name:7} {best:.3f} µs per message")


if __name__ == "__main__":
    main()
