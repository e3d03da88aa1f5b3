"""One WebSocket connection on asyncio, once it speaks WebSocket: shared by the server and the client.

``WebSocketStream`` is an ``asyncio.BufferedProtocol``: the event loop reads straight into the frame
parser's buffer (``get_buffer`` / ``buffer_updated``), each read is parsed in one call, and the
messages it completes wait in an inbox bounded in messages and in bytes. When the inbox is full,
reading stops until the handler catches up (backpressure, not a close). A send only waits when
the transport asked to pause (its write buffer is over the high-water mark).

What every message crosses (the read callback once frames flow, the inbox, ``receive()``, the
message sends) is the stream's *core*, ``StreamCore`` (bolt/_pure/stream_core.py, compiled in
bolt/_speedups/stream_core.pyx); this module keeps the rest of a connection's life and the rare
turns of that path: control frames, violations, flow control, the rate limit, closing.

It is also the *session* the application's ``WebSocket`` object talks to (``receive``, ``send``,
``send_text``/``send_bytes``, ``drain``, ``ping``, ``close``, ``state``, close code and reason):
the WebSocket object never touches the protocol object or the asyncio transport.

Timers are ``loop.call_later`` handles, not tasks, so an idle connection costs no task: the
keepalive ping, the pong deadline, the close timeout, the write timeout, and the grace a handler
gets to take the messages that arrived before a protocol violation.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bolt import codec
from bolt.close_codes import CloseCode
from bolt._coerce import BytesLike
from bolt.events import Close, ParsedEvent, Pong
from bolt.exceptions import ConnectionClosed, InvalidState, WebSocketDisconnect
from bolt.protocol.connection import CONNECTING, OPEN, Connection, State
from bolt.transport.limits import RateLimiter
from bolt.transport.settings import Settings
from bolt.transport.stats import ConnectionStats

if TYPE_CHECKING:
    from bolt._pure.stream_core import StreamCore as Core
    from bolt.protocol.prepared import PreparedMessage

logger = logging.getLogger("bolt")


def writes_vectors(transport: asyncio.WriteTransport) -> bool:
    """Whether ``transport.writelines()`` writes a list of buffers with one system call (writev,
    sendmsg) and applies the write-buffer limits as ``write()`` does: uvloop's and aiofastnet's.
    Not asyncio's own: 3.11's joins the list into a copy, and the selector transport's of 3.12 and
    3.13 sends with sendmsg but never calls ``pause_writing()`` (it skips
    ``_maybe_pause_protocol()``), so a handler sending large messages to a peer that does not read
    would never be told to wait, and would buffer without bound. There bolt writes twice."""
    kind = type(transport)
    return kind.writelines is not asyncio.WriteTransport.writelines and not kind.__module__.startswith("asyncio.")


def _load_core() -> type[Core]:
    """The per-message path of the codec's implementation (compiled unless BOLT_NO_EXTENSIONS):
    it lives beside the codec, but bolt.codec stays free of asyncio (the sans-I/O layer)."""
    if codec.IMPLEMENTATION == "compiled":
        try:
            from bolt._speedups.stream_core import StreamCore as Compiled
        except ImportError:  # this one extension failed to build (setup.py): the twin does the same
            pass
        else:
            return Compiled
    from bolt._pure.stream_core import StreamCore as Pure

    return Pure


# Looked up for each stream, so that tests can swap it (tests/conftest.py's codec fixture).
StreamCore = _load_core()

TURN_AFTER = 64 * 1024
_NOTHING_HELD: deque[str | bytes] = deque(maxlen=0)


class WebSocketStream(asyncio.BufferedProtocol):
    """The asyncio side of one connection: reading, the inbox, flow control, keepalive, closing.

    Subclasses run the opening handshake (``_handshake_buffer()`` and ``_handshake_received()``,
    the read callbacks until then), then call ``_start_frames()``. The per-message path is the core's: at small
    messages each Python call and coroutine between the socket and the handler is a measurable
    part of the cost (bench/echo).
    """

    # Slots: a connection has some forty attributes, and a dict past thirty keys does not share
    # its keys with the other instances' (about 1.5 KiB a connection; slots take 8 bytes each).
    # Subclasses keep a __dict__ for their own few.
    __slots__ = (
        "settings", "loop", "transport", "connection", "core", "inbox",
        "get_buffer", "buffer_updated", "receive", "send", "send_text", "send_bytes",
        "_read_blockers", "_drainers", "_write_deadline", "_closed", "_pings", "_keepalive",
        "_pong_deadline", "_close_deadline", "_violation_deadline", "_closing",
        "_opened_at", "_closed_at", "_ping_times", "pings_sent", "pongs_received", "last_rtt",
        "_broadcasts", "inbox_full_events", "write_paused_events", "on_rtt", "_rate", "_held",
        "_rate_timer",
    )  # fmt: skip

    connection: Connection
    # None only until connection_made(), which comes before any read or write.
    transport: asyncio.Transport
    # asyncio's read callbacks: the handshake's until frames flow, then the parser's and the
    # core's (_start_frames()). Instance slots, so that the loop calls the current ones directly.
    get_buffer: Callable[[int], memoryview]  # type: ignore[assignment]
    buffer_updated: Callable[[int], None]  # type: ignore[assignment]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop = asyncio.get_running_loop()
        self.transport = None  # type: ignore[assignment]  # see the class annotation
        self.get_buffer = self._handshake_get_buffer
        self.buffer_updated = self._handshake_received
        # The per-message path and its state: the inbox (and its limits), the waiting receiver,
        # the message sends (bolt/_pure/stream_core.py). Its methods are this session's: bound
        # here, so that a handler's receive and send reach compiled code with no Python call.
        core = self.core = StreamCore(self, settings.inbox_size, settings.inbox_bytes, settings.rate_limit is not None)
        self.inbox = core.inbox
        self.receive = core.receive
        self.send = core.send
        self.send_text = core.send_text
        self.send_bytes = core.send_bytes
        # Why reading is paused: "handshake" (the application has not answered the request yet),
        # "inbox" (the handler is behind), "writes" (the peer is not reading what we send, so we do
        # not read what would make us send more), "turn" (a large read of control frames just
        # happened: other connections get the loop first), "violation" (the peer broke the
        # protocol: nothing after it is read while the handler takes what came before). The
        # core's set: it resumes reading once the handler caught up.
        self._read_blockers = core.read_blockers
        self._drainers: list[asyncio.Future[None]] = []
        self._write_deadline: asyncio.TimerHandle | None = None
        self._closed: asyncio.Future[None] = self.loop.create_future()
        self._pings: dict[bytes, asyncio.Future[None]] = {}
        self._keepalive: asyncio.TimerHandle | None = None
        self._pong_deadline: asyncio.TimerHandle | None = None
        self._close_deadline: asyncio.TimerHandle | None = None
        self._violation_deadline: asyncio.TimerHandle | None = None
        self._closing = False
        # For stats(): when frames started and TCP closed (time.monotonic(): uvloop's clock
        # counts milliseconds), pings sent and answered,
        # the last round trip, and broadcasts written (which do not pass through the codec).
        self._opened_at: float | None = None
        self._closed_at: float | None = None
        self._ping_times: dict[bytes, float] = {}
        self.pings_sent = 0
        self.pongs_received = 0
        self.last_rtt: float | None = None
        self._broadcasts = [0, 0, 0, 0]  # text, text bytes, binary, binary bytes
        # Times reading paused for a full inbox, and writing for a full transport buffer; a
        # callback for each pong's round trip (the metrics' histogram), None when nobody asks.
        self.inbox_full_events = 0
        self.write_paused_events = 0
        self.on_rtt: Callable[[float], None] | None = None
        self._rate = None if settings.rate_limit is None else RateLimiter(settings.rate_limit)
        # Messages over the rate limit, waiting for their turn; without a rate limit, one empty
        # deque shared by every connection (maxlen 0: nothing can be put in it).
        self._held: deque[str | bytes] = _NOTHING_HELD if self._rate is None else deque()
        self._rate_timer: asyncio.TimerHandle | None = None

    # asyncio's callbacks

    # A stream protocol is always given a stream transport (asyncio types it as the base class).
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.transport = transport
        transport.set_write_buffer_limits(self.settings.write_high_water, self.settings.write_low_water)
        core = self.core
        core.transport = transport
        core.connection = self.connection
        core.vectored = writes_vectors(transport)

    def _handshake_get_buffer(self, sizehint: int) -> memoryview:
        return self._handshake_buffer()

    def _start_frames(self) -> None:
        """The opening handshake is over: from now on the loop reads straight into the parser.

        ``get_buffer`` becomes the connection's own (the parser's method) and ``buffer_updated``
        the core's, with no Python call in between, and the transport is told again who its
        protocol is, because uvloop and the TLS layers look both up once, when the protocol is set."""
        self._opened_at = time.monotonic()
        self.get_buffer = self.connection.get_buffer
        self.core.start()
        self.buffer_updated = self.core.buffer_updated
        if self.transport is not None and not self._lost:
            self.transport.set_protocol(self)

    def _handshake_buffer(self) -> memoryview:
        raise NotImplementedError

    def _handshake_received(self, nbytes: int) -> None:
        raise NotImplementedError

    def eof_received(self) -> bool:
        # Returning False lets the transport close: after EOF there is nothing left to read, and
        # RFC 6455 has no half-closed state.
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.core.lost = True
        self._closed_at = time.monotonic()
        self._release_held()
        self.connection.receive_eof()
        for handle in (
            self._keepalive,
            self._pong_deadline,
            self._close_deadline,
            self._write_deadline,
            self._violation_deadline,
        ):
            if handle is not None:
                handle.cancel()
        self._wake_receiver()
        closed = self.connection.closed_error()
        for waiter in self._drainers:
            if not waiter.done():
                waiter.set_exception(closed)
        self._drainers.clear()
        for waiter in self._pings.values():
            if not waiter.done():
                waiter.set_exception(closed)
        self._pings.clear()
        self._ping_times.clear()
        if not self._closed.done():
            self._closed.set_result(None)

    def pause_writing(self) -> None:
        self.core.writing_paused = True
        self.write_paused_events += 1
        self._block_reading("writes")
        if self.settings.write_timeout is not None and self._write_deadline is None:
            self._write_deadline = self.loop.call_later(self.settings.write_timeout, self._write_timed_out)

    def resume_writing(self) -> None:
        self.core.writing_paused = False
        if self._write_deadline is not None:
            self._write_deadline.cancel()
            self._write_deadline = None
        self._unblock_reading("writes")
        for waiter in self._drainers:
            if not waiter.done():
                waiter.set_result(None)
        self._drainers.clear()

    # What the session's owner reads

    @property
    def _lost(self) -> bool:
        """TCP is closed (the core's flag: the per-message path reads it too)."""
        return self.core.lost

    @property
    def writing_paused(self) -> bool:
        """The transport's buffer is over its high-water mark: senders should drain."""
        return self.core.writing_paused

    @property
    def state(self) -> State:
        return self.connection.state

    @property
    def subprotocol(self) -> str | None:
        return self.connection.subprotocol  # type: ignore[attr-defined,no-any-return]  # both roles' connections have it

    @property
    def close_code(self) -> int | None:
        return self.connection.close_code

    @property
    def close_reason(self) -> str:
        return self.connection.close_reason

    @property
    def closed(self) -> bool:
        """TCP is closed."""
        return self._lost

    def stats(self) -> ConnectionStats:
        """What this connection has done so far (see ``bolt.transport.stats``)."""
        connection = self.connection
        counts = list(connection.message_counts())
        for index, broadcast in enumerate(self._broadcasts):
            counts[4 + index] += broadcast
        opened = self._opened_at
        end = self._closed_at if self._closed_at is not None else time.monotonic()
        initiator = connection.close_initiator
        if initiator is not None:
            local = "client" if connection.client else "server"
            initiator = local if initiator == "local" else ("server" if local == "client" else "client")
        return ConnectionStats(  # type: ignore[misc]  # counts: the first 8 fields, the message counts
            *counts,  # type: ignore[arg-type]
            pings_received=connection.pings_received,
            pings_sent=self.pings_sent,
            pongs_received=self.pongs_received,
            last_rtt=self.last_rtt,
            duration=0.0 if opened is None else end - opened,
            close_code=connection.close_code if self._lost or connection.state is not OPEN else None,
            closed_by=initiator,
        )

    # Receiving

    def _attend(self, events: list[ParsedEvent], nbytes: int) -> None:
        """A read that brought more than messages: control frames, a violation, or the close."""
        core = self.core
        inbox = core.inbox
        if self._rate is not None:
            events = self._rate_gate(events)
        # Any: the branches test type(event) through ``kind`` (one call per event), which mypy
        # does not follow; each branch has the type it tests.
        event: Any
        for event in events:
            kind = type(event)
            if kind is str or kind is bytes:
                inbox.append(event)
                core.inbox_bytes += len(event)
            elif kind is Pong:
                self._pong_received(event.data)
            elif kind is Close:
                self._release_held()  # the peer is done: what it sent is no longer rated
                self._start_close_timer()
        if core.receiver is not None:
            self._wake_receiver()
        connection = self.connection
        if connection.state is State.OPEN and (
            len(inbox) >= core.inbox_limit or core.inbox_bytes > core.inbox_byte_limit or connection.more_buffered
        ):
            # Only while open: once closing, reading goes on until the peer's close frame. Frames
            # left unparsed (a read that inflated past the codec's budget) count as a full inbox:
            # they are parsed, and then the socket read, once the handler has caught up.
            self._block_reading("inbox")
        if connection.violation is not None:
            self._hold_violation()
        self._flush_replies()
        if nbytes >= TURN_AFTER and not self._lost and not self._closing:
            # A large read that carried control frames (a ping flood, most likely): let the
            # other connections have the loop before reading more. uvloop would otherwise read
            # this socket up to 32 times in a row while each read fills the buffer.
            self._block_reading("turn")
            self.loop.call_soon(self._unblock_reading, "turn")

    def _rate_gate(self, events: list[ParsedEvent]) -> list[ParsedEvent]:
        """The rate limit (Settings.rate_limit): the events the buckets let through now. Past
        the first message they cannot pay for, messages wait in ``_held`` (control frames still
        go through) while reading is paused, and are let through as the buckets refill; or, with
        policy "close", are dropped and the connection closed with 1008."""
        held = self._held
        rate: RateLimiter = self._rate  # type: ignore[assignment]  # called only with a rate limit
        rate.refill()
        passed: list[ParsedEvent] = []
        event: Any  # tested through ``kind``, as in _attend()
        for event in events:
            kind = type(event)
            if kind is not str and kind is not bytes:
                passed.append(event)
            elif not held and rate.admit(len(event)):
                passed.append(event)
            else:
                held.append(event)
        if held:
            if rate.policy == "close":
                held.clear()
                self.loop.call_soon(self.start_closing, CloseCode.POLICY_VIOLATION, "message rate limit exceeded")
            elif self._rate_timer is None:
                self._block_reading("rate")
                self._rate_timer = self.loop.call_later(rate.wait(len(held[0])), self._release_rated)
        return passed

    def _release_rated(self) -> None:
        """Let through the held messages the buckets can now pay for; read again once none wait."""
        self._rate_timer = None
        held = self._held
        if self._lost or not held:
            return
        rate: RateLimiter = self._rate  # type: ignore[assignment]  # set: messages were held
        rate.refill()
        core = self.core
        while held and rate.admit(len(held[0])):
            message = held.popleft()
            core.inbox.append(message)
            core.inbox_bytes += len(message)
        if core.receiver is not None and core.inbox:
            self._wake_receiver()
        if held:
            self._rate_timer = self.loop.call_later(rate.wait(len(held[0])), self._release_rated)
        else:
            self._unblock_reading("rate")

    def _release_held(self) -> None:
        """Hand the handler every held message at once: the peer closed, nothing more will come."""
        held, core = self._held, self.core
        while held:
            message = held.popleft()
            core.inbox.append(message)
            core.inbox_bytes += len(message)
        if self._rate_timer is not None:
            self._rate_timer.cancel()
            self._rate_timer = None

    def _hold_violation(self) -> None:
        """The peer broke the protocol after sending valid messages: stop reading, and fail the
        connection once the handler has taken those messages (it may answer them first), or
        after a short grace if it is not receiving. With none waiting, fail it now."""
        self._block_reading("violation")
        if not self.inbox and self.core.receiver is not None:
            self._act_on_violation()
        elif self._violation_deadline is None:
            self._violation_deadline = self.loop.call_later(self.settings.violation_grace, self._act_on_violation)

    def _act_on_violation(self) -> None:
        """RFC 6455 §7.1.7: send the close frame the violation maps to, and close."""
        if self._violation_deadline is not None:
            self._violation_deadline.cancel()
            self._violation_deadline = None
        if self.connection.violation is None or self._lost:
            return
        self.connection.fail_held()
        self._flush_replies()
        self._wake_receiver()

    def _flush_replies(self) -> None:
        """Write the pongs and close frames the connection generated; close TCP when it says so."""
        connection = self.connection
        replies = connection.data_to_send()
        if replies:
            self.write_frames(replies)
        if connection.should_close_transport and not self._lost and not self._closing:
            self._closing = True
            if connection.failure is not None and self.transport.can_write_eof():
                # The peer broke the protocol and may still be sending. Closing now would make the
                # kernel answer its unread bytes with a reset, which can destroy the close frame in
                # flight; instead send the close frame and a FIN, and read (and drop) until the peer
                # closes too, for at most the close timeout.
                self.transport.write_eof()
                self._read_everything()
                self._start_close_timer()
            else:
                self.transport.close()

    def _wake_receiver(self) -> None:
        # The rare wake-ups (control frames, a violation, TCP lost) are scheduled, as a Future's
        # set_result() schedules them: the handler never runs in the middle of this bookkeeping.
        core = self.core
        receiver, core.receiver = core.receiver, None
        if receiver is not None and not receiver.done():
            receiver.set_result(None)

    def _check_receivable(self) -> None:
        """receive() found the inbox empty and the connection not simply open: raise if no more
        messages can come (TCP is gone, the peer closed, or it broke the protocol), or if the
        handshake is not done. After our own close frame, messages may still be owed until the
        peer's close frame arrives."""
        connection = self.connection
        if (
            self._lost
            or connection.close_received is not None
            or connection.failure is not None
            or connection.violation is not None
        ):
            # The handler has taken everything that came before a violation: act on it now,
            # after whatever it sent in answer.
            self._act_on_violation()
            raise WebSocketDisconnect(connection.close_code or CloseCode.ABNORMAL_CLOSURE, connection.close_reason)
        if connection.state is CONNECTING:
            raise InvalidState("accept() the connection before receiving")

    # ``async for message in websocket`` iterates over the core: each step is its receive().

    def __aiter__(self) -> Core:
        return self.core

    def _caught_up(self) -> None:
        """The handler has read half the inbox: parse the frames a budgeted read left in the
        buffer, if any, and read the socket again once none are left and the inbox has room."""
        connection = self.connection
        if connection.more_buffered and connection.state is State.OPEN:
            self._attend(connection.parse_buffered(), 0)
            if "inbox" in self._read_blockers and (
                connection.more_buffered
                or len(self.inbox) > self.core.inbox_limit // 2
                or self.core.inbox_bytes > self.core.inbox_byte_limit // 2
            ):
                return
        self._unblock_reading("inbox")

    @property
    def reading_paused(self) -> bool:
        return bool(self._read_blockers)

    def _block_reading(self, reason: str) -> None:
        if not self._read_blockers and not self._lost:
            self.transport.pause_reading()
        if reason == "inbox" and reason not in self._read_blockers:
            self.inbox_full_events += 1
        self._read_blockers.add(reason)

    def _unblock_reading(self, reason: str) -> None:
        if reason in self._read_blockers:
            self._read_blockers.discard(reason)
            if not self._read_blockers and not self._lost:
                self.transport.resume_reading()

    def _read_everything(self) -> None:
        """Read again whatever paused reading: the closing handshake waits for the peer's frames."""
        if self._read_blockers:
            self._read_blockers.clear()
            if not self._lost:
                self.transport.resume_reading()

    def _write_timed_out(self) -> None:
        """The peer has not read what we sent for the whole write timeout: drop it, so a client
        that never reads cannot hold a handler and its buffered data forever."""
        self._write_deadline = None
        if not self._lost:
            logger.info("dropping a connection whose peer stopped reading (write timeout)")
            self.transport.abort()

    # Sending

    def write_frames(self, data: bytes) -> None:
        """The one way frames leave this connection: messages, pings, pongs and close frames."""
        if not self._lost:
            self.transport.write(data)

    def send_prepared(self, message: PreparedMessage, limit: int | None = None) -> int:
        """Write a message framed once for many connections (a broadcast): 1 once written; 0,
        writing nothing, unless the connection is open; -1, writing nothing, when the transport
        already holds more than ``limit`` bytes (a member too slow for it). One call per member,
        for the loop that writes a broadcast to thousands."""
        if self.connection.state is not OPEN or self._lost:
            return 0
        transport = self.transport
        if limit is not None and transport.get_write_buffer_size() > limit:
            return -1
        transport.write(message.frame)
        counts = self._broadcasts
        kind = 0 if message.is_text else 2
        counts[kind] += 1
        counts[kind + 1] += message.size
        return 1

    @property
    def write_buffer_size(self) -> int:
        """Bytes written but not yet taken by the socket."""
        return 0 if self._lost else self.transport.get_write_buffer_size()

    def _send_error(self) -> InvalidState:
        if self.connection.state is State.CONNECTING:
            return InvalidState("accept() the connection before sending")
        return self.connection.closed_error()

    async def drain(self) -> None:
        """Wait until the transport's buffer is under its low-water mark again."""
        if self._lost:
            raise self.connection.closed_error()
        waiter = self.loop.create_future()
        self._drainers.append(waiter)
        await waiter

    async def ping(self, data: bytes | None = None) -> float:
        """Send a ping and wait for its pong; return the round trip in seconds."""
        if data is None:
            data = os.urandom(4)
        if data in self._pings:
            raise ValueError("a ping with this payload is already waiting for its pong")
        try:
            frame = self.connection.send_ping(data)
        except ConnectionClosed:
            raise self._send_error() from None
        waiter = self.loop.create_future()
        self.write_frames(frame)
        self._sent_ping(data, waiter)
        sent = time.monotonic()
        await waiter
        return time.monotonic() - sent

    def _sent_ping(self, data: bytes, waiter: asyncio.Future[None]) -> None:
        self._pings[data] = waiter
        self._ping_times[data] = time.monotonic()
        self.pings_sent += 1

    def _pong_received(self, data: bytes) -> None:
        # A pong answers the ping with the same payload and, as RFC 6455 §5.5.3 allows a peer to
        # skip some, every ping sent before it too.
        if data not in self._pings:
            return
        self.pongs_received += 1
        self.last_rtt = time.monotonic() - self._ping_times[data]
        if self.on_rtt is not None:
            self.on_rtt(self.last_rtt)
        for payload in list(self._pings):
            waiter = self._pings.pop(payload)
            del self._ping_times[payload]
            if not waiter.done():
                waiter.set_result(None)
            if payload == data:
                break

    # Keepalive

    def _start_keepalive(self) -> None:
        if self.settings.ping_interval is not None:
            self._keepalive = self.loop.call_later(self.settings.ping_interval, self._send_keepalive)

    def _send_keepalive(self) -> None:
        self._keepalive = None
        if self.connection.state is not State.OPEN or self._lost:
            return
        # Once a keepalive interval, a connection gone quiet gives back read buffer it grew for a
        # burst or a large message (a no-op while anything is buffered).
        self.connection.trim()
        payload = os.urandom(4)
        waiter = self.loop.create_future()
        self._sent_ping(payload, waiter)
        waiter.add_done_callback(self._keepalive_answered)
        self.write_frames(self.connection.send_ping(payload))
        if self.settings.ping_timeout is not None:
            self._pong_deadline = self.loop.call_later(self.settings.ping_timeout, self._keepalive_timed_out)

    def _keepalive_answered(self, waiter: asyncio.Future[None]) -> None:
        if waiter.cancelled() or waiter.exception() is not None:
            return
        if self._pong_deadline is not None:
            self._pong_deadline.cancel()
            self._pong_deadline = None
        # The read that brought the pong allocated the read buffer; an idle connection gives it
        # back until its next message (a no-op while anything is buffered).
        self.connection.trim()
        self._start_keepalive()

    def _keepalive_timed_out(self) -> None:
        """The peer did not answer a ping in time: it is gone or stuck, so drop it (1011 if it can hear).

        Only a peer we are listening to is judged: while reading is paused (a slow handler, a
        backed-up write buffer), its pong may be waiting, unread, behind the messages in front of
        it, so the deadline starts again instead.
        """
        self._pong_deadline = None
        if self._lost:
            return
        if self._read_blockers:
            # Scheduled only when ping_timeout is set.
            self._pong_deadline = self.loop.call_later(self.settings.ping_timeout, self._keepalive_timed_out)  # type: ignore[arg-type]
            return
        logger.info("closing a connection whose peer did not answer a keepalive ping")
        if self.connection.state is State.OPEN:
            self.write_frames(self.connection.send_close(CloseCode.INTERNAL_ERROR, "keepalive ping timeout"))
        self.transport.abort()

    # Closing

    async def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Start the closing handshake (if no one has) and wait until TCP is closed.

        The wait is bounded by the close timeout, after which TCP is dropped (RFC 6455 §7.1.1 lets
        the client close TCP if the server does not).
        """
        self.start_closing(code, reason)
        await self.wait_closed()

    def start_closing(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Send a close frame, unless one was sent, and read until the peer's close frame.

        A held violation goes out instead of ``code``: the peer broke the protocol. Whatever paused
        reading (a full inbox, backed-up writes), the peer's frames are read again from here on,
        data dropped (§7.1.2: we wait for its close frame), so the handshake completes promptly.
        """
        connection = self.connection
        if self._lost:
            return
        if connection.violation is not None:
            self._act_on_violation()
            return
        if connection.state is not State.OPEN:
            return
        self.write_frames(connection.send_close(code, reason))
        self._start_close_timer()
        self._read_everything()

    def _start_close_timer(self) -> None:
        if self._close_deadline is None and not self._lost:
            self._close_deadline = self.loop.call_later(self.settings.close_timeout, self._close_timed_out)

    def _close_timed_out(self) -> None:
        self._close_deadline = None
        if not self._lost:
            self.transport.abort()

    def abort(self) -> None:
        """Drop TCP at once, without a closing handshake."""
        if not self._lost and self.transport is not None:
            self.transport.abort()

    async def wait_closed(self) -> None:
        """Wait until the TCP connection is closed."""
        await asyncio.shield(self._closed)
