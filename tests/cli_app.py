"""An app for the CLI tests: it says which process served the connection."""

import os

from bolt import BoltAPI, WebSocket

api = BoltAPI()


@api.websocket("/pid")
async def pid(websocket: WebSocket):
    await websocket.accept()
    await websocket.send_text(str(os.getpid()))
