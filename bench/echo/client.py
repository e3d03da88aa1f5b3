"""The benchmark's client: a raw blocking socket, no WebSocket library.

It does the HTTP upgrade by hand, then each round trip sends one frame built and masked ahead of
time (``sendall`` of a ready ``bytes``) and reads the echo fully: the 2, 4 or 10-byte header is
parsed, then exactly the payload it announces is read into a buffer allocated once. So the client
costs a send, a receive or a few, and a little arithmetic per message.

Every blocking call is bounded by SO_RCVTIMEO/SO_SNDTIMEO (kernel timeouts: a Python-level socket
timeout would add a poll() before every recv), and every loop by a count and a deadline.

Compressed mode (``EchoClient(..., compress=True)``, ``run.py --compress``): the upgrade offers
``permessage-deflate; client_no_context_takeover; client_max_window_bits`` (RFC 7692) and accepts
whatever the server answers. Having offered client_no_context_takeover, the client starts every
message with a fresh compressor, so each frame can still be built ahead of time
(``deflated_frame``), with the window the server allowed the client (client_max_window_bits, 15
when it said none). ``echo_compressed`` inflates each echo (window 15, the context kept from one
message to the next unless the server said server_no_context_takeover) and compares it; the timed
loop (``round_trips_cycle``) only reads the echo's frame, so the client's cost stays small.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import selectors
import socket
import string
import struct
import time
import zlib

OP_TEXT, OP_BINARY, OP_CLOSE = 0x1, 0x2, 0x8
RSV1 = 0x40  # RFC 7692 §6: set on the first frame of a compressed message
DEFLATE_OFFER = "permessage-deflate; client_no_context_takeover; client_max_window_bits"
# RFC 7692 §7.2.1: a compressed message ends without these 4 bytes; §7.2.2: the receiver adds them.
TAIL = b"\x00\x00\xff\xff"
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
IO_TIMEOUT = 10.0  # seconds any single send or receive may block
ASCII = (string.ascii_letters + string.digits + " {}:,\"").encode()
# Text in mixed scripts: Latin with accents, Cyrillic, CJK, emoji (1 to 4 bytes a character).
MIXED = "Grüße Ça va? Привет мир 你好世界 こんにちは 안녕하세요 🎉🚀👍 "


class EchoError(Exception):
    """The server answered something other than the exact echo."""


def masked_frame(opcode: int, payload: bytes, key: bytes, rsv: int = 0) -> bytes:
    """A whole client frame (FIN set), masked with ``key`` (built with int XOR, no library)."""
    length = len(payload)
    first = 0x80 | rsv | opcode
    if length < 126:
        header = struct.pack("!BB", first, 0x80 | length)
    elif length < 65536:
        header = struct.pack("!BBH", first, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, length)
    if not length:
        return header + key
    repeated = (key * (length // 4 + 1))[:length]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(length, "big")
    return header + key + masked


def deflated_frame(opcode: int, payload: bytes, key: bytes, window_bits: int, level: int = 6) -> bytes:
    """A whole compressed client frame (RSV1 set), from a fresh compressor (no context taken
    over from an earlier message, as client_no_context_takeover promises), masked with ``key``."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, -window_bits)
    data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
    if not data.endswith(TAIL):
        raise EchoError("zlib's sync flush did not end with 00 00 ff ff")
    return masked_frame(opcode, data[:-4], key, rsv=RSV1)


EVENTS = ["click", "view", "scroll", "purchase", "login", "logout", "search", "share"]
TAGS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett"]


def json_text(size: int, rng: random.Random) -> bytes:
    """A JSON array of records with the same keys and random values (about 150 bytes each, as an
    API's event feed), padded with spaces to exactly ``size`` bytes (still valid JSON)."""
    records: list = []
    length = 2  # "[]"
    while True:
        record = {
            "id": rng.randrange(10**6),
            "user": f"user{rng.randrange(5000)}",
            "event": rng.choice(EVENTS),
            "ts": 1_700_000_000 + rng.randrange(10**7),
            "score": round(rng.random() * 100, 2),
            "tags": rng.sample(TAGS, 2),
            "active": rng.random() < 0.5,
        }
        added = len(json.dumps(record)) + (2 if records else 0)  # ", " between records
        if length + added > size:
            break
        records.append(record)
        length += added
    text = json.dumps(records)
    return (text + " " * (size - len(text))).encode()


def make_payload(kind: str, size: int, seed: int = 0) -> bytes:
    """Random bytes for binary, random printable ASCII for text, UTF-8 text in mixed scripts for
    mixed (words of MIXED in random order, cut on a character boundary and padded with spaces to
    exactly ``size`` bytes), JSON records for json (same seed, same payload)."""
    if kind == "json":
        return json_text(size, random.Random(f"json {size} {seed}"))
    if kind == "mixed":
        rng = random.Random(f"mixed {size} {seed}")
        words = MIXED.split()
        text = " ".join(rng.choice(words) for _ in range(size // 3 + 1)).encode()[:size]
        text = text.decode("utf-8", "ignore").encode()
        return text + b" " * (size - len(text))
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

    def __init__(
        self, port: int, host: str = "127.0.0.1", path: str = "/", max_payload: int = 1 << 20, compress: bool = False
    ) -> None:
        self.compress = compress
        # What permessage-deflate the server agreed to (compressed mode only).
        self.client_window_bits = 15  # the window the client may compress with
        self.server_resets = False  # server_no_context_takeover: inflate each message afresh
        self.inflater = zlib.decompressobj(-15)
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
            f"Sec-WebSocket-Key: {key.decode()}\r\nSec-WebSocket-Version: 13\r\n"
            + (f"Sec-WebSocket-Extensions: {DEFLATE_OFFER}\r\n" if self.compress else "")
            + "\r\n"
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
        if self.compress:
            self._accept_deflate(headers.get(b"sec-websocket-extensions"))
        elif b"sec-websocket-extensions" in headers:
            raise EchoError(f"the server negotiated an extension: {headers[b'sec-websocket-extensions']!r}")

    def _accept_deflate(self, value: bytes | None) -> None:
        """Take the server's answer to DEFLATE_OFFER (RFC 7692 §7.1)."""
        if value is None:
            raise EchoError("the server did not agree to permessage-deflate")
        name, *params = [param.strip() for param in value.decode("latin-1").split(";")]
        if name != "permessage-deflate" or "," in value.decode("latin-1"):
            raise EchoError(f"unexpected extensions: {value!r}")
        for param in params:
            key, _, param_value = param.partition("=")
            key, param_value = key.strip(), param_value.strip().strip('"')
            if key == "client_max_window_bits":
                self.client_window_bits = int(param_value)
                if not 9 <= self.client_window_bits <= 15:  # zlib cannot compress with 8
                    raise EchoError(f"client_max_window_bits={param_value} is not a window the client can use")
            elif key == "server_no_context_takeover":
                self.server_resets = True
            elif key not in ("server_max_window_bits", "client_no_context_takeover"):
                raise EchoError(f"unknown permessage-deflate parameter in {value!r}")

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

    def echo_compressed(self, frame: bytes, opcode: int, payload: bytes) -> tuple[bool, int]:
        """One round trip of a compressed frame, checked: the echo, inflated if its RSV1 is set,
        must be ``payload``, in one final frame of the same type. Returns (whether the echo was
        compressed, its payload bytes on the wire)."""
        self.sock.sendall(frame)
        first, header, length = self.read_frame()
        if first & ~RSV1 != 0x80 | opcode:
            raise EchoError(f"expected first byte {0x80 | opcode:#x} (RSV1 optional), got {first:#x}")
        data = bytes(self.view[header : header + length])
        compressed = bool(first & RSV1)
        if compressed:
            try:
                data = self.inflater.decompress(data + TAIL)
            except zlib.error as error:
                raise EchoError(f"the echo does not inflate: {error}") from None
            if self.server_resets:
                self.inflater = zlib.decompressobj(-15)
        if data != payload:
            raise EchoError(f"echo differs from what was sent ({len(data)} bytes inflated, {len(payload)} sent)")
        return compressed, length

    def round_trips_cycle(self, frames: list[bytes], opcode: int, count: int, seconds: float) -> tuple[int, float]:
        """``round_trips`` for compressed frames: up to ``count`` round trips sending ``frames`` in
        turn, stopping after ``seconds``. Each echo's type is checked, RSV1 set or not; its
        length varies with the server's compression context, and its bytes were checked by
        ``echo_compressed`` before timing (the echo is not inflated here). Returns (round trips
        done, wall seconds)."""
        sendall = self.sock.sendall
        read_frame = self.read_frame
        clock = time.perf_counter
        plain, compressed = 0x80 | opcode, 0x80 | RSV1 | opcode
        cycle = len(frames)
        start = clock()
        deadline = start + seconds
        done = 0
        while done < count:
            sendall(frames[done % cycle])
            first, _, _ = read_frame()
            if first != compressed and first != plain:
                raise EchoError(f"bad echo: first byte {first:#x}")
            done += 1
            if clock() > deadline:
                break
        return done, clock() - start

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

    def pipelined(
        self, frame: bytes, first_byte: int, payload_length: int, depth: int, count: int, seconds: float
    ) -> tuple[int, float]:
        """Up to ``count`` messages with ``depth`` of them in flight, stopping after ``seconds``: a
        frame is sent whenever fewer than ``depth`` echoes are owed, and echoes are read as they
        arrive. Non-blocking, with a selector: with megabytes in flight both sides' socket buffers
        fill, and a client blocked in ``sendall`` would never read the echoes the server is
        waiting to write. Each echo's first byte is checked (its length is fixed: the server
        sends one unmasked frame per message). Returns (echoes received, wall seconds)."""
        sock = self.sock
        header = 2 if payload_length < 126 else 4 if payload_length < 65536 else 10
        echo_size = header + payload_length
        out = memoryview(frame)
        buffer = self.buffer
        view = self.view
        selector = selectors.DefaultSelector()
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
        clock = time.perf_counter
        start = clock()
        deadline = start + seconds
        give_up = deadline + IO_TIMEOUT
        sent = received = 0
        sending = 0  # bytes of the frame being sent, 0 when none is
        position = 0  # where in the current echo the next byte read falls
        writing = True
        try:
            while True:
                more = sent < count and clock() < deadline
                if not more and sending == 0 and received == sent:
                    break
                want_write = sending > 0 or (more and sent - received < depth)
                if want_write != writing:
                    selector.modify(sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if want_write else 0))
                    writing = want_write
                for _, events in selector.select(1.0):
                    if events & selectors.EVENT_WRITE and want_write:
                        try:
                            sending += sock.send(out[sending:])
                        except BlockingIOError:
                            pass
                        if sending == len(frame):
                            sending = 0
                            sent += 1
                    if events & selectors.EVENT_READ:
                        try:
                            got = sock.recv_into(view)
                        except BlockingIOError:
                            continue
                        if not got:
                            raise EchoError("connection closed by the server")
                        # Check the first byte of each echo that starts in this chunk.
                        index = (echo_size - position) % echo_size
                        while index < got:
                            if buffer[index] != first_byte:
                                raise EchoError(f"bad echo: first byte {buffer[index]:#x}")
                            index += echo_size
                        position += got
                        received += position // echo_size
                        position %= echo_size
                if clock() > give_up:
                    raise EchoError(f"{sent - received} echoes still owed {IO_TIMEOUT:g} s after the run")
        finally:
            selector.close()
            sock.setblocking(True)
            _set_timeouts(sock, IO_TIMEOUT)
        if received > sent:
            raise EchoError("more echoes than messages sent")
        return received, clock() - start

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
