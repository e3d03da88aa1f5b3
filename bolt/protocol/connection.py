"""The WebSocket connection state machine (RFC 6455 §5-§7), sans-I/O, for both roles.

Bytes in, events out, bytes to send out; no asyncio, no sockets, no clock. Timeouts (the close
timeout, keepalive) belong to the transport, which asks this object what to do next.

    receive_data(data) / buffer_updated(n)  ->  events for the application
    data_to_send()                          ->  replies this object generated itself (pongs, close)
    send_text(...), send_close(...), ...    ->  the bytes of what the application sends (a large
                                                message: its header and its payload, apart)
    should_close_transport                  ->  whether the transport should now close TCP

States: CONNECTING (the opening handshake, see ``bolt.protocol.server`` and ``client``), OPEN,
CLOSING (a close frame was sent or received, or the peer broke the protocol), CLOSED (TCP closed).
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING, Callable, TypeVar

from bolt import codec
from bolt.close_codes import CloseCode
from bolt._coerce import BytesLike
from bolt.events import Close, EncodedMessage, ParsedEvent
from bolt.exceptions import ConnectionClosed, ProtocolError

if TYPE_CHECKING:
    from typing import TypedDict

    from bolt.codec import FrameParser, FrameWriter
    from bolt.protocol.deflate import DeflateConfig

    class _Limits(TypedDict):
        max_message_size: int | None
        max_frame_size: int | None

    class CodecOptions(TypedDict, total=False):
        """The limits a connection passes to its codec (``Settings.codec_options()``)."""

        max_message_size: int | None
        max_frame_size: int | None
        fragment_size: int | None

    class ConnectionOptions(CodecOptions, total=False):
        """The keyword arguments of ``Connection`` that the handshake roles pass on."""

        hold_violations: bool


_Input = TypeVar("_Input")

MAX_CLOSE_REASON = 123


class State(IntEnum):
    CONNECTING = 0
    OPEN = 1
    CLOSING = 2
    CLOSED = 3


# The members as plain module names, for the paths every message takes: ``State.OPEN`` is an
# attribute lookup on the enum class that costs about 60 ns on CPython 3.11, a global about 20 ns.
CONNECTING, OPEN, CLOSING, CLOSED = State


class Connection:
    """One WebSocket connection from the end of the opening handshake to the closing of TCP.

    ``client`` picks the role: a client masks what it sends and refuses masked frames (§5.1).
    Limits are passed to the codec (``bolt.codec.FrameParser`` and ``FrameWriter``); once the
    opening handshake agreed on permessage-deflate, ``use_deflate()`` gives them its compression.
    """

    def __init__(
        self,
        *,
        client: bool = False,
        max_message_size: int | None = 16 * 1024 * 1024,
        max_frame_size: int | None = None,
        fragment_size: int | None = None,
        hold_violations: bool = False,
    ) -> None:
        self.client = client
        self.state = State.OPEN
        self._limits: _Limits = {"max_message_size": max_message_size, "max_frame_size": max_frame_size}
        self._fragment_size = fragment_size
        self._parser = codec.FrameParser(client=client, **self._limits)
        self._writer = codec.FrameWriter(client=client, fragment_size=fragment_size, zero_copy=True)
        # For ``asyncio.BufferedProtocol``: a writable view of the parser's buffer (or of the large
        # message being received) to read into, then ``buffer_updated(n)``. The parser's own method,
        # bound here so that the read path has no Python call in between.
        self.get_buffer = self._parser.get_buffer
        # The permessage-deflate configuration agreed in the handshake (RFC 7692), if any.
        self.deflate: DeflateConfig | None = None
        self._output: list[bytes] = []
        self.close_received: Close | None = None
        self.close_sent: Close | None = None
        self.failure: ProtocolError | None = None
        # With ``hold_violations``, a violation is held here instead of failing the connection at
        # once: the messages that arrived before it are handed up first, the application may still
        # answer them, and ``fail_held()`` then sends the close frame (the transport decides when).
        self.hold_violations = hold_violations
        self.violation: ProtocolError | None = None
        self.needs_attention = False
        # Who started the closing handshake: "local" (our close frame, or a failure), "peer", or
        # None while open and when TCP closed without one.
        self.close_initiator: str | None = None

    def use_deflate(self, config: DeflateConfig) -> None:
        """Compress and decompress messages as the handshake agreed (RFC 7692 §7). Called once the
        handshake is done and before any frame is parsed or built, so the codec is built anew
        with the connection's own compression contexts."""
        self.deflate = config
        inflater = codec.Inflater(config.decompress_window_bits, config.decompress_reset)
        deflater = codec.Deflater(
            config.compress_window_bits, config.compress_reset, config.level, config.memory_level, config.min_size
        )
        self._parser = codec.FrameParser(client=self.client, inflater=inflater, **self._limits)
        self.get_buffer = self._parser.get_buffer
        self._writer = codec.FrameWriter(
            client=self.client, fragment_size=self._fragment_size, deflater=deflater, zero_copy=True
        )

    # Receiving

    def receive_data(self, data: BytesLike) -> list[ParsedEvent]:
        """Parse ``data`` and return the events the application should see.

        Every ping is answered (§5.5.2) and a close frame is echoed (§5.5.1); those replies wait in
        ``data_to_send()``. A peer that breaks the protocol is sent a close frame with the code the
        violation maps to (or, with ``hold_violations``, the violation waits in ``violation``), and
        the events it sent validly before that are still returned.
        """
        return self._receive(self._parser.feed, data)

    def buffer_updated(self, nbytes: int) -> list[ParsedEvent]:
        """``nbytes`` were read into the last ``get_buffer`` view; like ``receive_data``.

        ``needs_attention`` then says whether that read brought anything but messages (a control
        frame or a violation), so that the caller looks at ``data_to_send()`` and
        ``should_close_transport`` only when it did: most reads carry messages alone.
        """
        if self.state is OPEN and self.violation is None:
            # _receive() written out for an open connection: this runs once per read, and most
            # reads carry messages alone. bolt's compiled stream core does the same itself
            # (bolt/_speedups/stream_core.pyx), with ``frame_parser``, ``read_parsed`` and
            # ``read_failed``: a change here is a change there.
            parser = self._parser
            try:
                events = parser.buffer_updated(nbytes)
            except ProtocolError as error:
                return self.read_failed(error)
            if parser.control_frames > 0 or parser.more:
                self.read_parsed(events)
            else:
                self.needs_attention = False
            return events
        return self._receive(self._parser.buffer_updated, nbytes)

    @property
    def frame_parser(self) -> FrameParser:
        """The codec's parser, for a transport that parses an open connection's reads itself."""
        return self._parser

    @property
    def frame_writer(self) -> FrameWriter:
        """The codec's writer, for a transport that frames an open connection's messages itself."""
        return self._writer

    def read_parsed(self, events: list[ParsedEvent]) -> None:
        """A read the transport parsed itself brought control frames, or left frames buffered:
        answer them as ``buffer_updated`` does (``needs_attention`` becomes true)."""
        self.needs_attention = True
        self._react(events)

    @property
    def more_buffered(self) -> bool:
        """Complete frames still wait in the buffer: the last read inflated past the codec's
        budget for one call (``parse_buffered()`` goes on once the application caught up)."""
        return self._parser.more

    def parse_buffered(self) -> list[ParsedEvent]:
        """Parse what is already buffered, as if it had just been read."""
        return self._receive(self._parser.feed, b"")

    def _receive(self, parse: Callable[[_Input], list[ParsedEvent]], data: _Input) -> list[ParsedEvent]:
        """Parse with ``parse(data)``, in any state.

        After a violation (held or acted on), or once TCP closed, nothing more is parsed. After we
        sent a close frame, the peer's frames are still read until its close frame arrives
        (§7.1.2, §7.1.3), but the data messages among them are dropped: the application asked to
        close and will not read them, and keeping them would let a peer fill memory while we wait.
        """
        self.needs_attention = False
        if self.failure is not None or self.violation is not None or self.state is State.CLOSED:
            return []
        try:
            events = parse(data)
            if self.close_sent is not None:
                # What it sends is dropped, so nothing needs to wait in the buffer for anyone.
                events = _control_only(events)
                while self._parser.more:
                    events += _control_only(self._parser.feed(b""))
        except ProtocolError as error:
            if self.close_sent is not None:
                error.events = _control_only(error.events)
            return self.read_failed(error)
        self.needs_attention = self._parser.control_frames > 0 or self._parser.more
        if self.needs_attention:
            self._react(events)
        return events

    def read_failed(self, error: ProtocolError) -> list[ParsedEvent]:
        """The parser raised ``error``: the events before it, with the violation held or the
        connection failed (``needs_attention`` becomes true)."""
        self._react(error.events)
        if self.hold_violations and self.state is State.OPEN:
            self.violation = error
        else:
            self._fail(error)
        self.needs_attention = True
        return error.events

    def fail_held(self) -> None:
        """Act on the held violation: §7.1.7, fail the connection with its close code."""
        error, self.violation = self.violation, None
        if error is not None:
            self._fail(error)

    def trim(self) -> None:
        """Give back the read buffer's extra room while nothing is buffered (an idle connection)."""
        self._parser.trim()

    def receive_eof(self) -> None:
        """The TCP connection is closed (by the peer, or by us after the close handshake)."""
        self.state = State.CLOSED

    def _react(self, events: list[ParsedEvent]) -> None:
        # §5.5.2: every ping gets a pong with its payload, in order. The codec writes them itself
        # (no object per ping) and they leave together, in one write per read. Once a close frame
        # was sent, nothing more is (§5.5.1).
        pongs = self._parser.take_pongs()
        if pongs and self.close_sent is None:
            self._output.append(pongs)
        # A close frame can only be the last event: nothing is parsed after it.
        if events and type(events[-1]) is Close:
            self._close_received(events[-1])

    def _close_received(self, event: Close) -> None:
        self.close_received = event
        if self.close_sent is None:
            self.close_initiator = "peer"
            # §5.5.1: reply with a close frame, echoing the status code received (none for none).
            self._output.append(self._writer.close(event.code, ""))
            self.close_sent = Close(event.code, "")
        self.state = State.CLOSING

    def _fail(self, error: ProtocolError) -> None:
        """§7.1.7 Fail the WebSocket Connection: send the close code the violation maps to."""
        self.failure = error
        if self.close_sent is None:
            self.close_initiator = "local"
            reason = _fit_reason(error.reason)
            self._output.append(self._writer.close(error.close_code, reason))
            self.close_sent = Close(error.close_code, reason)
        self.state = State.CLOSING

    # Sending

    def data_to_send(self) -> bytes:
        """The replies generated while receiving (pongs, the close echo, a failure's close frame)."""
        if not self._output:
            return b""
        data = b"".join(self._output)
        self._output.clear()
        return data

    def send_text(self, data: str, compress: bool = True) -> EncodedMessage:
        """A text message's frames; ``compress=False`` sends it uncompressed even where
        permessage-deflate was agreed.

        A large message a server sends comes back as a (header, payload) pair of bytes-like objects
        to write in that order, so that its payload is never copied (``bolt.codec.FrameWriter``'s
        ``zero_copy``); anything else as one ``bytes``.
        """
        if self.state is not OPEN:
            raise self.closed_error()
        return self._writer.text(data, compress)

    def send_binary(self, data: BytesLike, compress: bool = True) -> EncodedMessage:
        """A binary message's frames, as ``send_text`` returns them."""
        if self.state is not OPEN:
            raise self.closed_error()
        return self._writer.binary(data, compress)

    def send_ping(self, data: BytesLike = b"") -> bytes:
        self._check_open()
        return self._writer.ping(data)

    def send_pong(self, data: BytesLike = b"") -> bytes:
        self._check_open()
        return self._writer.pong(data)

    def send_close(self, code: int | None = CloseCode.NORMAL_CLOSURE, reason: str = "") -> bytes:
        """Start the closing handshake (§7.1.2). A reason longer than 123 bytes is refused."""
        self._check_open()
        frame = self._writer.close(code, reason)
        self.close_sent = Close(code, reason)
        self.close_initiator = "local"
        self.state = State.CLOSING
        return frame

    def _check_open(self) -> None:
        if self.state is not State.OPEN:
            raise self.closed_error()

    def message_counts(self) -> tuple[int, ...]:
        """Messages and bytes by type, received then sent, as the codec counted them: text,
        text bytes, binary, binary bytes, for each direction (see ``bolt.transport.stats``)."""
        parser, writer = self._parser, self._writer
        return (
            parser.text_received,
            parser.text_bytes_received,
            parser.binary_received,
            parser.binary_bytes_received,
            writer.text_sent,
            writer.text_bytes_sent,
            writer.binary_sent,
            writer.binary_bytes_sent,
        )

    @property
    def pings_received(self) -> int:
        return self._parser.pings_received

    def closed_error(self) -> ConnectionClosed:
        """The error for an operation the closing or closed connection cannot do, with its code."""
        return ConnectionClosed(self.close_code or CloseCode.ABNORMAL_CLOSURE, self.close_reason)

    # Closing

    @property
    def should_close_transport(self) -> bool:
        """Whether the transport should close TCP now, once ``data_to_send()`` is written.

        After a protocol failure, at once (§7.1.7). Otherwise the server closes TCP first, as soon as
        close frames went both ways (§7.1.1); a client waits for the server to do it, and its
        transport closes TCP itself only when the close timeout runs out.
        """
        if self.state is State.CLOSED:
            return False
        if self.failure is not None:
            return True
        return not self.client and self.close_sent is not None and self.close_received is not None

    @property
    def close_code(self) -> int | None:
        """The code the application reports: the peer's (1005 if its close frame had none), else
        the one we failed the connection with, else 1006 once TCP closed without a close frame."""
        if self.close_received is not None:
            code = self.close_received.code
            return CloseCode.NO_STATUS_RCVD if code is None else code
        if self.failure is not None:
            return self.failure.close_code
        if self.state is State.CLOSED:
            return CloseCode.ABNORMAL_CLOSURE
        return None

    @property
    def close_reason(self) -> str:
        if self.close_received is not None:
            return self.close_received.reason
        if self.failure is not None:
            return self.failure.reason
        return ""


def _control_only(events: list[ParsedEvent]) -> list[ParsedEvent]:
    return [event for event in events if type(event) is not str and type(event) is not bytes]


def _fit_reason(reason: str) -> str:
    """Cut a reason to the 123 bytes a close frame holds (§5.5), never inside a character."""
    encoded = reason.encode("utf-8")
    if len(encoded) <= MAX_CLOSE_REASON:
        return reason
    return encoded[:MAX_CLOSE_REASON].decode("utf-8", "ignore")
