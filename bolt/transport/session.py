"""The session interface: everything the application's ``WebSocket`` object may ask of a connection.

``WebSocketStream`` (with ``ServerSession`` and ``ClientSession``) implements it on bolt's own
asyncio transport; another transport (an ASGI adapter) can implement it too, and the ``WebSocket``
object cannot tell which it runs on. These are typing ``Protocol`` classes: nothing inherits them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Protocol

from bolt.exceptions import HandshakeError
from bolt.protocol.connection import State
from bolt.protocol.handshake import Request
from bolt.protocol.prepared import PreparedMessage
from bolt.transport.stats import ConnectionStats


class Session(Protocol):
    """Receiving, sending and closing one connection."""

    @property
    def state(self) -> State: ...

    @property
    def subprotocol(self) -> str | None: ...

    @property
    def close_code(self) -> int | None: ...

    @property
    def close_reason(self) -> str: ...

    @property
    def closed(self) -> bool: ...

    async def receive(self, call: str = "receive()") -> str | bytes:
        """The next message; ``WebSocketDisconnect`` once over, ``ConcurrencyError`` for a second
        concurrent caller (``call`` names the API call, for that message)."""
        ...

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        """The messages, for ``async for``: each step is ``receive()``, and the iteration ends by
        raising ``WebSocketDisconnect``."""
        ...

    async def send(self, data: str | bytes | bytearray | memoryview, compress: bool = True) -> None:
        """Send ``str`` as text and bytes-like as binary (what ``WebSocket.send*`` await):
        written at once, then waiting while the transport's buffer is over its high-water mark."""
        ...

    def send_text(self, data: str, compress: bool = True) -> bool:
        """Write a text message now; True when the caller should ``await drain()``.
        ``compress=False``: uncompressed even where permessage-deflate was agreed."""
        ...

    def send_bytes(self, data: bytes | bytearray | memoryview, compress: bool = True) -> bool: ...

    async def drain(self) -> None: ...

    def send_prepared(self, message: PreparedMessage, limit: int | None = None) -> int:
        """Write a message framed once for many connections (a broadcast), now: 1 once written;
        0, writing nothing, unless the connection is open; -1, writing nothing, when more than
        ``limit`` bytes already wait to be sent (a slow member)."""
        ...

    @property
    def write_buffer_size(self) -> int:
        """Bytes written but not yet taken by the socket (what makes a broadcast member slow)."""
        ...

    def start_closing(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame now, without waiting for the peer's answer."""
        ...

    async def ping(self, data: bytes | None = None) -> float: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...

    async def wait_closed(self) -> None: ...

    def stats(self) -> ConnectionStats:
        """Messages and bytes each way, pings, the last round trip, duration, how it ended."""
        ...


class HandshakingSession(Session, Protocol):
    """A server's session, which also answers the opening handshake."""

    client: tuple[str, int] | None
    secure: bool
    default_subprotocol: str | None
    # Set by the application: the authenticated user's id, and the template of the route the
    # request matched (for the access log and the metrics).
    user_id: object
    route: str

    @property
    def request(self) -> Request | None: ...

    @property
    def offered_subprotocols(self) -> list[str]: ...

    def check_upgrade(self) -> None: ...

    def accept(self, subprotocol: str | None = None, headers: Iterable[tuple[str, str]] = ()) -> None: ...

    def respond(self, status: int, body: bytes | str = b"", headers: Iterable[tuple[str, str]] = ()) -> None: ...

    def respond_error(self, error: HandshakeError) -> None: ...
