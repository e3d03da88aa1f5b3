"""The examples (echo, chat rooms, broadcast) through the real server, and the demo started exactly as
the README starts it: ``python -m bolt examples.chat:api --port ...`` from the repository root."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from bolt import WebSocketDisconnect
from bolt.testing import TestClient
from examples import broadcast, chat, echo

ROOT = Path(__file__).resolve().parent.parent


def on_server_loop(client: TestClient, function):
    """Run ``function()`` on the server's event loop thread (the only thread that may touch the
    examples' shared dicts and sets) and return its result."""

    async def call():
        return function()

    return client._call(call())


def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for the server")
        time.sleep(0.01)


# Echo


def test_echo():
    with TestClient(echo.api) as client:
        with client.websocket_connect("/ws/echo") as ws:
            ws.send_text("Hello")
            assert ws.receive_text() == "Echo: Hello"
            ws.send_text("é and 🎉")
            assert ws.receive_text() == "Echo: é and 🎉"
        page = client.get("/")
        assert page.status == 200
        assert page.headers.get("Content-Type").startswith("text/html")
        assert "/ws/echo" in page.text


# Chat


@pytest.fixture(scope="module")
def chat_client():
    with TestClient(chat.api) as client:
        yield client


def join(client: TestClient, room: str, name: str | None = None):
    """Connect to ``room`` and read the member list, which says the server has registered us."""
    path = f"/ws/room/{room}" + ("" if name is None else f"?name={name}")
    ws = client.websocket_connect(path)
    welcome = ws.receive_json()
    assert welcome["type"] == "members" and welcome["room"] == room
    return ws, welcome


def test_chat_two_members_see_messages_and_notices(chat_client):
    alice, welcome = join(chat_client, "lobby", "alice")
    assert welcome == {"type": "members", "room": "lobby", "name": "alice", "members": ["alice"]}
    with alice:
        bob, welcome = join(chat_client, "lobby", "bob")
        assert welcome["members"] == ["alice", "bob"]
        with bob:
            assert alice.receive_json() == {"type": "join", "room": "lobby", "name": "bob"}
            alice.send_text("hello bob")
            expected = {"type": "message", "room": "lobby", "name": "alice", "text": "hello bob"}
            assert alice.receive_json() == expected  # the sender sees its own line: it was delivered
            assert bob.receive_json() == expected
            bob.send_text("hi alice")
            expected = {"type": "message", "room": "lobby", "name": "bob", "text": "hi alice"}
            assert bob.receive_json() == expected
            assert alice.receive_json() == expected
        assert alice.receive_json() == {"type": "leave", "room": "lobby", "name": "bob"}


def test_chat_rooms_are_separate(chat_client):
    alice, _ = join(chat_client, "a", "alice")
    carol, welcome = join(chat_client, "b", "carol")
    assert welcome["members"] == ["carol"]  # alice is in another room
    with alice, carol:
        alice.send_text("only for a")
        assert alice.receive_json()["text"] == "only for a"
        carol.send_text("only for b")
        # The first thing carol receives is her own line: nothing from room a came before it.
        assert carol.receive_json() == {"type": "message", "room": "b", "name": "carol", "text": "only for b"}
        alice.send_text("still a")
        assert alice.receive_json()["text"] == "still a"  # and nothing from room b reached alice


def test_chat_member_list(chat_client):
    first, _ = join(chat_client, "members", "ann")
    second, welcome = join(chat_client, "members", "ben")
    assert welcome["members"] == ["ann", "ben"]
    third, welcome = join(chat_client, "members")
    assert welcome["name"] == "anonymous"
    assert welcome["members"] == ["ann", "ben", "anonymous"]
    assert first.receive_json() == {"type": "join", "room": "members", "name": "ben"}
    assert first.receive_json() == {"type": "join", "room": "members", "name": "anonymous"}
    second.close()
    assert first.receive_json() == {"type": "leave", "room": "members", "name": "ben"}
    fourth, welcome = join(chat_client, "members", "dee")
    assert welcome["members"] == ["ann", "anonymous", "dee"]
    for ws in (first, third, fourth):
        ws.close()
    # The last one out takes the room with it.
    wait_until(lambda: on_server_loop(chat_client, lambda: "members" not in chat.rooms))


def test_chat_names_are_trimmed_and_limited(chat_client):
    ws, welcome = join(chat_client, "names", "%20%20zoe%20")
    assert welcome["name"] == "zoe"
    ws.close()
    with chat_client.websocket_connect("/ws/room/names?name=" + "x" * 33) as ws:
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive()
    assert closed.value.code == 1008
    assert "longer than 32" in closed.value.reason


def test_chat_overlong_message_gets_an_error_and_the_connection_stays(chat_client):
    ws, _ = join(chat_client, "long", "lou")
    with ws:
        ws.send_text("x" * (chat.MAX_TEXT + 1))
        assert ws.receive_json() == {"type": "error", "reason": "message is longer than 2000 characters"}
        ws.send_text("é" * chat.MAX_TEXT)  # the limit is characters, not bytes: 2,000 é are 4,000 bytes
        assert ws.receive_json()["text"] == "é" * chat.MAX_TEXT
        ws.send_text("   ")  # blank lines are not broadcast
        ws.send_text("still here")
        assert ws.receive_json()["text"] == "still here"


def test_chat_huge_or_binary_messages_close_the_connection(chat_client):
    ws, _ = join(chat_client, "huge", "hugh")
    with ws:
        ws.send_text("x" * (65 * 1024))  # over max_message_size: bolt closes before the handler sees it
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive()
    assert closed.value.code == 1009
    ws, _ = join(chat_client, "huge", "hugh")
    with ws:
        ws.send_bytes(b"\x00")
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive()
    assert closed.value.code == 1003


def test_chat_member_whose_connection_drops_does_not_break_the_others(chat_client):
    alice, _ = join(chat_client, "drops", "alice")
    bob, _ = join(chat_client, "drops", "bob")
    carol, _ = join(chat_client, "drops", "carol")
    # No close frame: carol's TCP connection just goes away, as when a laptop lid closes.
    on_server_loop(chat_client, carol.websocket._session.transport.abort)
    with alice, bob:
        for number in range(20):
            alice.send_text(f"line {number}")
        seen = {"alice": [], "bob": []}
        for name, ws in (("alice", alice), ("bob", bob)):
            while len([m for m in seen[name] if m["type"] == "message"]) < 20 or not any(
                m["type"] == "leave" for m in seen[name]
            ):
                seen[name].append(ws.receive_json())
        for name in ("alice", "bob"):
            lines = [m["text"] for m in seen[name] if m["type"] == "message"]
            assert lines == [f"line {number}" for number in range(20)]
            assert {"type": "leave", "room": "drops", "name": "carol"} in seen[name]


def test_chat_page(chat_client):
    page = chat_client.get("/")
    assert page.status == 200
    assert page.headers.get("Content-Type") == "text/html; charset=utf-8"
    html = page.text
    assert "new WebSocket(" in html
    assert "ws://${location.host}/ws/room/" in html
    assert "onclose" in html and "event.code" in html and "event.reason" in html
    # Self-contained: the demo machine may be offline.
    assert "http://" not in html and "https://" not in html and "<link" not in html and " src=" not in html


def test_chat_health(chat_client):
    response = chat_client.get("/health")
    assert response.status == 200
    assert response.headers.get("Content-Type") == "application/json"
    assert response.json() == {"status": "ok"}


# Broadcast


def test_broadcast_reaches_all_three_clients_and_forgets_them_when_they_leave():
    with TestClient(broadcast.api) as client:
        sockets = [client.websocket_connect("/ws/broadcast") for _ in range(3)]
        wait_until(lambda: on_server_loop(client, lambda: broadcast.api.group_size("everyone")) == 3)
        for index, sender in enumerate(sockets):
            sender.send_text(f"from {index}")
            for ws in sockets:
                assert ws.receive_text() == f"from {index}"
        # One leaves without a closing handshake: the others still get every message.
        on_server_loop(client, sockets[2].websocket._session.transport.abort)
        wait_until(lambda: on_server_loop(client, lambda: broadcast.api.group_size("everyone")) == 2)
        sockets[0].send_text("after the drop")
        for ws in sockets[:2]:
            assert ws.receive_text() == "after the drop"
        for ws in sockets[:2]:
            ws.close()
        wait_until(lambda: on_server_loop(client, lambda: broadcast.api.group_size("everyone")) == 0)


# The demo as the README starts it


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}: {process.stderr.read()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"nothing listening on port {port} after {timeout} s")


def test_readme_command_serves_the_chat_and_shuts_down_on_sigterm():
    websockets_client = pytest.importorskip("websockets.asyncio.client")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bolt", "examples.chat:api", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Drain the log as it comes so a chatty server can never block on a full pipe.
    log: list[str] = []
    reader = threading.Thread(target=lambda: log.extend(process.stderr), daemon=True)
    try:
        wait_for_port(port, process)
        reader.start()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert "new WebSocket(" in response.read().decode()

        async def chat_and_shut_down() -> int:
            base = f"ws://127.0.0.1:{port}/ws/room/readme"
            async with websockets_client.connect(f"{base}?name=alice") as alice:
                assert json.loads(await alice.recv())["members"] == ["alice"]
                async with websockets_client.connect(f"{base}?name=bob") as bob:
                    assert json.loads(await bob.recv())["members"] == ["alice", "bob"]
                    assert json.loads(await alice.recv()) == {"type": "join", "room": "readme", "name": "bob"}
                    await bob.send("hello from bob")
                    for ws in (alice, bob):
                        message = json.loads(await ws.recv())
                        assert message == {"type": "message", "room": "readme", "name": "bob", "text": "hello from bob"}
                assert json.loads(await alice.recv())["type"] == "leave"
                # Still connected when the server is told to stop: it closes us with 1001.
                process.send_signal(signal.SIGTERM)
                await alice.wait_closed()
                return alice.close_code

        assert asyncio.run(asyncio.wait_for(chat_and_shut_down(), 15)) == 1001
        assert process.wait(timeout=5) == 0, "".join(log)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if reader.is_alive():
            reader.join(1)
        process.stdout.close()
        process.stderr.close()
