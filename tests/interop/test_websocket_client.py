"""bolt's server judged by the synchronous ``websocket-client`` package, whose frames can be sent
and read one by one (fragments split inside UTF-8 characters, bolt's own fragments counted)."""

from __future__ import annotations

import json
import math
import struct
from urllib.parse import quote

import pytest
import websocket
from websocket import ABNF

from tests.interop.cases import BIG, CLOSE_CODES, SIZES, binary_of, close_reason, digest, json_of, text_of

ECHO_CASES = [(kind, size) for kind in ("text", "binary", "json") for size in SIZES if (kind, size) != ("json", 0)]


def connect(url: str, **options) -> websocket.WebSocket:
    return websocket.create_connection(url, timeout=10, **options)


def echo(server, kind: str, size: int) -> None:
    ws = connect(server.url("/json" if kind == "json" else "/echo"))
    try:
        if kind == "json":
            value, encoded = json_of(size)
            ws.send(encoded)
            opcode, reply = ws.recv_data()
            assert opcode == ABNF.OPCODE_TEXT and json.loads(reply) == value
        elif kind == "text":
            message = text_of(size)
            ws.send(message)
            opcode, reply = ws.recv_data()
            assert opcode == ABNF.OPCODE_TEXT and reply.decode() == message
        else:
            message = binary_of(size)
            ws.send_binary(message)
            opcode, reply = ws.recv_data()
            assert opcode == ABNF.OPCODE_BINARY and reply == message
    finally:
        ws.close()


@pytest.mark.parametrize(("kind", "size"), ECHO_CASES, ids=[f"{kind}-{size}" for kind, size in ECHO_CASES])
def test_echo(server, kind, size):
    echo(server, kind, size)


@pytest.mark.parametrize("kind", ["text", "binary"])
def test_echo_16_mib(server, kind):
    echo(server, kind, BIG)


def test_fragmented_messages_are_reassembled_by_bolt(server):
    ws = connect(server.url("/digest"))
    try:
        for message, opcode in ((text_of(70_000), ABNF.OPCODE_TEXT), (binary_of(70_000), ABNF.OPCODE_BINARY)):
            data = message.encode() if isinstance(message, str) else message
            # Cuts at 1, 12 (inside "ü", a two-byte character), 30,001 and an empty fragment.
            cuts = [0, 1, 12, 30_001, 30_001, len(data)]
            for index, (start, end) in enumerate(zip(cuts, cuts[1:])):
                last = end == len(data)
                ws.send_frame(ABNF.create_frame(data[start:end], opcode if index == 0 else ABNF.OPCODE_CONT, fin=int(last)))
            assert json.loads(ws.recv()) == digest(message)
    finally:
        ws.close()


def test_control_frames_between_fragments(server):
    ws = connect(server.url("/digest"))
    try:
        ws.send_frame(ABNF.create_frame(b"first ", ABNF.OPCODE_TEXT, fin=0))
        ws.ping(b"in the middle")
        ws.send_frame(ABNF.create_frame(b"last", ABNF.OPCODE_CONT, fin=1))
        assert ws.recv_data(control_frame=True) == (ABNF.OPCODE_PONG, b"in the middle")
        assert json.loads(ws.recv()) == digest("first last")
    finally:
        ws.close()


def test_fragments_sent_by_bolt_are_reassembled(fragmenting_server):
    ws = connect(fragmenting_server.url("/echo"))
    try:
        for message, opcode in ((text_of(100_000), ABNF.OPCODE_TEXT), (binary_of(100_000), ABNF.OPCODE_BINARY)):
            ws.send(message, opcode)
            frames = [ws.recv_frame()]
            while not frames[-1].fin:
                frames.append(ws.recv_frame())
            assert len(frames) == math.ceil(100_000 / 1000)
            assert [frame.opcode for frame in frames] == [opcode] + [ABNF.OPCODE_CONT] * (len(frames) - 1)
            data = b"".join(frame.data for frame in frames)
            assert (data.decode() if opcode == ABNF.OPCODE_TEXT else data) == message
    finally:
        ws.close()


def test_client_ping_gets_its_pong(server):
    ws = connect(server.url("/echo"))
    try:
        for payload in (b"", b"client-ping", bytes(range(125))):
            ws.ping(payload)
            assert ws.recv_data(control_frame=True) == (ABNF.OPCODE_PONG, payload)
    finally:
        ws.close()


def test_server_ping_is_answered(server):
    ws = connect(server.url("/server-ping"))
    try:
        # recv_data answers the ping itself; control_frame=True shows it to us as well.
        assert ws.recv_data(control_frame=True) == (ABNF.OPCODE_PING, b"bolt-ping")
        assert ws.recv() == "pong: bolt-ping"
    finally:
        ws.close()


@pytest.mark.parametrize("code", CLOSE_CODES)
def test_close_code_sent_by_bolt(server, code):
    ws = connect(server.url(f"/close/{code}?reason={quote(close_reason(code))}"))
    try:
        opcode, data = ws.recv_data(control_frame=True)
        assert opcode == ABNF.OPCODE_CLOSE
        assert (struct.unpack("!H", data[:2])[0], data[2:].decode()) == (code, close_reason(code))
    finally:
        ws.close()


@pytest.mark.parametrize("code", CLOSE_CODES)
def test_close_code_sent_by_the_client(server, code):
    key = f"websocket-client-{code}"
    ws = connect(server.url(f"/record/{key}"))
    assert ws.recv() == "ready"
    ws.close(status=code, reason=close_reason(code).encode())
    assert ws.close_frame is not None  # bolt answered the close
    assert server.recorder.wait(key) == (code, close_reason(code))


def test_close_before_accept_reaches_the_client(server):
    ws = connect(server.url("/token?token=wrong"))
    try:
        opcode, data = ws.recv_data(control_frame=True)
        assert (opcode, data) == (ABNF.OPCODE_CLOSE, struct.pack("!H", 4001) + b"Invalid token")
    finally:
        ws.close()


# websocket-client refuses a 101 that picks no subprotocol when it offered some (RFC 6455 lets
# the server pick none), so the ["other"] case of the other peers is not asked of it.
@pytest.mark.parametrize(("offered", "chosen"), [(["chat.v1"], "chat.v1"), (["other", "chat.v2", "chat.v1"], "chat.v2"), (None, None)])
def test_subprotocol_negotiation(server, offered, chosen):
    ws = connect(server.url("/subprotocol"), subprotocols=offered)
    try:
        assert ws.getsubprotocol() == chosen
        assert ws.recv() == (chosen or "")
    finally:
        ws.close()


@pytest.mark.parametrize(("path", "status"), [("/nowhere", 404), ("/forbidden", 403)])
def test_refused_handshake_is_an_http_status(server, path, status):
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(server.url(path))
    assert refused.value.status_code == status


def test_close_without_a_code_is_1005_for_the_handler(server):
    key = "websocket-client-none"
    ws = connect(server.url(f"/record/{key}"))
    assert ws.recv() == "ready"
    ws.send(b"", ABNF.OPCODE_CLOSE)
    assert ws.recv_data(control_frame=True) == (ABNF.OPCODE_CLOSE, b"")  # bolt echoes an empty close
    ws.close()
    assert server.recorder.wait(key) == (1005, "")
