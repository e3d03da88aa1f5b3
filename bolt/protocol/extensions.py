"""Sec-WebSocket-Extensions: the header's grammar (RFC 6455 §9.1) and the hook extensions plug into.

An extension (permessage-deflate, RFC 7692) is offered by the client as a name and parameters;
the server accepts at most one offer per extension and answers with the parameters it agreed
to. This module parses offers and runs that negotiation; what the extension does to frames
lives with the extension.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol

from bolt.exceptions import HandshakeError
from bolt.protocol.http import TOKEN, Request

ExtensionParams = list[tuple[str, str | None]]
ExtensionOffer = tuple[str, ExtensionParams]

# RFC 7230 §3.2.6: quoted-string, made of qdtext and quoted-pair (ASCII only).
_QUOTED_STRING = re.compile(r'"((?:[\t !#-\[\]-~]|\\[\t -~])*)"')
_QUOTED_PAIR = re.compile(r"\\(.)")
_OWS = re.compile(r"[ \t]*")
# RFC 7230 §7: between the elements of a list, commas and whitespace, empty elements included.
_LIST_SEPARATORS = re.compile(r"[ \t,]*")


class ServerExtension(Protocol):
    """What the server side of an extension provides to take part in the handshake.

    ``name`` is the extension token the client offers (``"permessage-deflate"``).

    ``negotiate(params)`` receives the parameters of one offer, in the order the client wrote
    them, each value a str or None for a parameter without ``=``. When it accepts the offer it
    returns the parameters of the server's response as they appear after the name
    (``"server_no_context_takeover"``, or ``""`` for none) and the per-connection object that
    carries what was agreed (a ``DeflateConfig`` for permessage-deflate). None declines the offer
    and lets the next one be tried (RFC 7692 §5: an offer the server cannot take is declined, not
    fatal). Raising ``HandshakeError`` refuses the whole handshake.
    """

    name: str

    def negotiate(self, params: ExtensionParams) -> tuple[str, object] | None: ...


def parse_extension_header(values: Iterable[str]) -> list[ExtensionOffer]:
    """Every extension in the Sec-WebSocket-Extensions field values, in order (RFC 6455 §9.1).

    Each is ``(name, [(param, value or None), ...])``. Quoted parameter values are unescaped and
    must then be tokens, as §9.1 requires. A value not in the grammar is a ``HandshakeError``.
    """
    offers: list[ExtensionOffer] = []
    for value in values:
        position = _LIST_SEPARATORS.match(value).end()  # type: ignore[union-attr]  # matches the empty string
        while position < len(value):
            name, position = _token(value, position)
            params: ExtensionParams = []
            position = _OWS.match(value, position).end()  # type: ignore[union-attr]  # matches the empty string
            while value.startswith(";", position):
                param, position = _token(value, _OWS.match(value, position + 1).end())  # type: ignore[union-attr]  # matches the empty string
                position = _OWS.match(value, position).end()  # type: ignore[union-attr]  # matches the empty string
                param_value = None
                if value.startswith("=", position):
                    param_value, position = _param_value(value, _OWS.match(value, position + 1).end())  # type: ignore[union-attr]  # matches the empty string
                    position = _OWS.match(value, position).end()  # type: ignore[union-attr]  # matches the empty string
                params.append((param, param_value))
            if position < len(value) and value[position] != ",":
                raise _malformed(value)
            offers.append((name, params))
            position = _LIST_SEPARATORS.match(value, position).end()  # type: ignore[union-attr]  # matches the empty string
    return offers


def negotiate_extensions(request: Request, available: Iterable[ServerExtension]) -> list[tuple[str, object]]:
    """The extensions agreed on: for each, its element of the response's Sec-WebSocket-Extensions
    (``"permessage-deflate; server_no_context_takeover"``) and the object ``negotiate()`` returned.

    The client's offers are tried in its order (its order of preference, RFC 6455 §9.1); each
    extension takes the first of its offers it accepts and ignores the others (RFC 7692 §5).
    """
    by_name = {extension.name: extension for extension in available}
    values = request.headers.get_all("Sec-WebSocket-Extensions")
    if not by_name or not values:
        return []
    accepted: list[tuple[str, object]] = []
    accepted_names: set[str] = set()
    for name, params in parse_extension_header(values):
        extension = by_name.get(name)
        if extension is None or name in accepted_names:
            continue
        agreed = extension.negotiate(params)
        if agreed is not None:
            response_params, agreement = agreed
            accepted_names.add(name)
            accepted.append((f"{name}; {response_params}" if response_params else name, agreement))
    return accepted


def _token(value: str, position: int) -> tuple[str, int]:
    match = TOKEN.match(value, position)
    if match is None:
        raise _malformed(value)
    return match.group(), match.end()


def _param_value(value: str, position: int) -> tuple[str, int]:
    if not value.startswith('"', position):
        return _token(value, position)
    match = _QUOTED_STRING.match(value, position)
    if match is None:
        raise _malformed(value)
    unquoted = _QUOTED_PAIR.sub(r"\1", match.group(1))
    # RFC 6455 §9.1: once unescaped, a quoted value must still be a token.
    if TOKEN.fullmatch(unquoted) is None:
        raise _malformed(value)
    return unquoted, match.end()


def _malformed(value: str) -> HandshakeError:
    # The value is not repeated: a refusal's body never echoes what the request carried.
    return HandshakeError("Malformed Sec-WebSocket-Extensions header")
