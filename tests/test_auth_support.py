"""Helpers shared by the tests of bolt.auth (this module holds no tests): tokens made by PyJWT,
keys generated here with ``cryptography``, and the outcome of one handshake as the client saw it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any, NamedTuple

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from bolt import HandshakeRejected, WebSocketDisconnect

SECRET = "a-test-secret-that-is-long-enough-for-every-hmac-algorithm-0123456789"
OTHER_SECRET = "another-secret-long-enough-for-every-hmac-algorithm-too-0123456789"
AUDIENCE = "bolt-tests"
ISSUER = "https://issuer.example"


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid claims for the tests' APIs; ``name=None`` removes a claim."""
    now = int(time.time())
    # An hour: some modules make their token at import, and a whole run can last over five minutes.
    values = {"sub": "42", "exp": now + 3600, "iat": now, "aud": AUDIENCE, "iss": ISSUER}
    values.update(overrides)
    return {name: value for name, value in values.items() if value is not None}


def hs256(key: str | bytes = SECRET, algorithm: str = "HS256", **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), key, algorithm=algorithm)


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def ed_key():
    return ed25519.Ed25519PrivateKey.generate()


def public_pem(private_key) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def forge_hs256(payload: dict[str, Any], key: bytes) -> str:
    """An HS256 token whose HMAC key is ``key`` (a public key's PEM: the algorithm confusion).

    PyJWT itself refuses to use a PEM as an HMAC secret, so this one is assembled by hand.
    """
    signing_input = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + _b64(json.dumps(payload).encode())
    signature = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + _b64(signature)


def forge_hs256_text(payload_text: str, key: bytes) -> str:
    """A correctly signed HS256 token whose payload is ``payload_text`` (not JSON: PyJWT only
    encodes dicts)."""
    signing_input = _b64(b'{"alg":"HS256","typ":"JWT"}') + "." + _b64(payload_text.encode())
    return signing_input + "." + _b64(hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest())


class Outcome(NamedTuple):
    kind: str  # "refused" (HTTP answer), "closed" (accepted, then closed), "open" (the handler spoke)
    code: int  # HTTP status, close code, or 101
    text: str  # body, close reason, or the handler's first message
    headers: list  # the refusal's header fields
    subprotocol: str | None = None


def outcome(client, path: str, headers=(), subprotocols=()) -> Outcome:
    """What a client connecting to ``path`` with a TestClient sees."""
    try:
        session = client.websocket_connect(path, headers=headers, subprotocols=subprotocols)
    except HandshakeRejected as refused:
        return Outcome("refused", refused.status, refused.body.decode("utf-8", "replace"), list(refused.headers))
    with session as ws:
        try:
            message = ws.receive_text()
        except WebSocketDisconnect as closed:
            return Outcome("closed", closed.code, closed.reason, [], ws.subprotocol)
        return Outcome("open", 101, message, [], ws.subprotocol)


def leaks(result: Outcome, *secrets: str | bytes) -> list[str]:
    """The parts of ``secrets`` (each dot-separated segment of a token, a key) found in what the
    client was told: its text and its header fields."""
    told = result.text + " ".join(f"{name}: {value}" for name, value in result.headers)
    return [part for part in _parts(secrets) if part in told]


def _parts(secrets) -> list[str]:
    parts = []
    for secret in secrets:
        if isinstance(secret, bytes):
            secret = secret.decode("latin-1")
        parts += [part for part in secret.split(".") if len(part) >= 8]
    return parts


def leaked_in(text: str, *secrets: str | bytes) -> list[str]:
    return [part for part in _parts(secrets) if part in text]
