"""Which browser origins may open a WebSocket: the defence against cross-site WebSocket hijacking.

A page on any site can open a WebSocket to any server, and the browser sends that server's cookies
(and cached HTTP credentials) with the handshake. The same-origin policy does not apply to
WebSockets, so a server that authenticates by cookie must check the ``Origin`` header the browser
sets (RFC 6455 §10.2, §4.2.1 item 8): otherwise any page can act as the logged-in user.

An allow-list holds origins as a browser serializes them (RFC 6454 §6.2), ``scheme://host`` with
``:port`` when it is not the scheme's default, and patterns with one leading ``*.`` label that
match any subdomain at any depth (``https://*.example.com`` matches ``https://a.example.com`` and
``https://a.b.example.com``, not ``https://example.com``: list that too). Comparison ignores case
and the default port. ``null`` (the origin of sandboxed frames, ``file:`` pages and some redirects)
is never allowed: anything can send it.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


class OriginPolicy:
    """An allow-list of origins; ``allow_missing``: whether a request without ``Origin`` (a client
    that is not a browser: browsers always send it on a WebSocket handshake) is let in."""

    __slots__ = ("_exact", "_suffixes", "allow_missing", "patterns")

    def __init__(self, allowed: Iterable[str], *, allow_missing: bool = True) -> None:
        if isinstance(allowed, str):
            raise TypeError("allowed_origins is a list of origins, not one str")
        self.patterns = tuple(allowed)
        if not self.patterns:
            raise ValueError("allowed_origins is empty: it would refuse every browser; leave it unset for no check")
        self._exact: set[tuple[str, str, int]] = set()
        self._suffixes: list[tuple[str, str, int]] = []
        for pattern in self.patterns:
            scheme, host, port = _parse(pattern, pattern=True)
            if host.startswith("*."):
                self._suffixes.append((scheme, host[1:], port))  # ".example.com"
            else:
                self._exact.add((scheme, host, port))
        self.allow_missing = allow_missing

    def allows(self, values: list[str]) -> bool:
        """Does a request whose ``Origin`` fields are ``values`` pass? More than one field, a value
        that is not an origin, and ``null`` do not."""
        if not values:
            return self.allow_missing
        if len(values) > 1:
            return False
        try:
            scheme, host, port = _parse(values[0], pattern=False)
        except ValueError:
            return False
        if (scheme, host, port) in self._exact:
            return True
        return any(
            scheme == s_scheme and port == s_port and host.endswith(suffix)
            for s_scheme, suffix, s_port in self._suffixes
        )

    def __repr__(self) -> str:
        return f"OriginPolicy({list(self.patterns)!r}, allow_missing={self.allow_missing})"


def _parse(origin: str, *, pattern: bool) -> tuple[str, str, int]:
    """(scheme, host, port) of a serialized origin, lower-cased, the port made explicit."""
    if not isinstance(origin, str):
        raise TypeError(f"an origin is a str, not {type(origin).__name__}")
    text = origin.strip()
    if text.lower() == "null":
        raise ValueError("null is not an origin that can be allowed")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise ValueError(f"not an origin: {origin!r} ({error})") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if parts.netloc.startswith("["):
        host = f"[{host}]"  # IPv6 literals keep their brackets, as browsers serialize them
    wildcard = pattern and host.startswith("*.")
    bare = host[2:] if wildcard else host
    if (
        scheme not in DEFAULT_PORTS
        or not bare
        or "*" in bare
        or parts.path not in (("", "/") if pattern else ("",))
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise ValueError(
            f"not an origin{' pattern' if pattern else ''}: {origin!r} "
            "(expected scheme://host or scheme://host:port, optionally scheme://*.domain)"
        )
    return scheme, host, port if port is not None else DEFAULT_PORTS[scheme]
