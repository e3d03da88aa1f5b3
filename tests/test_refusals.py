"""What a refusal tells the client, over a real loopback server on stock asyncio and uvloop:

- a 4xx body names the problem (a parameter's or a header's name, the path) but never repeats the
  request's query string, a header value or a cookie value, any of which may be a credential;
- a JWT whose time claims are out of any float's range is a 401, not a 500;
- a guard that raises is a 500, with its traceback in the "bolt" log and nothing of it sent.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import pytest

import bolt
from bolt import BoltAPI, Cookie, HandshakeRejected, Header, WebSocket
from bolt.auth import BaseGuard, JWTAuthentication
from bolt.protocol.handshake import ResponseParser
from bolt.testing import AsyncTestClient
from tests.test_auth_support import SECRET, hs256

# A real JWT: what must never come back in a refusal.
TOKEN = hs256(aud=None, iss=None)
SECRET_PARTS = [part for part in TOKEN.split(".") if len(part) >= 8]



class Boom(BaseGuard):
    def has_permission(self, websocket):
        raise RuntimeError("guard bug")


api = BoltAPI()


@api.websocket("/items")
async def items(websocket: WebSocket, n: int, tags: list[int] | None = None):
    await websocket.accept()


@api.websocket("/headed")
async def headed(websocket: WebSocket, x_count: Annotated[int, Header()] = 0, count: Annotated[int, Cookie()] = 0):
    await websocket.accept()


@api.get("/page")
async def page(n: int):
    return "page"


@api.websocket("/private", auth=[JWTAuthentication(SECRET, require=())])
async def private(websocket: WebSocket):
    await websocket.accept()
    await websocket.send_text("in")


@api.websocket("/guarded", guards=[Boom()])
async def guarded(websocket: WebSocket):
    await websocket.accept()


def upgrade_head(target: str, *fields: tuple[str, str], key: str = "dGhlIHNhbXBsZSBub25jZQ==") -> bytes:
    lines = [
        f"GET {target} HTTP/1.1",
        "Host: 127.0.0.1",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    lines += [f"{name}: {value}" for name, value in fields]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def answer(head: bytes) -> tuple[int, str]:
    """Send ``head`` to a fresh server; the status and body it answers with."""
    async with AsyncTestClient(api) as client:
        reader, writer = await asyncio.open_connection(client.host, client.port)
        writer.write(head)
        parser = ResponseParser()
        try:
            response = None
            while response is None:
                data = await reader.read(65536)
                response = parser.feed(data) if data else parser.feed_eof()
        finally:
            writer.close()
        return response.status, response.body.decode("utf-8", "replace")


def assert_no_token(body: str) -> None:
    assert [part for part in SECRET_PARTS if part in body] == [], body


# (a) bodies: the problem's name, never the request's values

REFUSED = {
    # The path is not UTF-8 once percent-decoded: refused by the request parser.
    "bad path": (upgrade_head(f"/x%ff?token={TOKEN}"), 400, "not UTF-8"),
    "bad path, plain GET": (f"GET /x%ff?token={TOKEN} HTTP/1.1\r\nHost: h\r\n\r\n".encode(), 400, "not UTF-8"),
    "bad absolute-form target": (upgrade_head(f"http://[?token={TOKEN}"), 400, "request-target"),
    # A query parameter that does not coerce.
    "query value": (upgrade_head(f"/items?n={TOKEN}"), 400, "'n'"),
    "query list value": (upgrade_head(f"/items?n=1&tags=1&tags={TOKEN}"), 400, "'tags'"),
    "query value, other key carries the token": (upgrade_head(f"/items?n=x&token={TOKEN}"), 400, "'n'"),
    "http route query value": (f"GET /page?n={TOKEN} HTTP/1.1\r\nHost: h\r\n\r\n".encode(), 400, "'n'"),
    # A header and a cookie that do not coerce.
    "header value": (upgrade_head("/headed", ("X-Count", TOKEN)), 400, "'x-count'"),
    "cookie value": (upgrade_head("/headed", ("Cookie", f"count={TOKEN}")), 400, "'count'"),
    # RFC 6455 §4.2.1 checks of the upgrade itself.
    "Sec-WebSocket-Key": (upgrade_head("/items?n=1", key=TOKEN), 400, "Sec-WebSocket-Key"),
    "Sec-WebSocket-Version": (
        upgrade_head("/items?n=1", ("Sec-WebSocket-Version", TOKEN)),
        426,
        "this server speaks 13",
    ),
}


@pytest.mark.parametrize("case", REFUSED)
def test_a_refusal_names_the_problem_without_repeating_the_request(run, case):
    head, status, named = REFUSED[case]
    answered, body = run(answer(head))
    assert answered == status
    assert named in body
    assert_no_token(body)


def test_bolts_own_client_sees_the_same_refusal(run):
    async def attempt():
        async with AsyncTestClient(api) as client:
            with pytest.raises(HandshakeRejected) as refused:
                await bolt.connect(client.url(f"/items?n={TOKEN}"))
            return refused.value

    refused = run(attempt())
    body = refused.body.decode()
    assert refused.status == 400 and "'n'" in body
    assert_no_token(body)


# (b) time claims past a float's range


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", [10**400, -(10**400), float("inf")], ids=["10**400", "-10**400", "Infinity"])
def test_a_time_claim_out_of_range_is_a_401(run, claim, value):
    token = hs256(aud=None, iss=None, **{claim: value})

    async def attempt():
        async with AsyncTestClient(api) as client:
            with pytest.raises(HandshakeRejected) as refused:
                await bolt.connect(client.url("/private"), headers={"Authorization": f"Bearer {token}"})
            return refused.value

    refused = run(attempt())
    assert refused.status == 401
    assert_no_token(refused.body.decode())


def test_a_token_with_a_valid_exp_still_opens(run):
    async def attempt():
        async with AsyncTestClient(api) as client:
            async with bolt.connect(client.url("/private"), headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
                return await ws.receive_text()

    assert run(attempt()) == "in"


# (c) a guard that raises


def test_a_guard_that_raises_is_a_500_with_the_traceback_logged(run, caplog):
    caplog.set_level(logging.ERROR, logger="bolt")

    async def attempt():
        async with AsyncTestClient(api) as client:
            with pytest.raises(HandshakeRejected) as refused:
                await bolt.connect(client.url(f"/guarded?token={TOKEN}"))
            # The log record is written before the 500 goes out; no wait is needed.
            return refused.value

    refused = run(attempt())
    assert refused.status == 500
    assert "guard bug" not in refused.body.decode()
    failures = [record for record in caplog.records if record.name == "bolt" and record.exc_info]
    assert len(failures) == 1
    error = failures[0].exc_info[1]
    assert isinstance(error, RuntimeError) and str(error) == "guard bug"
    assert "Traceback" in caplog.text and "has_permission" in caplog.text
    assert_no_token(caplog.text)
