"""Where a bearer token is read from in the opening handshake, in a configured order.

Sources (RFC 6750 §2 names the first and third; browsers can set neither headers nor, across
origins, cookies on a WebSocket, hence the query and the subprotocol):

``"header"``       ``Authorization: Bearer <token>`` (RFC 6750 §2.1; the scheme is case-insensitive,
                   RFC 7235 §2.1). Fields with another scheme (``Basic``) are not ours and are skipped.
``"cookie"``       a cookie, ``access_token`` unless named otherwise. Browsers send cookies on
                   cross-site WebSocket handshakes, so a route reading one must check ``Origin``.
``"query"``        the ``token`` query parameter (the seed's ``?token=<jwt>``; RFC 6750 §2.3 calls it
                   ``access_token``, and ``query_param=`` renames it).
``"subprotocol"``  ``Sec-WebSocket-Protocol: bearer, <token>``: the marker, then the token as the next
                   offered value (``new WebSocket(url, ["bearer", token])``). The server accepts the
                   marker, never the token, as the subprotocol (RFC 6455 §4.2.2 only lets it echo an
                   offered value, and browsers fail a handshake that offered some and got none).

Every configured source is read. The first that carries a token names the token; another source,
or a repeat of the same one, carrying a different value is refused (401): RFC 6750 §2 allows one
method per request, and two tokens that disagree mean a confused or malicious client. Each value
is measured before anything else is done with it: over ``max_length`` characters it is refused
with 431 (a header field, RFC 6585 §5) or 400 (the query), unparsed. A token that is present but
empty is refused (401) rather than taken for an absent one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from bolt.auth.base import AuthenticationFailed, TokenTooLarge
from bolt.params import parse_query

if TYPE_CHECKING:
    from bolt.websocket import WebSocket

HEADER = "header"
COOKIE = "cookie"
QUERY = "query"
SUBPROTOCOL = "subprotocol"
SOURCES = (HEADER, COOKIE, QUERY, SUBPROTOCOL)


def bearer_challenge(error: str | None = None, description: str | None = None) -> str:
    """A ``WWW-Authenticate`` value (RFC 6750 §3): no error code when no token came (§3.1)."""
    if error is None:
        return "Bearer"
    challenge = f'Bearer error="{error}"'
    if description:
        # error_description is limited to %x20-21 / %x23-5B / %x5D-7E (RFC 6750 §3): no quote or backslash.
        challenge += f', error_description="{description.replace(chr(34), "").replace(chr(92), "")}"'
    return challenge


class TokenReader:
    """Reads one bearer token from the sources it was given, in their order."""

    __slots__ = ("sources", "query_param", "cookie", "subprotocol", "max_length")

    def __init__(
        self,
        sources: Iterable[str],
        *,
        query_param: str = "token",
        cookie: str = "access_token",
        subprotocol: str = "bearer",
        max_length: int = 8192,
    ) -> None:
        self.sources = tuple(sources)
        unknown = [source for source in self.sources if source not in SOURCES]
        if unknown or not self.sources or len(set(self.sources)) != len(self.sources):
            raise ValueError(f"token_sources must name each of {', '.join(SOURCES)} at most once, not {self.sources!r}")
        for name, value in (("query_param", query_param), ("cookie", cookie), ("subprotocol", subprotocol)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty str, not {value!r}")
        if max_length < 1:
            raise ValueError("max_token_length must be positive")
        self.query_param = query_param
        self.cookie = cookie
        self.subprotocol = subprotocol
        self.max_length = max_length

    def read(self, websocket: WebSocket) -> str | None:
        """The token, or None when no source carries one; ``AuthenticationFailed`` when two
        disagree or one is empty, ``TokenTooLarge`` when one is too long."""
        found: str | None = None
        for source in self.sources:
            for value in self._values(source, websocket):
                if len(value) > self.max_length:
                    raise TokenTooLarge(in_header=source != QUERY, reason="token too large")
                if found is None:
                    found = value
                elif value != found:
                    raise AuthenticationFailed(
                        "token given in several places that disagree",
                        challenge=bearer_challenge("invalid_request", "token given in several places that disagree"),
                    )
        if found == "":
            raise AuthenticationFailed("empty token", challenge=bearer_challenge("invalid_token", "empty token"))
        return found

    def _values(self, source: str, websocket: WebSocket) -> Iterator[str]:
        if source == HEADER:
            for field in websocket.headers.get_all("authorization"):
                scheme, _, credentials = field.strip().partition(" ")
                if scheme.lower() == "bearer":
                    yield credentials.strip()
        elif source == COOKIE:
            value = websocket.cookies.get(self.cookie)
            if value is not None:
                yield value
        elif source == QUERY:
            if self.query_param in websocket.query_params:
                # query_params keeps the first value of a repeated key; the raw query has them all,
                # so ``?token=a&token=b`` is seen as the disagreement it is.
                # The request has come: the handshake is being authenticated.
                query_string = websocket._session.request.query_string  # type: ignore[union-attr]
                for key, value in parse_query(query_string):
                    if key == self.query_param:
                        yield value
        else:
            offered = websocket.subprotocols
            for index, value in enumerate(offered):
                if value == self.subprotocol:
                    yield offered[index + 1] if index + 1 < len(offered) else ""
