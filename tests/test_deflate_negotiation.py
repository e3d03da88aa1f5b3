"""permessage-deflate's negotiation (RFC 7692 §5, §7), both roles, sans-I/O.

The server's ``negotiate()`` and the client's ``offer()`` / ``accept_response()``, each parameter
with and without values, every invalid case §7 names, the ``DeflateConfig`` each role ends up
with, a round trip over a grid of options, the wiring into ``ServerConnection`` and
``ClientConnection``, and agreement with websockets' own negotiation in both directions.
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from websockets.exceptions import NegotiationError
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory, ServerPerMessageDeflateFactory

from bolt.exceptions import HandshakeError
from bolt.protocol.client import ClientConnection
from bolt.protocol.connection import Connection, State
from bolt.protocol.deflate import DeflateConfig, PerMessageDeflate
from bolt.protocol.extensions import negotiate_extensions, parse_extension_header
from bolt.protocol.handshake import accept_key
from bolt.protocol.http import Headers, Request
from bolt.protocol.server import ServerConnection


def params(element: str) -> list:
    """The parameters of one Sec-WebSocket-Extensions element, as the header parser gives them."""
    [(name, parsed)] = parse_extension_header([element])
    assert name == "permessage-deflate"
    return parsed


def offer(text: str) -> list:
    return params(f"permessage-deflate; {text}" if text else "permessage-deflate")


def config(compress_bits=15, decompress_bits=15, compress_reset=False, decompress_reset=False, **settings):
    return DeflateConfig(compress_bits, decompress_bits, compress_reset, decompress_reset, **settings)


@pytest.fixture
def used(monkeypatch):
    """Record Connection.use_deflate() calls instead of building the compressors (the codec's job)."""
    calls: list = []
    monkeypatch.setattr(Connection, "use_deflate", lambda self, agreed: calls.append((self, agreed)), raising=False)
    return calls


# The options


def test_defaults():
    deflate = PerMessageDeflate()
    assert (deflate.server_no_context_takeover, deflate.client_no_context_takeover) == (False, False)
    assert (deflate.server_max_window_bits, deflate.client_max_window_bits) == (15, None)
    assert (deflate.level, deflate.memory_level, deflate.min_size) == (6, 8, 128)
    assert deflate.name == "permessage-deflate"


@pytest.mark.parametrize(
    "options",
    [
        {"server_max_window_bits": 8},  # the server's own compressor, or one a client asks for: 9..15
        {"server_max_window_bits": 16},
        {"server_max_window_bits": 0},
        {"client_max_window_bits": 7},  # a limit asked of the client: 8..15
        {"client_max_window_bits": 16},
        {"level": -2},
        {"level": 10},
        {"memory_level": 0},
        {"memory_level": 10},
        {"min_size": -1},
    ],
)
def test_options_out_of_range_are_value_errors(options):
    with pytest.raises(ValueError, match=next(iter(options))):
        PerMessageDeflate(**options)


@pytest.mark.parametrize("options", [{"server_max_window_bits": "12"}, {"level": 6.0}, {"min_size": True}])
def test_options_are_ints(options):
    with pytest.raises(TypeError):
        PerMessageDeflate(**options)


def test_options_at_the_edges():
    PerMessageDeflate(server_max_window_bits=9, client_max_window_bits=8, level=-1, memory_level=1, min_size=0)
    PerMessageDeflate(server_max_window_bits=15, client_max_window_bits=15, level=9, memory_level=9)


def test_a_config_is_frozen_and_carries_the_compressor_settings():
    deflate = PerMessageDeflate(level=1, memory_level=9, min_size=0)
    _, agreed = deflate.negotiate([])
    assert (agreed.level, agreed.memory_level, agreed.min_size) == (1, 9, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        agreed.compress_window_bits = 9  # type: ignore[misc]
    assert config() == DeflateConfig(15, 15, False, False, level=6, memory_level=8, min_size=128)


# Server role: one offer


@pytest.mark.parametrize(
    ("options", "offered", "response", "agreed"),
    [
        # No parameters either way.
        ({}, "", "", config()),
        # server_no_context_takeover (§7.1.1.1): asked by the client, or the server's own choice.
        ({}, "server_no_context_takeover", "server_no_context_takeover", config(compress_reset=True)),
        ({"server_no_context_takeover": True}, "", "server_no_context_takeover", config(compress_reset=True)),
        ({"server_no_context_takeover": True}, "server_no_context_takeover", "server_no_context_takeover",
         config(compress_reset=True)),
        # client_no_context_takeover (§7.1.1.2): offered, the client resets anyway (echoed); the
        # server may ask for it whether or not it was offered.
        ({}, "client_no_context_takeover", "client_no_context_takeover", config(decompress_reset=True)),
        ({"client_no_context_takeover": True}, "", "client_no_context_takeover", config(decompress_reset=True)),
        ({"client_no_context_takeover": True}, "client_no_context_takeover", "client_no_context_takeover",
         config(decompress_reset=True)),
        # server_max_window_bits (§7.1.2.1): the server answers at most what was asked.
        ({}, "server_max_window_bits=10", "server_max_window_bits=10", config(compress_bits=10)),
        ({}, "server_max_window_bits=15", "server_max_window_bits=15", config()),
        ({}, 'server_max_window_bits="9"', "server_max_window_bits=9", config(compress_bits=9)),
        ({"server_max_window_bits": 12}, "server_max_window_bits=10", "server_max_window_bits=10",
         config(compress_bits=10)),
        ({"server_max_window_bits": 10}, "server_max_window_bits=12", "server_max_window_bits=10",
         config(compress_bits=10)),
        ({"server_max_window_bits": 10}, "", "server_max_window_bits=10", config(compress_bits=10)),
        ({"server_max_window_bits": 15}, "", "", config()),
        # client_max_window_bits (§7.1.2.2): answered only when offered, at most the value offered.
        ({}, "client_max_window_bits", "", config()),
        ({}, "client_max_window_bits=10", "", config(decompress_bits=10)),
        ({"client_max_window_bits": 12}, "client_max_window_bits", "client_max_window_bits=12",
         config(decompress_bits=12)),
        ({"client_max_window_bits": 12}, "client_max_window_bits=10", "client_max_window_bits=10",
         config(decompress_bits=10)),
        ({"client_max_window_bits": 10}, "client_max_window_bits=12", "client_max_window_bits=10",
         config(decompress_bits=10)),
        ({"client_max_window_bits": 8}, "client_max_window_bits", "client_max_window_bits=8",
         config(decompress_bits=8)),
        ({}, "client_max_window_bits=8", "", config(decompress_bits=8)),
        # A limit the client did not allow may not be answered: no limit then.
        ({"client_max_window_bits": 10}, "", "", config()),
        # Everything at once, in the response's fixed order.
        (
            {"server_max_window_bits": 12, "client_max_window_bits": 11},
            "client_max_window_bits; server_max_window_bits=13; client_no_context_takeover; server_no_context_takeover",
            (
                "server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; "
                "client_max_window_bits=11"
            ),
            config(12, 11, True, True),
        ),
    ],
)
def test_server_negotiates_an_offer(options, offered, response, agreed):
    assert PerMessageDeflate(**options).negotiate(offer(offered)) == (response, agreed)


@pytest.mark.parametrize(
    "offered",
    [
        # §7: an unknown parameter (names are case-sensitive).
        "x_unknown",
        "x_unknown=1",
        "Server_No_Context_Takeover",
        "server_max_window_bit=10",
        # §7: the same parameter twice.
        "server_no_context_takeover; server_no_context_takeover",
        "client_no_context_takeover; client_no_context_takeover",
        "server_max_window_bits=10; server_max_window_bits=10",
        "client_max_window_bits; client_max_window_bits",
        "client_max_window_bits=10; client_max_window_bits",
        # §7.1.1: the takeover parameters have no value.
        "server_no_context_takeover=1",
        "client_no_context_takeover=true",
        'server_no_context_takeover="x"',
        # §7.1.2.1: server_max_window_bits needs a value, a decimal 8..15 without sign or leading zero.
        "server_max_window_bits",
        "server_max_window_bits=7",
        "server_max_window_bits=16",
        "server_max_window_bits=0",
        "server_max_window_bits=010",
        "server_max_window_bits=+9",
        "server_max_window_bits=-9",
        "server_max_window_bits=9.0",
        "server_max_window_bits=0x9",
        "server_max_window_bits=ten",
        # §7.1.2.2: the same for client_max_window_bits's value, when it has one.
        "client_max_window_bits=7",
        "client_max_window_bits=16",
        "client_max_window_bits=09",
        "client_max_window_bits=99999999999999999999",
        # zlib cannot compress a raw deflate stream with a window of 8 bits: declined, not fatal.
        "server_max_window_bits=8",
    ],
)
def test_server_declines_an_invalid_offer(offered):
    assert PerMessageDeflate().negotiate(offer(offered)) is None
    demanding = PerMessageDeflate(server_no_context_takeover=True, client_max_window_bits=9)
    assert demanding.negotiate(offer(offered)) is None


# Server role: several offers in the request


def request_offering(*values: str) -> Request:
    headers = Headers([("Host", "h"), *(("Sec-WebSocket-Extensions", value) for value in values)])
    return Request("GET", "/", "/", "", "1.1", headers)


def test_the_first_acceptable_offer_wins_and_invalid_ones_are_skipped():
    request = request_offering(
        "permessage-deflate; server_max_window_bits=8",
        "permessage-deflate; x_unknown, permessage-deflate; server_max_window_bits=11",
        "permessage-deflate",
    )
    assert negotiate_extensions(request, [PerMessageDeflate()]) == [
        ("permessage-deflate; server_max_window_bits=11", config(compress_bits=11))
    ]


def test_a_valid_offer_first_is_taken_and_the_rest_ignored():
    request = request_offering("permessage-deflate, permessage-deflate; server_no_context_takeover")
    assert negotiate_extensions(request, [PerMessageDeflate()]) == [("permessage-deflate", config())]


def test_all_offers_invalid_means_no_extension():
    request = request_offering("permessage-deflate; a", "permessage-deflate; server_max_window_bits")
    assert negotiate_extensions(request, [PerMessageDeflate()]) == []


def test_other_extensions_offers_do_not_disturb_deflate():
    request = request_offering("x-webkit-deflate-frame, permessage-deflate; client_max_window_bits")
    assert negotiate_extensions(request, [PerMessageDeflate(client_max_window_bits=10)]) == [
        ("permessage-deflate; client_max_window_bits=10", config(decompress_bits=10))
    ]


# Server role: ServerConnection


def server_with(deflate: PerMessageDeflate, *offers: str) -> ServerConnection:
    server = ServerConnection(extensions=[deflate])
    fields = "".join(f"Sec-WebSocket-Extensions: {value}\r\n" for value in offers)
    server.receive_request(
        (
            "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{fields}\r\n"
        ).encode()
    )
    return server


def test_server_connection_answers_the_agreed_element_and_uses_its_config(used):
    deflate = PerMessageDeflate(server_no_context_takeover=True)
    server = server_with(deflate, "permessage-deflate; client_max_window_bits")
    response = server.accept()
    assert b"\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n" in response
    assert server.extensions == [config(compress_reset=True)]
    assert used == [(server, config(compress_reset=True))]
    assert server.state is State.OPEN


def test_server_connection_with_only_invalid_offers_accepts_without_extension(used):
    server = server_with(PerMessageDeflate(), "permessage-deflate; server_max_window_bits=16, permessage-deflate; q")
    response = server.accept()
    assert b"Sec-WebSocket-Extensions" not in response
    assert server.extensions == [] and used == []
    assert server.state is State.OPEN


def test_server_connection_without_an_offer(used):
    server = server_with(PerMessageDeflate())
    assert b"Sec-WebSocket-Extensions" not in server.accept()
    assert server.extensions == [] and used == []


# Client role: the offer


@pytest.mark.parametrize(
    ("options", "element"),
    [
        ({}, "permessage-deflate; client_max_window_bits"),
        ({"client_max_window_bits": 15}, "permessage-deflate; client_max_window_bits"),
        ({"client_max_window_bits": 10}, "permessage-deflate; client_max_window_bits=10"),
        ({"server_max_window_bits": 15}, "permessage-deflate; client_max_window_bits"),
        ({"server_max_window_bits": 9}, "permessage-deflate; server_max_window_bits=9; client_max_window_bits"),
        ({"server_no_context_takeover": True},
         "permessage-deflate; server_no_context_takeover; client_max_window_bits"),
        ({"client_no_context_takeover": True},
         "permessage-deflate; client_no_context_takeover; client_max_window_bits"),
        (
            {"server_no_context_takeover": True, "client_no_context_takeover": True, "server_max_window_bits": 12,
             "client_max_window_bits": 11},
            (
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
                "server_max_window_bits=12; client_max_window_bits=11"
            ),
        ),
    ],
)
def test_client_offer(options, element):
    assert PerMessageDeflate(**options).offer() == element
    # What a client offers is what a server takes.
    assert PerMessageDeflate().negotiate(params(element)) is not None


def test_a_client_cannot_offer_to_compress_with_8_bits():
    with pytest.raises(ValueError, match="8"):
        PerMessageDeflate(client_max_window_bits=8).offer()


# Client role: the server's answer


WINDOW_SIZES = {str(bits) for bits in range(8, 16)}


@pytest.mark.parametrize(
    ("options", "answered", "agreed"),
    [
        ({}, "", config()),
        # server_no_context_takeover: the server's own choice, or what the client asked.
        ({}, "server_no_context_takeover", config(decompress_reset=True)),
        ({"server_no_context_takeover": True}, "server_no_context_takeover", config(decompress_reset=True)),
        # client_no_context_takeover: asked by the server, or declared by the client.
        ({}, "client_no_context_takeover", config(compress_reset=True)),
        ({"client_no_context_takeover": True}, "", config(compress_reset=True)),
        ({"client_no_context_takeover": True}, "client_no_context_takeover", config(compress_reset=True)),
        # server_max_window_bits: announced unasked, or at most what was asked.
        ({}, "server_max_window_bits=8", config(decompress_bits=8)),
        ({}, "server_max_window_bits=12", config(decompress_bits=12)),
        ({"server_max_window_bits": 12}, "server_max_window_bits=12", config(decompress_bits=12)),
        ({"server_max_window_bits": 12}, "server_max_window_bits=9", config(decompress_bits=9)),
        ({"server_max_window_bits": 9}, 'server_max_window_bits="9"', config(decompress_bits=9)),
        # client_max_window_bits: the server's limit, at most what was offered; else our own.
        ({}, "client_max_window_bits=9", config(compress_bits=9)),
        ({}, "client_max_window_bits=15", config()),
        ({"client_max_window_bits": 12}, "", config(compress_bits=12)),
        ({"client_max_window_bits": 12}, "client_max_window_bits=12", config(compress_bits=12)),
        ({"client_max_window_bits": 12}, "client_max_window_bits=10", config(compress_bits=10)),
        (
            {"server_no_context_takeover": True, "server_max_window_bits": 13, "client_max_window_bits": 14},
            (
                "client_max_window_bits=11; server_max_window_bits=10; client_no_context_takeover; "
                "server_no_context_takeover"
            ),
            config(11, 10, True, True),
        ),
    ],
)
def test_client_accepts_a_response(options, answered, agreed):
    assert PerMessageDeflate(**options).accept_response(offer(answered)) == agreed


@pytest.mark.parametrize(
    ("options", "answered", "named"),
    [
        ({}, "x_unknown", "x_unknown"),
        ({}, "x_unknown=secret", "x_unknown"),
        ({}, "server_no_context_takeover; server_no_context_takeover", "server_no_context_takeover"),
        ({}, "client_no_context_takeover; client_no_context_takeover", "client_no_context_takeover"),
        ({}, "server_max_window_bits=10; server_max_window_bits=10", "server_max_window_bits"),
        ({}, "client_max_window_bits=10; client_max_window_bits=11", "client_max_window_bits"),
        ({}, "server_no_context_takeover=secret", "server_no_context_takeover"),
        ({}, "client_no_context_takeover=secret", "client_no_context_takeover"),
        # In a response both window sizes need a value (§7.1.2.1, §7.1.2.2).
        ({}, "server_max_window_bits", "server_max_window_bits"),
        ({}, "client_max_window_bits", "client_max_window_bits"),
        ({}, "server_max_window_bits=016", "server_max_window_bits"),
        ({}, "server_max_window_bits=99", "server_max_window_bits"),
        ({}, "server_max_window_bits=+12", "server_max_window_bits"),
        ({}, "client_max_window_bits=07", "client_max_window_bits"),
        ({}, "client_max_window_bits=x12", "client_max_window_bits"),
        # §7.1.1.1: asked for server_no_context_takeover, the server must say it.
        ({"server_no_context_takeover": True}, "", "server_no_context_takeover"),
        ({"server_no_context_takeover": True}, "client_no_context_takeover", "server_no_context_takeover"),
        # §7.1.2.1: larger than asked, or missing when asked.
        ({"server_max_window_bits": 10}, "server_max_window_bits=11", "server_max_window_bits"),
        ({"server_max_window_bits": 10}, "", "server_max_window_bits"),
        # §7.1.2.2: larger than offered.
        ({"client_max_window_bits": 10}, "client_max_window_bits=11", "client_max_window_bits"),
        # A window of 8 bits for this end's compressor: zlib cannot.
        ({}, "client_max_window_bits=8", "client_max_window_bits"),
    ],
)
def test_client_refuses_a_bad_response(options, answered, named):
    with pytest.raises(HandshakeError) as caught:
        PerMessageDeflate(**options).accept_response(offer(answered))
    reason = caught.value.reason
    assert named in reason
    # The parameter is named; a value the server sent that is not a window size is not repeated.
    for _, value in offer(answered):
        if value is not None and value not in WINDOW_SIZES:
            assert value not in reason


# Client role: ClientConnection


def switching(key: str, *extensions: str) -> bytes:
    fields = "".join(f"Sec-WebSocket-Extensions: {value}\r\n" for value in extensions)
    return (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_key(key)}\r\n{fields}\r\n"
    ).encode()


def test_client_connection_offers_deflate_first():
    client = ClientConnection("ws://h/", deflate=PerMessageDeflate(server_max_window_bits=10), extensions=["x-foo"])
    offered = b"permessage-deflate; server_max_window_bits=10; client_max_window_bits, x-foo"
    assert b"\r\nSec-WebSocket-Extensions: " + offered + b"\r\n" in client.request_bytes()


def test_client_connection_without_deflate_offers_nothing():
    assert b"Sec-WebSocket-Extensions" not in ClientConnection("ws://h/").request_bytes()


def test_permessage_deflate_is_offered_only_through_deflate():
    with pytest.raises(ValueError, match="deflate="):
        ClientConnection("ws://h/", extensions=["x-foo, permessage-deflate"])
    with pytest.raises(ValueError, match="Sec-WebSocket-Extensions"):
        ClientConnection("ws://h/", extensions=["x-foo;"])


def test_client_connection_uses_the_agreed_config(used):
    client = ClientConnection("ws://h/", deflate=PerMessageDeflate(client_no_context_takeover=True))
    client.receive_response(switching(client.handshake.key, "permessage-deflate; server_max_window_bits=12"))
    assert client.state is State.OPEN
    assert client.extensions == [config(15, 12, True, False)]
    assert used == [(client, config(15, 12, True, False))]


def test_client_connection_without_extension_in_the_101(used):
    client = ClientConnection("ws://h/", deflate=PerMessageDeflate())
    client.receive_response(switching(client.handshake.key))
    assert client.state is State.OPEN
    assert client.extensions == [] and used == []


def test_client_connection_keeps_other_accepted_extensions_as_answered(used):
    client = ClientConnection("ws://h/", deflate=PerMessageDeflate(), extensions=["x-foo"])
    client.receive_response(switching(client.handshake.key, "x-foo; a=1", "permessage-deflate"))
    assert client.extensions == [("x-foo", [("a", "1")]), config()]
    assert used == [(client, config())]


@pytest.mark.parametrize(
    ("deflate", "extensions", "answered", "reason"),
    [
        (None, [], ["permessage-deflate"], "did not offer"),
        (None, ["x-foo"], ["x-foo, permessage-deflate"], "did not offer"),
        (PerMessageDeflate(), [], ["permessage-deflate, permessage-deflate"], "more than once"),
        (PerMessageDeflate(), [], ["permessage-deflate", "permessage-deflate; server_no_context_takeover"],
         "more than once"),
        (PerMessageDeflate(), [], ["permessage-deflate; server_max_window_bits=16"], "server_max_window_bits"),
        (PerMessageDeflate(server_no_context_takeover=True), [], ["permessage-deflate"], "server_no_context_takeover"),
        (PerMessageDeflate(), [], ["x-bar"], "did not offer"),
    ],
)
def test_client_connection_fails_a_bad_extension_answer(used, deflate, extensions, answered, reason):
    client = ClientConnection("ws://h/", deflate=deflate, extensions=extensions)
    with pytest.raises(HandshakeError, match=reason):
        client.receive_response(switching(client.handshake.key, *answered))
    assert client.state is State.CLOSED
    assert used == []


# Round trip: bolt's client offer, bolt's server answer


CLIENT_OPTIONS = [
    dict(zip(("server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits",
              "client_max_window_bits"), values))
    for values in itertools.product([False, True], [False, True], [15, 12, 9], [None, 15, 11, 9])
]
SERVER_OPTIONS = [
    dict(zip(("server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits",
              "client_max_window_bits"), values))
    for values in itertools.product([False, True], [False, True], [15, 10], [None, 15, 12, 8])
]


@pytest.mark.parametrize("client_options", CLIENT_OPTIONS, ids=str)
def test_round_trip_gives_mirrored_configs(client_options):
    client = PerMessageDeflate(**client_options, level=1)
    for server_options in SERVER_OPTIONS:
        server = PerMessageDeflate(**server_options, level=9)
        answer = server.negotiate(params(client.offer()))
        assert answer is not None
        response, server_config = answer
        client_limit = client_options["client_max_window_bits"] or 15
        if server_options["client_max_window_bits"] is not None:
            client_limit = min(client_limit, server_options["client_max_window_bits"])
        if client_limit == 8:
            with pytest.raises(HandshakeError, match="8 bits"):
                client.accept_response(offer(response))
            continue
        client_config = client.accept_response(offer(response))
        assert server_config.compress_window_bits == client_config.decompress_window_bits
        assert server_config.decompress_window_bits == client_config.compress_window_bits
        assert server_config.compress_reset == client_config.decompress_reset
        assert server_config.decompress_reset == client_config.compress_reset
        assert server_config.compress_window_bits == min(
            client_options["server_max_window_bits"], server_options["server_max_window_bits"]
        )
        assert client_config.compress_window_bits == client_limit
        assert server_config.compress_reset == (
            client_options["server_no_context_takeover"] or server_options["server_no_context_takeover"]
        )
        assert client_config.compress_reset == (
            client_options["client_no_context_takeover"] or server_options["client_no_context_takeover"]
        )
        assert (server_config.level, client_config.level) == (9, 1)


def test_round_trip_through_both_connections(used):
    client = ClientConnection(
        "ws://h/ws", deflate=PerMessageDeflate(client_no_context_takeover=True, server_max_window_bits=12)
    )
    server = ServerConnection(extensions=[PerMessageDeflate(client_max_window_bits=10)])
    server.receive_request(client.request_bytes())
    client.receive_response(server.accept())
    [server_config], [client_config] = server.extensions, client.extensions
    assert server_config == config(12, 10, False, True)
    assert client_config == config(10, 12, True, False)
    assert used == [(server, server_config), (client, client_config)]


# Interop: websockets' negotiation against bolt's, both ways


WEBSOCKETS_CLIENTS = [
    dict(zip(("server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits",
              "client_max_window_bits"), values))
    for values in itertools.product([False, True], [False, True], [None, 8, 10, 15], [None, True, 9, 12, 15])
]
WEBSOCKETS_SERVERS = [
    dict(zip(("server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits",
              "client_max_window_bits"), values))
    for values in itertools.product([False, True], [False, True], [None, 9, 12], [None, 8, 11, 15])
]
BOLT_OPTIONS = [
    dict(zip(("server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits",
              "client_max_window_bits"), values))
    for values in itertools.product([False, True], [False, True], [15, 11], [None, 10, 15])
]


def element_of(name: str, ws_params) -> str:
    return "; ".join([name, *(key if value is None else f"{key}={value}" for key, value in ws_params)])


@pytest.mark.parametrize("bolt_options", BOLT_OPTIONS, ids=str)
def test_websockets_clients_against_bolts_server(bolt_options):
    server = PerMessageDeflate(**bolt_options)
    for ws_options in WEBSOCKETS_CLIENTS:
        ws_client = ClientPerMessageDeflateFactory(**ws_options)
        offered = list(ws_client.get_request_params())
        # The element goes through the header's grammar, as it would on the wire.
        answer = server.negotiate(params(element_of("permessage-deflate", offered)))
        if ws_options["server_max_window_bits"] == 8:
            assert answer is None  # zlib cannot compress with 8 bits; websockets' server declines it too
            continue
        assert answer is not None, ws_options
        response, agreed = answer
        extension = ws_client.process_response_params(offer(response), [])
        # websockets' "local" is its client's compressor, which bolt's server decompresses.
        assert extension.local_max_window_bits == agreed.decompress_window_bits
        assert extension.remote_max_window_bits == agreed.compress_window_bits
        assert extension.local_no_context_takeover == agreed.decompress_reset
        assert extension.remote_no_context_takeover == agreed.compress_reset


@pytest.mark.parametrize("bolt_options", BOLT_OPTIONS, ids=str)
def test_bolts_client_against_websockets_servers(bolt_options):
    client = PerMessageDeflate(**bolt_options)
    offered = params(client.offer())
    for ws_options in WEBSOCKETS_SERVERS:
        ws_server = ServerPerMessageDeflateFactory(**ws_options)
        try:
            ws_response, extension = ws_server.process_request_params(offered, [])
        except NegotiationError:
            # websockets declines only an offer bolt could not make (server_max_window_bits=8).
            pytest.fail(f"websockets declined bolt's offer {offered}")
        response = params(element_of("permessage-deflate", ws_response))
        if extension.remote_max_window_bits == 8:
            # websockets' server asked for 8 bits, which bolt's client (like websockets') refuses.
            with pytest.raises(HandshakeError, match="8 bits"):
                client.accept_response(response)
            with pytest.raises(NegotiationError):
                ClientPerMessageDeflateFactory().process_response_params(ws_response, [])
            continue
        agreed = client.accept_response(response)
        assert extension.remote_max_window_bits == agreed.compress_window_bits
        assert extension.local_max_window_bits == agreed.decompress_window_bits
        assert extension.remote_no_context_takeover == agreed.compress_reset
        assert extension.local_no_context_takeover == agreed.decompress_reset


def test_both_refuse_the_same_bad_responses():
    """Responses websockets' client refuses, bolt's client refuses too, and the other way round."""
    responses = [
        "", "server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits=10",
        "server_max_window_bits=13", "server_max_window_bits", "client_max_window_bits=8", "client_max_window_bits=10",
        "client_max_window_bits=13", "client_max_window_bits", "server_max_window_bits=16", "x",
        "server_no_context_takeover=1",
        "server_max_window_bits=9; server_max_window_bits=9",
    ]
    for options in [
        {},
        {"server_no_context_takeover": True},
        {"server_max_window_bits": 12},
        {"client_max_window_bits": 12},
    ]:
        bolt_client = PerMessageDeflate(**options)
        ws_client = ClientPerMessageDeflateFactory(
            server_no_context_takeover=options.get("server_no_context_takeover", False),
            server_max_window_bits=options.get("server_max_window_bits"),
            client_max_window_bits=options.get("client_max_window_bits", True),
        )
        for answered in responses:
            try:
                ws_client.process_response_params(offer(answered), [])
                ws_accepts = True
            except NegotiationError:
                ws_accepts = False
            try:
                bolt_client.accept_response(offer(answered))
                bolt_accepts = True
            except HandshakeError:
                bolt_accepts = False
            assert bolt_accepts == ws_accepts, (options, answered)


# The agreed configs at work: what each end compresses, the other decompresses


@pytest.mark.parametrize(
    ("client_options", "server_options"),
    [
        ({}, {}),
        ({"server_max_window_bits": 9, "client_max_window_bits": 9}, {}),
        ({}, {"server_max_window_bits": 9, "client_max_window_bits": 9}),
        ({"server_no_context_takeover": True}, {"client_no_context_takeover": True}),
        ({"client_no_context_takeover": True, "server_max_window_bits": 12}, {"server_no_context_takeover": True}),
    ],
    ids=["defaults", "client limits", "server limits", "both reset", "mixed"],
)
def test_agreed_configs_carry_messages_both_ways(codec, client_options, server_options):
    client = ClientConnection("ws://h/", deflate=PerMessageDeflate(**client_options, min_size=0))
    server = ServerConnection(extensions=[PerMessageDeflate(**server_options, min_size=0)])
    server.receive_request(client.request_bytes())
    client.receive_response(server.accept())
    # Repeats 200 bytes back fit even a 9-bit window (zlib reaches 512 - 262 = 250 bytes back with
    # it); the text's repeats lie thousands of bytes back, so each end needs the window it agreed.
    messages = [bytes(range(200)) * 40, "é" * 3000 + "x" * 600 + "é" * 3000, b"", "short"]
    for message in messages * 2:
        send = "send_text" if isinstance(message, str) else "send_binary"
        from_client, from_server = getattr(client, send)(message), getattr(server, send)(message)
        if len(message) > 1000:
            # RSV1 on the first frame: the message went out compressed (RFC 7692 §6).
            assert from_client[0] & 0x40 and from_server[0] & 0x40
        assert server.receive_data(from_client) == [message]
        assert client.receive_data(from_server) == [message]
