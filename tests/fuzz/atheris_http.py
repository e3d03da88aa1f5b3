"""Long fuzzing runs of the opening handshake by hand (atheris): ``RequestParser`` and then
``validate_upgrade`` on what it parsed.

    pip install atheris
    nice -n 19 python -m tests.fuzz.atheris_http -atheris_runs=1000000

The target is ``tests.fuzz.targets.check_request``: input = [limits and cut byte][request bytes].
"""

from __future__ import annotations

REQUEST = (
    b"GET /echo?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Protocol: chat, json\r\n\r\n"
)


def seeds() -> list[bytes]:
    return [
        b"\x00" + REQUEST,
        b"\x04" + REQUEST + b"\x81\x85\x01\x02\x03\x04ifmmp",
        b"\x01" + REQUEST,
        b"\x00" + REQUEST.replace(b"/echo?x=1", b"http://example.com:80/echo"),
        b"\x08" + b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
    ]


if __name__ == "__main__":
    from tests.fuzz._atheris_main import run

    run("check_request", seeds())
