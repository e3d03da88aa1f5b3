"""The server side of a connection from the first byte of the request (sans-I/O).

    connection = ServerConnection()                     # State.CONNECTING
    request = connection.receive_request(data)          # None until the head is complete
    ...route on request.path; answer connection.reject(404) if nothing matches...
    connection.check_upgrade()                          # HandshakeError -> connection.reject_error(error)
    send(connection.accept(subprotocol))                # State.OPEN
    events = connection.receive_data(connection.take_trailing())

Routing comes before the upgrade checks so that an unknown path is a 404 and a plain HTTP request to
a WebSocket route a 426, as a user would expect.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from bolt.exceptions import HandshakeError, InvalidState
from bolt.protocol.connection import Connection, State
from bolt.protocol.deflate import DeflateConfig
from bolt.protocol.handshake import (
    Request,
    RequestParser,
    ServerExtension,
    accept_response,
    error_response,
    http_response,
    negotiate_extensions,
    offered_subprotocols,
    validate_upgrade,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from bolt.protocol.connection import ConnectionOptions


class ServerConnection(Connection):
    """A server's connection: the opening handshake (CONNECTING), then ``Connection``'s life.

    ``extensions`` are those the server is willing to use (``PerMessageDeflate`` among them); one
    object serves every connection. ``accept()`` negotiates them, and ``self.extensions`` then
    holds what each agreed extension returned for this connection (a ``DeflateConfig``).
    """

    def __init__(
        self,
        *,
        extensions: Iterable[ServerExtension] = (),
        max_header_bytes: int = 16384,
        max_headers: int = 128,
        **options: Unpack[ConnectionOptions],
    ) -> None:
        super().__init__(client=False, **options)
        self.state = State.CONNECTING
        self.request: Request | None = None
        self.subprotocol: str | None = None
        self.extensions: list[object] = []
        self._request_parser: RequestParser | None = RequestParser(max_header_bytes, max_headers)
        self._extensions = list(extensions)
        self._key: str | None = None
        self._trailing = b""

    def receive_request(self, data: bytes | bytearray | memoryview) -> Request | None:
        """Feed the request's bytes; return the ``Request`` once its head is complete.

        Raises ``HandshakeError`` (400, 431) for a request that cannot be parsed: answer it with
        ``reject_error()``.
        """
        if self.state is not State.CONNECTING:
            raise InvalidState(f"receive_request() is for the handshake; the connection is {self.state.name}")
        if self.request is not None:
            # A client may pipeline frames behind its request: keep them for after the 101.
            self._trailing += bytes(data)
            return None
        # The parser is dropped only once the request is complete (below).
        self.request = self._request_parser.feed(data)  # type: ignore[union-attr]
        if self.request is not None:
            self._trailing = self._request_parser.trailing  # type: ignore[union-attr]  # as above
            self._request_parser = None  # its llhttp state is not needed for the connection's life
        return self.request

    def use_request(self, request: Request, trailing: bytes = b"") -> None:
        """Take a request head another parser read (a kept-alive HTTP/1.1 connection whose next
        request is an opening handshake), with the bytes that followed it."""
        if self.state is not State.CONNECTING or self.request is not None:
            raise InvalidState("use_request() is for a connection that has no request yet")
        self.request = request
        self._trailing = trailing
        self._request_parser = None

    def check_upgrade(self) -> None:
        """RFC 6455 §4.2.1: is the request a valid upgrade? ``HandshakeError`` says why not."""
        if self.request is None:
            raise InvalidState("check_upgrade() needs the complete request")
        if self._key is None:
            self._key = validate_upgrade(self.request)

    @property
    def offered_subprotocols(self) -> list[str]:
        return offered_subprotocols(self.request) if self.request is not None else []

    def accept(self, subprotocol: str | None = None, headers: Iterable[tuple[str, str]] = ()) -> bytes:
        """The 101 response; the connection is OPEN from here on.

        ``subprotocol`` must be one the client offered (RFC 6455 §4.2.2 /subprotocol/). The
        extensions are negotiated here; a permessage-deflate agreed on compresses from the first
        message on.
        """
        self.check_upgrade()
        if self.state is not State.CONNECTING:
            raise InvalidState(f"accept() after the handshake; the connection is {self.state.name}")
        if subprotocol is not None and subprotocol not in self.offered_subprotocols:
            raise ValueError(f"subprotocol {subprotocol!r} was not offered by the client")
        # check_upgrade() above raised unless the request (and so its key) has come.
        agreed = negotiate_extensions(self.request, self._extensions)  # type: ignore[arg-type]
        elements = [element for element, _ in agreed]
        response = accept_response(self._key, subprotocol, elements, headers)  # type: ignore[arg-type]  # as above
        self.extensions = [extension for _, extension in agreed]
        for extension in self.extensions:
            if isinstance(extension, DeflateConfig):
                self.use_deflate(extension)
        self.subprotocol = subprotocol
        self.state = State.OPEN
        return response

    @property
    def early_bytes(self) -> int:
        """How many bytes arrived behind the request so far (kept until the 101)."""
        return len(self._trailing)

    def take_trailing(self) -> bytes:
        """The bytes that arrived behind the request (the client's first frames), once."""
        trailing, self._trailing = self._trailing, b""
        return trailing

    def reject(self, status: int, body: bytes | str = b"", headers: Iterable[tuple[str, str]] = ()) -> bytes:
        """Refuse the upgrade with a plain HTTP answer; the connection is then CLOSED."""
        if self.state is not State.CONNECTING:
            raise InvalidState(f"reject() after the handshake; the connection is {self.state.name}")
        self.state = State.CLOSED
        head_only = self.request is not None and self.request.method == "HEAD"
        return http_response(status, body, headers, head_only=head_only)

    def reject_error(self, error: HandshakeError) -> bytes:
        """Refuse the upgrade with the answer a ``HandshakeError`` carries."""
        if self.state is not State.CONNECTING:
            raise InvalidState(f"reject_error() after the handshake; the connection is {self.state.name}")
        self.state = State.CLOSED
        return error_response(error)
