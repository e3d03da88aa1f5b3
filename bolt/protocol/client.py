"""The client side of a connection from its opening request (sans-I/O).

    connection = ClientConnection("ws://127.0.0.1:8000/ws/echo", deflate=PerMessageDeflate())   # CONNECTING
    send(connection.request_bytes())
    response = connection.receive_response(data)   # None until complete; HandshakeRejected on refusal
    events = connection.receive_data(connection.take_trailing())   # State.OPEN
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from bolt.exceptions import HandshakeError, InvalidState
from bolt.protocol.connection import Connection, State
from bolt.protocol.deflate import DeflateConfig, PerMessageDeflate
from bolt.protocol.handshake import (
    ClientRequest,
    ExtensionOffer,
    Response,
    ResponseParser,
    parse_extension_header,
    verify_response,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from bolt.protocol.connection import ConnectionOptions


class ClientConnection(Connection):
    """A client's connection: the opening handshake (CONNECTING), then ``Connection``'s life.

    Arguments that cannot make a valid request (a URL that is not ``ws://`` or ``wss://``, a header
    name that is not a token, a value with CR or LF, a subprotocol that is not a token) raise
    ``ValueError`` here, so a client fails before it connects rather than inside the transport.

    ``deflate`` offers permessage-deflate (RFC 7692) first in Sec-WebSocket-Extensions;
    ``extensions`` are further elements to offer, as strings (permessage-deflate is not one of them:
    only ``deflate`` can take the server's answer). Once the 101 is verified, ``self.extensions``
    holds what was agreed, in the server's order: a ``DeflateConfig`` for permessage-deflate, and
    ``(name, params)`` as the server answered for an extension offered as a string.
    """

    def __init__(
        self,
        url: str,
        *,
        subprotocols: Iterable[str] = (),
        headers: Iterable[tuple[str, str]] = (),
        extensions: Iterable[str] = (),
        deflate: PerMessageDeflate | None = None,
        max_header_bytes: int = 16384,
        max_headers: int = 128,
        **options: Unpack[ConnectionOptions],
    ) -> None:
        super().__init__(client=True, **options)
        self.state = State.CONNECTING
        extensions = list(extensions)
        try:
            offered = parse_extension_header(extensions)
        except HandshakeError:
            raise ValueError("extensions are Sec-WebSocket-Extensions elements (RFC 6455 §9.1)") from None
        if any(name == PerMessageDeflate.name for name, _ in offered):
            raise ValueError("permessage-deflate is offered with deflate=PerMessageDeflate(...), not in extensions")
        if deflate is not None:
            extensions.insert(0, deflate.offer())
        self.handshake = ClientRequest(url, subprotocols, extensions, headers)
        self.response: Response | None = None
        self.subprotocol: str | None = None
        self.extensions: list[object] = []
        self._deflate = deflate
        self._response_parser = ResponseParser(max_header_bytes, max_headers)
        self._trailing = b""

    def request_bytes(self) -> bytes:
        return self.handshake.request_bytes()

    def receive_response(self, data: bytes | bytearray | memoryview) -> Response | None:
        """Feed the server's answer; the ``Response`` once complete and verified (State.OPEN).

        ``HandshakeRejected`` carries the status of a refusal, ``HandshakeError`` any other failure
        of RFC 6455 §4.1's checks; either way the connection is CLOSED.
        """
        if self.state is not State.CONNECTING:
            raise InvalidState(f"receive_response() is for the handshake; the connection is {self.state.name}")
        response = self._response_parser.feed(data)
        return None if response is None else self._verify(response)

    def receive_response_eof(self) -> Response:
        """The server closed during the handshake: verify what it sent (a refusal, usually)."""
        if self.state is not State.CONNECTING:
            raise InvalidState(f"receive_response_eof() after the handshake; the connection is {self.state.name}")
        return self._verify(self._response_parser.feed_eof())

    def _verify(self, response: Response) -> Response:
        self.response = response
        try:
            self.subprotocol, accepted = verify_response(self.handshake, response)
            self.extensions = self._agree(accepted)
        except HandshakeError:
            self.state = State.CLOSED
            raise
        for extension in self.extensions:
            if isinstance(extension, DeflateConfig):
                self.use_deflate(extension)
        self._trailing = self._response_parser.trailing
        self.state = State.OPEN
        return response

    def _agree(self, accepted: list[ExtensionOffer]) -> list[object]:
        """What each extension the server accepted sets up; ``HandshakeError`` if one cannot be used.

        ``verify_response()`` has seen that each was offered by name; here permessage-deflate
        judges its parameters (RFC 7692 §7.1) and is agreed to at most once (§5.1: the server
        accepts one of the client's offers).
        """
        agreed: list[object] = []
        for name, params in accepted:
            if name != PerMessageDeflate.name:
                agreed.append((name, params))
            elif self._deflate is None:
                raise HandshakeError("The server accepted permessage-deflate, which the client did not offer")
            elif any(isinstance(extension, DeflateConfig) for extension in agreed):
                raise HandshakeError("The server accepted permessage-deflate more than once")
            else:
                agreed.append(self._deflate.accept_response(params))
        return agreed

    def take_trailing(self) -> bytes:
        """Frames the server sent right behind its 101, once."""
        trailing, self._trailing = self._trailing, b""
        return trailing
