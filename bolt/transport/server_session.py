"""The server's side of one TCP connection: the opening handshake, then a ``WebSocketStream``.

The request is read into a small buffer and parsed as it arrives; a request that is not complete
within the handshake timeout gets 408. Once it is complete the application runs in its own task with
this object as its session: it routes on ``request``, then calls ``accept()`` (the 101) or
``respond()`` (a plain HTTP answer: 404, 426, 401...), within the accept timeout (else 503).
Reading goes on meanwhile, so a client that leaves is noticed (and the application's task
cancelled); bytes the client sent behind its request are kept, up to a bound, and parsed right after
the 101.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol

from bolt.close_codes import CloseCode
from bolt.exceptions import HandshakeError, WebSocketDisconnect
from bolt.protocol.connection import State
from bolt.protocol.handshake import Request, ServerExtension
from bolt.protocol.server import ServerConnection
from bolt.transport.access import AccessLog
from bolt.transport.proxies import TrustedProxies
from bolt.transport.settings import Settings
from bolt.transport.stream import WebSocketStream, logger

App = Callable[["ServerSession"], Awaitable[None]]
HANDSHAKE_READ_SIZE = 4096
# Bytes a client may send behind its request before the answer (its first frames): past this,
# reading pauses until the application has answered.
MAX_EARLY_BYTES = 64 * 1024


class SessionHost(Protocol):
    """What a session needs from the server that owns it (``bolt.transport.server.Server``)."""

    settings: Settings
    app: App
    # The extensions a connection may negotiate (permessage-deflate), one object for them all.
    @property
    def extensions(self) -> Sequence[ServerExtension]: ...

    # None when the access log is off; None when no proxy is trusted.
    access_log: AccessLog | None
    proxies: TrustedProxies | None

    def admit(self, session: ServerSession) -> bool: ...

    def answered(self, session: ServerSession, status: int) -> None:
        """Every HTTP answer, the 101 included, as it leaves."""
        ...

    def release(self, session: ServerSession) -> None: ...


class ServerSession(WebSocketStream):
    """One server connection, handed to the application as its session."""

    connection: ServerConnection

    def __init__(self, host: SessionHost) -> None:
        super().__init__(host.settings)
        self.host = host
        self.connection = ServerConnection(
            extensions=host.extensions,
            max_header_bytes=self.settings.max_header_bytes,
            hold_violations=True,
            **self.settings.codec_options(),
        )
        self._request_buffer = bytearray(HANDSHAKE_READ_SIZE)
        self._handshake_deadline: asyncio.TimerHandle | None = None
        self.task: asyncio.Task[None] | None = None
        self.client: tuple[str, int] | None = None
        self.secure = False
        # What accept() selects when the handler names no subprotocol (set by authentication when
        # the client carries its token behind a marker subprotocol, which browsers need echoed).
        self.default_subprotocol: str | None = None
        # Set by the application: the authenticated user's id, and the template of the route the
        # request matched (for the access log and the metrics).
        self.user_id: object = None
        self.route = ""

    @property
    def request(self) -> Request | None:
        return self.connection.request

    @property
    def offered_subprotocols(self) -> list[str]:
        return self.connection.offered_subprotocols

    # asyncio's callbacks during the handshake

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as the base's
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.client = (str(peer[0]), int(peer[1]))
        self.secure = transport.get_extra_info("sslcontext") is not None
        if not self.host.admit(self):
            self.respond(503, "Too many connections", [("Retry-After", "1")])
            return
        self._handshake_deadline = self.loop.call_later(self.settings.handshake_timeout, self._handshake_timed_out)

    def _handshake_buffer(self) -> memoryview:
        return memoryview(self._request_buffer)

    def _handshake_received(self, nbytes: int) -> None:
        connection = self.connection
        if connection.state is not State.CONNECTING:
            return  # refused: the answer is on its way and TCP is closing; the rest is dropped
        if connection.request is not None:
            # Frames pipelined behind the request wait for the 101.
            connection.receive_request(self._request_buffer[:nbytes])
            if connection.early_bytes > MAX_EARLY_BYTES:
                self._block_reading("handshake")
            return
        try:
            request = connection.receive_request(self._request_buffer[:nbytes])
        except HandshakeError as error:
            self._cancel_timer("_handshake_deadline")
            self.respond_error(error)
            return
        if request is not None:
            proxies = self.host.proxies
            if proxies is not None and self.client is not None:
                peer = self.client
                self.client = proxies.client(peer, request.headers.get_all("X-Forwarded-For"))
                self.secure = proxies.secure(peer, request.headers.get_all("X-Forwarded-Proto"), self.secure)
            # The deadline now judges the application: it must accept or refuse in time.
            self._cancel_timer("_handshake_deadline")
            if self.settings.accept_timeout is not None:
                self._handshake_deadline = self.loop.call_later(self.settings.accept_timeout, self._accept_timed_out)
            self.task = self.loop.create_task(self._run_app())

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer("_handshake_deadline")
        connecting = self.connection.state is State.CONNECTING
        super().connection_lost(exc)
        self.host.release(self)
        access_log = self.host.access_log
        if access_log is not None and self._opened_at is not None:
            # Frames started (_opened_at), so the request had come.
            access_log.closed(self.client, self.connection.request.path, self.user_id, self.stats())  # type: ignore[union-attr]
        if connecting and self.task is not None and not self.task.done():
            # The client left before it was answered: there is no one left to serve.
            self.task.cancel()

    def _handshake_timed_out(self) -> None:
        self._handshake_deadline = None
        if self.connection.state is State.CONNECTING and self.connection.request is None:
            self.respond(408, "Handshake timed out")

    def _accept_timed_out(self) -> None:
        self._handshake_deadline = None
        if self.connection.state is State.CONNECTING and not self._lost:
            logger.warning("the application neither accepted nor refused %s in time", self.connection.request)
            self.respond(503, "The server did not answer in time")
            if self.task is not None:
                self.task.cancel()

    def _cancel_timer(self, name: str) -> None:
        handle = getattr(self, name)
        if handle is not None:
            handle.cancel()
            setattr(self, name, None)

    # The application

    async def _run_app(self) -> None:
        try:
            await self.host.app(self)
        except Exception:
            logger.exception("unhandled error in the application for %s", self.connection.request)
            if self.connection.state is State.CONNECTING:
                self.respond(500, "Internal Server Error")
            elif self.connection.state is State.OPEN:
                await self.close(CloseCode.INTERNAL_ERROR)
        finally:
            if self.connection.state is State.CONNECTING:
                self.respond(500, "The handler neither accepted nor refused the connection")

    def check_upgrade(self) -> None:
        """RFC 6455 §4.2.1: is the request a valid upgrade? ``HandshakeError`` says why not."""
        self.connection.check_upgrade()

    def accept(self, subprotocol: str | None = None, headers: Iterable[tuple[str, str]] = ()) -> None:
        """Send the 101; the connection is OPEN and frames flow."""
        if self._lost:
            raise WebSocketDisconnect(CloseCode.ABNORMAL_CLOSURE, "the client left before the handshake completed")
        if subprotocol is None:
            subprotocol = self.default_subprotocol
        self._write_http(self.connection.accept(subprotocol, headers), 101, close=False)
        self._start_frames()
        self._request_buffer = bytearray()  # frames are read into the parser's buffer from here on
        trailing = self.connection.take_trailing()
        if trailing:
            events = self.connection.receive_data(trailing)
            if events or self.connection.needs_attention:
                self._attend(events, 0)
        self._unblock_reading("handshake")
        self._start_keepalive()

    def respond(self, status: int, body: bytes | str = b"", headers: Iterable[tuple[str, str]] = ()) -> None:
        """Answer the request with plain HTTP instead of upgrading, and close."""
        if self.connection.state is State.CONNECTING:
            self._write_http(self.connection.reject(status, body, headers), status, close=True)

    def respond_error(self, error: HandshakeError) -> None:
        """Answer with what a ``HandshakeError`` carries (its status, headers and reason)."""
        if self.connection.state is State.CONNECTING:
            self._write_http(self.connection.reject_error(error), error.status, close=True)

    def _write_http(self, data: bytes, status: int, *, close: bool) -> None:
        """The one way an HTTP answer leaves: the 101, or a refusal followed by closing TCP."""
        if self._lost:
            return
        self._cancel_timer("_handshake_deadline")
        self.host.answered(self, status)
        self.transport.write(data)
        if close:
            self.transport.close()
