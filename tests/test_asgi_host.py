"""bolt's server running ASGI apps (``python -m bolt module:app --asgi``): a Starlette app and a
FastAPI app, each with HTTP and WebSocket routes, driven by httpx and the websockets client."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(params=["uvloop", "asyncio"])
def serve(request, tmp_path):
    servers = []

    def start(target: str) -> int:
        port = free_port()
        log = tmp_path / f"{len(servers)}.log"
        with open(log, "wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "bolt", target, "--asgi", "--port", str(port), "--loop", request.param],
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stderr=sink,
            )
        servers.append((process, log))
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return port
            except OSError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline
                time.sleep(0.05)

    yield start
    for process, log in servers:
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0, log.read_text()
        text = log.read_text()
        # The one traceback allowed is the deliberate one of tests.asgi_apps' /fail route.
        assert text.count("Traceback") == text.count("RuntimeError: an app bug"), text


def test_a_starlette_app(serve):
    port = serve("tests.asgi_apps:starlette_ws")

    async def main():
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/echo", subprotocols=["echo"]) as peer:
            assert peer.subprotocol == "echo"
            await peer.send("hi")
            assert await peer.recv() == "starlette: hi"
            await peer.send("close")
            with pytest.raises(ConnectionClosed) as closed:
                await peer.recv()
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4002, "asked to")
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/json") as peer:
            await peer.send(json.dumps({"a": [1, 2]}))
            assert json.loads(await peer.recv()) == {"got": {"a": [1, 2]}}
            assert await peer.recv() == b"\x00\x01"
        with pytest.raises(InvalidStatus) as refused:
            await websockets.connect(f"ws://127.0.0.1:{port}/ws/refuse")
        assert refused.value.response.status_code == 403
        with pytest.raises(InvalidStatus) as missing:
            await websockets.connect(f"ws://127.0.0.1:{port}/ws/nowhere")
        assert missing.value.response.status_code == 403  # Starlette closes an unrouted WebSocket
        async with httpx.AsyncClient() as http:
            page = await http.get(f"http://127.0.0.1:{port}/")
            head = await http.head(f"http://127.0.0.1:{port}/")
        assert (page.status_code, page.text) == (200, "starlette here")
        assert page.headers["content-type"].startswith("text/plain")
        assert (head.status_code, head.content, head.headers["content-length"]) == (200, b"", "14")

    asyncio.run(main())


def test_a_fastapi_app(serve):
    port = serve("tests.asgi_apps:fastapi_app")

    async def main():
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/7") as peer:
            for text in ("one", "two"):
                await peer.send(text)
                assert await peer.recv() == f"client 7: {text}"
        with pytest.raises(InvalidStatus):
            await websockets.connect(f"ws://127.0.0.1:{port}/ws/not-an-int")
        async with httpx.AsyncClient() as http:
            item = await http.get(f"http://127.0.0.1:{port}/items/5?q=x")
            invalid = await http.get(f"http://127.0.0.1:{port}/items/five")
        assert item.json() == {"item_id": 5, "q": "x"}
        assert invalid.status_code == 422

    asyncio.run(main())


def test_the_events_an_app_receives_in_order(run):
    """A recording app on bolt's server in this process: connect, the messages, then disconnect
    with the client's code; and what it sends arrives as it sent it."""
    from bolt.client import connect
    from bolt.transport.asgi_host import AsgiHost
    from bolt.transport.server import Server

    received: list[dict] = []

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                event = await receive()
                received.append(event)
                await send({"type": event["type"] + ".complete"})
                if event["type"] == "lifespan.shutdown":
                    return
        assert scope["type"] == "websocket" and scope["path"] == "/ws" and scope["query_string"] == b"a=1"
        received.append(await receive())
        await send({"type": "websocket.accept", "subprotocol": "v1", "headers": [(b"x-app", b"yes")]})
        while True:
            event = await receive()
            received.append(event)
            if event["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.send", "text": event.get("text") or "", "bytes": None})

    async def main():
        server = Server(AsgiHost(app))
        (host, port, *_), *_ = await server.start("127.0.0.1", 0)
        try:
            async with connect(f"ws://127.0.0.1:{port}/ws?a=1", subprotocols=["v0", "v1"]) as peer:
                assert peer.subprotocol == "v1" and peer.response_headers["X-App"] == "yes"
                await peer.send_text("hello")
                assert await peer.receive_text() == "hello"
                await peer.send_bytes(b"\x01")
                assert await peer.receive_text() == ""
                await peer.close(4005, "bye")
            await asyncio.sleep(0.05)
        finally:
            await server.shutdown()

    run(main())
    assert received == [
        {"type": "lifespan.startup"},
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "hello"},
        {"type": "websocket.receive", "bytes": b"\x01"},
        {"type": "websocket.disconnect", "code": 4005, "reason": "bye"},
        {"type": "lifespan.shutdown"},
    ]


def test_http_bodies_streaming_keep_alive_and_head(serve):
    port = serve("tests.asgi_apps:http_app")
    base = f"http://127.0.0.1:{port}"

    async def main():
        async with httpx.AsyncClient() as http:  # one connection, kept alive
            big = bytes(range(256)) * 1000  # 256 KB: read in parts, with backpressure
            echoed = await http.post(f"{base}/echo", content=big)
            assert echoed.content == big and echoed.headers["x-size"] == str(len(big))

            async def chunks():
                for i in range(4):
                    yield b"chunk%d;" % i

            chunked = await http.post(f"{base}/echo", content=chunks())  # sent chunked
            assert chunked.content == b"chunk0;chunk1;chunk2;chunk3;"
            streamed = await http.get(f"{base}/stream")
            assert streamed.text == "".join(f"part {i}\n" for i in range(5))
            assert streamed.headers["transfer-encoding"] == "chunked"
            head = await http.head(f"{base}/stream")
            assert head.status_code == 200 and head.content == b""
            missing = await http.get(f"{base}/nowhere")
            assert (missing.status_code, missing.content) == (404, b"no such page")
            failed = await http.get(f"{base}/fail")
            assert failed.status_code == 500
            after = await http.post(f"{base}/echo", content=b"still here")
            assert after.content == b"still here"

    asyncio.run(main())


def test_pipelined_requests_are_answered_in_order_and_can_end_in_a_websocket(serve):
    """Three requests in one write, the third an opening handshake: two HTTP answers in order,
    then the 101 on the same connection."""
    port = serve("tests.asgi_apps:starlette_ws")

    async def main():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        answers = b""
        while answers.count(b"HTTP/1.1 ") < 3 or not answers.endswith(b"\r\n\r\n"):
            answers += await asyncio.wait_for(reader.read(65536), 5)
        writer.close()
        return answers

    answers = asyncio.run(main())
    first, second = answers.index(b"HTTP/1.1 200"), answers.index(b"HTTP/1.1 200", answers.index(b"HTTP/1.1 200") + 1)
    assert first < second < answers.index(b"HTTP/1.1 101")
    assert answers.count(b"starlette here") == 2
