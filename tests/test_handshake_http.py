"""The HTTP layer of the handshake: Headers, the request and response parsers, and HTTP answers.

Every parser case is fed every way (whole, byte by byte, cut at seeded random points), and the
ways must agree on the message, on the bytes left after it, or on the error.
"""

from __future__ import annotations

import random

import pytest

from bolt.exceptions import HandshakeError, HeadersTooLarge, InvalidState
from bolt.protocol.http import (
    Headers,
    Request,
    RequestParser,
    Response,
    ResponseParser,
    comma_list,
    encode_fields,
    error_response,
    http_response,
)

RANDOM_WAYS = 25
# What a client may send right behind its request: the start of a masked text frame.
FRAME_BYTES = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"

UPGRADE = (
    b"GET /chat?room=1&x=%20 HTTP/1.1\r\n"
    b"Host: server.example.com\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Origin: http://example.com\r\n"
    b"Sec-WebSocket-Protocol: chat, superchat\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"\r\n"
)
SWITCHING = (
    b"HTTP/1.1 101 Switching Protocols\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    b"\r\n"
)


def ways(data: bytes, seed: int = 0):
    """``data`` cut every way: whole, byte by byte, and at random points (seeded)."""
    yield "whole", [data]
    yield "byte by byte", [data[i : i + 1] for i in range(len(data))]
    rng = random.Random(seed)
    for _ in range(RANDOM_WAYS):
        points = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(1, 12))))
        yield f"cut at {points}", [data[a:b] for a, b in zip([0, *points], [*points, len(data)])]


def summary(message):
    if isinstance(message, Request):
        fields = (message.method, message.target, message.path, message.query_string, message.http_version)
        return (*fields, list(message.headers))
    return (message.status, message.reason, list(message.headers), message.body)


def feed_one_way(parser, pieces: list[bytes], eof: bool):
    try:
        for index, piece in enumerate(pieces):
            message = parser.feed(piece)
            if message is not None:
                break
        else:
            if not eof:
                return ("incomplete",)
            message, index = parser.feed_eof(), len(pieces)
    except HandshakeError as error:
        return ("error", type(error), error.status, error.reason)
    # Whatever was not fed yet came after the message, as did the parser's trailing bytes: for
    # a request or a 101 both together are the bytes after the header block, whatever the cut.
    rest = parser.trailing + b"".join(pieces[index + 1 :])
    if isinstance(message, Response) and message.status != 101:
        rest = None
    return ("ok", summary(message), rest)


def feed_every_way(make_parser, data: bytes, trailing: bytes = b"", eof: bool = False):
    """Feed ``data + trailing`` to a fresh parser each way; all ways must give the same outcome."""
    outcomes = {how: feed_one_way(make_parser(), pieces, eof) for how, pieces in ways(data + trailing)}
    expected = outcomes["whole"]
    for how, outcome in outcomes.items():
        assert outcome == expected, how
    return expected


def parse_request(data: bytes, trailing: bytes = b"", **limits):
    return feed_every_way(lambda: RequestParser(**limits), data, trailing)


def parse_response(data: bytes, trailing: bytes = b"", eof: bool = False, **limits):
    return feed_every_way(lambda: ResponseParser(**limits), data, trailing, eof)


def request_with(*fields: str, line: str = "GET / HTTP/1.1") -> bytes:
    return (line + "\r\n" + "".join(field + "\r\n" for field in fields) + "\r\n").encode("latin-1")


# Headers and lists


def test_headers_lookup_is_case_insensitive_and_keeps_order():
    headers = Headers([("Host", "a"), ("X-Thing", "1"), ("x-thing", "2")])
    assert headers.get("HOST") == "a"
    assert headers.get("X-THING") == "1"
    assert headers.get_all("x-Thing") == ["1", "2"]
    assert headers.get("missing") is None
    assert headers.get("missing", "default") == "default"
    assert headers.get_all("missing") == []
    assert "x-thing" in headers and "Missing" not in headers and 1 not in headers
    assert list(headers) == [("Host", "a"), ("X-Thing", "1"), ("x-thing", "2")]
    assert len(headers) == 3


def test_get_all_returns_a_copy():
    headers = Headers([("A", "1")])
    headers.get_all("a").append("2")
    assert headers.get_all("a") == ["1"]


def test_comma_list_spans_fields_trims_and_drops_empty_elements():
    assert comma_list(["a, b ,,c", "", " d\t", ",e,"]) == ["a", "b", "c", "d", "e"]


# The request parser


def test_request_is_parsed_every_way():
    outcome = parse_request(UPGRADE)
    assert outcome[0] == "ok"
    method, target, path, query, version, fields = outcome[1]
    assert (method, target, path, query, version) == ("GET", "/chat?room=1&x=%20", "/chat", "room=1&x=%20", "1.1")
    assert fields[0] == ("Host", "server.example.com")
    assert ("Sec-WebSocket-Protocol", "chat, superchat") in fields
    assert len(fields) == 7
    assert outcome[2] == b""


def test_bytes_after_the_request_are_trailing_every_way():
    outcome = parse_request(UPGRADE, FRAME_BYTES)
    assert outcome[0] == "ok"
    assert outcome[2] == FRAME_BYTES


def test_trailing_bytes_that_look_like_a_header_end_stay_trailing():
    outcome = parse_request(UPGRADE, b"\r\n\r\n" + FRAME_BYTES)
    assert outcome[2] == b"\r\n\r\n" + FRAME_BYTES


def test_bytes_after_a_request_that_is_not_an_upgrade_are_trailing_too():
    # httptools does not stop after such a request: the parser must, and say where.
    second = b"GET /second HTTP/1.1\r\nHost: x\r\n\r\n"
    outcome = parse_request(request_with("Host: x", line="GET /first HTTP/1.1"), second)
    assert outcome[1][1] == "/first"
    assert outcome[2] == second


def test_empty_lines_before_the_request_line_are_skipped():
    outcome = parse_request(b"\r\n\r\n" + UPGRADE, FRAME_BYTES)
    assert outcome[1][1] == "/chat?room=1&x=%20"
    assert outcome[2] == FRAME_BYTES


def test_request_accepts_memoryview_and_bytearray():
    assert RequestParser().feed(memoryview(UPGRADE)).path == "/chat"
    parser = RequestParser()
    assert parser.feed(bytearray(UPGRADE + FRAME_BYTES)).path == "/chat"
    assert parser.trailing == FRAME_BYTES and type(parser.trailing) is bytes


def test_field_values_are_trimmed_and_latin1_decoded():
    outcome = parse_request(request_with("Host: x", "X-A:   spaced \t ", "X-B: caf\xe9", "X-C:"))
    assert outcome[1][5] == [("Host", "x"), ("X-A", "spaced"), ("X-B", "café"), ("X-C", "")]


def test_repeated_fields_keep_their_order():
    outcome = parse_request(request_with("Host: x", "Connection: keep-alive", "X: 1", "Connection: Upgrade"))
    assert outcome[1][5] == [("Host", "x"), ("Connection", "keep-alive"), ("X", "1"), ("Connection", "Upgrade")]


@pytest.mark.parametrize(
    ("target", "path", "query"),
    [
        ("/", "/", ""),
        ("/a/b?", "/a/b", ""),
        ("/caf%C3%A9/x%2Fy?q=%C3%A9&r", "/café/x/y", "q=%C3%A9&r"),
        ("/a?b?c", "/a", "b?c"),
        ("/a#fragment", "/a", ""),
        ("http://example.com/a/%20b?c=d", "/a/ b", "c=d"),
        ("http://example.com", "/", ""),
    ],
)
def test_path_is_percent_decoded_and_query_kept_raw(target, path, query):
    outcome = parse_request(request_with("Host: x", line=f"GET {target} HTTP/1.1"))
    assert outcome[1][1:4] == (target, path, query)


def test_path_that_is_not_utf8_once_decoded_is_refused():
    outcome = parse_request(request_with("Host: x", line="GET /%C3%28 HTTP/1.1"))
    assert outcome[:3] == ("error", HandshakeError, 400)
    assert "UTF-8" in outcome[3]


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\nHost: x\n\n",
        b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n folded\r\n\r\n",
        b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1 \r\nHost: x\r\n\r\n",
        b"get / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
    ],
    ids=["bare LF", "space before colon", "bare CR", "NUL", "obs-fold", "raw UTF-8 target",
         "space after version", "lowercase method", "TLS hello", "two Content-Length"],
)
def test_malformed_request_is_400_every_way(data):
    outcome = parse_request(data)
    assert outcome[:3] == ("error", HandshakeError, 400)
    assert outcome[3].startswith("Malformed HTTP request")


@pytest.mark.parametrize(
    "field", ["Content-Length: 5", "Transfer-Encoding: chunked", "Transfer-Encoding: gzip"]
)
def test_request_with_a_body_is_400(field):
    outcome = parse_request(request_with("Host: x", field), b"hello")
    assert outcome == ("error", HandshakeError, 400, "A WebSocket upgrade request has no body")


def test_request_with_an_empty_body_is_accepted():
    assert parse_request(request_with("Host: x", "Content-Length: 0"))[0] == "ok"


def test_header_block_of_exactly_the_limit_is_accepted():
    data = request_with("Host: x")
    outcome = parse_request(data, FRAME_BYTES, max_header_bytes=len(data))
    assert outcome[0] == "ok" and outcome[2] == FRAME_BYTES


def test_header_block_one_byte_over_the_limit_is_431_every_way():
    data = request_with("Host: x")
    outcome = parse_request(data, FRAME_BYTES, max_header_bytes=len(data) - 1)
    assert outcome[:3] == ("error", HeadersTooLarge, 431)


def test_oversized_header_block_is_refused_as_soon_as_the_limit_is_passed():
    parser = RequestParser(max_header_bytes=4096)
    parser.feed(b"GET / HTTP/1.1\r\n")
    endless_field = b"X-Filler: " + b"a" * 1000
    fed = 16
    with pytest.raises(HeadersTooLarge) as caught:
        while True:
            parser.feed(endless_field)
            fed += len(endless_field)
    # The chunk that crossed 4096 bytes raised; nothing past the limit was buffered or parsed.
    assert fed <= 4096 < fed + len(endless_field)
    assert caught.value.status == 431


def test_a_large_trailing_chunk_does_not_count_against_the_header_limit():
    parser = RequestParser(max_header_bytes=len(UPGRADE))
    frames = FRAME_BYTES * 10000
    assert parser.feed(UPGRADE + frames) is not None
    assert parser.trailing == frames


def test_header_field_count_limit():
    fields = ["Host: x"] + [f"X-{n}: {n}" for n in range(9)]
    assert parse_request(request_with(*fields), max_headers=10)[0] == "ok"
    outcome = parse_request(request_with(*fields, "X-Last: 1"), max_headers=10)
    assert outcome == ("error", HeadersTooLarge, 431, "More than 10 header fields")


def test_feeding_a_complete_request_parser_is_a_local_error():
    parser = RequestParser()
    parser.feed(UPGRADE)
    with pytest.raises(InvalidState):
        parser.feed(FRAME_BYTES)


def test_incomplete_request_returns_none():
    parser = RequestParser()
    assert parser.feed(UPGRADE[:-1]) is None
    assert parser.feed(b"") is None
    assert parser.feed(UPGRADE[-1:]) is not None


# The response parser


def test_101_completes_at_its_header_block_with_frames_trailing():
    outcome = parse_response(SWITCHING, b"\x81\x05hello")
    assert outcome[0] == "ok"
    status, reason, fields, body = outcome[1]
    assert (status, reason, body) == (101, "Switching Protocols", b"")
    assert ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") in fields
    assert outcome[2] == b"\x81\x05hello"


def test_101_without_upgrade_fields_is_still_returned_for_the_caller_to_judge():
    outcome = parse_response(b"HTTP/1.1 101 Switching Protocols\r\n\r\n", b"\x81\x00")
    assert outcome == ("ok", (101, "Switching Protocols", [], b""), b"\x81\x00")


def test_interim_responses_before_the_101_are_skipped():
    data = b"HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n" + SWITCHING
    outcome = parse_response(data, b"\x81\x00")
    assert outcome[1][0] == 101
    assert "X-Interim" not in dict(outcome[1][2])
    assert outcome[2] == b"\x81\x00"


def test_refusal_with_content_length_completes_at_the_end_of_its_body():
    data = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nforbidden"
    outcome = parse_response(data, b"HTTP/1.1 garbage")
    assert outcome == ("ok", (403, "Forbidden", [("Content-Length", "9")], b"forbidden"), None)


def test_refusal_with_chunked_body():
    data = b"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwho \r\n5\r\nare u\r\n0\r\n\r\n"
    assert parse_response(data)[1][3] == b"who are u"


def test_refusal_without_body():
    outcome = parse_response(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert outcome == ("ok", (204, "No Content", [], b""), None)


def test_body_running_to_the_close_needs_feed_eof():
    data = b"HTTP/1.1 500 Internal Server Error\r\n\r\nit broke"
    assert parse_response(data) == ("incomplete",)
    assert parse_response(data, eof=True) == ("ok", (500, "Internal Server Error", [], b"it broke"), None)


@pytest.mark.parametrize(
    "data",
    [b"HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nforb", b"HTTP/1.1 101 Switching"],
    ids=["body cut short", "head cut short"],
)
def test_close_before_the_end_of_the_response_is_an_error(data):
    outcome = parse_response(data, eof=True)
    assert outcome[:2] == ("error", HandshakeError)
    assert "closed before the end" in outcome[3]


def test_long_refusal_body_completes_at_the_body_limit():
    data = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000
    outcome = parse_response(data, max_body_bytes=1000)
    assert outcome[1][3] == b"x" * 1000


def test_response_header_block_over_the_limit_is_431():
    outcome = parse_response(SWITCHING, max_header_bytes=len(SWITCHING) - 1)
    assert outcome[:3] == ("error", HeadersTooLarge, 431)


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 1O1 Switching Protocols\r\n\r\n",
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        b"HTTP/1.1 101 OK\r\nBad Header\r\n\r\n",
    ],
)
def test_malformed_response_is_an_error(data):
    outcome = parse_response(data)
    assert outcome[:2] == ("error", HandshakeError)
    assert outcome[3].startswith("Malformed HTTP response")


def test_malformed_body_is_an_error():
    data = b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    assert parse_response(data)[:2] == ("error", HandshakeError)


def test_feeding_a_complete_response_parser_is_a_local_error():
    parser = ResponseParser()
    parser.feed(SWITCHING)
    with pytest.raises(InvalidState):
        parser.feed(b"\x81\x00")


# HTTP answers


def test_http_response_is_a_complete_http_answer():
    data = http_response(404, "No route to /nowhere ✗")
    body = "No route to /nowhere ✗".encode()
    assert data == (
        b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n"
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    assert parse_response(data) == (
        "ok",
        (404, "Not Found", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
                            ("Connection", "close")], body),
        None,
    )


def test_http_response_keeps_given_fields_instead_of_its_defaults():
    data = http_response(200, b"{}", [("Content-Type", "application/json"), ("Connection", "keep-alive")])
    assert data == (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n"
        b"Content-Length: 2\r\n\r\n{}"
    )


def test_http_response_without_content_type():
    answer = http_response(400, content_type=None)
    assert answer == b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def test_http_response_for_an_unregistered_status_has_an_empty_reason_phrase():
    assert http_response(599).startswith(b"HTTP/1.1 599 \r\n")


@pytest.mark.parametrize("status", [99, 1000])
def test_http_response_refuses_what_is_not_a_status(status):
    with pytest.raises(ValueError):
        http_response(status)


def test_204_has_no_body_nor_content_length():
    assert http_response(204) == b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
    with pytest.raises(ValueError):
        http_response(204, "text")


def test_content_length_is_not_given_by_the_caller():
    with pytest.raises(ValueError):
        http_response(200, "abc", [("content-length", "99")])


@pytest.mark.parametrize(
    "field",
    [("X-Evil", "a\r\nSet-Cookie: b"), ("X-Evil", "a\nb"), ("X-Evil", "a\rb"), ("X-Evil", "a\x00b"),
     ("X-Evil\r\nSet-Cookie", "b"), ("X Evil", "b"), ("", "b"), ("X-Evil", "snow ☃")],
)
def test_header_injection_is_refused(field):
    with pytest.raises(ValueError):
        http_response(400, headers=[field])
    with pytest.raises(ValueError):
        encode_fields([field])


def test_error_response_carries_status_headers_and_reason():
    error = HandshakeError("Method POST not allowed", 405, [("Allow", "GET")])
    outcome = parse_response(error_response(error))
    status, reason, fields, body = outcome[1]
    assert (status, reason, body) == (405, "Method Not Allowed", b"Method POST not allowed")
    assert ("Allow", "GET") in fields and ("Connection", "close") in fields


def test_error_response_for_headers_too_large():
    answer = error_response(HeadersTooLarge("too big"))
    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
