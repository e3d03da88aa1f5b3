"""The connection state machine, both roles, over both codec implementations."""

from __future__ import annotations

import pytest

from bolt.events import Close, Pong
from bolt.exceptions import ConnectionClosed
from bolt.protocol.connection import Connection, State, _fit_reason
from tests.framing import raw_frame

TEXT, BINARY, CLOSE, PING, PONG, CONT = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0


def from_server(frame_bytes: bytes) -> list:
    """Decode what a server sent, as a client would."""
    from bolt import codec

    return codec.FrameParser(client=True).feed(frame_bytes)


@pytest.fixture
def server(codec):
    return Connection()


def test_messages_are_delivered_and_sends_are_frames(server):
    events = server.receive_data(raw_frame(TEXT, b"hello") + raw_frame(BINARY, b"\x00\x01"))
    assert events == ["hello", b"\x00\x01"]
    assert from_server(server.send_text("hi") + server.send_binary(b"\xff")) == ["hi", b"\xff"]


def test_a_large_message_leaves_as_its_header_and_its_payload_uncopied(server):
    """A server's message of 64 KiB or more is not copied into a frame: the transport writes the
    header, then the very payload object (a str's encoding, for text)."""
    payload = bytes(range(256)) * 1024
    header, body = server.send_binary(payload)
    assert body is payload
    assert from_server(header + body) == [payload]
    text = "é" * 40_000
    header, body = server.send_text(text)
    assert from_server(header + bytes(body)) == [text]
    assert type(server.send_binary(payload[:1000])) is bytes  # small: one frame, one write
    client = Connection(client=True)
    frame = client.send_binary(payload)  # masked: a copy either way, so one frame
    assert type(frame) is bytes and len(frame) == len(payload) + 14
    assert server.data_to_send() == b""
    assert server.state is State.OPEN


def test_ping_is_answered_with_a_pong_carrying_the_same_payload(server):
    events = server.receive_data(raw_frame(PING, b"are you there"))
    assert events == []  # the codec answers pings itself: no event, no object per ping
    assert server.needs_attention
    assert from_server(server.data_to_send()) == [Pong(b"are you there")]
    assert server.data_to_send() == b""


def test_peer_close_is_echoed_and_the_server_closes_tcp_first(server):
    events = server.receive_data(raw_frame(CLOSE, b"\x0f\xa1bye"))
    assert events == [Close(4001, "bye")]
    assert from_server(server.data_to_send()) == [Close(4001, "")]
    assert server.state is State.CLOSING
    assert server.should_close_transport
    assert (server.close_code, server.close_reason) == (4001, "bye")
    server.receive_eof()
    assert server.state is State.CLOSED and not server.should_close_transport


def test_close_without_a_code_is_echoed_without_one_and_reported_as_1005(server):
    server.receive_data(raw_frame(CLOSE, b""))
    assert server.data_to_send() == b"\x88\x00"
    assert server.close_code == 1005


def test_nothing_is_answered_after_the_peers_close(server):
    events = server.receive_data(raw_frame(CLOSE, b"\x03\xe8") + raw_frame(PING, b"late") + raw_frame(TEXT, b"late"))
    assert events == [Close(1000, "")]
    assert from_server(server.data_to_send()) == [Close(1000, "")]
    assert server.receive_data(raw_frame(PING, b"later")) == []
    assert server.data_to_send() == b""


def test_sending_after_close_is_refused(server):
    frame = server.send_close(1001, "restarting")
    assert from_server(frame) == [Close(1001, "restarting")]
    assert server.state is State.CLOSING and not server.should_close_transport
    with pytest.raises(ConnectionClosed):
        server.send_text("too late")
    with pytest.raises(ConnectionClosed):
        server.send_close()
    # Messages the peer sent before it saw our close are read and dropped (we asked to close and
    # wait only for its close frame, §7.1.2); its close completes the handshake.
    assert server.receive_data(raw_frame(TEXT, b"in flight")) == []
    server.receive_data(raw_frame(CLOSE, b"\x03\xe9"))
    assert server.data_to_send() == b""  # our close was already sent: no second one
    assert server.should_close_transport


@pytest.mark.parametrize(
    "data, code",
    [
        (raw_frame(0x3, b""), 1002),
        (raw_frame(TEXT, b"x", key=None), 1002),
        (raw_frame(TEXT, b"\xc0\xaf"), 1007),
        (raw_frame(BINARY, b"", length=17 * 1024 * 1024), 1009),
    ],
)
def test_a_protocol_violation_fails_the_connection_with_its_code(server, data, code):
    events = server.receive_data(raw_frame(TEXT, b"valid first") + data)
    assert events == ["valid first"]
    sent = from_server(server.data_to_send())
    assert len(sent) == 1 and sent[0].code == code
    assert server.state is State.CLOSING and server.should_close_transport
    assert server.close_code == code and server.failure is not None
    assert server.receive_data(raw_frame(TEXT, b"ignored")) == []


def test_drop_without_close_is_1006(server):
    server.receive_eof()
    assert server.close_code == 1006
    with pytest.raises(ConnectionClosed) as caught:
        server.send_text("x")
    assert caught.value.code == 1006


def test_client_masks_and_waits_for_the_server_to_close_tcp(codec):
    client = Connection(client=True)
    frame = client.send_text("hello")
    assert frame[1] & 0x80
    assert Connection().receive_data(frame) == ["hello"]
    assert client.receive_data(raw_frame(CLOSE, b"\x03\xe8", key=None)) == [Close(1000, "")]
    assert client.data_to_send()[1] & 0x80  # the echo is masked too
    assert not client.should_close_transport


def test_buffered_reads(server):
    data = raw_frame(TEXT, b"one") + raw_frame(PING, b"")
    view = server.get_buffer(-1)
    view[: len(data)] = data
    del view
    assert server.buffer_updated(len(data)) == ["one"]
    assert server.data_to_send() == b"\x8a\x00"


def test_long_failure_reasons_are_cut_at_a_character_boundary():
    reason = "é" * 100
    cut = _fit_reason(reason)
    assert len(cut.encode()) <= 123 and reason.startswith(cut) and len(cut) == 61


def test_every_ping_in_one_read_gets_its_pong_in_order(server):
    """§5.5.2: each ping is answered with its own payload; the pongs of one read leave together."""
    pings = [str(i).encode() * i for i in range(10)]
    data = b"".join(raw_frame(PING, payload) for payload in pings[:5]) + raw_frame(TEXT, b"x")
    data += b"".join(raw_frame(PING, payload) for payload in pings[5:])
    assert server.receive_data(data) == ["x"]
    assert from_server(server.data_to_send()) == [Pong(payload) for payload in pings]
    assert server.data_to_send() == b""


def test_pings_after_our_close_are_not_answered(server):
    server.send_close(1000)
    assert server.receive_data(raw_frame(PING, b"late") + raw_frame(TEXT, b"dropped")) == []
    assert server.data_to_send() == b""


def test_a_held_violation_hands_up_what_came_before_and_waits(codec):
    """With hold_violations, the messages before a violation are returned, the connection stays
    OPEN (the application may still answer them), and fail_held() sends the close (§7.1.7)."""
    server = Connection(hold_violations=True)
    data = raw_frame(PING, b"p") + raw_frame(TEXT, b"valid") + raw_frame(TEXT, b"x", rsv=0x20) + raw_frame(PING, b"q")
    assert server.receive_data(data) == ["valid"]
    assert server.violation is not None and server.violation.close_code == 1002
    assert server.state is State.OPEN and not server.should_close_transport
    assert from_server(server.data_to_send()) == [Pong(b"p")]  # only the ping before the violation
    reply = server.send_text("answer")
    assert server.receive_data(raw_frame(TEXT, b"ignored")) == []
    server.fail_held()
    assert from_server(reply + server.data_to_send()) == ["answer", Close(1002, "reserved bits set without a negotiated extension")]
    assert server.should_close_transport and server.close_code == 1002
