"""Apps for the CLI tests: ``api`` says which process served the connection, and its /exit route
makes the serving worker die; ``unconfigured`` has a JWT route without a secret, so it cannot be
served."""

import os

from bolt import BoltAPI, WebSocket
from bolt.auth import JWTAuthentication

api = BoltAPI()


@api.websocket("/pid")
async def pid(websocket: WebSocket):
    await websocket.accept()
    await websocket.send_text(str(os.getpid()))


@api.websocket("/exit")
async def exit_worker(websocket: WebSocket):
    os._exit(3)  # a worker that dies on its own, as a crash would, with no shutdown asked for


unconfigured = BoltAPI()


@unconfigured.websocket("/private", auth=[JWTAuthentication()])
async def private(websocket: WebSocket):
    await websocket.accept()
