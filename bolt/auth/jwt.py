"""``JWTAuthentication``: a JSON Web Token (RFC 7519) from the handshake, verified by PyJWT.

PyJWT does all the token work; this module decides what it is asked. The rules that keep it safe:

- ``algorithms`` is always passed to ``jwt.decode`` from configuration, never from the token's
  header (RFC 8725 §2.1, §3.1): HS256 alone by default; ``none`` is refused at construction.
- One key type per backend: HMAC secrets (HS*) and public keys (RS*, PS*, ES*, EdDSA) are never
  mixed, so a token signed with HS256 using the public key as its secret (the algorithm confusion
  of RFC 8725 §2.1) meets an algorithm outside the allowed list.
- An HMAC secret is at least as long as the hash (RFC 7518 §3.2: 32 bytes for HS256).
- ``JWTAuthentication()`` without a secret takes it, when the server starts, from
  ``BoltAPI(jwt_secret=...)`` or else the ``BOLT_JWT_SECRET`` environment variable; with neither the
  server refuses to start. There is no default key.
- ``exp`` and the user claim are required by default (RFC 7519 §4.1.4, §4.1.2); ``aud`` and
  ``iss`` are checked when configured, and a token carrying an ``aud`` is refused when no
  audience is configured (RFC 7519 §4.1.3: a recipient not named in it MUST reject it).
- Reasons are fixed texts per failure: nothing of the token or the key reaches the client or a log.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from datetime import timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any

from bolt.auth.base import AuthenticationFailed, ConfigurationError, identity
from bolt.auth.tokens import COOKIE, HEADER, QUERY, SUBPROTOCOL, TokenReader, bearer_challenge

if TYPE_CHECKING:
    from bolt.websocket import WebSocket

SECRET_ENV = "BOLT_JWT_SECRET"
SUB_NOT_A_STRING = "token's sub claim is not a string"
# RFC 7519 §4.1.4-4.1.6: the claims that are a NumericDate.
TIME_CLAIMS = ("exp", "nbf", "iat")

# RFC 7518 §3.2: "A key of the same size as the hash output ... or larger MUST be used".
HMAC_MIN_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
# Algorithms by the kind of key that verifies them (RFC 7518 §3.1, RFC 8037 §3.1).
KEY_TYPES = {
    **{name: "HMAC" for name in HMAC_MIN_BYTES},
    **{name: "RSA" for name in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")},
    **{name: "EC" for name in ("ES256", "ES256K", "ES384", "ES512")},
    "EdDSA": "OKP",
}


def _import_pyjwt() -> ModuleType:
    try:
        import jwt
    except ImportError as error:
        raise ImportError("JWTAuthentication needs PyJWT: pip install bolt-ws[auth]") from error
    if not hasattr(jwt, "PyJWTError"):
        # The "jwt" distribution on PyPI is another library that takes the same import name.
        raise ImportError(f"the 'jwt' module at {jwt.__file__} is not PyJWT: pip install bolt-ws[auth]")
    return jwt


class JWTAuthentication:
    """Authenticates a handshake carrying a JWT.

    ``secret`` (HS*) or ``public_key`` (PEM text or a ``cryptography`` public key, for RS*, PS*,
    ES*, EdDSA) verifies the signature. ``require`` names claims that must be present besides
    ``user_claim``, whose value becomes ``context["user_id"]``. ``permissions_claim`` holds a list
    of strings, or one space-separated string (an OAuth ``scope``). ``token_sources`` lists where
    the token may come from, in order (see ``bolt.auth.tokens``).
    """

    name = "jwt"

    def __init__(
        self,
        secret: str | bytes | None = None,
        *,
        algorithms: Sequence[str] = ("HS256",),
        public_key: Any = None,
        audience: str | Iterable[str] | None = None,
        issuer: str | Sequence[str] | None = None,
        leeway: float | timedelta = 0,
        require: Iterable[str] = ("exp",),
        user_claim: str = "sub",
        permissions_claim: str = "permissions",
        token_sources: Iterable[str] = (HEADER, QUERY, SUBPROTOCOL),
        query_param: str = "token",
        cookie: str = "access_token",
        subprotocol: str = "bearer",
        max_token_length: int = 8192,
    ) -> None:
        self._jwt = _import_pyjwt()
        self.algorithms = _check_algorithms(algorithms, self._jwt)
        self.key_type = KEY_TYPES[self.algorithms[0]]
        named = ", ".join(self.algorithms)
        if self.key_type == "HMAC":
            if public_key is not None:
                raise ValueError(f"{named} verify with a shared secret: pass secret=, not public_key=")
            self._explicit_secret = None if secret is None else _check_secret(secret, self.algorithms, self._jwt)
            self._key: Any = self._explicit_secret
        else:
            if secret is not None:
                raise ValueError(f"{named} verify with a public key: pass public_key=, not secret=")
            if public_key is None:
                raise ValueError(f"{named} need public_key= (PEM text or a cryptography public key)")
            self._explicit_secret = None
            self._key = self._public_key(public_key)
        self.audience = audience if audience is None or isinstance(audience, str) else list(audience)
        self.issuer = issuer if issuer is None or isinstance(issuer, str) else list(issuer)
        self.leeway = leeway.total_seconds() if isinstance(leeway, timedelta) else float(leeway)
        if self.leeway < 0:
            raise ValueError("leeway must not be negative")
        self.user_claim = user_claim
        self.permissions_claim = permissions_claim
        self.require = list(dict.fromkeys([*require, user_claim]))
        self.tokens = TokenReader(
            token_sources, query_param=query_param, cookie=cookie, subprotocol=subprotocol, max_length=max_token_length
        )

    @property
    def reads_cookies(self) -> bool:
        """Whether the token may come from a cookie, which browsers send cross-site: a route with
        such a backend must have an Origin allow-list (``BoltAPI(allowed_origins=...)``)."""
        return COOKIE in self.tokens.sources

    @property
    def carrier_subprotocol(self) -> str | None:
        """The subprotocol marker the token may follow; the server accepts it, never the token."""
        return self.tokens.subprotocol if SUBPROTOCOL in self.tokens.sources else None

    @property
    def challenge(self) -> str:
        return bearer_challenge()

    def prepare(self, api: Any = None) -> None:
        """Resolve the HMAC secret when none was given: the API's ``jwt_secret``, else
        ``BOLT_JWT_SECRET``. ``ConfigurationError`` when neither is set: never a default key."""
        if self.key_type != "HMAC" or self._explicit_secret is not None:
            return
        secret = getattr(api, "jwt_secret", None) or os.environ.get(SECRET_ENV)
        if not secret:
            raise ConfigurationError(
                "JWTAuthentication has no secret: pass JWTAuthentication(secret=...), "
                f"BoltAPI(jwt_secret=...), or set the {SECRET_ENV} environment variable"
            )
        self._key = _check_secret(secret, self.algorithms, self._jwt)

    def authenticate(self, websocket: WebSocket) -> dict[str, Any] | None:
        token = self.tokens.read(websocket)
        if token is None:
            return None
        if self._key is None:
            raise ConfigurationError("JWTAuthentication was not prepared: the server calls prepare() when it starts")
        claims = self.decode(token)
        user_id = claims[self.user_claim]
        if self.user_claim == "sub" and not isinstance(user_id, str):
            raise _invalid(SUB_NOT_A_STRING)  # RFC 7519 §4.1.2 (PyJWT checks it too from 2.10)
        if isinstance(user_id, bool) or not isinstance(user_id, (str, int)):
            raise _invalid("token's user claim is not a string or an integer")
        exp = claims.get("exp")
        return identity(
            user_id,
            self.name,
            claims=claims,
            permissions=_permissions(claims.get(self.permissions_claim)),
            # Only a JSON true counts: a string "false" must not make anyone staff.
            is_staff=claims.get("is_staff") is True,
            is_superuser=claims.get("is_superuser") is True,
            # The token is accepted until exp + leeway (RFC 7519 §4.1.4), so that is when it expires here.
            expires_at=None if exp is None else float(exp) + self.leeway,
        )

    def decode(self, token: str) -> dict[str, Any]:
        """The verified claims of ``token``; ``AuthenticationFailed`` with a fixed reason if not."""
        jwt = self._jwt
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": self.require},
            )
        except jwt.PyJWTError as error:
            # "from None": PyJWT's messages stay out of tracebacks and logs, as do the token's bytes.
            raise _invalid(_reason(jwt, error)) from None
        except (ValueError, TypeError):
            # Defence in depth: a header shaped in a way PyJWT does not wrap.
            raise _invalid("malformed token") from None
        for claim in TIME_CLAIMS:
            if claim in claims and not _is_numeric_date(claims[claim]):
                raise _invalid(f"token's {claim} claim is not a date")
        return claims

    def _public_key(self, key: Any) -> Any:
        """Parse a PEM once here rather than on every handshake, and refuse a private key."""
        algorithm = self._jwt.algorithms.get_default_algorithms()[self.algorithms[0]]
        try:
            prepared = algorithm.prepare_key(key)
        except (self._jwt.PyJWTError, ValueError, TypeError) as error:
            wanted = f"a {self.key_type} public key usable with {self.algorithms[0]}"
            raise ValueError(f"public_key is not {wanted}") from error
        if hasattr(prepared, "private_bytes"):
            raise ValueError("public_key is a private key: the server verifies with the public key only")
        return prepared

    def __repr__(self) -> str:
        # The key never appears in a repr.
        return f"JWTAuthentication(algorithms={self.algorithms!r}, sources={self.tokens.sources!r})"


def _check_algorithms(algorithms: Sequence[str], jwt: Any) -> list[str]:
    if isinstance(algorithms, str):
        raise TypeError('algorithms is a list of names: algorithms=["HS256"]')
    names = list(algorithms)
    if not names:
        raise ValueError("algorithms must name at least one algorithm")
    for name in names:
        if name.lower() == "none":
            # RFC 8725 §3.1: an unsigned token proves nothing.
            raise ValueError("the 'none' algorithm is never accepted")
        if name not in KEY_TYPES:
            raise ValueError(f"unknown or unsupported JWT algorithm {name!r}")
        if name not in jwt.algorithms.get_default_algorithms():
            raise ImportError(f"{name} needs the cryptography package: pip install bolt-ws[auth]")
    key_types = {KEY_TYPES[name] for name in names}
    if len(key_types) > 1:
        raise ValueError(
            f"algorithms {names!r} mix key types ({', '.join(sorted(key_types))}): one key cannot verify them all, "
            "and mixing HMAC with public-key algorithms opens algorithm confusion (RFC 8725 §2.1)"
        )
    return names


def _check_secret(secret: str | bytes, algorithms: Sequence[str], jwt: Any) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if key.lstrip().startswith((b"-----BEGIN", b"ssh-", b"ecdsa-")):
        # A public key as an HMAC secret is the algorithm confusion itself (RFC 8725 §2.1).
        raise ConfigurationError("the JWT secret looks like a PEM or SSH key: use public_key= with RS*/ES*/EdDSA")
    needed = max(HMAC_MIN_BYTES[name] for name in algorithms)
    if len(key) < needed:
        raise ConfigurationError(
            f"the JWT secret is {len(key)} bytes; {', '.join(algorithms)} need at least {needed} (RFC 7518 §3.2)"
        )
    try:
        # Whatever else PyJWT would refuse as an HMAC key on every handshake, refused once, here.
        jwt.algorithms.get_default_algorithms()[algorithms[0]].prepare_key(key)
    except jwt.PyJWTError as error:
        raise ConfigurationError(f"PyJWT refuses this JWT secret as an HMAC key: {type(error).__name__}") from None
    return key


def _is_numeric_date(value: Any) -> bool:
    """A NumericDate is seconds since the epoch (RFC 7519 §2). PyJWT takes any integer, but one
    past a float's range (10**400 in the JSON) is no date, and would overflow ``float(exp)``."""
    try:
        return math.isfinite(float(value))
    except (OverflowError, ValueError, TypeError):
        return False


def _permissions(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset(value.split())  # an OAuth scope: space-separated (RFC 8693 §4.2)
    if isinstance(value, (list, tuple)):
        return frozenset(item for item in value if isinstance(item, str))
    return frozenset()


def _invalid(reason: str) -> AuthenticationFailed:
    return AuthenticationFailed(reason, challenge=bearer_challenge("invalid_token", reason))


def _reason(jwt: Any, error: Exception) -> str:
    """A fixed text for each way a token fails; subclasses before their bases."""
    errors = jwt.exceptions
    if isinstance(error, errors.ExpiredSignatureError):
        return "token expired"
    if isinstance(error, errors.ImmatureSignatureError):
        return "token not yet valid"
    if isinstance(error, errors.InvalidAudienceError):
        return "token audience not accepted"
    if isinstance(error, errors.InvalidIssuerError):
        return "token issuer not accepted"
    if isinstance(error, errors.MissingRequiredClaimError):
        # The claim's name comes from this server's configuration, not from the token.
        return f"token lacks the required claim {error.claim!r}"
    if isinstance(error, errors.InvalidAlgorithmError):
        return "token algorithm not allowed"
    if isinstance(error, errors.InvalidSignatureError):
        return "invalid token signature"
    if isinstance(error, errors.DecodeError):
        return "malformed token"
    if isinstance(error, getattr(errors, "InvalidSubjectError", ())):
        return SUB_NOT_A_STRING
    return "invalid token"
