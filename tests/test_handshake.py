"""The WebSocket rules of the opening handshake (RFC 6455 §4): server checks and answers, client
request and checks, and both sides meeting."""

from __future__ import annotations

import base64

import pytest

from bolt.exceptions import HandshakeError, HandshakeRejected, UnsupportedVersion
from bolt.protocol.handshake import (
    ClientRequest,
    Headers,
    RequestParser,
    Response,
    ResponseParser,
    accept_key,
    accept_response,
    error_response,
    offered_subprotocols,
    select_subprotocol,
    validate_upgrade,
    verify_response,
)
from tests.test_handshake_http import FRAME_BYTES, parse_request, parse_response

RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
VALID_FIELDS = {
    "Host": "server.example.com",
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Key": RFC_KEY,
    "Sec-WebSocket-Version": "13",
}


def request(*fields: tuple[str, str], line: str = "GET /chat HTTP/1.1", without: tuple[str, ...] = ()):
    """A request parsed from bytes: the valid handshake's fields minus ``without``, plus ``fields``."""
    pairs = [(name, value) for name, value in VALID_FIELDS.items() if name not in without] + list(fields)
    raw = line + "\r\n" + "".join(f"{name}: {value}\r\n" for name, value in pairs) + "\r\n"
    return RequestParser().feed(raw.encode("latin-1"))


def refusal(req) -> tuple[type, int, list[tuple[str, str]], str]:
    with pytest.raises(HandshakeError) as caught:
        validate_upgrade(req)
    return type(caught.value), caught.value.status, caught.value.headers, caught.value.reason


def switching(*fields: tuple[str, str], key: str) -> Response:
    pairs = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", accept_key(key)), *fields]
    return Response(101, "Switching Protocols", Headers(pairs))


# RFC 6455 §1.3


def test_accept_key_of_the_rfc_example():
    assert accept_key(RFC_KEY) == RFC_ACCEPT


# Server: validate_upgrade, RFC 6455 §4.2.1


def test_valid_upgrade_returns_the_key():
    assert validate_upgrade(request()) == RFC_KEY


@pytest.mark.parametrize(
    ("fields", "without"),
    [
        ([("Upgrade", "h2c, WebSocket")], ("Upgrade",)),
        ([("Connection", "keep-alive, upgrade")], ("Connection",)),
        ([("Connection", "keep-alive"), ("Connection", "UPGRADE")], ("Connection",)),
        ([("Upgrade", "WEBSOCKET"), ("Connection", "Upgrade, HTTP2-Settings")], ("Upgrade", "Connection")),
        ([("Sec-WebSocket-Version", " 13 ")], ("Sec-WebSocket-Version",)),
    ],
)
def test_token_lists_are_read_case_insensitively_across_fields(fields, without):
    assert validate_upgrade(request(*fields, without=without)) == RFC_KEY


def test_method_other_than_get_is_405_with_allow():
    error_type, status, headers, reason = refusal(request(line="POST /chat HTTP/1.1"))
    assert (error_type, status, headers) == (HandshakeError, 405, [("Allow", "GET")])
    assert "POST" in reason


def test_http_1_0_is_400():
    assert refusal(request(line="GET /chat HTTP/1.0"))[:3] == (HandshakeError, 400, [])


def test_missing_host_is_400():
    assert refusal(request(without=("Host",))) == (HandshakeError, 400, [], "Missing Host header")


def test_two_hosts_are_400():
    assert refusal(request(("Host", "other.example.com"))) == (HandshakeError, 400, [], "More than one Host header")


@pytest.mark.parametrize(
    ("fields", "without"),
    [([], ("Upgrade",)), ([("Upgrade", "h2c")], ("Upgrade",)), ([], ("Upgrade", "Connection", "Sec-WebSocket-Key"))],
    ids=["no Upgrade", "other Upgrade", "plain HTTP request"],
)
def test_request_without_upgrade_websocket_is_426(fields, without):
    error_type, status, headers, _ = refusal(request(*fields, without=without))
    assert (error_type, status) == (HandshakeError, 426)
    assert headers == [("Upgrade", "websocket"), ("Connection", "Upgrade")]


@pytest.mark.parametrize("value", [None, "keep-alive", "upgrade2", "keep-alive upgrade"])
def test_connection_without_upgrade_token_is_400(value):
    fields = [] if value is None else [("Connection", value)]
    error = refusal(request(*fields, without=("Connection",)))
    assert error == (HandshakeError, 400, [], "The Connection header does not include Upgrade")


@pytest.mark.parametrize(
    "fields",
    [[], [("Sec-WebSocket-Version", "8")], [("Sec-WebSocket-Version", "13, 8")],
     [("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Version", "13")], [("Sec-WebSocket-Version", "thirteen")]],
    ids=["missing", "8", "13 and 8", "repeated", "not a number"],
)
def test_other_version_is_426_naming_13(fields):
    error_type, status, headers, reason = refusal(request(*fields, without=("Sec-WebSocket-Version",)))
    assert (error_type, status, headers) == (UnsupportedVersion, 426, [("Sec-WebSocket-Version", "13")])
    assert "13" in reason


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ([], "Missing Sec-WebSocket-Key header"),
        ([("Sec-WebSocket-Key", RFC_KEY), ("Sec-WebSocket-Key", RFC_KEY)], "More than one Sec-WebSocket-Key header"),
        ([("Sec-WebSocket-Key", base64.b64encode(b"x" * 15).decode())], "not 16 bytes"),
        ([("Sec-WebSocket-Key", base64.b64encode(b"x" * 17).decode())], "not 16 bytes"),
        ([("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ")], "not 16 bytes"),
        ([("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ*=")], "not 16 bytes"),
        ([("Sec-WebSocket-Key", "dGhlIHNhbXBs ZSBub25jZQ==")], "not 16 bytes"),
        ([("Sec-WebSocket-Key", "")], "not 16 bytes"),
        ([("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZ\xe9==")], "not 16 bytes"),
    ],
    ids=["missing", "repeated", "15 bytes", "17 bytes", "no padding", "not base64", "space inside", "empty",
         "not ASCII"],
)
def test_bad_key_is_400(fields, reason):
    error_type, status, headers, message = refusal(request(*fields, without=("Sec-WebSocket-Key",)))
    assert (error_type, status, headers) == (HandshakeError, 400, [])
    assert reason in message


def test_checks_run_in_the_order_of_the_rfc():
    everything_wrong = request(line="PUT / HTTP/1.0", without=tuple(VALID_FIELDS))
    assert refusal(everything_wrong)[1] == 405
    assert refusal(request(line="GET / HTTP/1.0", without=tuple(VALID_FIELDS)))[1] == 400
    assert refusal(request(without=("Host", "Upgrade")))[3] == "Missing Host header"
    assert refusal(request(without=("Upgrade", "Connection")))[1] == 426
    assert refusal(request(without=("Connection", "Sec-WebSocket-Version")))[1] == 400
    # The version is checked before the key, so a client of another version learns ours (§4.4).
    assert refusal(request(without=("Sec-WebSocket-Version", "Sec-WebSocket-Key")))[0] is UnsupportedVersion


# Server: subprotocols, RFC 6455 §4.2.2 /subprotocol/


def test_offered_subprotocols_span_fields_and_lists():
    req = request(("Sec-WebSocket-Protocol", "chat, superchat"), ("Sec-WebSocket-Protocol", " v2.json ,"))
    assert offered_subprotocols(req) == ["chat", "superchat", "v2.json"]
    assert offered_subprotocols(request()) == []


@pytest.mark.parametrize(
    ("offered", "supported", "chosen"),
    [
        (["chat", "superchat"], ["superchat", "chat"], "chat"),
        (["v1", "v2"], ["v2"], "v2"),
        (["v1"], ["v2"], None),
        ([], ["v2"], None),
        (["v1"], [], None),
    ],
)
def test_select_subprotocol_takes_the_clients_first_supported_offer(offered, supported, chosen):
    assert select_subprotocol(offered, supported) == chosen


# Server: accept_response, RFC 6455 §4.2.2


def test_accept_response_for_the_rfc_example():
    assert accept_response(RFC_KEY) == (
        b"HTTP/1.1 101 Switching Protocols\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        b"\r\n"
    )


def test_accept_response_with_subprotocol_extensions_and_extra_headers():
    data = accept_response(
        RFC_KEY, "chat", ["permessage-deflate; server_no_context_takeover", "x-other"], [("Server", "bolt")]
    )
    assert data.endswith(
        b"Sec-WebSocket-Protocol: chat\r\n"
        b"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover, x-other\r\n"
        b"Server: bolt\r\n\r\n"
    )


def test_accept_response_without_extensions_has_no_extension_field():
    assert b"Sec-WebSocket-Extensions" not in accept_response(RFC_KEY, extensions=[])


@pytest.mark.parametrize(
    "arguments",
    [
        {"subprotocol": "chat\r\nSet-Cookie: x=1"},
        {"subprotocol": "chat, superchat"},
        {"extensions": ["permessage-deflate\r\nX: y"]},
        {"extra_headers": [("X-Evil", "1\r\nSet-Cookie: x=1")]},
        {"extra_headers": [("X-Evil\r\n", "1")]},
    ],
)
def test_accept_response_refuses_header_injection(arguments):
    with pytest.raises(ValueError):
        accept_response(RFC_KEY, **arguments)


# Client: ClientRequest, RFC 6455 §3 and §4.1


@pytest.mark.parametrize(
    ("url", "secure", "host", "port", "resource", "host_header"),
    [
        ("ws://example.com", False, "example.com", 80, "/", "example.com"),
        ("wss://Example.COM/", True, "example.com", 443, "/", "example.com"),
        ("ws://example.com:80/chat", False, "example.com", 80, "/chat", "example.com"),
        ("wss://example.com:443/a?b=c&d", True, "example.com", 443, "/a?b=c&d", "example.com"),
        ("ws://example.com:8080/a/b?", False, "example.com", 8080, "/a/b", "example.com:8080"),
        ("wss://example.com:80", True, "example.com", 80, "/", "example.com:80"),
        ("ws://127.0.0.1:9000/x", False, "127.0.0.1", 9000, "/x", "127.0.0.1:9000"),
        ("ws://[::1]/", False, "::1", 80, "/", "[::1]"),
        ("wss://[2001:db8::7]:8443/room", True, "2001:db8::7", 8443, "/room", "[2001:db8::7]:8443"),
        ("ws://bücher.example/", False, "xn--bcher-kva.example", 80, "/", "xn--bcher-kva.example"),
        ("ws://h/chat room/é?q=a b&r=%20", False, "h", 80, "/chat%20room/%C3%A9?q=a%20b&r=%20", "h"),
    ],
)
def test_client_request_reads_the_url(url, secure, host, port, resource, host_header):
    client = ClientRequest(url)
    assert (client.secure, client.host, client.port, client.resource) == (secure, host, port, resource)
    assert client.host_header == host_header


@pytest.mark.parametrize(
    "url",
    ["http://example.com/", "example.com", "ws:///path", "ws://example.com/#", "ws://example.com/a#frag",
     "ws://user:secret@example.com/", "ws://example.com:99999/", "ws://example.com:port/"],
)
def test_client_request_refuses_urls_that_are_not_websocket_urls(url):
    with pytest.raises(ValueError):
        ClientRequest(url)


def test_client_key_is_fresh_base64_of_16_bytes():
    keys = {ClientRequest("ws://h/").key for _ in range(20)}
    assert len(keys) == 20
    assert all(len(base64.b64decode(key, validate=True)) == 16 for key in keys)


def test_client_request_bytes():
    client = ClientRequest(
        "ws://example.com:8080/chat?room=1",
        subprotocols=["chat", "superchat"],
        extensions=["permessage-deflate; client_max_window_bits"],
        extra_headers=[("Origin", "http://example.com")],
    )
    assert client.request_bytes() == (
        b"GET /chat?room=1 HTTP/1.1\r\n"
        b"Host: example.com:8080\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        + f"Sec-WebSocket-Key: {client.key}\r\n".encode()
        + b"Sec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Protocol: chat, superchat\r\n"
        b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        b"Origin: http://example.com\r\n"
        b"\r\n"
    )


def test_host_in_extra_headers_replaces_the_urls():
    data = ClientRequest("ws://10.0.0.1/", extra_headers=[("Host", "chat.example.com")]).request_bytes()
    assert data.count(b"Host:") == 1
    assert b"\r\nHost: chat.example.com\r\n" in data


@pytest.mark.parametrize(
    "name", ["Upgrade", "connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Protocol",
             "Sec-WebSocket-Extensions"]
)
def test_client_refuses_extra_headers_that_the_handshake_writes(name):
    with pytest.raises(ValueError):
        ClientRequest("ws://h/", extra_headers=[(name, "x")])


@pytest.mark.parametrize("subprotocol", ["chat, superchat", "", "chat\r\nX: y"])
def test_client_refuses_subprotocols_that_are_not_tokens(subprotocol):
    with pytest.raises(ValueError):
        ClientRequest("ws://h/", subprotocols=[subprotocol])


def test_client_refuses_header_injection():
    with pytest.raises(ValueError):
        ClientRequest("ws://h/", extra_headers=[("Cookie", "a=1\r\nX-Evil: 1")]).request_bytes()


# Client: verify_response, RFC 6455 §4.1


def test_verify_accepts_the_servers_101():
    client = ClientRequest("ws://h/")
    assert verify_response(client, switching(key=client.key)) == (None, [])


def test_verify_returns_the_chosen_subprotocol_and_extensions():
    client = ClientRequest("ws://h/", subprotocols=["v1", "v2"], extensions=["permessage-deflate", "x-foo; a=1"])
    response = switching(
        ("Sec-WebSocket-Protocol", "v2"),
        ("Sec-WebSocket-Extensions", "permessage-deflate; server_no_context_takeover"),
        ("Sec-WebSocket-Extensions", "x-foo"),
        key=client.key,
    )
    assert verify_response(client, response) == (
        "v2",
        [("permessage-deflate", [("server_no_context_takeover", None)]), ("x-foo", [])],
    )


def test_a_refusal_is_handshake_rejected_with_status_headers_and_body():
    response = Response(403, "Forbidden", Headers([("Content-Length", "6")]), b"go away")
    with pytest.raises(HandshakeRejected) as caught:
        verify_response(ClientRequest("ws://h/"), response)
    assert caught.value.status == 403
    assert caught.value.headers == [("Content-Length", "6")]
    assert caught.value.body == b"go away"


def without_field(response: Response, name: str) -> Response:
    fields = [(field, value) for field, value in response.headers if field != name]
    return Response(response.status, response.reason, Headers(fields))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda r: without_field(r, "Upgrade"), "Upgrade: websocket"),
        (lambda r: Response(101, "", Headers([("Upgrade", "h2c"), *without_field(r, "Upgrade").headers])),
         "Upgrade: websocket"),
        (lambda r: Response(101, "", Headers([("Upgrade", "websocket, h2c"), *without_field(r, "Upgrade").headers])),
         "Upgrade: websocket"),
        (lambda r: without_field(r, "Connection"), "Connection: Upgrade"),
        (lambda r: Response(101, "", Headers([("Connection", "close"), *without_field(r, "Connection").headers])),
         "Connection: Upgrade"),
        (lambda r: without_field(r, "Sec-WebSocket-Accept"), "Sec-WebSocket-Accept"),
        (lambda r: Response(101, "", Headers([*r.headers, ("Sec-WebSocket-Accept", RFC_ACCEPT)])),
         "Sec-WebSocket-Accept"),
    ],
    ids=["no Upgrade", "other Upgrade", "two Upgrade tokens", "no Connection", "Connection close", "no accept",
         "two accepts"],
)
def test_verify_fails_a_101_missing_what_4_1_requires(change, reason):
    client = ClientRequest("ws://h/")
    with pytest.raises(HandshakeError) as caught:
        verify_response(client, change(switching(key=client.key)))
    assert type(caught.value) is HandshakeError
    assert reason in caught.value.reason


def test_verify_fails_an_accept_for_another_key():
    client = ClientRequest("ws://h/")
    with pytest.raises(HandshakeError, match="does not match"):
        verify_response(client, switching(key=RFC_KEY))


@pytest.mark.parametrize(
    ("offered", "chosen", "reason"),
    [
        ([], "chat", "did not offer"),
        (["chat"], "superchat", "did not offer"),
        (["chat", "superchat"], "chat, superchat", "more than one"),
    ],
)
def test_verify_fails_a_subprotocol_the_client_did_not_offer(offered, chosen, reason):
    client = ClientRequest("ws://h/", subprotocols=offered)
    with pytest.raises(HandshakeError, match=reason):
        verify_response(client, switching(("Sec-WebSocket-Protocol", chosen), key=client.key))


@pytest.mark.parametrize(
    ("offered", "accepted"),
    [([], "permessage-deflate"), (["x-foo"], "x-foo, permessage-deflate"), (["permessage-deflate"], "x-foo")],
)
def test_verify_fails_an_extension_the_client_did_not_offer(offered, accepted):
    client = ClientRequest("ws://h/", extensions=offered)
    with pytest.raises(HandshakeError, match="did not offer"):
        verify_response(client, switching(("Sec-WebSocket-Extensions", accepted), key=client.key))


def test_verify_fails_a_malformed_extension_header():
    client = ClientRequest("ws://h/", extensions=["permessage-deflate"])
    with pytest.raises(HandshakeError, match="Malformed"):
        verify_response(client, switching(("Sec-WebSocket-Extensions", "permessage-deflate;"), key=client.key))


# Both sides: a ClientRequest parsed by the server, the server's answer verified by the client


def test_round_trip_every_way():
    client = ClientRequest("ws://example.com:8765/rooms/ünïcode?user=Zoë&x", subprotocols=["v1", "v2"])
    outcome = parse_request(client.request_bytes(), FRAME_BYTES)
    assert outcome[0] == "ok" and outcome[2] == FRAME_BYTES
    server = RequestParser()
    req = server.feed(client.request_bytes())
    assert (req.path, req.query_string) == ("/rooms/ünïcode", "user=Zo%C3%AB&x")
    assert req.headers.get("Host") == "example.com:8765"
    key = validate_upgrade(req)
    assert key == client.key
    subprotocol = select_subprotocol(offered_subprotocols(req), ["v2"])
    answer = accept_response(key, subprotocol)
    outcome = parse_response(answer, b"\x81\x02hi")
    assert outcome[0] == "ok" and outcome[2] == b"\x81\x02hi"
    response = ResponseParser().feed(answer)
    assert verify_response(client, response) == ("v2", [])


def test_round_trip_of_a_refusal():
    client = ClientRequest("ws://example.com/")
    request_bytes = client.request_bytes().replace(b"Sec-WebSocket-Version: 13", b"Sec-WebSocket-Version: 7")
    req = RequestParser().feed(request_bytes)
    with pytest.raises(UnsupportedVersion) as refused:
        validate_upgrade(req)
    response = ResponseParser().feed(error_response(refused.value))
    with pytest.raises(HandshakeRejected) as rejected:
        verify_response(client, response)
    assert rejected.value.status == 426
    assert ("Sec-WebSocket-Version", "13") in rejected.value.headers
    assert rejected.value.body == refused.value.reason.encode()
