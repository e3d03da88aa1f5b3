"""The codec's kernels beside the peers' in pytest-benchmark groups, one group per operation and
size: masking (bolt compiled and pure, websockets' C speedup, aiohttp's Cython, a numpy XOR pass),
UTF-8 validation (bolt compiled whole and in 4 KiB pieces, pure, and ``bytes.decode``), frame
parsing (a 2 MiB stream of masked frames in 64 KiB reads: bolt, bolt pure, aiohttp's Cython
reader, websockets' sans-I/O protocol) and frame building (bolt, pure, aiohttp, websockets), the
opening handshake's parse, and a JWT authentication. The cases are those of the scripts beside
this file, which check every implementation's output first."""

from __future__ import annotations

import time

import bench_frames
import bench_mask
import bench_utf8
import jwt as pyjwt
import pytest

from bolt.auth import JWTAuthentication
from bolt.protocol.handshake import RequestParser


def call(stmt: str, namespace: dict):
    """A timeit-style case (a statement and its names) as a function of no arguments."""
    return eval(f"lambda: {stmt}", namespace)  # noqa: S307 - the statements are this folder's own


def size_label(size: int) -> str:
    return bench_mask.human_size(size)


@pytest.mark.parametrize("size", [64, 1024, 64 * 1024, 1024 * 1024], ids=size_label)
@pytest.mark.parametrize("case", list(bench_mask.CASES))
def test_mask(benchmark, case, size):
    benchmark.group = f"mask {size_label(size)}"
    namespace = bench_mask.CASES[case](size)
    benchmark(call(namespace.pop("stmt"), namespace))


@pytest.mark.parametrize("size", [256, 64 * 1024, 1024 * 1024], ids=size_label)
@pytest.mark.parametrize("text", list(bench_utf8.TEXTS))
@pytest.mark.parametrize("case", list(bench_utf8.candidates()))
def test_utf8(benchmark, case, text, size):
    function = bench_utf8.candidates()[case]
    if function is None:
        pytest.skip(f"{case} is not built")
    benchmark.group = f"utf8 {text} {size_label(size)}"
    data = bench_utf8.payload(bench_utf8.TEXTS[text], size)
    benchmark(function, data)


@pytest.mark.parametrize("size", [128, 8 * 1024, 64 * 1024], ids=size_label)
@pytest.mark.parametrize("kind", ["binary", "text"])
@pytest.mark.parametrize("parser", list(bench_frames.PARSERS))
def test_parse(benchmark, parser, kind, size):
    """One pass over the whole stream; the messages of each read dropped, as a server handles them."""
    benchmark.group = f"parse {kind} {size_label(size)} frames, 2 MiB stream"
    chunks, payloads = bench_frames.make_stream(kind, size)
    bench_frames.check_parse(parser, bench_frames.PARSERS[parser](chunks, kind), kind, payloads)
    run = bench_frames.PARSERS[parser](chunks, kind)
    benchmark(run, len)


@pytest.mark.parametrize("size", [16, 1024, 64 * 1024], ids=size_label)
@pytest.mark.parametrize("masked", [False, True], ids=["server", "client"])
@pytest.mark.parametrize("kind", ["binary", "text"])
@pytest.mark.parametrize("writer", ["bolt", "bolt pure", "aiohttp", "websockets"])
def test_build(benchmark, writer, kind, masked, size):
    benchmark.group = f"build {kind} {'masked' if masked else 'unmasked'} {size_label(size)}"
    bench_frames.check_writers(kind, masked, size)
    stmt, namespace = bench_frames.writer_cases(kind, masked, size)[writer]
    benchmark(call(stmt, namespace))


REQUEST = (
    b"GET /ws/room/42?user_id=7 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    b"Origin: https://example.com\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36\r\n\r\n"
)


def test_handshake_parse(benchmark):
    benchmark.group = "handshake"

    def parse():
        return RequestParser().feed(REQUEST)

    assert parse().path == "/ws/room/42"
    benchmark(parse)


SECRET = "bench-secret-of-at-least-thirty-two-bytes"


class _Peer:
    """What JWTAuthentication reads of a WebSocket: headers, query parameters, cookies, subprotocols."""

    def __init__(self, token: str) -> None:
        from bolt.protocol.http import Headers

        self.headers = Headers([("Authorization", f"Bearer {token}")])
        self.query_params: dict = {}
        self.cookies: dict = {}
        self.subprotocols: list = []


@pytest.mark.parametrize("case", ["bolt JWTAuthentication", "pyjwt.decode alone"])
def test_jwt(benchmark, case):
    benchmark.group = "jwt HS256"
    token = pyjwt.encode({"sub": "alice", "exp": int(time.time()) + 3600}, SECRET, algorithm="HS256")
    if case.startswith("bolt"):
        backend = JWTAuthentication(SECRET)
        peer = _Peer(token)
        assert backend.authenticate(peer)["user_id"] == "alice"
        benchmark(backend.authenticate, peer)
    else:
        benchmark(pyjwt.decode, token, SECRET, algorithms=["HS256"])
