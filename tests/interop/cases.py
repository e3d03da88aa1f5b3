"""What every peer is asked to do, in one place: message sizes, payloads, close codes.

Payloads are deterministic, so a peer in another language can build the same ones
(``node/client.mjs`` has the twin of ``text_of``/``binary_of``).
"""

from __future__ import annotations

import hashlib
import json
import random

KIB = 1024
MIB = 1024 * KIB
# Every length encoding of RFC 6455 §5.2 and its edges: 7-bit (0, 1, 125), 16-bit (126, 65535),
# 64-bit (65536, 1 MiB). 16 MiB, the configured limit on both sides, is a separate, smaller set.
SIZES = [0, 1, 125, 126, 65535, 65536, MIB]
BIG = 16 * MIB
MAX_SIZE = BIG

# RFC 6455 §7.4.1 and the IANA registry: every code an endpoint may send, and the edges of the
# library (3000) and private (4000-4999) ranges.
CLOSE_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000, 4999]
# What a browser's WebSocket.close() may send (the WHATWG spec allows only these).
BROWSER_CLOSE_CODES = [1000, 3000, 4000, 4999]

# ASCII, two-, three- and four-byte UTF-8, so fragments and reads split characters.
TEXT_UNIT = "WebSocket ünïcödé € 😀 "


def close_reason(code: int) -> str:
    """A reason with non-ASCII text, unique per code, well under the 123-byte limit."""
    return f"code {code}: fermé ✓"


def text_of(size: int) -> str:
    """A ``str`` whose UTF-8 encoding is exactly ``size`` bytes, mixing 1- to 4-byte characters."""
    unit = TEXT_UNIT.encode()
    raw = (unit * (size // len(unit) + 1))[:size].decode("utf-8", "ignore")
    return raw + "x" * (size - len(raw.encode()))


def binary_of(size: int) -> bytes:
    return random.Random(size).randbytes(size)


def json_of(size: int):
    """A JSON value whose compact encoding is exactly ``size`` bytes (``size`` >= 1; no JSON
    document is empty). Returns (value, encoded)."""
    if size < 1:
        raise ValueError("no JSON document is 0 bytes")
    if size == 1:
        encoded = "7"
    elif size < 64:
        encoded = '"' + "j" * (size - 2) + '"'
    else:
        head = '{"size":%d,"list":[1,2.5,true,null],"text":"' % size
        tail = '"}'
        encoded = head + text_of(size - len((head + tail).encode())) + tail
    assert len(encoded.encode()) == size
    return json.loads(encoded), encoded


def digest(message: str | bytes) -> dict:
    """What the ``/digest`` route answers for a message: its type, length in bytes and SHA-256."""
    data = message.encode() if isinstance(message, str) else message
    kind = "text" if isinstance(message, str) else "binary"
    return {"type": kind, "length": len(data), "sha256": hashlib.sha256(data).hexdigest()}
