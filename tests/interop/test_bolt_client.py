"""bolt's client (``bolt.connect``) judged by servers written by others: ``websockets`` and aiohttp,
each serving the same routes as ``tests/interop/app.py``. Both servers run on the test's own loop,
stock asyncio or uvloop.
"""

from __future__ import annotations

import asyncio
import json
import math
from contextlib import asynccontextmanager
from http import HTTPStatus
from urllib.parse import parse_qs, quote, urlsplit

import aiohttp
import pytest
from aiohttp import web
from websockets.asyncio.server import serve as ws_serve
from websockets.exceptions import ConnectionClosed as WsConnectionClosed

import bolt
from bolt import HandshakeRejected, WebSocketDisconnect
from bolt.transport.run import new_event_loop
from tests.interop.app import SERVER_PING, SUPPORTED_SUBPROTOCOLS
from tests.interop.cases import BIG, CLOSE_CODES, MAX_SIZE, SIZES, binary_of, close_reason, digest, json_of, text_of

LOOPS = ["asyncio", "uvloop"]
PEERS = ["websockets", "aiohttp"]
ECHO_CASES = [(kind, size) for kind in ("text", "binary", "json") for size in SIZES if (kind, size) != ("json", 0)]
FRAGMENT = 1000


def compact(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def choose(offered) -> str | None:
    return next((name for name in offered if name in SUPPORTED_SUBPROTOCOLS), None)


# The websockets server


@asynccontextmanager
async def websockets_server(recorded: dict, compression: str | None = None):
    async def handler(connection):
        url = urlsplit(connection.request.path)
        path, query = url.path, {key: values[0] for key, values in parse_qs(url.query).items()}
        if path == "/echo":
            async for message in connection:
                await connection.send(message)
        elif path == "/json":
            async for message in connection:
                await connection.send(compact(json.loads(message)))
        elif path == "/digest":
            while True:
                # recv_streaming shows the fragments the client sent; the answer counts them.
                try:
                    fragments = [fragment async for fragment in connection.recv_streaming()]
                except WsConnectionClosed:
                    return
                text = all(isinstance(fragment, str) for fragment in fragments) and fragments != []
                message = "".join(fragments) if text else b"".join(fragments)
                await connection.send(json.dumps({**digest(message), "fragments": len(fragments)}))
        elif path == "/fragmented":
            for message in (text_of(100_000), binary_of(100_000)):
                await connection.send([message[i : i + FRAGMENT] for i in range(0, len(message), FRAGMENT)])
            await connection.wait_closed()
        elif path.startswith("/close/"):
            await connection.close(int(path.rsplit("/", 1)[1]), query.get("reason", ""))
        elif path.startswith("/record/"):
            await connection.send("ready")
            try:
                async for _ in connection:
                    pass
            except WsConnectionClosed:
                pass
            received = connection.protocol.close_rcvd
            recorded[path.rsplit("/", 1)[1]] = (received.code, received.reason)
        elif path == "/server-ping":
            await asyncio.wait_for(await connection.ping(SERVER_PING), 10)
            await connection.send("pong: " + SERVER_PING.decode())
            await connection.wait_closed()
        elif path == "/subprotocol":
            await connection.send(connection.subprotocol or "")
            await connection.wait_closed()
        elif path == "/token":
            if query.get("token") != "secret":
                await connection.close(4001, "Invalid token")
            else:
                await connection.send("welcome")
                await connection.wait_closed()

    def process_request(connection, request):
        path = urlsplit(request.path).path
        if path == "/forbidden":
            return connection.respond(HTTPStatus.FORBIDDEN, "no entry")
        known = ("/echo", "/json", "/digest", "/fragmented", "/server-ping", "/subprotocol", "/token")
        if path not in known and not path.startswith(("/close/", "/record/")):
            return connection.respond(HTTPStatus.NOT_FOUND, "Not Found")
        return None

    async with ws_serve(
        handler,
        "127.0.0.1",
        0,
        process_request=process_request,
        select_subprotocol=lambda connection, offered: choose(offered),
        max_size=MAX_SIZE,
        compression=compression,
    ) as server:
        yield server.sockets[0].getsockname()[1]


# The aiohttp server


@asynccontextmanager
async def aiohttp_server(recorded: dict):
    routes = web.RouteTableDef()

    async def accept(request, **options) -> web.WebSocketResponse:
        # aiohttp refuses a message of exactly max_msg_size bytes, so one more takes 16 MiB.
        ws = web.WebSocketResponse(protocols=SUPPORTED_SUBPROTOCOLS, max_msg_size=MAX_SIZE + 1, **options)
        await ws.prepare(request)
        return ws

    @routes.get("/echo")
    async def echo(request):
        ws = await accept(request)
        async for message in ws:
            if message.type is aiohttp.WSMsgType.TEXT:
                await ws.send_str(message.data)
            else:
                await ws.send_bytes(message.data)
        return ws

    @routes.get("/json")
    async def json_echo(request):
        ws = await accept(request)
        async for message in ws:
            await ws.send_str(compact(json.loads(message.data)))
        return ws

    @routes.get("/digest")
    async def digests(request):
        ws = await accept(request)
        async for message in ws:
            await ws.send_str(json.dumps(digest(message.data)))
        return ws

    @routes.get("/close/{code}")
    async def close_with(request):
        ws = await accept(request)
        await ws.close(code=int(request.match_info["code"]), message=request.query.get("reason", "").encode())
        return ws

    @routes.get("/record/{key}")
    async def record(request):
        ws = await accept(request)
        await ws.send_str("ready")
        while True:
            message = await ws.receive()
            if message.type is aiohttp.WSMsgType.CLOSE:
                recorded[request.match_info["key"]] = (message.data, message.extra)
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                break
        await ws.close()
        return ws

    @routes.get("/server-ping")
    async def server_ping(request):
        ws = await accept(request, autoping=False)  # so the pong reaches this handler
        await ws.ping(SERVER_PING)
        pong = await ws.receive(timeout=10)
        assert (pong.type, pong.data) == (aiohttp.WSMsgType.PONG, SERVER_PING), pong
        await ws.send_str("pong: " + SERVER_PING.decode())
        await ws.receive()
        return ws

    @routes.get("/subprotocol")
    async def subprotocol(request):
        ws = await accept(request)
        await ws.send_str(ws.ws_protocol or "")
        await ws.receive()
        return ws

    @routes.get("/forbidden")
    async def forbidden(request):
        return web.Response(status=403, text="no entry")

    @routes.get("/token")
    async def token(request):
        ws = await accept(request)
        if request.query.get("token") != "secret":
            await ws.close(code=4001, message=b"Invalid token")
        else:
            await ws.send_str("welcome")
            await ws.receive()
        return ws

    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


SERVERS = {"websockets": websockets_server, "aiohttp": aiohttp_server}


class Peer:
    def __init__(self, name: str, port: int, recorded: dict) -> None:
        self.name = name
        self.port = port
        self.recorded = recorded

    def url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    async def wait_recorded(self, key: str, timeout: float = 10.0):
        async with asyncio.timeout(timeout):
            while key not in self.recorded:
                await asyncio.sleep(0.01)
        return self.recorded.pop(key)


def make_runner(peer_name: str, loop_name: str, servers: dict | None = None, default_timeout: float = 60.0):
    """``runner(scenario)`` runs ``scenario(peer)`` on the chosen loop, with the peer's server up
    (``servers``: name -> server factory, this module's ``SERVERS`` by default)."""
    try:
        new_event_loop(loop_name).close()
    except ImportError:
        pytest.skip(f"{loop_name} is not installed")
    servers = SERVERS if servers is None else servers

    def runner(scenario, timeout: float = default_timeout):
        async def main():
            recorded: dict = {}
            async with servers[peer_name](recorded) as port:
                return await scenario(Peer(peer_name, port, recorded))

        with asyncio.Runner(loop_factory=lambda: new_event_loop(loop_name)) as loop_runner:
            return loop_runner.run(asyncio.wait_for(main(), timeout))

    return runner


@pytest.fixture(params=[(peer, loop) for peer in PEERS for loop in LOOPS], ids=lambda param: "-".join(param))
def run(request):
    return make_runner(*request.param)


@pytest.fixture(params=LOOPS)
def run_websockets(request):
    """Only the websockets server: aiohttp cannot send a fragmented message."""
    return make_runner("websockets", request.param)


async def echo(peer: Peer, kind: str, size: int) -> None:
    async with bolt.connect(peer.url("/json" if kind == "json" else "/echo"), max_message_size=MAX_SIZE) as ws:
        if kind == "json":
            value, encoded = json_of(size)
            await ws.send_text(encoded)
            assert await ws.receive_json() == value
        else:
            message = text_of(size) if kind == "text" else binary_of(size)
            await ws.send(message)
            reply = await ws.receive()
            assert type(reply) is type(message) and reply == message


@pytest.mark.parametrize(("kind", "size"), ECHO_CASES, ids=[f"{kind}-{size}" for kind, size in ECHO_CASES])
def test_echo(run, kind, size):
    run(lambda peer: echo(peer, kind, size))


@pytest.mark.parametrize("kind", ["text", "binary"])
def test_echo_16_mib(run, kind):
    run(lambda peer: echo(peer, kind, BIG))


def test_fragments_sent_by_bolt_are_reassembled(run):
    async def scenario(peer):
        async with bolt.connect(peer.url("/digest"), fragment_size=FRAGMENT) as ws:
            for message in (text_of(100_000), binary_of(100_000)):
                await ws.send(message)
                answer = json.loads(await ws.receive_text())
                if peer.name == "websockets":  # it counts what arrived
                    assert answer.pop("fragments") == math.ceil(100_000 / FRAGMENT)
                assert answer == digest(message)

    run(scenario)


def test_fragments_sent_by_the_peer_are_reassembled(run_websockets):
    async def scenario(peer):
        async with bolt.connect(peer.url("/fragmented")) as ws:
            assert await ws.receive_text() == text_of(100_000)
            assert await ws.receive_bytes() == binary_of(100_000)

    run_websockets(scenario)


def test_client_ping_gets_its_pong(run):
    async def scenario(peer):
        async with bolt.connect(peer.url("/echo")) as ws:
            for payload in (b"", b"client-ping", bytes(range(125))):
                assert await asyncio.wait_for(ws.ping(payload), 5) >= 0
            await ws.send_text("still open")
            assert await ws.receive_text() == "still open"

    run(scenario)


def test_server_ping_is_answered(run):
    async def scenario(peer):
        async with bolt.connect(peer.url("/server-ping")) as ws:
            assert await ws.receive_text() == "pong: bolt-ping"

    run(scenario)


def test_close_codes_sent_by_the_server(run):
    async def scenario(peer):
        for code in CLOSE_CODES:
            async with bolt.connect(peer.url(f"/close/{code}?reason={quote(close_reason(code))}")) as ws:
                with pytest.raises(WebSocketDisconnect) as closed:
                    await ws.receive()
                assert (closed.value.code, closed.value.reason) == (code, close_reason(code))
                assert ws.close_code == code

    run(scenario)


def test_close_codes_sent_by_bolt(run):
    async def scenario(peer):
        for code in CLOSE_CODES:
            key = f"bolt-{code}"
            ws = await bolt.connect(peer.url(f"/record/{key}"))
            assert await ws.receive_text() == "ready"
            await ws.close(code, close_reason(code))
            assert await peer.wait_recorded(key) == (code, close_reason(code))

    run(scenario)


def test_close_without_a_code(run):
    async def scenario(peer):
        ws = await bolt.connect(peer.url("/record/bolt-none"))
        assert await ws.receive_text() == "ready"
        await ws.close(None)
        return peer.name, await peer.wait_recorded("bolt-none")

    name, recorded = run(scenario)
    # websockets reports a close frame with no code as 1005; aiohttp as 0 (its own convention).
    assert recorded == ((1005, "") if name == "websockets" else (0, ""))


def test_close_before_accept_reaches_the_client(run):
    async def scenario(peer):
        async with bolt.connect(peer.url("/token?token=wrong")) as ws:
            with pytest.raises(WebSocketDisconnect) as closed:
                await ws.receive()
            assert (closed.value.code, closed.value.reason) == (4001, "Invalid token")
        async with bolt.connect(peer.url("/token?token=secret")) as ws:
            assert await ws.receive_text() == "welcome"

    run(scenario)


def test_subprotocol_negotiation(run):
    cases = [(["chat.v1"], "chat.v1"), (["other", "chat.v2", "chat.v1"], "chat.v2"), (["other"], None)]

    async def scenario(peer):
        for offered, chosen in cases:
            async with bolt.connect(peer.url("/subprotocol"), subprotocols=offered) as ws:
                assert ws.subprotocol == chosen
                assert await ws.receive_text() == (chosen or "")

    run(scenario)


def test_refused_handshake_is_an_http_status(run):
    async def scenario(peer):
        for path, status in [("/nowhere", 404), ("/forbidden", 403)]:
            with pytest.raises(HandshakeRejected) as refused:
                await bolt.connect(peer.url(path))
            assert refused.value.status == status
            if status == 403:
                assert refused.value.body == b"no entry"

    run(scenario)
