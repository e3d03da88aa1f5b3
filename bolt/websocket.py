"""The object a handler holds: ``accept``, ``receive``/``send``/``iter`` for text, bytes and JSON,
``close``, ``state``, and what the handshake said (path and query parameters, headers, cookies);
a server's connection also joins and leaves broadcast groups (``join``, ``leave``, ``groups``).

``BaseWebSocket`` is the message API both roles share (the client's ``bolt.connect`` returns one);
``WebSocket`` adds the server's side of the handshake.

Receiving ends with ``WebSocketDisconnect(code, reason)`` once the peer closed or the connection
dropped. A message of the wrong type for ``receive_text``/``receive_bytes`` closes with 1003, and
JSON that does not parse with 1007 (RFC 6455 §7.4.1), each raising ``WebSocketDisconnect`` too.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

from bolt.close_codes import CloseCode
from bolt.exceptions import InvalidState, WebSocketDisconnect
from bolt.protocol.connection import State
from bolt.protocol.http import Headers
from bolt.transport.session import HandshakingSession, Session
from bolt.transport.stats import ConnectionStats

if TYPE_CHECKING:
    from bolt.groups.hub import Hub


class WebSocketState(Enum):
    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2


_STATES = {
    State.CONNECTING: WebSocketState.CONNECTING,
    State.OPEN: WebSocketState.CONNECTED,
    State.CLOSING: WebSocketState.DISCONNECTED,
    State.CLOSED: WebSocketState.DISCONNECTED,
}


class Address(NamedTuple):
    host: str
    port: int


def _compact_json(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


class _Messages:
    """``async for`` over a receive method: ``__anext__`` hands back the method's coroutine itself,
    with no async generator frame in between. It ends by raising ``WebSocketDisconnect``."""

    __slots__ = ("_receive",)

    def __init__(self, receive: Callable[[], Awaitable[Any]]) -> None:
        self._receive = receive

    def __aiter__(self) -> _Messages:
        return self

    def __anext__(self) -> Awaitable[Any]:
        return self._receive()


class BaseWebSocket:
    """Receiving, sending and closing, the same for a server's handler and a client.

    It talks to its session only (``bolt.transport.session.Session``): never to the protocol
    object or the asyncio transport underneath.
    """

    __slots__ = ("_session", "_loads", "_dumps")

    def __init__(
        self,
        session: Session,
        *,
        json_loads: Callable[[str | bytes], Any] = json.loads,
        json_dumps: Callable[[Any], str | bytes] = _compact_json,
    ) -> None:
        self._session = session
        self._loads = json_loads
        self._dumps = json_dumps

    @property
    def state(self) -> WebSocketState:
        return _STATES[self._session.state]

    @property
    def subprotocol(self) -> str | None:
        return self._session.subprotocol

    @property
    def close_code(self) -> int | None:
        """Once closed: the peer's close code, or the one bolt closed with (1006 if TCP dropped)."""
        return self._session.close_code

    @property
    def close_reason(self) -> str:
        return self._session.close_reason

    @property
    def stats(self) -> ConnectionStats:
        """This connection's figures so far: messages and bytes each way by type, pings and the
        last round trip, how long it has been open, and once closed its code and who closed."""
        return self._session.stats()

    async def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Close with ``code`` and ``reason`` and wait for the peer's answer (up to the close
        timeout). Closing a connection that is already closing does nothing."""
        if self._session.state is State.OPEN:
            await self._session.close(code, reason)

    # Receiving

    def receive(self) -> Coroutine[Any, Any, str | bytes]:
        """The next message: ``str`` for text, ``bytes`` for binary. ``WebSocketDisconnect`` when
        the connection is over; ``ConcurrencyError`` if another task is already receiving."""
        return self._session.receive("receive()")

    async def receive_text(self) -> str:
        message = await self._session.receive("receive_text()")
        if type(message) is not str:
            await self._refuse(CloseCode.UNSUPPORTED_DATA, "expected a text message, received binary")
        return message

    async def receive_bytes(self) -> bytes:
        message = await self._session.receive("receive_bytes()")
        if type(message) is not bytes:
            await self._refuse(CloseCode.UNSUPPORTED_DATA, "expected a binary message, received text")
        return message

    async def receive_json(self) -> Any:
        """The next message (text or binary) parsed as JSON."""
        message = await self._session.receive("receive_json()")
        try:
            return self._loads(message)
        except ValueError:
            await self._refuse(CloseCode.INVALID_FRAME_PAYLOAD_DATA, "invalid JSON")

    async def _refuse(self, code: int, reason: str) -> NoReturn:
        await self.close(code, reason)
        raise WebSocketDisconnect(code, reason)

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        # The session iterates over its messages itself (receive() is its __anext__).
        return self._session.__aiter__()

    def iter_text(self) -> AsyncIterator[str]:
        return _Messages(self.receive_text)

    def iter_bytes(self) -> AsyncIterator[bytes]:
        return _Messages(self.receive_bytes)

    def iter_json(self) -> AsyncIterator[Any]:
        return _Messages(self.receive_json)

    # Sending: each call hands back the session's own coroutine (bolt's is compiled), which
    # writes the message and waits only while the transport's buffer is over its high-water mark.

    def send_text(self, data: str, *, compress: bool = True) -> Coroutine[Any, Any, None]:
        """Send a text message. ``compress=False`` sends it uncompressed even where
        permessage-deflate was agreed (data already compressed, or too random to gain)."""
        if not isinstance(data, str):
            raise TypeError(f"send_text() takes a str, not {type(data).__name__}: send_bytes() sends binary")
        return self._session.send(data, compress)

    def send_bytes(self, data: bytes | bytearray | memoryview, *, compress: bool = True) -> Coroutine[Any, Any, None]:
        """Send a binary message (any bytes-like object); ``compress`` as for ``send_text``."""
        if isinstance(data, str):
            raise TypeError("send_bytes() takes a bytes-like object, not str: send_text() sends text")
        return self._session.send(data, compress)

    def send(self, data: str | bytes | bytearray | memoryview, *, compress: bool = True) -> Coroutine[Any, Any, None]:
        """Send ``str`` as text and bytes-like as binary."""
        return self._session.send(data, compress)

    async def send_json(self, data: Any, mode: str = "text", *, compress: bool = True) -> None:
        encoded = self._dumps(data)
        if mode == "binary":
            await self.send_bytes(encoded.encode("utf-8") if isinstance(encoded, str) else encoded, compress=compress)
        elif mode == "text":
            await self.send_text(encoded if isinstance(encoded, str) else encoded.decode("utf-8"), compress=compress)
        else:
            raise ValueError(f"mode is 'text' or 'binary', not {mode!r}")

    async def ping(self, data: bytes | None = None) -> float:
        """Ping the peer and return the round-trip time in seconds."""
        return await self._session.ping(data)


class WebSocket(BaseWebSocket):
    """A server's connection, as its handler sees it."""

    _session: HandshakingSession

    __slots__ = ("path_params", "query_params", "cookies", "context", "_hub", "_groups")

    def __init__(
        self,
        session: HandshakingSession,
        *,
        path_params: Mapping[str, Any] | None = None,
        query_params: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
        json_loads: Callable[[str | bytes], Any] = json.loads,
        json_dumps: Callable[[Any], str | bytes] = _compact_json,
        hub: Hub | None = None,
    ) -> None:
        super().__init__(session, json_loads=json_loads, json_dumps=json_dumps)
        self._hub = hub
        # The groups this connection is in, made at its first join (most connections join none).
        self._groups: set[str] | None = None
        self.path_params = dict(path_params or {})
        self.query_params = dict(query_params or {})
        self.cookies = dict(cookies or {})
        # Filled by authentication: user_id, claims, permissions...
        self.context: dict[str, Any] = {}

    # What the handshake said

    @property
    def headers(self) -> Headers:
        # A WebSocket is made once the request has come, so request is never None here.
        return self._session.request.headers  # type: ignore[union-attr]

    @property
    def client(self) -> Address | None:
        client = self._session.client
        return None if client is None else Address(*client)

    @property
    def subprotocols(self) -> list[str]:
        """What the client offered, in its order of preference."""
        return self._session.offered_subprotocols

    @property
    def url(self) -> str:
        request = self._session.request
        scheme = "wss" if self._session.secure else "ws"
        # A WebSocket is made once the request has come, so request is never None here.
        return f"{scheme}://{request.headers.get('Host', '')}{request.target}"  # type: ignore[union-attr]

    # The handshake

    async def accept(self, subprotocol: str | None = None, headers: Iterable[tuple[str, str]] | None = None) -> None:
        """Complete the handshake with a 101; ``subprotocol`` must be one the client offered."""
        if self._session.closed:
            raise WebSocketDisconnect(CloseCode.ABNORMAL_CLOSURE, "the client left before the handshake completed")
        if self._session.state is not State.CONNECTING:
            raise InvalidState(f"accept() on a connection that is {self.state.name}, not CONNECTING")
        self._session.accept(subprotocol, headers or ())

    async def reject(self, status: int = 403, body: bytes | str = b"", headers: Iterable[tuple[str, str]] = ()) -> None:
        """Refuse the upgrade with a plain HTTP answer (before ``accept()``)."""
        if self._session.state is not State.CONNECTING:
            raise InvalidState("reject() is only possible before accept()")
        self._session.respond(status, body, headers)

    async def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Close with ``code`` and ``reason``, and wait for the peer's answer (up to the close timeout).

        Before ``accept()`` this completes the handshake and closes at once, so the client really
        sees the code and reason (browsers cannot read the status of a refused upgrade). Closing a
        connection that is already closing does nothing.
        """
        session = self._session
        if session.state is State.CONNECTING:
            session.accept()
        await super().close(code, reason)

    # Groups (see bolt.groups)

    async def join(self, group: str) -> None:
        """Join ``group``: from when this returns, every message broadcast to it, from any worker
        or machine sharing the API's broker, is sent to this connection, until it leaves the group
        or ends (a connection leaves all its groups when its handler returns)."""
        hub = self._group_hub()
        if self._groups is None:
            self._groups = set()
        await hub.join(self, self._session, self._groups, group)

    async def leave(self, group: str) -> None:
        """Leave ``group`` (leaving a group it is not in does nothing)."""
        hub = self._group_hub()
        if self._groups is not None:  # never joined: in no group
            hub.leave(self, self._groups, group)

    @property
    def groups(self) -> frozenset[str]:
        """The groups this connection is in."""
        return frozenset(self._groups or ())

    def _group_hub(self) -> Hub:
        if self._hub is None:
            raise InvalidState("this WebSocket belongs to no BoltAPI, so it has no groups")
        return self._hub

    def _leave_groups(self) -> None:
        if self._groups:
            self._hub.leave_all(self, self._groups)  # type: ignore[union-attr]  # in groups: it has a hub

    def __repr__(self) -> str:
        request = self._session.request
        return f"<WebSocket {request.path if request else '?'} {self.state.name}>"
