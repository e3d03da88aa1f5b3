"""Header blocks over the limit are refused with 431, and one that keeps growing is cut as it grows:
the server reads it in 4 KiB pieces into a fixed buffer and answers as soon as the block passes
``max_header_bytes``, without waiting for its end (which may never come)."""

from __future__ import annotations

import asyncio

import pytest

from bolt.testing import AsyncTestClient
from bolt.transport.server_session import HANDSHAKE_READ_SIZE
from tests.hostile.peers import echo_api, report

HEAD = b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
TAIL = b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"


async def answer_to(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    answer = b""
    try:
        while chunk := await asyncio.wait_for(reader.read(65536), 10):
            answer += chunk
    except ConnectionResetError:
        pass
    writer.close()
    return answer


@pytest.mark.parametrize(
    "limit, extra",
    [
        (16 * 1024, b"X-Big: " + b"a" * 17_000 + b"\r\n"),  # one field over the default limit
        (16 * 1024, b"".join(b"X-%d: %d\r\n" % (i, i) for i in range(129))),  # more than 128 fields
        (4096, b"Cookie: " + b"c" * 4096 + b"\r\n"),  # a lower limit set by the application
    ],
    ids=["one-big-field", "too-many-fields", "lower-limit"],
)
def test_headers_over_the_limit_are_refused_with_431(run, limit, extra):
    async def scenario():
        async with AsyncTestClient(echo_api(max_header_bytes=limit)) as client:
            refused = await answer_to(client.port, HEAD + extra + TAIL)
            # The same server still serves a request just under the limit.
            filler = b"X-Fill: " + b"f" * (limit - len(HEAD) - len(TAIL) - 200) + b"\r\n"
            served = await answer_to_first_line(client.port, HEAD + filler + TAIL)
            await asyncio.sleep(0.05)
            return refused, served, len(client.server.sessions)

    refused, served, sessions = run(scenario())
    assert refused.startswith(b"HTTP/1.1 431 ")
    assert served.startswith(b"HTTP/1.1 101 ")
    assert sessions == 0


async def answer_to_first_line(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    line = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    return line


def test_a_header_block_that_keeps_growing_is_cut_as_it_grows(run):
    """The client streams one endless header field (1 KiB every 2 ms) and would go on to 4 MiB: the
    431 must come once the block passes the limit, so the server never holds more than the limit
    and one read."""
    limit = 16 * 1024
    chunk = b"g" * 1024

    async def scenario():
        async with AsyncTestClient(echo_api(max_header_bytes=limit)) as client:
            loop = asyncio.get_running_loop()
            reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
            writer.write(HEAD + b"X-Grow: ")
            sent = len(HEAD) + 8
            started = loop.time()
            reading = asyncio.ensure_future(reader.read(65536))
            while not reading.done() and sent < 4 * 1024 * 1024:
                writer.write(chunk)
                sent += len(chunk)
                try:
                    await writer.drain()
                except ConnectionResetError:
                    break
                await asyncio.wait([reading], timeout=0.002)
            answer = await asyncio.wait_for(reading, 10)
            elapsed = loop.time() - started
            writer.close()
            await asyncio.sleep(0.05)
            return answer, sent, elapsed, len(client.server.sessions)

    answer, sent, elapsed, sessions = run(scenario())
    report(
        f"growing header block ({run.loop_name})",
        limit=limit,
        bytes_sent_when_431_arrived=sent,
        seconds=round(elapsed, 3),
    )
    assert answer.startswith(b"HTTP/1.1 431 ")
    # Cut within one read of the limit (plus what was in flight while the answer travelled back).
    assert sent <= limit + HANDSHAKE_READ_SIZE + 8 * len(chunk)
    assert sessions == 0
