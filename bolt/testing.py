"""Test clients that go through the real stack: the real server on a loopback port, the real
handshake and the real codec.

    with TestClient(api) as client:
        with client.websocket_connect("/ws/echo") as ws:
            ws.send_text("Hello")
            assert ws.receive_text() == "Echo: Hello"

``TestClient`` runs the server on an event loop in a background thread and offers a synchronous
API; ``AsyncTestClient`` runs it on the test's own loop. A refused handshake raises
``HandshakeRejected`` (``.status``, ``.body``); a server close makes ``receive_*()`` raise
``WebSocketDisconnect`` with its code and reason.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from bolt.client import ClientWebSocket, connect
from bolt.protocol.http import Headers, ResponseParser
from bolt.transport.server import Server
from bolt.transport.settings import Settings

Header = Mapping[str, str] | Iterable[tuple[str, str]]


class TestResponse:
    """The answer to ``TestClient.get()``."""

    __test__ = False  # not a pytest test class

    def __init__(self, status: int, headers: Headers, body: bytes) -> None:
        self.status = status
        self.status_code = status
        self.headers = headers
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)


async def http_get(host: str, port: int, path: str, headers: Header = ()) -> TestResponse:
    """A plain HTTP/1.1 GET over a fresh connection, read to the end of the response."""
    fields = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    reader, writer = await asyncio.open_connection(host, port)
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in fields]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    parser = ResponseParser()
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                response = parser.feed_eof()
                break
            response = parser.feed(data)
            if response is not None:
                break
    finally:
        writer.close()
    return TestResponse(response.status, response.headers, response.body)


class AsyncTestClient:
    """The server on the running loop, for async tests."""

    __test__ = False

    def __init__(self, api: Any, settings: Settings | None = None) -> None:
        self.api = api
        self.server = Server(api, settings or getattr(api, "settings", None))
        self.host = "127.0.0.1"
        self.port = 0

    async def __aenter__(self) -> AsyncTestClient:
        (self.host, self.port, *_), *_ = await self.server.start(self.host, 0)
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.server.shutdown(timeout=2.0)

    def url(self, path: str) -> str:
        return f"ws://{self.host}:{self.port}{path}"

    def websocket_connect(self, path: str, headers: Header = (), subprotocols: Iterable[str] = (), **options: Any) -> connect:
        """``async with client.websocket_connect("/ws") as ws:`` (or ``ws = await ...``)."""
        return connect(self.url(path), headers=headers, subprotocols=subprotocols, **options)

    async def get(self, path: str, headers: Header = ()) -> TestResponse:
        return await http_get(self.host, self.port, path, headers)


class TestClient:
    """The server on a loop in a background thread, with a synchronous API for ordinary tests."""

    __test__ = False

    def __init__(self, api: Any, settings: Settings | None = None, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._async = None
        self._api = api
        self._settings = settings
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> TestClient:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="bolt-test-server", daemon=True)
        self._thread.start()

        async def start() -> AsyncTestClient:
            return await AsyncTestClient(self._api, self._settings).__aenter__()

        self._async = self._call(start())
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            self._call(self._async.__aexit__(None, None, None))
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(self.timeout)
            self._loop.close()

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(self.timeout)

    @property
    def port(self) -> int:
        return self._async.port

    def websocket_connect(self, path: str, headers: Header = (), subprotocols: Iterable[str] = (), **options: Any) -> WebSocketTestSession:
        """Open a WebSocket to ``path``; ``HandshakeRejected`` if the server refuses the upgrade."""
        websocket = self._call(self._async.websocket_connect(path, headers, subprotocols, **options)._open())
        return WebSocketTestSession(self, websocket)

    def get(self, path: str, headers: Header = ()) -> TestResponse:
        return self._call(self._async.get(path, headers))


class WebSocketTestSession:
    """A synchronous view of a client connection; ``with`` closes it with 1000 on the way out."""

    __test__ = False

    def __init__(self, client: TestClient, websocket: ClientWebSocket) -> None:
        self._client = client
        self.websocket = websocket

    def __enter__(self) -> WebSocketTestSession:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def subprotocol(self) -> str | None:
        return self.websocket.subprotocol

    @property
    def close_code(self) -> int | None:
        return self.websocket.close_code

    def send_text(self, data: str) -> None:
        self._client._call(self.websocket.send_text(data))

    def send_bytes(self, data: bytes) -> None:
        self._client._call(self.websocket.send_bytes(data))

    def send_json(self, data: Any, mode: str = "text") -> None:
        self._client._call(self.websocket.send_json(data, mode))

    def receive(self) -> str | bytes:
        return self._client._call(self.websocket.receive())

    def receive_text(self) -> str:
        return self._client._call(self.websocket.receive_text())

    def receive_bytes(self) -> bytes:
        return self._client._call(self.websocket.receive_bytes())

    def receive_json(self) -> Any:
        return self._client._call(self.websocket.receive_json())

    def close(self, code: int = 1000, reason: str = "") -> None:
        self._client._call(self.websocket.close(code, reason))
