"""``close_at_expiry``: a connection whose token expires while it is open is closed with 4001 at
``exp``; the timer is cancelled when the connection ends first; without the option nothing happens."""

from __future__ import annotations

import asyncio
import time

import pytest

import bolt.api
from bolt import BoltAPI, WebSocket, WebSocketDisconnect
from bolt.auth import APIKeyAuthentication, JWTAuthentication
from bolt.auth.expiry import ExpiryTimer
from bolt.testing import AsyncTestClient
from tests.test_auth_support import SECRET, hs256


def make_api(**options) -> BoltAPI:
    api = BoltAPI(auth=[JWTAuthentication(SECRET)], **options)

    @api.websocket("/echo")
    async def echo(websocket: WebSocket):
        await websocket.accept()
        async for message in websocket.iter_text():
            await websocket.send_text(message)

    @api.websocket("/late")
    async def late(websocket: WebSocket):
        await asyncio.sleep(1.5)  # accepts only after the token expired
        await websocket.accept()
        async for message in websocket.iter_text():
            await websocket.send_text(message)

    @api.websocket("/key", auth=[APIKeyAuthentication(["a-key-1234567"])])
    async def key(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text(str(websocket.context["expires_at"]))
        await websocket.receive_text()

    return api


@pytest.fixture
def timers(monkeypatch):
    """Every expiry timer the API arms."""
    made: list[ExpiryTimer] = []

    class Recorded(ExpiryTimer):
        __slots__ = ()

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(bolt.api, "ExpiryTimer", Recorded)
    return made


def expires_in(seconds: float) -> tuple[str, int]:
    exp = int(time.time() + seconds) + 1  # exp is whole seconds: at least `seconds` from now
    return hs256(exp=exp, aud=None, iss=None), exp


def test_closed_with_4001_at_exp(timers):
    async def main():
        token, exp = expires_in(1)
        async with AsyncTestClient(make_api(close_at_expiry=True)) as client:
            async with client.websocket_connect(f"/echo?token={token}") as ws:
                await ws.send_text("still here")
                assert await ws.receive_text() == "still here"
                with pytest.raises(WebSocketDisconnect) as closed:
                    await asyncio.wait_for(ws.receive_text(), 5)
                closed_at = time.time()
        assert (closed.value.code, closed.value.reason) == (4001, "token expired")
        assert exp - 0.05 <= closed_at < exp + 1.0
        assert len(timers) == 1

    asyncio.run(main())


def test_route_option_overrides_the_api(timers):
    async def main():
        api = BoltAPI(auth=[JWTAuthentication(SECRET)], close_at_expiry=True)

        @api.websocket("/keep", close_at_expiry=False)
        async def keep(websocket: WebSocket):
            await websocket.accept()
            await websocket.send_text("ok")
            await websocket.receive_text()

        token, _ = expires_in(1)
        async with AsyncTestClient(api) as client:
            async with client.websocket_connect(f"/keep?token={token}") as ws:
                assert await ws.receive_text() == "ok"
        assert timers == []

    asyncio.run(main())


def test_without_the_option_the_connection_outlives_its_token(timers):
    async def main():
        token, exp = expires_in(0.5)
        async with AsyncTestClient(make_api()) as client:
            async with client.websocket_connect(f"/echo?token={token}") as ws:
                await asyncio.sleep(max(0.0, exp - time.time()) + 0.2)
                await ws.send_text("after exp")
                assert await ws.receive_text() == "after exp"
        assert timers == []

    asyncio.run(main())


def test_timer_cancelled_when_the_connection_ends_first(timers):
    async def main():
        token, _ = expires_in(300)
        async with AsyncTestClient(make_api(close_at_expiry=True)) as client:
            async with client.websocket_connect(f"/echo?token={token}") as ws:
                await ws.send_text("hi")
                await ws.receive_text()
            for _ in range(100):
                if timers and timers[0].handle.cancelled():
                    break
                await asyncio.sleep(0.01)
        assert len(timers) == 1 and timers[0].handle.cancelled()
        assert timers[0].closing is None

    asyncio.run(main())


def test_handler_that_accepts_after_exp_is_closed_once_it_accepts(timers):
    async def main():
        token, _ = expires_in(0.2)
        async with AsyncTestClient(make_api(close_at_expiry=True)) as client:
            async with client.websocket_connect(f"/late?token={token}") as ws:
                with pytest.raises(WebSocketDisconnect) as closed:
                    await asyncio.wait_for(ws.receive_text(), 5)
        assert closed.value.code == 4001

    asyncio.run(main())


def test_credentials_without_expiry_arm_no_timer(timers):
    async def main():
        async with AsyncTestClient(make_api(close_at_expiry=True)) as client:
            async with client.websocket_connect("/key", headers=[("X-API-Key", "a-key-1234567")]) as ws:
                assert await ws.receive_text() == "None"
        assert timers == []

    asyncio.run(main())


def test_leeway_extends_the_close_time():
    backend = JWTAuthentication(SECRET, leeway=30)
    token, exp = expires_in(10)

    class FakeWebSocket:
        from bolt.protocol.http import Headers

        headers = Headers([("Authorization", f"Bearer {token}")])
        query_params: dict = {}
        cookies: dict = {}
        subprotocols: list = []

    backend.prepare()
    assert backend.authenticate(FakeWebSocket())["expires_at"] == exp + 30
