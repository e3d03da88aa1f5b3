"""Broadcast: every text message a client sends goes to every connected client, the sender too.

    python -m bolt examples.broadcast:api --port 8000
    python -m websockets ws://127.0.0.1:8000/ws/broadcast      # in two terminals

The reference page's pattern, with a group instead of a module-level set: the group is left when
the connection ends, however it ends; a broadcast is framed once and never waits for a slow
client; and with a broker it spans workers and machines:

    python -m bolt examples.broadcast:api --workers 4 --broker redis://127.0.0.1:6379/0
"""

from __future__ import annotations

from bolt import BoltAPI, WebSocket

# Nothing here needs messages larger than this; bolt closes with 1009 past it.
api = BoltAPI(max_message_size=64 * 1024)


@api.websocket("/ws/broadcast")
async def broadcast_endpoint(websocket: WebSocket):
    await websocket.accept()
    await websocket.join("everyone")
    async for message in websocket.iter_text():
        await api.broadcast("everyone", message)


@api.get("/")
def index():
    return "Connect a WebSocket client to /ws/broadcast: every text message goes to every client.\n"
