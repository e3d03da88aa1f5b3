"""One WebSocket connection on asyncio, once it speaks WebSocket: shared by the server and the client.

``WebSocketStream`` is an ``asyncio.BufferedProtocol``: the event loop reads straight into the frame
parser's buffer (``get_buffer`` / ``buffer_updated``), each read is parsed in one call, and the
messages it completes wait in a bounded inbox. When the inbox is full, reading stops until the
handler catches up (backpressure, not a close). Sends go straight to ``transport.write`` and only
wait when the transport asked to pause (its write buffer is over the high-water mark).

Timers are ``loop.call_later`` handles, not tasks, so an idle connection costs no task: the
keepalive ping, the pong deadline, and the close timeout.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque

from bolt.close_codes import CloseCode
from bolt.events import Close, Pong
from bolt.protocol.connection import Connection, State
from bolt.transport.settings import Settings

logger = logging.getLogger("bolt")
TURN_AFTER = 64 * 1024


class WebSocketStream(asyncio.BufferedProtocol):
    """The asyncio side of one connection: reading, the inbox, flow control, keepalive, closing.

    Subclasses run the opening handshake while ``handshaking`` is true (``_handshake_buffer()`` and
    ``_handshake_received()``), then clear it. The application layer reads ``inbox`` (messages
    waiting) with ``take()`` and ``message_waiter()``, writes frames from ``connection`` to
    ``transport`` and awaits ``drain()`` while ``writing_paused``; and uses ``ping()``, ``close()``,
    ``wait_closed()``. The read and write paths are flat on purpose: at small messages each Python
    call and coroutine between the socket and the handler is a measurable part of the cost
    (bench/echo).
    """

    connection: Connection

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.handshaking = True
        self.inbox: deque = deque()
        self._inbox_limit = settings.inbox_size
        self._receiver: asyncio.Future | None = None
        # Why reading is paused: "handshake" (the application has not answered the request yet),
        # "inbox" (the handler is behind), "writes" (the peer is not reading what we send, so we do
        # not read what would make us send more), "turn" (a large read of control frames just
        # happened: other connections get the loop first).
        self._read_blockers: set[str] = set()
        self.writing_paused = False
        self._drainers: list[asyncio.Future] = []
        self._write_deadline: asyncio.TimerHandle | None = None
        self._closed = self.loop.create_future()
        self._pings: dict[bytes, asyncio.Future] = {}
        self._keepalive: asyncio.TimerHandle | None = None
        self._pong_deadline: asyncio.TimerHandle | None = None
        self._close_deadline: asyncio.TimerHandle | None = None
        self._lost = False
        self._closing = False

    # asyncio's callbacks

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.set_write_buffer_limits(self.settings.write_high_water, self.settings.write_low_water)

    def get_buffer(self, sizehint: int) -> memoryview:
        if self.handshaking:
            return self._handshake_buffer()
        return self.connection.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        if self.handshaking:
            self._handshake_received(nbytes)
            return
        connection = self.connection
        events = connection.buffer_updated(nbytes)
        if connection.needs_attention:
            self._dispatch(events)
            self._flush_replies()
            if nbytes >= TURN_AFTER and not self._lost:
                # A large read that carried control frames (a ping flood, most likely): let the
                # other connections have the loop before reading more. uvloop would otherwise read
                # this socket up to 32 times in a row while each read fills the buffer.
                self._block_reading("turn")
                self.loop.call_soon(self._unblock_reading, "turn")
        elif events:
            inbox = self.inbox
            inbox.extend(events)
            if self._receiver is not None:
                self._wake_receiver()
            if len(inbox) >= self._inbox_limit:
                self._block_reading("inbox")

    def _handshake_buffer(self) -> memoryview:
        raise NotImplementedError

    def _handshake_received(self, nbytes: int) -> None:
        raise NotImplementedError

    def eof_received(self) -> bool:
        # Returning False lets the transport close: after EOF there is nothing left to read, and
        # RFC 6455 has no half-closed state.
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self.connection.receive_eof()
        for handle in (self._keepalive, self._pong_deadline, self._close_deadline, self._write_deadline):
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
        if not self._closed.done():
            self._closed.set_result(None)

    def pause_writing(self) -> None:
        self.writing_paused = True
        self._block_reading("writes")
        if self.settings.write_timeout is not None and self._write_deadline is None:
            self._write_deadline = self.loop.call_later(self.settings.write_timeout, self._write_timed_out)

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self._write_deadline is not None:
            self._write_deadline.cancel()
            self._write_deadline = None
        self._unblock_reading("writes")
        for waiter in self._drainers:
            if not waiter.done():
                waiter.set_result(None)
        self._drainers.clear()

    # Receiving

    def _dispatch(self, events: list) -> None:
        inbox = self.inbox
        for event in events:
            kind = type(event)
            if kind is str or kind is bytes:
                inbox.append(event)
            elif kind is Pong:
                self._pong_received(event.data)
            elif kind is Close:
                self._start_close_timer()
        if self._receiver is not None:
            self._wake_receiver()
        if len(inbox) >= self._inbox_limit:
            self._block_reading("inbox")

    def _flush_replies(self) -> None:
        """Write the pongs and close frames the connection generated; close TCP when it says so."""
        connection = self.connection
        replies = connection.data_to_send()
        if replies and not self._lost:
            self.transport.write(replies)
        if connection.should_close_transport and not self._lost and not self._closing:
            self._closing = True
            if connection.failure is not None and self.transport.can_write_eof():
                # The peer broke the protocol and may still be sending. Closing now would make the
                # kernel answer its unread bytes with a reset, which can destroy the close frame in
                # flight; instead send the close frame and a FIN, and read (and drop) until the peer
                # closes too, for at most the close timeout.
                self.transport.write_eof()
                self._read_blockers.clear()
                self.transport.resume_reading()
                self._start_close_timer()
            else:
                self.transport.close()

    def _wake_receiver(self) -> None:
        receiver, self._receiver = self._receiver, None
        if receiver is not None and not receiver.done():
            receiver.set_result(None)

    @property
    def receiving_done(self) -> bool:
        """No more messages can arrive: the peer closed, broke the protocol, or TCP is gone."""
        connection = self.connection
        return self._lost or connection.close_received is not None or connection.failure is not None

    def message_waiter(self) -> asyncio.Future:
        """A future done when a message arrives or the connection ends (for an empty inbox)."""
        receiver = self._receiver = self.loop.create_future()
        return receiver

    def take(self) -> str | bytes:
        """The oldest waiting message (the inbox must not be empty)."""
        inbox = self.inbox
        message = inbox.popleft()
        # Reading resumes once the handler has caught up on half the inbox, not at the first
        # message taken, so a busy connection does not flap between paused and reading.
        if self._read_blockers and len(inbox) <= self._inbox_limit // 2:
            self._unblock_reading("inbox")
        return message

    @property
    def reading_paused(self) -> bool:
        return bool(self._read_blockers)

    def _block_reading(self, reason: str) -> None:
        if not self._read_blockers and not self._lost:
            self.transport.pause_reading()
        self._read_blockers.add(reason)

    def _unblock_reading(self, reason: str) -> None:
        if reason in self._read_blockers:
            self._read_blockers.discard(reason)
            if not self._read_blockers and not self._lost:
                self.transport.resume_reading()

    def _write_timed_out(self) -> None:
        """The peer has not read what we sent for the whole write timeout: drop it, so a client
        that never reads cannot hold a handler and its buffered data forever."""
        self._write_deadline = None
        if not self._lost:
            logger.info("dropping a connection whose peer stopped reading (write timeout)")
            self.transport.abort()

    # Sending

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
        waiter = self.loop.create_future()
        self.transport.write(self.connection.send_ping(data))
        self._pings[data] = waiter
        sent = self.loop.time()
        await waiter
        return self.loop.time() - sent

    def _pong_received(self, data: bytes) -> None:
        # A pong answers the ping with the same payload and, as RFC 6455 §5.5.3 allows a peer to
        # skip some, every ping sent before it too.
        if data not in self._pings:
            return
        for payload in list(self._pings):
            waiter = self._pings.pop(payload)
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
        self._pings[payload] = waiter
        waiter.add_done_callback(self._keepalive_answered)
        self.transport.write(self.connection.send_ping(payload))
        if self.settings.ping_timeout is not None:
            self._pong_deadline = self.loop.call_later(self.settings.ping_timeout, self._keepalive_timed_out)

    def _keepalive_answered(self, waiter: asyncio.Future) -> None:
        if waiter.cancelled() or waiter.exception() is not None:
            return
        if self._pong_deadline is not None:
            self._pong_deadline.cancel()
            self._pong_deadline = None
        self._start_keepalive()

    def _keepalive_timed_out(self) -> None:
        """The peer did not answer a ping in time: it is gone or stuck, so drop it (1011 if it can hear)."""
        self._pong_deadline = None
        if self._lost:
            return
        logger.info("closing a connection whose peer did not answer a keepalive ping")
        if self.connection.state is State.OPEN:
            self.transport.write(self.connection.send_close(CloseCode.INTERNAL_ERROR, "keepalive ping timeout"))
        self.transport.abort()

    # Closing

    async def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Start the closing handshake (if no one has) and wait until TCP is closed.

        The wait is bounded by the close timeout, after which TCP is dropped (RFC 6455 §7.1.1 lets
        the client close TCP if the server does not).
        """
        if self.connection.state is State.OPEN and not self._lost:
            self.transport.write(self.connection.send_close(code, reason))
            self._start_close_timer()
            self._flush_replies()
        await self.wait_closed()

    def _start_close_timer(self) -> None:
        if self._close_deadline is None and not self._lost:
            self._close_deadline = self.loop.call_later(self.settings.close_timeout, self._close_timed_out)

    def _close_timed_out(self) -> None:
        self._close_deadline = None
        if not self._lost:
            self.transport.abort()

    async def wait_closed(self) -> None:
        """Wait until the TCP connection is closed."""
        await asyncio.shield(self._closed)

    @property
    def closed(self) -> bool:
        return self._lost
