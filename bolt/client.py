"""``bolt.connect``: an asyncio WebSocket client with the same receive/send/iter/close API as a
server's handler, on the same codec.

    async with bolt.connect("ws://127.0.0.1:8000/ws/echo") as websocket:
        await websocket.send_text("Hello")
        print(await websocket.receive_text())

A refused handshake raises ``HandshakeRejected`` carrying the server's status; a server that closes
makes ``receive_*()`` raise ``WebSocketDisconnect`` with its code and reason.
"""

from __future__ import annotations

import json
import ssl as ssl_module
from collections.abc import Callable, Generator, Iterable, Mapping
from typing import Any

from bolt.protocol.http import Headers
from bolt.transport.client_session import ClientSession, open_session
from bolt.transport.settings import Settings
from bolt.websocket import BaseWebSocket, _compact_json


class ClientWebSocket(BaseWebSocket):
    """A client's open connection."""

    _session: ClientSession

    __slots__ = ()

    @property
    def response_headers(self) -> Headers:
        """The headers of the server's 101."""
        # The connection is open, so the handshake's response has come.
        return self._session.response.headers  # type: ignore[union-attr]

    @property
    def local_address(self) -> tuple[str, int] | None:
        """This end's (host, port)."""
        return self._session.local_address


class connect:
    """Open a WebSocket connection; await it, or use it as an async context manager (which closes
    the connection with 1000 on the way out)."""

    def __init__(
        self,
        url: str,
        *,
        subprotocols: Iterable[str] = (),
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        ssl: ssl_module.SSLContext | bool | None = None,
        open_timeout: float | None = 10.0,
        json_loads: Callable[[str | bytes], Any] = json.loads,
        json_dumps: Callable[[Any], str | bytes] = _compact_json,
        settings: Settings | None = None,
        **setting_values: Any,
    ) -> None:
        self.url = url
        self._subprotocols = list(subprotocols)
        self._headers = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        self._ssl = ssl
        self._open_timeout = open_timeout
        self._json = {"json_loads": json_loads, "json_dumps": json_dumps}
        self._settings = settings or Settings(**setting_values)
        self._websocket: ClientWebSocket | None = None

    async def _open(self) -> ClientWebSocket:
        session = await open_session(
            self.url,
            subprotocols=self._subprotocols,
            headers=self._headers,
            settings=self._settings,
            ssl=self._ssl,
            open_timeout=self._open_timeout,
        )
        return ClientWebSocket(session, **self._json)

    def __await__(self) -> Generator[Any, None, ClientWebSocket]:
        return self._open().__await__()

    async def __aenter__(self) -> ClientWebSocket:
        self._websocket = await self._open()
        return self._websocket

    async def __aexit__(self, *exc_info: object) -> None:
        if self._websocket is not None:
            await self._websocket.close()
