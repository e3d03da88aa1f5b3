"""APIKeyAuthentication: keys from a header or a query parameter, permissions per key, constant
time comparison, and the same refusals as tokens (missing, bad, empty, disagreeing, oversized)."""

from __future__ import annotations

import hmac
import json
import logging

import pytest

from bolt import BoltAPI, WebSocket
from bolt.auth import APIKeyAuthentication, IsAuthenticated
from bolt.testing import TestClient
from tests.test_auth_support import leaked_in, leaks, outcome

KEYS = {"k-reader-5f2a9c7e1d": ["feed.read"], "k-writer-0b8e6f4a3c": ["feed.read", "feed.write"]}

api = BoltAPI()


def route(path: str, backend: APIKeyAuthentication, **options) -> None:
    @api.websocket(path, auth=[backend], guards=[IsAuthenticated()], **options)
    async def handler(websocket: WebSocket):
        await websocket.accept()
        context = dict(websocket.context)
        context["permissions"] = sorted(context["permissions"])
        await websocket.send_text(json.dumps(context))


route("/header", APIKeyAuthentication(KEYS))
route("/header-close", APIKeyAuthentication(KEYS), auth_failure="close")
route("/both", APIKeyAuthentication(KEYS, query_param="api_key"))
route("/query", APIKeyAuthentication(["plain-key-1234567"], header=None, query_param="key"))
route("/custom-header", APIKeyAuthentication(KEYS, header="Authorization-Key"))


@pytest.fixture(scope="module")
def client():
    with TestClient(api) as client:
        yield client


def test_key_in_the_header_grants_its_permissions(client):
    result = outcome(client, "/header", [("X-API-Key", "k-writer-0b8e6f4a3c")])
    context = json.loads(result.text)
    assert context["auth_backend"] == "api_key"
    assert context["permissions"] == ["feed.read", "feed.write"]
    assert context["user_id"].startswith("api-key:")
    assert "k-writer" not in result.text  # the key itself never enters the context
    reader = json.loads(outcome(client, "/header", [("X-API-Key", "k-reader-5f2a9c7e1d")]).text)
    assert reader["permissions"] == ["feed.read"] and reader["user_id"] != context["user_id"]


def test_key_without_permissions(client):
    context = json.loads(outcome(client, "/query?key=plain-key-1234567").text)
    assert context["permissions"] == [] and context["is_staff"] is False


def test_query_parameter_only_when_configured(client):
    assert outcome(client, "/header?api_key=k-reader-5f2a9c7e1d").code == 401
    assert outcome(client, "/both?api_key=k-reader-5f2a9c7e1d").kind == "open"


def test_custom_header(client):
    assert outcome(client, "/custom-header", [("Authorization-Key", "k-reader-5f2a9c7e1d")]).kind == "open"


@pytest.mark.parametrize(
    "path, headers, status, reason",
    [
        ("/header", [], 401, "authentication required"),
        ("/header", [("X-API-Key", "k-reader-5f2a9c7e1X")], 401, "invalid API key"),
        ("/header", [("X-API-Key", "")], 401, "empty API key"),
        ("/header", [("X-API-Key", "k-reader-5f2a9c7e1d"), ("X-API-Key", "k-writer-0b8e6f4a3c")], 401,
         "API key given in several places that disagree"),
        ("/both?api_key=k-writer-0b8e6f4a3c", [("X-API-Key", "k-reader-5f2a9c7e1d")], 401,
         "API key given in several places that disagree"),
        ("/header", [("X-API-Key", "k" * 300)], 431, "API key too large"),
        ("/query?key=" + "k" * 300, [], 400, "API key too large"),
    ],
    ids=["missing", "wrong", "empty", "two headers", "header+query", "huge header", "huge query"],
)
def test_refusals(client, caplog, path, headers, status, reason):
    caplog.set_level(logging.DEBUG)
    result = outcome(client, path, headers)
    assert (result.kind, result.code, result.text) == ("refused", status, reason)
    if status == 401:
        challenge = dict(result.headers)["WWW-Authenticate"]
        assert challenge.startswith("APIKey")
    sent = [value for _, value in headers] + [path.partition("=")[2]]
    assert leaks(result, *sent) == []
    assert leaked_in(caplog.text, *KEYS, *sent) == []


def test_close_mode(client):
    result = outcome(client, "/header-close", [("X-API-Key", "nope-nope-nope")])
    assert (result.kind, result.code, result.text) == ("closed", 4001, "invalid API key")


def test_every_key_is_compared_in_constant_time(monkeypatch):
    """One compare_digest per stored key, whether the first matches, the last, or none."""
    keys = [f"key-number-{n:04d}" for n in range(5)]
    backend = APIKeyAuthentication(keys)
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)

    class FakeWebSocket:
        def __init__(self, key):
            from bolt.protocol.http import Headers

            self.headers = Headers([("X-API-Key", key)])
            self.query_params = {}

    for presented in (keys[0], keys[-1], "wrong-key-entirely"):
        calls.clear()
        try:
            backend.authenticate(FakeWebSocket(presented))
        except Exception:
            pass
        assert calls == [(32, 32)] * len(keys)  # SHA-256 digests: one length, whatever was sent


@pytest.mark.parametrize(
    "args, kwargs, error",
    [
        ([[]], {}, ValueError),
        ([{}], {}, ValueError),
        ([[""]], {}, ValueError),
        ([{"k": "read"}], {}, TypeError),
        ([["k"]], {"header": None}, ValueError),
    ],
)
def test_refused_configurations(args, kwargs, error):
    with pytest.raises(error):
        APIKeyAuthentication(*args, **kwargs)


def test_repr_never_shows_a_key():
    assert "k-reader" not in repr(APIKeyAuthentication(KEYS))
