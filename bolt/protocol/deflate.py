"""permessage-deflate's negotiation (RFC 7692 §5, §7), server and client role, sans-I/O.

``PerMessageDeflate`` says how this endpoint is willing to compress; one object serves every
connection. The handshake turns it into a ``DeflateConfig`` per connection: the server with
``negotiate()`` on each offer until one is acceptable, the client with ``offer()`` in its request
and ``accept_response()`` on the server's answer. The config is role-neutral ("compress" is what
this end sends, "decompress" what the peer sends); the compression itself is the codec's.

zlib cannot compress a raw deflate stream with a window of 8 bits: asked for 8, it uses 9
(madler/zlib#171), and a peer that decompresses with 256 bytes of window then fails. So this end
never agrees to compress with 8: a server declines an offer whose ``server_max_window_bits`` is 8,
and a client refuses a response whose ``client_max_window_bits`` is 8.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bolt.exceptions import HandshakeError
from bolt.protocol.extensions import ExtensionParams

NAME = "permessage-deflate"
SERVER_NO_CONTEXT_TAKEOVER = "server_no_context_takeover"
CLIENT_NO_CONTEXT_TAKEOVER = "client_no_context_takeover"
SERVER_MAX_WINDOW_BITS = "server_max_window_bits"
CLIENT_MAX_WINDOW_BITS = "client_max_window_bits"

_FLAGS = frozenset({SERVER_NO_CONTEXT_TAKEOVER, CLIENT_NO_CONTEXT_TAKEOVER})
# RFC 7692 §7.1.2.1 and §7.1.2.2: a window size is a decimal integer from 8 to 15, without a sign
# or leading zeros (a quoted value has been unquoted by the header parser already, §7.1).
_WINDOW_BITS = {str(bits): bits for bits in range(8, 16)}
# A window of 15 bits is the largest deflate has, and what an absent *_max_window_bits means.
_LARGEST = 15


@dataclass(frozen=True, slots=True)
class DeflateConfig:
    """How one connection compresses and decompresses, once negotiated (role-neutral)."""

    compress_window_bits: int  # this end's compressor window, 9..15 (zlib cannot do a raw deflate window of 8)
    decompress_window_bits: int  # the peer's compressor window, 8..15
    compress_reset: bool  # this end resets its compressor after each message (its *_no_context_takeover agreed)
    decompress_reset: bool  # the peer resets after each message
    level: int = 6  # zlib level for this end's compressor
    memory_level: int = 8  # zlib memLevel, 1..9
    min_size: int = 128  # messages shorter than this (bytes) go out uncompressed


class PerMessageDeflate:
    """permessage-deflate as this endpoint is willing to do it; one object serves every connection.

    Server role (``negotiate``): ``server_no_context_takeover`` resets the server's compressor
    after every message, and says so (§7.1.1.1); ``client_no_context_takeover`` asks the client to
    reset its own (§7.1.1.2); ``server_max_window_bits`` is the largest window the server
    compresses with, 9 to 15, lowered to what an offer asks (§7.1.2.1); ``client_max_window_bits``
    (None: no limit) limits the client's window, 8 to 15, when its offer allows that (§7.1.2.2).

    Client role (``offer``, ``accept_response``): the same options are what the client asks of
    the server (``server_*``) and declares for itself (``client_*``). ``client_max_window_bits``
    is then this end's compressor and may not be 8 (``offer()`` raises ``ValueError``);
    ``server_max_window_bits`` under 15 asks the server for a smaller window.

    ``level``, ``memory_level`` and ``min_size`` are this end's compressor settings, handed on in
    the ``DeflateConfig``. A value out of range is a ``ValueError`` here.
    """

    name = NAME

    def __init__(
        self,
        *,
        server_no_context_takeover: bool = False,
        client_no_context_takeover: bool = False,
        server_max_window_bits: int = 15,
        client_max_window_bits: int | None = None,
        level: int = 6,
        memory_level: int = 8,
        min_size: int = 128,
    ) -> None:
        # server_max_window_bits is a compressor's window in either role: the server's own, or the
        # one a client asks the server for, which no zlib server can honour at 8 (it would decline).
        _check_range("server_max_window_bits", server_max_window_bits, 9, 15)
        if client_max_window_bits is not None:
            # A limit the server asks of the client may be 8 (RFC 7692 §7.1.2.2 allows it).
            _check_range("client_max_window_bits", client_max_window_bits, 8, 15)
        _check_range("level", level, -1, 9)
        _check_range("memory_level", memory_level, 1, 9)
        _check_range("min_size", min_size, 0, None)
        self.server_no_context_takeover = bool(server_no_context_takeover)
        self.client_no_context_takeover = bool(client_no_context_takeover)
        self.server_max_window_bits = server_max_window_bits
        self.client_max_window_bits = client_max_window_bits
        self.level = level
        self.memory_level = memory_level
        self.min_size = min_size

    def __repr__(self) -> str:
        return (
            f"PerMessageDeflate(server_no_context_takeover={self.server_no_context_takeover}, "
            f"client_no_context_takeover={self.client_no_context_takeover}, "
            f"server_max_window_bits={self.server_max_window_bits}, "
            f"client_max_window_bits={self.client_max_window_bits}, level={self.level}, "
            f"memory_level={self.memory_level}, min_size={self.min_size})"
        )

    # Server role

    def negotiate(self, params: ExtensionParams) -> tuple[str, DeflateConfig] | None:
        """One offer's params -> (the response's parameters after the name, "" for none; the config).

        None declines the offer, and the client's next one is tried (RFC 7692 §5.1): an offer
        with an unknown or repeated parameter or an invalid value (§7), or one asking for a
        server window of 8 bits, which zlib cannot compress with.
        """
        try:
            offer = _read(params, offer=True)
        except HandshakeError:
            # §7: "A server MUST decline an extension negotiation offer" that breaks §7.1.
            return None
        response: list[str] = []

        # §7.1.1.1: a client that asks for server_no_context_takeover gets it if accepted, and a
        # server may always declare it.
        compress_reset = self.server_no_context_takeover or SERVER_NO_CONTEXT_TAKEOVER in offer
        if compress_reset:
            response.append(SERVER_NO_CONTEXT_TAKEOVER)

        # §7.1.1.2: the server may ask the client to reset whether or not the client offered to. An
        # offer of it is the client's declaration that it will reset anyway; echoing it says so.
        decompress_reset = self.client_no_context_takeover or CLIENT_NO_CONTEXT_TAKEOVER in offer
        if decompress_reset:
            response.append(CLIENT_NO_CONTEXT_TAKEOVER)

        # §7.1.2.1: asked for server_max_window_bits=N, the server answers with N or less; not
        # asked, it may still announce a smaller window than 15.
        compress_bits = self.server_max_window_bits
        if SERVER_MAX_WINDOW_BITS in offer:
            asked = offer[SERVER_MAX_WINDOW_BITS]
            if asked == 8:
                return None
            compress_bits = min(compress_bits, asked)
        if SERVER_MAX_WINDOW_BITS in offer or compress_bits < _LARGEST:
            response.append(f"{SERVER_MAX_WINDOW_BITS}={compress_bits}")

        # §7.1.2.2: the server may answer client_max_window_bits only if the offer has it; a value
        # in the offer is the most the client will use, with or without an answer.
        decompress_bits = _LARGEST
        if CLIENT_MAX_WINDOW_BITS in offer:
            offered = offer[CLIENT_MAX_WINDOW_BITS]
            if offered is not None:
                decompress_bits = offered
            if self.client_max_window_bits is not None:
                decompress_bits = min(decompress_bits, self.client_max_window_bits)
                response.append(f"{CLIENT_MAX_WINDOW_BITS}={decompress_bits}")

        config = DeflateConfig(
            compress_window_bits=compress_bits,
            decompress_window_bits=decompress_bits,
            compress_reset=compress_reset,
            decompress_reset=decompress_reset,
            level=self.level,
            memory_level=self.memory_level,
            min_size=self.min_size,
        )
        return "; ".join(response), config

    # Client role

    def offer(self) -> str:
        """The Sec-WebSocket-Extensions element this client sends (RFC 7692 §7.1).

        It always has ``client_max_window_bits`` (with this client's window if under 15): the
        server may then limit the client's window, which it could not otherwise (§7.1.2.2).
        """
        if self.client_max_window_bits == 8:
            raise ValueError("client_max_window_bits cannot be 8 for a client: zlib cannot compress with 8 bits")
        params = [NAME]
        if self.server_no_context_takeover:
            params.append(SERVER_NO_CONTEXT_TAKEOVER)
        if self.client_no_context_takeover:
            params.append(CLIENT_NO_CONTEXT_TAKEOVER)
        if self.server_max_window_bits < _LARGEST:
            params.append(f"{SERVER_MAX_WINDOW_BITS}={self.server_max_window_bits}")
        if self.client_max_window_bits is not None and self.client_max_window_bits < _LARGEST:
            params.append(f"{CLIENT_MAX_WINDOW_BITS}={self.client_max_window_bits}")
        else:
            params.append(CLIENT_MAX_WINDOW_BITS)
        return "; ".join(params)

    def accept_response(self, params: ExtensionParams) -> DeflateConfig:
        """The config the server's answer to ``offer()`` sets up (RFC 7692 §7.1).

        ``HandshakeError``, naming the parameter at fault, when the answer breaks §7.1 or does
        not fit the offer: the client must then fail the connection (§5.1).
        """
        response = _read(params, offer=False)

        # §7.1.1.1: "If the server accepts [server_no_context_takeover], the server MUST include
        # [it] in the response", so its absence is not an acceptance of what was asked.
        if self.server_no_context_takeover and SERVER_NO_CONTEXT_TAKEOVER not in response:
            raise HandshakeError(
                "The server's permessage-deflate lacks server_no_context_takeover, which the client asked for"
            )

        # §7.1.2.1: a window larger than the client asked for, or none (15) when it asked, fails.
        decompress_bits = response.get(SERVER_MAX_WINDOW_BITS, _LARGEST)
        if decompress_bits > self.server_max_window_bits:
            raise HandshakeError(
                "The server's permessage-deflate server_max_window_bits is missing or larger than the client asked"
            )

        # §7.1.2.2: the offer always has client_max_window_bits, so the server may answer it, at
        # most the value offered, if any.
        own_bits = self.client_max_window_bits if self.client_max_window_bits is not None else _LARGEST
        compress_bits = response.get(CLIENT_MAX_WINDOW_BITS, own_bits)
        if compress_bits > own_bits:
            raise HandshakeError(
                "The server's permessage-deflate client_max_window_bits is larger than the client offered"
            )
        if compress_bits == 8:
            raise HandshakeError(
                "The server's permessage-deflate client_max_window_bits asks for a window of 8 bits, "
                "which zlib cannot compress with"
            )

        return DeflateConfig(
            compress_window_bits=compress_bits,
            decompress_window_bits=decompress_bits,
            # §7.1.1.2: the server may ask the client to reset; a client that offered it resets anyway.
            compress_reset=self.client_no_context_takeover or CLIENT_NO_CONTEXT_TAKEOVER in response,
            decompress_reset=SERVER_NO_CONTEXT_TAKEOVER in response,
            level=self.level,
            memory_level=self.memory_level,
            min_size=self.min_size,
        )


def _read(params: ExtensionParams, *, offer: bool) -> dict[str, Any]:
    """One permessage-deflate element's parameters, checked against RFC 7692 §7.1.

    Flags map to True, a window size to its int, and ``client_max_window_bits`` without a value
    (allowed in an offer only, §7.1.2.2) to None. ``HandshakeError`` names the parameter at fault
    and never repeats its value.
    """
    # Any: the name says which a value is (True, a window size, or None), which a dict cannot.
    read: dict[str, Any] = {}
    for name, value in params:
        if name in _FLAGS:
            if value is not None:
                raise HandshakeError(f"permessage-deflate parameter {name} takes no value")
            found: bool | int | None = True
        elif name == SERVER_MAX_WINDOW_BITS or name == CLIENT_MAX_WINDOW_BITS:
            if value is None:
                if not (offer and name == CLIENT_MAX_WINDOW_BITS):
                    raise HandshakeError(f"permessage-deflate parameter {name} needs a value")
                found = None
            else:
                found = _WINDOW_BITS.get(value)
                if found is None:
                    raise HandshakeError(f"permessage-deflate parameter {name} is not a window size from 8 to 15")
        else:
            # The name is a token (the header grammar saw to it), so it is safe to name.
            raise HandshakeError(f"permessage-deflate has an unknown parameter {name}")
        # §7: "the same parameter" twice in one element is invalid.
        if name in read:
            raise HandshakeError(f"permessage-deflate parameter {name} appears more than once")
        read[name] = found
    return read


def _check_range(name: str, value: int, low: int, high: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} is an int, not {type(value).__name__}")
    if value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{name} must be {bounds}, not {value}")
