"""permessage-deflate's compression (RFC 7692 §7): what both codec twins call to inflate a
compressed message and deflate one, on the standard library's zlib.

One ``Inflater`` and one ``Deflater`` per connection, each built from the negotiated configuration:
the window bits and whether the context is kept from one message to the next ("context
takeover") or reset after each.

Inflating is always bounded: the caller passes how many bytes the message may still grow by, and
zlib is asked for at most one byte more, so a small frame that would inflate to gigabytes (a
deflate bomb) costs at most about the message limit before ``MessageTooBig`` (1009) is raised.
"""

from __future__ import annotations

import sys
import zlib

from bolt.exceptions import MessageTooBig, ProtocolError

# §7.2.1: a sender removes the 4 bytes an empty stored block ends with; §7.2.2: a receiver appends
# them again before inflating the end of the message.
TAIL = b"\x00\x00\xff\xff"
# A message this long is first judged by a sample of its start, deflated on its own at the fastest
# level: random or already compressed data (which would not shrink) then goes out plain for the cost
# of deflating the sample, not the whole message (about 1 ms per 64 KiB at any level).
SAMPLE_FROM = 4096
SAMPLE_SIZE = 1024


def worth_compressing(sample: bytes) -> bool:
    """Whether a message starting with ``sample`` is likely to shrink under deflate."""
    # An 11-bit window reaches back 2048 - 262 bytes: over the whole sample. A compressobj, not
    # zlib.compress(sample, 1, -11): compress() takes wbits only from Python 3.11 on.
    compressor = zlib.compressobj(1, zlib.DEFLATED, -11)
    return len(compressor.compress(sample) + compressor.flush()) < len(sample) * 9 // 10


class Inflater:
    """Inflates the compressed messages one peer sends (RFC 7692 §7.2.2).

    ``inflate(data, limit)`` takes one frame's payload of a compressed message, in order;
    ``finish(limit)`` ends the message. ``limit`` is how many bytes of output the message may still
    produce (-1: no limit); past it, ``MessageTooBig``. A stream zlib cannot inflate breaks
    RFC 7692 §7.2.2: a ``ProtocolError`` (1002).
    """

    __slots__ = ("_window_bits", "_reset", "_inflater")

    def __init__(self, window_bits: int = 15, reset: bool = False) -> None:
        # An inflater with a larger window than the peer's compressor inflates its stream just the
        # same; zlib's raw inflate takes 9..15 everywhere (8 only in some versions).
        self._window_bits = max(9, window_bits)
        self._reset = reset
        # Made at the first compressed message, so that a connection that never receives one
        # holds no zlib state (thousands of idle connections).
        self._inflater: zlib._Decompress | None = None

    def inflate(self, data: bytes | bytearray | memoryview, limit: int) -> bytes:
        inflater = self._inflater
        if inflater is None:
            inflater = self._inflater = zlib.decompressobj(-self._window_bits)
        try:
            if limit < 0:
                return inflater.decompress(data)
            # max_length=0 would mean "no limit": asking for limit + 1 is never 0, and one byte
            # over is enough to know the message is too big. max_length is a Py_ssize_t: a limit
            # of 2**63 - 1 or more asks for that much, which no output reaches.
            output = inflater.decompress(data, limit + 1 if limit < sys.maxsize else sys.maxsize)
        except zlib.error as error:
            raise ProtocolError(f"invalid compressed data: {error}") from None
        if len(output) > limit:
            raise MessageTooBig(f"decompressed message is over the limit ({limit} more bytes were allowed)")
        return output

    def finish(self, limit: int) -> bytes:
        output = self.inflate(TAIL, limit)
        if self._reset:
            # The peer starts every message with an empty window: so may we, and free ours.
            self._inflater = None
        return output


class Deflater:
    """Deflates the messages this end sends (RFC 7692 §7.2.1). ``min_size``: shorter messages are
    sent as they are, where compressing them would cost more than it saves."""

    __slots__ = ("_window_bits", "_reset", "_level", "_memory_level", "_deflater", "min_size")

    def __init__(
        self, window_bits: int = 15, reset: bool = False, level: int = 6, memory_level: int = 8, min_size: int = 128
    ) -> None:
        self._window_bits = window_bits
        self._reset = reset
        self._level = level
        self._memory_level = memory_level
        self.min_size = min_size
        self._deflater: zlib._Compress | None = None  # made at the first message compressed, as the inflater is

    def compress(self, data: bytes | bytearray | memoryview) -> bytes | None:
        """The message's compressed payload, or None where deflate did not make it smaller (random
        or already compressed data): the message then goes out as it is."""
        if len(data) >= SAMPLE_FROM and not worth_compressing(bytes(data[:SAMPLE_SIZE])):
            return None  # the compressor never saw it, and neither will the peer's inflater
        deflater = self._deflater
        if deflater is None:
            deflater = self._deflater = zlib.compressobj(
                self._level, zlib.DEFLATED, -self._window_bits, self._memory_level
            )
        output = deflater.compress(data) + deflater.flush(zlib.Z_SYNC_FLUSH)
        if self._reset or len(output) - 4 >= len(data):
            # server_no_context_takeover / client_no_context_takeover agreed for this end
            # (§7.1.1): the next message starts from an empty window, and none is kept meanwhile.
            # Or the message goes out uncompressed: then the window holds bytes the peer never
            # inflated, and a compressor that starts afresh never refers back to them.
            self._deflater = None
            if len(output) - 4 >= len(data):
                return None
        # A sync flush always ends with the empty stored block's 00 00 ff ff (§7.2.1).
        return output[:-4]
