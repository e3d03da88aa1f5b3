"""One load-client process of the fan-out benchmark: ``count`` group members, each a picows
connection (its frame parser is compiled, so the client costs the least it can per delivery).

    python members.py --ports 8001,8002 --first 0 --count 5000 --messages 150 --size 64

Member i (a global index, from ``--first``) connects to ``ports[i % len(ports)]``, so two server
processes get half the members each, whichever client process they come from. Each member checks
that it receives every message exactly once and in order: a message past the one it expects means
the ones between were lost; one before it is a duplicate (or out of order). Per message this
process keeps how many members received it, when the last of them did (``time.monotonic_ns()``,
one clock for every process) and its publish time, for run.py to merge across client processes.

Lines on stdin and stdout, with run.py:
    stdout  READY <members>      every member is connected and has been told "joined"
    stdin   wait <seq>           answered by REACHED <seq> once every member still connected has
                                 received message <seq> or a later one (so it will get no more
                                 of those up to <seq>)
    stdin   stop                 answered by one JSON line of results; then the process exits
The process also exits when stdin closes, or after ``--timeout`` seconds in all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import uvloop
from _message import JOINED, PUBLISHED, SEQ
from picows import WSCloseCode, WSError, WSListener, WSMsgType, ws_connect

CONNECT_ATTEMPTS = 3
HANDSHAKE_TIMEOUT = 30.0
# picows' default read buffer is 16 KiB per connection; messages here are small.
READ_BUFFER = 4096


class Tally:
    """What this process's members received, per message and in all."""

    def __init__(self, members: int, messages: int, size: int) -> None:
        self.members = members
        self.messages = messages
        self.size = size
        self.fresh = [0] * messages  # members that received each message (first copies only)
        self.last_ns = [0] * messages  # when the last of them did
        self.publish_ns = [0] * messages
        self.duplicates = 0  # copies of a message already received, or arriving out of order
        self.malformed = 0  # frames that are not a text message of the benchmark
        self.closed = 0  # members whose connection ended before "stop"
        self.joined = 0
        self.all_joined = asyncio.Event()
        self.stopping = False
        # "wait <seq>": members that have passed ``target`` (or left), and who to tell.
        self.target = -1
        self.settled = 0
        self.reached: asyncio.Event | None = None

    def settle_one(self) -> None:
        self.settled += 1
        if self.settled == self.members and self.reached is not None:
            self.reached.set()


class Member(WSListener):
    def __init__(self, tally: Tally) -> None:
        super().__init__()
        self.tally = tally
        self.expected = -1  # the next message's seq; -1 until the server says "joined"
        self.gone = False

    def on_ws_frame(self, transport, frame) -> None:
        tally = self.tally
        if frame.msg_type != WSMsgType.TEXT or not frame.fin:
            if frame.msg_type == WSMsgType.CLOSE:
                transport.disconnect()
            else:
                tally.malformed += 1
            return
        payload = frame.get_payload_as_bytes()
        if self.expected < 0:
            if payload == JOINED:
                self.expected = 0
                tally.joined += 1
                if tally.joined == tally.members:
                    tally.all_joined.set()
            else:
                tally.malformed += 1
            return
        now = time.monotonic_ns()
        try:
            seq = int(payload[SEQ])
        except ValueError:
            seq = -1
        if len(payload) != tally.size or not 0 <= seq < tally.messages:
            tally.malformed += 1
            return
        expected = self.expected
        if seq < expected:
            tally.duplicates += 1
            return
        # seq > expected: the messages between are lost to this member (counted from ``fresh``).
        self.expected = seq + 1
        tally.fresh[seq] += 1
        tally.last_ns[seq] = now  # one process, one clock: the latest reading is the largest
        if not tally.publish_ns[seq]:
            tally.publish_ns[seq] = int(payload[PUBLISHED])
        if expected <= tally.target <= seq:
            tally.settle_one()

    def on_ws_disconnected(self, transport) -> None:
        self.gone = True
        tally = self.tally
        if tally.stopping:
            return
        tally.closed += 1
        # A member that left receives nothing more: it no longer holds up a "wait".
        if self.expected <= tally.target:
            tally.settle_one()


async def connect(url: str, tally: Tally, slots: asyncio.Semaphore):
    """One member, retried a few times: a listen backlog overflowing under a burst of
    connections is not what this benchmark measures."""
    async with slots:
        for attempt in range(1, CONNECT_ATTEMPTS + 1):
            try:
                transport, member = await ws_connect(
                    lambda: Member(tally), url, websocket_handshake_timeout=HANDSHAKE_TIMEOUT, read_buffer_init_size=READ_BUFFER
                )
                return transport, member
            except (OSError, WSError, asyncio.TimeoutError):
                if attempt == CONNECT_ATTEMPTS:
                    raise
                await asyncio.sleep(0.5 * attempt)


async def announce(reached: asyncio.Event, target: int) -> None:
    await reached.wait()
    print(f"REACHED {target}", flush=True)


async def commands(tally: Tally, members: list[Member]) -> None:
    """Serve run.py's lines until "stop". A "wait" is answered from a task, so a "stop" sent
    after run.py gave up waiting is still read."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    waiter: asyncio.Task | None = None
    while line := (await reader.readline()).decode().split():
        if line[0] == "wait":
            if waiter is not None:
                waiter.cancel()
            tally.target = int(line[1])
            tally.settled = sum(1 for member in members if member.gone or member.expected > tally.target)
            tally.reached = asyncio.Event()
            if tally.settled == tally.members:
                tally.reached.set()
            waiter = asyncio.create_task(announce(tally.reached, tally.target))
        elif line[0] == "stop":
            if waiter is not None:
                waiter.cancel()
            return
        else:
            raise SystemExit(f"unknown command {line!r}")
    raise SystemExit("stdin closed")


async def main(args: argparse.Namespace) -> None:
    urls = [f"ws://127.0.0.1:{port}{args.path}" for port in args.ports.split(",")]
    tally = Tally(args.count, args.messages, args.size)
    slots = asyncio.Semaphore(args.concurrency)
    connections = await asyncio.gather(*(connect(urls[(args.first + j) % len(urls)], tally, slots) for j in range(args.count)))
    await asyncio.wait_for(tally.all_joined.wait(), HANDSHAKE_TIMEOUT)
    print(f"READY {tally.joined}", flush=True)
    await commands(tally, [member for _, member in connections])
    tally.stopping = True
    result = {
        "members": tally.members,
        "fresh": tally.fresh,
        "last_ns": tally.last_ns,
        "publish_ns": tally.publish_ns,
        "duplicates": tally.duplicates,
        "malformed": tally.malformed,
        "closed": tally.closed,
    }
    print(json.dumps(result), flush=True)
    # A close frame before the TCP close: the servers see a normal closure, not an error per member.
    for transport, _ in connections:
        transport.send_close(WSCloseCode.GOING_AWAY)
        transport.disconnect()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ports", required=True, help="comma-separated server ports on 127.0.0.1")
    parser.add_argument("--path", default="/bench")
    parser.add_argument("--first", type=int, default=0, help="global index of this process's first member")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--messages", type=int, required=True, help="the seqs to expect: 0 to messages-1")
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=32, help="handshakes in progress at once")
    parser.add_argument("--timeout", type=float, default=600.0, help="the most this process lives, in seconds")
    options = parser.parse_args()
    uvloop.run(asyncio.wait_for(main(options), options.timeout))
