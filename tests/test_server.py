"""The asyncio server and the API's behaviour at the edges, on stock asyncio and on uvloop,
with bolt's and others' clients over real loopback sockets."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import ssl
from enum import Enum
from typing import Annotated

import pytest
import websockets

import bolt
from bolt import BoltAPI, ConnectionClosed, Cookie, HandshakeRejected, Header, Settings, WebSocket, WebSocketDisconnect
from bolt.testing import AsyncTestClient
from tests.framing import raw_frame




class Color(Enum):
    RED = "red"


def make_api(**settings) -> BoltAPI:
    api = BoltAPI(**settings)

    @api.websocket("/echo")
    async def echo(websocket: WebSocket):
        await websocket.accept()
        async for message in websocket:
            await websocket.send(message)

    @api.websocket("/items/{item_id}")
    async def item(websocket: WebSocket, item_id: int, color: Color = Color.RED, tags: list[str] | None = None):
        await websocket.accept()
        await websocket.send_json({"item_id": item_id, "color": color.value, "tags": tags})

    @api.websocket("/text-only")
    async def text_only(websocket: WebSocket):
        await websocket.accept()
        while True:
            await websocket.send_text(await websocket.receive_text())

    @api.websocket("/json")
    async def json_echo(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_json(await websocket.receive_json())

    @api.websocket("/boom")
    async def boom(websocket: WebSocket):
        await websocket.accept()
        raise RuntimeError("secret internal detail")

    @api.websocket("/returns")
    async def returns(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("bye")

    @api.websocket("/never-accepts")
    async def never_accepts(websocket: WebSocket):
        return

    @api.websocket("/reject")
    async def reject(websocket: WebSocket):
        await websocket.reject(403, "no entry")

    @api.websocket("/subprotocol")
    async def subprotocol(websocket: WebSocket):
        await websocket.accept(subprotocol="json" if "json" in websocket.subprotocols else None)
        await websocket.send_text(str(websocket.subprotocol))

    @api.websocket("/after-close")
    async def after_close(websocket: WebSocket):
        await websocket.accept()
        await websocket.close(4000, "done")
        try:
            await websocket.send_text("too late")
        except ConnectionClosed as error:
            await asyncio.sleep(0)
            api.state["send after close"] = error.code

    @api.websocket("/fast-path")
    async def fast_path(websocket: WebSocket):
        await websocket.accept()
        await websocket.receive_text()
        while not websocket._session.inbox:
            await asyncio.sleep(0.01)
        receiving = websocket.receive_text()
        try:
            receiving.send(None)
        except StopIteration as done:
            await websocket.send_text(f"without suspending: {done.value}")
        else:
            receiving.close()
            await websocket.send_text("suspended")

    @api.websocket("/slow-reader")
    async def slow_reader(websocket: WebSocket):
        await websocket.accept()
        await websocket.receive_text()  # the client says when it is done flooding
        api.state["paused"] = websocket._session.reading_paused
        count = 1
        while count < 200:
            await websocket.receive_text()
            count += 1
        await websocket.send_text(f"read {count}")

    @api.get("/health")
    async def health():
        return {"status": "ok"}

    @api.get("/page")
    def page():
        return "<h1>bolt</h1>"

    api.state = {}
    return api


async def raw_connection(client: AsyncTestClient, request: bytes):
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(request)
    return reader, writer


def upgrade_request(path: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


async def read_until_close(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.read(), 10)


# Before the upgrade: real HTTP answers


def test_unknown_path_is_404_and_plain_http_to_a_websocket_route_is_426(run):
    async def scenario():
        async with AsyncTestClient(make_api()) as client:
            assert (await client.get("/nowhere")).status == 404
            response = await client.get("/echo")
            assert response.status == 426 and response.headers.get("Upgrade") == "websocket"
            with pytest.raises(HandshakeRejected) as refused:
                await client.websocket_connect("/nowhere")
            assert refused.value.status == 404

    run(scenario())


def test_a_parameter_that_does_not_coerce_is_a_400_naming_it(run):
    async def scenario():
        async with AsyncTestClient(make_api()) as client:
            for path, name in [("/items/abc", "item_id"), ("/items/1?color=blue", "color")]:
                with pytest.raises(HandshakeRejected) as refused:
                    await client.websocket_connect(path)
                assert refused.value.status == 400 and name.encode() in refused.value.body
            async with client.websocket_connect("/items/7?tags=a&tags=b") as ws:
                assert await ws.receive_json() == {"item_id": 7, "color": "red", "tags": ["a", "b"]}

    run(scenario())


def test_http_routes(run):
    async def scenario():
        async with AsyncTestClient(make_api()) as client:
            health = await client.get("/health")
            assert health.status == 200 and health.json() == {"status": "ok"}
            assert health.headers.get("Content-Type") == "application/json"
            page = await client.get("/page")
            assert page.text == "<h1>bolt</h1>" and page.headers.get("Content-Type").startswith("text/html")
            reader, writer = await raw_connection(client, b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            answer = await read_until_close(reader)
            writer.close()
            assert answer.startswith(b"HTTP/1.1 405") and b"Allow: GET" in answer

    run(scenario())


def test_refusals_by_the_handler(run):
    async def scenario():
        async with AsyncTestClient(make_api()) as client:
            for path, status in [("/reject", 403), ("/never-accepts", 403)]:
                with pytest.raises(HandshakeRejected) as refused:
                    await client.websocket_connect(path)
                assert refused.value.status == status

    run(scenario())


def test_handshake_timeout_cuts_a_slow_request(run):
    async def scenario():
        async with AsyncTestClient(make_api(handshake_timeout=0.3)) as client:
            reader, writer = await raw_connection(client, upgrade_request("/echo")[:20])
            answer = await read_until_close(reader)
            writer.close()
            assert answer.startswith(b"HTTP/1.1 408")

    run(scenario())


def test_connections_over_the_limit_get_503(run):
    async def scenario():
        async with AsyncTestClient(make_api(max_connections=1)) as client:
            async with client.websocket_connect("/echo") as first:
                with pytest.raises(HandshakeRejected) as refused:
                    await client.websocket_connect("/echo")
                assert refused.value.status == 503
                await first.send_text("still fine")
                assert await first.receive_text() == "still fine"

    run(scenario())


# After the upgrade


def test_echo_of_every_size_with_the_bolt_and_websockets_clients(run):
    async def scenario():
        async with AsyncTestClient(make_api()) as client:
            payloads = ["", "é", "x" * 125, "y" * 70_000, b"", b"\x00" * 65_536, bytes(range(256)) * 5000]
            async with client.websocket_connect("/echo") as ws:
                for payload in payloads:
                    await ws.send(payload)
                    assert await ws.receive() == payload
            async with websockets.connect(client.url("/echo"), max_size=None) as peer:
                for payload in payloads:
                    await peer.send(payload)
                    assert await peer.recv() == payload

    run(scenario())


def test_wrong_message_type_closes_1003_and_bad_json_1007(run):
    async def scenario():
        async with AsyncTestClient(make_api()) as client:
            async with client.websocket_connect("/text-only") as ws:
                await ws.send_bytes(b"binary")
                with pytest.raises(WebSocketDisconnect) as closed:
                    await ws.receive()
                assert closed.value.code == 1003
            async with client.websocket_connect("/json") as ws:
                await ws.send_text("{not json")
                with pytest.raises(WebSocketDisconnect) as closed:
                    await ws.receive()
                assert closed.value.code == 1007

    run(scenario())


def test_a_handler_that_raises_closes_1011_and_logs_the_traceback(run, caplog):
    async def scenario():
        async with AsyncTestClient(make_api()) as client:
            async with client.websocket_connect("/boom") as ws:
                with pytest.raises(WebSocketDisconnect) as closed:
                    await ws.receive()
                assert closed.value.code == 1011 and "secret" not in closed.value.reason

    with caplog.at_level(logging.ERROR, logger="bolt"):
        run(scenario())
    assert any("secret internal detail" in (record.exc_text or "") for record in caplog.records)


def test_a_handler_that_returns_closes_1000(run):
    async def scenario():
        async with AsyncTestClient(make_api()) as client:
            async with client.websocket_connect("/returns") as ws:
                assert await ws.receive_text() == "bye"
                with pytest.raises(WebSocketDisconnect) as closed:
                    await ws.receive()
                assert closed.value.code == 1000

    run(scenario())


def test_sending_after_close_is_a_clear_error(run):
    async def scenario():
        api = make_api()
        async with AsyncTestClient(api) as client:
            async with client.websocket_connect("/after-close") as ws:
                with pytest.raises(WebSocketDisconnect) as closed:
                    await ws.receive()
                assert (closed.value.code, closed.value.reason) == (4000, "done")
            for _ in range(100):
                if "send after close" in api.state:
                    break
                await asyncio.sleep(0.01)
            assert api.state["send after close"] == 4000

    run(scenario())


def test_a_waiting_message_is_received_without_suspending(run):
    async def scenario():
        async with AsyncTestClient(make_api()) as client:
            async with client.websocket_connect("/fast-path") as ws:
                await ws.send_text("first")
                await ws.send_text("second")
                assert await ws.receive_text() == "without suspending: second"

    run(scenario())


def test_subprotocol_negotiation(run):
    async def scenario():
        async with AsyncTestClient(make_api()) as client:
            async with client.websocket_connect("/subprotocol", subprotocols=["xml", "json"]) as ws:
                assert ws.subprotocol == "json" and await ws.receive_text() == "json"
            async with client.websocket_connect("/subprotocol") as ws:
                assert ws.subprotocol is None and await ws.receive_text() == "None"

    run(scenario())


def test_a_full_inbox_stops_reading_instead_of_closing(run):
    async def scenario():
        api = make_api(inbox_size=8)
        async with AsyncTestClient(api) as client:
            async with client.websocket_connect("/slow-reader") as ws:
                for index in range(199):
                    await ws.send_text(f"message {index}")
                await asyncio.sleep(0.2)
                await ws.send_text("last")
                assert await ws.receive_text() == "read 200"
        assert api.state["paused"] is True

    run(scenario())


def test_protocol_errors_from_a_raw_client_close_with_their_code(run):
    async def scenario():
        async with AsyncTestClient(make_api()) as client:
            for frame, code in [(raw_frame(0x3, b""), 1002), (raw_frame(0x1, b"\xff"), 1007), (raw_frame(0x1, b"x", key=None), 1002)]:
                reader, writer = await raw_connection(client, upgrade_request("/echo") + frame)
                answer = await read_until_close(reader)
                writer.close()
                head, _, frames = answer.partition(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 101")
                assert frames[:2] == b"\x88" + bytes([len(frames) - 2]) and int.from_bytes(frames[2:4], "big") == code

    run(scenario())


def test_keepalive_drops_a_peer_that_never_answers_pings(run):
    async def scenario():
        async with AsyncTestClient(make_api(ping_interval=0.1, ping_timeout=0.2)) as client:
            reader, writer = await raw_connection(client, upgrade_request("/echo"))
            answer = await read_until_close(reader)  # the server gives up and closes TCP
            writer.close()
            assert b"\x89\x04" in answer  # it did ping (a 4-byte payload)
            assert b"\x88" in answer and b"keepalive ping timeout" in answer

    run(scenario())


def test_graceful_shutdown_closes_clients_with_1001(run):
    async def scenario():
        client = AsyncTestClient(make_api())
        await client.__aenter__()
        ws = await client.websocket_connect("/echo")
        await client.server.shutdown(timeout=2)
        with pytest.raises(WebSocketDisconnect) as closed:
            await ws.receive()
        assert closed.value.code == 1001

    run(scenario())


def test_tls(run, tmp_path):
    trustme = pytest.importorskip("trustme")
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)

    async def scenario():
        server = bolt.transport.server.Server(make_api(), Settings(), ssl=server_context)
        (host, port), *_ = await server.start("127.0.0.1", 0)
        try:
            async with bolt.connect(f"wss://127.0.0.1:{port}/echo", ssl=client_context) as ws:
                await ws.send_text("over TLS")
                assert await ws.receive_text() == "over TLS"
        finally:
            await server.shutdown()

    run(scenario())


def test_bolt_client_against_the_websockets_server(run):
    async def scenario():
        async def handler(connection):
            async for message in connection:
                await connection.send(message)
            
        async with websockets.serve(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            async with bolt.connect(f"ws://127.0.0.1:{port}/") as ws:
                for payload in ["hello", b"\x00\x01", "é" * 50_000]:
                    await ws.send(payload)
                    assert await ws.receive() == payload

    run(scenario())


def test_head_gets_the_head_of_get_without_a_body(run):
    async def scenario():
        async with AsyncTestClient(make_api()) as client:
            reader, writer = await raw_connection(client, b"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = await read_until_close(reader)
            writer.close()
            assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"\r\n\r\n")
            assert b"Content-Length: 15\r\n" in answer  # the length of {"status":"ok"}

    run(scenario())


def test_headers_cookies_and_pluggable_json(run):
    encoded = []

    def dumps_to_bytes(data) -> bytes:  # the shape of orjson.dumps: UTF-8 bytes
        encoded.append(data)
        return json.dumps(data).encode()

    api = BoltAPI(json_dumps=dumps_to_bytes)

    @api.websocket("/whoami")
    async def whoami(
        websocket: WebSocket,
        user_agent: Annotated[str, Header()],
        session: Annotated[str | None, Cookie()] = None,
    ):
        await websocket.accept()
        await websocket.send_json({"agent": user_agent, "session": session, "client": list(websocket.client)})
        await websocket.send_json([1], mode="binary")

    async def scenario():
        async with AsyncTestClient(api) as client:
            headers = [("User-Agent", "tester/1.0"), ("Cookie", "theme=dark; session=abc123")]
            async with client.websocket_connect("/whoami", headers=headers) as ws:
                reply = await ws.receive_json()
                assert reply["agent"] == "tester/1.0" and reply["session"] == "abc123"
                assert reply["client"][0] == "127.0.0.1"
                assert await ws.receive() == b"[1]"
            with pytest.raises(HandshakeRejected) as refused:
                await client.websocket_connect("/whoami")
            assert refused.value.status == 400 and b"user-agent" in refused.value.body.lower()
        assert len(encoded) == 2

    run(scenario())


def test_a_client_that_never_reads_is_bounded_and_dropped_after_the_write_timeout(run):
    api = BoltAPI(write_timeout=0.5, ping_interval=None)
    outcome = {}

    @api.websocket("/firehose")
    async def firehose(websocket: WebSocket):
        await websocket.accept()
        transport = websocket._session.transport
        chunk = b"x" * 65536
        peak = 0
        try:
            for _ in range(100_000):
                await websocket.send_bytes(chunk)
                peak = max(peak, transport.get_write_buffer_size())
        except ConnectionClosed:
            outcome["dropped"] = True
        outcome["peak"] = peak

    async def scenario():
        async with AsyncTestClient(api) as client:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect((client.host, client.port))
            sock.sendall(upgrade_request("/firehose"))  # and never read again
            for _ in range(200):
                if "peak" in outcome:
                    break
                await asyncio.sleep(0.05)
            sock.close()

    run(scenario())
    assert outcome.get("dropped") is True
    # Never more than the high-water mark and one message waits in the server's buffer.
    assert outcome["peak"] <= Settings().write_high_water + 65536 + 16


def test_sending_to_a_peer_that_left_ends_the_handler_quietly_but_a_foreign_one_is_an_error(run, caplog):
    api = BoltAPI()
    others = {}

    @api.websocket("/late-reply")
    async def late_reply(websocket: WebSocket):
        await websocket.accept()
        message = await websocket.receive_text()
        await websocket._session.wait_closed()  # the client leaves before the answer
        await websocket.send_text(message)

    @api.websocket("/other")
    async def other(websocket: WebSocket):
        await websocket.accept()
        others["gone"] = websocket
        await websocket._session.wait_closed()

    @api.websocket("/sender")
    async def sender(websocket: WebSocket):
        await websocket.accept()
        await websocket.receive_text()
        await others["gone"].send_text("to a connection that closed")

    async def scenario():
        async with AsyncTestClient(api) as client:
            async with client.websocket_connect("/late-reply") as ws:
                await ws.send_text("hello")
            async with client.websocket_connect("/other"):
                pass
            await asyncio.sleep(0.1)
            async with client.websocket_connect("/sender") as ws:
                await ws.send_text("go")
                with pytest.raises(WebSocketDisconnect) as closed:
                    await ws.receive()
                assert closed.value.code == 1011
            headers = (await client.get("/nowhere")).headers
            assert headers["content-type"].startswith("text/plain")
            with pytest.raises(KeyError):
                headers["X-Missing"]

    with caplog.at_level(logging.ERROR, logger="bolt"):
        run(scenario())
    failures = [record for record in caplog.records if "failed" in record.getMessage()]
    assert [record.getMessage() for record in failures] == [f"WebSocket handler {sender.__qualname__} failed"]
