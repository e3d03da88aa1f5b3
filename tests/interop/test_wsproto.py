"""bolt's server judged by wsproto (sans-I/O), driven here over a plain blocking socket: every
event, including partial messages, fragment boundaries, pings and the close, is visible."""

from __future__ import annotations

import json
import math
import socket
from collections import deque
from urllib.parse import quote

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from tests.interop.cases import BIG, CLOSE_CODES, SIZES, binary_of, close_reason, digest, json_of, text_of

# wsproto 1.3 fails a received close with 1014 (Bad Gateway, in the IANA registry but not in its
# CloseReason enum) as "unknown reserved code", 1002: its limitation. So bolt does not send it 1014,
# and when wsproto sends 1014 only what bolt's handler saw is checked, not wsproto's view of the echo.
CODES_WSPROTO_RECEIVES = [code for code in CLOSE_CODES if code != 1014]
ECHO_CASES = [(kind, size) for kind in ("text", "binary", "json") for size in SIZES if (kind, size) != ("json", 0)]


class Rejected(Exception):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


class Client:
    """wsproto's client state machine over a blocking socket."""

    def __init__(self, server, path: str, subprotocols=()) -> None:
        self.sock = socket.create_connection((server.host, server.port), timeout=10)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.pending: deque = deque()
        self.pings: list[bytes] = []
        self.send(Request(host=f"{server.host}:{server.port}", target=path, subprotocols=list(subprotocols)))
        event = self.next_event()
        if isinstance(event, RejectConnection):
            status, body, more = event.status_code, b"", event.has_body
            while more:
                data = self.next_event()
                assert isinstance(data, RejectData)
                body += data.data
                more = not data.body_finished
            self.sock.close()
            raise Rejected(status, body)
        assert isinstance(event, AcceptConnection), event
        self.subprotocol = event.subprotocol

    def send(self, event) -> None:
        self.sock.sendall(self.ws.send(event))

    def next_event(self):
        while not self.pending:
            data = self.sock.recv(1 << 20)
            self.ws.receive_data(data or None)
            self.pending.extend(self.ws.events())
            if not data and not self.pending:
                raise ConnectionError("the server closed TCP")
        return self.pending.popleft()

    def receive(self):
        """The next message and how many frames it came in; pings are answered (and kept)."""
        parts, frames = [], 0
        while True:
            event = self.next_event()
            if isinstance(event, Ping):
                self.pings.append(event.payload)
                self.send(event.response())
            elif isinstance(event, Message):
                parts.append(event.data)
                frames += event.frame_finished
                if event.message_finished:
                    joined = "".join(parts) if isinstance(event, TextMessage) else b"".join(parts)
                    return joined, frames
            else:
                return event, frames

    def close(self, code: int = 1000, reason: str = "") -> CloseConnection:
        """Close and return the server's answering close; the server then closes TCP."""
        self.send(CloseConnection(code=code, reason=reason))
        while True:
            event = self.next_event()
            if isinstance(event, CloseConnection):
                break
        assert self.sock.recv(1) == b""  # the server closes TCP first (RFC 6455 §7.1.1)
        self.sock.close()
        return event


def echo(server, kind: str, size: int) -> None:
    client = Client(server, "/json" if kind == "json" else "/echo")
    if kind == "json":
        value, encoded = json_of(size)
        client.send(TextMessage(data=encoded))
        reply, _ = client.receive()
        assert isinstance(reply, str) and json.loads(reply) == value
    else:
        message = text_of(size) if kind == "text" else binary_of(size)
        client.send(TextMessage(data=message) if kind == "text" else BytesMessage(data=message))
        reply, _ = client.receive()
        assert type(reply) is type(message) and reply == message
    assert client.close().code == 1000


@pytest.mark.parametrize(("kind", "size"), ECHO_CASES, ids=[f"{kind}-{size}" for kind, size in ECHO_CASES])
def test_echo(server, kind, size):
    echo(server, kind, size)


@pytest.mark.parametrize("kind", ["text", "binary"])
def test_echo_16_mib(server, kind):
    echo(server, kind, BIG)


def test_fragmented_messages_are_reassembled_by_bolt(server):
    client = Client(server, "/digest")
    text = text_of(70_000)
    for start, end in [(0, 1), (1, 1), (1, 30_000), (30_000, len(text))]:
        client.send(TextMessage(data=text[start:end], message_finished=end == len(text)))
    assert json.loads(client.receive()[0]) == digest(text)
    data = binary_of(70_000)
    for start in range(0, len(data), 7_000):
        client.send(BytesMessage(data=data[start : start + 7_000], message_finished=start + 7_000 >= len(data)))
    assert json.loads(client.receive()[0]) == digest(data)
    client.close()


def test_fragments_sent_by_bolt_are_reassembled(fragmenting_server):
    client = Client(fragmenting_server, "/echo")
    for message in (text_of(100_000), binary_of(100_000)):
        client.send(TextMessage(data=message) if isinstance(message, str) else BytesMessage(data=message))
        reply, frames = client.receive()
        assert reply == message and frames == math.ceil(100_000 / 1000)
    client.close()


def test_client_ping_gets_its_pong(server):
    client = Client(server, "/echo")
    for payload in (b"", b"client-ping", bytes(range(125))):
        client.send(Ping(payload=payload))
        pong, _ = client.receive()
        assert isinstance(pong, Pong) and pong.payload == payload
    client.close()


def test_server_ping_is_answered(server):
    client = Client(server, "/server-ping")
    assert client.receive()[0] == "pong: bolt-ping"
    assert client.pings == [b"bolt-ping"]
    client.close()


@pytest.mark.parametrize("code", CODES_WSPROTO_RECEIVES)
def test_close_code_sent_by_bolt(server, code):
    client = Client(server, f"/close/{code}?reason={quote(close_reason(code))}")
    close, _ = client.receive()
    assert isinstance(close, CloseConnection) and (close.code, close.reason) == (code, close_reason(code))
    client.send(close.response())
    assert client.sock.recv(1) == b""
    client.sock.close()


@pytest.mark.parametrize("code", CLOSE_CODES)
def test_close_code_sent_by_the_client(server, code):
    key = f"wsproto-{code}"
    client = Client(server, f"/record/{key}")
    assert client.receive()[0] == "ready"
    answer = client.close(code, close_reason(code))
    if code in CODES_WSPROTO_RECEIVES:
        assert answer.code == code  # bolt echoes the code it received (RFC 6455 §5.5.1)
    assert server.recorder.wait(key) == (code, close_reason(code))


def test_close_before_accept_reaches_the_client(server):
    client = Client(server, "/token?token=wrong")
    close, _ = client.receive()
    assert isinstance(close, CloseConnection) and (close.code, close.reason) == (4001, "Invalid token")
    client.send(close.response())
    client.sock.close()


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [(["chat.v1"], "chat.v1"), (["other", "chat.v2", "chat.v1"], "chat.v2"), (["other"], None), ([], None)],
)
def test_subprotocol_negotiation(server, offered, chosen):
    client = Client(server, "/subprotocol", offered)
    assert client.subprotocol == chosen
    assert client.receive()[0] == (chosen or "")
    client.close()


@pytest.mark.parametrize(("path", "status"), [("/nowhere", 404), ("/forbidden", 403)])
def test_refused_handshake_is_an_http_status(server, path, status):
    with pytest.raises(Rejected) as refused:
        Client(server, path)
    assert refused.value.status == status
    if status == 403:
        assert refused.value.body == b"no entry"
