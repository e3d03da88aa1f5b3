"""Real peers' handshakes: websockets' and wsproto's sans-I/O clients and servers against bolt's."""

from __future__ import annotations

import pytest
from websockets.client import ClientProtocol
from websockets.exceptions import InvalidStatus
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.uri import parse_uri
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, RejectConnection, RejectData
from wsproto.events import Request as WsprotoRequest

from bolt.exceptions import HandshakeError, HandshakeRejected
from bolt.protocol.deflate import PerMessageDeflate as BoltPerMessageDeflate
from bolt.protocol.handshake import (
    ClientRequest,
    RequestParser,
    ResponseParser,
    accept_response,
    error_response,
    negotiate_extensions,
    offered_subprotocols,
    select_subprotocol,
    validate_upgrade,
    verify_response,
)
from tests.test_handshake_http import parse_request

# An unmasked text frame "hi", as a server sends it right behind its 101.
SERVER_FRAME = b"\x81\x02hi"


def websockets_client(**options) -> tuple[ClientProtocol, bytes]:
    client = ClientProtocol(parse_uri("ws://example.com:8080/chat?room=1"), **options)
    client.send_request(client.connect())
    return client, b"".join(client.data_to_send())


def bolt_server(request_bytes: bytes, supported=(), extensions=()) -> bytes:
    parser = RequestParser()
    request = parser.feed(request_bytes)
    assert parser.trailing == b""
    try:
        key = validate_upgrade(request)
    except HandshakeError as error:
        return error_response(error)
    subprotocol = select_subprotocol(offered_subprotocols(request), supported)
    accepted = negotiate_extensions(request, extensions)
    return accept_response(key, subprotocol, [element for element, _ in accepted])


# websockets' client against bolt's server


def test_websockets_client_request_parses_every_way():
    _, request_bytes = websockets_client(subprotocols=["chat"])
    outcome = parse_request(request_bytes, SERVER_FRAME)
    assert outcome[0] == "ok" and outcome[2] == SERVER_FRAME
    assert outcome[1][1:4] == ("/chat?room=1", "/chat", "room=1")


def test_websockets_client_accepts_bolts_101_and_reads_the_frame_behind_it():
    client, request_bytes = websockets_client(subprotocols=["superchat", "chat"])
    client.receive_data(bolt_server(request_bytes, supported=["chat"]) + SERVER_FRAME)
    assert client.handshake_exc is None
    assert client.state is State.OPEN
    assert client.subprotocol == "chat"
    _, frame = client.events_received()
    assert frame == Frame(Opcode.TEXT, b"hi")


def test_websockets_client_without_the_extension_it_offered():
    client, request_bytes = websockets_client(extensions=[ClientPerMessageDeflateFactory()])
    client.receive_data(bolt_server(request_bytes))
    assert client.handshake_exc is None and client.state is State.OPEN
    assert client.extensions == []


def test_websockets_client_accepts_bolts_extension_answer():
    client, request_bytes = websockets_client(extensions=[ClientPerMessageDeflateFactory()])
    client.receive_data(bolt_server(request_bytes, extensions=[BoltPerMessageDeflate(server_no_context_takeover=True)]))
    assert client.handshake_exc is None and client.state is State.OPEN
    [extension] = client.extensions
    assert isinstance(extension, PerMessageDeflate)
    assert extension.remote_no_context_takeover


def test_websockets_client_reads_bolts_refusal():
    client, request_bytes = websockets_client()
    client.receive_data(bolt_server(request_bytes.replace(b"Version: 13", b"Version: 12")))
    client.receive_eof()
    assert isinstance(client.handshake_exc, InvalidStatus)
    response = client.handshake_exc.response
    assert response.status_code == 426
    assert response.headers["Sec-WebSocket-Version"] == "13"
    assert b"this server speaks 13" in response.body


# bolt's client against websockets' server


def test_websockets_server_accepts_bolts_request_and_bolt_verifies_its_101():
    client = ClientRequest("ws://example.com/chat", subprotocols=["v1", "v2"], extensions=["permessage-deflate"])
    server = ServerProtocol(subprotocols=["v2"], extensions=[ServerPerMessageDeflateFactory()])
    server.receive_data(client.request_bytes())
    [request] = server.events_received()
    assert request.path == "/chat"
    server.send_response(server.accept(request))
    parser = ResponseParser()
    response = parser.feed(b"".join(server.data_to_send()))
    subprotocol, extensions = verify_response(client, response)
    assert subprotocol == "v2"
    assert [name for name, _ in extensions] == ["permessage-deflate"]
    assert server.state is State.OPEN


def test_websockets_servers_refusal_is_handshake_rejected():
    client = ClientRequest("ws://example.com/")
    server = ServerProtocol()
    server.receive_data(client.request_bytes())
    [request] = server.events_received()
    server.send_response(server.reject(403, "no entry"))
    response = ResponseParser().feed(b"".join(server.data_to_send()))
    with pytest.raises(HandshakeRejected) as caught:
        verify_response(client, response)
    assert (caught.value.status, caught.value.body) == (403, b"no entry")


# wsproto


def test_wsproto_client_accepts_bolts_101():
    client = WSConnection(ConnectionType.CLIENT)
    request_bytes = client.send(WsprotoRequest(host="example.com", target="/x?y=z", subprotocols=["a", "b"]))
    client.receive_data(bolt_server(request_bytes, supported=["b"]))
    [event] = client.events()
    assert isinstance(event, AcceptConnection)
    assert event.subprotocol == "b"


def test_wsproto_client_reads_bolts_refusal():
    client = WSConnection(ConnectionType.CLIENT)
    request_bytes = client.send(WsprotoRequest(host="example.com", target="/"))
    client.receive_data(bolt_server(request_bytes.replace(b"GET /", b"PUT /")))
    events = list(client.events())
    assert isinstance(events[0], RejectConnection) and events[0].status_code == 405
    assert (b"allow", b"GET") in events[0].headers
    assert isinstance(events[1], RejectData)


def test_wsproto_server_accepts_bolts_request_and_bolt_verifies_its_101():
    client = ClientRequest("ws://[::1]:9000/room", subprotocols=["chat"])
    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(client.request_bytes())
    [request] = server.events()
    assert (request.host, request.target, request.subprotocols) == ("[::1]:9000", "/room", ["chat"])
    response = ResponseParser().feed(server.send(AcceptConnection(subprotocol="chat")))
    assert verify_response(client, response) == ("chat", [])
