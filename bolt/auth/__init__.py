"""Authentication and guards for WebSocket routes, decided before the upgrade.

    from bolt.auth import JWTAuthentication, IsAuthenticated

    @api.websocket("/ws/protected", auth=[JWTAuthentication()], guards=[IsAuthenticated()])
    async def protected(websocket: WebSocket):
        user_id = websocket.context.get("user_id")

Backends (``JWTAuthentication``, ``APIKeyAuthentication``, or your own) are tried in order; the first
that accepts fills ``websocket.context``. Guards then all must pass. See docs/auth.md.

``JWTAuthentication`` needs PyJWT (``pip install bolt-ws[auth]``); it is imported when the first
``JWTAuthentication`` is made, so the rest of bolt.auth works without it.
"""

from bolt.auth.api_key import APIKeyAuthentication
from bolt.auth.base import (
    AuthBackend,
    AuthenticationFailed,
    BaseGuard,
    ConfigurationError,
    Guard,
    PermissionDenied,
    TokenTooLarge,
    identity,
)
from bolt.auth.guards import (
    AllowAny,
    HasAllPermissions,
    HasAnyPermission,
    HasPermission,
    IsAdminUser,
    IsAuthenticated,
)
from bolt.auth.jwt import JWTAuthentication

__all__ = [
    "APIKeyAuthentication",
    "AllowAny",
    "AuthBackend",
    "AuthenticationFailed",
    "BaseGuard",
    "ConfigurationError",
    "Guard",
    "HasAllPermissions",
    "HasAnyPermission",
    "HasPermission",
    "IsAdminUser",
    "IsAuthenticated",
    "JWTAuthentication",
    "PermissionDenied",
    "TokenTooLarge",
    "identity",
]
