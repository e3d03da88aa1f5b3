"""Helpers for frame tests: build raw frames by hand and feed bytes to a parser in every way."""

from __future__ import annotations

import random
import struct

from bolt.exceptions import ProtocolError


def raw_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    key: bytes | None = b"\x01\x02\x03\x04",
    length: int | None = None,
    length_bytes: int | None = None,
) -> bytes:
    """A frame built by hand, independent of bolt's writer. ``key=None`` leaves it unmasked.

    ``length`` overrides the length written in the header; ``length_bytes`` (0, 2 or 8) forces an
    encoding of the length, minimal or not.
    """
    size = len(payload) if length is None else length
    first = (0x80 if fin else 0) | rsv | opcode
    mask_bit = 0x80 if key is not None else 0
    if length_bytes is None:
        length_bytes = 0 if size < 126 else 2 if size < 65536 else 8
    if length_bytes == 0:
        header = bytes([first, mask_bit | size])
    elif length_bytes == 2:
        header = bytes([first, mask_bit | 126]) + struct.pack("!H", size)
    else:
        header = bytes([first, mask_bit | 127]) + struct.pack("!Q", size)
    if key is None:
        return header + payload
    return header + key + xor_mask(payload, key)


def xor_mask(payload: bytes, key: bytes) -> bytes:
    """RFC 6455 §5.3 masking done here, apart from bolt's kernels, so test inputs do not depend on
    the code they test: one big-integer XOR is fast enough for megabytes."""
    size = len(payload)
    repeated = (key * (size // 4 + 1))[:size]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")).to_bytes(size, "little")


def outcome(parser, chunks) -> tuple[list, tuple | None]:
    """Feed ``chunks`` in order; return (events, error) where error is (class, code, reason)."""
    events: list = []
    for chunk in chunks:
        try:
            events.extend(parser.feed(chunk))
        except ProtocolError as error:
            events.extend(error.events)
            return events, (type(error), error.close_code, error.reason)
    return events, None


def cuts(data: bytes, seed: int = 0) -> list[list[bytes]]:
    """The ways every parser test feeds its input: whole, byte by byte, and cut at random points."""
    ways = [[data], [data[i : i + 1] for i in range(len(data))]]
    rng = random.Random(seed)
    for _ in range(5):
        points = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(1, 6)))) if len(data) > 1 else []
        bounds = [0, *points, len(data)]
        ways.append([data[a:b] for a, b in zip(bounds, bounds[1:])])
    return ways


def parse_every_way(make_parser, data: bytes, trailing: bytes = b"") -> tuple[list, tuple | None]:
    """Parse ``data`` whole, byte by byte and cut at random, with ``trailing`` bytes of a frame that
    never completes appended; every way must give the same outcome, which is returned."""
    results = [outcome(make_parser(), way) for way in cuts(data + trailing)]
    first = results[0]
    for result in results[1:]:
        assert result == first
    return first
