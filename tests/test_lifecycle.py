"""The life of a connection under the interleavings that broke it: every ping answered, what came
before a violation handled before the close, the inbox bounded in bytes, a slow handler that is
not a dead peer, concurrent receivers, closing while reading is paused, and nothing outliving its
connection. Each runs on stock asyncio and uvloop, with the compiled and the pure codec, against a
real server on loopback."""

from __future__ import annotations

import asyncio
import os
import socket
import time

import pytest

import bolt
from bolt import BoltAPI, ConcurrencyError, Settings, WebSocket, WebSocketDisconnect
from bolt.testing import AsyncTestClient
from tests.conformance.client import BINARY, CLOSE, PING, PONG, TEXT, close_frame, exchange, frame
from tests.conftest import loop_runner
from tests.hostile.peers import echo_api, rss

MiB = 1024 * 1024


@pytest.fixture
def run(run, codec):
    """The loop under test (tests/conftest.py), with the codec under test: four runs each."""
    return run


# 1. Every ping gets its pong


def test_ten_pings_in_one_write_get_ten_pongs_in_order(run):
    payloads = [f"ping {i}".encode() * (i + 1) for i in range(10)]

    async def main():
        async with AsyncTestClient(echo_api()) as client:
            return await exchange(
                client.port, b"".join(frame(PING, payload) for payload in payloads) + close_frame(1000)
            )

    answer = run(main())
    assert answer.pongs == payloads
    assert [f.opcode for f in answer.frames] == [PONG] * 10 + [CLOSE]


# 2. What arrived before a violation is handled before the close

VIOLATIONS = {
    "reserved bit": (frame(TEXT, b"x", rsv=0x20), 1002),
    "reserved opcode": (frame(0x3, b"x"), 1002),
    "continuation with nothing to continue": (frame(0x0, b"x"), 1002),
    "data frame inside a fragmented message": (frame(TEXT, b"a", fin=False) + frame(TEXT, b"b"), 1002),
    "invalid UTF-8": (frame(TEXT, b"\xff\xfe"), 1007),
    "message too big": (frame(BINARY, b"", length=2 * MiB), 1009),
}


@pytest.mark.parametrize("violation", VIOLATIONS, ids=str)
def test_the_reply_to_a_message_before_a_violation_goes_out_before_the_close(run, violation):
    bad, code = VIOLATIONS[violation]

    async def main():
        async with AsyncTestClient(echo_api(max_message_size=MiB)) as client:
            stream = frame(PING, b"before") + frame(TEXT, b"valid") + bad + frame(PING, b"after")
            return await exchange(client.port, stream)

    answer = run(main())
    assert answer.pongs == [b"before"]  # the ping behind the violation is never read
    assert answer.texts == ["valid"]
    kinds = [f.opcode for f in answer.frames]
    assert kinds.index(TEXT) < kinds.index(CLOSE), answer.describe()
    assert answer.close_code == code and answer.tcp_closed and not answer.reset, answer.describe()


def test_a_handler_that_is_not_receiving_gets_a_short_grace_then_the_close(run):
    api = BoltAPI(violation_grace=0.2)
    taken = []

    @api.websocket("/busy")
    async def busy(websocket: WebSocket):
        await websocket.accept()
        taken.append(await websocket.receive_text())
        await asyncio.sleep(1)  # busy: not receiving, not answering

    async def main():
        async with AsyncTestClient(api) as client:
            return await exchange(client.port, frame(TEXT, b"one") + frame(TEXT, b"two") + frame(0x3), path="/busy")

    answer = run(main())
    assert taken == ["one"]
    assert answer.close_code == 1002 and answer.tcp_closed, answer.describe()


# 3. The inbox is bounded in bytes


def test_70_messages_of_16_MiB_to_a_handler_that_never_reads_stay_within_the_bound(run):
    """The worst case per connection is one max-size message in the inbox, the inbox bound, and
    the read buffer (grown to one max-size frame): not 64 queued messages of 16 MiB."""
    settings = Settings()
    size = settings.max_message_size
    api = BoltAPI()
    sessions = []

    @api.websocket("/hold")
    async def hold(websocket: WebSocket):
        await websocket.accept()
        sessions.append(websocket._session)
        await asyncio.sleep(30)  # holds the WebSocket and never reads

    message = frame(BINARY, bytes(size), key=b"\x00\x00\x00\x00")

    def send_all(port: int) -> int:
        sent = 0
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(
                b"GET /hold HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            sock.recv(4096)
            sock.settimeout(1.0)  # the server stops reading: sending stalls, and that is the end
            try:
                for _ in range(70):
                    sock.sendall(message)
                    sent += 1
            except TimeoutError:
                pass
        return sent

    async def main():
        async with AsyncTestClient(api) as client:
            before = rss()
            sent = await asyncio.to_thread(send_all, client.port)
            grown = rss() - before
            return sent, grown, sum(len(message) for message in sessions[0].inbox)

    sent, grown, queued = run(main(), timeout=120)
    print(f"\n[lifecycle] 70 x 16 MiB to a handler that never reads: {sent} sent whole, RSS +{grown / MiB:.1f} MiB")
    assert sent < 70
    # What the inbox holds is exact: one message past the bound at most, since one always fits.
    assert queued <= size
    # RSS also counts the read buffer (one max-size frame), socket buffers and what the allocator
    # keeps (the pure codec's copies): a loose bound, far under the gigabyte of 64 queued messages.
    bound = 3 * size + settings.inbox_bytes + 8 * MiB
    assert grown < bound, f"RSS grew {grown / MiB:.0f} MiB, over the bound of {bound / MiB:.0f} MiB"


def test_reading_pauses_on_bytes_before_the_message_count(run):
    api = BoltAPI(inbox_bytes=100_000)
    state = {}

    @api.websocket("/hold")
    async def hold(websocket: WebSocket):
        await websocket.accept()
        await asyncio.sleep(0.5)
        state["paused"] = websocket._session.reading_paused
        state["queued"] = len(websocket._session.inbox)
        state["received"] = [len(await websocket.receive_bytes()) for _ in range(10)]

    async def main():
        async with AsyncTestClient(api) as client:
            async with client.websocket_connect("/hold") as ws:
                for _ in range(10):
                    await ws.send_bytes(os.urandom(40_000))  # incompressible: 40,000 bytes on the wire too
                await asyncio.sleep(1.0)

    run(main())
    assert state["paused"] and state["queued"] < 10
    assert state["received"] == [40_000] * 10  # nothing lost: reading resumed as the handler read


# 4. A slow handler is not a dead peer


def test_a_slow_handler_keeps_a_peer_that_answers_pings(run):
    """The inbox fills and reading pauses for longer than the ping timeout: the client's pongs wait
    unread behind its messages, so the pong deadline must not judge it until reading resumes."""
    api = BoltAPI(ping_interval=0.2, ping_timeout=0.2)

    @api.websocket("/slow")
    async def slow(websocket: WebSocket):
        await websocket.accept()
        async for message in websocket.iter_text():
            await asyncio.sleep(0.03)
            await websocket.send_text(message)

    async def main():
        async with AsyncTestClient(api) as client:
            async with client.websocket_connect("/slow") as ws:
                for i in range(80):
                    await ws.send_text(str(i))
                return [await ws.receive_text() for _ in range(80)]

    assert run(main()) == [str(i) for i in range(80)]


# 5. Concurrent receivers


def test_a_second_receiver_on_the_server_fails_at_once_and_the_first_is_not_orphaned(run):
    api = BoltAPI()
    outcome = {}

    @api.websocket("/two")
    async def two(websocket: WebSocket):
        await websocket.accept()
        first = asyncio.ensure_future(websocket.receive_text())
        await asyncio.sleep(0)
        try:
            await websocket.receive_bytes()
        except ConcurrencyError as error:
            outcome["error"] = str(error)
        await websocket.send_text("ready")
        outcome["first"] = await first
        try:
            await websocket.receive()
        except WebSocketDisconnect as disconnect:
            outcome["code"] = disconnect.code

    async def main():
        async with AsyncTestClient(api) as client:
            async with client.websocket_connect("/two") as ws:
                assert await ws.receive_text() == "ready"
                await ws.send_text("for the first")
            await asyncio.sleep(0.2)

    run(main())
    assert "receive_bytes()" in outcome["error"] and "receive_text() is already waiting" in outcome["error"]
    assert outcome["first"] == "for the first" and outcome["code"] == 1000


def test_a_second_receiver_on_the_client_fails_at_once(run):
    async def main():
        async with AsyncTestClient(echo_api()) as client:
            async with client.websocket_connect("/echo") as ws:
                first = asyncio.ensure_future(ws.receive())
                await asyncio.sleep(0)
                with pytest.raises(ConcurrencyError, match="receive\\(\\) is already waiting"):
                    await ws.receive()
                await ws.send_text("x")
                assert await first == "x"

    run(main())


# 6. Closing while reading is paused


def test_close_while_the_inbox_is_full_completes_with_the_peers_answer(run):
    api = BoltAPI(inbox_size=4, close_timeout=20)
    outcome = {}

    @api.websocket("/full")
    async def full(websocket: WebSocket):
        await websocket.accept()
        while not websocket._session.reading_paused:
            await asyncio.sleep(0.01)
        started = time.monotonic()
        await websocket.close(1000)
        outcome["seconds"] = time.monotonic() - started
        outcome["code"] = websocket.close_code

    async def main():
        async with AsyncTestClient(api) as client:
            async with client.websocket_connect("/full") as ws:
                for i in range(200):
                    await ws.send_text(str(i))
                with pytest.raises(WebSocketDisconnect):
                    while True:
                        await ws.receive()
            await asyncio.sleep(0.2)

    run(main())
    # The peer's 1000 was read (not a 1006 after the 20 s close timeout).
    assert outcome["code"] == 1000 and outcome["seconds"] < 10


def test_close_while_writes_are_backed_up_still_reads_the_peers_close(run):
    """The peer stops reading, so our writes back up and reading pauses ("writes"); it then sends
    its close frame. Our close() must read again and take that answer (1000), even though TCP can
    only be dropped at the close timeout, since the peer never reads what we sent."""
    api = BoltAPI(close_timeout=1.0, write_timeout=None)
    outcome = {}

    @api.websocket("/push")
    async def push(websocket: WebSocket):
        await websocket.accept()
        session = websocket._session
        while not session.writing_paused:
            session.send_bytes(bytes(256 * 1024))
        outcome["paused"] = session.reading_paused
        await asyncio.sleep(0.3)  # the peer's close frame arrives meanwhile, unread
        await websocket.close(1000)
        outcome["code"] = websocket.close_code

    async def main():
        async with AsyncTestClient(api) as client:
            reader, writer = await asyncio.open_connection("127.0.0.1", client.port, limit=1024)
            writer.transport.set_write_buffer_limits(0)
            writer.write(
                b"GET /push HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            await reader.readuntil(b"\r\n\r\n")
            writer.transport.pause_reading()  # from here on the client reads nothing
            await asyncio.sleep(0.1)
            writer.write(close_frame(1000))
            for _ in range(200):
                if "code" in outcome:
                    break
                await asyncio.sleep(0.05)
            writer.transport.abort()

    run(main())
    assert outcome["paused"] and outcome["code"] == 1000


def test_shutdown_while_the_inbox_is_full_completes_the_closing_handshake(run):
    api = BoltAPI(inbox_size=4, close_timeout=20, shutdown_timeout=20)
    sessions = []

    @api.websocket("/full")
    async def full(websocket: WebSocket):
        await websocket.accept()
        sessions.append(websocket._session)
        while not websocket._session.reading_paused:
            await asyncio.sleep(0.01)
        async for _ in websocket:  # reads again once the connection is closed
            await asyncio.sleep(0.01)

    async def main():
        async with AsyncTestClient(api) as client:
            async with client.websocket_connect("/full") as ws:
                for i in range(200):
                    await ws.send_text(str(i))
                while not sessions or not sessions[0].reading_paused:
                    await asyncio.sleep(0.01)
                started = time.monotonic()
                shutdown = asyncio.ensure_future(client.server.shutdown())
                await sessions[0].wait_closed()
                seconds = time.monotonic() - started
                await shutdown
                return sessions[0].close_code, ws.close_code, seconds

    server_code, client_code, seconds = run(main())
    # The server read the client's answer to its 1001 (not a 1006 after the 20 s close timeout).
    assert (server_code, client_code) == (1001, 1001) and seconds < 10


# 7. Nothing outlives its connection


def test_shutdown_cancels_and_awaits_handlers_whose_client_left(run):
    api = BoltAPI(shutdown_timeout=20)
    events = []

    @api.websocket("/linger")
    async def linger(websocket: WebSocket):
        await websocket.accept()
        try:
            await asyncio.sleep(60)  # ignores its connection
        finally:
            events.append("finally")

    async def main():
        client = AsyncTestClient(api)
        await client.__aenter__()
        async with client.websocket_connect("/linger"):
            pass
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await client.server.shutdown()
        events.append("shutdown returned")
        return time.monotonic() - started

    seconds = run(main())
    assert events == ["finally", "shutdown returned"] and seconds < 10


def test_a_client_that_leaves_before_the_handler_accepts_is_noticed(run):
    api = BoltAPI()
    events = []

    @api.websocket("/slow-auth")
    async def slow_auth(websocket: WebSocket):
        try:
            await asyncio.sleep(60)  # a slow lookup before accepting
            await websocket.accept()
        finally:
            events.append("finally")

    async def main():
        async with AsyncTestClient(api) as client:
            reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
            writer.write(
                b"GET /slow-auth HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            await asyncio.sleep(0.1)
            writer.close()
            for _ in range(100):
                if events and not client.server.sessions:
                    break
                await asyncio.sleep(0.02)
            return list(events), len(client.server.sessions)

    assert run(main()) == (["finally"], 0)


def test_a_handler_that_neither_accepts_nor_refuses_gets_the_client_a_503(run):
    api = BoltAPI(accept_timeout=0.3)
    events = []

    @api.websocket("/undecided")
    async def undecided(websocket: WebSocket):
        try:
            await asyncio.sleep(60)
        finally:
            events.append("cancelled")

    async def main():
        async with AsyncTestClient(api) as client:
            with pytest.raises(bolt.HandshakeRejected) as refused:
                await client.websocket_connect("/undecided")
            await asyncio.sleep(0.1)
            return refused.value.status

    assert run(main()) == 503
    assert events == ["cancelled"]


def test_large_sends_are_paused_even_where_writelines_skips_flow_control(monkeypatch):
    """asyncio's selector transport on Python 3.12 and 3.13 writes a list of buffers with sendmsg
    but never calls pause_writing(): a handler sending large messages (which bolt writes as header
    and payload) to a peer that reads nothing must still be told to wait. Here 3.11's transport is
    given such a writelines(); bolt must not rely on it. Bounded: at most 200 messages of 256 KiB."""
    import asyncio.selector_events as selector_events

    transport_class = selector_events._SelectorSocketTransport

    def writelines_without_flow_control(self, list_of_data):
        # write() with _maybe_pause_protocol() turned off: what 3.12's writelines() amounts to.
        self._maybe_pause_protocol = lambda: None
        try:
            for data in list_of_data:
                transport_class.write(self, data)
        finally:
            del self._maybe_pause_protocol

    monkeypatch.setattr(transport_class, "writelines", writelines_without_flow_control)
    api = BoltAPI(write_timeout=None, close_timeout=0.5)
    outcome = {}

    @api.websocket("/push")
    async def push(websocket: WebSocket):
        await websocket.accept()
        session = websocket._session
        for sent in range(1, 201):
            session.send_bytes(bytes(256 * 1024))
            if session.writing_paused:
                break
        outcome["paused"], outcome["sent"] = session.writing_paused, sent
        outcome["buffered"] = session.write_buffer_size
        session.abort()

    async def main():
        async with AsyncTestClient(api) as client:
            reader, writer = await asyncio.open_connection("127.0.0.1", client.port, limit=1024)
            writer.write(
                b"GET /push HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            await reader.readuntil(b"\r\n\r\n")
            writer.transport.pause_reading()  # from here on the client reads nothing
            for _ in range(100):
                if "paused" in outcome:
                    break
                await asyncio.sleep(0.05)
            writer.transport.abort()

    loop_runner("asyncio")(main())
    assert outcome["paused"], f"never paused after {outcome['sent']} messages ({outcome['buffered']} bytes buffered)"
    assert outcome["sent"] < 200
