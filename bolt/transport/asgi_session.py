"""The session of a WebSocket served by an ASGI server (uvicorn, hypercorn, granian): what the
application's ``WebSocket`` object asks of a connection, over the ASGI ``receive`` and ``send``
callables of one ``websocket`` scope (ASGI 3, the WebSocket spec 2.4).

The session interface is synchronous where bolt's own transport writes at once (``accept``,
``respond``, ``send_text``...), and ASGI's ``send`` is a coroutine; so what the application sends
goes into an outbox, in order, which one task hands to ``send``. A send returns True (the caller
awaits ``drain()``) while the outbox holds more than the write high-water mark: the ASGI server's
own flow control then slows the application down, as the transport's would. What the peer sends is
read by one task into an inbox bounded as bolt's own (``inbox_size``, ``inbox_bytes``): past it the
task stops calling ``receive``, and the server stops reading the socket.

The frames, pings and close handshake are the ASGI server's; what bolt cannot do here it says so:
``ping()`` raises, and compression is whatever the server negotiated.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

from bolt.close_codes import CloseCode
from bolt.exceptions import ConcurrencyError, ConnectionClosed, InvalidState, WebSocketDisconnect
from bolt.protocol.connection import State
from bolt.protocol.http import Headers, Request
from bolt.protocol.prepared import PreparedMessage
from bolt.transport.settings import Settings
from bolt.transport.stats import ConnectionStats


def utf8_size(text: str) -> int:
    """Bytes of ``text`` in UTF-8, counted without encoding an ASCII text (most messages) again."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def request_from_scope(scope: dict[str, Any]) -> Request:
    """The request head an ASGI ``http`` or ``websocket`` scope describes, as bolt's parser would
    have made it (the path relative to ``root_path``, where the app is mounted)."""
    headers = Headers((name.decode("latin-1"), value.decode("latin-1")) for name, value in scope.get("headers", ()))
    path = scope.get("path", "/")
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    query = scope.get("query_string", b"").decode("latin-1")
    raw = scope.get("raw_path")
    target = (raw.decode("latin-1") if raw else path) + (f"?{query}" if query else "")
    return Request(scope.get("method", "GET"), target, path, query, scope.get("http_version", "1.1"), headers)


class AsgiSession:
    """One ASGI ``websocket`` scope, as a ``HandshakingSession``."""

    def __init__(self, scope: dict[str, Any], receive: Any, send: Any, settings: Settings) -> None:
        self.scope = scope
        self._receive_event = receive
        self._send_event = send
        self.settings = settings
        self.loop = asyncio.get_running_loop()
        self.request: Request = request_from_scope(scope)
        client = scope.get("client")
        self.client: tuple[str, int] | None = (str(client[0]), int(client[1])) if client else None
        self.secure = scope.get("scheme") in ("wss", "https")
        self.default_subprotocol: str | None = None
        self.user_id: object = None
        self.route = ""
        self._state = State.CONNECTING
        self._subprotocol: str | None = None
        self._close_code: int | None = None
        self._close_reason = ""
        self._closed_by: str | None = None
        self.inbox: deque[str | bytes] = deque()
        self._inbox_bytes = 0
        self._receiver: asyncio.Future[None] | None = None
        self._room: asyncio.Event = asyncio.Event()
        self._room.set()
        self._outbox: deque[tuple[dict[str, Any], int]] = deque()  # (event, its size in the outbox)
        self._outbox_bytes = 0
        self._outbox_ready = asyncio.Event()
        self._drainers: list[asyncio.Future[None]] = []
        self._closed = self.loop.create_future()
        self._sender = asyncio.ensure_future(self._send_forever())
        self._reader: asyncio.Task[None] | None = None
        self._opened_at: float | None = None
        self._counts = [0] * 8  # as ConnectionStats: text, text bytes, binary, binary bytes, in then out

    @property
    def state(self) -> State:
        return self._state

    @property
    def subprotocol(self) -> str | None:
        return self._subprotocol

    @property
    def offered_subprotocols(self) -> list[str]:
        return list(self.scope.get("subprotocols", ()))

    @property
    def close_code(self) -> int | None:
        return self._close_code

    @property
    def close_reason(self) -> str:
        return self._close_reason

    @property
    def closed(self) -> bool:
        return self._closed.done()

    async def start(self) -> bool:
        """Wait for the server's ``websocket.connect``; False if the client left first."""
        event = await self._receive_event()
        if event["type"] == "websocket.connect":
            return True
        self._disconnected(event.get("code", CloseCode.ABNORMAL_CLOSURE), event.get("reason") or "")
        return False

    # The handshake

    def check_upgrade(self) -> None:
        """The ASGI server validated the upgrade before the application saw it."""

    def accept(self, subprotocol: str | None = None, headers: Iterable[tuple[str, str]] = ()) -> None:
        if self._state is not State.CONNECTING:
            raise InvalidState(f"accept() on a connection that is {self._state.name}")
        if subprotocol is None:
            subprotocol = self.default_subprotocol
        if subprotocol is not None and subprotocol not in self.offered_subprotocols:
            raise InvalidState(f"the client did not offer the subprotocol {subprotocol!r}")
        event: dict[str, Any] = {"type": "websocket.accept", "subprotocol": subprotocol}
        fields = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
        if fields:
            event["headers"] = fields
        self._subprotocol = subprotocol
        self._state = State.OPEN
        self._opened_at = time.monotonic()
        self._queue(event, 0)
        self._reader = asyncio.ensure_future(self._read_forever())

    def respond(self, status: int, body: bytes | str = b"", headers: Iterable[tuple[str, str]] = ()) -> None:
        """Refuse the upgrade: an HTTP answer where the server supports the ASGI extension
        ``websocket.http.response``, else a close before accepting, which the server answers
        with 403."""
        if self._state is not State.CONNECTING:
            return
        self._state = State.CLOSED
        if "websocket.http.response" in self.scope.get("extensions", {}):
            payload = body.encode("utf-8") if isinstance(body, str) else bytes(body)
            fields = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
            fields.append((b"content-type", b"text/plain; charset=utf-8"))
            self._queue({"type": "websocket.http.response.start", "status": status, "headers": fields}, 0)
            self._queue({"type": "websocket.http.response.body", "body": payload}, len(payload))
        else:
            self._queue({"type": "websocket.close", "code": CloseCode.NORMAL_CLOSURE}, 0)
        self._close_code = CloseCode.ABNORMAL_CLOSURE
        if not self._closed.done():
            self._closed.set_result(None)

    def respond_error(self, error: Any) -> None:
        self.respond(error.status, error.reason, getattr(error, "headers", ()))

    # Receiving

    async def _read_forever(self) -> None:
        settings = self.settings
        while True:
            await self._room.wait()
            event = await self._receive_event()
            kind = event["type"]
            if kind == "websocket.receive":
                text = event.get("text")
                message = text if text is not None else event.get("bytes") or b""
                counts = self._counts
                if text is not None:
                    counts[0] += 1
                    counts[1] += utf8_size(text)
                else:
                    counts[2] += 1
                    counts[3] += len(message)
                self.inbox.append(message)
                self._inbox_bytes += len(message)
                if len(self.inbox) >= settings.inbox_size or self._inbox_bytes > settings.inbox_bytes:
                    self._room.clear()  # the server stops reading the socket while we do not read
                self._wake()
            elif kind == "websocket.disconnect":
                self._disconnected(event.get("code", CloseCode.NORMAL_CLOSURE), event.get("reason") or "")
                return

    def _disconnected(self, code: int, reason: str) -> None:
        if self._close_code is None or self._state is not State.CLOSED:
            if self._closed_by is None and self._state is State.OPEN:
                self._closed_by = "client"
            self._close_code = code
            self._close_reason = reason
        self._state = State.CLOSED
        if not self._closed.done():
            self._closed.set_result(None)
        self._wake()
        for waiter in self._drainers:
            if not waiter.done():
                waiter.set_result(None)

    def _wake(self) -> None:
        receiver, self._receiver = self._receiver, None
        if receiver is not None and not receiver.done():
            receiver.set_result(None)

    async def receive(self, call: str = "receive()") -> str | bytes:
        inbox = self.inbox
        while not inbox:
            if self._state is State.CONNECTING:
                raise InvalidState("accept() the connection before receiving")
            if self._state is not State.OPEN:
                raise WebSocketDisconnect(self._close_code or CloseCode.ABNORMAL_CLOSURE, self._close_reason)
            if self._receiver is not None and not self._receiver.done():
                raise ConcurrencyError(f"{call} called while another receive is already waiting on this connection")
            self._receiver = self.loop.create_future()
            await self._receiver
        message = inbox.popleft()
        self._inbox_bytes -= len(message)
        if not self._room.is_set() and len(inbox) <= self.settings.inbox_size // 2:
            self._room.set()
        return message

    def __aiter__(self) -> AsgiSession:
        return self

    __anext__ = receive

    # Sending

    def _queue(self, event: dict[str, Any], size: int) -> None:
        self._outbox.append((event, size))
        self._outbox_bytes += size
        self._outbox_ready.set()

    async def _send_forever(self) -> None:
        outbox = self._outbox
        while True:
            if not outbox:
                self._outbox_ready.clear()
                self._released()
                await self._outbox_ready.wait()
                continue
            event, size = outbox[0]
            try:
                await self._send_event(event)
            except (OSError, RuntimeError) as error:
                # The server says the connection is gone (uvicorn raises ClientDisconnected, an
                # OSError; others a RuntimeError): nothing more can be sent.
                outbox.clear()
                self._outbox_bytes = 0
                self._disconnected(CloseCode.ABNORMAL_CLOSURE, str(error))
                continue
            outbox.popleft()
            self._outbox_bytes -= size

    def _released(self) -> None:
        for waiter in self._drainers:
            if not waiter.done():
                waiter.set_result(None)
        self._drainers.clear()

    def _check_sendable(self) -> None:
        if self._state is State.CONNECTING:
            raise InvalidState("accept() the connection before sending")
        if self._state is not State.OPEN:
            raise ConnectionClosed(self._close_code or CloseCode.ABNORMAL_CLOSURE, self._close_reason)

    def send_text(self, data: str, compress: bool = True) -> bool:
        self._check_sendable()
        if type(data) is not str:
            raise TypeError(f"send_text() takes a str, not {type(data).__name__}")
        size = utf8_size(data)  # also refuses a lone surrogate, as bolt's codec does
        self._counts[4] += 1
        self._counts[5] += size
        self._queue({"type": "websocket.send", "text": data}, len(data))
        return self._outbox_bytes > self.settings.write_high_water

    def send_bytes(self, data: Any, compress: bool = True) -> bool:
        self._check_sendable()
        if isinstance(data, str):
            raise TypeError("send_bytes() takes a bytes-like object, not str")
        payload = bytes(data)
        self._counts[6] += 1
        self._counts[7] += len(payload)
        self._queue({"type": "websocket.send", "bytes": payload}, len(payload))
        return self._outbox_bytes > self.settings.write_high_water

    async def send(self, data: str | bytes | bytearray | memoryview, compress: bool = True) -> None:
        if self.send_text(data, compress) if isinstance(data, str) else self.send_bytes(data, compress):
            await self.drain()

    def send_prepared(self, message: PreparedMessage, limit: int | None = None) -> int:
        """As ``WebSocketStream.send_prepared``: 1 written, 0 not open, -1 over ``limit``."""
        if self._state is not State.OPEN:
            return 0
        if limit is not None and self._outbox_bytes > limit:
            return -1
        data = message.data
        if type(data) is str:
            self.send_text(data)
        else:
            self.send_bytes(data)
        return 1

    @property
    def write_buffer_size(self) -> int:
        return self._outbox_bytes

    async def drain(self) -> None:
        if self._state is State.CLOSED:
            raise ConnectionClosed(self._close_code or CloseCode.ABNORMAL_CLOSURE, self._close_reason)
        if self._outbox_bytes <= self.settings.write_low_water:
            return
        waiter = self.loop.create_future()
        self._drainers.append(waiter)
        await waiter

    async def ping(self, data: bytes | None = None) -> float:
        raise InvalidState("ping() is not available under ASGI: the ASGI server sends the pings")

    # Closing

    def start_closing(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        if self._state is not State.OPEN:
            return
        self._state = State.CLOSING
        self._closed_by = "server"
        self._close_code = code
        self._close_reason = reason
        self._queue({"type": "websocket.close", "code": code, "reason": reason}, 0)

    async def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        self.start_closing(code, reason)
        await self.wait_closed()

    async def wait_closed(self) -> None:
        """Until the server reports the disconnect, at most the close timeout after our close."""
        try:
            await asyncio.wait_for(asyncio.shield(self._closed), self.settings.close_timeout)
        except asyncio.TimeoutError:
            self._disconnected(self._close_code or CloseCode.ABNORMAL_CLOSURE, self._close_reason)

    async def finish(self) -> None:
        """The application is done: hand the server what it still has to send, then stop."""
        if self._outbox:
            waiter = self.loop.create_future()
            self._drainers.append(waiter)
            self._outbox_ready.set()
            await asyncio.wait([waiter], timeout=self.settings.close_timeout)
        self._sender.cancel()
        if self._reader is not None:
            self._reader.cancel()
        await asyncio.gather(self._sender, *([self._reader] if self._reader else []), return_exceptions=True)

    def abort(self) -> None:
        """ASGI cannot drop the TCP connection: the nearest is a close the server sends now."""
        self.start_closing(CloseCode.GOING_AWAY)

    def stats(self) -> ConnectionStats:
        opened = self._opened_at
        return ConnectionStats(  # type: ignore[misc]  # _counts: the first 8 fields, the message counts
            *self._counts,  # type: ignore[arg-type]
            duration=0.0 if opened is None else time.monotonic() - opened,
            close_code=self._close_code if self._state is not State.OPEN else None,
            closed_by=self._closed_by,
        )
