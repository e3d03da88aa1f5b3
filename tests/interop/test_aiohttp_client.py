"""bolt's server judged by aiohttp's client (``ClientSession.ws_connect``). aiohttp cannot send a
fragmented message, so that case is bolt's fragments reaching aiohttp."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import aiohttp
import pytest

from tests.interop.cases import BIG, CLOSE_CODES, MAX_SIZE, SIZES, binary_of, close_reason, json_of, text_of

ECHO_CASES = [(kind, size) for kind in ("text", "binary", "json") for size in SIZES if (kind, size) != ("json", 0)]


def run(scenario, timeout: float = 60.0):
    """Run ``scenario(session)`` with a fresh aiohttp session."""

    async def main():
        async with aiohttp.ClientSession() as session:
            return await scenario(session)

    return asyncio.run(asyncio.wait_for(main(), timeout))


def connect(session: aiohttp.ClientSession, url: str, **options):
    # aiohttp refuses a message of exactly max_msg_size bytes ("exceeds limit"), so one byte more
    # lets it take the 16 MiB message bolt accepts at its limit.
    return session.ws_connect(url, max_msg_size=MAX_SIZE + 1, timeout=aiohttp.ClientWSTimeout(ws_close=5), **options)


async def echo(server, session, kind: str, size: int) -> None:
    async with connect(session, server.url("/json" if kind == "json" else "/echo")) as ws:
        if kind == "json":
            value, encoded = json_of(size)
            await ws.send_str(encoded)
            assert await ws.receive_json() == value
        elif kind == "text":
            message = text_of(size)
            await ws.send_str(message)
            reply = await ws.receive()
            assert reply.type is aiohttp.WSMsgType.TEXT and reply.data == message
        else:
            message = binary_of(size)
            await ws.send_bytes(message)
            reply = await ws.receive()
            assert reply.type is aiohttp.WSMsgType.BINARY and reply.data == message


@pytest.mark.parametrize(("kind", "size"), ECHO_CASES, ids=[f"{kind}-{size}" for kind, size in ECHO_CASES])
def test_echo(server, kind, size):
    run(lambda session: echo(server, session, kind, size))


@pytest.mark.parametrize("kind", ["text", "binary"])
def test_echo_16_mib(server, kind):
    run(lambda session: echo(server, session, kind, BIG))


def test_fragments_sent_by_bolt_are_reassembled(fragmenting_server):
    async def scenario(session):
        async with connect(session, fragmenting_server.url("/echo")) as ws:
            text, data = text_of(100_000), binary_of(100_000)
            await ws.send_str(text)
            assert (await ws.receive()).data == text
            await ws.send_bytes(data)
            assert (await ws.receive()).data == data

    run(scenario)


def test_client_ping_gets_its_pong(server):
    async def scenario(session):
        # autoping=False hands pongs to the application instead of swallowing them.
        async with connect(session, server.url("/echo"), autoping=False) as ws:
            for payload in (b"", b"client-ping", bytes(range(125))):
                await ws.ping(payload)
                pong = await ws.receive(timeout=5)
                assert (pong.type, pong.data) == (aiohttp.WSMsgType.PONG, payload)

    run(scenario)


def test_server_ping_is_answered(server):
    async def scenario(session):
        async with connect(session, server.url("/server-ping")) as ws:
            assert await ws.receive_str() == "pong: bolt-ping"
        async with connect(session, server.url("/server-ping"), autoping=False) as ws:
            ping = await ws.receive(timeout=5)
            assert (ping.type, ping.data) == (aiohttp.WSMsgType.PING, b"bolt-ping")
            await ws.pong(ping.data)
            assert await ws.receive_str() == "pong: bolt-ping"

    run(scenario)


@pytest.mark.parametrize("code", CLOSE_CODES)
def test_close_code_sent_by_bolt(server, code):
    async def scenario(session):
        async with connect(session, server.url(f"/close/{code}?reason={quote(close_reason(code))}")) as ws:
            message = await ws.receive(timeout=5)
            assert (message.type, message.data, message.extra) == (aiohttp.WSMsgType.CLOSE, code, close_reason(code))
            assert ws.close_code == code

    run(scenario)


@pytest.mark.parametrize("code", CLOSE_CODES)
def test_close_code_sent_by_the_client(server, code):
    key = f"aiohttp-{code}"

    async def scenario(session):
        async with connect(session, server.url(f"/record/{key}")) as ws:
            assert await ws.receive_str() == "ready"
            await ws.close(code=code, message=close_reason(code).encode())

    run(scenario)
    assert server.recorder.wait(key) == (code, close_reason(code))


def test_close_before_accept_reaches_the_client(server):
    async def scenario(session):
        async with connect(session, server.url("/token?token=wrong")) as ws:
            message = await ws.receive(timeout=5)
            assert (message.type, message.data, message.extra) == (aiohttp.WSMsgType.CLOSE, 4001, "Invalid token")
        async with connect(session, server.url("/token?token=secret")) as ws:
            assert await ws.receive_str() == "welcome"

    run(scenario)


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [(["chat.v1"], "chat.v1"), (["other", "chat.v2", "chat.v1"], "chat.v2"), (["other"], None), ([], None)],
)
def test_subprotocol_negotiation(server, offered, chosen):
    async def scenario(session):
        async with connect(session, server.url("/subprotocol"), protocols=offered) as ws:
            assert ws.protocol == chosen
            assert await ws.receive_str() == (chosen or "")

    run(scenario)


@pytest.mark.parametrize(("path", "status"), [("/nowhere", 404), ("/forbidden", 403)])
def test_refused_handshake_is_an_http_status(server, path, status):
    async def scenario(session):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            async with connect(session, server.url(path)):
                pass
        assert refused.value.status == status

    run(scenario)
