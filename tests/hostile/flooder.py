"""A hostile peer in a process of its own: it floods a WebSocket server and says what came back.

Run as ``python flooder.py HOST PORT PATH MODE AMOUNT`` (stdlib only, no bolt, so the peer knows
nothing of the server it attacks). It connects with a blocking socket, sends the upgrade request,
checks the 101, then floods according to MODE while a reader thread parses (unmasked) server frames:

- ``ping-burst N``: N empty pings in one ``sendall`` (keys repeat every 4,096 frames); waits for
  the pongs.
- ``ping-stream SECONDS``: empty pings in blocks of 4,096 for SECONDS; waits for the pongs.

The ping floods end with one ping carrying ``LAST`` and wait for its pong. Every ping must be
answered (RFC 6455 §5.5.2; clients and test suites count pongs), so the count of pongs is the count
of pings.
- ``empty-continuations SECONDS``: a text message started with "a" (FIN clear), then empty
  continuation frames in blocks of 4,096 for SECONDS, then a final continuation "b"; waits for the
  echo "ab".
- ``one-byte-fragments SIZE``: a binary message of SIZE bytes sent as SIZE one-byte fragments; waits
  for the echo and checks it byte for byte.
- ``ping-noread SECONDS``: empty pings for up to SECONDS and never a read: says when the server cut
  the connection.

Every ping, continuation and fragment carries its own random masking key. Each flood ends with a
close frame (1000) and a wait for the server's close and end of TCP. The result is one JSON line on
stdout: bytes and frames sent, the seconds the flood took, what came back (pongs, messages, close
code), and whether the echo was right.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
import threading
import time

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
BLOCK = 4096  # frames per sendall in the streaming modes
LAST = b"last ping"


def masked(first: int, payload: bytes) -> bytes:
    key = os.urandom(4)
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", first, 0x80 | size)
    elif size < 65536:
        header = struct.pack("!BBH", first, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, size)
    if size:
        repeated = (key * (size // 4 + 1))[:size]
        payload = (int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")).to_bytes(size, "little")
    return header + key + payload


def block_of(first: int, count: int) -> bytes:
    """``count`` empty frames with the first byte ``first``, each with its own key."""
    return b"".join(masked(first, b"") for _ in range(count))


class Reader(threading.Thread):
    """Reads and parses everything the server sends until it closes TCP."""

    def __init__(self, sock: socket.socket, leftover: bytes) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.buffer = bytearray(leftover)
        self.pongs = 0
        self.last_pong = b""
        self.messages: list[tuple[int, bytes]] = []
        self.fragments = bytearray()
        self.opcode = 0
        self.close_code: int | None = None
        self.closed_at: float | None = None
        self.error = ""
        self.changed = threading.Condition()

    def run(self) -> None:
        self._parse()
        try:
            while True:
                data = self.sock.recv(1 << 20)
                if not data:
                    break
                self.buffer += data
                self._parse()
        except OSError as error:
            self.error = type(error).__name__
        with self.changed:
            self.closed_at = time.monotonic()
            self.changed.notify_all()

    def _parse(self) -> None:
        buf = self.buffer
        pos = 0
        changed = False
        while len(buf) - pos >= 2:
            first, second = buf[pos], buf[pos + 1]
            length, head = second & 0x7F, 2
            if length == 126:
                if len(buf) - pos < 4:
                    break
                length, head = struct.unpack_from("!H", buf, pos + 2)[0], 4
            elif length == 127:
                if len(buf) - pos < 10:
                    break
                length, head = struct.unpack_from("!Q", buf, pos + 2)[0], 10
            if len(buf) - pos < head + length:
                break
            payload = bytes(buf[pos + head : pos + head + length])
            pos += head + length
            opcode = first & 0x0F
            changed = True
            if opcode == 0xA:
                self.pongs += 1
                self.last_pong = payload
            elif opcode == 0x8:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
            elif opcode in (0x1, 0x2, 0x0):
                if opcode:
                    self.opcode = opcode
                self.fragments += payload
                if first & 0x80:
                    self.messages.append((self.opcode, bytes(self.fragments)))
                    self.fragments.clear()
        del buf[:pos]
        if changed:
            with self.changed:
                self.changed.notify_all()

    def wait(self, predicate, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: predicate() or self.closed_at is not None, timeout)


def handshake(host: str, port: int, path: str) -> tuple[socket.socket, bytes]:
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit(f"no 101: {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise SystemExit(f"no 101: {head!r}")
    return sock, rest


def main() -> None:
    host, port, path, mode, amount = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5])
    sock, rest = handshake(host, port, path)
    result: dict = {"mode": mode}
    if mode == "ping-noread":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        block = block_of(0x89, BLOCK)
        pending = memoryview(block)
        sent = 0
        started = time.monotonic()
        sock.settimeout(0.2)
        error = ""
        while time.monotonic() - started < amount:
            try:
                count = sock.send(pending)
            except socket.timeout:
                continue  # the server stopped reading: keep trying until it gives up on us
            except OSError as exc:
                error = type(exc).__name__
                break
            sent += count
            pending = pending[count:] or memoryview(block)
        result.update(sent=sent, frames=sent // 6, seconds=time.monotonic() - started, error=error)
        print(json.dumps(result), flush=True)
        return

    reader = Reader(sock, rest)
    reader.start()
    frames = 0
    started = time.monotonic()
    sent = 0
    if mode == "ping-burst":
        frames = int(amount)
        blocks, rest = divmod(frames, BLOCK)
        data = block_of(0x89, BLOCK) * blocks + block_of(0x89, rest)
        sock.sendall(data + masked(0x89, LAST))
        sent = len(data)
        flood_done = time.monotonic()
        reader.wait(lambda: reader.last_pong == LAST, 60)
    elif mode == "ping-stream":
        block = block_of(0x89, BLOCK)
        while time.monotonic() - started < amount:
            sock.sendall(block)
            sent += len(block)
            frames += BLOCK
        sock.sendall(masked(0x89, LAST))
        flood_done = time.monotonic()
        reader.wait(lambda: reader.last_pong == LAST, 60)
    elif mode == "empty-continuations":
        sock.sendall(masked(0x01, b"a"))
        block = block_of(0x00, BLOCK)
        while time.monotonic() - started < amount:
            sock.sendall(block)
            sent += len(block)
            frames += BLOCK
        sock.sendall(masked(0x80, b"b"))
        flood_done = time.monotonic()
        reader.wait(lambda: bool(reader.messages), 60)
        result["echo_ok"] = reader.messages[:1] == [(0x1, b"ab")]
    elif mode == "one-byte-fragments":
        size = int(amount)
        message = bytes(i * 7 % 251 for i in range(size))
        pieces = [masked(0x02 if i == 0 else 0x00, message[i : i + 1]) for i in range(size - 1)]
        pieces.append(masked(0x80, message[-1:]))
        data = b"".join(pieces)
        sock.sendall(data)
        sent, frames = len(data), size
        flood_done = time.monotonic()
        reader.wait(lambda: bool(reader.messages), 60)
        result["echo_ok"] = reader.messages[:1] == [(0x2, message)]
    else:
        raise SystemExit(f"unknown mode {mode}")
    answered = time.monotonic()
    try:
        sock.sendall(masked(0x88, struct.pack("!H", 1000)))
    except OSError:
        pass
    reader.wait(lambda: False, 10)
    result.update(
        sent=sent,
        frames=frames,
        flood_seconds=flood_done - started,
        answered_seconds=answered - started,
        pongs=reader.pongs,
        last_answered=reader.last_pong == LAST,
        messages=len(reader.messages),
        close_code=reader.close_code,
        tcp_closed=reader.closed_at is not None,
        error=reader.error,
    )
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
