"""The WebSocket opening handshake (RFC 6455 §4), server and client roles, sans-I/O.

Server: feed the bytes read to a ``RequestParser`` until it returns the ``Request`` (path and
query are there to route on before anything is answered), check it with ``validate_upgrade()``,
then send ``accept_response()`` or, for any ``HandshakeError``, ``error_response()``::

    request = parser.feed(data)            # None until the header block is complete
    key = validate_upgrade(request)        # HandshakeError: send error_response(exc), close
    subprotocol = select_subprotocol(offered_subprotocols(request), supported)
    extensions = negotiate_extensions(request, available_extensions)
    send(accept_response(key, subprotocol, [element for element, _ in extensions]))
    # parser.trailing holds the client's first frame bytes, if it sent some already

Client: send ``ClientRequest(url).request_bytes()``, feed what comes back to a
``ResponseParser``, and check the ``Response`` with ``verify_response()``, which returns the
subprotocol chosen and the extensions accepted, parsed, for the client's extensions to judge
(permessage-deflate: ``bolt.protocol.deflate``).

The HTTP layer (parsers, ``Headers``, ``http_response``) is ``bolt.protocol.http``; the
Sec-WebSocket-Extensions grammar and the extension hook are ``bolt.protocol.extensions``. Both
are re-exported here so the handshake has one import.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Iterable
from urllib.parse import quote, urlsplit

from bolt.exceptions import HandshakeError, HandshakeRejected, UnsupportedVersion
from bolt.protocol.extensions import (
    ExtensionOffer,
    ExtensionParams,
    ServerExtension,
    negotiate_extensions,
    parse_extension_header,
)
from bolt.protocol.http import (
    Headers,
    Request,
    RequestParser,
    Response,
    ResponseParser,
    check_field,
    comma_list,
    encode_fields,
    error_response,
    http_response,
    is_token,
)

__all__ = [
    "ClientRequest",
    "ExtensionOffer",
    "ExtensionParams",
    "Headers",
    "Request",
    "RequestParser",
    "Response",
    "ResponseParser",
    "ServerExtension",
    "accept_key",
    "accept_response",
    "error_response",
    "http_response",
    "negotiate_extensions",
    "offered_subprotocols",
    "parse_extension_header",
    "select_subprotocol",
    "validate_upgrade",
    "verify_response",
]

# RFC 6455 §1.3: appended to the client's key before hashing.
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
DEFAULT_PORTS = {"ws": 80, "wss": 443}
# Fields a ClientRequest writes itself from its arguments; passing them as extra headers would
# send a handshake that verify_response() then judges against different values.
_CLIENT_FIELDS = frozenset(
    {
        "upgrade",
        "connection",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-protocol",
        "sec-websocket-extensions",
    }
)
# The fixed start of every 101 (RFC 6455 §4.2.2 /response/ items 1 to 4), up to the accept value.
_SWITCHING_PROTOCOLS = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
)
# RFC 3986 §3.3 and §3.4: what a path and a query may hold unescaped ("%" keeps existing escapes).
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
# RFC 3986 §2 has no control character in a URI. A space or a non-ASCII character is
# percent-encoded into the resource name, but a control is refused: urlsplit() would quietly drop
# CR, LF and tab, and the request would ask for another resource than the caller's.
_NOT_IN_URL = re.compile(r"[\x00-\x1f\x7f]")


def accept_key(key: str) -> str:
    """The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key (RFC 6455 §1.3, §4.2.2)."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode("ascii")).digest()).decode("ascii")


def _lowered(tokens: list[str]) -> list[str]:
    return [token.lower() for token in tokens]


def validate_upgrade(request: Request) -> str:
    """Check a client's opening handshake (RFC 6455 §4.2.1) and return its Sec-WebSocket-Key.

    Raises ``HandshakeError`` carrying the answer: 405 with ``Allow: GET`` for another method;
    426 with ``Upgrade: websocket`` for a plain HTTP request; ``UnsupportedVersion`` (426 with
    ``Sec-WebSocket-Version: 13``) for another WebSocket version; 400 for anything else. The
    reason, which is the answer's body, names the header at fault but never quotes its value.
    """
    headers = request.headers
    # §4.2.1 item 1: "An HTTP/1.1 or higher GET request".
    if request.method != "GET":
        raise HandshakeError(
            f"Method {request.method} not allowed: a WebSocket upgrade is a GET", 405, [("Allow", "GET")]
        )
    if request.http_version != "1.1":
        raise HandshakeError(f"HTTP/{request.http_version} cannot upgrade to WebSocket: HTTP/1.1 is required")
    # §4.2.1 item 2: a Host field; only one (RFC 7230 §5.4).
    hosts = headers.get_all("Host")
    if not hosts:
        raise HandshakeError("Missing Host header")
    if len(hosts) > 1:
        raise HandshakeError("More than one Host header")
    # §4.2.1 item 3: Upgrade includes "websocket". Without it this is plain HTTP sent to a
    # WebSocket endpoint, and 426 tells the client what to ask for (RFC 7231 §6.5.15).
    if "websocket" not in _lowered(comma_list(headers.get_all("Upgrade"))):
        raise HandshakeError(
            "This is a WebSocket endpoint: the request has no Upgrade: websocket",
            426,
            [("Upgrade", "websocket"), ("Connection", "Upgrade")],
        )
    # §4.2.1 item 4: Connection includes the token "Upgrade", case-insensitively.
    if "upgrade" not in _lowered(comma_list(headers.get_all("Connection"))):
        raise HandshakeError("The Connection header does not include Upgrade")
    # §4.2.1 item 6: Sec-WebSocket-Version 13, once (§11.3.5). Checked before the key so that a
    # client speaking another version learns which one the server speaks (§4.4).
    if comma_list(headers.get_all("Sec-WebSocket-Version")) != ["13"]:
        raise UnsupportedVersion("Missing or unsupported Sec-WebSocket-Version: this server speaks 13")
    # §4.2.1 item 5: Sec-WebSocket-Key, once (§11.3.1), base64 of 16 bytes.
    keys = headers.get_all("Sec-WebSocket-Key")
    if not keys:
        raise HandshakeError("Missing Sec-WebSocket-Key header")
    if len(keys) > 1:
        raise HandshakeError("More than one Sec-WebSocket-Key header")
    key = keys[0]
    try:
        nonce = base64.b64decode(key, validate=True)
    except ValueError:
        nonce = b""
    if len(nonce) != 16:
        raise HandshakeError("Sec-WebSocket-Key is not 16 bytes in base64")
    return key


def offered_subprotocols(request: Request) -> list[str]:
    """The subprotocols the client offers, in its order of preference (RFC 6455 §4.1 item 10)."""
    return comma_list(request.headers.get_all("Sec-WebSocket-Protocol"))


def select_subprotocol(offered: Iterable[str], supported: Iterable[str]) -> str | None:
    """The first of the client's offers that the server supports, or None (RFC 6455 §4.2.2)."""
    supported_set = set(supported)
    return next((subprotocol for subprotocol in offered if subprotocol in supported_set), None)


def accept_response(
    key: str,
    subprotocol: str | None = None,
    extensions: Iterable[str] = (),
    extra_headers: Iterable[tuple[str, str]] = (),
) -> bytes:
    """The bytes of the 101 that completes the server's side of the handshake (RFC 6455 §4.2.2).

    ``extensions`` are the accepted elements of Sec-WebSocket-Extensions (the first item of each
    pair ``negotiate_extensions()`` returns), in the order they apply. ``ValueError`` if a header
    name or value would inject fields.
    """
    fields: list[tuple[str, str]] = []
    if subprotocol is not None:
        if not is_token(subprotocol):
            raise ValueError(f"A subprotocol is a token, not {subprotocol!r}")
        fields.append(("Sec-WebSocket-Protocol", subprotocol))
    extension_value = ", ".join(extensions)
    if extension_value:
        fields.append(("Sec-WebSocket-Extensions", extension_value))
    fields.extend(extra_headers)
    accept = accept_key(key).encode("ascii")
    return _SWITCHING_PROTOCOLS + accept + b"\r\n" + encode_fields(fields) + b"\r\n"


class ClientRequest:
    """Client role: the opening handshake request for a ``ws://`` or ``wss://`` URL (RFC 6455 §4.1).

    ``host`` and ``port`` are where to connect (``secure`` for TLS), ``resource`` the path and
    query to ask for (§3), ``key`` a fresh random Sec-WebSocket-Key. ``subprotocols`` and
    ``extensions`` (Sec-WebSocket-Extensions elements, such as
    ``"permessage-deflate; client_max_window_bits"``) are what the client offers; a Host in
    ``extra_headers`` replaces the one derived from the URL. ``ValueError`` for a URL that is not
    a WebSocket URL or arguments that do not fit in a header, here rather than when the request
    is sent: the caller learns it before any connection is made.
    """

    __slots__ = ("url", "secure", "host", "port", "resource", "subprotocols", "extensions", "extra_headers", "key")

    def __init__(
        self,
        url: str,
        subprotocols: Iterable[str] = (),
        extensions: Iterable[str] = (),
        extra_headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        if _NOT_IN_URL.search(url):
            raise ValueError("A WebSocket URL holds no control characters, CR and LF among them (RFC 3986 §2)")
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS:
            raise ValueError(f"Not a WebSocket URL (ws:// or wss://): {url!r}")
        # §3: "Fragment identifiers ... MUST NOT be used on these URIs".
        if "#" in url:
            raise ValueError(f"A WebSocket URL has no fragment: {url!r}")
        if parts.username is not None:
            raise ValueError(f"Credentials in a WebSocket URL are not supported: {url!r}")
        if not parts.hostname:
            raise ValueError(f"A WebSocket URL needs a host: {url!r}")
        self.url = url
        self.secure = parts.scheme == "wss"
        # urlsplit takes the brackets off an IPv6 literal; a Host header puts them back.
        host = parts.hostname
        self.host = host if host.isascii() else host.encode("idna").decode("ascii")
        self.port = DEFAULT_PORTS[parts.scheme] if parts.port is None else parts.port
        # §3: the resource name is the path ("/" if empty), then "?" and the query if any.
        self.resource = quote(parts.path or "/", safe=_PATH_SAFE)
        if parts.query:
            self.resource += "?" + quote(parts.query, safe=_QUERY_SAFE)
        self.subprotocols = list(subprotocols)
        for subprotocol in self.subprotocols:
            if not is_token(subprotocol):
                raise ValueError(f"A subprotocol is a token, not {subprotocol!r}")
        self.extensions = list(extensions)
        if self.extensions:
            check_field("Sec-WebSocket-Extensions", ", ".join(self.extensions))
        self.extra_headers = list(extra_headers)
        for name, value in self.extra_headers:
            check_field(name, value)
            if name.lower() in _CLIENT_FIELDS:
                raise ValueError(f"{name} is written by the handshake itself, not passed as an extra header")
        # §4.1 item 7: a nonce of 16 random bytes, base64-encoded, fresh for each connection.
        self.key = base64.b64encode(os.urandom(16)).decode("ascii")

    @property
    def host_header(self) -> str:
        """The Host field value: the port is left out when it is the scheme's default (§4.1 item 4)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port == DEFAULT_PORTS["wss" if self.secure else "ws"]:
            return host
        return f"{host}:{self.port}"

    def request_bytes(self) -> bytes:
        """The bytes of the request (§4.1 items 1 to 12)."""
        fields = []
        if not any(name.lower() == "host" for name, _ in self.extra_headers):
            fields.append(("Host", self.host_header))
        fields += [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", self.key),
            ("Sec-WebSocket-Version", "13"),
        ]
        if self.subprotocols:
            fields.append(("Sec-WebSocket-Protocol", ", ".join(self.subprotocols)))
        if self.extensions:
            fields.append(("Sec-WebSocket-Extensions", ", ".join(self.extensions)))
        fields += self.extra_headers
        return f"GET {self.resource} HTTP/1.1\r\n".encode("ascii") + encode_fields(fields) + b"\r\n"

    def __repr__(self) -> str:
        return f"<ClientRequest {self.url}>"


def verify_response(request: ClientRequest, response: Response) -> tuple[str | None, list[ExtensionOffer]]:
    """Check the server's answer to ``request`` (RFC 6455 §4.1, the client's validation of it).

    Returns the subprotocol the server chose (None if none) and the extensions it accepted, parsed
    from its Sec-WebSocket-Extensions as ``(name, params)`` in its order, each one the client
    offered; whether their parameters fit the offers is for each extension to judge.
    ``HandshakeRejected`` when the status is not 101; ``HandshakeError`` for any other departure
    from §4.1.
    """
    # "If the status code received from the server is not 101, the client handles the response
    # per HTTP procedures": the server refused, and said why.
    if response.status != 101:
        raise HandshakeRejected(response.status, list(response.headers), response.body)
    # A 101 is HTTP/1.1's: HTTP/1.0 has no 1xx status (RFC 7231 §6.2) and no Upgrade (RFC 7230
    # §6.7), and RFC 6455 §4.1 asks the server for an HTTP/1.1 (or later) answer.
    if _version(response.http_version) < (1, 1):
        raise HandshakeError(f"The server answered 101 in HTTP/{response.http_version}: HTTP/1.1 is required")
    headers = response.headers
    # "If the response lacks an |Upgrade| header field or [it] contains a value that is not an
    # ASCII case-insensitive match for the value "websocket", the client MUST _Fail_".
    if _lowered(comma_list(headers.get_all("Upgrade"))) != ["websocket"]:
        raise HandshakeError("The server's 101 does not have Upgrade: websocket")
    # "If the response lacks a |Connection| header field or [it] doesn't contain a token that is
    # an ASCII case-insensitive match for the value "Upgrade", the client MUST _Fail_".
    if "upgrade" not in _lowered(comma_list(headers.get_all("Connection"))):
        raise HandshakeError("The server's 101 does not have Connection: Upgrade")
    # "If the response lacks a |Sec-WebSocket-Accept| header field or [it] contains a value other
    # than the base64-encoded SHA-1 of the concatenation of the |Sec-WebSocket-Key| ..."
    if headers.get_all("Sec-WebSocket-Accept") != [accept_key(request.key)]:
        raise HandshakeError("The server's Sec-WebSocket-Accept does not match the key sent")
    # "If the response includes a |Sec-WebSocket-Extensions| header field and this header field
    # indicates the use of an extension that was not present in the client's handshake".
    extensions = parse_extension_header(headers.get_all("Sec-WebSocket-Extensions"))
    if extensions:
        offered = {name for name, _ in parse_extension_header(request.extensions)}
        if any(name not in offered for name, _ in extensions):
            raise HandshakeError("The server accepted an extension the client did not offer")
    # "If the response includes a |Sec-WebSocket-Protocol| header field and this header field
    # indicates the use of a subprotocol that was not present in the client's handshake".
    subprotocols = comma_list(headers.get_all("Sec-WebSocket-Protocol"))
    if not subprotocols:
        return None, extensions
    if len(subprotocols) > 1:
        raise HandshakeError(f"The server chose more than one subprotocol: {', '.join(subprotocols)}")
    if subprotocols[0] not in request.subprotocols:
        raise HandshakeError(f"The server chose subprotocol {subprotocols[0]}, which the client did not offer")
    return subprotocols[0], extensions


def _version(text: str) -> tuple[int, ...]:
    """``"1.1"`` as ``(1, 1)``; llhttp hands over only digits and a dot."""
    return tuple(int(part) for part in text.split("."))
