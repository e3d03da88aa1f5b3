"""The app the cross-process group tests serve with ``python -m bolt tests.groups_app:api
--broker redis://...``: a room that broadcasts every text message to itself, and the serving
process's broadcast figures at ``/stats``."""

import os
from dataclasses import asdict

from bolt import BoltAPI, WebSocket

api = BoltAPI()


@api.websocket("/ws/room/{room_id}")
async def room(websocket: WebSocket, room_id: str):
    await websocket.accept()
    await websocket.join(f"room:{room_id}")
    await websocket.send_text(f"joined {os.getpid()}")
    async for message in websocket.iter_text():
        await api.broadcast(f"room:{room_id}", message)


@api.get("/stats")
def stats():
    return {**asdict(api.broadcast_stats), "pid": os.getpid()}
