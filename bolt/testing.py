"""Test clients that go through the real stack: the real server on a loopback port, the real
handshake and the real codec.

    with TestClient(api) as client:
        with client.websocket_connect("/ws/echo") as ws:
            ws.send_text("Hello")
            assert ws.receive_text() == "Echo: Hello"

``TestClient`` runs the server on an event loop in a background thread and offers a synchronous
API; ``AsyncTestClient`` runs it on the test's own loop. A refused handshake raises
``HandshakeRejected`` (``.status``, ``.body``); a server close makes ``receive_*()`` raise
``WebSocketDisconnect`` with its code and reason. An exception a handler raised is raised again in
the test when its ``websocket_connect`` block ends (``raise_server_exceptions=False`` turns it off),
as Starlette's test client does: a failing handler cannot pass a test by accident.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any, TypeVar

from bolt.client import ClientWebSocket, connect
from bolt.protocol.http import Headers, Response, ResponseParser
from bolt.transport.server import Server
from bolt.transport.server_session import App
from bolt.transport.settings import Settings

Header = Mapping[str, str] | Iterable[tuple[str, str]]
_T = TypeVar("_T")


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
            response = parser.feed(data)  # type: ignore[assignment]  # None only until the check below
            if response is not None:
                break
    finally:
        writer.close()
    return TestResponse(response.status, response.headers, response.body)


class AsyncTestClient:
    """The server on the running loop, for async tests."""

    __test__ = False

    def __init__(self, api: App, settings: Settings | None = None, *, raise_server_exceptions: bool = True) -> None:
        self.api = api
        self.server = Server(self, settings or getattr(api, "settings", None))
        self.host = "127.0.0.1"
        self.port = 0
        self.raise_server_exceptions = raise_server_exceptions
        # The application task serving each client address, and what its handler raised.
        # (A client whose address is unknown is looked up as None, and found nowhere.)
        self._tasks: dict[tuple[str, int] | None, asyncio.Task[Any]] = {}
        self._failures: dict[tuple[str, int] | None, Exception] = {}
        self._stop_listening: Callable[[], None] | None = None

    def prepare(self) -> None:
        prepare = getattr(self.api, "prepare", None)
        if prepare is not None:
            prepare()

    async def startup(self) -> None:
        startup = getattr(self.api, "startup", None)
        if startup is not None:
            await startup()

    async def shutdown(self) -> None:
        shutdown = getattr(self.api, "shutdown", None)
        if shutdown is not None:
            await shutdown()

    def answered(self, session: Any, status: int) -> None:
        answered = getattr(self.api, "answered", None)
        if answered is not None:
            answered(session, status)

    async def __call__(self, session: Any) -> None:
        address = session.client
        task = asyncio.current_task()
        if address is not None and task is not None:
            self._tasks[address] = task
        try:
            await self.api(session)
        finally:
            self._tasks.pop(address, None)

    def _handler_failed(self, websocket: Any, error: Exception) -> None:
        if websocket.client is not None:
            self._failures[tuple(websocket.client)] = error

    async def __aenter__(self) -> AsyncTestClient:
        on_failure = getattr(self.api, "on_handler_failure", None)
        if on_failure is not None:
            self._stop_listening = on_failure(self._handler_failed)
        (self.host, self.port, *_), *_ = await self.server.start(self.host, 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self.server.shutdown(timeout=2.0)
        finally:
            if self._stop_listening is not None:
                self._stop_listening()
                self._stop_listening = None

    async def handler_outcome(self, websocket: ClientWebSocket, timeout: float) -> None:
        """Wait (up to ``timeout``) for the handler serving ``websocket`` to end; raise what it raised."""
        address = websocket.local_address
        task = self._tasks.pop(address, None)
        if task is not None and not task.done():
            await asyncio.wait([task], timeout=timeout)
        failure = self._failures.pop(address, None)
        if failure is not None and self.raise_server_exceptions:
            raise failure

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

    # The loop, its thread and the async client: None only until __enter__, and used only inside
    # the ``with`` block (the paths that may run before they are all set check for None).
    _async: AsyncTestClient
    _loop: asyncio.AbstractEventLoop
    _thread: threading.Thread

    def __init__(
        self, api: App, settings: Settings | None = None, timeout: float = 10.0, *, raise_server_exceptions: bool = True
    ) -> None:
        self.timeout = timeout
        self._async = None  # type: ignore[assignment]  # see the class annotations
        self._api = api
        self._settings = settings
        self._raise_server_exceptions = raise_server_exceptions
        self._loop = None  # type: ignore[assignment]
        self._thread = None  # type: ignore[assignment]

    def __enter__(self) -> TestClient:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="bolt-test-server", daemon=True)
        self._thread.start()

        async def start() -> AsyncTestClient:
            client = AsyncTestClient(self._api, self._settings, raise_server_exceptions=self._raise_server_exceptions)
            return await client.__aenter__()

        try:
            self._async = self._call(start())
        except BaseException:
            self._stop()
            raise
        return self

    def _run_loop(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            if self._async is not None:
                self._async.server.stop_listening()
            # Whatever is left (a handler still running) is cancelled and awaited, as asyncio.run()
            # does, so no task is destroyed while pending.
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.wait(tasks, timeout=self.timeout))
        finally:
            loop.close()

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._call(self._async.__aexit__(None, None, None))
        finally:
            self._stop()

    def _stop(self) -> None:
        """Stop the server's loop and thread. A loop blocked by a handler (blocking code in an async
        handler) still loses its listening socket at once, and is given one more timeout to stop."""
        loop, thread = self._loop, self._thread
        if self._async is not None and thread.is_alive():
            _unlisten(self._async.server)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(self.timeout)
        if thread.is_alive():
            raise RuntimeError(
                f"the test server's event loop did not stop within {self.timeout} s: "
                "a handler is blocking it (blocking code in an async handler?)"
            )

    def _call(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(self.timeout)
        except TimeoutError:
            future.cancel()
            raise

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

    def __exit__(self, *exc_info: object) -> None:
        self.close()
        self._client._call(self._client._async.handler_outcome(self.websocket, self._client.timeout))

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


def _unlisten(server: Server) -> None:
    """Stop a server's sockets listening from another thread, while its loop cannot run: on Linux
    ``shutdown()`` of a listening socket makes the kernel refuse new connections at once. The loop
    closes the sockets themselves once it runs again."""
    for listener in server.listening_sockets():
        try:
            with socket.socket(fileno=os.dup(listener.fileno())) as duplicate:
                duplicate.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
