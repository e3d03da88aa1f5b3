"""Every snippet of the user's reference page (shared/seed/websocket-page.md), run as written with
``from bolt import ...``, through the real server, handshake and codec."""

from __future__ import annotations

import threading

import pytest

from bolt import BoltAPI, CloseCode, WebSocket, WebSocketDisconnect, WebSocketState
from bolt.testing import TestClient

api = BoltAPI()
events: dict[str, threading.Event] = {}
seen: list = []


def flag(name: str) -> threading.Event:
    return events.setdefault(name, threading.Event())


# Basic WebSocket endpoint


@api.websocket("/ws/echo")
async def echo(websocket: WebSocket):
    await websocket.accept()
    async for message in websocket.iter_text():
        await websocket.send_text(f"Echo: {message}")


# WebSocket lifecycle


@api.websocket("/ws/chat")
async def chat(websocket: WebSocket):
    # 1. Accept the connection
    await websocket.accept()

    try:
        # 2. Communication loop
        while True:
            message = await websocket.receive_text()
            await websocket.send_text(f"You said: {message}")
    except WebSocketDisconnect:
        # 3. Client disconnected
        flag("chat disconnected").set()


# Sending and receiving messages


@api.websocket("/ws/send")
async def sending(websocket: WebSocket):
    await websocket.accept()
    await websocket.send_text("Hello, World!")
    await websocket.send_bytes(b"\x00\x01\x02\x03")
    await websocket.send_json({"type": "message", "data": "Hello"})


@api.websocket("/ws/receive")
async def receiving(websocket: WebSocket):
    await websocket.accept()
    # Single message
    message = await websocket.receive_text()
    seen.append(message)
    data = await websocket.receive_bytes()
    seen.append(data)
    data = await websocket.receive_json()
    seen.append(data)
    await websocket.send_text("done")


@api.websocket("/ws/iterate/text")
async def iterate_text(websocket: WebSocket):
    await websocket.accept()
    async for message in websocket.iter_text():
        print(f"Received: {message}")


@api.websocket("/ws/iterate/bytes")
async def iterate_bytes(websocket: WebSocket):
    await websocket.accept()
    async for data in websocket.iter_bytes():
        print(f"Received {len(data)} bytes")


@api.websocket("/ws/iterate/json")
async def iterate_json(websocket: WebSocket):
    await websocket.accept()
    async for data in websocket.iter_json():
        print(f"Received: {data}")


# Path parameters


@api.websocket("/ws/room/{room_id}")
async def room(websocket: WebSocket, room_id: str):
    await websocket.accept()
    async for message in websocket.iter_text():
        await websocket.send_text(f"[{room_id}] {message}")


# Query parameters


@api.websocket("/ws/connect")
async def connect(websocket: WebSocket, token: str | None = None):
    if token != "secret":
        await websocket.close(code=4001, reason="Invalid token")
        return

    await websocket.accept()
    await websocket.send_text("connected")


# Closing connections


@api.websocket("/ws/close/{how}")
async def closing(websocket: WebSocket, how: str):
    await websocket.accept()
    if how == "plain":
        await websocket.close()
    elif how == "reason":
        # With custom close code and reason
        await websocket.close(code=1000, reason="Normal closure")
    else:
        await websocket.close(code=CloseCode.NORMAL_CLOSURE)


# Handling client disconnect


@api.websocket("/ws")
async def handler(websocket: WebSocket):
    await websocket.accept()
    try:
        async for message in websocket.iter_text():
            await websocket.send_text(message)
    except WebSocketDisconnect:
        print("Client disconnected")
        flag("handler disconnected").set()


# WebSocket state


@api.websocket("/ws/state")
async def state(websocket: WebSocket):
    seen.append(websocket.state)
    await websocket.accept()
    if websocket.state == WebSocketState.CONNECTED:
        await websocket.send_text("Still connected")
    await websocket.receive_text()
    await websocket.close()
    seen.append(websocket.state)
    flag("state done").set()


# Real-time patterns

connected_clients = set()


@api.websocket("/ws/broadcast")
async def broadcast(websocket: WebSocket):
    await websocket.accept()
    connected_clients.add(websocket)

    try:
        async for message in websocket.iter_text():
            # Broadcast to all clients
            for client in connected_clients:
                await client.send_text(message)
    finally:
        connected_clients.discard(websocket)


rooms = {}  # room_id -> set of websockets


@api.websocket("/ws/chatroom/{room_id}")
async def chatroom(websocket: WebSocket, room_id: str):
    await websocket.accept()

    if room_id not in rooms:
        rooms[room_id] = set()
    rooms[room_id].add(websocket)

    try:
        async for message in websocket.iter_text():
            for client in rooms[room_id]:
                await client.send_text(f"[{room_id}] {message}")
    finally:
        rooms[room_id].discard(websocket)


@pytest.fixture(scope="module")
def client():
    with TestClient(api) as client:
        yield client


@pytest.fixture(autouse=True)
def fresh():
    events.clear()
    seen.clear()


def test_testing_snippet_as_written():
    with TestClient(api) as client:
        with client.websocket_connect("/ws/echo") as ws:
            ws.send_text("Hello")
            response = ws.receive_text()
            assert response == "Echo: Hello"


def test_lifecycle_chat_and_disconnect(client):
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "You said: hi"
    assert flag("chat disconnected").wait(5)


def test_sending_text_bytes_json(client):
    with client.websocket_connect("/ws/send") as ws:
        assert ws.receive_text() == "Hello, World!"
        assert ws.receive_bytes() == b"\x00\x01\x02\x03"
        assert ws.receive_json() == {"type": "message", "data": "Hello"}
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive()
        assert closed.value.code == 1000  # the handler returned: bolt closed normally


def test_receiving_text_bytes_json(client):
    with client.websocket_connect("/ws/receive") as ws:
        ws.send_text("text")
        ws.send_bytes(b"\xff\x00")
        ws.send_json({"a": [1, 2]})
        assert ws.receive_text() == "done"
    assert seen == ["text", b"\xff\x00", {"a": [1, 2]}]


@pytest.mark.parametrize(
    "path, send, printed",
    [
        ("/ws/iterate/text", lambda ws: ws.send_text("hello"), "Received: hello"),
        ("/ws/iterate/bytes", lambda ws: ws.send_bytes(b"12345"), "Received 5 bytes"),
        ("/ws/iterate/json", lambda ws: ws.send_json({"x": 1}), "Received: {'x': 1}"),
    ],
)
def test_iterating(client, capfd, path, send, printed):
    with client.websocket_connect(path) as ws:
        send(ws)
    for _ in range(50):
        if printed in capfd.readouterr().out:
            break
        threading.Event().wait(0.05)
    else:
        pytest.fail(f"{printed!r} was not printed")


def test_path_parameters(client):
    with client.websocket_connect("/ws/room/lobby") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "[lobby] hi"


def test_query_parameter_refused_with_4001_and_reason(client):
    with client.websocket_connect("/ws/connect?token=wrong") as ws:
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert (closed.value.code, closed.value.reason) == (4001, "Invalid token")
    with client.websocket_connect("/ws/connect") as ws:
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert closed.value.code == 4001


def test_query_parameter_accepted(client):
    with client.websocket_connect("/ws/connect?token=secret") as ws:
        assert ws.receive_text() == "connected"


@pytest.mark.parametrize("how, reason", [("plain", ""), ("reason", "Normal closure"), ("enum", "")])
def test_closing_from_the_server(client, how, reason):
    with client.websocket_connect(f"/ws/close/{how}") as ws:
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert (closed.value.code, closed.value.reason) == (1000, reason)


def test_handling_client_disconnect_prints(client, capfd):
    with client.websocket_connect("/ws") as ws:
        ws.send_text("ping")
        assert ws.receive_text() == "ping"
    assert flag("handler disconnected").wait(5)
    assert "Client disconnected" in capfd.readouterr().out


def test_close_code_names():
    assert CloseCode.NORMAL_CLOSURE == 1000
    assert CloseCode.GOING_AWAY == 1001
    assert CloseCode.PROTOCOL_ERROR == 1002
    assert CloseCode.UNSUPPORTED_DATA == 1003
    assert CloseCode.POLICY_VIOLATION == 1008
    assert CloseCode.INTERNAL_ERROR == CloseCode.SERVER_ERROR == 1011


def test_websocket_state(client):
    with client.websocket_connect("/ws/state") as ws:
        assert ws.receive_text() == "Still connected"
        ws.send_text("bye")
        with pytest.raises(WebSocketDisconnect):
            ws.receive_text()
    assert flag("state done").wait(5)
    assert seen == [WebSocketState.CONNECTING, WebSocketState.DISCONNECTED]


def test_broadcast_to_all_clients(client):
    with client.websocket_connect("/ws/broadcast") as first, client.websocket_connect("/ws/broadcast") as second:
        # Both handlers must have registered before the message goes out.
        for _ in range(100):
            if len(connected_clients) == 2:
                break
            threading.Event().wait(0.02)
        first.send_text("to everyone")
        assert first.receive_text() == "to everyone"
        assert second.receive_text() == "to everyone"


def test_room_chat_reaches_only_the_room(client):
    with (
        client.websocket_connect("/ws/chatroom/a") as alice,
        client.websocket_connect("/ws/chatroom/a") as bob,
        client.websocket_connect("/ws/chatroom/b") as carol,
    ):
        for _ in range(100):
            if len(rooms.get("a", ())) == 2 and len(rooms.get("b", ())) == 1:
                break
            threading.Event().wait(0.02)
        alice.send_text("hello room a")
        assert alice.receive_text() == "[a] hello room a"
        assert bob.receive_text() == "[a] hello room a"
        carol.send_text("only b")
        assert carol.receive_text() == "[b] only b"
