"""The broadcast message, shared by the publisher and the members.

ASCII text: ``<seq, 10 digits> <publish time, 20 digits> `` then ``x`` up to the message size. The
publish time is ``time.monotonic_ns()``: CLOCK_MONOTONIC is one clock for every process on Linux,
so a member can subtract it from its own reading of the same clock.
"""

from __future__ import annotations

HEADER = 32
MIN_SIZE = HEADER
# Slices of a payload, for the members' hot path.
SEQ = slice(0, 10)
PUBLISHED = slice(11, 31)
# What a server sends a connection once it is in the group: the clients wait for it, so no
# broadcast starts before every member can receive it.
JOINED = b"joined"


def encode(seq: int, published_ns: int, size: int) -> bytes:
    return b"%010d %020d " % (seq, published_ns) + b"x" * (size - HEADER)
