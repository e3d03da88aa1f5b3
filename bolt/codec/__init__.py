"""The one place that picks the codec implementation.

The compiled codec (``bolt._speedups``) is used when it imports; the pure-Python twin
(``bolt._pure``) when it does not, and always when ``BOLT_NO_EXTENSIONS`` is set to anything but
``0`` or the empty string. ``IMPLEMENTATION`` says which one is active ("compiled" or "pure").

Layers above look names up on this module at run time (``codec.FrameParser``), never copy them,
so tests can run the same protocol code over either implementation.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import SimpleNamespace
from typing import TYPE_CHECKING

from bolt.events import Close, Event, Pong

_forced_pure = os.environ.get("BOLT_NO_EXTENSIONS", "") not in ("", "0")
compiled_error: ImportError | None = None


PACKAGES = {"compiled": "bolt._speedups", "pure": "bolt._pure"}
EXPORTS = {
    "mask": ("mask", "mask_inplace"),
    "utf8": ("Utf8Validator", "is_valid_utf8"),
    "frames": ("FrameParser", "FrameWriter"),
    "deflate": ("Inflater", "Deflater"),
}


# Compiled modules the compiled codec can do without: the deflate engine is not built where zlib's
# headers are missing (Windows), and the pure one, on Python's zlib module, does the same work.
OPTIONAL_COMPILED = frozenset({"deflate"})


def load(name: str) -> SimpleNamespace:
    """Return the implementation called ``name`` ("compiled" or "pure"); ImportError if absent."""
    if name not in PACKAGES:
        raise ValueError(f"unknown codec implementation {name!r}")
    names = {"NAME": name}
    for module_name, exported in EXPORTS.items():
        try:
            module = importlib.import_module(f"{PACKAGES[name]}.{module_name}")
        except ImportError:
            if name != "compiled" or module_name not in OPTIONAL_COMPILED or sys.platform != "win32":
                raise
            module = importlib.import_module(f"{PACKAGES['pure']}.{module_name}")
        names.update((attribute, getattr(module, attribute)) for attribute in exported)
    return SimpleNamespace(**names)


def _select() -> SimpleNamespace:
    global compiled_error
    if not _forced_pure:
        try:
            return load("compiled")
        except ImportError as exc:
            compiled_error = exc
    return load("pure")


_implementation = _select()
IMPLEMENTATION: str = _implementation.NAME
if TYPE_CHECKING:
    # Both twins present one interface (bolt/_speedups/*.pyi match the pure modules), so the
    # layers above are type-checked against the pure twin's classes, whichever runs.
    from bolt._pure.deflate import Deflater, Inflater
    from bolt._pure.frames import FrameParser, FrameWriter
    from bolt._pure.mask import mask, mask_inplace
    from bolt._pure.utf8 import Utf8Validator, is_valid_utf8
else:
    FrameParser = _implementation.FrameParser
    FrameWriter = _implementation.FrameWriter
    Inflater = _implementation.Inflater
    Deflater = _implementation.Deflater
    Utf8Validator = _implementation.Utf8Validator
    is_valid_utf8 = _implementation.is_valid_utf8
    mask = _implementation.mask
    mask_inplace = _implementation.mask_inplace

__all__ = [
    "IMPLEMENTATION",
    "Close",
    "Deflater",
    "Event",
    "FrameParser",
    "FrameWriter",
    "Inflater",
    "Pong",
    "Utf8Validator",
    "is_valid_utf8",
    "load",
    "mask",
    "mask_inplace",
]
