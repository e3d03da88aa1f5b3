"""Apps the ASGI tests serve under uvicorn (``uvicorn tests.asgi_apps:api``): the reference
page's examples as one ``BoltAPI``, and a Starlette app that mounts it at ``/rt``."""

import os

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from bolt import BoltAPI, CloseCode, WebSocket, WebSocketDisconnect
from bolt.auth import IsAuthenticated, JWTAuthentication

SECRET = "asgi-tests-secret-that-is-32-bytes!!"
api = BoltAPI(jwt_secret=SECRET)


@api.websocket("/ws/echo")
async def echo(websocket: WebSocket):
    await websocket.accept()
    async for message in websocket.iter_text():
        await websocket.send_text(f"Echo: {message}")


@api.websocket("/ws/room/{room_id}")
async def room(websocket: WebSocket, room_id: str, user_id: int, limit: int = 10):
    await websocket.accept(subprotocol="chat" if "chat" in websocket.subprotocols else None)
    await websocket.join(f"room:{room_id}")
    try:
        async for data in websocket.iter_json():
            await api.broadcast_json(f"room:{room_id}", {"room": room_id, "user": user_id, "limit": limit, "data": data})
    except WebSocketDisconnect:
        pass


@api.websocket("/ws/private", auth=[JWTAuthentication()], guards=[IsAuthenticated()])
async def private(websocket: WebSocket):
    await websocket.accept()
    await websocket.send_json({"user": websocket.context["user_id"]})


@api.websocket("/ws/members-only")
async def members_only(websocket: WebSocket, token: str | None = None):
    if token != "member":
        await websocket.close(code=4001, reason="Invalid token")  # before accept: the client sees it
        return
    await websocket.accept()
    await websocket.send_text("welcome")


@api.websocket("/ws/bytes")
async def binary(websocket: WebSocket):
    await websocket.accept()
    async for data in websocket.iter_bytes():
        await websocket.send_bytes(data[::-1])
    await websocket.close(CloseCode.NORMAL_CLOSURE)


@api.get("/health")
def health():
    return {"status": "ok", "pid": os.getpid()}


@api.on_startup
def announce_startup():
    print("bolt startup hook ran", flush=True)


@api.on_shutdown
def announce_shutdown():
    print("bolt shutdown hook ran", flush=True)


async def homepage(request):
    return PlainTextResponse("starlette here")


starlette_app = Starlette(routes=[Route("/", homepage), Mount("/rt", app=api)])


# ASGI apps that bolt's server runs (python -m bolt tests.asgi_apps:starlette_ws --asgi)

from fastapi import FastAPI  # noqa: E402
from fastapi import WebSocket as FastAPIWebSocket  # noqa: E402
from fastapi import WebSocketDisconnect as FastAPIDisconnect  # noqa: E402
from starlette.routing import WebSocketRoute  # noqa: E402
from starlette.websockets import WebSocket as StarletteWebSocket  # noqa: E402


async def starlette_echo(websocket: StarletteWebSocket):
    await websocket.accept(subprotocol="echo" if "echo" in websocket.scope["subprotocols"] else None)
    async for text in websocket.iter_text():
        if text == "close":
            await websocket.close(code=4002, reason="asked to")
            return
        await websocket.send_text(f"starlette: {text}")


async def starlette_json(websocket: StarletteWebSocket):
    await websocket.accept()
    data = await websocket.receive_json()
    await websocket.send_json({"got": data})
    await websocket.send_bytes(b"\x00\x01")


async def starlette_refuse(websocket: StarletteWebSocket):
    await websocket.close(code=1008)  # before accepting: the server answers 403


starlette_ws = Starlette(
    routes=[
        Route("/", homepage),
        WebSocketRoute("/ws/echo", starlette_echo),
        WebSocketRoute("/ws/json", starlette_json),
        WebSocketRoute("/ws/refuse", starlette_refuse),
    ]
)

fastapi_app = FastAPI()


@fastapi_app.get("/items/{item_id}")
async def read_item(item_id: int, q: str | None = None):
    return {"item_id": item_id, "q": q}


@fastapi_app.websocket("/ws/{client_id}")
async def fastapi_ws(websocket: FastAPIWebSocket, client_id: int):
    await websocket.accept()
    try:
        while True:
            data = await websocket.receive_text()
            await websocket.send_text(f"client {client_id}: {data}")
    except FastAPIDisconnect:
        pass


# HTTP/1.1 on bolt's server: bodies, streaming, keep-alive


async def http_app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            event = await receive()
            await send({"type": event["type"] + ".complete"})
            if event["type"] == "lifespan.shutdown":
                return
    path = scope["path"]
    if path == "/echo":  # the request body back, with its size
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-size", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
    elif path == "/stream":  # a streamed response of unknown length: chunked
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for i in range(5):
            await send({"type": "http.response.body", "body": f"part {i}\n".encode(), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    elif path == "/fail":
        raise RuntimeError("an app bug")
    else:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"no such page"})
