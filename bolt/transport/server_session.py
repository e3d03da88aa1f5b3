"""The server's side of one TCP connection: the opening handshake, then a ``WebSocketStream``.

The request is read into a small buffer and parsed as it arrives; a request that is not complete
within the handshake timeout is cut. Once it is complete, reading pauses and the application runs
in its own task with this object as its session: it routes on ``request``, then calls ``accept()``
(the 101), or ``respond()`` (a plain HTTP answer: 404, 426, 401...). Bytes the client sent behind
its request are parsed right after the 101.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

from bolt.close_codes import CloseCode
from bolt.exceptions import HandshakeError, InvalidState
from bolt.protocol.connection import State
from bolt.protocol.handshake import Request
from bolt.protocol.server import ServerConnection
from bolt.transport.stream import WebSocketStream, logger

if TYPE_CHECKING:
    from bolt.transport.server import Server

App = Callable[["ServerSession"], Awaitable[None]]
HANDSHAKE_READ_SIZE = 4096


class ServerSession(WebSocketStream):
    """One server connection, handed to the application as its session."""

    def __init__(self, server: Server) -> None:
        super().__init__(server.settings)
        self.server = server
        self.connection = ServerConnection(max_header_bytes=self.settings.max_header_bytes, **self.settings.codec_options())
        self._request_buffer = bytearray(HANDSHAKE_READ_SIZE)
        self._handshake_deadline: asyncio.TimerHandle | None = None
        self.task: asyncio.Task | None = None
        self.client: tuple[str, int] | None = None
        # What accept() selects when the handler names no subprotocol (set by authentication when
        # the client carries its token behind a marker subprotocol, which browsers need echoed).
        self.default_subprotocol: str | None = None

    @property
    def request(self) -> Request | None:
        return self.connection.request

    @property
    def state(self) -> State:
        return self.connection.state

    # asyncio's callbacks during the handshake

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.client = (str(peer[0]), int(peer[1]))
        if not self.server._admit(self):
            transport.write(self.connection.reject(503, "Too many connections", [("Retry-After", "1")]))
            transport.close()
            return
        self._handshake_deadline = self.loop.call_later(self.settings.handshake_timeout, self._handshake_timed_out)

    def _handshake_buffer(self) -> memoryview:
        return memoryview(self._request_buffer)

    def _handshake_received(self, nbytes: int) -> None:
        connection = self.connection
        if connection.state is not State.CONNECTING:
            return  # refused: the answer is on its way and TCP is closing; the rest is dropped
        if connection.request is not None:
            # Frames pipelined behind the request wait for the 101 (reading is paused, but a read
            # may already have been under way).
            connection.receive_request(self._request_buffer[:nbytes])
            return
        try:
            request = connection.receive_request(self._request_buffer[:nbytes])
        except HandshakeError as error:
            self._cancel_handshake_deadline()
            self.transport.write(connection.reject_error(error))
            self.transport.close()
            return
        if request is not None:
            self._cancel_handshake_deadline()
            self._block_reading("handshake")
            self.task = self.loop.create_task(self._run_app())

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_handshake_deadline()
        super().connection_lost(exc)
        self.server._forget(self)

    def _handshake_timed_out(self) -> None:
        self._handshake_deadline = None
        if self.connection.state is State.CONNECTING and self.connection.request is None and not self._lost:
            self.transport.write(self.connection.reject(408, "Handshake timed out"))
            self.transport.close()

    def _cancel_handshake_deadline(self) -> None:
        if self._handshake_deadline is not None:
            self._handshake_deadline.cancel()
            self._handshake_deadline = None

    # The application

    async def _run_app(self) -> None:
        try:
            await self.server.app(self)
        except Exception:
            logger.exception("unhandled error in the application for %s", self.connection.request)
            if self.connection.state is State.CONNECTING:
                self.respond(500, "Internal Server Error")
            elif self.connection.state is State.OPEN:
                await self.close(CloseCode.INTERNAL_ERROR)
        finally:
            if self.connection.state is State.CONNECTING and not self._lost:
                self.respond(500, "The handler neither accepted nor refused the connection")

    def check_upgrade(self) -> None:
        """RFC 6455 §4.2.1: is the request a valid upgrade? ``HandshakeError`` says why not."""
        self.connection.check_upgrade()

    def accept(self, subprotocol: str | None = None, headers: Iterable[tuple[str, str]] = ()) -> None:
        """Send the 101; the connection is OPEN and frames flow."""
        if self._lost:
            raise InvalidState("the client went away before the handshake completed")
        if subprotocol is None:
            subprotocol = self.default_subprotocol
        self.transport.write(self.connection.accept(subprotocol, headers))
        self.handshaking = False
        self._request_buffer = bytearray()  # frames are read into the parser's buffer from here on
        trailing = self.connection.take_trailing()
        if trailing:
            events = self.connection.receive_data(trailing)
            if events:
                self._dispatch(events)
            self._flush_replies()
        self._unblock_reading("handshake")
        self._start_keepalive()

    def respond(self, status: int, body: bytes | str = b"", headers: Iterable[tuple[str, str]] = ()) -> None:
        """Answer the request with plain HTTP instead of upgrading, and close."""
        if self._lost:
            return
        self.transport.write(self.connection.reject(status, body, headers))
        self.transport.close()

    def respond_error(self, error: HandshakeError) -> None:
        if self._lost:
            return
        self.transport.write(self.connection.reject_error(error))
        self.transport.close()
