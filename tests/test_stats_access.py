"""``websocket.stats`` (messages and bytes each way by type, pings and round trips, duration, close
code and who closed) and the access log (one line per handshake answered and per connection end,
text or JSON, never a token, a cookie or a query value), through a real server on loopback."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jwt as pyjwt
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from bolt import BoltAPI, Settings, WebSocket
from bolt.auth import JWTAuthentication
from bolt.client import connect
from bolt.testing import AsyncTestClient

ROOT = Path(__file__).resolve().parent.parent
SECRET = "access-log-tests-secret-of-32-bytes!"


def token(user: str) -> str:
    return pyjwt.encode({"sub": user, "exp": int(time.time()) + 600}, SECRET, algorithm="HS256")


# websocket.stats


def test_stats_count_each_direction_by_type_with_pings_and_broadcasts(run):
    api = BoltAPI()
    seen = {}

    @api.websocket("/ws")
    async def handler(websocket: WebSocket):
        await websocket.accept()
        await websocket.join("g")
        await websocket.receive_text()  # "é" * 3: 6 bytes
        await websocket.receive_bytes()  # 100 bytes
        await websocket.send_text("ünï")  # 5 bytes
        await websocket.send_bytes(b"\x00" * 70_000)  # a zero-copy send
        await api.broadcast("g", "to all")  # 6 bytes, written to this member as a broadcast
        seen["rtt"] = await websocket.ping()
        seen["open"] = websocket.stats
        await websocket.receive_text()

    async def main():
        async with AsyncTestClient(api) as client:
            async with connect(client.url("/ws")) as peer:
                await peer.send_text("ééé")
                await peer.send_bytes(b"\x01" * 100)
                for _ in range(3):
                    await peer.receive()
                await peer.ping()
                await peer.send_text("bye")

    run(main())
    stats = seen["open"]
    assert (stats.text_received, stats.text_bytes_received, stats.binary_received, stats.binary_bytes_received) == (
        1,
        6,
        1,
        100,
    )
    assert (stats.text_sent, stats.text_bytes_sent, stats.binary_sent, stats.binary_bytes_sent) == (2, 11, 1, 70_000)
    assert (stats.messages_received, stats.bytes_received, stats.messages_sent, stats.bytes_sent) == (2, 106, 3, 70_011)
    assert stats.pings_sent == 1 and stats.pongs_received == 1 and stats.last_rtt == pytest.approx(seen["rtt"], abs=0.01)
    assert stats.duration > 0 and stats.close_code is None and stats.closed_by is None


@pytest.mark.parametrize("closer", ["client", "server"])
def test_stats_say_how_the_connection_ended(run, closer):
    api = BoltAPI()
    ended = {}

    @api.websocket("/ws")
    async def handler(websocket: WebSocket):
        await websocket.accept()
        try:
            if closer == "server":
                await websocket.close(4000, "done")
            else:
                await websocket.receive_text()  # raises WebSocketDisconnect when the client closes
        finally:
            ended["stats"] = websocket.stats

    async def main():
        async with AsyncTestClient(api) as client:
            peer = await connect(client.url("/ws"))
            if closer == "client":
                await peer.close(1000)
            else:
                with pytest.raises(Exception):
                    await peer.receive_text()
            for _ in range(200):
                if "stats" in ended:
                    break
                await asyncio.sleep(0.01)

    run(main())
    stats = ended["stats"]
    assert stats.closed_by == closer
    assert stats.close_code == (1000 if closer == "client" else 4000)
    assert stats.duration > 0


# The access log


def private_api(**settings) -> BoltAPI:
    api = BoltAPI(jwt_secret=SECRET, **settings)

    @api.websocket("/private", auth=[JWTAuthentication(token_sources=["query", "header"])])
    async def private(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("hello " + websocket.context["user_id"])
        await websocket.receive_text()

    @api.websocket("/public")
    async def public(websocket: WebSocket):
        await websocket.accept()
        await websocket.close(1000)

    return api


def access_lines(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "bolt.access"]


@pytest.mark.parametrize("format", ["text", "json"])
def test_accepted_refused_and_auth_failed_handshakes_and_the_end_are_logged_without_secrets(run, caplog, format):
    api = private_api(access_log=format)
    secret_token = token("alice")

    async def main():
        async with AsyncTestClient(api) as client:
            async with websockets.connect(client.url(f"/private?token={secret_token}&room=secret-room")) as peer:
                assert await peer.recv() == "hello alice"
                await peer.send("bye")
            with pytest.raises(InvalidStatus):
                await websockets.connect(client.url("/private?token=not.a.valid-token-value"))
            with pytest.raises(InvalidStatus):
                await websockets.connect(client.url("/nowhere?token=another-secret-value"))
            async with websockets.connect(client.url("/public")) as peer:
                await peer.wait_closed()
            await asyncio.sleep(0.1)  # the end lines are written as TCP closes

    with caplog.at_level(logging.INFO, logger="bolt.access"):
        run(main())
    lines = access_lines(caplog)
    text = "\n".join(lines)
    for secret in (secret_token, "not.a.valid-token-value", "another-secret-value", "secret-room", "token="):
        assert secret not in text
    if format == "json":
        records = [json.loads(line) for line in lines]
        handshakes = [(r["path"], r["status"], r["user"]) for r in records if r["event"] == "handshake"]
        assert handshakes == [("/private", 101, "alice"), ("/private", 401, None), ("/nowhere", 404, None), ("/public", 101, None)]
        closed = {r["path"]: r for r in records if r["event"] == "closed"}
        assert closed["/private"]["user"] == "alice"
        assert (closed["/private"]["messages_in"], closed["/private"]["messages_out"]) == (1, 1)
        assert (closed["/private"]["bytes_in"], closed["/private"]["bytes_out"]) == (3, 11)
        assert (closed["/private"]["close_code"], closed["/private"]["closed_by"]) == (1000, "client")
        assert (closed["/public"]["close_code"], closed["/public"]["closed_by"]) == (1000, "server")
        assert all(r["client"].startswith("127.0.0.1:") for r in records)
    else:
        assert '"GET /private" 101 user=alice' in text
        assert '"GET /private" 401 user=-' in text
        assert '"GET /nowhere" 404 user=-' in text
        assert '"/private" closed 1000 by client after' in text
        assert "in=1/3B out=1/11B user=alice" in text
        assert '"/public" closed 1000 by server' in text


def test_the_access_log_is_off_by_default(run, caplog):
    api = private_api()

    async def main():
        async with AsyncTestClient(api) as client:
            async with websockets.connect(client.url("/public")) as peer:
                await peer.wait_closed()

    with caplog.at_level(logging.INFO, logger="bolt.access"):
        run(main())
    assert access_lines(caplog) == []


def test_a_path_cannot_forge_a_line():
    from bolt.transport.access import _clean

    assert _clean('/a" 200 user=admin\nforged') == '/a\\" 200 user=admin\\nforged'
    assert _clean("/plain/path") == "/plain/path"


def test_access_log_values_are_checked():
    with pytest.raises(ValueError, match="access_log"):
        Settings(access_log="verbose")


def test_the_command_line_turns_it_on_whatever_the_log_level(tmp_path):
    from tests.test_groups import free_port, wait_listening

    port = free_port()
    log = tmp_path / "stderr"
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "bolt", "tests.cli_app:api", "--port", str(port), "--log-level", "warning", "--access-log"],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stderr=sink,
        )
    try:
        wait_listening(port, process)

        async def visit():
            async with websockets.connect(f"ws://127.0.0.1:{port}/pid?token=hidden") as peer:
                await peer.recv()

        asyncio.run(visit())
        time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(15)
    text = log.read_text()
    assert '"GET /pid" 101 user=-' in text
    assert '"/pid" closed 1000 by server' in text
    assert "hidden" not in text
