"""The fan-out benchmark's publisher: one picows connection per server process, each in the group
like the members; the first one sends the messages the servers broadcast.

    python publisher.py --ports 8001,8002 --size 64

Every connection receives its own copy of each broadcast, so a message counts as in flight from
its send until a copy has come back on every connection: with two server processes, until the
one that gets it through the broker has written it too (not only the one that took the publish).

Lines on stdin and stdout, with run.py:
    stdout  READY                          connected, and told "joined" by the server(s)
    stdin   run <first> <count> <window> <rate> <seconds>
            sends messages <first> to <first>+<count>-1, then answers SENT <sent> <seconds taken>.
            At most <window> messages are in flight (so a server is never sent more than it
            can take). <rate> 0 sends each as soon as the window allows; a positive <rate> sends
            at that many messages per second, on a fixed schedule (and still within the window).
            Sending stops after <seconds> even if messages are left (SENT says how many went).
    stdin   stop                           the process exits (so does a closed stdin)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import uvloop
from _message import JOINED, SEQ, encode
from picows import WSCloseCode, WSListener, WSMsgType, ws_connect

HANDSHAKE_TIMEOUT = 30.0


class Copies(WSListener):
    """One connection's copies of the broadcasts: how far they have come."""

    def __init__(self, progress: asyncio.Event) -> None:
        super().__init__()
        self.joined = asyncio.Event()
        self.echoed = 0  # one past the highest seq received back
        self.progress = progress  # shared by the connections

    def on_ws_frame(self, transport, frame) -> None:
        if frame.msg_type != WSMsgType.TEXT:
            if frame.msg_type == WSMsgType.CLOSE:
                transport.disconnect()
            return
        payload = frame.get_payload_as_bytes()
        if payload == JOINED:
            self.joined.set()
            return
        self.echoed = max(self.echoed, int(payload[SEQ]) + 1)
        self.progress.set()


async def publish(
    transport,
    copies: list[Copies],
    progress: asyncio.Event,
    first: int,
    count: int,
    window: int,
    rate: float,
    seconds: float,
    size: int,
) -> int:
    """Send the messages; how many were sent before the time was up."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    deadline = start + seconds
    for i in range(count):
        seq = first + i
        if rate > 0:
            delay = start + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        # In flight: sent since ``first`` and not back on every connection yet (a run may follow
        # one that stopped early, its later seqs never sent).
        while seq - max(min(c.echoed for c in copies), first) >= window:
            progress.clear()
            try:
                await asyncio.wait_for(progress.wait(), deadline - loop.time())
            except asyncio.TimeoutError:
                return i
        if loop.time() > deadline:
            return i
        transport.send(WSMsgType.TEXT, encode(seq, time.monotonic_ns(), size))
    return count


async def main(args: argparse.Namespace) -> None:
    progress = asyncio.Event()
    connections = [
        await ws_connect(
            lambda: Copies(progress), f"ws://127.0.0.1:{port}{args.path}", websocket_handshake_timeout=HANDSHAKE_TIMEOUT
        )
        for port in args.ports.split(",")
    ]
    copies = [listener for _, listener in connections]
    for listener in copies:
        await asyncio.wait_for(listener.joined.wait(), HANDSHAKE_TIMEOUT)
    print("READY", flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().split():
        if line[0] == "run":
            first, count, window = (int(value) for value in line[1:4])
            rate, seconds = float(line[4]), float(line[5])
            started = time.monotonic()
            sent = await publish(connections[0][0], copies, progress, first, count, window, rate, seconds, args.size)
            print(f"SENT {sent} {time.monotonic() - started:.3f}", flush=True)
        elif line[0] == "stop":
            break
        else:
            raise SystemExit(f"unknown command {line!r}")
    # A close frame before the TCP close: the servers see a normal closure, not an error per member.
    for transport, _ in connections:
        transport.send_close(WSCloseCode.GOING_AWAY)
        transport.disconnect()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ports", required=True, help="comma-separated server ports on 127.0.0.1; the first takes the publishes")
    parser.add_argument("--path", default="/bench")
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=600.0, help="the most this process lives, in seconds")
    options = parser.parse_args()
    uvloop.run(asyncio.wait_for(main(options), options.timeout))
