"""permessage-deflate (RFC 7692) between bolt's server and clients written by others: the
``websockets`` client with every parameter it can offer, aiohttp's client, and a client built by
hand that inflates bolt's frames itself.

bolt's server runs with compression on, a 12-bit window both ways (websockets' choice, set here so
that every window parameter shows in the answers) and the other defaults (messages under 128 bytes
and messages deflate cannot shrink sent plain), except where a test says otherwise. Each
negotiation echoes text (``cases.text_of``, compressible) and random bytes (``cases.binary_of``)
of every size from empty to the 16 MiB limit over one connection, so the compression context is
carried from message to message. ``WireTap`` (tests/interop/wire.py) shows what was on the wire.
"""

from __future__ import annotations

import asyncio
import zlib

import aiohttp
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

from bolt.transport.run import new_event_loop
from tests.framing import raw_frame
from tests.interop.app import make_api
from tests.interop.cases import BIG, KIB, MAX_SIZE, MIB, binary_of, text_of
from tests.interop.conftest import ServerThread
from tests.interop.wire import (
    BINARY,
    CLOSE,
    RSV1,
    TAIL,
    TEXT,
    RawClient,
    WireTap,
    assert_compressed,
    assert_plain,
    deflated_frame,
    wire_size,
)

SIZES = [0, 1, 125, 64 * KIB, MIB, BIG]
WINDOW_12 = {"compression_window_bits": 12, "compression_memory_level": 5}


@pytest.fixture(scope="module", params=["asyncio", "uvloop"])
def server(request):
    """tests.interop.app with a 12-bit window, once per module and event loop."""
    try:
        new_event_loop(request.param).close()
    except ImportError:
        pytest.skip(f"{request.param} is not installed")
    running = ServerThread(make_api(**WINDOW_12), request.param).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def default_server():
    running = ServerThread(make_api(), "asyncio").start()
    yield running
    running.stop()


def test_the_default_answer_asks_for_nothing_beyond_deflate(default_server):
    """bolt's defaults (a 15-bit window, every peer's default): the answer is the bare name."""

    async def scenario():
        async with ws_connect(default_server.url("/echo"), max_size=MAX_SIZE) as ws:
            assert ws.response.headers["Sec-WebSocket-Extensions"] == "permessage-deflate"
            await ws.send(text_of(64 * KIB))
            assert await ws.recv() == text_of(64 * KIB)

    run(scenario())
DEFAULT_ANSWER = "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"


def run(coroutine, timeout: float = 120.0):
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


def messages_of(size: int) -> list[str | bytes]:
    return [text_of(size), binary_of(size)]


# The websockets client

# id: (the client's factory, None for its default (compression="deflate"); bolt's answer; what the
# client then agreed, as its PerMessageDeflate extension says: (remote_no_context_takeover,
# local_no_context_takeover, remote_max_window_bits, local_max_window_bits), remote being bolt).
WEBSOCKETS_OFFERS = {
    "default": (None, DEFAULT_ANSWER, (False, False, 12, 12)),
    "client_no_context_takeover": (
        ClientPerMessageDeflateFactory(client_no_context_takeover=True),
        "permessage-deflate; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12",
        (False, True, 12, 12),
    ),
    "server_no_context_takeover": (
        ClientPerMessageDeflateFactory(server_no_context_takeover=True),
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12",
        (True, False, 12, 12),
    ),
    "server_max_window_bits=10": (
        ClientPerMessageDeflateFactory(server_max_window_bits=10),
        "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12",
        (False, False, 10, 12),
    ),
    # client_max_window_bits=N: the most the client will use; bolt asks for at most 12.
    **{
        f"client_max_window_bits={bits}": (
            ClientPerMessageDeflateFactory(client_max_window_bits=bits),
            f"permessage-deflate; server_max_window_bits=12; client_max_window_bits={min(bits, 12)}",
            (False, False, 12, min(bits, 12)),
        )
        for bits in range(9, 16)
    },
    # Without client_max_window_bits in the offer bolt may not limit the client's window (§7.1.2.2).
    "no client_max_window_bits": (
        ClientPerMessageDeflateFactory(client_max_window_bits=None),
        "permessage-deflate; server_max_window_bits=12",
        (False, False, 12, 15),
    ),
}


def websockets_connect(url: str, factory=None):
    options = {} if factory is None else {"extensions": [factory], "compression": None}
    return ws_connect(url, max_size=MAX_SIZE, open_timeout=10, close_timeout=5, **options)


def agreed(ws) -> tuple:
    [extension] = ws.protocol.extensions
    return (
        extension.remote_no_context_takeover,
        extension.local_no_context_takeover,
        extension.remote_max_window_bits,
        extension.local_max_window_bits,
    )


@pytest.mark.parametrize("offer", WEBSOCKETS_OFFERS, ids=str)
def test_websockets_negotiates_and_echoes(server, offer):
    factory, answer, parameters = WEBSOCKETS_OFFERS[offer]

    async def scenario():
        async with websockets_connect(server.url("/echo"), factory) as ws:
            assert ws.response.headers["Sec-WebSocket-Extensions"] == answer
            assert agreed(ws) == parameters
            for size in SIZES:
                for message in messages_of(size):
                    await ws.send(message)
                    reply = await ws.recv()
                    assert type(reply) is type(message) and reply == message, (size, type(message))

    run(scenario())


def test_websockets_offer_bolt_cannot_take_is_declined(server):
    """zlib cannot compress with a window of 8 bits: bolt declines server_max_window_bits=8, and
    the connection goes on without compression."""

    async def scenario():
        async with websockets_connect(server.url("/echo"), ClientPerMessageDeflateFactory(server_max_window_bits=8)) as ws:
            assert "Sec-WebSocket-Extensions" not in ws.response.headers and ws.protocol.extensions == []
            for message in messages_of(64 * KIB):
                await ws.send(message)
                assert await ws.recv() == message

    run(scenario())


# aiohttp's client. It offers "permessage-deflate; client_max_window_bits", with
# server_max_window_bits when compress= is under 15, and has no way to offer
# client_no_context_takeover (ws_ext_gen leaves it out); send_str(..., compress=N) compresses one
# message with a fresh compressor of its own, which the test does as the "no takeover" case.

AIOHTTP_OFFERS = {
    "compress=15": (15, None, DEFAULT_ANSWER),
    "compress=10": (10, None, "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12"),
    "per-message compress=9": (15, 9, DEFAULT_ANSWER),
}


def aiohttp_run(scenario, timeout: float = 120.0):
    async def main():
        async with aiohttp.ClientSession() as session:
            return await scenario(session)

    return run(main(), timeout)


def aiohttp_connect(session, url: str, compress: int):
    # aiohttp refuses a message of exactly max_msg_size bytes, so one more takes 16 MiB.
    return session.ws_connect(url, compress=compress, max_msg_size=MAX_SIZE + 1, timeout=aiohttp.ClientWSTimeout(ws_close=5))


async def aiohttp_echo(ws, message, send_compress: int | None = None) -> None:
    if isinstance(message, str):
        await ws.send_str(message, compress=send_compress)
        reply = await ws.receive(timeout=30)
        assert reply.type is aiohttp.WSMsgType.TEXT and reply.data == message, len(message)
    else:
        await ws.send_bytes(message, compress=send_compress)
        reply = await ws.receive(timeout=30)
        assert reply.type is aiohttp.WSMsgType.BINARY and reply.data == message, len(message)


@pytest.mark.parametrize("offer", AIOHTTP_OFFERS, ids=str)
def test_aiohttp_negotiates_and_echoes(server, offer):
    compress, send_compress, answer = AIOHTTP_OFFERS[offer]

    async def scenario(session):
        with WireTap(server.port) as tap:
            async with aiohttp_connect(session, tap.url("/echo"), compress) as ws:
                assert tap.last.down.header("Sec-WebSocket-Extensions") == answer
                # aiohttp compresses with the client_max_window_bits bolt answered, and keeps its
                # context (bolt did not ask for client_no_context_takeover).
                assert (ws.compress, ws.client_notakeover) == (12, False)
                for size in SIZES:
                    for message in messages_of(size):
                        await aiohttp_echo(ws, message, send_compress)

    aiohttp_run(scenario)


# What was on the wire, per client


def check_wire(tap: WireTap, *, client_compresses_random: bool) -> None:
    """After 1 MiB of text, 64 KiB of random bytes, 125 and 200 bytes of text, each echoed."""
    up, down = tap.last.up.messages(), tap.last.down.messages()
    assert len(up) == len(down) == 4, (up, down)
    # Both ends compressed the text: 1 MiB of text_of is a few KiB deflated.
    assert_compressed(up[0], MIB, at_most=0.05)
    assert_compressed(down[0], MIB, at_most=0.05)
    # bolt sends what deflate cannot shrink as it is, and what is under 128 bytes.
    assert_plain(down[1], 64 * KIB)
    assert_plain(down[2], 125)
    assert_compressed(down[3], 200, at_most=0.9)
    if client_compresses_random:
        assert up[1][0].rsv1 and wire_size(up[1]) > 64 * KIB  # inflated by bolt just the same


async def the_wire_messages(send, receive) -> None:
    for message in (text_of(MIB), binary_of(64 * KIB), text_of(125), text_of(200)):
        await send(message)
        assert await receive() == message


def test_websockets_compresses_on_the_wire(server):
    async def scenario(tap):
        async with websockets_connect(tap.url("/echo")) as ws:
            await the_wire_messages(ws.send, ws.recv)

    with WireTap(server.port) as tap:
        run(scenario(tap))
        assert tap.last.up.header("Sec-WebSocket-Extensions") == "permessage-deflate; client_max_window_bits"
        assert tap.last.down.header("Sec-WebSocket-Extensions") == DEFAULT_ANSWER
        check_wire(tap, client_compresses_random=True)


def test_aiohttp_compresses_on_the_wire(server):
    async def scenario(session):
        async with aiohttp_connect(session, tap.url("/echo"), 15) as ws:

            async def send(message):
                await (ws.send_str(message) if isinstance(message, str) else ws.send_bytes(message))

            async def receive():
                return (await ws.receive(timeout=30)).data

            await the_wire_messages(send, receive)

    with WireTap(server.port) as tap:
        aiohttp_run(scenario)
        assert tap.last.up.header("Sec-WebSocket-Extensions") == "permessage-deflate; client_max_window_bits"
        check_wire(tap, client_compresses_random=True)


def test_context_takeover_is_seen_on_the_wire(server):
    """A message repeated within the window costs a few bytes the second time (both ends keep
    their context); with the clients' no_context_takeover offers, it costs the same both times."""
    message = binary_of(1500).hex()  # 3,000 bytes that deflate only halves, within 4 KiB (12 bits)

    async def twice(url, factory):
        async with websockets_connect(url, factory) as ws:
            for _ in range(2):
                await ws.send(message)
                assert await ws.recv() == message

    with WireTap(server.port) as tap:
        run(twice(tap.url("/echo"), None))
        up, down = tap.last.up.messages(), tap.last.down.messages()
        run(
            twice(
                tap.url("/echo"),
                ClientPerMessageDeflateFactory(server_no_context_takeover=True, client_no_context_takeover=True),
            )
        )
        up_reset, down_reset = tap.last.up.messages(), tap.last.down.messages()
    for first, second in (up, down):
        assert first[0].rsv1 and second[0].rsv1, (first, second)
        assert wire_size(second) < 50 and wire_size(first) > 1000, (first, second)
    for first, second in (up_reset, down_reset):
        assert first[0].rsv1 and wire_size(second) == wire_size(first) > 1000, (first, second)


# bolt's server configured with compression_no_context_takeover


@pytest.fixture(scope="module")
def resetting_server():
    running = ServerThread(make_api(compression_no_context_takeover=True, **WINDOW_12), "asyncio").start()
    yield running
    running.stop()


RESETTING_ANSWER = "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12"


def test_server_no_context_takeover_with_websockets(resetting_server):
    async def scenario():
        async with websockets_connect(resetting_server.url("/echo")) as ws:
            assert ws.response.headers["Sec-WebSocket-Extensions"] == RESETTING_ANSWER
            assert agreed(ws) == (True, False, 12, 12)
            for size in SIZES:
                for message in messages_of(size):
                    await ws.send(message)
                    assert await ws.recv() == message

    run(scenario())


def test_server_no_context_takeover_with_aiohttp(resetting_server):
    async def scenario(session):
        with WireTap(resetting_server.port) as tap:
            async with aiohttp_connect(session, tap.url("/echo"), 15) as ws:
                assert tap.last.down.header("Sec-WebSocket-Extensions") == RESETTING_ANSWER
                for size in SIZES:
                    for message in messages_of(size):
                        await aiohttp_echo(ws, message)

    aiohttp_run(scenario)


def test_no_extension_when_compression_is_off(fragmenting_server):
    """``fragmenting_server`` runs with compression=False: the offer is ignored."""

    async def scenario():
        async with websockets_connect(fragmenting_server.url("/echo")) as ws:
            assert "Sec-WebSocket-Extensions" not in ws.response.headers and ws.protocol.extensions == []
        async with RawClient(fragmenting_server.port, offer="permessage-deflate") as client:
            assert client.extensions is None

    run(scenario())


# A client built by hand: what bolt's frames are, byte for byte


def test_bolt_frames_inflate_to_the_message(server):
    text = text_of(10 * KIB).encode()

    async def scenario():
        async with RawClient(server.port, offer="permessage-deflate") as client:
            # No client_max_window_bits in the offer: bolt says only its own window.
            assert client.extensions == "permessage-deflate; server_max_window_bits=12"
            inflater = zlib.decompressobj(-15)  # context kept: bolt did not say server_no_context_takeover

            # A plain text message: the echo is one frame with RSV1 set, a fraction of the size.
            await client.send(raw_frame(TEXT, text, key=b"\x0f\x1e\x2d\x3c"))
            reply = await client.receive()
            assert (reply.fin, reply.rsv, reply.opcode) == (True, RSV1, TEXT)
            assert len(reply.payload) < len(text) // 10
            assert inflater.decompress(reply.payload + TAIL) == text

            # A compressed message from the client (window 15, context kept from one to the next).
            compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
            for _ in range(2):
                await client.send(deflated_frame(TEXT, text, compressor))
                reply = await client.receive()
                assert (reply.rsv, reply.opcode) == (RSV1, TEXT)
                assert inflater.decompress(reply.payload + TAIL) == text

            # Random bytes: deflate cannot shrink them, so bolt sends them as they are.
            data = binary_of(10 * KIB)
            await client.send(deflated_frame(BINARY, data, compressor))
            reply = await client.receive()
            assert (reply.rsv, reply.opcode, reply.payload) == (0, BINARY, data)

            # And under 128 bytes, plain too.
            await client.send(raw_frame(TEXT, text[:100], key=b"\x01\x02\x03\x04"))
            reply = await client.receive()
            assert (reply.rsv, reply.payload) == (0, text[:100])

            await client.send(raw_frame(CLOSE, b"\x03\xe8", key=b"\x01\x02\x03\x04"))
            reply = await client.receive()
            assert (reply.rsv, reply.opcode, reply.payload) == (0, CLOSE, b"\x03\xe8")

    run(scenario(), timeout=30)
