"""The client's side of one TCP connection: send the request, verify the 101, then a ``WebSocketStream``."""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from collections.abc import Iterable

from bolt.exceptions import HandshakeError
from bolt.protocol.client import ClientConnection
from bolt.protocol.connection import State
from bolt.protocol.http import Response
from bolt.transport.endpoints import create_connection
from bolt.transport.settings import Settings
from bolt.transport.stream import WebSocketStream

HANDSHAKE_READ_SIZE = 4096


class ClientSession(WebSocketStream):
    """One client connection. ``handshake`` resolves when the server's 101 is verified, or fails
    with ``HandshakeRejected`` (the server answered with another status) or ``HandshakeError``."""

    connection: ClientConnection

    def __init__(self, connection: ClientConnection, settings: Settings) -> None:
        super().__init__(settings)
        self.connection = connection
        self.handshake: asyncio.Future[Response] = self.loop.create_future()
        self._response_buffer = bytearray(HANDSHAKE_READ_SIZE)
        self.local_address: tuple[str, int] | None = None

    @property
    def response(self) -> Response | None:
        """The server's 101 (its headers), once the handshake is done."""
        return self.connection.response

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as the base's
        super().connection_made(transport)
        local = transport.get_extra_info("sockname")
        self.local_address = (local[0], local[1]) if isinstance(local, tuple) else None
        transport.write(self.connection.request_bytes())

    def _handshake_buffer(self) -> memoryview:
        return memoryview(self._response_buffer)

    def _handshake_received(self, nbytes: int) -> None:
        if self.connection.state is not State.CONNECTING:
            return  # the handshake failed and TCP is closing
        try:
            response = self.connection.receive_response(self._response_buffer[:nbytes])
        except HandshakeError as error:
            self._handshake_failed(error)
            return
        if response is not None:
            self._start_frames()
            self._response_buffer = bytearray()  # frames are read into the parser's buffer from here on
            events = self.connection.receive_data(self.connection.take_trailing())
            if events or self.connection.needs_attention:
                self._attend(events, 0)
            self._start_keepalive()
            self.handshake.set_result(response)

    def eof_received(self) -> bool:
        if self.connection.state is State.CONNECTING:
            try:
                self.connection.receive_response_eof()
            except HandshakeError as error:
                self._handshake_failed(error)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if not self.handshake.done():
            self.handshake.set_exception(exc or ConnectionError("the server closed the connection during the handshake"))

    def _handshake_failed(self, error: HandshakeError) -> None:
        if not self.handshake.done():
            self.handshake.set_exception(error)
        self.transport.close()


async def open_session(
    url: str,
    *,
    subprotocols: Iterable[str] = (),
    headers: Iterable[tuple[str, str]] = (),
    settings: Settings | None = None,
    ssl: ssl_module.SSLContext | bool | None = None,
    open_timeout: float | None = 10.0,
) -> ClientSession:
    """Connect to ``url`` and complete the opening handshake; return the open session."""
    settings = settings or Settings()
    connection = ClientConnection(
        url,
        subprotocols=subprotocols,
        headers=headers,
        deflate=settings.deflate(client=True),
        max_header_bytes=settings.max_header_bytes,
        hold_violations=True,
        **settings.codec_options(),
    )
    request = connection.handshake
    if request.secure and ssl is None:
        ssl = True
    async def connect() -> ClientSession:
        _, session = await create_connection(
            settings.transport, lambda: ClientSession(connection, settings), request.host, request.port, ssl=ssl or None
        )
        try:
            await session.handshake
        except BaseException:
            session.transport.abort()
            raise
        return session

    return await asyncio.wait_for(connect(), open_timeout)
