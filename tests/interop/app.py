"""The bolt application every peer talks to: echo, JSON echo, digests, closes with any code,
a recorder of the close the client sent, pings from the server, subprotocols and refusals.

Routes (WebSocket unless marked GET):

    /echo                     echoes every message as it came (text as text, binary as binary)
    /json                     parses each message as JSON and sends it back (compact, as text)
    /digest                   answers each message with cases.digest(message) as JSON
    /close/{code}?reason=     accepts, then closes with that code and reason
    /record/{key}             accepts, says "ready", then waits for the client to close and records
                              (code, reason) of its WebSocketDisconnect under key
    /server-ping              accepts, pings with b"bolt-ping" and answers "pong: <payload>" once
                              the pong arrived, then echoes like /echo
    /subprotocol              picks the first offered of chat.v2, chat.v1 and says which ("" if none)
    /forbidden                refuses the upgrade with 403
    /token?token=             closes with 4001 "Invalid token" before accepting unless token=secret
    GET /                     a blank page, so a browser has an http:// origin on this server
"""

from __future__ import annotations

import asyncio
import json
import threading

from bolt import BoltAPI, WebSocket, WebSocketDisconnect
from tests.interop.cases import MAX_SIZE, digest

SUPPORTED_SUBPROTOCOLS = ("chat.v2", "chat.v1")
SERVER_PING = b"bolt-ping"


class Recorder:
    """Closes seen by /record handlers, readable from the test's thread."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[int, str]] = {}
        self._changed = threading.Condition()

    def put(self, key: str, value: tuple[int, str]) -> None:
        with self._changed:
            self._seen[key] = value
            self._changed.notify_all()

    def wait(self, key: str, timeout: float = 10.0) -> tuple[int, str]:
        with self._changed:
            if not self._changed.wait_for(lambda: key in self._seen, timeout):
                raise TimeoutError(f"the server recorded no close for {key!r}")
            return self._seen.pop(key)


def make_api(**settings) -> BoltAPI:
    settings.setdefault("max_message_size", MAX_SIZE)
    api = BoltAPI(**settings)
    api.recorder = Recorder()

    @api.get("/")
    def page():
        return "<!doctype html><title>bolt interop</title><p>bolt interop</p>"

    @api.websocket("/echo")
    async def echo(websocket: WebSocket):
        await websocket.accept()
        async for message in websocket:
            await websocket.send(message)

    @api.websocket("/json")
    async def json_echo(websocket: WebSocket):
        await websocket.accept()
        async for value in websocket.iter_json():
            await websocket.send_json(value)

    @api.websocket("/digest")
    async def digests(websocket: WebSocket):
        await websocket.accept()
        async for message in websocket:
            await websocket.send_text(json.dumps(digest(message)))

    @api.websocket("/close/{code}")
    async def close_with(websocket: WebSocket, code: int, reason: str = ""):
        await websocket.accept()
        await websocket.close(code, reason)

    @api.websocket("/record/{key}")
    async def record(websocket: WebSocket, key: str):
        await websocket.accept()
        await websocket.send_text("ready")
        try:
            async for _ in websocket:
                pass
        except WebSocketDisconnect as disconnect:
            api.recorder.put(key, (disconnect.code, disconnect.reason))

    @api.websocket("/server-ping")
    async def server_ping(websocket: WebSocket):
        await websocket.accept()
        await asyncio.wait_for(websocket.ping(SERVER_PING), 10)
        await websocket.send_text("pong: " + SERVER_PING.decode())
        async for message in websocket:
            await websocket.send(message)

    @api.websocket("/subprotocol")
    async def subprotocol(websocket: WebSocket):
        chosen = next((name for name in websocket.subprotocols if name in SUPPORTED_SUBPROTOCOLS), None)
        await websocket.accept(subprotocol=chosen)
        await websocket.send_text(chosen or "")
        async for _ in websocket:
            pass

    @api.websocket("/forbidden")
    async def forbidden(websocket: WebSocket):
        await websocket.reject(403, "no entry")

    @api.websocket("/token")
    async def token(websocket: WebSocket, token: str = ""):
        if token != "secret":
            await websocket.close(4001, "Invalid token")
            return
        await websocket.accept()
        await websocket.send_text("welcome")
        async for _ in websocket:
            pass

    return api
