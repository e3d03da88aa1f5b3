"""bolt's server judged by the ``websockets`` asyncio client. It offers permessage-deflate by
default and bolt accepts it, so every case here runs compressed; test_deflate_clients.py checks the
negotiation itself."""

from __future__ import annotations

import asyncio
import json
import math
from urllib.parse import quote

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.interop.cases import BIG, CLOSE_CODES, MAX_SIZE, SIZES, binary_of, close_reason, digest, json_of, text_of

ECHO_CASES = [(kind, size) for kind in ("text", "binary", "json") for size in SIZES if (kind, size) != ("json", 0)]


def run(coroutine, timeout: float = 60.0):
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


def connect(url: str, **options):
    return ws_connect(url, max_size=MAX_SIZE, open_timeout=10, close_timeout=5, **options)


async def echo(server, kind: str, size: int) -> None:
    path = "/json" if kind == "json" else "/echo"
    async with connect(server.url(path)) as ws:
        if kind == "json":
            value, encoded = json_of(size)
            await ws.send(encoded)
            reply = await ws.recv()
            assert isinstance(reply, str) and json.loads(reply) == value
        else:
            message = text_of(size) if kind == "text" else binary_of(size)
            await ws.send(message)
            reply = await ws.recv()
            assert type(reply) is type(message) and len(reply) == len(message) and reply == message


@pytest.mark.parametrize(("kind", "size"), ECHO_CASES, ids=[f"{kind}-{size}" for kind, size in ECHO_CASES])
def test_echo(server, kind, size):
    run(echo(server, kind, size))


@pytest.mark.parametrize("kind", ["text", "binary"])
def test_echo_16_mib(server, kind):
    run(echo(server, kind, BIG))


def test_fragmented_messages_are_reassembled_by_bolt(server):
    async def scenario():
        async with connect(server.url("/digest")) as ws:
            text = text_of(70_000)
            parts = [text[:1], text[1:30_000], "", text[30_000:]]

            async def fragments():
                for part in parts:
                    yield part

            await ws.send(fragments())
            assert json.loads(await ws.recv()) == digest(text)
            data = binary_of(200_000)
            await ws.send([data[i : i + 65_536] for i in range(0, len(data), 65_536)])
            assert json.loads(await ws.recv()) == digest(data)

    run(scenario())


def test_fragments_sent_by_bolt_are_reassembled(fragmenting_server):
    async def scenario():
        async with connect(fragmenting_server.url("/echo")) as ws:
            for message in (text_of(100_000), binary_of(100_000)):
                await ws.send(message)
                fragments = [fragment async for fragment in ws.recv_streaming()]
                assert len(fragments) == math.ceil(100_000 / 1000)
                joined = "".join(fragments) if isinstance(message, str) else b"".join(fragments)
                assert joined == message

    run(scenario())


def test_client_ping_gets_its_pong(server):
    async def scenario():
        async with connect(server.url("/echo")) as ws:
            for payload in (b"", b"client-ping", bytes(range(125))):
                pong = await ws.ping(payload)
                await asyncio.wait_for(pong, 5)
            await ws.send("still open")
            assert await ws.recv() == "still open"

    run(scenario())


def test_server_ping_is_answered(server):
    async def scenario():
        async with connect(server.url("/server-ping")) as ws:
            assert await ws.recv() == "pong: bolt-ping"
            await ws.send("after")
            assert await ws.recv() == "after"

    run(scenario())


@pytest.mark.parametrize("code", CLOSE_CODES)
def test_close_code_sent_by_bolt(server, code):
    async def scenario():
        async with connect(server.url(f"/close/{code}?reason={quote(close_reason(code))}")) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (code, close_reason(code))

    run(scenario())


@pytest.mark.parametrize("code", CLOSE_CODES)
def test_close_code_sent_by_the_client(server, code):
    key = f"websockets-{code}"

    async def scenario():
        async with connect(server.url(f"/record/{key}")) as ws:
            assert await ws.recv() == "ready"
            await ws.close(code, close_reason(code))

    run(scenario())
    assert server.recorder.wait(key) == (code, close_reason(code))


def test_close_before_accept_reaches_the_client(server):
    async def scenario():
        async with connect(server.url("/token?token=wrong")) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001, "Invalid token")
        async with connect(server.url("/token?token=secret")) as ws:
            assert await ws.recv() == "welcome"

    run(scenario())


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [(["chat.v1"], "chat.v1"), (["other", "chat.v2", "chat.v1"], "chat.v2"), (["other"], None), (None, None)],
)
def test_subprotocol_negotiation(server, offered, chosen):
    async def scenario():
        async with connect(server.url("/subprotocol"), subprotocols=offered) as ws:
            assert ws.subprotocol == chosen
            assert await ws.recv() == (chosen or "")

    run(scenario())


@pytest.mark.parametrize(("path", "status"), [("/nowhere", 404), ("/forbidden", 403)])
def test_refused_handshake_is_an_http_status(server, path, status):
    async def scenario():
        with pytest.raises(InvalidStatus) as refused:
            async with connect(server.url(path)):
                pass
        assert refused.value.response.status_code == status

    run(scenario())

