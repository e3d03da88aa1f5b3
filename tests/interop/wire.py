"""What the permessage-deflate tests look at on the wire, apart from any WebSocket library.

``WireTap`` is a TCP relay on 127.0.0.1, on a loop of its own in a daemon thread, put between a
client and a server: for each connection it keeps the HTTP handshake each way and the header of
every frame each way (FIN, RSV1, opcode, payload length), never the payloads. So a test can say
"this 1 MiB text went as one frame with RSV1 set and 20 KiB of payload" about any pair of peers,
in this process or not (node, Chromium).

``RawClient`` is an asyncio client that writes frames built by hand (``tests.framing.raw_frame``)
after an upgrade request offering whatever ``Sec-WebSocket-Extensions`` it is given, and reads
whole frames back, reserved bits and all. Neither imports bolt.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
import threading
import zlib
from dataclasses import dataclass, field

from tests.framing import raw_frame

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
RSV1 = 0x40
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# RFC 7692 §7.2.1: the sender removes these 4 bytes from the end of a compressed message;
# §7.2.2: the receiver appends them again before inflating.
TAIL = b"\x00\x00\xff\xff"


@dataclass(frozen=True)
class FrameHeader:
    fin: bool
    rsv1: bool
    opcode: int
    length: int  # payload bytes on the wire


@dataclass
class Direction:
    """One direction of one relayed connection."""

    head: bytes = b""  # the HTTP request or response, up to and including the blank line
    frames: list[FrameHeader] = field(default_factory=list)
    wire_bytes: int = 0
    _buffer: bytearray = field(default_factory=bytearray)
    _skip: int = 0
    _in_head: bool = True

    def feed(self, data: bytes) -> None:
        self.wire_bytes += len(data)
        buffer = self._buffer
        buffer += data
        if self._in_head:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            self.head = bytes(buffer[: end + 4])
            del buffer[: end + 4]
            self._in_head = False
        while True:
            if self._skip:
                taken = min(self._skip, len(buffer))
                del buffer[:taken]
                self._skip -= taken
                if self._skip:
                    return
            if len(buffer) < 2:
                return
            first, second = buffer[0], buffer[1]
            length = second & 0x7F
            size = {126: 4, 127: 10}.get(length, 2) + (4 if second & 0x80 else 0)
            if len(buffer) < size:
                return
            if length == 126:
                length = struct.unpack_from("!H", buffer, 2)[0]
            elif length == 127:
                length = struct.unpack_from("!Q", buffer, 2)[0]
            self.frames.append(FrameHeader(bool(first & 0x80), bool(first & RSV1), first & 0x0F, length))
            del buffer[:size]
            self._skip = length

    def header(self, name: str) -> str | None:
        """A header of the handshake (the first one called ``name``), or None."""
        for line in self.head.decode("latin-1").split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None

    def messages(self) -> list[list[FrameHeader]]:
        """The data frames, grouped by message (control frames between fragments left out)."""
        grouped: list[list[FrameHeader]] = []
        for frame in self.frames:
            if frame.opcode in (TEXT, BINARY):
                grouped.append([frame])
            elif frame.opcode == CONT and grouped:
                grouped[-1].append(frame)
        return grouped


@dataclass
class Relayed:
    """One connection through the tap: ``up`` is client to server, ``down`` server to client."""

    up: Direction = field(default_factory=Direction)
    down: Direction = field(default_factory=Direction)


class WireTap:
    """``with WireTap(port) as tap:`` point a client at ``tap.url(path)``; ``tap.connections``
    lists what each connection carried. Each direction is recorded before it is forwarded, so once
    a client has read an echo, the frames of its message and of the echo are both in the record."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.target = (host, port)
        self.host = "127.0.0.1"
        self.port = 0
        self.connections: list[Relayed] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="wire-tap", daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def __enter__(self) -> WireTap:
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._relay, self.host, 0))
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            self._call(self._stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()

    def url(self, path: str) -> str:
        return f"ws://{self.host}:{self.port}{path}"

    @property
    def last(self) -> Relayed:
        assert self.connections, "no connection went through the tap"
        return self.connections[-1]

    def _call(self, coroutine, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _stop(self) -> None:
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _relay(self, client_reader, client_writer) -> None:
        record = Relayed()
        self.connections.append(record)
        self._writers.add(client_writer)
        try:
            server_reader, server_writer = await asyncio.wait_for(asyncio.open_connection(*self.target), 5)
        except (OSError, asyncio.TimeoutError):
            client_writer.close()
            return
        self._writers.add(server_writer)
        await asyncio.gather(
            self._pump(client_reader, server_writer, record.up), self._pump(server_reader, client_writer, record.down)
        )
        for writer in (client_writer, server_writer):
            writer.close()
            self._writers.discard(writer)

    @staticmethod
    async def _pump(reader, writer, direction: Direction) -> None:
        try:
            while data := await reader.read(1 << 18):
                direction.feed(data)
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (OSError, RuntimeError):
            writer.close()


def wire_size(message: list[FrameHeader]) -> int:
    return sum(frame.length for frame in message)


def assert_compressed(message: list[FrameHeader], size: int, *, at_most: float = 0.1) -> None:
    """``message`` (its frames) carried ``size`` bytes compressed: the first frame has RSV1 set
    (RFC 7692 §6), and the frames carry at most ``at_most`` of ``size`` on the wire."""
    assert message and message[-1].fin, f"not a whole message: {message}"
    assert message[0].rsv1, f"sent uncompressed: {message}"
    assert wire_size(message) <= size * at_most, f"{wire_size(message)} bytes on the wire for {size}: {message}"


def assert_plain(message: list[FrameHeader], size: int) -> None:
    """``message`` went uncompressed: RSV1 clear, ``size`` bytes of payload."""
    assert message and message[-1].fin, f"not a whole message: {message}"
    assert not message[0].rsv1 and wire_size(message) == size, message


# A client built by hand


@dataclass
class RawFrame:
    fin: bool
    rsv: int
    opcode: int
    payload: bytes


class RawClient:
    """``async with RawClient(port, offer="permessage-deflate") as client:``: the upgrade is done
    and ``client.extensions`` is the server's Sec-WebSocket-Extensions (None if absent)."""

    def __init__(self, port: int, *, path: str = "/echo", offer: str | None = None, timeout: float = 10.0) -> None:
        self.port = port
        self.path = path
        self.offer = offer
        self.timeout = timeout
        self.extensions: str | None = None
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> RawClient:
        self.reader, self.writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), self.timeout)
        key = base64.b64encode(os.urandom(16))
        offer = f"Sec-WebSocket-Extensions: {self.offer}\r\n" if self.offer else ""
        self.writer.write(
            (
                f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key.decode()}\r\nSec-WebSocket-Version: 13\r\n"
                f"{offer}\r\n"
            ).encode()
        )
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), self.timeout)
        lines = head.decode("latin-1").split("\r\n")
        assert lines[0].startswith("HTTP/1.1 101"), lines[0]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), value.strip())
        assert headers.get("sec-websocket-accept") == base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
        self.extensions = headers.get("sec-websocket-extensions")
        return self

    async def __aexit__(self, *exc_info) -> None:
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), 2)
        except (OSError, asyncio.TimeoutError):
            pass

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await asyncio.wait_for(self.writer.drain(), self.timeout)

    async def receive(self) -> RawFrame:
        """The server's next frame, whole (its payload must not be masked)."""
        read = self.reader.readexactly
        first, second = await asyncio.wait_for(read(2), self.timeout)
        assert not second & 0x80, "the server masked a frame"
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", await asyncio.wait_for(read(2), self.timeout))[0]
        elif length == 127:
            length = struct.unpack("!Q", await asyncio.wait_for(read(8), self.timeout))[0]
        payload = await asyncio.wait_for(read(length), self.timeout)
        return RawFrame(bool(first & 0x80), first & 0x70, first & 0x0F, payload)


def deflated_frame(opcode: int, payload: bytes, compressor) -> bytes:
    """One masked, compressed frame (RSV1 set) of ``payload`` from ``compressor`` (a raw deflate
    ``zlib.compressobj``), flushed and without the final 4 bytes (RFC 7692 §7.2.1)."""
    data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert data.endswith(TAIL)
    return raw_frame(opcode, data[:-4], rsv=RSV1, key=os.urandom(4))
