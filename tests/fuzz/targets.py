"""Fuzz targets: each takes arbitrary bytes and raises ``AssertionError`` (or lets an unexpected
exception escape) when bolt breaks its contract. Shared by the bounded hypothesis tests that run
in CI (``tests/fuzz/test_*.py``) and the atheris entry points for long runs by hand
(``python -m tests.fuzz.atheris_frames``, ``python -m tests.fuzz.atheris_http``).

Contracts checked:

- ``check_frames``: the compiled and the pure ``FrameParser``, fed the same bytes cut the same way
  (through ``feed`` and through ``get_buffer``/``buffer_updated``, the path the server uses), give
  the same events, the same ``buffered`` count after every chunk, and the same error (class,
  close code, reason, events before it); nothing but ``ProtocolError`` and its subclasses ever
  escapes, and a parser that failed refuses more input with ``InvalidState``.
- ``check_request``: ``RequestParser`` raises nothing but ``HandshakeError`` subclasses, gives the
  same outcome however the bytes are cut (the same request, or a refusal both ways), and a complete request's ``trailing`` is exactly the
  bytes after the first CRLF CRLF; ``validate_upgrade`` on a parsed request raises nothing but
  ``HandshakeError`` subclasses.
- ``check_upgrade``: ``validate_upgrade`` on a request built field by field from the bytes raises
  nothing but ``HandshakeError`` subclasses, and accepts only what RFC 6455 §4.2.1 accepts.
"""

from __future__ import annotations

import base64
import random

import bolt._pure.frames as pure_frames
from bolt._deflate import Inflater
from bolt.exceptions import HandshakeError, InvalidState, ProtocolError
from bolt.protocol.handshake import Headers, Request, RequestParser, accept_response, validate_upgrade

try:
    import bolt._speedups.frames as compiled_frames
except ImportError:  # pragma: no cover - the compiled codec is built in CI (BOLT_REQUIRE_EXTENSIONS)
    compiled_frames = None



# Frames

# Limits small enough that the buffer path's room for a whole announced frame stays cheap.
MESSAGE_LIMITS = [None, 0, 1, 125, 126, 1000, 65535, 65536]
FRAME_LIMITS = [None, 0, 125, 65536]


def frame_options(control: int) -> dict:
    """Parser options from one byte of the input."""
    message_limit = MESSAGE_LIMITS[control & 0x07]
    frame_limit = FRAME_LIMITS[(control >> 3) & 0x03]
    return {
        "client": bool(control & 0x20),
        "max_message_size": message_limit,
        "max_frame_size": frame_limit,
        # permessage-deflate's inflater, a fresh context per parser: random and mutated compressed
        # payloads reach the bounded inflate path (RFC 7692 §7.2.2).
        "inflater": Inflater() if control & 0x40 else None,
    }


def cut(data: bytes, seed: int) -> list[bytes]:
    """``data`` cut into chunks, reproducibly from ``seed``: whole, byte by byte, or at random."""
    if seed == 0 or not data:
        return [data]
    if seed == 1:
        return [data[i : i + 1] for i in range(len(data))]
    rng = random.Random(seed)
    chunks, start = [], 0
    while start < len(data):
        size = rng.choice((1, 2, 3, 7, 16, 64, 200, 1 << 16))
        chunks.append(data[start : start + size])
        start += size
    return chunks


def _feed(parser, chunk: bytes) -> list:
    return parser.feed(chunk)


def _read_into(parser, chunk: bytes) -> list:
    """What asyncio's BufferedProtocol does: write into the offered view, then buffer_updated."""
    events: list = []
    view_data = memoryview(chunk)
    while True:
        view = parser.get_buffer(-1)
        size = min(len(view), len(view_data))
        view[:size] = view_data[:size]
        view.release()
        events += parser.buffer_updated(size)
        view_data = view_data[size:]
        if not view_data:
            return events


def frame_outcome(module, control: int, chunks: list[bytes], path) -> list:
    """Everything observable: per chunk the events and ``buffered``, then the error if any."""
    parser = module.FrameParser(**frame_options(control))
    trace: list = []
    for chunk in chunks:
        try:
            events = path(parser, chunk)
        except ProtocolError as error:
            trace.append(("error", type(error).__name__, error.close_code, error.reason, list(error.events)))
            try:
                path(parser, b"x")
            except InvalidState:
                pass
            else:
                raise AssertionError("a parser that failed accepted more input") from None
            return trace
        trace.append((events, parser.buffered))
    return trace


def check_frames(data: bytes) -> None:
    """Input: [options byte][cut seed byte][the stream]."""
    if len(data) < 2:
        return
    control = data[0]
    chunks = cut(data[2:], data[1])
    pure = frame_outcome(pure_frames, control, chunks, _feed)
    if compiled_frames is not None:
        compiled = frame_outcome(compiled_frames, control, chunks, _feed)
        assert compiled == pure, f"feed: compiled {compiled!r} != pure {pure!r}"
    # The server's path: reading into the parser's own buffer.
    pure_buffered = frame_outcome(pure_frames, control, chunks, _read_into)
    assert pure_buffered == pure, f"pure: buffer_updated {pure_buffered!r} != feed {pure!r}"
    if compiled_frames is not None:
        compiled_buffered = frame_outcome(compiled_frames, control, chunks, _read_into)
        assert compiled_buffered == pure, f"compiled: buffer_updated {compiled_buffered!r} != feed {pure!r}"


# The opening handshake

HEADER_LIMITS = [(16384, 128), (64, 4), (200, 2), (1024, 16)]


def _request_outcome(data_chunks: list[bytes], max_header_bytes: int, max_headers: int):
    parser = RequestParser(max_header_bytes, max_headers)
    try:
        for index, chunk in enumerate(data_chunks):
            request = parser.feed(chunk)
            if request is not None:
                # What the server hands the frame parser: the rest of this chunk, then the others.
                return ("request", request, parser.trailing + b"".join(data_chunks[index + 1 :]))
    except HandshakeError as error:
        return ("error", type(error).__name__, error.status)
    return ("incomplete",)


def _describe(request: Request) -> tuple:
    return (request.method, request.target, request.path, request.query_string, request.http_version, list(request.headers))


def check_request(data: bytes) -> None:
    """Input: [limits and cut byte][the request bytes]."""
    if not data:
        return
    max_header_bytes, max_headers = HEADER_LIMITS[data[0] & 0x03]
    body = data[1:]
    whole = _request_outcome([body], max_header_bytes, max_headers)
    pieces = _request_outcome(cut(body, data[0] >> 2), max_header_bytes, max_headers)
    if whole[0] == "request" and pieces[0] == "request":
        assert _describe(whole[1]) == _describe(pieces[1]) and whole[2] == pieces[2], (whole, pieces)
    elif whole[0] == "error" and pieces[0] == "error":
        # Refused both ways. Which refusal may depend on the cuts: a malformed field that is also one
        # field too many is a 400 when llhttp sees it whole, a 431 when a read ends inside its name.
        pass
    else:
        assert whole == pieces, f"whole {whole!r} != cut {pieces!r}"
    if whole[0] != "request":
        return
    request, trailing = whole[1], whole[2]
    # Empty lines before the request line are skipped (RFC 7230 §3.5), CRLF CRLF among them too.
    end = body.find(b"\r\n\r\n", len(body) - len(body.lstrip(b"\r\n")))
    assert end != -1 and trailing == body[end + 4 :], (body, trailing)
    _check_validate(request)


def _check_validate(request: Request) -> None:
    try:
        key = validate_upgrade(request)
    except HandshakeError:
        return
    # Accepted: then it is what RFC 6455 §4.2.1 asks for, checked here independently.
    headers = request.headers
    assert request.method == "GET" and request.http_version == "1.1", request
    assert len(headers.get_all("Host")) == 1, request
    assert "websocket" in _tokens(headers.get_all("Upgrade")), request
    assert "upgrade" in _tokens(headers.get_all("Connection")), request
    assert _tokens(headers.get_all("Sec-WebSocket-Version")) == ["13"], request
    assert headers.get_all("Sec-WebSocket-Key") == [key], request
    assert len(base64.b64decode(key, validate=True)) == 16, key
    assert accept_response(key).startswith(b"HTTP/1.1 101 ")


def _tokens(values: list[str]) -> list[str]:
    return [part.strip(" \t").lower() for value in values for part in value.split(",") if part.strip(" \t")]


# validate_upgrade on requests built field by field

METHODS = ["GET", "GET", "GET", "POST", "get", "HEAD", ""]
VERSIONS = ["1.1", "1.1", "1.1", "1.0", "2", "0.9", ""]
NAMES = ["Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Protocol", "Origin", "X"]
VALUES = {
    "Host": ["127.0.0.1", "", "a:80"],
    "Upgrade": ["websocket", "WebSocket", "h2c, websocket", "websocket2", ""],
    "Connection": ["Upgrade", "keep-alive, Upgrade", "upgrade", "close", ""],
    "Sec-WebSocket-Key": ["dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ", "AAAAAAAAAAAAAAAAAAAAAA==", "", "====", "dGhlIHNhbXBsZSBub25jZQ==="],
    "Sec-WebSocket-Version": ["13", "8", "13, 8", " 13 ", "", "013"],
}


def check_upgrade(data: bytes) -> None:
    """Input: a little program: method, version, then (name, value choice or raw text) fields."""
    if len(data) < 2:
        return
    method = METHODS[data[0] % len(METHODS)]
    version = VERSIONS[data[1] % len(VERSIONS)]
    fields = []
    position = 2
    while position + 1 < len(data) and len(fields) < 20:
        name = NAMES[data[position] % len(NAMES)]
        choice = data[position + 1]
        position += 2
        choices = VALUES.get(name, [])
        if choice < 200 and choices:
            value = choices[choice % len(choices)]
        else:
            size = choice % 24
            value = data[position : position + size].decode("latin-1")
            position += size
        fields.append((name, value))
    request = Request(method, "/", "/", "", version, Headers(fields))
    _check_validate(request)
