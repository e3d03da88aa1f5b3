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

import asyncio
import json
import logging
from pathlib import Path

from bolt import BoltAPI, CloseCode, ConnectionClosed, WebSocket

logger = logging.getLogger(__name__)

MAX_TEXT = 2000  # characters in one chat line
MAX_NAME = 32
MAX_ROOM = 64

# 2,000 characters are at most 8,000 bytes of UTF-8; 64 KiB leaves room and still caps memory.
api = BoltAPI(max_message_size=64 * 1024)

# Read once at import: the page is static, and a missing file should fail at start, not per request.
PAGE = (Path(__file__).parent / "chat.html").read_text(encoding="utf-8")

# room id -> {websocket: name}. A dict keeps join order for the member list. Only the event loop's
# thread touches it, and never across an await in the middle of a change, so it needs no lock.
rooms: dict[str, dict[WebSocket, str]] = {}


async def broadcast(members: dict[WebSocket, str], message: dict, exclude: WebSocket | None = None) -> None:
    """Send ``message`` to every member (but ``exclude``) at once; drop those whose connection is gone.

    The sends run concurrently, so one client whose socket is slow to drain does not hold up the
    others. A client that disconnected while we were sending raises ``ConnectionClosed``: that is
    its own business, never the sender's, so it is dropped here (its own handler announces the
    leave) and the rest still get the message.
    """
    text = json.dumps(message, separators=(",", ":"), ensure_ascii=False)  # encoded once, not per member
    # A snapshot: members come and go while the sends are suspended.
    targets = [member for member in members if member is not exclude]
    results = await asyncio.gather(*(member.send_text(text) for member in targets), return_exceptions=True)
    for member, result in zip(targets, results):
        if isinstance(result, ConnectionClosed):
            members.pop(member, None)
        elif isinstance(result, Exception):
            logger.error("sending to %r failed", member, exc_info=result)
            members.pop(member, None)


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

    members = rooms.setdefault(room_id, {})
    members[websocket] = name
    try:
        # The joiner learns who is here (itself included) before any chat line can reach it.
        await websocket.send_json({"type": "members", "room": room_id, "name": name, "members": list(members.values())})
        await broadcast(members, {"type": "join", "room": room_id, "name": name}, exclude=websocket)
        # Ends with WebSocketDisconnect when the client leaves; bolt treats that as a normal end.
        async for text in websocket.iter_text():
            if len(text) > MAX_TEXT:
                await websocket.send_json({"type": "error", "reason": f"message is longer than {MAX_TEXT} characters"})
            elif text.strip():
                await broadcast(members, {"type": "message", "room": room_id, "name": name, "text": text})
    except ConnectionClosed:
        # Our own client left while we were writing to it (send_* raises ConnectionClosed, not
        # WebSocketDisconnect): as normal an end as a disconnect seen by iter_text().
        pass
    finally:
        # Runs however the handler ends: disconnect, error, or server shutdown (cancellation).
        members.pop(websocket, None)
        if members:
            await broadcast(members, {"type": "leave", "room": room_id, "name": name})
        if not members and rooms.get(room_id) is members:
            del rooms[room_id]  # forget empty rooms, or they pile up forever


@api.get("/")
def index():
    return PAGE


@api.get("/health")
def health():
    return {"status": "ok"}
