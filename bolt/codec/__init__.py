"""The one place that picks the codec implementation.

The compiled codec (``bolt._speedups``) is used when it imports; the pure-Python twin
(``bolt._pure``) when it does not, and always when ``BOLT_NO_EXTENSIONS`` is set to anything but
``0`` or the empty string. ``IMPLEMENTATION`` says which one is active ("compiled" or "pure").

Layers above look names up on this module at run time (``codec.FrameParser``), never copy them,
so tests can run the same protocol code over either implementation.
"""

from __future__ import annotations

import os
from types import ModuleType

from bolt.codec.events import BinaryMessage, Close, Event, Ping, Pong, TextMessage

_forced_pure = os.environ.get("BOLT_NO_EXTENSIONS", "") not in ("", "0")
compiled_error: ImportError | None = None


def load(name: str) -> ModuleType:
    """Return the implementation called ``name`` ("compiled" or "pure"); ImportError if absent."""
    if name == "compiled":
        import bolt._speedups as implementation
    elif name == "pure":
        import bolt._pure as implementation
    else:
        raise ValueError(f"unknown codec implementation {name!r}")
    return implementation


def _select() -> ModuleType:
    global compiled_error
    if not _forced_pure:
        try:
            return load("compiled")
        except ImportError as exc:
            compiled_error = exc
    return load("pure")


_implementation = _select()
IMPLEMENTATION: str = _implementation.NAME
FrameParser = _implementation.FrameParser
FrameWriter = _implementation.FrameWriter
Utf8Validator = _implementation.Utf8Validator
is_valid_utf8 = _implementation.is_valid_utf8
mask = _implementation.mask
mask_inplace = _implementation.mask_inplace

__all__ = [
    "IMPLEMENTATION",
    "BinaryMessage",
    "Close",
    "Event",
    "FrameParser",
    "FrameWriter",
    "Ping",
    "Pong",
    "TextMessage",
    "Utf8Validator",
    "is_valid_utf8",
    "load",
    "mask",
    "mask_inplace",
]
