"""A raw-socket WebSocket client that knows nothing of bolt: it sends handcrafted bytes and reports
exactly what the server answered.

``exchange()`` connects, sends a handcrafted upgrade request, waits for the 101, writes the crafted
bytes (optionally in slow pieces), then reads everything the server sends until the server closes
TCP (or a time limit passes). The frames are parsed as they arrive, strictly, as a client must
(RFC 6455 §5): anything the server gets wrong is listed in ``Answer.problems``.

Frames are built with ``tests.framing.raw_frame`` (``frame`` adds a fresh random key), independent of bolt's writer.
"""

from __future__ import annotations

import asyncio
import os
import struct
import time
from dataclasses import dataclass, field

from tests.framing import raw_frame, xor_mask

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
RSV1, RSV2, RSV3 = 0x40, 0x20, 0x10
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 §1.3's example: the accept value for KEY


def upgrade_request(path: str = "/echo", host: str = "127.0.0.1") -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {KEY.decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    key: bytes | None = None,
    masked: bool = True,
    length: int | None = None,
    length_bytes: int | None = None,
) -> bytes:
    """One frame as a client sends it: masked with ``key`` (a fresh random one by default).

    ``masked=False`` leaves it unmasked (a violation from a client). ``length`` writes another
    length in the header than the payload's; ``length_bytes`` (0, 2 or 8) forces the encoding of
    the length, minimal or not.
    """
    if masked and key is None:
        key = os.urandom(4)
    return raw_frame(opcode, payload, fin=fin, rsv=rsv, key=key if masked else None, length=length, length_bytes=length_bytes)


def close_frame(code: int | None = 1000, reason: bytes = b"", **options) -> bytes:
    payload = b"" if code is None else struct.pack("!H", code) + reason
    return frame(CLOSE, payload, **options)


def fragments(opcode: int, payload: bytes, cuts: list[int]) -> bytes:
    """``payload`` as one message in fragments, cut at the offsets in ``cuts``."""
    bounds = [0, *sorted(cuts), len(payload)]
    pieces = [payload[a:b] for a, b in zip(bounds, bounds[1:])]
    return b"".join(
        frame(opcode if index == 0 else CONT, piece, fin=index == len(pieces) - 1) for index, piece in enumerate(pieces)
    )


@dataclass(frozen=True)
class Until:
    """Put among the chunks: wait until the server has sent ``messages`` messages and ``pongs``
    pongs in all (or closed) before writing on."""

    messages: int = 0
    pongs: int = 0


def pieces(data: bytes, size: int) -> list[bytes]:
    """``data`` cut into pieces of ``size`` bytes, to send one at a time."""
    return [data[i : i + size] for i in range(0, len(data), size)]


@dataclass
class Frame:
    fin: bool
    rsv: int
    opcode: int
    payload: bytes


@dataclass
class Answer:
    """What the server did. Times are seconds from the end of the client's last write."""

    status: bytes = b""  # the status line of the handshake answer
    messages: list[tuple[int, bytes]] = field(default_factory=list)  # (TEXT or BINARY, payload)
    pings: list[bytes] = field(default_factory=list)
    pongs: list[bytes] = field(default_factory=list)
    close_received: bool = False
    close_code: int | None = None  # None: a close frame with no payload
    close_reason: bytes = b""
    tcp_closed: bool = False  # the server closed TCP (FIN or RST) before the time limit
    reset: bool = False  # ... with a reset rather than a FIN
    close_after: float | None = None  # when the close frame arrived
    tcp_closed_after: float | None = None  # when TCP closed
    sent: int = 0  # bytes of the crafted stream written
    sent_at_close: int | None = None  # bytes of it written when the server's close frame arrived
    frames: list[Frame] = field(default_factory=list)  # every frame, in order
    problems: list[str] = field(default_factory=list)  # what the server got wrong as a sender

    @property
    def texts(self) -> list[str]:
        return [payload.decode("utf-8") for opcode, payload in self.messages if opcode == TEXT]

    def describe(self) -> str:
        return (
            f"status={self.status!r} messages={[(op, p[:40]) for op, p in self.messages][:5]} close={self.close_received}"
            f" code={self.close_code} reason={self.close_reason!r} tcp_closed={self.tcp_closed}"
            f" close_after={self.close_after} tcp_closed_after={self.tcp_closed_after} problems={self.problems}"
        )


class _FrameReader:
    """Parses the server's frames as they arrive, as strictly as RFC 6455 asks of a client."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.buffer = bytearray()
        self.message_opcode = 0
        self.message = bytearray()
        self.after_close = 0

    def feed(self, data: bytes, now: float) -> None:
        answer = self.answer
        if answer.close_received:
            self.after_close += len(data)
            answer.problems.append(f"{self.after_close} bytes after the close frame")
            return
        self.buffer += data
        while not answer.close_received:
            parsed = self._frame()
            if parsed is None:
                return
            self._handle(parsed, now)
        if self.buffer:
            self.after_close += len(self.buffer)
            answer.problems.append(f"{len(self.buffer)} bytes after the close frame")
            self.buffer.clear()

    def _frame(self) -> Frame | None:
        buf = self.buffer
        if len(buf) < 2:
            return None
        first, second = buf[0], buf[1]
        length = second & 0x7F
        pos = 2
        if length == 126:
            if len(buf) < 4:
                return None
            length = struct.unpack_from("!H", buf, 2)[0]
            pos = 4
            if length < 126:
                self.answer.problems.append(f"non-minimal 16-bit length {length}")
        elif length == 127:
            if len(buf) < 10:
                return None
            length = struct.unpack_from("!Q", buf, 2)[0]
            pos = 10
            if length < 65536:
                self.answer.problems.append(f"non-minimal 64-bit length {length}")
        if second & 0x80:
            self.answer.problems.append("masked frame from the server")
            pos += 4
        if len(buf) < pos + length:
            return None
        payload = bytes(buf[pos : pos + length])
        if second & 0x80:
            payload = xor_mask(payload, bytes(buf[pos - 4 : pos]))
        del buf[: pos + length]
        return Frame(bool(first & 0x80), first & 0x70, first & 0x0F, payload)

    def _handle(self, parsed: Frame, now: float) -> None:
        answer = self.answer
        answer.frames.append(parsed)
        problems = answer.problems
        if parsed.rsv:
            problems.append(f"reserved bits {parsed.rsv:#x} set")
        opcode = parsed.opcode
        if opcode >= CLOSE:
            if not parsed.fin:
                problems.append("fragmented control frame")
            if len(parsed.payload) > 125:
                problems.append("control frame over 125 bytes")
            if opcode == PING:
                answer.pings.append(parsed.payload)
            elif opcode == PONG:
                answer.pongs.append(parsed.payload)
            elif opcode == CLOSE:
                self._close(parsed.payload, now)
            else:
                problems.append(f"reserved opcode {opcode:#x}")
            return
        if opcode == CONT:
            if not self.message_opcode:
                problems.append("continuation with nothing to continue")
                return
        elif opcode in (TEXT, BINARY):
            if self.message_opcode:
                problems.append("data frame inside a fragmented message")
            self.message_opcode = opcode
            self.message = bytearray()
        else:
            problems.append(f"reserved opcode {opcode:#x}")
            return
        self.message += parsed.payload
        if parsed.fin:
            payload = bytes(self.message)
            if self.message_opcode == TEXT:
                try:
                    payload.decode("utf-8")
                except UnicodeDecodeError:
                    problems.append("invalid UTF-8 in a text message")
            answer.messages.append((self.message_opcode, payload))
            self.message_opcode = 0
            self.message = bytearray()

    def _close(self, payload: bytes, now: float) -> None:
        answer = self.answer
        answer.close_received = True
        answer.close_after = now
        if len(payload) == 1:
            answer.problems.append("close frame with a 1-byte payload")
        elif payload:
            answer.close_code = struct.unpack_from("!H", payload)[0]
            answer.close_reason = payload[2:]
            try:
                payload[2:].decode("utf-8")
            except UnicodeDecodeError:
                answer.problems.append("invalid UTF-8 in the close reason")


async def exchange(
    port: int,
    *chunks: bytes | Until,
    delay: float = 0.0,
    path: str = "/echo",
    pipeline: bool = False,
    timeout: float = 2.0,
    host: str = "127.0.0.1",
) -> Answer:
    """Connect, upgrade, write ``chunks`` one at a time (``delay`` seconds apart), then read until
    the server closes TCP or ``timeout`` seconds pass. An ``Until(messages=n)`` among the chunks waits
    for the server's n-th message before writing on (a close sent right behind a message is answered
    at once, before the echo: the server may not send data after its close frame, §5.5.1).

    ``pipeline`` sends the first chunk in the same write as the upgrade request instead of after
    the 101. Writing stops early once the server's close frame arrived (nothing it could say
    after that would be read). Times in the answer are measured from the end of the last write.
    """
    answer = Answer()
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    frames = _FrameReader(answer)
    start = time.perf_counter()
    epoch = [start]  # the end of the last write: times are measured from it
    try:
        request = upgrade_request(path)
        chunks_left = list(chunks)
        if pipeline and chunks_left:
            request += chunks_left.pop(0)
            answer.sent = len(request) - len(upgrade_request(path))
        writer.write(request)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        epoch[0] = time.perf_counter()
        answer.status = head.split(b"\r\n", 1)[0]
        if not answer.status.startswith(b"HTTP/1.1 101"):
            return answer
        if ACCEPT not in head:
            answer.problems.append("the 101 lacks the right Sec-WebSocket-Accept")
        news = asyncio.Event()  # set whenever the server sent something
        reading = asyncio.ensure_future(_read(reader, frames, answer, epoch, news))
        try:
            await _write(writer, chunks_left, delay, answer, epoch, timeout, news)
            try:
                await asyncio.wait_for(asyncio.shield(reading), timeout)
            except asyncio.TimeoutError:
                pass
        finally:
            if not reading.done():
                reading.cancel()
                try:
                    await reading
                except asyncio.CancelledError:
                    pass
        return answer
    finally:
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), 1.0)
        except (OSError, asyncio.TimeoutError):
            pass


async def _write(writer, chunks: list, delay: float, answer: Answer, epoch: list, timeout: float, news) -> None:
    for index, chunk in enumerate(chunks):
        if answer.close_received or answer.tcp_closed:
            break
        if isinstance(chunk, Until):
            deadline = time.perf_counter() + timeout
            while (len(answer.messages) < chunk.messages or len(answer.pongs) < chunk.pongs) and not (
                answer.close_received or answer.tcp_closed
            ):
                news.clear()
                try:
                    await asyncio.wait_for(news.wait(), max(deadline - time.perf_counter(), 0))
                except asyncio.TimeoutError:
                    answer.problems.append(f"not {chunk} within {timeout} s")
                    return
            continue
        if index and delay:
            await asyncio.sleep(delay)
            if answer.close_received or answer.tcp_closed:
                break
        try:
            writer.write(chunk)
            await writer.drain()
        except (ConnectionError, OSError):
            break
        answer.sent += len(chunk)
        epoch[0] = time.perf_counter()


async def _read(reader: asyncio.StreamReader, frames: _FrameReader, answer: Answer, epoch: list, news) -> None:
    # Bytes the server sent right behind its 101 are already in the reader's buffer.
    while True:
        try:
            data = await reader.read(1 << 20)
        except (ConnectionResetError, BrokenPipeError):
            answer.reset = True
            data = b""
        now = time.perf_counter() - epoch[0]
        if not data:
            answer.tcp_closed = True
            answer.tcp_closed_after = now
            news.set()
            return
        was_closed = answer.close_received
        frames.feed(data, now)
        if answer.close_received and not was_closed:
            answer.sent_at_close = answer.sent
        news.set()


async def bounded_gather(coroutines, limit: int = 8) -> list:
    """Await ``coroutines`` at most ``limit`` at a time (many short connections); results in order."""
    semaphore = asyncio.Semaphore(limit)

    async def one(coroutine):
        async with semaphore:
            return await coroutine

    return await asyncio.gather(*(one(coroutine) for coroutine in coroutines))


# What a test expects

# How soon the server must answer a violation or a close, and close TCP after it: generous for a
# shared 2-core machine (typically well under a millisecond on loopback).
CLOSE_WITHIN = 1.0


def expect_closed(
    answer: Answer,
    code: int | None,
    *,
    messages=(),
    pongs=None,
    within: float = CLOSE_WITHIN,
) -> None:
    """The server sent ``messages`` ((opcode, payload) pairs, in order), then a close frame with
    ``code`` (None: a close frame with no payload), then closed TCP with a FIN, within ``within``
    seconds of the client's last write, and broke no rule as a sender (§5)."""
    context = answer.describe()
    assert answer.status.startswith(b"HTTP/1.1 101"), context
    assert answer.problems == [], context
    assert answer.messages == list(messages), context
    if pongs is not None:
        assert answer.pongs == list(pongs), context
    assert answer.close_received, context
    assert answer.close_code == code, context
    if code is None:
        assert answer.frames[-1].payload == b"", context
    assert answer.tcp_closed and not answer.reset, context
    assert answer.tcp_closed_after is not None and answer.tcp_closed_after <= within, context


def text(value: str | bytes) -> tuple[int, bytes]:
    return TEXT, value.encode("utf-8") if isinstance(value, str) else value


def binary(value: bytes) -> tuple[int, bytes]:
    return BINARY, value
