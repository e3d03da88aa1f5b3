"""Bounded fuzzing of the opening handshake for CI: ``RequestParser`` (only HandshakeError
escapes, the same outcome however the bytes are cut, exact ``trailing``) and ``validate_upgrade``
(only HandshakeError escapes; what it accepts is what RFC 6455 §4.2.1 allows)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bolt.exceptions import HandshakeError
from bolt.protocol.handshake import RequestParser
from tests.fuzz.strategies import requests
from tests.fuzz.targets import check_request, check_upgrade
from tests.fuzz.test_frames_fuzz import timed

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
UPGRADE = (
    b"Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


@SETTINGS
@given(requests())
@example(b"\x00GET /echo HTTP/1.1\r\n" + UPGRADE + b"\x81\x80\x00\x00\x00\x00")
@example(b"\x01GET /echo HTTP/1.1\r\n" + b"X: " + b"a" * 100 + b"\r\n\r\n")
def test_request_parser_structured(data):
    timed(check_request, data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_request_parser_raw_bytes(data):
    timed(check_request, data)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_validate_upgrade(data):
    timed(check_upgrade, data)


@pytest.mark.parametrize("target", [b"http://[", b"http://[::1/echo", b"http://user@[/echo", b"ws://[zz]:80/"])
def test_an_absolute_target_with_a_bad_ipv6_literal_is_a_400(target):
    with pytest.raises(HandshakeError) as refused:
        RequestParser().feed(b"GET " + target + b" HTTP/1.1\r\n" + UPGRADE)
    assert refused.value.status == 400


def test_an_http09_request_line_is_refused_however_it_is_cut():
    # llhttp takes "GET /x" with no version as a complete HTTP/0.9 request, with no header block
    # whose end would place the trailing bytes; it cannot upgrade, so it is refused at once.
    data = b"GET /x\n\r\nC"
    with pytest.raises(HandshakeError) as whole:
        RequestParser().feed(data)
    cut = RequestParser()
    with pytest.raises(HandshakeError) as piecewise:
        for index in range(len(data)):
            cut.feed(data[index : index + 1])
    assert whole.value.status == piecewise.value.status == 400
