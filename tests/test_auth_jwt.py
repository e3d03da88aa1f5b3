"""JWTAuthentication end to end: every bad token of issue 5, made by PyJWT (HS256, RS256, ES256
with keys generated here), refused with its documented status or close code, and a reason that
leaks neither the token nor the key; good tokens fill the context."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest

from bolt import BoltAPI, WebSocket
from bolt.auth import ConfigurationError, IsAuthenticated, JWTAuthentication
from bolt.testing import TestClient
from tests.test_auth_support import (
    AUDIENCE,
    ISSUER,
    OTHER_SECRET,
    SECRET,
    claims,
    ec_key,
    ed_key,
    forge_hs256,
    forge_hs256_text,
    hs256,
    leaked_in,
    leaks,
    outcome,
    public_pem,
    rsa_key,
)

RSA, RSA_OTHER = rsa_key(), rsa_key()
EC, EC_OTHER = ec_key(), ec_key()
ED = ed_key()
MODES = ["refuse", "close"]
ROOT = Path(__file__).resolve().parent.parent

api = BoltAPI()


def protected_routes(prefix: str, backend: JWTAuthentication) -> None:
    for mode in MODES:

        @api.websocket(f"/{prefix}/{mode}", auth=[backend], guards=[IsAuthenticated()], auth_failure=mode)
        async def handler(websocket: WebSocket):
            await websocket.accept()
            context = dict(websocket.context)
            context["permissions"] = sorted(context["permissions"])
            await websocket.send_text(json.dumps(context))


protected_routes("hs", JWTAuthentication(SECRET, audience=AUDIENCE, issuer=ISSUER))
protected_routes("uid", JWTAuthentication(SECRET, audience=AUDIENCE, issuer=ISSUER, user_claim="uid"))
protected_routes("rs", JWTAuthentication(algorithms=["RS256"], public_key=public_pem(RSA), audience=AUDIENCE, issuer=ISSUER))
protected_routes("es", JWTAuthentication(algorithms=["ES256"], public_key=EC.public_key(), audience=AUDIENCE, issuer=ISSUER))
protected_routes("ed", JWTAuthentication(algorithms=["EdDSA"], public_key=public_pem(ED), audience=AUDIENCE, issuer=ISSUER))


@pytest.fixture(scope="module")
def client():
    with TestClient(api) as client:
        yield client


def expect_refusal(result, mode: str, reason: str, status: int = 401, close_code: int = 4001) -> None:
    if mode == "refuse":
        assert (result.kind, result.code, result.text) == ("refused", status, reason)
    else:
        assert (result.kind, result.code, result.text) == ("closed", close_code, reason)


# name -> (token maker, reason); every token here is refused by the HS256 route.
BAD_HS256 = {
    "alg none": (lambda: jwt.encode(claims(), None, algorithm="none"), "token algorithm not allowed"),
    "algorithm outside the allowed list": (lambda: hs256(algorithm="HS512"), "token algorithm not allowed"),
    "bad signature": (lambda: hs256(OTHER_SECRET), "invalid token signature"),
    "expired": (lambda: hs256(exp=int(time.time()) - 60), "token expired"),
    "not yet valid (nbf)": (lambda: hs256(nbf=int(time.time()) + 300), "token not yet valid"),
    "issued in the future (iat)": (lambda: hs256(iat=int(time.time()) + 300), "token not yet valid"),
    "wrong audience": (lambda: hs256(aud="someone-else"), "token audience not accepted"),
    "no audience": (lambda: hs256(aud=None), "token lacks the required claim 'aud'"),
    "wrong issuer": (lambda: hs256(iss="https://evil.example"), "token issuer not accepted"),
    "missing exp": (lambda: hs256(exp=None), "token lacks the required claim 'exp'"),
    "missing sub": (lambda: hs256(sub=None), "token lacks the required claim 'sub'"),
    "malformed: three garbage segments": (lambda: "not-a.real-jwt.at-all", "malformed token"),
    "malformed: no dots": (lambda: "eyJhbGciOiJIUzI1NiJ9eyJzdWIiOiI0MiJ9", "malformed token"),
    "malformed: payload not JSON": (lambda: forge_hs256_text("not json", SECRET.encode()), "malformed token"),
    "malformed: exp not a number": (lambda: hs256(exp="tomorrow"), "malformed token"),
    "sub not a string": (lambda: hs256(sub=42), "token's sub claim is not a string"),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", list(BAD_HS256))
def test_bad_hs256_token_is_refused_without_leaking(client, caplog, mode, case):
    make, reason = BAD_HS256[case]
    token = make()
    caplog.set_level(logging.DEBUG)
    result = outcome(client, f"/hs/{mode}?token={token}")
    expect_refusal(result, mode, reason)
    if mode == "refuse":
        assert ("WWW-Authenticate", f'Bearer error="invalid_token", error_description="{reason}"') in result.headers
    assert leaks(result, token, SECRET) == []
    assert leaked_in(caplog.text, token, SECRET) == []


def test_good_hs256_token_fills_the_context(client):
    token = hs256(permissions=["chat.read", "chat.write"], is_staff=True, is_superuser="true")
    result = outcome(client, "/hs/refuse", headers=[("Authorization", f"Bearer {token}")])
    assert result.kind == "open"
    context = json.loads(result.text)
    assert context["user_id"] == "42"
    assert context["auth_backend"] == "jwt"
    assert context["permissions"] == ["chat.read", "chat.write"]
    assert context["is_staff"] is True
    assert context["is_superuser"] is False  # only a JSON true counts, not the string "true"
    assert context["claims"]["aud"] == AUDIENCE and context["claims"]["sub"] == "42"
    assert context["expires_at"] == context["claims"]["exp"]


def test_scope_string_gives_permissions(client):
    result = outcome(client, f"/hs/refuse?token={hs256(permissions='read write')}")
    assert json.loads(result.text)["permissions"] == ["read", "write"]


@pytest.mark.parametrize("mode", MODES)
def test_user_claim_of_another_type_is_refused(client, mode):
    token = hs256(uid={"id": 7})
    expect_refusal(outcome(client, f"/uid/{mode}?token={token}"), mode, "token's user claim is not a string or an integer")


def test_user_claim_is_configurable_and_may_be_an_integer(client):
    result = outcome(client, f"/uid/refuse?token={hs256(uid=7)}")
    assert json.loads(result.text)["user_id"] == 7
    # The user claim is always required.
    expect_refusal(outcome(client, f"/uid/refuse?token={hs256()}"), "refuse", "token lacks the required claim 'uid'")


# Public-key algorithms: the same refusals, plus the algorithm confusion.


def rs256(key=RSA, **overrides):
    return jwt.encode(claims(**overrides), key, algorithm="RS256")


def es256(key=EC, **overrides):
    return jwt.encode(claims(**overrides), key, algorithm="ES256")


BAD_PUBLIC_KEY = {
    ("rs", "bad signature (another RSA key)"): (lambda: rs256(RSA_OTHER), "invalid token signature"),
    ("rs", "alg none"): (lambda: jwt.encode(claims(), None, algorithm="none"), "token algorithm not allowed"),
    ("rs", "HS256 signed with the RSA public key"): (lambda: forge_hs256(claims(), public_pem(RSA)), "token algorithm not allowed"),
    ("rs", "ES256 token"): (lambda: es256(), "token algorithm not allowed"),
    ("rs", "expired"): (lambda: rs256(exp=int(time.time()) - 60), "token expired"),
    ("rs", "wrong audience"): (lambda: rs256(aud="other"), "token audience not accepted"),
    ("rs", "malformed"): (lambda: "a.b.c", "malformed token"),
    ("es", "bad signature (another EC key)"): (lambda: es256(EC_OTHER), "invalid token signature"),
    ("es", "alg none"): (lambda: jwt.encode(claims(), None, algorithm="none"), "token algorithm not allowed"),
    ("es", "HS256 signed with the EC public key"): (lambda: forge_hs256(claims(), public_pem(EC)), "token algorithm not allowed"),
    ("es", "RS256 token"): (lambda: rs256(), "token algorithm not allowed"),
    ("es", "not yet valid"): (lambda: es256(nbf=int(time.time()) + 300), "token not yet valid"),
    ("es", "wrong issuer"): (lambda: es256(iss="https://evil.example"), "token issuer not accepted"),
    ("es", "missing exp"): (lambda: es256(exp=None), "token lacks the required claim 'exp'"),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", list(BAD_PUBLIC_KEY), ids=lambda case: f"{case[0]}-{case[1]}")
def test_bad_public_key_token_is_refused_without_leaking(client, caplog, mode, case):
    make, reason = BAD_PUBLIC_KEY[case]
    token = make()
    caplog.set_level(logging.DEBUG)
    result = outcome(client, f"/{case[0]}/{mode}", headers=[("Authorization", f"Bearer {token}")])
    expect_refusal(result, mode, reason)
    assert leaks(result, token) == []
    assert leaked_in(caplog.text, token) == []


@pytest.mark.parametrize(
    "prefix, token",
    [
        ("rs", lambda: rs256()),
        ("es", lambda: es256()),
        ("ed", lambda: jwt.encode(claims(), ED, algorithm="EdDSA")),
    ],
)
def test_good_public_key_tokens(client, prefix, token):
    result = outcome(client, f"/{prefix}/refuse?token={token()}")
    assert result.kind == "open"
    assert json.loads(result.text)["user_id"] == "42"


# Empty, disagreeing and oversized tokens.


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "where",
    [
        {"path": "?token="},
        {"headers": [("Authorization", "Bearer")]},
        {"headers": [("Authorization", "Bearer   ")]},
        {"subprotocols": ["bearer"]},
    ],
    ids=["query", "header", "header-spaces", "subprotocol"],
)
def test_empty_token(client, mode, where):
    result = outcome(client, f"/hs/{mode}{where.get('path', '')}", where.get("headers", ()), where.get("subprotocols", ()))
    expect_refusal(result, mode, "empty token")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("where", ["header+query", "query twice", "header twice", "query+subprotocol"])
def test_tokens_that_disagree(client, caplog, mode, where):
    first, second = hs256(), hs256(sub="43")
    caplog.set_level(logging.DEBUG)
    path, headers, subprotocols = f"/hs/{mode}", [], []
    if where == "header+query":
        headers, path = [("Authorization", f"Bearer {first}")], f"{path}?token={second}"
    elif where == "query twice":
        path = f"{path}?token={first}&token={second}"
    elif where == "header twice":
        headers = [("Authorization", f"Bearer {first}"), ("Authorization", f"Bearer {second}")]
    else:
        path, subprotocols = f"{path}?token={first}", ["bearer", second]
    result = outcome(client, path, headers, subprotocols)
    expect_refusal(result, mode, "token given in several places that disagree")
    assert leaks(result, first, second) == []
    assert leaked_in(caplog.text, first, second) == []


def test_tokens_that_agree_are_accepted(client):
    token = hs256()
    result = outcome(client, f"/hs/refuse?token={token}", [("Authorization", f"Bearer {token}")], ["bearer", token])
    assert result.kind == "open"


@pytest.fixture
def decode_calls(monkeypatch):
    """Every call PyJWT gets, so a test can show an oversized token was never parsed."""
    calls = []
    real = jwt.decode

    def spy(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", spy)
    return calls


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "where, status",
    [("query", 400), ("header", 431), ("subprotocol", 431)],
)
def test_huge_token_refused_before_parsing(client, decode_calls, mode, where, status):
    token = hs256(padding="x" * 9000)  # a real, valid signature, over the 8 KiB default limit
    assert 8192 < len(token) < 14000
    path, headers, subprotocols = f"/hs/{mode}", [], []
    if where == "query":
        path += f"?token={token}"
    elif where == "header":
        headers = [("Authorization", f"Bearer {token}")]
    else:
        subprotocols = ["bearer", token]
    result = outcome(client, path, headers, subprotocols)
    expect_refusal(result, mode, "token too large", status=status)
    assert decode_calls == []
    assert leaks(result, token) == []


@pytest.mark.parametrize("mode", MODES)
def test_token_over_the_header_limit_is_431_from_the_http_layer(client, decode_calls, mode):
    token = hs256(padding="x" * 20000)
    result = outcome(client, f"/hs/{mode}", [("Authorization", f"Bearer {token}")])
    # Larger than max_header_bytes (16 KiB): refused while the request is read, in either mode.
    assert (result.kind, result.code) == ("refused", 431)
    assert decode_calls == []
    assert leaks(result, token) == []


def test_max_token_length_is_configurable():
    api = BoltAPI()

    @api.websocket("/small", auth=[JWTAuthentication(SECRET, audience=AUDIENCE, issuer=ISSUER, max_token_length=100)])
    async def small(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_text("in")

    with TestClient(api) as client:
        assert outcome(client, f"/small?token={hs256()}").code == 400


def test_missing_token_is_401_with_a_bare_challenge(client):
    result = outcome(client, "/hs/refuse")
    assert (result.code, result.text) == (401, "authentication required")
    assert ("WWW-Authenticate", "Bearer") in result.headers  # RFC 6750 §3.1: no error code without a token
    closed = outcome(client, "/hs/close")
    assert (closed.kind, closed.code, closed.text) == ("closed", 4001, "authentication required")


def test_other_authorization_schemes_are_not_a_token(client):
    result = outcome(client, "/hs/refuse", [("Authorization", "Basic dXNlcjpwYXNz")])
    assert (result.code, result.text) == (401, "authentication required")


def test_bearer_scheme_is_case_insensitive(client):
    assert outcome(client, "/hs/refuse", [("Authorization", f"bearer {hs256()}")]).kind == "open"


# Construction: what can never be configured.


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"algorithms": ["none"]}, ValueError),
        ({"algorithms": ["HS256", "none"]}, ValueError),
        ({"algorithms": []}, ValueError),
        ({"algorithms": "HS256"}, TypeError),
        ({"algorithms": ["HS256", "RS256"], "public_key": None}, ValueError),
        ({"algorithms": ["RS256", "ES256"], "public_key": "x"}, ValueError),
        ({"algorithms": ["XS256"]}, ValueError),
        ({"algorithms": ["RS256"]}, ValueError),  # no public key
        ({"algorithms": ["RS256"], "secret": SECRET}, ValueError),
        ({"public_key": "x"}, ValueError),  # HS256 takes a secret
        ({"secret": "short"}, ConfigurationError),  # RFC 7518 §3.2
        ({"secret": "x" * 40, "algorithms": ["HS512"]}, ConfigurationError),
        ({"secret": public_pem(RSA)}, ConfigurationError),
        ({"leeway": -1}, ValueError),
        ({"token_sources": ["header", "carrier-pigeon"]}, ValueError),
        ({"token_sources": []}, ValueError),
        ({"token_sources": ["query", "query"]}, ValueError),
    ],
)
def test_refused_configurations(kwargs, error):
    with pytest.raises(error):
        JWTAuthentication(**kwargs)


def test_private_key_is_refused_as_public_key():
    with pytest.raises(ValueError, match="private key"):
        JWTAuthentication(algorithms=["RS256"], public_key=RSA)


def test_repr_never_shows_the_key():
    assert SECRET not in repr(JWTAuthentication(SECRET))


def test_missing_pyjwt_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "jwt", None)
    with pytest.raises(ImportError, match=r"pip install bolt-ws\[auth\]"):
        JWTAuthentication(SECRET)


def test_bolt_auth_imports_without_pyjwt():
    """Only JWTAuthentication needs PyJWT: bolt and the rest of bolt.auth import without it."""
    code = (
        "import sys; sys.modules['jwt'] = None\n"
        "import bolt, bolt.auth\n"
        "bolt.auth.APIKeyAuthentication(['k']); bolt.auth.IsAuthenticated()\n"
        "try:\n    bolt.auth.JWTAuthentication('x' * 32)\n"
        "except ImportError as error:\n    print(error)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert "pip install bolt-ws[auth]" in done.stdout
