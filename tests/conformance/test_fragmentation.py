"""Fragmentation (RFC 6455 §5.4): a message in fragments is delivered whole; control frames may
come between fragments and are answered in place; a continuation with nothing to continue, or a
new data frame inside a fragmented message, fails the connection with 1002."""

from __future__ import annotations

import os

import pytest

from tests.conformance.client import (
    BINARY,
    CLOSE,
    CONT,
    PING,
    PONG,
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


@pytest.mark.parametrize("opcode", [TEXT, BINARY], ids=["text", "binary"])
def test_a_message_in_fragments_is_delivered_whole(serve, opcode):
    data = "fragmented ✓ message, κόσμε, 𤭢".encode() * 20
    make = text if opcode == TEXT else binary

    async def scenario(port):
        ways = [
            [len(data) // 2],  # two fragments
            [10, 20, 300],  # four
            list(range(1, len(data))),  # one byte each
            [0, 0, len(data), len(data)],  # empty first and last fragments
        ]
        chunks = [fragments(opcode, data, cuts) for cuts in ways]
        chunks.append(frame(opcode, b"", fin=False) + frame(CONT, b"", fin=False) + frame(CONT, b""))  # all empty
        answer = await exchange(port, *chunks, Until(messages=len(chunks)), close_frame(1000))
        expect_closed(answer, 1000, messages=[make(data)] * len(ways) + [make(b"")])

    serve(scenario)


def test_a_ping_between_fragments_is_answered_in_place(serve):
    """§5.4: control frames MAY be injected in the middle of a fragmented message. The pong comes
    while the message is still incomplete: the client waits for it before sending the last
    fragment, and the frames arrive pong first, then the whole message."""

    async def scenario(port):
        answer = await exchange(
            port,
            frame(TEXT, b"Hello, ", fin=False),
            frame(PING, b"in between"),
            Until(pongs=1),
            frame(CONT, b"fragmented ", fin=False),
            frame(PING, b""),
            Until(pongs=2),
            frame(PING, os.urandom(125)),
            Until(pongs=3),
            frame(CONT, b"world"),
            Until(messages=1),
            close_frame(1000),
        )
        expect_closed(answer, 1000, messages=[text("Hello, fragmented world")])
        assert [f.opcode for f in answer.frames] == [PONG, PONG, PONG, TEXT, CLOSE]
        assert answer.pongs[:2] == [b"in between", b""]

    serve(scenario)


def test_pongs_between_fragments_are_ignored(serve):
    async def scenario(port):
        sent = frame(BINARY, b"ab", fin=False) + frame(PONG, b"x") + frame(CONT, b"cd", fin=False) + frame(PONG, b"")
        answer = await exchange(port, sent + frame(CONT, b"ef"), Until(messages=1), close_frame(1000))
        expect_closed(answer, 1000, messages=[binary(b"abcdef")], pongs=[])

    serve(scenario)


def test_a_close_between_fragments_ends_the_connection_and_drops_the_message(serve):
    async def scenario(port):
        answer = await exchange(port, frame(TEXT, b"never ", fin=False) + close_frame(1000) + frame(CONT, b"finished"))
        expect_closed(answer, 1000)

    serve(scenario)


@pytest.mark.parametrize("fin", [True, False], ids=["fin", "no-fin"])
def test_a_continuation_with_nothing_to_continue_fails(serve, fin):
    async def scenario(port):
        for payload in (b"", b"orphan"):
            expect_closed(await exchange(port, frame(CONT, payload, fin=fin)), 1002)
        # From its first two bytes.
        expect_closed(await exchange(port, frame(CONT, b"orphan", fin=fin)[:2]), 1002)
        # After a complete message: that one is echoed, the orphan refused.
        answer = await exchange(port, frame(TEXT, b"done"), Until(messages=1), frame(CONT, b"more", fin=fin))
        expect_closed(answer, 1002, messages=[text("done")])
        # After a complete fragmented message.
        answer = await exchange(
            port, frame(TEXT, b"a", fin=False) + frame(CONT, b"b"), Until(messages=1), frame(CONT, b"c", fin=fin)
        )
        expect_closed(answer, 1002, messages=[text("ab")])

    serve(scenario)


@pytest.mark.parametrize("first, second", [(TEXT, TEXT), (TEXT, BINARY), (BINARY, TEXT), (BINARY, BINARY)])
@pytest.mark.parametrize("fin", [True, False], ids=["fin", "no-fin"])
def test_a_data_frame_inside_a_fragmented_message_fails(serve, first, second, fin):
    async def scenario(port):
        expect_closed(await exchange(port, frame(first, b"start", fin=False) + frame(second, b"again", fin=fin)), 1002)
        # After some continuations, and from the intruder's first two bytes.
        sent = frame(first, b"a", fin=False) + frame(CONT, b"b", fin=False) + frame(second, b"c", fin=fin)[:2]
        expect_closed(await exchange(port, sent), 1002)

    serve(scenario)


@pytest.mark.parametrize("opcode", [PING, PONG, CLOSE], ids=["ping", "pong", "close"])
def test_a_fragmented_control_frame_fails(serve, opcode):
    """§5.5: "Control frames themselves MUST NOT be fragmented"."""

    async def scenario(port):
        expect_closed(await exchange(port, frame(opcode, b"", fin=False)), 1002)
        expect_closed(await exchange(port, frame(opcode, b"\x03\xe8", fin=False) + frame(CONT, b"", fin=True)), 1002)
        # Between fragments of a data message too.
        expect_closed(await exchange(port, frame(TEXT, b"a", fin=False) + frame(opcode, b"", fin=False)), 1002)

    serve(scenario)
