"""bolt: a correct and fast WebSocket library for asyncio."""

from bolt.api import BoltAPI
from bolt.client import ClientWebSocket, connect
from bolt.close_codes import CloseCode
from bolt.exceptions import (
    BoltError,
    ConnectionClosed,
    HandshakeError,
    HandshakeRejected,
    InvalidState,
    ProtocolError,
    WebSocketDisconnect,
)
from bolt.params import Cookie, Header, Query
from bolt.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from bolt.transport.run import run
from bolt.transport.settings import Settings
from bolt.websocket import WebSocket, WebSocketState

__version__ = "0.1.0"

__all__ = [
    "BoltAPI",
    "BoltError",
    "ClientWebSocket",
    "CloseCode",
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
    "Response",
    "Settings",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketState",
    "connect",
    "run",
]
