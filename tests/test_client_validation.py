"""``bolt.connect`` says what is wrong: arguments that cannot make a valid opening handshake are a
``ValueError`` at once, before any connection, and a 101 that is not HTTP/1.1 is refused. On stock
asyncio and on uvloop, against real loopback servers."""

from __future__ import annotations

import asyncio
import time

import pytest

import bolt
from bolt import BoltAPI, HandshakeError, WebSocket
from bolt.protocol.handshake import accept_key
from bolt.testing import AsyncTestClient

# Far under the 10 s open timeout that the failure used to wait for.
PROMPT = 1.0



api = BoltAPI()


@api.websocket("/echo")
async def echo(websocket: WebSocket):
    await websocket.accept()
    async for message in websocket:
        await websocket.send(message)


async def refusal(path: str = "/echo", url: str | None = None, **arguments) -> tuple[ValueError, float]:
    """The ValueError that connecting to ``path`` (or ``url``) with ``arguments`` raises, with a
    server listening, and how long it took to come."""
    async with AsyncTestClient(api) as client:
        started = time.monotonic()
        with pytest.raises(ValueError) as caught:
            await bolt.connect(url or client.url(path), open_timeout=10, **arguments)
        return caught.value, time.monotonic() - started


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({"X": "a\r\nY: b"}, "X"),  # the injection itself (RFC 7230 §3.2: no CR or LF in a value)
        ({"X-Lf": "a\nb"}, "X-Lf"),
        ({"X-Nul": "a\x00b"}, "X-Nul"),
        ({"X-Ctl": "a\x01b"}, "X-Ctl"),
        ({"X-Wide": "\u20ac"}, "X-Wide"),  # a header is latin-1 on the wire (RFC 7230 §3.2.4)
        ({"Bad Name": "v"}, "Bad Name"),  # a name is a token (RFC 7230 §3.2.6)
        ({"Bad:Name": "v"}, "Bad:Name"),
        ({"": "v"}, "''"),
        ({"X\r\nY": "v"}, "X\\r\\nY"),
    ],
)
def test_a_header_that_cannot_be_sent_is_refused_at_once(run, headers, named):
    error, elapsed = run(refusal(headers=headers))
    assert elapsed < PROMPT
    assert named in str(error)


def test_a_refused_header_value_is_not_repeated(run):
    error, _ = run(refusal(headers=[("Authorization", "Bearer secret-token\r\nX: y")]))
    assert "Authorization" in str(error) and "secret-token" not in str(error)


@pytest.mark.parametrize("subprotocol", ["a b", "", "chat,v2", "chat\r\nX: y", "caf\u00e9"])
def test_a_subprotocol_that_is_not_a_token_is_refused_at_once(run, subprotocol):
    error, elapsed = run(refusal(subprotocols=[subprotocol]))
    assert elapsed < PROMPT
    assert "subprotocol" in str(error)


@pytest.mark.parametrize("path", ["/echo\r\nX: y", "/echo\tx", "/echo\x00", "/echo?\nx", "/echo\x7f"])
def test_a_url_with_control_characters_is_refused_at_once(run, path):
    # urlsplit() silently drops CR, LF and tab, so without the check the request would go out for
    # another resource than the one asked for. (A space is sent percent-encoded, as %20.)
    error, elapsed = run(refusal(path))
    assert elapsed < PROMPT
    assert "URL" in str(error)


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/echo", "ws:///echo", "ws://:80/echo", "127.0.0.1:1/echo"])
def test_a_url_that_is_not_a_websocket_url_is_refused_at_once(run, url):
    error, elapsed = run(refusal(url=url))
    assert elapsed < PROMPT
    assert "URL" in str(error)


async def answering(status_line: bytes):
    """A raw server on loopback that answers every handshake with ``status_line`` and otherwise
    valid 101 fields (the right Sec-WebSocket-Accept), then holds the connection open."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b":", 1)[1].strip().decode()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        writer.write(
            status_line + b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept_key(key).encode() + b"\r\n\r\n"
        )
        await reader.read()  # until the client goes away
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def connect_to(status_line: bytes) -> tuple[object, float]:
    server = await answering(status_line)
    port = server.sockets[0].getsockname()[1]
    started = time.monotonic()
    try:
        async with server:
            try:
                # This server never answers a close frame: no need to wait long for one.
                async with bolt.connect(f"ws://127.0.0.1:{port}/", open_timeout=10, close_timeout=0.2):
                    outcome: object = "open"
            except HandshakeError as error:
                outcome = error
            return outcome, time.monotonic() - started
    finally:
        server.close()


def test_an_http_1_1_101_opens(run):
    outcome, _ = run(connect_to(b"HTTP/1.1 101 Switching Protocols"))
    assert outcome == "open"


def test_an_http_1_0_101_is_refused_promptly(run):
    # RFC 7230 §6.7: Upgrade is HTTP/1.1's; RFC 7231 §6.2: HTTP/1.0 has no 1xx status.
    outcome, elapsed = run(connect_to(b"HTTP/1.0 101 Switching Protocols"))
    assert isinstance(outcome, HandshakeError), outcome
    assert "HTTP/1.0" in str(outcome)
    assert elapsed < PROMPT
