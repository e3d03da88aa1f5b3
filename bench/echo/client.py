"""The benchmark's client: a raw blocking socket, no WebSocket library.

It does the HTTP upgrade by hand, then each round trip sends one frame built and masked ahead of
time (``sendall`` of a ready ``bytes``) and reads the echo fully: the 2, 4 or 10-byte header is
parsed, then exactly the payload it announces is read into a buffer allocated once. So the client
costs a send, a receive or a few, and a little arithmetic per message.

Every blocking call is bounded by SO_RCVTIMEO/SO_SNDTIMEO (kernel timeouts: a Python-level socket
timeout would add a poll() before every recv), and every loop by a count and a deadline.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import socket
import string
import struct
import time

OP_TEXT, OP_BINARY, OP_CLOSE = 0x1, 0x2, 0x8
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
IO_TIMEOUT = 10.0  # seconds any single send or receive may block
ASCII = (string.ascii_letters + string.digits + " {}:,\"").encode()


class EchoError(Exception):
    """The server answered something other than the exact echo."""


def masked_frame(opcode: int, payload: bytes, key: bytes) -> bytes:
    """A whole client frame (FIN set), masked with ``key`` (built with int XOR, no library)."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    if not length:
        return header + key
    repeated = (key * (length // 4 + 1))[:length]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(length, "big")
    return header + key + masked


def make_payload(kind: str, size: int, seed: int = 0) -> bytes:
    """Random bytes for binary, random printable ASCII for text (same seed, same payload)."""
    rng = random.Random(size * 4 + (kind == "text") + seed * 2)
    if kind == "text":
        return bytes(rng.choices(ASCII, k=size))
    return rng.randbytes(size)


def _set_timeouts(sock: socket.socket, seconds: float) -> None:
    whole = int(seconds)
    value = struct.pack("ll", whole, int((seconds - whole) * 1_000_000))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)


class EchoClient:
    """One WebSocket connection to ``ws://host:port/``; ``with EchoClient(port) as c: ...``."""

    def __init__(self, port: int, host: str = "127.0.0.1", path: str = "/", max_payload: int = 1 << 20) -> None:
        self.sock = socket.create_connection((host, port), timeout=IO_TIMEOUT)
        # Back to blocking mode (no poll per call); the kernel timeouts bound each call instead.
        self.sock.settimeout(None)
        _set_timeouts(self.sock, IO_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = bytearray(max_payload + 14 + 65536)
        self.view = memoryview(self.buffer)
        self._handshake(host, port, path)

    def __enter__(self) -> EchoClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _handshake(self, host: str, port: int, path: str) -> None:
        key = base64.b64encode(os.urandom(16))
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key.decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.sock.sendall(request)
        response = b""
        deadline = time.monotonic() + IO_TIMEOUT
        while b"\r\n\r\n" not in response:
            if time.monotonic() > deadline or len(response) > 65536:
                raise EchoError("no complete handshake response")
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EchoError(f"connection closed during the handshake: {response!r}")
            response += chunk
        head, _, rest = response.partition(b"\r\n\r\n")
        if rest:
            raise EchoError(f"unexpected bytes after the 101: {rest[:40]!r}")
        lines = head.split(b"\r\n")
        if not lines[0].startswith(b"HTTP/1.1 101"):
            raise EchoError(f"upgrade refused: {lines[0]!r}")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        expected = base64.b64encode(hashlib.sha1(key + GUID).digest())
        if headers.get(b"sec-websocket-accept") != expected:
            raise EchoError("wrong Sec-WebSocket-Accept")
        if b"sec-websocket-extensions" in headers:
            raise EchoError(f"the server negotiated an extension: {headers[b'sec-websocket-extensions']!r}")

    def read_frame(self) -> tuple[int, int, int]:
        """Read one whole server frame into ``self.buffer``: (first byte, header length, payload length)."""
        recv_into = self.sock.recv_into
        view = self.view
        got = recv_into(view)
        if not got:
            raise EchoError("connection closed by the server")
        while got < 2:
            n = recv_into(view[got:])
            if not n:
                raise EchoError("connection closed by the server")
            got += n
        buffer = self.buffer
        length = buffer[1]
        if length & 0x80:
            raise EchoError("the server masked its frame")
        if length < 126:
            header = 2
        else:
            header = 4 if length == 126 else 10
            while got < header:
                n = recv_into(view[got:])
                if not n:
                    raise EchoError("connection closed by the server")
                got += n
            length = int.from_bytes(buffer[2:header], "big")
        end = header + length
        if end > len(buffer):
            raise EchoError(f"frame of {length} bytes is larger than the client's buffer")
        while got < end:
            n = recv_into(view[got:end])
            if not n:
                raise EchoError("connection closed by the server")
            got += n
        if got != end:
            raise EchoError(f"{got - end} bytes after the echo: the server sent more than one frame")
        return buffer[0], header, length

    def echo(self, frame: bytes, opcode: int, payload: bytes) -> None:
        """One round trip, checked: the echo must be one final frame of the same type, same bytes."""
        self.sock.sendall(frame)
        first, header, length = self.read_frame()
        if first != 0x80 | opcode:
            raise EchoError(f"expected first byte {0x80 | opcode:#x}, got {first:#x}")
        if self.view[header : header + length] != payload:
            raise EchoError(f"echo differs from what was sent ({length} bytes back, {len(payload)} sent)")

    def round_trips(self, frame: bytes, first_byte: int, payload_length: int, count: int, seconds: float) -> tuple[int, float]:
        """Up to ``count`` round trips of ``frame``, stopping after ``seconds``. Each echo's type and
        length are checked (the bytes are checked by ``echo()`` before timing). Returns
        (round trips done, wall seconds)."""
        sendall = self.sock.sendall
        read_frame = self.read_frame
        clock = time.perf_counter
        start = clock()
        deadline = start + seconds
        done = 0
        while done < count:
            sendall(frame)
            first, _, length = read_frame()
            if first != first_byte or length != payload_length:
                raise EchoError(f"bad echo: first byte {first:#x}, {length} bytes")
            done += 1
            if clock() > deadline:
                break
        return done, clock() - start

    def close(self) -> None:
        """Send a close frame, wait (briefly) for the server's, close TCP."""
        try:
            _set_timeouts(self.sock, 1.0)
            self.sock.sendall(masked_frame(OP_CLOSE, struct.pack("!H", 1000), os.urandom(4)))
            self.sock.recv(256)
        except OSError:
            pass
        finally:
            self.sock.close()
