"""A client that never reads while the handler sends: the server's memory stays bounded by the write
limit, and the connection is dropped once nothing has drained for ``write_timeout``.

tests/test_server.py checks the peak of the transport's buffer with 64 KiB binary messages; here
the handler sends text or binary, big or small, and the test also measures the memory the whole
process allocated (tracemalloc peak) and when, after the writes backed up, the peer was dropped.
"""

from __future__ import annotations

import asyncio
import socket
import tracemalloc

import pytest

from bolt import BoltAPI, ConnectionClosed, Settings, WebSocket
from bolt.testing import AsyncTestClient
from tests.conformance.client import upgrade_request
from tests.hostile.peers import Prober, mib, report

WRITE_TIMEOUT = 0.5


def firehose_api(message: str | bytes, outcome: dict) -> BoltAPI:
    api = BoltAPI(write_timeout=WRITE_TIMEOUT, ping_interval=None)

    @api.websocket("/firehose")
    async def firehose(websocket: WebSocket):
        await websocket.accept()
        session = websocket._session
        transport = session.transport
        loop = asyncio.get_running_loop()
        pause_writing = session.pause_writing

        def note_pause() -> None:  # the transport calls this when its buffer passes the high mark
            outcome["paused_at"] = loop.time()
            outcome["pauses"] = outcome.get("pauses", 0) + 1
            outcome["peak_at_pause"] = max(outcome.get("peak_at_pause", 0), transport.get_write_buffer_size())
            pause_writing()

        session.pause_writing = note_pause
        tracemalloc.reset_peak()
        outcome["traced_before"] = tracemalloc.get_traced_memory()[0]
        peak = sent = 0
        try:
            for _ in range(1_000_000):
                await websocket.send(message)
                sent += len(message)
                peak = max(peak, transport.get_write_buffer_size())
        except ConnectionClosed:
            outcome["dropped_at"] = loop.time()
        outcome["traced_peak"] = tracemalloc.get_traced_memory()[1]
        outcome["peak"] = max(peak, outcome.get("peak_at_pause", 0))
        outcome["sent"] = sent

    @api.websocket("/echo")
    async def echo(websocket: WebSocket):
        await websocket.accept()
        async for received in websocket:
            await websocket.send(received)

    return api


@pytest.mark.parametrize(
    "message",
    [b"x" * 65536, "é" * 32768, b"y" * 100],
    ids=["binary-64KiB", "text-64KiB", "binary-100B"],
)
def test_a_client_that_never_reads_costs_at_most_the_write_limit_and_is_dropped_after_the_timeout(run, message):
    outcome: dict = {}
    api = firehose_api(message, outcome)
    high_water = Settings().write_high_water
    frame_size = len(message.encode() if isinstance(message, str) else message) + 10

    async def scenario():
        async with AsyncTestClient(api) as client:
            async with Prober(client.port) as prober:
                sock = socket.socket()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                sock.setblocking(False)
                await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", client.port))
                sock.send(upgrade_request("/firehose"))  # and never read again
                for _ in range(400):
                    if "peak" in outcome:
                        break
                    await asyncio.sleep(0.025)
                probe = await prober.stop()
                sock.close()
            return probe

    tracemalloc.start()
    try:
        probe = run(scenario())
    finally:
        tracemalloc.stop()
    assert "dropped_at" in outcome, outcome
    stalled_for = outcome["dropped_at"] - outcome["paused_at"]
    growth = outcome["traced_peak"] - outcome["traced_before"]
    report(
        f"never-reading client, handler sends {frame_size - 10}-byte {type(message).__name__} messages ({run.loop_name})",
        write_buffer_peak=outcome["peak"],
        traced_memory_peak_growth=mib(growth),
        sent_before_drop=mib(outcome["sent"]),
        dropped_after_writes_stalled_s=round(stalled_for, 3),
        pauses=outcome["pauses"],
        working_client=probe.summary(),
    )
    # The transport never holds more than the high-water mark and one message.
    assert outcome["peak"] <= high_water + frame_size
    # Everything the process allocated meanwhile (the buffer, the frames, the test's own client):
    # a small multiple of the write limit, not the megabytes the handler sent.
    assert growth < 8 * (high_water + frame_size) + 512 * 1024
    # Dropped once nothing drained for the write timeout (not before, and not much later).
    assert WRITE_TIMEOUT - 0.02 <= stalled_for <= WRITE_TIMEOUT + 0.5
    # The working client's round trips: the loop is never blocked for long. (With small messages
    # the handler does not yield while the kernel's socket buffer still takes data, 2.9 MiB here,
    # which is the longest wait: 0.17-0.33 s on the reference machine. websockets and aiohttp do
    # the same: a send yields only when the transport has paused writing.)
    assert probe.latencies and probe.percentile(0.99) < 2.0
