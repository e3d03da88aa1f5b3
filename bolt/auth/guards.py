"""Guards: decide, once a backend has filled ``websocket.context``, whether the client may connect.

Every guard of a route must pass, in order. A guard that finds no authenticated user refuses with
401 / 4001 (the client should authenticate); one that finds a user without the right refuses with
403 / 4003 (authenticating again would not help). Writing your own::

    class IsRoomMember(BaseGuard):
        message = "not a member of this room"

        async def has_permission(self, websocket):
            return await rooms.is_member(websocket.path_params["room_id"], websocket.context["user_id"])

``has_permission`` may be a plain ``def`` or an ``async def``; a false result is a 403 with
``message``, and raising ``AuthenticationFailed`` or ``PermissionDenied`` chooses the answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bolt.auth.base import AuthenticationFailed, BaseGuard

if TYPE_CHECKING:
    from bolt.websocket import WebSocket

__all__ = [
    "AllowAny",
    "HasAllPermissions",
    "HasAnyPermission",
    "HasPermission",
    "IsAdminUser",
    "IsAuthenticated",
]


def _require_user(websocket: WebSocket) -> dict[str, Any]:
    context = websocket.context
    if context.get("user_id") is None:
        raise AuthenticationFailed("authentication required")
    return context


class AllowAny(BaseGuard):
    """Lets everyone in (a route that wants to say so explicitly)."""

    def has_permission(self, websocket: WebSocket) -> bool:
        return True


class IsAuthenticated(BaseGuard):
    """A backend authenticated the client: ``context["user_id"]`` is set. 401 / 4001 otherwise."""

    def has_permission(self, websocket: WebSocket) -> bool:
        _require_user(websocket)
        return True


class IsAdminUser(BaseGuard):
    """Staff or superuser (``is_staff`` or ``is_superuser`` true in the context)."""

    message = "administrators only"

    def has_permission(self, websocket: WebSocket) -> bool:
        context = _require_user(websocket)
        return context.get("is_staff") is True or context.get("is_superuser") is True


class _PermissionGuard(BaseGuard):
    def __init__(self, *permissions: str) -> None:
        if not permissions or not all(isinstance(name, str) and name for name in permissions):
            raise ValueError(f"{type(self).__name__} needs one or more permission names")
        self.permissions = frozenset(permissions)

    def _granted(self, websocket: WebSocket) -> frozenset[str]:
        return frozenset(_require_user(websocket).get("permissions") or ())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, sorted(self.permissions)))})"


class HasPermission(_PermissionGuard):
    """The context's ``permissions`` include this one."""

    def __init__(self, permission: str) -> None:
        super().__init__(permission)
        self.permission = permission

    def has_permission(self, websocket: WebSocket) -> bool:
        return self.permission in self._granted(websocket)


class HasAnyPermission(_PermissionGuard):
    """The context's ``permissions`` include at least one of these."""

    def has_permission(self, websocket: WebSocket) -> bool:
        return not self.permissions.isdisjoint(self._granted(websocket))


class HasAllPermissions(_PermissionGuard):
    """The context's ``permissions`` include every one of these."""

    def has_permission(self, websocket: WebSocket) -> bool:
        return self.permissions <= self._granted(websocket)
