"""permessage-deflate (RFC 7692) between bolt's client and servers written by others: the
``websockets`` server with ``compression="deflate"`` (its defaults: window 12 bits both ways) and
aiohttp's ``WebSocketResponse(compress=True)``, the servers of test_bolt_client.py, on the test's
loop (stock asyncio and uvloop).

bolt's client offers permessage-deflate by default. Each case echoes text (compressible) and
random bytes of every size from empty to the 16 MiB limit over one connection, and
``test_compression_on_the_wire`` looks at the frames through a ``WireTap``.
"""

from __future__ import annotations

from functools import partial

import pytest

import bolt
from tests.interop.cases import BIG, KIB, MAX_SIZE, MIB, binary_of, text_of
from tests.interop.test_bolt_client import LOOPS, aiohttp_server, make_runner, websockets_server
from tests.interop.wire import WireTap, assert_compressed, assert_plain, wire_size

SIZES = [0, 1, 125, 64 * KIB, MIB, BIG]
SERVERS = {"websockets": partial(websockets_server, compression="deflate"), "aiohttp": aiohttp_server}

# bolt client settings -> the server's answer, per server. bolt offers its window for both
# directions (15 by default: nothing to ask); websockets answers both with its own 12 bits at most;
# aiohttp answers only server_max_window_bits when asked (and ignores client_no_context_takeover,
# which bolt's client then keeps to on its own).
SETTINGS = {
    "default": ({}, "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12", "permessage-deflate"),
    "no_context_takeover": (
        {"compression_no_context_takeover": True},
        "permessage-deflate; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12",
        "permessage-deflate",
    ),
    "window_bits=9": (
        {"compression_window_bits": 9},
        "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9",
        "permessage-deflate; server_max_window_bits=9",
    ),
    "window_bits=12": (
        {"compression_window_bits": 12, "compression_memory_level": 5},
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
        "permessage-deflate; server_max_window_bits=12",
    ),
}


@pytest.fixture(params=[(peer, loop) for peer in SERVERS for loop in LOOPS], ids=lambda param: "-".join(param))
def run(request):
    return make_runner(*request.param, servers=SERVERS, default_timeout=120.0)


@pytest.mark.parametrize("setting", SETTINGS, ids=str)
def test_negotiates_and_echoes(run, setting):
    settings, websockets_answer, aiohttp_answer = SETTINGS[setting]

    async def scenario(peer):
        answer = websockets_answer if peer.name == "websockets" else aiohttp_answer
        async with bolt.connect(peer.url("/echo"), max_message_size=MAX_SIZE, **settings) as ws:
            assert ws.response_headers.get("Sec-WebSocket-Extensions") == answer
            for size in SIZES:
                for message in (text_of(size), binary_of(size)):
                    await ws.send(message)
                    reply = await ws.receive()
                    assert type(reply) is type(message) and reply == message, (size, type(message))

    run(scenario)


def test_compression_on_the_wire(run):
    """Both ends compress text; bolt's client sends random bytes and messages under 128 bytes
    plain, and honours ``compress=False``."""

    async def scenario(peer):
        with WireTap(peer.port) as tap:
            async with bolt.connect(tap.url("/echo"), max_message_size=MAX_SIZE) as ws:
                for message in (text_of(MIB), binary_of(64 * KIB), text_of(125), text_of(200)):
                    await ws.send(message)
                    assert await ws.receive() == message
                await ws.send_text(text_of(MIB), compress=False)
                assert await ws.receive_text() == text_of(MIB)
        return tap

    tap = run(scenario)
    offer = tap.last.up.header("Sec-WebSocket-Extensions")
    # The defaults: a 15-bit window, so bolt only says it accepts a limit on its own.
    assert offer == "permessage-deflate; client_max_window_bits"
    up, down = tap.last.up.messages(), tap.last.down.messages()
    assert len(up) == len(down) == 5, (up, down)
    assert_compressed(up[0], MIB, at_most=0.05)
    assert_compressed(down[0], MIB, at_most=0.05)
    assert_plain(up[1], 64 * KIB)
    assert_plain(up[2], 125)
    assert_compressed(up[3], 200, at_most=0.9)
    assert_plain(up[4], MIB)
    assert down[4][0].rsv1 and wire_size(down[4]) < MIB // 20  # the server compresses its echo anyway
