"""Sec-WebSocket-Extensions: the RFC 6455 §9.1 grammar and the negotiation hook."""

from __future__ import annotations

import pytest

from bolt.exceptions import HandshakeError
from bolt.protocol.extensions import ExtensionParams, ServerExtension, negotiate_extensions, parse_extension_header
from bolt.protocol.http import Headers, Request


@pytest.mark.parametrize(
    ("values", "parsed"),
    [
        (["permessage-deflate"], [("permessage-deflate", [])]),
        (
            ["permessage-deflate; client_max_window_bits; server_max_window_bits=10"],
            [("permessage-deflate", [("client_max_window_bits", None), ("server_max_window_bits", "10")])],
        ),
        (["x-foo;a=\"quoted\""], [("x-foo", [("a", "quoted")])]),
        (['x-foo; a="esc\\aped"'], [("x-foo", [("a", "escaped")])]),
        (["a, b ; c = d ,c"], [("a", []), ("b", [("c", "d")]), ("c", [])]),
        (["a", "b;x", "a;y=1"], [("a", []), ("b", [("x", None)]), ("a", [("y", "1")])]),
        ([" ,a,, \t,b , "], [("a", []), ("b", [])]),
        (["", "  "], []),
        ([], []),
        (["Mixed-Case;Param=Value"], [("Mixed-Case", [("Param", "Value")])]),
    ],
    ids=["name", "params", "quoted", "quoted-pair", "list", "several fields", "empty elements", "empty fields",
         "no field", "case kept"],
)
def test_grammar(values, parsed):
    assert parse_extension_header(values) == parsed


@pytest.mark.parametrize(
    "value",
    [
        "a;",
        ";a",
        "a=b",
        "a b",
        "a;b=",
        "a;;b",
        "a, ;b",
        "a;b=c d",
        'a;b="c d"',
        'a;b=""',
        'a;b="unterminated',
        'a;b="x"y',
        "a;b=\"caf\xe9\"",
        "caf\xe9",
        "a/b",
    ],
)
def test_malformed_header_is_400(value):
    with pytest.raises(HandshakeError) as caught:
        parse_extension_header([value])
    assert caught.value.status == 400
    assert "Malformed Sec-WebSocket-Extensions" in caught.value.reason


class Recording:
    """A ServerExtension that accepts offers whose params it is told to, answering ``answer``.

    What it agrees to for the connection is the offer's params themselves.
    """

    def __init__(self, name: str, accepts=lambda params: True, answer: str = "") -> None:
        self.name = name
        self.accepts = accepts
        self.answer = answer
        self.offers: list[ExtensionParams] = []

    def negotiate(self, params: ExtensionParams) -> tuple[str, object] | None:
        self.offers.append(params)
        return (self.answer, params) if self.accepts(params) else None


def offering(*values: str) -> Request:
    headers = Headers([("Host", "h"), *(("Sec-WebSocket-Extensions", value) for value in values)])
    return Request("GET", "/", "/", "", "1.1", headers)


def test_recording_is_a_server_extension():
    extension: ServerExtension = Recording("x")
    assert extension.negotiate([]) == ("", [])


def test_an_extension_takes_the_first_offer_it_accepts_and_no_other():
    deflate = Recording("permessage-deflate", accepts=lambda params: ("x", None) not in params,
                        answer="server_no_context_takeover")
    request = offering("permessage-deflate; x", "permessage-deflate; client_max_window_bits", "permessage-deflate")
    assert negotiate_extensions(request, [deflate]) == [
        ("permessage-deflate; server_no_context_takeover", [("client_max_window_bits", None)])
    ]
    assert deflate.offers == [[("x", None)], [("client_max_window_bits", None)]]


def test_an_accepted_offer_without_params_answers_the_bare_name():
    extension = Recording("x-foo")
    assert negotiate_extensions(offering("x-foo; a=1"), [extension]) == [("x-foo", [("a", "1")])]


def test_declined_offers_leave_the_extension_out():
    extension = Recording("x-foo", accepts=lambda params: False)
    assert negotiate_extensions(offering("x-foo", "x-foo; a"), [extension]) == []
    assert extension.offers == [[], [("a", None)]]


def test_offers_for_unknown_extensions_are_ignored():
    extension = Recording("x-foo")
    assert negotiate_extensions(offering("x-unknown; q", "x-foo"), [extension]) == [("x-foo", [])]


def test_accepted_extensions_follow_the_clients_order():
    first, second = Recording("a"), Recording("b")
    assert negotiate_extensions(offering("b; x, a"), [first, second]) == [("b", [("x", None)]), ("a", [])]


def test_nothing_to_negotiate():
    assert negotiate_extensions(offering(), [Recording("x-foo")]) == []
    # Without an extension on the server, the client's header is not even parsed.
    assert negotiate_extensions(offering("not;;valid"), []) == []


def test_malformed_offer_is_400_when_there_is_something_to_negotiate():
    with pytest.raises(HandshakeError):
        negotiate_extensions(offering("x-foo;"), [Recording("x-foo")])


def test_an_extension_may_refuse_the_handshake():
    def refuse(params):
        raise HandshakeError("permessage-deflate offer is nonsense")

    with pytest.raises(HandshakeError, match="nonsense"):
        negotiate_extensions(offering("permessage-deflate"), [Recording("permessage-deflate", accepts=refuse)])
