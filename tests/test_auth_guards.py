"""Guards (built in and your own, sync and async), backends tried in order, API defaults overridden
per route, the minimal backend contract, and what reaches the logs."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from bolt import BoltAPI, WebSocket
from bolt.auth import (
    AllowAny,
    APIKeyAuthentication,
    AuthenticationFailed,
    BaseGuard,
    HasAllPermissions,
    HasAnyPermission,
    HasPermission,
    IsAdminUser,
    IsAuthenticated,
    JWTAuthentication,
    PermissionDenied,
)
from bolt.testing import TestClient
from tests.test_auth_support import AUDIENCE, ISSUER, SECRET, hs256, leaked_in, outcome


class Context:
    """Just what a guard looks at."""

    def __init__(self, **context):
        self.context = context


def user(**extra):
    return Context(user_id="42", permissions=frozenset(extra.pop("permissions", ())), **extra)


# The built-in guards, on their own.


def test_allow_any():
    assert AllowAny().has_permission(Context()) is True


def test_is_authenticated():
    assert IsAuthenticated().has_permission(user()) is True
    with pytest.raises(AuthenticationFailed) as refused:
        IsAuthenticated().has_permission(Context())
    assert (refused.value.status, refused.value.close_code) == (401, 4001)


@pytest.mark.parametrize(
    "context, allowed",
    [({"is_staff": True}, True), ({"is_superuser": True}, True), ({}, False), ({"is_staff": "yes"}, False)],
)
def test_is_admin_user(context, allowed):
    assert IsAdminUser().has_permission(user(**context)) is allowed


def test_permission_guards():
    reader = user(permissions={"read"})
    both = user(permissions={"read", "write"})
    assert HasPermission("read").has_permission(reader)
    assert not HasPermission("write").has_permission(reader)
    assert HasAnyPermission("write", "read").has_permission(reader)
    assert not HasAnyPermission("write", "admin").has_permission(reader)
    assert HasAllPermissions("read", "write").has_permission(both)
    assert not HasAllPermissions("read", "write").has_permission(reader)
    with pytest.raises(AuthenticationFailed):
        HasPermission("read").has_permission(Context(permissions=frozenset({"read"})))  # no user


@pytest.mark.parametrize("guard", [HasPermission, HasAnyPermission, HasAllPermissions])
def test_permission_guards_need_names(guard):
    with pytest.raises((ValueError, TypeError)):
        guard() if guard is not HasPermission else guard("")


# End to end.

KEYS = {"reader-key-123456": ["read"], "writer-key-123456": ["read", "write"]}
API_KEY = APIKeyAuthentication(KEYS)
JWT = JWTAuthentication(SECRET, audience=AUDIENCE, issuer=ISSUER)


class IsRoomMember(BaseGuard):
    """An async guard, as docs/auth.md shows it."""

    message = "not a member of this room"

    async def has_permission(self, websocket):
        await asyncio.sleep(0)
        return websocket.path_params["room"] in websocket.context["claims"].get("rooms", [])


class NotOnSundays:
    """A guard that is no BaseGuard: a sync method and no message."""

    def has_permission(self, websocket):
        return websocket.query_params.get("day") != "sunday"


class Banned(BaseGuard):
    def has_permission(self, websocket):
        if websocket.context["user_id"] == "666":
            raise PermissionDenied("banned")
        return True


class Boom(BaseGuard):
    def has_permission(self, websocket):
        raise RuntimeError("guard bug")


class MinimalBackend:
    """Today's minimal contract: a dict with whatever keys, or None."""

    def authenticate(self, websocket):
        if websocket.headers.get("X-User"):
            return {"user_id": websocket.headers.get("X-User")}
        return None


class AsyncBackend:
    name = "async"

    async def authenticate(self, websocket):
        await asyncio.sleep(0)
        if websocket.query_params.get("magic") == "yes":
            return {"user_id": "magician", "permissions": ["tricks"], "auth_backend": "async"}
        return None


class BrokenBackend:
    def authenticate(self, websocket):
        raise RuntimeError("backend bug")


api = BoltAPI(auth=[JWT], guards=[IsAuthenticated()])


def route(path, **options):
    @api.websocket(path, **options)
    async def handler(websocket: WebSocket):
        await websocket.accept()
        context = dict(websocket.context)
        context["permissions"] = sorted(context.get("permissions", ()))
        await websocket.send_text(json.dumps(context))


route("/api-defaults")
route("/open", auth=[], guards=[])
route("/guards-only", auth=[], guards=[IsAuthenticated()])
route("/keys", auth=[API_KEY], guards=[HasPermission("write")])
route("/keys-close", auth=[API_KEY], guards=[HasPermission("write")], auth_failure="close")
route("/any", auth=[API_KEY], guards=[HasAnyPermission("write", "admin")])
route("/all", auth=[API_KEY], guards=[HasAllPermissions("read", "write")])
route("/admin", guards=[IsAdminUser()])
route("/rooms/{room}", guards=[IsAuthenticated(), IsRoomMember(), NotOnSundays(), Banned()])
route("/rooms-close/{room}", guards=[IsAuthenticated(), IsRoomMember()], auth_failure="close")
route("/jwt-or-key", auth=[JWT, API_KEY])
route("/minimal", auth=[MinimalBackend(), AsyncBackend()])
route("/broken", auth=[BrokenBackend()])
route("/boom", guards=[Boom()])


@pytest.fixture(scope="module")
def client():
    with TestClient(api) as client:
        yield client


def context_of(result) -> dict:
    assert result.kind == "open", result
    return json.loads(result.text)


def test_api_defaults_apply(client):
    assert outcome(client, "/api-defaults").code == 401
    assert context_of(outcome(client, f"/api-defaults?token={hs256()}"))["user_id"] == "42"


def test_route_overrides_the_defaults(client):
    assert context_of(outcome(client, "/open")) == {"permissions": []}


def test_guard_without_any_backend_is_401(client):
    result = outcome(client, "/guards-only")
    assert (result.code, result.text) == (401, "authentication required")
    assert ("WWW-Authenticate", "Bearer") in result.headers


def test_permission_refused_is_403_or_4003(client):
    result = outcome(client, "/keys", [("X-API-Key", "reader-key-123456")])
    assert (result.kind, result.code, result.text, result.headers[0][0]) == ("refused", 403, "permission denied", "Content-Type")
    assert "WWW-Authenticate" not in dict(result.headers)
    closed = outcome(client, "/keys-close", [("X-API-Key", "reader-key-123456")])
    assert (closed.kind, closed.code, closed.text) == ("closed", 4003, "permission denied")
    assert outcome(client, "/keys", [("X-API-Key", "writer-key-123456")]).kind == "open"


def test_a_guard_401_names_the_routes_backends(client):
    result = outcome(client, "/keys")
    assert (result.code, dict(result.headers)["WWW-Authenticate"]) == (401, 'APIKey header="X-API-Key"')


def test_any_and_all(client):
    assert outcome(client, "/any", [("X-API-Key", "reader-key-123456")]).code == 403
    assert outcome(client, "/any", [("X-API-Key", "writer-key-123456")]).kind == "open"
    assert outcome(client, "/all", [("X-API-Key", "reader-key-123456")]).code == 403
    assert outcome(client, "/all", [("X-API-Key", "writer-key-123456")]).kind == "open"


def test_admin(client):
    assert outcome(client, f"/admin?token={hs256()}").code == 403
    assert outcome(client, f"/admin?token={hs256(is_staff=True)}").kind == "open"
    assert outcome(client, f"/admin?token={hs256(is_superuser=True)}").kind == "open"


def test_every_guard_must_pass_in_order(client):
    token = hs256(rooms=["lobby"])
    assert outcome(client, f"/rooms/lobby?token={token}").kind == "open"
    result = outcome(client, f"/rooms/cellar?token={token}")  # the async guard says no
    assert (result.code, result.text) == (403, "not a member of this room")
    result = outcome(client, f"/rooms/lobby?token={token}&day=sunday")  # a sync guard without a message
    assert (result.code, result.text) == (403, "permission denied")
    result = outcome(client, f"/rooms/lobby?token={hs256(sub='666', rooms=['lobby'])}")  # a guard that raises
    assert (result.code, result.text) == (403, "banned")
    closed = outcome(client, f"/rooms-close/cellar?token={token}")
    assert (closed.kind, closed.code, closed.text) == ("closed", 4003, "not a member of this room")


def test_backends_are_tried_in_order(client):
    token = hs256()
    both = outcome(client, f"/jwt-or-key?token={token}", [("X-API-Key", "reader-key-123456")])
    assert context_of(both)["auth_backend"] == "jwt"  # the first that accepts wins
    key = outcome(client, "/jwt-or-key", [("X-API-Key", "reader-key-123456")])
    assert context_of(key)["auth_backend"] == "api_key"
    # A bad token does not hide a good key...
    assert context_of(outcome(client, "/jwt-or-key?token=bad.to.ken", [("X-API-Key", "reader-key-123456")]))["auth_backend"] == "api_key"
    # ...and with neither good, the first failure is the answer, with both challenges offered on none.
    result = outcome(client, f"/jwt-or-key?token={hs256(exp=1)}", [("X-API-Key", "nope-nope-nope")])
    assert (result.code, result.text) == (401, "token expired")
    missing = outcome(client, "/jwt-or-key")
    assert dict(missing.headers)["WWW-Authenticate"] == 'Bearer, APIKey header="X-API-Key"'


def test_minimal_and_async_backends_get_a_complete_context(client):
    context = context_of(outcome(client, "/minimal", [("X-User", "alice")]))
    assert context == {
        "user_id": "alice",
        "claims": {},
        "auth_backend": "MinimalBackend",
        "permissions": [],
        "is_staff": False,
        "is_superuser": False,
        "expires_at": None,
    }
    context = context_of(outcome(client, "/minimal?magic=yes"))
    assert (context["auth_backend"], context["permissions"]) == ("async", ["tricks"])


@pytest.mark.parametrize("path", ["/broken", "/boom"])
def test_a_buggy_backend_or_guard_is_a_500_that_logs_no_token(client, caplog, path):
    token = hs256()
    caplog.set_level(logging.DEBUG)
    result = outcome(client, f"{path}?token={token}", [("Authorization", f"Bearer {token}")])
    assert (result.kind, result.code) == ("refused", 500)
    assert "bug" not in result.text
    for _ in range(50):
        if "unhandled error" in caplog.text:
            break
        asyncio.run(asyncio.sleep(0.02))
    assert "unhandled error in the application for <Request GET " in caplog.text
    assert leaked_in(caplog.text, token) == []


def test_refusals_are_logged_with_the_path_only(client, caplog):
    token = hs256(exp=1)
    caplog.set_level(logging.INFO, logger="bolt")
    outcome(client, f"/api-defaults?token={token}")
    for _ in range(50):
        if "refused /api-defaults: token expired (401)" in caplog.text:
            break
        asyncio.run(asyncio.sleep(0.02))
    assert "refused /api-defaults: token expired (401)" in caplog.text
    assert leaked_in(caplog.text, token) == []


def test_auth_failure_mode_is_checked():
    with pytest.raises(ValueError):
        BoltAPI(auth_failure="ignore")
    with pytest.raises(ValueError):
        BoltAPI().websocket("/x", auth_failure="drop")
