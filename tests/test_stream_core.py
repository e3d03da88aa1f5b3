"""The per-message path (``StreamCore``, compiled and pure) and what the API layer builds on it.

The core is the read callback once frames flow, the inbox, ``receive()`` and the message sends; the
stream tests elsewhere (tests/test_waiter.py, tests/test_lifecycle.py) run over both twins through
the ``codec`` fixture. Here: the core's own turns (a read of messages alone stays in the core, one
with a control frame or a violation goes back to the connection and the stream), the sends'
checks, the coroutines the API hands back, and the handler's own task.
"""

from __future__ import annotations

import asyncio

import pytest

from bolt import BoltAPI, InvalidState, WebSocket
from bolt.protocol.connection import Connection, State
from bolt.testing import AsyncTestClient
from bolt.transport.settings import Settings
from bolt.transport.stream import WebSocketStream
from bolt.websocket import BaseWebSocket
from tests.test_waiter import FakeTransport, on_loop  # noqa: F401 - on_loop is a fixture


class Stream(WebSocketStream):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.connection = Connection(hold_violations=True)


def _client(*frames: tuple[str, bytes]) -> bytes:
    from bolt import codec

    writer = codec.FrameWriter(client=True)
    return b"".join(getattr(writer, kind)(payload) for kind, payload in frames)


def _feed(stream: WebSocketStream, data: bytes) -> None:
    view = stream.get_buffer(-1)
    view[: len(data)] = data
    del view
    stream.buffer_updated(len(data))


def _open(**settings) -> tuple[Stream, FakeTransport]:
    stream = Stream(Settings(ping_interval=None, **settings))
    transport = FakeTransport()
    stream.connection_made(transport)
    stream._start_frames()
    return stream, transport


def test_the_stream_runs_on_the_implementation_the_fixture_chose(codec, on_loop):
    async def main():
        stream, _ = _open()
        return type(stream.core).__module__, stream.buffer_updated == stream.core.buffer_updated

    module, bound = on_loop(main())
    assert module == f"{'bolt._speedups' if codec.NAME == 'compiled' else 'bolt._pure'}.stream_core"
    # After the handshake the transport calls the core's read callback directly.
    assert bound


def test_a_read_of_messages_alone_is_queued_and_counted_in_bytes(codec, on_loop):
    async def main():
        stream, transport = _open()
        _feed(stream, _client(("binary", b"abc"), ("text", "héllo")))
        return list(stream.inbox), stream.core.inbox_bytes, transport.written

    inbox, size, written = on_loop(main())
    assert inbox == [b"abc", "héllo"]
    assert size == 3 + 5  # len() of each: bytes for binary, code points for text
    assert written == []


def test_a_ping_among_messages_is_answered_in_order_and_the_messages_kept(codec, on_loop):
    async def main():
        stream, transport = _open()
        _feed(stream, _client(("binary", b"one"), ("ping", b"p1"), ("text", "two"), ("ping", b"p2")))
        return list(stream.inbox), transport.written

    inbox, written = on_loop(main())
    assert inbox == [b"one", "two"]
    # Both pongs, in one write: the read went back to the connection (read_parsed()).
    assert written == [b"\x8a\x02p1\x8a\x02p2"]


def test_a_violation_after_messages_keeps_them_and_closes_once_they_are_taken(codec, on_loop):
    async def main():
        stream, transport = _open()
        bad_opcode = b"\x83\x80abcd"  # opcode 3 is reserved: RFC 6455 §5.2, 1002
        _feed(stream, _client(("binary", b"kept")) + bad_opcode)
        before = list(transport.written)
        first = await stream.receive()
        try:
            await stream.receive()
        except Exception as error:  # noqa: BLE001 - the type is what is checked
            outcome = type(error).__name__, error.code
        return before, first, outcome, transport.written

    before, first, outcome, written = on_loop(main())
    assert before == []  # held while the handler had a message to take
    assert first == b"kept"
    assert outcome == ("WebSocketDisconnect", 1002)
    assert written[0] == b"\x88\x15\x03\xeareserved opcode 0x3"  # then the close frame: 1002


def test_the_sends_check_the_state_before_framing(codec, on_loop):
    async def main():
        stream = Stream(Settings(ping_interval=None))
        stream.connection_made(FakeTransport())
        stream.connection.state = State.CONNECTING  # as a server's before accept()
        errors = []
        for send in (stream.send_text, stream.send_bytes):
            try:
                send("x" if send == stream.send_text else b"x")
            except InvalidState as error:
                errors.append(str(error))
        stream.connection.state = State.OPEN
        stream._start_frames()
        stream.start_closing(1000, "bye")
        try:
            stream.send_bytes(b"late")
        except Exception as error:  # noqa: BLE001
            errors.append(type(error).__name__)
        return errors

    assert on_loop(main()) == ["accept() the connection before sending"] * 2 + ["ConnectionClosed"]


def test_send_text_and_send_bytes_refuse_the_other_type_at_the_call(codec, on_loop):
    async def main():
        stream, transport = _open()
        websocket = BaseWebSocket(stream)
        refused = []
        for call, data in ((websocket.send_text, b"bytes"), (websocket.send_bytes, "text")):
            try:
                call(data)
            except TypeError as error:
                refused.append(str(error))
        await websocket.send("t")
        await websocket.send(bytearray(b"b"))
        return refused, transport.written

    refused, written = on_loop(main())
    assert refused == [
        "send_text() takes a str, not bytes: send_bytes() sends binary",
        "send_bytes() takes a bytes-like object, not str: send_text() sends text",
    ]
    assert written == [b"\x81\x01t", b"\x82\x01b"]


def test_the_api_hands_back_coroutines_a_task_can_run(codec, on_loop):
    """websocket.send() and receive() are the core's coroutines (compiled ones for the compiled
    core): asyncio.create_task(), which takes coroutines only, must accept them."""

    async def main():
        stream, transport = _open()
        websocket = BaseWebSocket(stream)
        receiving = asyncio.create_task(websocket.receive())
        await asyncio.sleep(0)
        _feed(stream, _client(("text", "hi")))
        sent = asyncio.create_task(websocket.send_text("out"))
        unsent = websocket.send(b"")
        is_coroutine = asyncio.iscoroutine(unsent)
        unsent.close()
        return await receiving, await sent, is_coroutine, transport.written

    received, sent, is_coroutine, written = on_loop(main())
    assert (received, sent, is_coroutine) == ("hi", None, True)
    assert written[0] == b"\x81\x03out"


def test_a_send_past_the_high_water_mark_waits_for_the_drain(codec, on_loop):
    async def main():
        stream, transport = _open()
        websocket = BaseWebSocket(stream)
        stream.pause_writing()
        sending = asyncio.create_task(websocket.send(b"x"))
        await asyncio.sleep(0.01)
        waited = not sending.done()
        stream.resume_writing()
        await sending
        return waited, stream.writing_paused, transport.written

    assert on_loop(main()) == (True, False, [b"\x82\x01x"])


@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
def test_the_handler_runs_in_a_task_of_its_own_cancelled_with_the_connections(loop_name):
    from tests.conftest import loop_runner

    api = BoltAPI(ping_interval=None)
    seen = {}

    @api.websocket("/ws")
    async def handler(websocket: WebSocket):
        await websocket.accept()
        seen["task"] = asyncio.current_task()
        try:
            async for message in websocket:
                await websocket.send(message)
        except asyncio.CancelledError:
            seen["cancelled"] = True
            raise

    async def main():
        async with AsyncTestClient(api) as client:
            async with client.websocket_connect("/ws") as websocket:
                await websocket.send_text("ping")
                echoed = await websocket.receive_text()
                # The task the handler runs in is the handler's coroutine itself: a resume
                # passes through no other coroutine.
                coroutine = seen["task"].get_coro().__qualname__
        # The client is gone: the server's connection ends and the handler with it.
        for _ in range(100):
            if seen["task"].done():
                break
            await asyncio.sleep(0.01)
        return echoed, coroutine, seen["task"].done()

    echoed, coroutine, done = loop_runner(loop_name)(main())
    assert echoed == "ping"
    assert coroutine.endswith("handler")
    assert done
