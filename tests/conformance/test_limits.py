"""Limits (RFC 6455 §10.4, close code 1009 of §7.4.1): a 4 MiB message in 64-byte fragments is
accepted and echoed under the default limit; a message or frame over the configured limit fails
the connection with 1009, decided from the header that makes it too big, before its payload."""

from __future__ import annotations

import os

import pytest

from tests.conformance.client import (
    BINARY,
    CONT,
    PING,
    TEXT,
    Until,
    binary,
    close_frame,
    exchange,
    expect_closed,
    fragments,
    frame,
    text,
)

MiB = 1 << 20
LIMIT = 1000


@pytest.mark.parametrize("opcode", [TEXT, BINARY], ids=["text", "binary"])
def test_a_4_mib_message_in_64_byte_fragments_is_accepted(serve, opcode):
    """65,536 fragments of 64 bytes (text cut inside characters of every length), echoed whole."""
    if opcode == TEXT:
        data = ("ascii κόσμε € 𤭢 " * (4 * MiB // 24 + 1)).encode()[: 4 * MiB]
        data = data.decode("utf-8", "ignore").encode()  # whole characters only
        data += b"x" * (4 * MiB - len(data))
    else:
        data = os.urandom(4 * MiB)
    assert len(data) == 4 * MiB
    sent = fragments(opcode, data, list(range(64, 4 * MiB, 64)))

    async def scenario(port):
        answer = await exchange(port, sent, Until(messages=1), close_frame(1000), timeout=30)
        expect_closed(answer, 1000, messages=[(opcode, data)])
        assert len([f for f in answer.frames if f.opcode != 0x8]) == 1  # echoed in one frame

    serve(scenario)


def test_a_message_at_the_limit_is_accepted(serve):
    data = os.urandom(LIMIT)

    async def scenario(port):
        sent = [frame(BINARY, data), fragments(BINARY, data, [600]), fragments(BINARY, data, list(range(100, LIMIT, 100)))]
        answer = await exchange(port, *sent, Until(messages=3), close_frame(1000))
        expect_closed(answer, 1000, messages=[binary(data)] * 3)

    serve(scenario, max_message_size=LIMIT)


def test_a_message_over_the_limit_is_refused_from_its_header(serve):
    """Only headers are sent past the limit: the verdict never waits for the payload."""

    async def scenario(port):
        header = frame(BINARY, b"", length=LIMIT + 1)  # a 16-bit length, no payload sent
        expect_closed(await exchange(port, header), 1009)
        expect_closed(await exchange(port, frame(TEXT, b"", length=LIMIT + 1)), 1009)
        # The largest a header can announce.
        expect_closed(await exchange(port, frame(BINARY, b"", length=(1 << 63) - 1, length_bytes=8)), 1009)
        # In fragments: the first 600 bytes are fine, the header of the next 401 is too many.
        first = frame(BINARY, os.urandom(600), fin=False)
        expect_closed(await exchange(port, first, frame(CONT, b"", length=401)), 1009)
        expect_closed(await exchange(port, first, frame(CONT, b"", length=401, fin=False)), 1009)
        # After a valid message, which is echoed first.
        answer = await exchange(port, frame(TEXT, b"fits"), Until(messages=1), frame(TEXT, b"", length=LIMIT + 1))
        expect_closed(answer, 1009, messages=[text("fits")])

    serve(scenario, max_message_size=LIMIT)


def test_control_frames_are_not_counted_against_the_message_limit(serve):
    async def scenario(port):
        answer = await exchange(
            port, frame(BINARY, bytes(600), fin=False) + frame(PING, bytes(125)), Until(pongs=1),
            frame(CONT, bytes(400)), Until(messages=1), close_frame(1000),
        )
        expect_closed(answer, 1000, messages=[binary(bytes(1000))], pongs=[bytes(125)])

    serve(scenario, max_message_size=LIMIT)


def test_the_default_limit_is_16_mib(serve):
    async def scenario(port):
        expect_closed(await exchange(port, frame(BINARY, b"", length=16 * MiB + 1)), 1009)
        first = frame(BINARY, b"", length=16 * MiB - 10, fin=False)
        # A header within the limit is not refused: the server waits for its payload.
        answer = await exchange(port, first, timeout=0.3)
        assert not answer.close_received and not answer.tcp_closed and answer.problems == [], answer.describe()

    serve(scenario)


def test_a_frame_over_the_frame_limit_is_refused_from_its_header(serve):
    async def scenario(port):
        expect_closed(await exchange(port, frame(BINARY, b"", length=101)), 1009)
        data = os.urandom(300)
        answer = await exchange(port, fragments(BINARY, data, [100, 200]), Until(messages=1), close_frame(1000))
        expect_closed(answer, 1000, messages=[binary(data)])

    serve(scenario, max_frame_size=100)


def test_a_message_over_the_limit_sent_whole_gets_its_close_frame_and_a_fin(serve):
    """A client that sends a too-big message in one go (as any client library does): the server
    refuses it from the header with 1009, and should end TCP with a FIN so the close frame reaches
    the client, not with a reset."""

    async def scenario(port):
        answer = await exchange(port, frame(BINARY, os.urandom(200_000)))
        expect_closed(answer, 1009)

    serve(scenario, max_message_size=LIMIT)


def _resident_mib() -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        return None
    return None


def test_a_header_alone_does_not_make_the_server_commit_the_frames_size(serve, codec):
    """20 connections each send the header of a frame just under the 16 MiB limit and one byte of
    its payload, then nothing. What the server holds for them must stay small: memory is committed
    as bytes arrive, not as a header announces them (else 11 bytes from a peer cost 16 MiB)."""
    if _resident_mib() is None:
        pytest.skip("needs /proc/self/status")
    async def scenario(port):
        import asyncio

        from tests.conformance.client import upgrade_request

        before = _resident_mib()
        streams = []
        try:
            for _ in range(20):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                streams.append(writer)
                writer.write(upgrade_request())
                await reader.readuntil(b"\r\n\r\n")
                whole = frame(BINARY, b"", length=16 * MiB - 10)
                writer.write(whole)
                await writer.drain()
                await asyncio.sleep(0.01)
                writer.write(b"x")  # one byte of payload: the server reads again
                await writer.drain()
            await asyncio.sleep(0.3)
            return _resident_mib() - before
        finally:
            for writer in streams:
                writer.close()

    grown = serve(scenario)
    assert grown < 64, f"resident memory grew by {grown} MiB for 20 connections"
