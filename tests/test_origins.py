"""Origin checks (cross-site WebSocket hijacking): the allow-list's matching, its configuration
errors, the 403 that comes before authentication and the handler, and a cookie route that refuses
to start without an allow-list. Through a real server with websockets' client, which sends the
Origin a browser would."""

from __future__ import annotations

import asyncio
import time

import jwt as pyjwt
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from bolt import BoltAPI, WebSocket
from bolt.auth import ConfigurationError, IsAuthenticated, JWTAuthentication
from bolt.origins import OriginPolicy
from bolt.testing import AsyncTestClient, http_get

SECRET = "origin-tests-secret-of-at-least-32-bytes"


@pytest.mark.parametrize(
    "origin, allowed",
    [
        ("https://app.example.com", True),
        ("HTTPS://App.Example.COM", True),  # scheme and host are case-insensitive (RFC 6454 §4)
        ("https://app.example.com:443", True),  # the default port, made explicit
        ("http://app.example.com", False),  # another scheme is another origin
        ("https://app.example.com:8443", False),
        ("https://app.example.com.evil.example", False),
        ("https://evil.example", False),
        ("null", False),  # sandboxed frames, file: pages: anything can send it
        ("https://a.example.org", True),  # *.example.org
        ("https://a.b.example.org", True),  # at any depth
        ("https://example.org", False),  # the pattern does not match the apex
        ("https://badexample.org", False),  # a suffix, but not a subdomain
        ("http://a.example.org", False),
        ("http://localhost:3000", True),
        ("http://localhost", False),
        ("http://[::1]:8080", True),
        ("https://app.example.com/path", False),  # browsers send no path: not an origin
        ("not an origin", False),
        ("", False),
    ],
)
def test_matching(origin, allowed):
    policy = OriginPolicy(
        ["https://app.example.com", "https://*.example.org", "http://localhost:3000", "http://[::1]:8080"]
    )
    assert policy.allows([origin]) is allowed


def test_no_origin_is_allowed_unless_said_otherwise_and_two_are_never():
    assert OriginPolicy(["https://a.example"]).allows([]) is True
    assert OriginPolicy(["https://a.example"], allow_missing=False).allows([]) is False
    assert OriginPolicy(["https://a.example"]).allows(["https://a.example", "https://a.example"]) is False


@pytest.mark.parametrize(
    "allowed, error",
    [
        ([], ValueError),
        ("https://a.example", TypeError),
        (["null"], ValueError),
        (["*"], ValueError),
        (["https://*"], ValueError),
        (["https://a.*.example"], ValueError),
        (["https://a.example/app"], ValueError),
        (["ftp://a.example"], ValueError),
        (["a.example"], ValueError),
        (["https://user@a.example"], ValueError),
        ([3], TypeError),
    ],
)
def test_what_is_not_an_allow_list_is_refused_when_the_api_is_made(allowed, error):
    with pytest.raises(error):
        BoltAPI(allowed_origins=allowed)


def test_a_trailing_slash_in_a_pattern_is_forgiven():
    assert OriginPolicy(["https://a.example/"]).allows(["https://a.example"])


# Through the server


def token(user: str = "alice") -> str:
    return pyjwt.encode({"sub": user, "exp": int(time.time()) + 600}, SECRET, algorithm="HS256")


def cookie_api(**options) -> tuple[BoltAPI, list]:
    """The issue's case: a route authenticated by a cookie-borne JWT, with an allow-list."""
    api = BoltAPI(allowed_origins=["https://app.example.com", "https://*.app.example.com"], **options)
    ran = []

    class Counting(JWTAuthentication):
        def authenticate(self, websocket):
            ran.append("auth")
            return super().authenticate(websocket)

    @api.websocket("/ws", auth=[Counting(SECRET, token_sources=["cookie"])], guards=[IsAuthenticated()])
    async def private(websocket: WebSocket, required: int):
        ran.append("handler")
        await websocket.accept()
        await websocket.send_text(websocket.context["user_id"])

    return api, ran


async def open_with(url: str, origin: str | None):
    headers = {"Cookie": f"access_token={token()}"}
    async with websockets.connect(url, origin=origin, additional_headers=headers) as peer:
        return await peer.recv()


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "https://app.example.com.evil.example"])
def test_a_cross_site_page_with_the_victims_cookie_gets_403_before_auth_or_handler_runs(run, origin):
    api, ran = cookie_api()

    async def main():
        async with AsyncTestClient(api) as client:
            # No `required` query parameter either: the origin is judged before parameters (400).
            with pytest.raises(InvalidStatus) as refused:
                await open_with(client.url("/ws"), origin)
            return refused.value.response

    response = run(main())
    assert response.status_code == 403
    assert b"Origin not allowed" in response.body
    assert ran == []


@pytest.mark.parametrize("origin", ["https://app.example.com", "https://eu.app.example.com", None])
def test_an_allowed_origin_or_none_is_served(run, origin):
    api, ran = cookie_api()

    async def main():
        async with AsyncTestClient(api) as client:
            return await open_with(client.url("/ws?required=1"), origin)

    assert run(main()) == "alice"
    assert ran == ["auth", "handler"]


def test_a_missing_origin_can_be_refused_too(run):
    api, ran = cookie_api(allow_missing_origin=False)

    async def main():
        async with AsyncTestClient(api) as client:
            with pytest.raises(InvalidStatus) as refused:
                await open_with(client.url("/ws?required=1"), None)
            return refused.value.response.status_code

    assert run(main()) == 403
    assert ran == []


def test_two_origin_fields_are_refused(run):
    api, ran = cookie_api()
    upgrade = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
        ("Cookie", f"access_token={token()}"),
    ]

    async def main():
        async with AsyncTestClient(api) as client:
            two = await http_get(
                "127.0.0.1",
                client.port,
                "/ws?required=1",
                [*upgrade, ("Origin", "https://app.example.com"), ("Origin", "https://evil.example")],
            )
            one = await http_get("127.0.0.1", client.port, "/ws?required=1", [*upgrade, ("Origin", "https://app.example.com")])
            return two.status, one.status

    assert run(main()) == (403, 101)


def test_a_route_can_have_its_own_allow_list():
    api = BoltAPI(allowed_origins=["https://app.example"])

    @api.websocket("/widget", allowed_origins=["https://partner.example"])
    async def widget(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("widget")

    @api.websocket("/app")
    async def app(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("app")

    async def attempt(client, path, origin):
        try:
            async with websockets.connect(client.url(path), origin=origin) as peer:
                return await peer.recv()
        except InvalidStatus as refused:
            return refused.response.status_code

    async def main():
        async with AsyncTestClient(api) as client:
            return [
                await attempt(client, "/widget", "https://partner.example"),
                await attempt(client, "/widget", "https://app.example"),
                await attempt(client, "/app", "https://app.example"),
                await attempt(client, "/app", "https://partner.example"),
            ]

    assert asyncio.run(main()) == ["widget", 403, "app", 403]


# Secure by default


def test_a_cookie_route_without_an_allow_list_refuses_to_start():
    api = BoltAPI()

    @api.websocket("/ws", auth=[JWTAuthentication(SECRET, token_sources=["header", "cookie"])])
    async def private(websocket: WebSocket):
        await websocket.accept()

    with pytest.raises(ConfigurationError, match="authenticates by cookie.*allowed_origins"):
        api.prepare()

    async def start():
        await AsyncTestClient(api).__aenter__()

    with pytest.raises(ConfigurationError):
        asyncio.run(start())


def test_routes_that_read_no_cookie_need_no_allow_list():
    api = BoltAPI()

    @api.websocket("/ws", auth=[JWTAuthentication(SECRET)])  # header, query, subprotocol
    async def private(websocket: WebSocket):
        await websocket.accept()

    api.prepare()
