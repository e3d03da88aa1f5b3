"""The seed page's "Authentication" section, as written, end to end: with bolt's TestClient and with
another client (websockets) carrying ``?token=<jwt>`` as the page's browser snippet does."""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest
import websockets
from websockets.asyncio.client import connect as websockets_connect

from bolt import BoltAPI, HandshakeRejected, WebSocket
from bolt.auth import IsAuthenticated, JWTAuthentication
from bolt.testing import AsyncTestClient, TestClient

SECRET = "the-seed-pages-secret-from-the-environment-0123456789"

api = BoltAPI()


@api.websocket(
    "/ws/protected",
    auth=[JWTAuthentication()],
    guards=[IsAuthenticated()]
)
async def protected(websocket: WebSocket):
    user_id = websocket.context.get("user_id")
    await websocket.accept()
    await websocket.send_text(f"Welcome, user {user_id}")


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("BOLT_JWT_SECRET", SECRET)


def token_for(user: str, lifetime: int = 300, key: str = SECRET) -> str:
    return jwt.encode({"sub": user, "exp": int(time.time()) + lifetime}, key, algorithm="HS256")


def test_with_the_test_client():
    with TestClient(api) as client:
        with client.websocket_connect(f"/ws/protected?token={token_for('alice')}") as ws:
            assert ws.receive_text() == "Welcome, user alice"
        with pytest.raises(HandshakeRejected) as refused:
            client.websocket_connect("/ws/protected")
        assert refused.value.status == 401
        with pytest.raises(HandshakeRejected) as refused:
            client.websocket_connect(f"/ws/protected?token={token_for('mallory', key='x' * 32)}")
        assert (refused.value.status, refused.value.body) == (401, b"invalid token signature")


def test_with_the_websockets_client():
    """``new WebSocket("ws://localhost:8000/ws/protected?token=<jwt>")``, from another library."""

    async def main():
        async with AsyncTestClient(api) as client:
            url = client.url("/ws/protected")
            async with websockets_connect(f"{url}?token={token_for('bob')}") as ws:
                assert await ws.recv() == "Welcome, user bob"
            with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
                async with websockets_connect(f"{url}?token={token_for('bob', lifetime=-60)}"):
                    pass
            assert refused.value.response.status_code == 401
            assert refused.value.response.body == b"token expired"
            assert refused.value.response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')

    asyncio.run(main())
