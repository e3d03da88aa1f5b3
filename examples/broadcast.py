"""Broadcast: every text message a client sends goes to every connected client, the sender too.

    python -m bolt examples.broadcast:api --port 8000
    python -m websockets ws://127.0.0.1:8000/ws/broadcast      # in two terminals

The reference page's pattern, made robust: the set of clients is copied before sending (a client
that leaves mid-broadcast would otherwise change the set under the loop), the sends run at once
(one slow client does not delay the rest), and a client whose connection is gone is dropped
instead of aborting the broadcast for everyone after it.
"""

from __future__ import annotations

import asyncio
import logging

from bolt import BoltAPI, ConnectionClosed, WebSocket

logger = logging.getLogger(__name__)

# Nothing here needs messages larger than this; bolt closes with 1009 past it.
api = BoltAPI(max_message_size=64 * 1024)

connected_clients: set[WebSocket] = set()


async def broadcast(message: str) -> None:
    targets = list(connected_clients)  # a snapshot: the set changes while the sends are suspended
    results = await asyncio.gather(*(client.send_text(message) for client in targets), return_exceptions=True)
    for client, result in zip(targets, results):
        if isinstance(result, ConnectionClosed):
            # It disconnected while we were sending: its own handler's finally would remove it
            # too, but dropping it now spares the next broadcasts a doomed send.
            connected_clients.discard(client)
        elif isinstance(result, Exception):
            # Someone else's failure must not end the sender's connection: log it, drop that client.
            logger.error("sending to %r failed", client, exc_info=result)
            connected_clients.discard(client)


@api.websocket("/ws/broadcast")
async def broadcast_endpoint(websocket: WebSocket):
    await websocket.accept()
    connected_clients.add(websocket)
    try:
        async for message in websocket.iter_text():
            await broadcast(message)
    finally:
        connected_clients.discard(websocket)


@api.get("/")
def index():
    return "Connect a WebSocket client to /ws/broadcast: every text message goes to every client.\n"
