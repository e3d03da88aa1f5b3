"""The public API used as the WebSocket reference page uses it (docs: /work/shared/seed/websocket-page.md),
for the type checker: ``mypy --strict bolt tests/typing_usage.py`` must pass.

Not a test module (no ``test_`` prefix): pytest does not collect it, and nothing here runs a server.
Each ``assert_type`` fails the type check if a public signature regresses, to another type or to
``Any``; the typed assignments and calls fail it if an argument or a return type narrows wrongly.
"""

from __future__ import annotations

from typing import Any

from typing_extensions import assert_type

from bolt import BoltAPI, CloseCode, WebSocket, WebSocketDisconnect, WebSocketState, connect
from bolt.auth import IsAuthenticated, JWTAuthentication
from bolt.testing import TestClient, WebSocketTestSession

api = BoltAPI()


# Basic endpoint: the decorator gives the handler back with its own type.
@api.websocket("/ws/echo")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for message in websocket.iter_text():
        assert_type(message, str)
        await websocket.send_text(f"Echo: {message}")


# The decorator gives the handler back with its own type, not Any.
async def decorated(websocket: WebSocket) -> None:
    assert_type(await echo(websocket), None)


@api.websocket("/ws/chat")
async def chat(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            message = await websocket.receive_text()
            assert_type(message, str)
            text: str = message
            await websocket.send_text(f"You said: {text}")
    except WebSocketDisconnect as disconnect:
        assert_type(disconnect.code, int)


async def sending(websocket: WebSocket) -> None:
    await websocket.send_text("Hello, World!")
    await websocket.send_bytes(b"\x00\x01\x02\x03")
    await websocket.send_bytes(bytearray(b"\x00"))
    await websocket.send_bytes(memoryview(b"\x00"))
    await websocket.send_json({"type": "message", "data": "Hello"})
    await websocket.send_json([1, 2], mode="binary")
    await websocket.send("text or bytes")
    await websocket.send(b"binary")


async def receiving(websocket: WebSocket) -> None:
    assert_type(await websocket.receive(), str | bytes)
    assert_type(await websocket.receive_text(), str)
    assert_type(await websocket.receive_bytes(), bytes)
    assert_type(await websocket.receive_json(), Any)  # JSON is any value
    async for message in websocket:
        assert_type(message, str | bytes)
    async for text in websocket.iter_text():
        assert_type(text, str)
    async for data in websocket.iter_bytes():
        assert_type(data, bytes)
        print(f"Received {len(data)} bytes")
    async for value in websocket.iter_json():
        print(f"Received: {value}")
    rtt: float = await websocket.ping()
    print(rtt)


@api.websocket("/ws/room/{room_id}")
async def room(websocket: WebSocket, room_id: str) -> None:
    await websocket.accept()
    async for message in websocket.iter_text():
        await websocket.send_text(f"[{room_id}] {message}")


@api.websocket("/ws/connect")
async def connect_with_token(websocket: WebSocket, token: str | None = None) -> None:
    if token != "secret":
        await websocket.close(code=4001, reason="Invalid token")
        return
    await websocket.accept(subprotocol=None, headers=[("X-Hello", "world")])


async def closing(websocket: WebSocket) -> None:
    await websocket.close()
    await websocket.close(code=1000, reason="Normal closure")
    await websocket.close(code=CloseCode.NORMAL_CLOSURE)
    await websocket.reject(403, "Forbidden")
    assert_type(websocket.close_code, int | None)
    assert_type(websocket.close_reason, str)


@api.websocket("/ws/protected", auth=[JWTAuthentication(secret="s" * 32)], guards=[IsAuthenticated()])
async def protected(websocket: WebSocket) -> None:
    assert_type(websocket.context, dict[str, Any])
    user_id = websocket.context.get("user_id")
    await websocket.accept()
    await websocket.send_text(f"Welcome, user {user_id}")


async def state_and_handshake(websocket: WebSocket) -> None:
    if websocket.state == WebSocketState.CONNECTED:
        await websocket.send_text("Still connected")
    assert_type(websocket.state, WebSocketState)
    assert_type(websocket.subprotocol, str | None)
    assert_type(websocket.subprotocols, list[str])
    assert_type(websocket.url, str)
    assert_type(websocket.headers.get("Host"), str | None)
    assert_type(websocket.headers.get("Host", ""), str)
    assert_type(websocket.query_params, dict[str, str])
    assert_type(websocket.cookies, dict[str, str])
    client = websocket.client
    if client is not None:
        assert_type(client.host, str)
        assert_type(client.port, int)


# Groups: join, leave, broadcast.
@api.websocket("/ws/group/{name}")
async def group(websocket: WebSocket, name: str) -> None:
    await websocket.accept()
    await websocket.join(name)
    assert_type(websocket.groups, frozenset[str])
    async for message in websocket.iter_text():
        delivered = await api.broadcast(name, message, exclude=websocket)
        assert_type(delivered, int)
    await websocket.leave(name)


async def broadcasting() -> None:
    assert_type(await api.broadcast("room", b"bytes"), int)
    assert_type(await api.broadcast_json("room", {"a": 1}), int)
    assert_type(api.group_size("room"), int)


# Broadcast by hand, as the page's real-time patterns do.
connected_clients: set[WebSocket] = set()
rooms: dict[str, set[WebSocket]] = {}


@api.websocket("/ws/broadcast")
async def broadcast(websocket: WebSocket) -> None:
    await websocket.accept()
    connected_clients.add(websocket)
    try:
        async for message in websocket.iter_text():
            for client in connected_clients:
                await client.send_text(message)
    finally:
        connected_clients.discard(websocket)


# The test client, synchronous.
def testing() -> None:
    with TestClient(api) as client:
        with client.websocket_connect("/ws/echo") as ws:
            assert_type(ws, WebSocketTestSession)
            ws.send_text("Hello")
            response = ws.receive_text()
            assert_type(response, str)
            assert response == "Echo: Hello"
            ws.send_bytes(b"\x00")
            assert_type(ws.receive_bytes(), bytes)
            assert_type(ws.receive(), str | bytes)
            ws.send_json({"a": 1})
            ws.close(1000, "bye")
        assert_type(client.get("/").status, int)


# The client.
async def client_side() -> None:
    async with connect("ws://127.0.0.1:8000/ws/echo") as websocket:
        await websocket.send_text("Hello")
        assert_type(await websocket.receive_text(), str)
        assert_type(websocket.local_address, tuple[str, int] | None)
    websocket = await connect("ws://127.0.0.1:8000/ws/echo", subprotocols=["chat"])
    await websocket.close()
