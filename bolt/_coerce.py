"""The one step that turns what callers hand the frame codec into what it works on.

Both codec twins call these functions for every argument that is not already an exact ``bytes``,
``bytearray`` or ``str`` (the compiled twin checks those exact types in C first, so the common
calls never come here). One definition means the twins cannot drift apart: the same inputs are
accepted, with the same length in bytes, and the same ones refused with the same error.

This module sits beside the twins, not in ``bolt.codec``: importing that package picks and imports
a twin, so a twin importing from it would import itself.
"""

from __future__ import annotations

import operator
from typing import SupportsIndex, TypeAlias

from bolt.close_codes import is_valid_close_code

# What the codec takes as a message or payload; anything else bytes-like is a flat memoryview.
BytesLike: TypeAlias = "bytes | bytearray | memoryview"

# §5.2: a payload length is at most 63 bits, so no size limit or fragment size needs more.
MAX_SIZE = 2**63 - 1
MAX_CLOSE_REASON = 123


def byte_view(data: object, what: str) -> BytesLike:
    """``data`` as ``bytes``, a ``bytearray`` or a flat memoryview of unsigned bytes: whichever it
    is, ``len()`` counts bytes, never items (an ``array('H')`` of 3 items is 6 bytes).

    ``what`` names the argument in the error. A ``str`` is refused (text is sent as text); so is a
    buffer that is not C-contiguous, because a "bytes-like object" is one that can export a
    C-contiguous buffer (Python glossary) and copying a strided one here would hide the cost.
    """
    kind = type(data)
    if type(data) is bytes or type(data) is bytearray:  # type() again: mypy narrows on that, not on kind
        return data
    if isinstance(data, str):
        raise TypeError(f"{what} must be a bytes-like object, not {kind.__name__}")
    try:
        view = memoryview(data)  # type: ignore[arg-type]  # any object: a non-buffer is the TypeError below
    except TypeError:
        raise TypeError(f"{what} must be a C-contiguous bytes-like object, not {kind.__name__}") from None
    if not view.c_contiguous:
        raise TypeError(
            f"{what} must be a C-contiguous bytes-like object; this {kind.__name__} is not contiguous "
            "(copy it with bytes() first)"
        )
    if not view.nbytes:
        # memoryview.cast refuses a shape with a zero in it, and nothing is the same in any format.
        return b""
    if view.ndim != 1 or view.format != "B":
        view = view.cast("B")
    return view


def as_bytes(data: object, what: str) -> bytes:
    """``data`` (bytes-like, as ``byte_view`` takes it) as an exact ``bytes``: a message handed up."""
    view = byte_view(data, what)
    return view if type(view) is bytes else bytes(view)


def as_str(data: object, what: str) -> str:
    """An exact ``str`` of the characters of ``data``, a ``str`` or a subclass (an ``enum.StrEnum``
    member, say); anything else is a TypeError.

    ``str.__str__`` copies the characters themselves: ``str()`` would call an overriding
    ``__str__``, which for a ``(str, Enum)`` member gives ``"Color.RED"``, not its value.
    """
    if isinstance(data, str):
        return str.__str__(data)
    raise TypeError(f"{what} must be str, not {type(data).__name__}")


def size_limit(value: SupportsIndex | None, what: str, minimum: int = 0) -> int:
    """A size option as an int from ``minimum`` to 2**63-1, or -1 for None (no limit).

    The compiled twin keeps sizes in 64-bit signed integers: checking the range here makes both
    twins accept and refuse exactly the same values, with the same errors.
    """
    if value is None:
        return -1
    try:
        size = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an int or None, not {type(value).__name__}") from None
    if not minimum <= size <= MAX_SIZE:
        raise ValueError(f"{what} must be from {minimum} to 2**63-1, or None; got {size}")
    return size


def close_payload(code: SupportsIndex | None, reason: str) -> bytes:
    """The payload of a close frame to send: the code, two bytes in network order, then the reason
    in UTF-8 (§5.5.1). ``code=None`` is an empty payload (the peer reports 1005)."""
    if type(reason) is not str:
        reason = as_str(reason, "close reason")
    if code is None:
        if reason:
            raise ValueError("a close reason needs a close code")
        return b""
    try:
        code = operator.index(code)
    except TypeError:
        raise TypeError(f"close code must be an int, not {type(code).__name__}") from None
    if not is_valid_close_code(code):
        raise ValueError(f"close code {code} may not be sent (RFC 6455 §7.4)")
    encoded = reason.encode("utf-8")
    if len(encoded) > MAX_CLOSE_REASON:
        # §5.5: a control frame's payload is at most 125 bytes, two of them the code.
        raise ValueError(f"close reason is {len(encoded)} bytes; at most {MAX_CLOSE_REASON} fit (§5.5)")
    return code.to_bytes(2, "big") + encoded
