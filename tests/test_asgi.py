"""A ``BoltAPI`` as an ASGI 3 application: the reference page's examples under uvicorn, hypercorn
and granian (each a subprocess on a free loopback port) driven by the websockets client, mounted inside a Starlette
app, and the ASGI events it sends, in order, checked against a recording server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import jwt as pyjwt
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

pytest.importorskip("uvicorn")
pytest.importorskip("starlette")

from bolt import BoltAPI, WebSocket  # noqa: E402
from tests.asgi_apps import SECRET  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_command(kind: str, target: str, port: int) -> list[str]:
    if kind == "uvicorn":
        return [sys.executable, "-m", "uvicorn", target, "--port", str(port), "--log-level", "warning"]
    if kind == "hypercorn":
        return [sys.executable, "-m", "hypercorn", target, "--bind", f"127.0.0.1:{port}"]
    return [sys.executable, "-m", "granian", "--interface", "asgi", "--port", str(port), "--workers", "1", target]


class Uvicorn:
    """An ASGI server (uvicorn by default, or hypercorn or granian) in a subprocess."""

    def __init__(self, target: str, tmp_path: Path, kind: str = "uvicorn") -> None:
        pytest.importorskip(kind)
        self.port = free_port()
        self.log = tmp_path / f"{kind}.log"
        with open(self.log, "wb") as sink:
            self.process = subprocess.Popen(
                server_command(kind, target, self.port),
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"},
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                assert self.process.poll() is None, self.log.read_text()
                assert time.monotonic() < deadline, "uvicorn did not start listening"
                time.sleep(0.05)

    def url(self, path: str, scheme: str = "ws") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def stop(self) -> str:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail("uvicorn did not stop")
        return self.log.read_text()


@pytest.fixture(params=["uvicorn", "hypercorn", "granian"])
def uvicorn(request, tmp_path):
    server = Uvicorn("tests.asgi_apps:api", tmp_path, request.param)
    server.kind = request.param
    yield server
    log = server.stop()
    assert "Traceback" not in log, log


def test_the_reference_pages_examples_under_uvicorn(uvicorn):
    token = pyjwt.encode({"sub": "alice", "exp": int(time.time()) + 600}, SECRET, algorithm="HS256")

    async def main():
        async with websockets.connect(uvicorn.url("/ws/echo")) as peer:
            await peer.send("hello")
            assert await peer.recv() == "Echo: hello"
        # Typed path and query parameters, a subprotocol, JSON, and a broadcast group.
        async with websockets.connect(uvicorn.url("/ws/room/lobby?user_id=7&limit=3"), subprotocols=["chat"]) as a:
            assert a.subprotocol == "chat"
            async with websockets.connect(uvicorn.url("/ws/room/lobby?user_id=8")) as b:
                await asyncio.sleep(0.05)  # both joined
                await b.send(json.dumps({"text": "hi"}))
                expected = {"room": "lobby", "user": 8, "limit": 10, "data": {"text": "hi"}}
                assert json.loads(await a.recv()) == expected
                assert json.loads(await b.recv()) == expected
        # A parameter that does not coerce: 400 naming it, before the upgrade.
        with pytest.raises(InvalidStatus) as refused:
            await websockets.connect(uvicorn.url("/ws/room/lobby?user_id=seven"))
        assert refused.value.response.status_code == 400
        assert b"user_id" in refused.value.response.body
        # JWT from ?token=, and its absence: 401 with its body.
        async with websockets.connect(uvicorn.url(f"/ws/private?token={token}")) as peer:
            assert json.loads(await peer.recv()) == {"user": "alice"}
        with pytest.raises(InvalidStatus) as refused:
            await websockets.connect(uvicorn.url("/ws/private"))
        assert refused.value.response.status_code == 401
        # Close before accept: the code and the reason reach the client.
        async with websockets.connect(uvicorn.url("/ws/members-only")) as peer:
            with pytest.raises(ConnectionClosed) as closed:
                await peer.recv()
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001, "Invalid token")
        async with websockets.connect(uvicorn.url("/ws/members-only?token=member")) as peer:
            assert await peer.recv() == "welcome"
        # Binary, and a close from the handler.
        async with websockets.connect(uvicorn.url("/ws/bytes")) as peer:
            await peer.send(b"\x01\x02\x03")
            assert await peer.recv() == b"\x03\x02\x01"
        with pytest.raises(InvalidStatus) as refused:
            await websockets.connect(uvicorn.url("/nowhere"))
        assert refused.value.response.status_code == 404

    asyncio.run(main())
    with urllib.request.urlopen(uvicorn.url("/health", "http")) as response:
        assert json.loads(response.read())["status"] == "ok"
    log = uvicorn.stop()
    if uvicorn.kind != "granian":  # granian's workers' output is not the parent's
        assert "bolt startup hook ran" in log and "bolt shutdown hook ran" in log


def test_mounted_inside_a_starlette_app(tmp_path):
    server = Uvicorn("tests.asgi_apps:starlette_app", tmp_path)
    try:

        async def main():
            async with websockets.connect(server.url("/rt/ws/echo")) as peer:
                await peer.send("mounted")
                return await peer.recv()

        assert asyncio.run(main()) == "Echo: mounted"
        with urllib.request.urlopen(server.url("/rt/health", "http")) as response:
            assert json.loads(response.read())["status"] == "ok"
        with urllib.request.urlopen(server.url("/", "http")) as response:
            assert response.read() == b"starlette here"
    finally:
        log = server.stop()
    assert "Traceback" not in log, log


# The ASGI events, against a recording server


class Recorder:
    """An ASGI server in miniature: feeds scripted events and records what the app sends."""

    def __init__(self, events: list[dict]) -> None:
        self.events = list(events)
        self.sent: list[dict] = []
        self._more = asyncio.Event()

    async def receive(self) -> dict:
        while not self.events:
            self._more.clear()
            await self._more.wait()
        return self.events.pop(0)

    async def send(self, event: dict) -> None:
        self.sent.append(event)

    def feed(self, event: dict) -> None:
        self.events.append(event)
        self._more.set()


def scope(path: str, *, extensions: dict | None = None, subprotocols=(), query: bytes = b"") -> dict:
    return {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"test"), (b"origin", b"https://app.example")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
        "subprotocols": list(subprotocols),
        "extensions": extensions or {},
    }


def test_the_events_of_a_connection_in_order():
    api = BoltAPI()

    @api.websocket("/ws")
    async def handler(websocket: WebSocket):
        await websocket.accept(subprotocol="v2", headers=[("X-Served-By", "bolt")])
        message = await websocket.receive_text()
        await websocket.send_text(message.upper())
        await websocket.send_bytes(b"\x00")
        await websocket.close(4000, "done")

    recorder = Recorder([{"type": "websocket.connect"}, {"type": "websocket.receive", "text": "hi"}])

    async def main():
        task = asyncio.ensure_future(api(scope("/ws", subprotocols=["v1", "v2"]), recorder.receive, recorder.send))
        while not any(event["type"] == "websocket.close" for event in recorder.sent):
            await asyncio.sleep(0.001)
        recorder.feed({"type": "websocket.disconnect", "code": 4000})
        await asyncio.wait_for(task, 5)

    asyncio.run(main())
    assert recorder.sent == [
        {"type": "websocket.accept", "subprotocol": "v2", "headers": [(b"x-served-by", b"bolt")]},
        {"type": "websocket.send", "text": "HI"},
        {"type": "websocket.send", "bytes": b"\x00"},
        {"type": "websocket.close", "code": 4000, "reason": "done"},
    ]


@pytest.mark.parametrize("extension", [True, False], ids=["http-response", "no-extension"])
def test_a_refusal_is_an_http_answer_where_the_server_can_send_one_else_a_close(extension):
    api = BoltAPI(allowed_origins=["https://other.example"])

    @api.websocket("/ws")
    async def handler(websocket: WebSocket):
        await websocket.accept()

    recorder = Recorder([{"type": "websocket.connect"}])
    extensions = {"websocket.http.response": {}} if extension else {}
    asyncio.run(asyncio.wait_for(api(scope("/ws", extensions=extensions), recorder.receive, recorder.send), 5))
    if extension:
        start, body = recorder.sent
        assert start["type"] == "websocket.http.response.start" and start["status"] == 403
        assert body == {"type": "websocket.http.response.body", "body": b"Origin not allowed"}
    else:
        assert recorder.sent == [{"type": "websocket.close", "code": 1000}]  # the server answers 403


def test_lifespan_runs_prepare_startup_and_shutdown():
    api = BoltAPI()
    calls = []
    api.on_startup(lambda: calls.append("startup"))
    api.on_shutdown(lambda: calls.append("shutdown"))
    recorder = Recorder([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    asyncio.run(asyncio.wait_for(api({"type": "lifespan"}, recorder.receive, recorder.send), 5))
    assert calls == ["startup", "shutdown"]
    assert recorder.sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]


def test_a_startup_that_cannot_serve_fails_the_lifespan():
    from bolt.auth import JWTAuthentication

    api = BoltAPI()

    @api.websocket("/ws", auth=[JWTAuthentication()])  # no secret anywhere
    async def handler(websocket: WebSocket):
        await websocket.accept()

    recorder = Recorder([{"type": "lifespan.startup"}])
    saved = os.environ.pop("BOLT_JWT_SECRET", None)
    try:
        asyncio.run(asyncio.wait_for(api({"type": "lifespan"}, recorder.receive, recorder.send), 5))
    finally:
        if saved is not None:
            os.environ["BOLT_JWT_SECRET"] = saved
    [failed] = recorder.sent
    assert failed["type"] == "lifespan.startup.failed" and "secret" in failed["message"]
