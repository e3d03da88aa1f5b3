"""Framing (RFC 6455 §5.2, §5.3): every payload length encoding, minimal or not, masking, and
frames however the bytes are cut or batched."""

from __future__ import annotations

import os

import pytest

from tests.conformance.client import (
    BINARY,
    TEXT,
    Until,
    binary,
    bounded_gather,
    close_frame,
    exchange,
    expect_closed,
    frame,
    pieces,
    text,
)

# Both sides of each boundary of the three encodings: 7-bit (0-125), 16-bit (126-65535), 64-bit.
LENGTHS = [0, 1, 125, 126, 127, 65535, 65536, 65537, 1 << 20]


def payload_of(size: int) -> bytes:
    return bytes(range(256)) * (size // 256) + bytes(range(size % 256))


def test_every_length_encoding_is_echoed_with_the_minimal_one(serve):
    """Text and binary messages of each length at the boundaries of the 7-, 16- and 64-bit length
    encodings come back intact; the client's frame reader flags any non-minimal length the server
    writes (§5.2: "the minimal number of bytes MUST be used")."""

    async def scenario(port):
        cases = []
        for size in LENGTHS:
            data = payload_of(size)
            cases.append((binary(data), frame(BINARY, data)))
            letters = (b"abcdefghij" * (size // 10 + 1))[:size]
            cases.append((text(letters), frame(TEXT, letters)))
        answers = await bounded_gather(
            [exchange(port, sent, Until(messages=1), close_frame(1000)) for _, sent in cases], limit=4
        )
        for (expected, _), answer in zip(cases, answers):
            expect_closed(answer, 1000, messages=[expected])

    serve(scenario)


@pytest.mark.parametrize(
    "size, length_bytes",
    [(0, 2), (5, 2), (125, 2), (0, 8), (5, 8), (125, 8), (126, 8), (65535, 8)],
)
def test_non_minimal_length_encodings_are_accepted(serve, size, length_bytes):
    """§5.2 makes the minimal encoding a sender's duty and gives a receiver no rule; bolt accepts a
    longer encoding of a small length (robustness principle) and echoes the message."""
    data = os.urandom(size)

    async def scenario(port):
        answer = await exchange(
            port, frame(BINARY, data, length_bytes=length_bytes), Until(messages=1), close_frame(1000)
        )
        expect_closed(answer, 1000, messages=[binary(data)])

    serve(scenario)


def test_64_bit_length_with_the_top_bit_set_is_refused_from_the_header(serve):
    """§5.2: "the most significant bit MUST be 0". Only the header is sent: the verdict cannot wait
    for a payload that could never arrive."""

    async def scenario(port):
        for top in (1 << 63, (1 << 64) - 1):
            header = frame(BINARY, b"", length=top, length_bytes=8)
            expect_closed(await exchange(port, header), 1002)

    serve(scenario)


def test_an_unmasked_frame_from_a_client_is_refused(serve):
    """§5.1: a server MUST close the connection on an unmasked frame."""

    async def scenario(port):
        for sent in (frame(TEXT, b"hello", masked=False), frame(BINARY, b"", masked=False)):
            expect_closed(await exchange(port, sent), 1002)
        # After a valid message too: the echo comes first.
        answer = await exchange(port, frame(TEXT, b"ok"), Until(messages=1), frame(TEXT, b"bad", masked=False))
        expect_closed(answer, 1002, messages=[text("ok")])

    serve(scenario)


def test_mask_keys_of_every_shape_unmask_correctly(serve):
    """The key is applied per byte position (§5.3), whatever the key and the payload's alignment."""
    data = os.urandom(1000)

    async def scenario(port):
        keys = [b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x01\x02\x03\x04", os.urandom(4)]
        sizes = [1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 1000]
        chunks = [frame(BINARY, data[:size], key=key) for key in keys for size in sizes]
        answer = await exchange(port, *chunks, Until(messages=len(chunks)), close_frame(1000))
        expect_closed(answer, 1000, messages=[binary(data[:size]) for _ in keys for size in sizes])

    serve(scenario)


def test_many_frames_in_one_write_are_echoed_in_order(serve):
    messages = [os.urandom(index % 300) for index in range(200)]

    async def scenario(port):
        batch = b"".join(frame(BINARY, message) for message in messages)
        answer = await exchange(port, batch, Until(messages=len(messages)), close_frame(1000))
        expect_closed(answer, 1000, messages=[binary(message) for message in messages])

    serve(scenario)


def test_frames_right_behind_the_upgrade_request_are_parsed(serve):
    """A client may send its first frames in the same write as its request (pipelined): they are
    parsed after the 101, nothing lost."""

    async def scenario(port):
        answer = await exchange(
            port, frame(TEXT, b"first") + frame(BINARY, b"second"), Until(messages=2), close_frame(1000), pipeline=True
        )
        expect_closed(answer, 1000, messages=[text("first"), binary(b"second")])
        # A violation pipelined behind the request fails the connection right after the 101.
        expect_closed(await exchange(port, frame(0x3, b""), pipeline=True), 1002)

    serve(scenario)


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_frames_sent_in_slow_pieces_are_reassembled(serve, size):
    """Every frame of the stream cut into pieces of ``size`` bytes, each its own write a little
    apart, so the server reads the headers (of each length encoding), the mask keys and the
    payloads in pieces."""
    messages = [b"", b"x", os.urandom(125), os.urandom(126), os.urandom(300)]

    async def scenario(port):
        stream = b"".join(frame(BINARY, message) for message in messages)
        stream += frame(BINARY, b"long header", length_bytes=8)
        expected = [binary(message) for message in messages] + [binary(b"long header")]
        answer = await exchange(
            port, *pieces(stream, size), Until(messages=len(expected)), *pieces(close_frame(1000, b"bye"), size), delay=0.0005
        )
        expect_closed(answer, 1000, messages=expected)

    serve(scenario)
