"""Where JWTAuthentication reads its token: the four sources, their configurable order and set, and
the subprotocol convention (the marker is accepted, never the token)."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from websockets.asyncio.client import connect as websockets_connect

from bolt import BoltAPI, WebSocket
from bolt.auth import IsAuthenticated, JWTAuthentication
from bolt.testing import AsyncTestClient, TestClient
from tests.test_auth_support import AUDIENCE, ISSUER, SECRET, hs256, outcome


def jwt_backend(**options) -> JWTAuthentication:
    return JWTAuthentication(SECRET, audience=AUDIENCE, issuer=ISSUER, **options)


api = BoltAPI()


def route(path: str, backend: JWTAuthentication, **options) -> None:
    @api.websocket(path, auth=[backend], guards=[IsAuthenticated()], **options)
    async def handler(websocket: WebSocket):
        wanted = "chat" if "chat" in websocket.subprotocols else None
        await websocket.accept(subprotocol=wanted)
        await websocket.send_text(json.dumps({"user": websocket.context["user_id"]}))


route("/default", jwt_backend())
# A cookie route must have an Origin allow-list (bolt.origins); these clients send no Origin.
route("/cookie", jwt_backend(token_sources=["cookie", "header"]), allowed_origins=["https://app.example"])
route("/cookie-named", jwt_backend(token_sources=["cookie"], cookie="jwt"), allowed_origins=["https://app.example"])
route("/query-only", jwt_backend(token_sources=["query"], query_param="access_token"))
route("/header-only", jwt_backend(token_sources=["header"]))
route("/subprotocol-named", jwt_backend(token_sources=["subprotocol"], subprotocol="access-token"))
route("/default-close", jwt_backend(), auth_failure="close")


@pytest.fixture(scope="module")
def client():
    with TestClient(api) as client:
        yield client


def user(result) -> str:
    assert result.kind == "open", result
    return json.loads(result.text)["user"]


def test_each_default_source(client):
    token = hs256()
    assert user(outcome(client, "/default", [("Authorization", f"Bearer {token}")])) == "42"
    assert user(outcome(client, f"/default?token={token}")) == "42"
    assert user(outcome(client, "/default", subprotocols=["bearer", token])) == "42"


def test_cookie_is_off_by_default(client):
    result = outcome(client, "/default", [("Cookie", f"access_token={hs256()}")])
    assert (result.code, result.text) == (401, "authentication required")


def test_cookie_when_configured(client):
    token = hs256()
    assert user(outcome(client, "/cookie", [("Cookie", f"theme=dark; access_token={token}")])) == "42"
    assert user(outcome(client, "/cookie-named", [("Cookie", f"jwt={token}")])) == "42"
    assert outcome(client, "/cookie-named", [("Cookie", f"access_token={token}")]).code == 401


def test_cookie_and_header_that_disagree(client):
    result = outcome(client, "/cookie", [("Cookie", f"access_token={hs256()}"), ("Authorization", f"Bearer {hs256(sub='7')}")])
    assert (result.code, result.text) == (401, "token given in several places that disagree")


def test_unlisted_sources_are_ignored(client):
    token = hs256()
    # Only the query (under its configured name) counts here: a header or ?token= is no token.
    assert outcome(client, "/query-only", [("Authorization", f"Bearer {token}")]).code == 401
    assert outcome(client, f"/query-only?token={token}").code == 401
    assert user(outcome(client, f"/query-only?access_token={token}")) == "42"
    # ...so a disagreeing token in an unlisted place does not matter either.
    assert user(outcome(client, f"/header-only?token=garbage", [("Authorization", f"Bearer {token}")])) == "42"


def test_the_order_is_kept():
    backend = jwt_backend(token_sources=["subprotocol", "cookie", "query", "header"])
    assert backend.tokens.sources == ("subprotocol", "cookie", "query", "header")


def test_subprotocol_marker_is_accepted_never_the_token(client):
    token = hs256()
    result = outcome(client, "/default", subprotocols=["bearer", token])
    assert result.subprotocol == "bearer"
    # The handler picks its own subprotocol when the client offers one.
    result = outcome(client, "/default", subprotocols=["chat", "bearer", token])
    assert (result.subprotocol, user(result)) == ("chat", "42")


def test_subprotocol_marker_is_configurable(client):
    token = hs256()
    result = outcome(client, "/subprotocol-named", subprotocols=["access-token", token])
    assert (result.subprotocol, user(result)) == ("access-token", "42")
    assert outcome(client, "/subprotocol-named", subprotocols=["bearer", token]).code == 401


def test_close_mode_accepts_the_marker_so_a_browser_sees_the_code(client):
    """A browser fails a handshake that offered subprotocols and got none back, and would never
    see the 4001: the accept-then-close answer selects the marker too."""
    result = outcome(client, "/default-close", subprotocols=["bearer", hs256(exp=1)])
    assert (result.kind, result.code, result.text, result.subprotocol) == ("closed", 4001, "token expired", "bearer")


def test_raw_101_never_carries_the_token():
    """With another client (websockets), read the 101's header fields themselves."""

    async def main():
        token = hs256()
        async with AsyncTestClient(api) as client:
            async with websockets_connect(client.url("/default"), subprotocols=["bearer", token]) as ws:
                assert ws.response.headers["Sec-WebSocket-Protocol"] == "bearer"
                assert all(token not in value for value in ws.response.headers.values())
                assert json.loads(await ws.recv())["user"] == "42"
            with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
                async with websockets_connect(client.url("/default"), subprotocols=["bearer", hs256(exp=1)]):
                    pass
            assert refused.value.response.status_code == 401
            assert token not in str(refused.value.response.headers)

    asyncio.run(main())
