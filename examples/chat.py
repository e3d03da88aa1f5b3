"""Chat rooms: the reference page's room pattern, with names, join/leave notices and a browser page.

    python -m bolt examples.chat:api --port 8000      # then open http://127.0.0.1:8000/

Connect to ``/ws/room/{room_id}?name=alice``. Everything the server sends is a JSON text message:

    {"type": "members", "room": "lobby", "name": "alice", "members": ["bob", "alice"]}   to you, on join
    {"type": "join",    "room": "lobby", "name": "alice"}                                to the others
    {"type": "message", "room": "lobby", "name": "alice", "text": "hi"}                  to everyone, you too
    {"type": "leave",   "room": "lobby", "name": "alice"}                                to the others
    {"type": "error",   "reason": "..."}                                                 to you

What you send is plain text: each text message is one chat line.

A line over ``MAX_TEXT`` characters gets an ``error`` message and the connection stays open: a
pasted essay is a user's mistake, not a broken client, and the page shows the error next to the
input instead of dropping the session. Anything far larger (over ``max_message_size`` bytes) is no
chat client at all: bolt itself closes with 1009 before buffering it. A binary message closes with
1003 (``receive_text`` does that), a name or room that is too long with 1008 and a reason.
"""

from __future__ import annotations

from pathlib import Path

from bolt import BoltAPI, CloseCode, ConnectionClosed, WebSocket

MAX_TEXT = 2000  # characters in one chat line
MAX_NAME = 32
MAX_ROOM = 64

# 2,000 characters are at most 8,000 bytes of UTF-8; 64 KiB leaves room and still caps memory.
# Rooms are broadcast groups: with --broker redis://... they span workers and machines.
api = BoltAPI(max_message_size=64 * 1024)

# Read once at import: the page is static, and a missing file should fail at start, not per request.
PAGE = (Path(__file__).parent / "chat.html").read_text(encoding="utf-8")

# room id -> {websocket: name}, for the member list a joiner is sent: the members on this process
# (with several workers, each knows its own). Delivery does not use it: the group does. Only the
# event loop's thread touches it, so it needs no lock.
rooms: dict[str, dict[WebSocket, str]] = {}


@api.websocket("/ws/room/{room_id}")
async def room(websocket: WebSocket, room_id: str, name: str = "anonymous"):
    name = name.strip() or "anonymous"
    # close() before accept() completes the handshake and closes, so a browser sees the reason
    # (it cannot read the status of a refused upgrade).
    if len(name) > MAX_NAME:
        await websocket.close(CloseCode.POLICY_VIOLATION, f"name is longer than {MAX_NAME} characters")
        return
    if len(room_id) > MAX_ROOM:
        await websocket.close(CloseCode.POLICY_VIOLATION, f"room is longer than {MAX_ROOM} characters")
        return
    await websocket.accept()

    group = f"room:{room_id}"
    members = rooms.setdefault(room_id, {})
    members[websocket] = name
    try:
        # The joiner learns who is here (itself included) before any chat line can reach it.
        await websocket.send_json({"type": "members", "room": room_id, "name": name, "members": list(members.values())})
        await websocket.join(group)
        await api.broadcast_json(group, {"type": "join", "room": room_id, "name": name}, exclude=websocket)
        # Ends with WebSocketDisconnect when the client leaves; bolt treats that as a normal end.
        async for text in websocket.iter_text():
            if len(text) > MAX_TEXT:
                await websocket.send_json({"type": "error", "reason": f"message is longer than {MAX_TEXT} characters"})
            elif text.strip():
                await api.broadcast_json(group, {"type": "message", "room": room_id, "name": name, "text": text})
    except ConnectionClosed:
        # Our own client left while we were writing to it (send_* raises ConnectionClosed, not
        # WebSocketDisconnect): as normal an end as a disconnect seen by iter_text().
        pass
    finally:
        # Runs however the handler ends: disconnect, error, or server shutdown (cancellation).
        # A broadcast never waits, so it is safe here even while the task is being cancelled.
        await websocket.leave(group)
        await api.broadcast_json(group, {"type": "leave", "room": room_id, "name": name})
        members.pop(websocket, None)
        if not members and rooms.get(room_id) is members:
            del rooms[room_id]  # forget empty rooms, or they pile up forever


@api.get("/")
def index():
    return PAGE


@api.get("/health")
def health():
    return {"status": "ok"}
