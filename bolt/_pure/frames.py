"""The frame parser and writer (RFC 6455 §5), pure Python: the twin of ``bolt/_speedups/frames.pyx``.

Both implementations keep the same state, check the same rules in the same order and raise the same
errors with the same reasons; ``tests/test_frames_differential.py`` holds them to it.

The parser owns its receive buffer so that an ``asyncio.BufferedProtocol`` can read straight into it
(``get_buffer`` / ``buffer_updated``); ``feed`` copies a chunk in for everyone else. Each call parses
every complete frame in the buffer and returns the events they make, unmasking in place. A frame
still arriving is unmasked as far as it has come and, if it carries text, validated as far as it has
come, so invalid UTF-8 is refused before the rest of the frame is even sent (fail fast, §8.1).

Every argument that is not already exact ``bytes``, ``bytearray`` or ``str`` goes through
``bolt._coerce``, the one coercion step both twins share.
"""

from __future__ import annotations

import operator
import os
import struct

from bolt._coerce import BytesLike, as_bytes, as_str, byte_view, close_payload, size_limit
from bolt._deflate import Deflater, Inflater
from bolt._pure.mask import mask, mask_inplace
from bolt._pure.utf8 import Utf8Validator
from bolt.close_codes import is_valid_close_code
from bolt.events import Close, EncodedMessage, ParsedEvent, Pong
from bolt.exceptions import InvalidState, InvalidUTF8, MessageTooBig, ProtocolError

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024
# The buffer is allocated at the first read, at MIN_READ_SIZE, so that a connection that has received
# nothing costs nothing; it grows for bursts and big frames, and trim() gives it all back while idle.
INITIAL_BUFFER_SIZE = 4 * 1024
MIN_READ_SIZE = 4 * 1024
# A read that fills all the space offered doubles the next offer, up to this: a busy connection
# reads 256 KiB a system call, an idle one keeps its small buffer.
MAX_READ_SIZE = 256 * 1024
# A buffer grown past SHRINK_ABOVE shrinks back once it is empty after a frame smaller than
# LARGE_FRAME: one large message does not pin memory, and a stream of them does not pay to regrow
# the buffer (and fault its pages in again) for every message.
SHRINK_ABOVE = 1024 * 1024
LARGE_FRAME = 64 * 1024
# A message in one frame of DIRECT_SIZE to DIRECT_MAX bytes is received straight into the object
# the application gets (the header gave its size): from the read that completes its header on, the
# payload goes into that object, not into the buffer, so the buffer does not grow to the frame's
# size and the payload is not copied out of it. Its memory is taken as the bytes arrive, at most
# MAX_READ_SIZE a read, as the buffer's would be (the compiled twin allocates the size at once, which
# the system backs with memory only as it is written): a header announcing a large frame costs
# nothing until the bytes come. Larger frames (possible only with a raised max_message_size) take
# the buffer's path, which never allocates what has not arrived.
DIRECT_SIZE = 64 * 1024
DIRECT_MAX = 16 * 1024 * 1024
MAX_CONTROL_PAYLOAD = 125
# FrameWriter(zero_copy=True) returns an unmasked payload of at least this many bytes apart from its
# header, as a (header, payload) pair, when the payload cannot change under the transport (bytes, or
# a str's encoding): copying it into one frame would cost a pass over it and, at megabytes, a fresh
# region of memory (page faults) for every message. Below it, one write of one frame is cheaper.
ZERO_COPY_SIZE = 64 * 1024
# One call stops after its compressed messages inflated to more than this: a read may hold many
# small frames that each inflate to megabytes, and the caller must see (and pause for) what came out
# before more is inflated. ``more`` then says complete frames may wait; ``feed(b"")`` goes on.
INFLATE_BUDGET = 1024 * 1024
_MASK_POOL_SIZE = 4096


class _MaskKeys:
    """Masking keys for the frames this end sends (§5.3), 4 bytes at a time from a pool that one
    ``os.urandom`` call fills: the keys stay unpredictable (§10.3) with no system call per frame."""

    __slots__ = ("_pool", "_pos")

    def __init__(self) -> None:
        self._pool = b""
        self._pos = 0

    def next(self) -> bytes:
        if self._pos + 4 > len(self._pool):
            self._pool = os.urandom(_MASK_POOL_SIZE)
            self._pos = 0
        self._pos += 4
        return self._pool[self._pos - 4 : self._pos]


class FrameParser:
    """Turns the bytes a peer sends into events: a complete text message is a ``str``, a binary
    message ``bytes``, and the control frames a caller acts on are ``Pong`` and ``Close``
    (``bolt.events``). Messages carry no wrapper object: the str or bytes is all a message is, and
    building nothing else keeps the parser at one allocation per message.

    Pings make no event: the parser writes each one's pong itself (§5.5.2), in order, and
    ``take_pongs()`` hands over the bytes to send. ``pings_received`` counts them all.

    ``client``: this end is the client, so frames must arrive unmasked (§5.1); a server requires them
    masked. ``max_message_size`` and ``max_frame_size`` (None: no limit) are checked from the frame
    header, before any payload is buffered. ``inflater`` (a ``bolt._deflate.Inflater``), when
    permessage-deflate was negotiated, permits RSV1 on the first frame of a data message (RFC 7692
    §6) and inflates such a message frame by frame as it arrives, never past the message limit, a
    compressed text message being validated as UTF-8 as it is inflated (§6.2).

    A violation raises a ``ProtocolError`` carrying the close code to send; events completed before it
    in the same call are on ``error.events``; the pongs of pings before it are still in
    ``take_pongs()``.
    """

    def __init__(
        self,
        *,
        client: bool = False,
        max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
        max_frame_size: int | None = None,
        inflater: Inflater | None = None,
    ) -> None:
        self._expect_masked = not client
        self._max_message = size_limit(max_message_size, "max_message_size")
        self._max_frame = size_limit(max_frame_size, "max_frame_size")
        self._inflater = inflater
        self._buf = bytearray()
        self._start = 0
        self._end = 0
        self._read_size = MIN_READ_SIZE
        self._offered = 0
        self._last_length = 0
        # The frame whose header has been parsed but whose payload is not all here yet.
        self._in_frame = False
        self._fin = False
        self._opcode = 0
        self._key: bytes | None = None
        self._length = 0
        self._payload_start = 0
        self._unmasked = 0
        self._validated = 0
        # The payload of a frame received directly (DIRECT_SIZE), and how much of it has arrived.
        self._direct: bytearray | None = None
        self._filled = 0
        # The data message being assembled from fragments (§5.4).
        self._message_opcode = 0
        self._message_compressed = False
        self._message_size = 0
        self._fragments = bytearray()
        self._utf8 = Utf8Validator()
        self._error: ProtocolError | None = None
        # After a close frame the stream is over: §5.5.1 lets nothing follow it, so nothing is read.
        self._closed = False
        # How many control frames (ping, pong, close) the last call parsed: when none, the caller
        # can take the list as messages alone and has no pong to send.
        self.control_frames = 0
        # Complete frames may still wait in the buffer: the last call stopped at INFLATE_BUDGET.
        self.more = False
        self._inflated = 0
        self.pings_received = 0
        # Messages returned, and their size in bytes (a text message's UTF-8, after inflating).
        self.text_received = 0
        self.text_bytes_received = 0
        self.binary_received = 0
        self.binary_bytes_received = 0
        # The pongs owed for the pings parsed so far, as the frames to send; a client masks them.
        self._pongs = bytearray()
        self._keys = _MaskKeys()

    # Input

    def feed(self, data: BytesLike) -> list[ParsedEvent]:
        """Append ``data`` (any bytes-like object) and return the events it completed."""
        data = byte_view(data, "feed() data")
        if self._direct is not None and self._error is None:
            return self._feed_direct(data)
        size = len(data)
        self._make_room(size)
        self._buf[self._end : self._end + size] = data
        self._end += size
        return self._parse()

    def get_buffer(self, sizehint: int = -1) -> memoryview:
        """A writable view of the buffer's free space, for ``BufferedProtocol.get_buffer``.

        Compaction and growth happen here and never in ``buffer_updated``: the transport still holds
        the view it read into while it calls ``buffer_updated``, and a bytearray cannot be resized
        while a view of it exists. ``sizehint`` is not a minimum (``BufferedProtocol`` allows a
        smaller buffer): the offer follows what this connection's reads have been, so that a loop
        suggesting 64 KiB (uvloop) does not give every idle connection a 64 KiB buffer.
        """
        if self._direct is not None:
            target, filled = self._direct, self._filled
            self._offered = min(self._length - filled, MAX_READ_SIZE)
            if len(target) < filled + self._offered:
                target.extend(bytes(filled + self._offered - len(target)))
            return memoryview(target)[filled : filled + self._offered]
        wanted = self._read_size
        if self._in_frame:
            # Room for the rest of the frame, but never more at once than the largest read: the
            # buffer grows with the bytes that arrive, not with the length a header announces.
            wanted = max(wanted, min(self._payload_start + self._length - self._end, MAX_READ_SIZE))
        self._make_room(wanted)
        self._offered = len(self._buf) - self._end
        return memoryview(self._buf)[self._end :]

    def buffer_updated(self, nbytes: int) -> list[ParsedEvent]:
        """``nbytes`` were written at the start of the last ``get_buffer`` view; return the events."""
        nbytes = operator.index(nbytes)  # what the compiled twin's C integer argument takes
        if self._direct is not None:
            if nbytes < 0 or nbytes > self._offered:
                raise ValueError(f"buffer_updated({nbytes}) is outside the buffer handed out")
            return self._received_direct(nbytes)
        if nbytes < 0 or self._end + nbytes > len(self._buf):
            raise ValueError(f"buffer_updated({nbytes}) is outside the buffer handed out")
        if nbytes == self._offered and self._read_size < MAX_READ_SIZE:
            self._read_size = min(2 * max(self._read_size, nbytes), MAX_READ_SIZE)
        self._end += nbytes
        return self._parse()

    def trim(self) -> None:
        """Give the buffer back if nothing is buffered: for connections gone quiet (the next read
        allocates it again)."""
        if self._start == self._end and not self._fragments and self._direct is None and self._buf:
            self._start = self._end = 0
            self._buf = bytearray()
            self._read_size = MIN_READ_SIZE

    @property
    def buffered(self) -> int:
        """Bytes received and not yet returned as events (a partial frame or message)."""
        return self._end - self._start + len(self._fragments) + self._filled

    def take_pongs(self) -> bytes:
        """The pong frames owed for every ping parsed since the last call, in order; b"" if none.

        Still filled by the pings before a violation, after the ``ProtocolError``."""
        pongs = bytes(self._pongs)
        self._pongs.clear()
        return pongs

    def _make_room(self, size: int) -> None:
        buf = self._buf
        if self._start == self._end:
            self._start = self._end = 0
            if len(buf) > SHRINK_ABOVE and not self._fragments and self._last_length < LARGE_FRAME:
                self._buf = buf = bytearray(INITIAL_BUFFER_SIZE)
        free = len(buf) - self._end
        if free >= size:
            return
        if self._start:
            self._rebase()
            free = len(buf) - self._end
            if free >= size:
                return
        # A new buffer, not a resize: a transport may still hold its view of the last read
        # (aiofastnet keeps it until the next get_buffer() returns), and a bytearray that has a
        # view cannot be resized.
        grown = bytearray(len(buf) + max(size - free, len(buf)))
        grown[: self._end] = memoryview(buf)[: self._end]
        self._buf = grown

    def _rebase(self) -> None:
        """Move the unparsed bytes to the front of the buffer."""
        start = self._start
        if self._end > start:
            self._buf[: self._end - start] = self._buf[start : self._end]
        self._end -= start
        self._payload_start -= start
        self._start = 0

    # Parsing

    def _parse(self) -> list[ParsedEvent]:
        if self._error is not None:
            raise InvalidState(f"the frame stream already failed: {self._error.reason}")
        events: list[ParsedEvent] = []
        self.control_frames = 0
        self.more = False
        self._inflated = 0
        if self._closed:
            self._start = self._end = 0
            return events
        try:
            while not self._closed and self._next_frame(events):
                if self._inflated > INFLATE_BUDGET:
                    self.more = self._start < self._end
                    break
        except ProtocolError as error:
            self._error = error
            error.events = events
            raise
        if self._start == self._end:
            self._start = self._end = 0
        return events

    def _next_frame(self, events: list[ParsedEvent]) -> bool:
        """Parse one frame; False when the buffer holds no complete frame."""
        buf = self._buf
        if not self._in_frame and not self._read_header():
            return False
        start = self._payload_start
        arrived = self._end - start
        if arrived < self._length:
            if (
                DIRECT_SIZE <= self._length <= DIRECT_MAX
                and self._fin
                and self._opcode in (OP_TEXT, OP_BINARY)
                and not self._message_compressed
            ):
                self._start_direct(arrived)
            else:
                self._advance_partial(arrived)
            return False
        length = self._length
        self._unmask(length)
        self._start = start + length
        self._last_length = length
        self._in_frame = False
        opcode = self._opcode
        if opcode >= OP_CLOSE:
            return self._control_frame(opcode, buf[start : start + length], events)
        if self._fin and not self._fragments:
            events.append(self._whole_message(buf, start, length))
            return True
        if self._message_compressed:
            # A fragment of a compressed message is inflated as it comes (RFC 7692 §7.2.2), so its
            # text is validated, and its size checked, before the rest arrives.
            # A compressed message (RSV1) is refused in _read_header unless an inflater was given.
            self._add_inflated(self._inflater.inflate(buf[start : start + length], self._room()))  # type: ignore[union-attr]
        else:
            if self._validates_text() and not self._utf8.feed(memoryview(buf)[start + self._validated : start + length]):
                raise InvalidUTF8("invalid UTF-8 in a text message")
            self._fragments += memoryview(buf)[start : start + length]
        if self._fin:
            events.append(self._assembled_message())
        return True

    def _read_header(self) -> bool:
        buf = self._buf
        pos = self._start
        available = self._end - pos
        if available < 2:
            return False
        first = buf[pos]
        second = buf[pos + 1]
        fin = first & 0x80
        rsv = first & 0x70
        opcode = first & 0x0F
        masked = second & 0x80
        length = second & 0x7F
        # Everything that can be refused from the first two bytes is refused before the rest arrives.
        if opcode >= OP_CLOSE:
            if opcode > OP_PONG:
                raise ProtocolError(f"reserved opcode {opcode:#x}")  # §5.2
            if not fin:
                raise ProtocolError("fragmented control frame")  # §5.5
            if length > MAX_CONTROL_PAYLOAD:
                raise ProtocolError("control frame payload over 125 bytes")  # §5.5
            if rsv:
                raise ProtocolError("reserved bits set on a control frame")  # §5.2, RFC 7692 §6
            if opcode == OP_CLOSE and length == 1:
                raise ProtocolError("close frame with a 1-byte payload")  # §5.5.1
        else:
            if opcode > OP_BINARY:
                raise ProtocolError(f"reserved opcode {opcode:#x}")  # §5.2
            if opcode == OP_CONTINUATION:
                if not self._message_opcode:
                    raise ProtocolError("continuation frame with no message to continue")  # §5.4
                if rsv:
                    # RFC 7692 §6.1: RSV1 marks the first frame of a compressed message only.
                    raise ProtocolError("reserved bits set on a continuation frame")
            else:
                if self._message_opcode:
                    raise ProtocolError("new data frame inside a fragmented message")  # §5.4
                if rsv and (rsv != 0x40 or self._inflater is None):
                    raise ProtocolError("reserved bits set without a negotiated extension")  # §5.2
        if bool(masked) != self._expect_masked:
            # §5.1: a server closes on an unmasked frame, a client on a masked one.
            raise ProtocolError("unmasked frame from a client" if self._expect_masked else "masked frame from a server")

        header_size = 2 + (4 if masked else 0) + (2 if length == 126 else 8 if length == 127 else 0)
        if available < header_size:
            return False
        pos += 2
        if length == 126:
            length = (buf[pos] << 8) | buf[pos + 1]
            pos += 2
        elif length == 127:
            length = int.from_bytes(buf[pos : pos + 8], "big")
            if length >> 63:
                raise ProtocolError("64-bit payload length with the most significant bit set")  # §5.2
            pos += 8
        # §5.2 asks senders for the minimal length encoding but gives receivers no rule; a longer
        # encoding of a small length is accepted, as the RFC's robustness principle suggests.
        if self._max_frame >= 0 and length > self._max_frame:
            raise MessageTooBig(f"frame of {length} bytes is over the limit of {self._max_frame}")
        if opcode < OP_CLOSE:
            limit = self._max_message
            if limit >= 0 and (rsv if opcode != OP_CONTINUATION else self._message_compressed):
                limit = _compressed_limit(limit)
            if limit >= 0 and self._message_size + length > limit:
                raise MessageTooBig(
                    f"message of {self._message_size + length} bytes or more is over the limit of {self._max_message}"
                )
            if opcode != OP_CONTINUATION:
                self._message_opcode = opcode
                self._message_compressed = bool(rsv)
            self._message_size += length
        if masked:
            self._key = bytes(buf[pos : pos + 4])
            pos += 4
        else:
            self._key = None
        self._fin = bool(fin)
        self._opcode = opcode
        self._length = length
        self._payload_start = pos
        self._unmasked = 0
        self._validated = 0
        self._in_frame = True
        return True

    def _control_frame(self, opcode: int, payload: bytearray, events: list[ParsedEvent]) -> bool:
        """A ping is answered here; a pong or a close frame is an event (§5.5). Apart from
        ``_next_frame`` so that its data frame path stays small (in the compiled twin, measurably)."""
        self.control_frames += 1
        if opcode == OP_PING:
            self.pings_received += 1
            self._queue_pong(payload)
        elif opcode == OP_PONG:
            events.append(Pong(bytes(payload)))
        else:
            events.append(self._close_event(bytes(payload)))
            self._closed = True
        return True

    def _queue_pong(self, payload: bytearray) -> None:
        # §5.5.2: a pong carries its ping's payload. §5.5.3 would allow answering only the latest
        # ping, but a peer waiting for the pong of one particular ping (matched by its payload)
        # would wait for ever: one pong per ping, in order, is right for every peer. A client
        # masks the pong like every frame it sends (§5.3).
        key = None if self._expect_masked else self._keys.next()
        self._pongs += _encode(OP_PONG, payload, True, False, key)

    def _validates_text(self) -> bool:
        """Text arriving uncompressed is validated as it comes; compressed text once inflated."""
        return self._message_opcode == OP_TEXT and not self._message_compressed

    def _unmask(self, upto: int) -> None:
        if self._key is not None and upto > self._unmasked:
            start = self._payload_start
            mask_inplace(memoryview(self._buf)[start + self._unmasked : start + upto], self._key, self._unmasked)
        self._unmasked = upto

    def _advance_partial(self, arrived: int) -> None:
        """Unmask and validate what has arrived of a frame that is not complete yet."""
        if self._opcode >= OP_CLOSE or arrived <= self._unmasked:
            return
        self._unmask(arrived)
        if self._validates_text():
            start = self._payload_start
            if not self._utf8.feed(memoryview(self._buf)[start + self._validated : start + arrived]):
                raise InvalidUTF8("invalid UTF-8 in a text message")
            self._validated = arrived

    # A frame received directly (DIRECT_SIZE)

    def _start_direct(self, arrived: int) -> None:
        """Move what has arrived of the frame out of the buffer into its own object, which takes
        the rest of the payload from now on; the buffer holds nothing else (it ends mid-frame)."""
        start = self._payload_start
        self._direct = bytearray(memoryview(self._buf)[start : start + arrived])
        self._filled = 0
        self._start = self._end = 0
        self._fill_direct(arrived)

    def _fill_direct(self, nbytes: int) -> None:
        """Unmask and validate the next ``nbytes`` of the payload, which are in place."""
        start = self._filled
        view = memoryview(self._direct)[start : start + nbytes]  # type: ignore[arg-type]  # set while a frame is received directly
        if self._key is not None:
            mask_inplace(view, self._key, start)
        if self._message_opcode == OP_TEXT and not self._utf8.feed(view):
            raise InvalidUTF8("invalid UTF-8 in a text message")
        self._filled = start + nbytes

    def _received_direct(self, nbytes: int) -> list[ParsedEvent]:
        """``nbytes`` more of the direct frame's payload are in place: the message once complete."""
        if self._error is not None:
            raise InvalidState(f"the frame stream already failed: {self._error.reason}")
        self.control_frames = 0
        self.more = False
        try:
            self._fill_direct(nbytes)
            length = self._length
            if self._filled < length:
                return []
            payload, self._direct, self._filled = self._direct, None, 0
            self._in_frame = False
            self._last_length = length
            opcode = self._message_opcode
            self._end_message()
            # The payload is exactly ``length`` bytes: get_buffer() never offers past the frame.
            message = _decode(payload) if opcode == OP_TEXT else bytes(payload)  # type: ignore[arg-type]  # _direct was set
            self._count(opcode, length)
            return [message]
        except ProtocolError as error:
            self._error = error
            error.events = []
            raise

    def _feed_direct(self, data: BytesLike) -> list[ParsedEvent]:
        """``feed()`` while a frame is received directly: its payload first, then the rest as usual."""
        taken = min(self._length - self._filled, len(data))
        target, filled = self._direct, self._filled
        target[filled : filled + taken] = memoryview(data)[:taken]  # type: ignore[index]  # _direct is set
        events = self._received_direct(taken)
        if taken < len(data):
            events += self.feed(memoryview(data)[taken:])
        return events

    def _whole_message(self, buf: bytearray, start: int, length: int) -> str | bytes:
        """A message in a single frame: decoding it validates it, so no separate UTF-8 pass."""
        opcode = self._message_opcode
        compressed = self._message_compressed
        self._end_message()
        message: str | bytes
        if compressed:
            # RSV1 is refused in _read_header unless an inflater was given.
            inflater: Inflater = self._inflater  # type: ignore[assignment]
            room = self._room()
            payload = inflater.inflate(buf[start : start + length], room)
            rest = inflater.finish(room - len(payload) if room >= 0 else -1)
            if rest:
                payload += rest
            self._inflated += len(payload)
            length = len(payload)
            message = _decode(payload) if opcode == OP_TEXT else payload
        elif opcode == OP_TEXT:
            message = _decode(buf, start, length)
        else:
            message = bytes(buf[start : start + length])
        self._count(opcode, length)
        return message

    def _assembled_message(self) -> str | bytes:
        if self._message_compressed:
            self._add_inflated(self._inflater.finish(self._room()))  # type: ignore[union-attr]  # compressed: an inflater was given
            self._inflated += len(self._fragments)
        payload = bytes(self._fragments)
        opcode = self._message_opcode
        complete = self._utf8.complete
        self._end_message()
        message: str | bytes
        if opcode == OP_BINARY:
            message = payload
        elif not complete:
            raise InvalidUTF8("text message ends inside a UTF-8 sequence")
        else:
            message = _decode(payload)
        self._count(opcode, len(payload))
        return message

    def _count(self, opcode: int, size: int) -> None:
        if opcode == OP_TEXT:
            self.text_received += 1
            self.text_bytes_received += size
        else:
            self.binary_received += 1
            self.binary_bytes_received += size

    def _end_message(self) -> None:
        self._message_opcode = 0
        self._message_compressed = False
        self._message_size = 0
        self._fragments = bytearray()
        self._utf8.reset()

    def _room(self) -> int:
        """How many more bytes the message being inflated may grow by (-1: no limit)."""
        if self._max_message < 0:
            return -1
        return self._max_message - len(self._fragments)

    def _add_inflated(self, data: bytes) -> None:
        if self._message_opcode == OP_TEXT and not self._utf8.feed(data):
            raise InvalidUTF8("invalid UTF-8 in a text message")
        self._fragments += data

    def _close_event(self, payload: bytes) -> Close:
        if not payload:
            return Close(None, "")
        code = (payload[0] << 8) | payload[1]
        if not is_valid_close_code(code):
            raise ProtocolError(f"invalid close code {code}")  # §7.4
        return Close(code, _decode(payload, 2, len(payload) - 2, "invalid UTF-8 in a close reason"))


def _compressed_limit(limit: int) -> int:
    """The most a compressed message may take on the wire when it may inflate to ``limit`` bytes.

    Its inflated size is what the limit judges (as it is inflated), but data deflate cannot shrink
    grows: 5 bytes per stored block (RFC 1951 §3.2.4), and a compressor with a small memory level
    makes small blocks (websockets' memLevel 5: 0.25%). zlib's own worst case, ``deflateBound``,
    is under an eighth more; a peer that compresses everything can then still send a message of
    exactly the limit, and the buffer holds at most that much."""
    return min(limit + limit // 8 + 1024, 2**63 - 1)


def _decode(data: BytesLike, start: int = 0, length: int | None = None, problem: str = "invalid UTF-8 in a text message") -> str:
    try:
        if length is None:
            return str(data, "utf-8")
        return str(memoryview(data)[start : start + length], "utf-8")
    except UnicodeDecodeError:
        raise InvalidUTF8(problem) from None


class FrameWriter:
    """Builds frames to send. ``client``: mask every frame with a fresh random key (§5.3).

    ``fragment_size`` splits longer messages into frames of that many payload bytes. ``deflater`` (a
    ``bolt._deflate.Deflater``), when permessage-deflate was negotiated, compresses each data message
    of at least its ``min_size`` bytes, unless the call says ``compress=False``, and sets RSV1 on
    its first frame (RFC 7692 §6). Each method returns the bytes to write; with ``zero_copy``,
    ``text()`` and ``binary()`` return a large message as a (header, payload) pair instead (see
    ``ZERO_COPY_SIZE``), for the caller to write in that order.
    """

    def __init__(
        self,
        *,
        client: bool = False,
        fragment_size: int | None = None,
        deflater: Deflater | None = None,
        zero_copy: bool = False,
    ) -> None:
        self._fragment_size = size_limit(fragment_size, "fragment_size", 1)
        self._client = client
        self._deflater = deflater
        # A client masks every frame (§5.3), which copies the payload anyway.
        self._zero_copy = zero_copy and not client
        self._keys = _MaskKeys()
        # Messages framed, and their size in bytes before compressing (a text message's UTF-8).
        self.text_sent = self.text_bytes_sent = self.binary_sent = self.binary_bytes_sent = 0

    def text(self, data: str, compress: bool = True) -> EncodedMessage:
        if type(data) is not str:
            data = as_str(data, "text() data")
        payload = data.encode("utf-8")
        self.text_sent += 1
        self.text_bytes_sent += len(payload)
        return self._message(OP_TEXT, payload, compress)

    def binary(self, data: BytesLike, compress: bool = True) -> EncodedMessage:
        data = byte_view(data, "binary() data")
        self.binary_sent += 1
        self.binary_bytes_sent += len(data)
        return self._message(OP_BINARY, data, compress)

    def ping(self, data: BytesLike = b"") -> bytes:
        return self._control(OP_PING, data)

    def pong(self, data: BytesLike = b"") -> bytes:
        return self._control(OP_PONG, data)

    def close(self, code: int | None = 1000, reason: str = "") -> bytes:
        """A close frame; ``code=None`` sends one with no payload (the peer reports 1005)."""
        return self._frame(OP_CLOSE, close_payload(code, reason), True, False)

    def _control(self, opcode: int, data: BytesLike) -> bytes:
        data = byte_view(data, "ping() data" if opcode == OP_PING else "pong() data")
        if len(data) > MAX_CONTROL_PAYLOAD:
            raise ValueError(f"control frame payload is {len(data)} bytes; at most {MAX_CONTROL_PAYLOAD} (§5.5)")
        return self._frame(opcode, data, True, False)

    def _message(self, opcode: int, payload: BytesLike, compress: bool) -> EncodedMessage:
        deflater = self._deflater
        compressed = deflater is not None and compress and len(payload) >= deflater.min_size
        if compressed:
            packed = deflater.compress(payload)  # type: ignore[union-attr]  # compressed: not None
            if packed is None:
                compressed = False  # deflate would not make it smaller: sent as it is
            else:
                payload = packed
        size = self._fragment_size
        if size < 0 or len(payload) <= size:
            if self._zero_copy and len(payload) >= ZERO_COPY_SIZE and type(payload) is bytes:
                return _header(opcode, len(payload), True, compressed, 0), payload
            return self._frame(opcode, payload, True, compressed)
        view = memoryview(payload)
        frames = []
        for offset in range(0, len(view), size):
            last = offset + size >= len(view)
            first = offset == 0
            frames.append(self._frame(opcode if first else OP_CONTINUATION, view[offset : offset + size], last, compressed and first))
        return b"".join(frames)

    def _frame(self, opcode: int, payload: BytesLike, fin: bool, rsv1: bool) -> bytes:
        return _encode(opcode, payload, fin, rsv1, self._keys.next() if self._client else None)


def encode_frame(opcode: int, payload: BytesLike, *, fin: bool = True, rsv1: bool = False, mask_key: BytesLike | None = None) -> bytes:
    """One frame's bytes (§5.2): header, then the payload, masked with ``mask_key`` if given."""
    opcode = operator.index(opcode)
    if not 0 <= opcode <= 0xF:
        raise ValueError(f"opcode {opcode} does not fit in 4 bits (§5.2)")
    payload = byte_view(payload, "encode_frame() payload")
    if mask_key is not None:
        mask_key = as_bytes(mask_key, "mask key")
        if len(mask_key) != 4:
            raise ValueError("a mask key is 4 bytes")
    return _encode(opcode, payload, fin, rsv1, mask_key)


def _encode(opcode: int, payload: BytesLike, fin: bool, rsv1: bool, mask_key: bytes | None) -> bytes:
    """``payload`` is bytes, a bytearray or a flat byte memoryview (``byte_view``)."""
    header = _header(opcode, len(payload), fin, rsv1, 0x80 if mask_key is not None else 0)
    if mask_key is None:
        return header + payload
    return header + mask_key + mask(payload, mask_key)


def _header(opcode: int, length: int, fin: bool, rsv1: bool, mask_bit: int) -> bytes:
    """A frame's first bytes up to the masking key (§5.2)."""
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    if length < 126:
        return struct.pack("!BB", first, mask_bit | length)
    if length < 65536:
        return struct.pack("!BBH", first, mask_bit | 126, length)
    return struct.pack("!BBQ", first, mask_bit | 127, length)
