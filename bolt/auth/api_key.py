"""``APIKeyAuthentication``: a static key from a header (``X-API-Key``) or a query parameter.

Keys are kept as SHA-256 digests, and a presented key is hashed once and compared against every
stored digest with ``hmac.compare_digest``, without stopping at a match: the time taken says
neither which key matched, nor how much of a wrong key was right, nor (digests being one length)
how long the keys are. The key itself never enters the context: ``user_id`` is ``api-key:`` and a
short fingerprint of its digest, which identifies it in logs without revealing it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from bolt.auth.base import AuthenticationFailed, TokenTooLarge, identity

if TYPE_CHECKING:
    from bolt.websocket import WebSocket


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


class APIKeyAuthentication:
    """Authenticates a handshake carrying one of ``keys``.

    ``keys`` is an iterable of keys, or a mapping of key to the permissions it grants. The key is
    read from the ``header`` field (default ``X-API-Key``; None to turn it off) and, when
    ``query_param`` names one, from that query parameter (off by default: URLs end up in logs and
    browser history). Two places that disagree are refused (401), as is a key over
    ``max_key_length`` characters (431 from a header, 400 from the query), before it is hashed.
    """

    name = "api_key"

    def __init__(
        self,
        keys: Iterable[str] | Mapping[str, Iterable[str]],
        *,
        header: str | None = "X-API-Key",
        query_param: str | None = None,
        max_key_length: int = 256,
    ) -> None:
        grants = keys.items() if isinstance(keys, Mapping) else ((key, ()) for key in keys)
        self._keys: list[tuple[bytes, frozenset[str]]] = []
        for key, permissions in grants:
            if not isinstance(key, str) or not key:
                raise ValueError("every API key must be a non-empty str")
            if isinstance(permissions, str):
                raise TypeError(f"the permissions of a key are a collection of names, not the str {permissions!r}")
            self._keys.append((_digest(key), frozenset(permissions)))
        if not self._keys:
            # An empty key set refuses everyone; it is far more likely a missing configuration.
            raise ValueError("APIKeyAuthentication needs at least one key")
        if header is None and query_param is None:
            raise ValueError("APIKeyAuthentication needs a header or a query_param to read the key from")
        self.header = header
        self.query_param = query_param
        self.max_key_length = max_key_length

    @property
    def challenge(self) -> str:
        # There is no registered scheme for API keys; a 401 still needs a challenge (RFC 7235 §3.1).
        return f'APIKey header="{self.header}"' if self.header else "APIKey"

    def authenticate(self, websocket: WebSocket) -> dict[str, Any] | None:
        presented = self._read(websocket)
        if presented is None:
            return None
        digest = _digest(presented)
        granted: frozenset[str] | None = None
        matched = b""
        for stored, permissions in self._keys:
            if hmac.compare_digest(digest, stored):
                granted, matched = permissions, stored
        if granted is None:
            raise AuthenticationFailed("invalid API key", challenge=self.challenge)
        return identity(f"api-key:{matched.hex()[:12]}", self.name, permissions=granted)

    def _read(self, websocket: WebSocket) -> str | None:
        found: str | None = None
        for value, in_header in self._values(websocket):
            if len(value) > self.max_key_length:
                raise TokenTooLarge(in_header=in_header, reason="API key too large")
            if found is None:
                found = value
            elif value != found:
                raise AuthenticationFailed("API key given in several places that disagree", challenge=self.challenge)
        if found == "":
            raise AuthenticationFailed("empty API key", challenge=self.challenge)
        return found

    def _values(self, websocket: WebSocket) -> Iterator[tuple[str, bool]]:
        if self.header is not None:
            for value in websocket.headers.get_all(self.header):
                yield value, True
        if self.query_param is not None and self.query_param in websocket.query_params:
            yield websocket.query_params[self.query_param], False

    def __repr__(self) -> str:
        return f"APIKeyAuthentication({len(self._keys)} keys, header={self.header!r}, query_param={self.query_param!r})"
