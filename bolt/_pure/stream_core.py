"""The per-message path of one connection, in Python: the twin of ``bolt/_speedups/stream_core.pyx``.

``WebSocketStream`` (bolt/transport/stream.py) owns a connection's life: the handshake, timers,
control frames, flow control, closing. What every message crosses is here instead, in one object
the stream owns: the read callback once frames flow (``buffer_updated``), the inbox, ``receive()``
and ``async for``, and the message sends. Compiled, this path runs without a Python frame between
the socket and the handler; the rare turns (a control frame, a full inbox, a closed connection) go
back to the stream's methods, named here, so each rule is written once.

The state the stream shares with it lives here: the inbox and what it holds in bytes, the waiting
receiver, why reading is paused, whether writing is, whether TCP is gone.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from bolt._pure.waiter import Waiter
from bolt.exceptions import ConcurrencyError, ProtocolError
from bolt.protocol.connection import OPEN

if TYPE_CHECKING:
    import asyncio

    from bolt._coerce import BytesLike
    from bolt.codec import FrameParser, FrameWriter
    from bolt.events import EncodedMessage
    from bolt.protocol.connection import Connection
    from bolt.transport.stream import WebSocketStream


class StreamCore:
    """One connection's inbox, receive() and message sends (see the module's docstring)."""

    def __init__(self, stream: WebSocketStream, inbox_limit: int, inbox_byte_limit: int, rated: bool) -> None:
        self.stream = stream
        self.loop: asyncio.AbstractEventLoop = stream.loop
        # Set by the stream in connection_made(), before any read, receive or send.
        self.connection: Connection = None  # type: ignore[assignment]
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        # The connection's codec objects, set by the stream once frames flow (start()).
        self.parser: FrameParser | None = None
        self.writer: FrameWriter | None = None
        # Messages waiting for the handler, and what they hold in bytes (len() of each str or
        # bytes): reading pauses when either is over its limit. A single message always fits.
        self.inbox: deque[str | bytes] = deque()
        self.inbox_bytes = 0
        self.inbox_limit = inbox_limit
        self.inbox_byte_limit = inbox_byte_limit
        # Why reading is paused (see WebSocketStream._block_reading): empty while reading.
        self.read_blockers: set[str] = set()
        self.writing_paused = False
        self.lost = False
        self.rated = rated
        # Whether the transport's writelines() is one vectored write (see writes_vectors()).
        self.vectored = False
        # The waiter receive() awaits while the inbox is empty, and the last one allocated,
        # re-armed for the next receive(); the API call waiting, for ConcurrencyError's message.
        self.receiver: Waiter | None = None
        self.spare_receiver: Waiter | None = None
        self.receiver_call = ""

    def start(self) -> None:
        """Frames flow from now on: the codec objects are final (permessage-deflate, if agreed,
        replaced them in the handshake)."""
        self.parser = self.connection.frame_parser
        self.writer = self.connection.frame_writer

    # Reading

    def buffer_updated(self, nbytes: int) -> None:
        """The read callback once frames flow (``asyncio.BufferedProtocol``): parse what the loop
        read into the connection's buffer, queue the messages, and wake the receiver."""
        connection = self.connection
        if connection.state is OPEN and connection.violation is None:
            # Connection.buffer_updated() written out, with no call through it for a read of
            # messages alone (most reads): the connection sees the others.
            parser: FrameParser = self.parser  # type: ignore[assignment]  # set by start()
            try:
                events = parser.buffer_updated(nbytes)
            except ProtocolError as error:
                events = connection.read_failed(error)
                self.stream._attend(events, nbytes)
                return
            if parser.control_frames > 0 or parser.more:
                connection.read_parsed(events)
                self.stream._attend(events, nbytes)
                return
        else:
            events = connection.buffer_updated(nbytes)
            if connection.needs_attention:
                self.stream._attend(events, nbytes)
                return
        if events:
            if self.rated:
                events = self.stream._rate_gate(events)
            inbox = self.inbox
            # No control frame in this read (needs_attention is false): the events are messages.
            inbox.extend(events)  # type: ignore[arg-type]
            size = self.inbox_bytes
            for message in events:
                size += len(message)  # type: ignore[arg-type]  # a message, as above
            self.inbox_bytes = size
            if len(inbox) >= self.inbox_limit or size > self.inbox_byte_limit:
                self.stream._block_reading("inbox")
            receiver = self.receiver
            if receiver is not None:
                # Last, with the state complete: wake() may run the handler right here, up to its
                # next await (it may send, close, receive again, or pause reading).
                self.receiver = None
                receiver.wake()

    async def receive(self, call: str = "receive()") -> str | bytes:
        """The next message, at once if one is waiting. ``WebSocketDisconnect`` once the
        connection is over and the inbox empty; ``ConcurrencyError`` if another coroutine is
        already waiting (``call`` names the API call, for that message)."""
        inbox = self.inbox
        while not inbox:
            connection = self.connection
            if connection.state is not OPEN or connection.violation is not None or self.lost:
                self.stream._check_receivable()
            receiver = self.receiver
            if receiver is not None and not receiver.done():
                raise ConcurrencyError(
                    f"{call} called while {self.receiver_call} is already waiting for a message on this "
                    "connection; receive from one task only"
                )
            receiver = self.spare_receiver
            if receiver is None or not receiver.rearm():
                receiver = self.spare_receiver = Waiter(self.loop)
            self.receiver = receiver
            self.receiver_call = call
            await receiver
        # Reading resumes once the handler has caught up on half the inbox, not at the first
        # message taken, so a busy connection does not flap between paused and reading.
        message = inbox.popleft()
        self.inbox_bytes -= len(message)
        if (
            self.read_blockers
            and len(inbox) <= self.inbox_limit // 2
            and self.inbox_bytes <= self.inbox_byte_limit // 2
        ):
            self.stream._caught_up()
        return message

    # ``async for message in websocket`` iterates here: each step is receive() itself, with no
    # Python call in between. It ends by raising WebSocketDisconnect, as receive() does.

    def __aiter__(self) -> StreamCore:
        return self

    def __anext__(self) -> Any:
        return self.receive("async for")

    # Sending. A message can only be framed while the connection is open (Connection raises
    # otherwise), so the check for a lost transport is not needed here.

    def send_text(self, data: str, compress: bool = True) -> bool:
        """Write one text message; True when the caller should ``await drain()``. ``compress=False``
        sends it uncompressed where permessage-deflate was agreed."""
        # Connection.send_text() written out: a message is framed only while the connection is open.
        if self.connection.state is not OPEN:
            raise self.stream._send_error()
        return self._write(self.writer.text(data, compress))  # type: ignore[union-attr]  # open: start() ran

    def send_bytes(self, data: BytesLike, compress: bool = True) -> bool:
        """Write one binary message (any bytes-like object); True when the caller should drain."""
        if self.connection.state is not OPEN:
            raise self.stream._send_error()
        return self._write(self.writer.binary(data, compress))  # type: ignore[union-attr]  # open: start() ran

    async def send(self, data: str | BytesLike, compress: bool = True) -> None:
        """Send ``str`` as text and any bytes-like object as binary; wait while the transport's
        buffer is over its high-water mark."""
        if self.send_text(data, compress) if isinstance(data, str) else self.send_bytes(data, compress):
            await self.stream.drain()

    def _write(self, frame: EncodedMessage) -> bool:
        """Hand a message's frames to the transport; whether the caller should drain. A large
        message comes as its header and its payload, uncopied: one system call where the
        transport writes vectors, else two writes (never joined into a copy). What the socket
        does not take at once stays referenced, not copied (uvloop, aiofastnet)."""
        if isinstance(frame, bytes):
            self.transport.write(frame)
        elif self.vectored:
            self.transport.writelines(frame)
        else:
            header, payload = frame
            self.transport.write(header)
            self.transport.write(payload)
        return self.writing_paused
