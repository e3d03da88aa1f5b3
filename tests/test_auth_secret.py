"""``JWTAuthentication()`` with no secret: it comes from ``BoltAPI(jwt_secret=...)`` or the
``BOLT_JWT_SECRET`` environment variable when the server starts, and with neither the server
refuses to start. There is never a default key."""

from __future__ import annotations

import asyncio

import pytest

from bolt import BoltAPI, WebSocket
from bolt.auth import ConfigurationError, IsAuthenticated, JWTAuthentication
from bolt.testing import TestClient
from bolt.transport.server import Server
from tests.test_auth_support import OTHER_SECRET, SECRET, hs256, outcome


def make_api(**options) -> BoltAPI:
    api = BoltAPI(**options)

    @api.websocket("/ws/protected", auth=[JWTAuthentication()], guards=[IsAuthenticated()])
    async def protected(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text(f"Welcome, user {websocket.context.get('user_id')}")

    return api


def start(api: BoltAPI) -> None:
    """Start and stop a real server for ``api``."""

    async def main():
        server = Server(api, api.settings)
        try:
            await server.start("127.0.0.1", 0)
        finally:
            await server.shutdown(timeout=1)

    asyncio.run(main())


def test_no_secret_anywhere_refuses_to_start(monkeypatch):
    monkeypatch.delenv("BOLT_JWT_SECRET", raising=False)
    api = make_api()
    with pytest.raises(ConfigurationError, match="BOLT_JWT_SECRET"):
        start(api)


def test_no_socket_is_bound_when_refusing(monkeypatch):
    monkeypatch.delenv("BOLT_JWT_SECRET", raising=False)

    async def main():
        server = Server(make_api())
        with pytest.raises(ConfigurationError):
            await server.start("127.0.0.1", 0)
        assert server.addresses == []

    asyncio.run(main())


def test_secret_from_the_environment(monkeypatch):
    monkeypatch.setenv("BOLT_JWT_SECRET", SECRET)
    with TestClient(make_api()) as client:
        result = outcome(client, f"/ws/protected?token={hs256(aud=None, iss=None)}")
    assert (result.kind, result.text) == ("open", "Welcome, user 42")


def test_environment_read_when_the_server_starts_not_at_registration(monkeypatch):
    monkeypatch.delenv("BOLT_JWT_SECRET", raising=False)
    api = make_api()  # routes registered with no secret anywhere yet
    monkeypatch.setenv("BOLT_JWT_SECRET", SECRET)
    with TestClient(api) as client:
        assert outcome(client, f"/ws/protected?token={hs256(aud=None, iss=None)}").kind == "open"


def test_secret_from_the_api_setting_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("BOLT_JWT_SECRET", OTHER_SECRET)
    with TestClient(make_api(jwt_secret=SECRET)) as client:
        assert outcome(client, f"/ws/protected?token={hs256(aud=None, iss=None)}").kind == "open"
        assert outcome(client, f"/ws/protected?token={hs256(OTHER_SECRET, aud=None, iss=None)}").code == 401


def test_explicit_secret_wins_over_both(monkeypatch):
    monkeypatch.setenv("BOLT_JWT_SECRET", OTHER_SECRET)
    api = BoltAPI(jwt_secret=OTHER_SECRET)

    @api.websocket("/ws", auth=[JWTAuthentication(SECRET)])
    async def handler(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("in")

    with TestClient(api) as client:
        assert outcome(client, f"/ws?token={hs256(aud=None, iss=None)}").kind == "open"


def test_short_secret_from_the_environment_refuses_to_start(monkeypatch):
    monkeypatch.setenv("BOLT_JWT_SECRET", "too-short")
    with pytest.raises(ConfigurationError, match="RFC 7518"):
        start(make_api())


def test_empty_environment_variable_is_no_secret(monkeypatch):
    monkeypatch.setenv("BOLT_JWT_SECRET", "")
    with pytest.raises(ConfigurationError):
        start(make_api())


def test_api_wide_default_backend_is_prepared_too(monkeypatch):
    monkeypatch.delenv("BOLT_JWT_SECRET", raising=False)
    api = BoltAPI(auth=[JWTAuthentication()])

    @api.websocket("/ws")
    async def handler(websocket: WebSocket):
        await websocket.accept()

    with pytest.raises(ConfigurationError):
        start(api)


def test_public_key_backends_need_no_secret(monkeypatch):
    from tests.test_auth_support import public_pem, rsa_key

    monkeypatch.delenv("BOLT_JWT_SECRET", raising=False)
    api = BoltAPI()

    @api.websocket("/ws", auth=[JWTAuthentication(algorithms=["RS256"], public_key=public_pem(rsa_key()))])
    async def handler(websocket: WebSocket):
        await websocket.accept()

    start(api)


def test_route_added_while_serving_is_prepared_on_first_use(monkeypatch):
    monkeypatch.setenv("BOLT_JWT_SECRET", SECRET)
    api = BoltAPI()
    with TestClient(api) as client:

        @api.websocket("/late", auth=[JWTAuthentication()])
        async def late(websocket: WebSocket):
            await websocket.accept()
            await websocket.send_text("in")

        assert outcome(client, f"/late?token={hs256(aud=None, iss=None)}").kind == "open"


def test_api_run_refuses_before_serving_or_forking(monkeypatch):
    import bolt.transport.run

    monkeypatch.delenv("BOLT_JWT_SECRET", raising=False)
    served = []
    monkeypatch.setattr(bolt.transport.run, "run", lambda *args, **kwargs: served.append(args))
    with pytest.raises(ConfigurationError):
        make_api().run(workers=2)
    assert served == []


def test_a_secret_pyjwt_would_refuse_is_refused_at_once():
    import jwt

    key = b'{"kty": "oct", "k": "0123456789abcdef0123456789abcdef"}'
    try:
        jwt.algorithms.get_default_algorithms()["HS256"].prepare_key(key)
    except jwt.PyJWTError:
        pass
    else:
        pytest.skip(f"PyJWT {jwt.__version__} takes a JWK's JSON as an HMAC key")
    with pytest.raises(ConfigurationError, match="InvalidKeyError"):
        JWTAuthentication('{"kty": "oct", "k": "0123456789abcdef0123456789abcdef"}')
