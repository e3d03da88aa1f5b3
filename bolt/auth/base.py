"""What a backend and a guard are, the context they fill, and the errors that refuse a connection.

A backend has ``authenticate(websocket)`` (sync or async). It returns ``None`` when the client
brought no credentials it knows (the next backend is tried), a dict for ``websocket.context`` when
they are good (``identity()`` builds one), or raises ``AuthenticationFailed`` when they are there
but bad. It may have ``prepare(api)``, which the server calls before it listens: configuration read
from the environment is resolved there, and an exception refuses to start.

A guard has ``has_permission(websocket)`` (sync or async) returning a truth value. False refuses
with 403 (or close 4003) and the guard's ``message``; a guard may raise ``AuthenticationFailed`` or
``PermissionDenied`` itself to choose the answer.

Errors map to both answers a refusal can take: the HTTP status of a refused upgrade, and the close
code of an accepted-then-closed connection (for browsers, which cannot read the status)::

    AuthenticationFailed   401 / 4001   missing or bad credentials (RFC 7235 §3.1, RFC 6750 §3)
    ├── TokenTooLarge      431 or 400 / 4001   refused before any parsing
    └── PermissionDenied   403 / 4003   authenticated, but a guard said no

A reason is a fixed text chosen by bolt or by the application's configuration: never the token, a
key, a secret, or any part of what the client sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from bolt.exceptions import ConfigurationError

if TYPE_CHECKING:
    from bolt.websocket import WebSocket

__all__ = [
    "AuthBackend",
    "AuthenticationFailed",
    "BaseGuard",
    "ConfigurationError",
    "Guard",
    "PermissionDenied",
    "TokenTooLarge",
    "identity",
]

# RFC 6455 §7.4.2 leaves 4000-4999 to applications; these two echo 401 and 403.
CLOSE_UNAUTHORIZED = 4001
CLOSE_FORBIDDEN = 4003


class AuthenticationFailed(Exception):
    """Credentials are missing or bad: 401 before the upgrade, or close 4001 after accepting.

    ``challenge`` is the ``WWW-Authenticate`` value of the 401 (RFC 7235 §4.1 requires one).
    """

    status = 401
    close_code = CLOSE_UNAUTHORIZED

    def __init__(
        self,
        reason: str = "authentication required",
        *,
        status: int | None = None,
        close_code: int | None = None,
        challenge: str | None = "Bearer",
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        if status is not None:
            self.status = status
        if close_code is not None:
            self.close_code = close_code
        self.challenge = challenge

    @property
    def headers(self) -> list[tuple[str, str]]:
        """The header fields of the HTTP refusal."""
        if self.status == 401 and self.challenge:
            return [("WWW-Authenticate", self.challenge)]
        return []

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason!r}, status={self.status}, close_code={self.close_code})"


class TokenTooLarge(AuthenticationFailed):
    """A credential longer than the backend accepts, refused before it is parsed or compared.

    431 when it came in a header field (RFC 6585 §5), 400 when in the query string. The HTTP layer
    already answers 431 to a header block over ``max_header_bytes`` (16 KiB) before any of this runs.
    """

    def __init__(self, in_header: bool, reason: str = "credential too large") -> None:
        super().__init__(reason, status=431 if in_header else 400, challenge=None)


class PermissionDenied(AuthenticationFailed):
    """Authenticated, but not allowed: 403 before the upgrade, or close 4003 after accepting."""

    status = 403
    close_code = CLOSE_FORBIDDEN

    def __init__(self, reason: str = "permission denied") -> None:
        super().__init__(reason, challenge=None)


@runtime_checkable
class AuthBackend(Protocol):
    """Optional attributes: ``reads_cookies`` (true for a backend that may authenticate by a
    cookie: its routes then need an Origin allow-list), ``prepare(api)``, ``challenge``."""

    def authenticate(self, websocket: WebSocket) -> Any:
        """``None``, a context dict, or an awaitable of either; raises ``AuthenticationFailed``."""


@runtime_checkable
class Guard(Protocol):
    def has_permission(self, websocket: WebSocket) -> Any:
        """A truth value, or an awaitable of one."""


class BaseGuard:
    """A convenient base for guards: override ``has_permission`` (``def`` or ``async def``).

    ``message`` is the reason of the 403 / 4003 when ``has_permission`` returns a false value.
    """

    message = "permission denied"

    def has_permission(self, websocket: WebSocket) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def identity(
    user_id: Any,
    backend: str,
    *,
    claims: Mapping[str, Any] | None = None,
    permissions: Iterable[str] = (),
    is_staff: bool = False,
    is_superuser: bool = False,
    expires_at: float | None = None,
) -> dict[str, Any]:
    """The context a successful backend returns: every key the guards and handlers rely on.

    ``expires_at`` (seconds since the epoch) is when the credential stops being accepted; with
    ``close_at_expiry`` the connection is closed with 4001 then.
    """
    return {
        "user_id": user_id,
        "claims": dict(claims or {}),
        "auth_backend": backend,
        "permissions": frozenset(permissions),
        "is_staff": is_staff,
        "is_superuser": is_superuser,
        "expires_at": expires_at,
    }


def complete_context(context: dict[str, Any], backend: Any) -> None:
    """Fill what a backend's own dict left out (the minimal contract returns any keys it likes),
    so guards and handlers find every key. ``auth_backend`` defaults to the backend's class name."""
    context.setdefault("user_id", None)
    context.setdefault("claims", {})
    context.setdefault("auth_backend", type(backend).__name__)
    permissions = context.get("permissions") or ()
    context["permissions"] = frozenset(permissions.split() if isinstance(permissions, str) else permissions)
    context.setdefault("is_staff", False)
    context.setdefault("is_superuser", False)
    context.setdefault("expires_at", None)
