"""Pings and pongs (RFC 6455 §5.5.2, §5.5.3): a ping is answered with a pong carrying the same
payload, up to the 125 bytes a control frame holds; an unsolicited pong is ignored."""

from __future__ import annotations

import os

import pytest

from tests.conformance.client import (
    PING,
    PONG,
    TEXT,
    Until,
    close_frame,
    exchange,
    expect_closed,
    frame,
    pieces,
    text,
)


@pytest.mark.parametrize("size", [0, 1, 4, 124, 125])
def test_a_ping_is_answered_with_the_same_payload(serve, size):
    data = os.urandom(size)

    async def scenario(port):
        answer = await exchange(port, frame(PING, data), Until(pongs=1), close_frame(1000))
        expect_closed(answer, 1000, pongs=[data])

    serve(scenario)


def test_a_125_byte_ping_in_slow_pieces_is_answered(serve):
    data = bytes(range(125))

    async def scenario(port):
        answer = await exchange(port, *pieces(frame(PING, data), 3), Until(pongs=1), close_frame(1000), delay=0.001)
        expect_closed(answer, 1000, pongs=[data])

    serve(scenario)


def test_pings_in_a_row_get_pongs_in_order_up_to_the_latest(serve):
    """§5.5.3: an endpoint MAY answer only the most recent of the pings it has not answered yet
    (bolt does, one pong per read). What comes back is some of the payloads, in order, ending with
    the last one; sent one at a time, each is answered."""
    payloads = [bytes([index]) + os.urandom(index % 125) for index in range(50)]

    async def scenario(port):
        batch = b"".join(frame(PING, payload) for payload in payloads)
        answer = await exchange(port, batch, Until(pongs=1), close_frame(1000))
        assert answer.close_code == 1000 and answer.pongs and answer.pongs[-1] == payloads[-1]
        positions = [payloads.index(pong) for pong in answer.pongs]
        assert positions == sorted(set(positions))
        one_by_one = []
        for payload in payloads[:5]:
            one_by_one += [frame(PING, payload), Until(pongs=len(one_by_one) // 2 + 1)]
        answer = await exchange(port, *one_by_one, close_frame(1000))
        expect_closed(answer, 1000, pongs=payloads[:5])

    serve(scenario)


@pytest.mark.parametrize("size, length_bytes", [(126, None), (126, 8), (1000, None), (65536, None)])
def test_a_ping_over_125_bytes_is_refused_from_the_header(serve, size, length_bytes):
    """§5.5: "All control frames MUST have a payload length of 125 bytes or less". The header alone
    is enough to refuse it, so only the header is sent; then again with the whole frame."""

    async def scenario(port):
        whole = frame(PING, os.urandom(size), length_bytes=length_bytes)
        header = whole[: 2 + {126: 2, 127: 8}.get(whole[1] & 0x7F, 0)]
        # The whole frame only while it fits in one read: bytes left unread when the server closes
        # make its kernel answer with a reset (see test_limits).
        for sent in (header, whole) if size < 4096 else (header,):
            answer = await exchange(port, sent)
            expect_closed(answer, 1002, pongs=[])

    serve(scenario)


def test_an_unsolicited_pong_is_ignored(serve):
    """§5.5.3: a pong may be sent unsolicited (a heartbeat); no answer is expected."""

    async def scenario(port):
        sent = frame(PONG, b"heartbeat") + frame(PONG, b"") + frame(PONG, os.urandom(125)) + frame(TEXT, b"after")
        answer = await exchange(port, sent, Until(messages=1), close_frame(1000))
        expect_closed(answer, 1000, messages=[text("after")], pongs=[])
        assert [f.opcode for f in answer.frames] == [TEXT, 0x8]

    serve(scenario)


def test_a_pong_over_125_bytes_is_refused(serve):
    async def scenario(port):
        expect_closed(await exchange(port, frame(PONG, os.urandom(126))), 1002)

    serve(scenario)
