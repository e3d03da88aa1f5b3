"""Both roles end to end in memory: bolt against bolt, and bolt against websockets' sans-I/O peers."""

from __future__ import annotations

import pytest
from websockets.client import ClientProtocol
from websockets.frames import Close as WsClose
from websockets.frames import Frame, Opcode
from websockets.http11 import Request as WsRequest
from websockets.protocol import State as WsState
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from bolt.events import Close
from bolt.exceptions import HandshakeError, HandshakeRejected, InvalidState
from bolt.protocol.client import ClientConnection
from bolt.protocol.connection import State
from bolt.protocol.server import ServerConnection
from tests.framing import raw_frame


def handshake(server: ServerConnection, client: ClientConnection, subprotocol=None, pipelined: bytes = b""):
    request = server.receive_request(client.request_bytes() + pipelined)
    assert request is not None
    response = server.accept(subprotocol)
    assert client.receive_response(response) is not None
    return request


def test_bolt_client_and_server_talk(codec):
    server = ServerConnection()
    client = ClientConnection("ws://127.0.0.1:8000/ws/room/lobby?token=abc", subprotocols=["chat", "json"])
    request = handshake(server, client, "json")
    assert (request.path, request.query_string) == ("/ws/room/lobby", "token=abc")
    assert server.state is client.state is State.OPEN
    assert client.subprotocol == server.subprotocol == "json"
    assert server.receive_data(client.send_text("hello")) == ["hello"]
    assert client.receive_data(server.send_binary(b"\x00\xff")) == [b"\x00\xff"]
    assert server.receive_data(client.send_close(1000, "bye")) == [Close(1000, "bye")]
    assert client.receive_data(server.data_to_send()) == [Close(1000, "")]
    assert server.should_close_transport and not client.should_close_transport


def test_frames_pipelined_behind_the_request_are_kept(codec):
    server = ServerConnection()
    client = ClientConnection("ws://localhost/ws")
    # A client may write its first frames right behind its request, before the 101 arrives.
    server.receive_request(client.request_bytes() + raw_frame(0x1, b"early"))
    server.receive_request(raw_frame(0x1, b"later"))
    client.receive_response(server.accept())
    assert server.receive_data(server.take_trailing()) == ["early", "later"]
    assert server.take_trailing() == b""


def test_a_refused_upgrade_reaches_the_client_with_its_status(codec):
    server = ServerConnection()
    client = ClientConnection("ws://localhost/nowhere")
    server.receive_request(client.request_bytes())
    answer = server.reject(404, "no such route")
    assert server.state is State.CLOSED
    with pytest.raises(HandshakeRejected) as caught:
        client.receive_response(answer)
    assert caught.value.status == 404 and caught.value.body == b"no such route"
    assert client.state is State.CLOSED


def test_plain_http_to_a_websocket_route_is_a_426(codec):
    server = ServerConnection()
    server.receive_request(b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n")
    with pytest.raises(HandshakeError) as caught:
        server.check_upgrade()
    answer = server.reject_error(caught.value)
    assert answer.startswith(b"HTTP/1.1 426 ") and b"Upgrade: websocket" in answer


def test_accepting_an_unoffered_subprotocol_is_local_misuse(codec):
    server = ServerConnection()
    server.receive_request(ClientConnection("ws://h/", subprotocols=["a"]).request_bytes())
    with pytest.raises(ValueError):
        server.accept("b")
    server.accept("a")
    with pytest.raises(InvalidState):
        server.accept()


def test_websockets_client_against_bolt_server(codec):
    server = ServerConnection()
    peer = ClientProtocol(parse_uri("ws://127.0.0.1:8000/ws/echo"), subprotocols=["chat"])
    peer.send_request(peer.connect())
    request = server.receive_request(b"".join(peer.data_to_send()))
    assert request.path == "/ws/echo"
    peer.receive_data(server.accept("chat"))
    assert peer.handshake_exc is None and peer.state is WsState.OPEN and peer.subprotocol == "chat"
    assert [response.status_code for response in peer.events_received()] == [101]

    peer.send_text("héllo".encode())
    peer.send_binary(b"\x01" * 70_000)
    peer.send_ping(b"p")
    events = server.receive_data(b"".join(peer.data_to_send()))
    assert events == ["héllo", b"\x01" * 70_000]  # the ping is answered by the codec

    peer.receive_data(server.data_to_send() + server.send_text("é" * 1000) + server.send_close(4001, "Invalid token"))
    received = peer.events_received()
    assert [type(event) for event in received] == [Frame, Frame, Frame]
    assert received[0].opcode is Opcode.PONG and received[0].data == b"p"
    assert received[1].data.decode() == "é" * 1000
    assert peer.close_rcvd == WsClose(4001, "Invalid token")
    server.receive_data(b"".join(peer.data_to_send()))
    assert server.should_close_transport


def test_bolt_client_against_websockets_server(codec):
    peer = ServerProtocol(subprotocols=["chat"])
    client = ClientConnection("ws://127.0.0.1:8000/ws", subprotocols=["chat"])
    peer.receive_data(client.request_bytes())
    request = peer.events_received()[0]
    assert isinstance(request, WsRequest) and request.path == "/ws"
    peer.send_response(peer.accept(request))
    peer.send_text(b"welcome")
    response = client.receive_response(b"".join(peer.data_to_send()))
    assert response.status == 101 and client.subprotocol == "chat"
    assert client.receive_data(client.take_trailing()) == ["welcome"]

    peer.receive_data(client.send_text("hi") + client.send_binary(b"\x00" * 100_000))
    frames = peer.events_received()
    assert [frame.data for frame in frames] == [b"hi", b"\x00" * 100_000]
    peer.send_close(1001, "going away")
    assert client.receive_data(b"".join(peer.data_to_send())) == [Close(1001, "going away")]
    peer.receive_data(client.data_to_send())
    assert peer.state is WsState.CLOSING  # websockets' server now closes TCP, as RFC 6455 §7.1.1 says


def test_websockets_server_refusal_is_handshake_rejected(codec):
    peer = ServerProtocol()
    client = ClientConnection("ws://127.0.0.1:8000/private")
    peer.receive_data(client.request_bytes())
    peer.events_received()
    peer.send_response(peer.reject(403, "Forbidden\n"))
    with pytest.raises(HandshakeRejected) as caught:
        client.receive_response(b"".join(peer.data_to_send()))
    assert caught.value.status == 403
