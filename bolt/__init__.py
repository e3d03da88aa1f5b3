"""bolt: a correct and fast WebSocket library for asyncio."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# Each public name and the module that defines it. They load on first use (PEP 562), so that
# ``import bolt.protocol`` (the sans-I/O core) loads no asyncio and no application code.
_EXPORTS = {
    "BoltAPI": "bolt.api",
    "ClientWebSocket": "bolt.client",
    "connect": "bolt.client",
    "CloseCode": "bolt.close_codes",
    "BoltError": "bolt.exceptions",
    "ConcurrencyError": "bolt.exceptions",
    "ConnectionClosed": "bolt.exceptions",
    "HandshakeError": "bolt.exceptions",
    "HandshakeRejected": "bolt.exceptions",
    "InvalidState": "bolt.exceptions",
    "ProtocolError": "bolt.exceptions",
    "WebSocketDisconnect": "bolt.exceptions",
    "Cookie": "bolt.params",
    "Header": "bolt.params",
    "Query": "bolt.params",
    "HTMLResponse": "bolt.responses",
    "JSONResponse": "bolt.responses",
    "PlainTextResponse": "bolt.responses",
    "Response": "bolt.responses",
    "run": "bolt.transport.run",
    "RateLimit": "bolt.transport.limits",
    "Settings": "bolt.transport.settings",
    "WebSocket": "bolt.websocket",
    "WebSocketState": "bolt.websocket",
}

if TYPE_CHECKING:
    from bolt.api import BoltAPI
    from bolt.client import ClientWebSocket, connect
    from bolt.close_codes import CloseCode
    from bolt.exceptions import (
        BoltError,
        ConcurrencyError,
        ConnectionClosed,
        HandshakeError,
        HandshakeRejected,
        InvalidState,
        ProtocolError,
        WebSocketDisconnect,
    )
    from bolt.params import Cookie, Header, Query
    from bolt.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
    from bolt.transport.limits import RateLimit
    from bolt.transport.run import run
    from bolt.transport.settings import Settings
    from bolt.websocket import WebSocket, WebSocketState


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bolt' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__version__ = "0.1.0"

__all__ = [
    "BoltAPI",
    "BoltError",
    "ClientWebSocket",
    "CloseCode",
    "ConcurrencyError",
    "ConnectionClosed",
    "Cookie",
    "HTMLResponse",
    "HandshakeError",
    "HandshakeRejected",
    "Header",
    "InvalidState",
    "JSONResponse",
    "PlainTextResponse",
    "ProtocolError",
    "Query",
    "RateLimit",
    "Response",
    "Settings",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketState",
    "connect",
    "run",
]
