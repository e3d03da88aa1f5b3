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
