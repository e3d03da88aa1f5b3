"""Reserved bits and reserved opcodes (RFC 6455 §5.2): with no extension negotiated, any RSV bit
and any opcode 0x3-0x7 or 0xB-0xF fails the connection with 1002, decided from the first two bytes,
after whatever valid message came before."""

from __future__ import annotations

import pytest

from tests.conformance.client import (
    BINARY,
    CLOSE,
    CONT,
    PING,
    PONG,
    RSV1,
    RSV2,
    RSV3,
    TEXT,
    Until,
    exchange,
    expect_closed,
    frame,
    text,
)

RSV_BITS = {"RSV1": RSV1, "RSV2": RSV2, "RSV3": RSV3}
RESERVED_OPCODES = [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF]


@pytest.mark.parametrize("bit", list(RSV_BITS))
def test_each_reserved_bit_alone_fails_the_connection(serve, bit):
    """Each RSV bit alone, on every kind of frame; on its own and after a valid message, whose echo
    still comes first; and with only the first two bytes of the frame sent."""
    rsv = RSV_BITS[bit]

    async def scenario(port):
        for opcode, payload in [(TEXT, b"hello"), (BINARY, b"\x00\xff"), (PING, b"p"), (PONG, b"p"), (CLOSE, b"\x03\xe8")]:
            bad = frame(opcode, payload, rsv=rsv)
            expect_closed(await exchange(port, bad), 1002)
            expect_closed(await exchange(port, bad[:2]), 1002)
            answer = await exchange(port, frame(TEXT, b"valid"), Until(messages=1), bad)
            expect_closed(answer, 1002, messages=[text("valid")])
        # On a continuation frame of a message in progress.
        answer = await exchange(port, frame(TEXT, b"frag", fin=False), frame(CONT, b"ment", rsv=rsv))
        expect_closed(answer, 1002)

    serve(scenario)


def test_every_combination_of_reserved_bits_fails_the_connection(serve):
    async def scenario(port):
        for rsv in range(0x10, 0x80, 0x10):
            expect_closed(await exchange(port, frame(TEXT, b"x", rsv=rsv)), 1002)

    serve(scenario)


@pytest.mark.parametrize("opcode", RESERVED_OPCODES, ids=[f"{op:#x}" for op in RESERVED_OPCODES])
def test_each_reserved_opcode_fails_the_connection(serve, opcode):
    async def scenario(port):
        for payload in (b"", b"reserved", bytes(125)):
            expect_closed(await exchange(port, frame(opcode, payload)), 1002)
        # From the first two bytes alone, with FIN clear, and after a valid message.
        expect_closed(await exchange(port, frame(opcode, b"abc")[:2]), 1002)
        expect_closed(await exchange(port, frame(opcode, b"abc", fin=False)), 1002)
        answer = await exchange(port, frame(TEXT, b"valid"), Until(messages=1), frame(opcode, b""))
        expect_closed(answer, 1002, messages=[text("valid")])
        # In the middle of a fragmented message.
        answer = await exchange(port, frame(TEXT, b"frag", fin=False), frame(opcode, b""))
        expect_closed(answer, 1002)

    serve(scenario)
