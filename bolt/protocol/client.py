"""The client side of a connection from its opening request (sans-I/O).

    connection = ClientConnection("ws://127.0.0.1:8000/ws/echo")   # State.CONNECTING
    send(connection.request_bytes())
    response = connection.receive_response(data)   # None until complete; HandshakeRejected on refusal
    events = connection.receive_data(connection.take_trailing())   # State.OPEN
"""

from __future__ import annotations

from collections.abc import Iterable

from bolt.exceptions import HandshakeError, InvalidState
from bolt.protocol.connection import Connection, State
from bolt.protocol.handshake import ClientRequest, Response, ResponseParser, verify_response


class ClientConnection(Connection):
    """A client's connection: the opening handshake (CONNECTING), then ``Connection``'s life.

    Arguments that cannot make a valid request (a URL that is not ``ws://`` or ``wss://``, a header
    name that is not a token, a value with CR or LF, a subprotocol that is not a token) raise
    ``ValueError`` here, so a client fails before it connects rather than inside the transport.
    """

    def __init__(
        self,
        url: str,
        *,
        subprotocols: Iterable[str] = (),
        headers: Iterable[tuple[str, str]] = (),
        extensions: Iterable[str] = (),
        max_header_bytes: int = 16384,
        max_headers: int = 128,
        **options,
    ) -> None:
        super().__init__(client=True, **options)
        self.state = State.CONNECTING
        self.handshake = ClientRequest(url, subprotocols, extensions, headers)
        self.response: Response | None = None
        self.subprotocol: str | None = None
        self.extensions: list[str] = []
        self._response_parser = ResponseParser(max_header_bytes, max_headers)
        self._trailing = b""

    def request_bytes(self) -> bytes:
        return self.handshake.request_bytes()

    def receive_response(self, data) -> Response | None:
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
            self.subprotocol, self.extensions = verify_response(self.handshake, response)
        except HandshakeError:
            self.state = State.CLOSED
            raise
        self._trailing = self._response_parser.trailing
        self.state = State.OPEN
        return response

    def take_trailing(self) -> bytes:
        """Frames the server sent right behind its 101, once."""
        trailing, self._trailing = self._trailing, b""
        return trailing
