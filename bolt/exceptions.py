"""Every error bolt raises, in one place.

The tree says whose fault an error is::

    BoltError
    ├── ProtocolError            the peer broke RFC 6455; carries the close code to send
    │   ├── InvalidUTF8          1007: a text message or close reason is not UTF-8
    │   └── MessageTooBig        1009: a frame or message is over the configured limit
    ├── HandshakeError           the opening handshake failed; carries the HTTP status
    │   ├── ParameterError       (bolt.params) 400: a path, query, header or cookie value that does not fit
    │   ├── UnsupportedVersion   426 with ``Sec-WebSocket-Version: 13``
    │   ├── HeadersTooLarge      431
    │   └── HandshakeRejected    client role: the server answered with something other than 101
    ├── InvalidState             local misuse: an operation the connection's state forbids
    │   ├── ConnectionClosed     sending after the close handshake began
    │   └── ConcurrencyError     a second receive() while another is waiting on the same connection
    └── WebSocketDisconnect      the API's receive_*(): the peer closed or the connection dropped

``ConfigurationError`` (a ``RuntimeError``, not a ``BoltError``) refuses to start a server that
cannot be served as configured.

Bad arguments to a local call (a control payload over 125 bytes, a close code that may not be
sent) raise ``ValueError`` or ``TypeError``, as Python does everywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bolt.events import ParsedEvent


class BoltError(Exception):
    """Base class of every bolt error."""


class ProtocolError(BoltError):
    """The peer broke the protocol. ``close_code`` is what bolt sends back (RFC 6455 §7.4.1).

    ``events`` holds the events the parser completed in the same chunk before it found the
    violation, so a valid message that arrived ahead of the garbage is not lost.
    """

    close_code = 1002

    def __init__(self, reason: str, close_code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if close_code is not None:
            self.close_code = close_code
        self.events: list[ParsedEvent] = []

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason!r}, close_code={self.close_code})"


class InvalidUTF8(ProtocolError):
    """A text message or a close reason is not valid UTF-8 (RFC 6455 §8.1)."""

    close_code = 1007


class MessageTooBig(ProtocolError):
    """A frame or message is larger than the configured limit (RFC 6455 §7.4.1, 1009)."""

    close_code = 1009


class HandshakeError(BoltError):
    """The opening handshake failed. ``status``, ``headers`` and ``body`` make the HTTP answer."""

    status = 400

    def __init__(
        self,
        reason: str,
        status: int | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        if status is not None:
            self.status = status
        self.headers = list(headers or [])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason!r}, status={self.status})"


class UnsupportedVersion(HandshakeError):
    """The client asked for a WebSocket version other than 13 (RFC 6455 §4.4)."""

    status = 426

    def __init__(self, reason: str = "Unsupported WebSocket version") -> None:
        super().__init__(reason, headers=[("Sec-WebSocket-Version", "13")])


class HeadersTooLarge(HandshakeError):
    """The request's headers are over the configured limit (RFC 6585 §5)."""

    status = 431


class HandshakeRejected(HandshakeError):
    """Client role: the server refused the upgrade. ``status`` is what it answered."""

    def __init__(
        self,
        status: int,
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> None:
        super().__init__(f"Server rejected the WebSocket upgrade with HTTP {status}", status, headers)
        self.body = body


class InvalidState(BoltError):
    """An operation was called in a state that forbids it (local misuse, not the peer's fault)."""


class ConnectionClosed(InvalidState):
    """The connection is closing or closed; nothing more can be sent.

    ``code`` and ``reason`` are those of the close frame received, or 1006 when there was none.
    """

    def __init__(self, code: int = 1006, reason: str = "") -> None:
        super().__init__(f"Connection closed (code {code}{', ' + reason if reason else ''})")
        self.code = code
        self.reason = reason


class ConcurrencyError(InvalidState):
    """Two coroutines tried to receive from one connection at once: which of them a message
    belongs to is undefined, so the second call fails at once instead of leaving one waiting."""


class WebSocketDisconnect(BoltError):
    """Raised by ``receive_*()`` and ``iter_*()`` when the connection ends: the peer closed (its
    code and reason), bolt closed it for a protocol error (1002, 1003, 1007, 1009...), or TCP
    dropped (1006). A handler that lets it escape has ended normally."""

    def __init__(self, code: int = 1000, reason: str = "") -> None:
        super().__init__(f"WebSocket disconnected (code {code}{', ' + reason if reason else ''})")
        self.code = code
        self.reason = reason

    def __repr__(self) -> str:
        return f"WebSocketDisconnect(code={self.code}, reason={self.reason!r})"


class ConfigurationError(RuntimeError):
    """The application or server is configured in a way that cannot be served (safely): no JWT
    secret, a secret too short for its algorithm, a transport that is not installed. Raised before
    the server listens."""
