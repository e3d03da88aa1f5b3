"""``TestClient`` reports what went wrong on the server side, and leaves nothing running behind it."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from bolt import BoltAPI, WebSocket
from bolt.testing import TestClient


def failing_api() -> BoltAPI:
    api = BoltAPI()

    @api.websocket("/boom")
    async def boom(websocket: WebSocket):
        await websocket.accept()
        message = await websocket.receive_text()
        raise LookupError(f"the handler failed on {message!r}")

    @api.websocket("/fine")
    async def fine(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text(await websocket.receive_text())

    @api.websocket("/blocks")
    async def blocks(websocket: WebSocket):
        await websocket.accept()
        time.sleep(1.5)  # blocking code in an async handler: the whole loop stops

    return api


def test_the_handlers_exception_is_raised_when_the_block_ends():
    with TestClient(failing_api()) as client:
        with pytest.raises(LookupError, match="the handler failed on 'x'"):
            with client.websocket_connect("/boom") as ws:
                ws.send_text("x")
        # The next connection starts clean: the failure was reported once, to its own block.
        with client.websocket_connect("/fine") as ws:
            ws.send_text("y")
            assert ws.receive_text() == "y"


def test_raise_server_exceptions_false_leaves_the_failure_in_the_log(caplog):
    with TestClient(failing_api(), raise_server_exceptions=False) as client:
        with client.websocket_connect("/boom") as ws:
            ws.send_text("x")
    assert "failed" in caplog.text and "LookupError" in caplog.text


def test_a_handler_that_blocks_the_loop_leaves_no_thread_or_listening_port():
    client = TestClient(failing_api(), timeout=1.0)
    with pytest.raises((TimeoutError, RuntimeError)):
        with client:
            port = client.port
            with client.websocket_connect("/blocks") as ws:
                ws.send_text("x")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(t.name == "bolt-test-server" for t in threading.enumerate()):
        time.sleep(0.05)
    assert not any(thread.name == "bolt-test-server" for thread in threading.enumerate())
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
